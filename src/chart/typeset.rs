//! Text on the PNG charts, set right.
//!
//! plotters' ab_glyph text drops each glyph's left side bearing and reads its size as the
//! font's whole line height, so Vietnamese labels came out as "Sở Tưpháp" or "Th1 0" at
//! about 9.7 px. [`Typeset`] wraps a drawing backend and sets text itself: each glyph at
//! its pen position with its bearing and kerning, and a style's size as the font size a
//! browser would use (the em, like `font-size` in the SVG charts), so both formats match.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
    FontStyle,
};

use super::render::{BOLD, REGULAR};

/// A backend whose text is measured with the bundled fonts at the em size, and on
/// pixels also drawn that way; everything else passes through. (An SVG keeps its `<text>`
/// for the browser to set, but is laid out with the same measures.)
pub struct Typeset<B> {
    inner: B,
    paint: bool,
}

impl<B> Typeset<B> {
    /// Over a pixel backend: text measured and drawn here.
    pub fn pixels(inner: B) -> Self {
        Self { inner, paint: true }
    }

    /// Over a vector backend: text measured here, written by `inner`.
    pub fn vector(inner: B) -> Self {
        Self {
            inner,
            paint: false,
        }
    }
}

/// One face at one size, and the line it sets text on.
struct Face {
    font: ab_glyph::PxScaleFont<FontRef<'static>>,
}

impl Face {
    /// The face of `style` (bold or regular) at `size` px to the em; `None` only if the
    /// bundled fonts were unreadable (the unit tests load both).
    fn of(style: FontStyle, size: f64) -> Option<Self> {
        let bytes = match style {
            FontStyle::Bold => BOLD,
            _ => REGULAR,
        };
        let font = FontRef::try_from_slice(bytes).ok()?;
        let per_em = font.units_per_em()?;
        let line = font.ascent_unscaled() - font.descent_unscaled();
        // ab_glyph scales by the line (ascent - descent); a browser's font size is the em.
        let scale = PxScale::from(size as f32 * line / per_em);
        Some(Self {
            font: font.into_scaled(scale),
        })
    }

    /// The width and height of `text` on one line.
    fn extent(&self, text: &str) -> (f32, f32) {
        let mut width = 0.0;
        let mut previous = None;
        for c in text.chars() {
            let id = self.font.glyph_id(c);
            if let Some(p) = previous {
                width += self.font.kern(p, id);
            }
            width += self.font.h_advance(id);
            previous = Some(id);
        }
        (width, self.font.ascent() - self.font.descent())
    }

    /// Calls `ink(x, y, coverage)` for each pixel of `text`, its box's top left at (0, 0).
    fn paint<E>(
        &self,
        text: &str,
        mut ink: impl FnMut(i32, i32, f32) -> Result<(), E>,
    ) -> Result<(), E> {
        let baseline = self.font.ascent();
        let mut caret = 0.0;
        let mut previous = None;
        for c in text.chars() {
            let id = self.font.glyph_id(c);
            if let Some(p) = previous {
                caret += self.font.kern(p, id);
            }
            let glyph = id.with_scale_and_position(self.font.scale(), point(caret, baseline));
            if let Some(outline) = self.font.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                let mut pixels = Vec::new();
                outline.draw(|x, y, coverage| pixels.push((x, y, coverage)));
                for (x, y, coverage) in pixels {
                    ink(
                        bounds.min.x as i32 + x as i32,
                        bounds.min.y as i32 + y as i32,
                        coverage,
                    )?;
                }
            }
            caret += self.font.h_advance(id);
            previous = Some(id);
        }
        Ok(())
    }
}

/// The family an SVG names: the bundled face first, then what a reader's device has.
pub const SVG_FAMILY: &str = "DejaVu Sans, Noto Sans, Arial, sans-serif";

/// A text style as plotters' SVG backend needs it to write the size we mean: it writes
/// `font-size` as the size divided by 1.24 (its line-height guess), so the size is
/// multiplied back; the family gains fallbacks for devices without DejaVu Sans.
struct ForSvg<'a, S>(&'a S);

impl<S: BackendTextStyle> BackendTextStyle for ForSvg<'_, S> {
    type FontError = S::FontError;

    fn color(&self) -> BackendColor {
        self.0.color()
    }

    fn size(&self) -> f64 {
        self.0.size() * 1.24
    }

    fn transform(&self) -> plotters_backend::FontTransform {
        self.0.transform()
    }

    fn style(&self) -> FontStyle {
        self.0.style()
    }

    fn anchor(&self) -> plotters_backend::text_anchor::Pos {
        self.0.anchor()
    }

    fn family(&self) -> plotters_backend::FontFamily<'_> {
        plotters_backend::FontFamily::Name(SVG_FAMILY)
    }

    fn layout_box(&self, text: &str) -> Result<((i32, i32), (i32, i32)), Self::FontError> {
        self.0.layout_box(text)
    }

    fn draw<E, F: FnMut(i32, i32, BackendColor) -> Result<(), E>>(
        &self,
        text: &str,
        pos: BackendCoord,
        draw: F,
    ) -> Result<Result<(), E>, Self::FontError> {
        self.0.draw(text, pos, draw)
    }
}

