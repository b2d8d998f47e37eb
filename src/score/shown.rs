//! How figures are shown to people, the one helper for pages, charts and spreadsheet titles
//! (PRODUCT.md, "Display never contradicts a band").
//!
//! A share is shown **rounded down** to a tenth of a percent, with a decimal comma. Bands
//! start at a tenth (90,0 · 70,0 · 50,0, or a year's own thresholds), so a shown share
//! reaches a threshold exactly when the exact share does: 89.98 % is shown as "89,9" next to
//! *Hoàn thành tốt*, never "90,0". An interval is widened to tenths (its lower end down, its
//! upper end up), so that it never looks narrower than it is. The API and the exports keep
//! the exact figures.

/// The share rounded down to a tenth. Shares are `satisfied × 100 ÷ n`, so a share below a
/// threshold at a tenth is below it by at least 100 ÷ n (≥ 10⁻⁵ for n ≤ 10⁷); the 10⁻⁷
/// added absorbs only the rounding of the division (57.3 may arrive as 57.29999…).
pub fn tenths_down(pct: f64) -> f64 {
    (pct * 10.0 + 1e-7).floor() / 10.0
}

/// The share rounded up to a tenth (for the upper end of an interval).
pub fn tenths_up(pct: f64) -> f64 {
    (pct * 10.0 - 1e-7).ceil() / 10.0
}

/// A share for people: `89,9`.
pub fn share(pct: f64) -> String {
    comma(tenths_down(pct))
}

/// An interval for people: `86,2–93,9`, widened to tenths.
pub fn interval(lo: f64, hi: f64) -> String {
    format!("{}–{}", comma(tenths_down(lo)), comma(tenths_up(hi)))
}

fn comma(x: f64) -> String {
    format!("{x:.1}").replace('.', ",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::Bands;

    #[test]
    fn shown_shares_never_reach_a_band_they_do_not_reach() {
        for (exact, shown) in [
            (89.95, "89,9"),
            (89.98, "89,9"),
            (90.0, "90,0"),
            (69.96, "69,9"),
            (49.99, "49,9"),
            (100.0, "100,0"),
            (0.0, "0,0"),
            (57.3, "57,3"),
            (573.0 / 10.0, "57,3"),
            (100.0 * 573.0 / 1000.0, "57,3"),
            (100.0 * 2.0 / 3.0, "66,6"),
        ] {
            assert_eq!(share(exact), shown, "{exact}");
        }
        assert_eq!(interval(86.24, 93.81), "86,2–93,9");
        assert_eq!(interval(0.0, 100.0), "0,0–100,0");
    }

    /// Every share a count can give, against thresholds at every tenth: the shown share is
    /// in the band of the exact one.
    #[test]
    fn shown_and_exact_shares_fall_in_the_same_band() {
        let mut checked = 0;
        for n in (1..=2_000u64).chain([9_999, 10_000, 99_999, 1_000_003]) {
            let step = (n / 2_000).max(1);
            for satisfied in (0..=n).step_by(step as usize) {
                let exact = satisfied as f64 * 100.0 / n as f64;
                let shown: f64 = share(exact).replace(',', ".").parse().unwrap();
                for t in [50.0, 70.0, 85.5, 90.0, 99.9] {
                    let bands = Bands {
                        outstanding: t,
                        good: t,
                        completed: t,
                    };
                    assert_eq!(bands.band(shown), bands.band(exact), "{satisfied}/{n}, {t}");
                }
                assert!(
                    shown <= exact + 1e-9 && exact - shown < 0.1 + 1e-9,
                    "{satisfied}/{n}"
                );
                checked += 1;
            }
        }
        assert!(checked > 2_000_000);
    }
}
