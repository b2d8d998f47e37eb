//! QR codes of rating links, made with the `qrcode` crate: error correction M, a quiet zone
//! of four modules, and modules large enough to print (10 px in the PNG: a typical link
//! gives a code about 4 cm wide at 300 dpi).

use image::ImageEncoder;
use image::codecs::png::PngEncoder;
use qrcode::{EcLevel, QrCode};

use crate::error::{Error, Result};

fn code(url: &str) -> Result<QrCode> {
    QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).map_err(Error::internal)
}

pub fn png(url: &str) -> Result<Vec<u8>> {
    let image = code(url)?
        .render::<image::Luma<u8>>()
        .quiet_zone(true)
        .module_dimensions(10, 10)
        .build();
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::L8,
        )
        .map_err(Error::internal)?;
    Ok(out)
}

pub fn svg(url: &str) -> Result<String> {
    Ok(code(url)?
        .render::<qrcode::render::svg::Color>()
        .quiet_zone(true)
        .min_dimensions(300, 300)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_png_and_svg() {
        let url = "https://hailong.example.vn/r/AbCdEfGhIjKlMnOpQrStUv";
        let png = png(url).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let svg = svg(url).unwrap();
        assert!(svg.contains("<svg"));
    }
}