fn no_font<E: std::error::Error + Send + Sync>() -> DrawingErrorKind<E> {
    DrawingErrorKind::FontError("the bundled font could not be read".into())
}

impl<B: DrawingBackend> DrawingBackend for Typeset<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let face = Face::of(style.style(), style.size()).ok_or_else(no_font)?;
        let (w, h) = face.extent(text);
        Ok((w.ceil() as u32, h.ceil() as u32))
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        if !self.paint {
            return self.inner.draw_text(text, &ForSvg(style), pos);
        }
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let face = Face::of(style.style(), style.size()).ok_or_else(no_font)?;
        let (w, h) = face.extent(text);
        let (w, h) = (w.round() as i32, h.round() as i32);
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0,
            HPos::Center => -w / 2,
            HPos::Right => -w,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0,
            VPos::Center => -h / 2,
            VPos::Bottom => -h,
        };
        let turn = style.transform();
        let (width, height) = self.get_size();
        face.paint(text, |x, y, coverage| {
            let (x, y) = turn.transform(x + dx, y + dy);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if coverage <= 0.0 || x < 0 || y < 0 || x >= width as i32 || y >= height as i32 {
                return Ok(());
            }
            self.inner.draw_pixel(
                (x, y),
                BackendColor {
                    alpha: color.alpha * f64::from(coverage.min(1.0)),
                    rgb: color.rgb,
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;

    /// The columns of `buf` (RGB, `w` wide) that hold any ink.
    fn inked_columns(buf: &[u8], w: usize) -> Vec<bool> {
        let mut cols = vec![false; w];
        for (i, px) in buf.chunks(3).enumerate() {
            if px.iter().any(|&v| v < 128) {
                cols[i % w] = true;
            }
        }
        cols
    }

    /// Widths of the runs of blank columns between the first and last inked ones.
    fn gaps(cols: &[bool]) -> Vec<usize> {
        let first = cols.iter().position(|&c| c).unwrap_or(0);
        let last = cols.iter().rposition(|&c| c).unwrap_or(0);
        let mut out = Vec::new();
        let mut run = 0;
        for &c in &cols[first..=last] {
            if c {
                if run > 0 {
                    out.push(run);
                }
                run = 0;
            } else {
                run += 1;
            }
        }
        out
    }

    fn set(text: &str, size: f64) -> Vec<bool> {
        super::super::render::register();
        let (w, h) = (300u32, 40u32);
        let mut buf = vec![255u8; (w * h * 3) as usize];
        {
            let root =
                Typeset::pixels(BitMapBackend::with_buffer(&mut buf, (w, h))).into_drawing_area();
            root.draw(&Text::new(
                text.to_string(),
                (10, 5),
                (super::super::render::FAMILY, size).into_font(),
            ))
            .unwrap();
            root.present().unwrap();
        }
        inked_columns(&buf, w as usize)
    }

    #[test]
    fn digits_sit_at_their_advance_and_words_keep_their_space() {
        // "10" has no gap wider than a stroke between its digits; "Tư pháp" has one word
        // gap, wider than any gap within a word.
        let ten = gaps(&set("10", 13.0));
        assert!(ten.iter().all(|&g| g <= 3), "{ten:?}");
        let words = gaps(&set("Tư pháp", 13.0));
        let widest = *words.iter().max().unwrap();
        assert!(widest >= 3, "{words:?}");
        assert_eq!(
            words.iter().filter(|&&g| g == widest).count(),
            1,
            "{words:?}"
        );
    }

    #[test]
    fn svg_text_is_written_at_the_size_asked_for_with_fallback_fonts() {
        super::super::render::register();
        let mut svg = String::new();
        {
            let root =
                Typeset::vector(SVGBackend::with_string(&mut svg, (200, 50))).into_drawing_area();
            root.draw(&Text::new(
                "Nhìn chung".to_string(),
                (5, 5),
                (super::super::render::FAMILY, 13.0).into_font(),
            ))
            .unwrap();
            root.present().unwrap();
        }
        let size: f64 = svg
            .split("font-size=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!((size - 13.0).abs() < 1e-6, "{svg}");
        assert!(svg.contains(SVG_FAMILY), "{svg}");
    }

    #[test]
    fn a_size_is_the_em_as_in_svg() {
        // A capital at 20 px to the em stands about 0.73 em tall in DejaVu Sans.
        let face = Face::of(FontStyle::Normal, 20.0).unwrap();
        let mut top = i32::MAX;
        let mut bottom = i32::MIN;
        face.paint::<()>("H", |_, y, c| {
            if c > 0.5 {
                top = top.min(y);
                bottom = bottom.max(y);
            }
            Ok(())
        })
        .unwrap();
        let cap = bottom - top + 1;
        assert!((14..=15).contains(&cap), "{cap}");
        // The width is the sum of the advances in em (T 0.611, h 0.634, 1 and 0 0.636).
        let (w, _) = face.extent("Th10");
        assert!((w - 50.34).abs() < 0.1, "{w}");
    }
}
