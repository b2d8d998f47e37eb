//! The Vietnamese lunar calendar, for the holidays that follow it (Tết, the Hùng Kings'
//! commemoration). The conversion is Hồ Ngọc Đức's astronomical algorithm ("Thuật toán
//! tính âm lịch", <https://www.informatik.uni-leipzig.de/~duc/amlich/>), with the new moons
//! and the solar terms of Jean Meeus's *Astronomical Algorithms*, computed for the time
//! zone UTC+7 (which is what makes the Vietnamese calendar differ from the Chinese one in
//! some years). The source states it for 1800–2199; the tests here check it against the
//! published dates of Tết and of the Hùng Kings' day for 2020–2030.

use std::f64::consts::PI;

use chrono::{Datelike, NaiveDate};

/// Vietnam's time zone, in hours.
const ZONE: f64 = 7.0;

/// The Julian day number of `d`.
fn jd(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) + 1_721_425
}

/// The day of Julian day number `jd`.
fn date_of(jd: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(jd - 1_721_425).ok()?)
}

/// The instant (a fractional Julian day, UT) of the `k`th new moon after 1900-01-01.
fn new_moon(k: f64) -> f64 {
    let t = k / 1236.85;
    let (t2, t3) = (t * t, t * t * t);
    let dr = PI / 180.0;
    let mut jd1 = 2_415_020.759_33 + 29.530_588_68 * k + 0.000_117_8 * t2 - 0.000_000_155 * t3;
    jd1 += 0.000_33 * ((166.56 + 132.87 * t - 0.009_173 * t2) * dr).sin();
    let m = 359.2242 + 29.105_356_08 * k - 0.000_033_3 * t2 - 0.000_003_47 * t3;
    let mpr = 306.0253 + 385.816_918_06 * k + 0.010_730_6 * t2 + 0.000_012_36 * t3;
    let f = 21.2964 + 390.670_506_46 * k - 0.001_652_8 * t2 - 0.000_002_39 * t3;
    let mut c1 = (0.1734 - 0.000_393 * t) * (m * dr).sin() + 0.0021 * (2.0 * dr * m).sin();
    c1 = c1 - 0.4068 * (mpr * dr).sin() + 0.0161 * (dr * 2.0 * mpr).sin();
    c1 -= 0.0004 * (dr * 3.0 * mpr).sin();
    c1 = c1 + 0.0104 * (dr * 2.0 * f).sin() - 0.0051 * (dr * (m + mpr)).sin();
    c1 = c1 - 0.0074 * (dr * (m - mpr)).sin() + 0.0004 * (dr * (2.0 * f + m)).sin();
    c1 = c1 - 0.0004 * (dr * (2.0 * f - m)).sin() - 0.0006 * (dr * (2.0 * f + mpr)).sin();
    c1 = c1 + 0.0010 * (dr * (2.0 * f - mpr)).sin() + 0.0005 * (dr * (2.0 * mpr + m)).sin();
    let delta_t = if t < -11.0 {
        0.001 + 0.000_839 * t + 0.000_226_1 * t2 - 0.000_008_45 * t3 - 0.000_000_081 * t * t3
    } else {
        -0.000_278 + 0.000_265 * t + 0.000_262 * t2
    };
    jd1 + c1 - delta_t
}

/// The local day (Julian day number) of the `k`th new moon.
fn new_moon_day(k: i64) -> i64 {
    (new_moon(k as f64) + 0.5 + ZONE / 24.0).floor() as i64
}

/// The sun's longitude at the Julian day `jdn` (UT), in radians, in [0, 2π).
fn sun_longitude(jdn: f64) -> f64 {
    let t = (jdn - 2_451_545.0) / 36_525.0;
    let t2 = t * t;
    let dr = PI / 180.0;
    let m = 357.529_10 + 35_999.050_30 * t - 0.000_155_9 * t2 - 0.000_000_48 * t * t2;
    let l0 = 280.466_45 + 36_000.769_83 * t + 0.000_303_2 * t2;
    let mut dl = (1.914_600 - 0.004_817 * t - 0.000_014 * t2) * (dr * m).sin();
    dl += (0.019_993 - 0.000_101 * t) * (dr * 2.0 * m).sin() + 0.000_290 * (dr * 3.0 * m).sin();
    let l = (l0 + dl) * dr;
    l - 2.0 * PI * (l / (2.0 * PI)).floor()
}

/// Which of the twelve 30° sectors the sun is in at the start of local day `day`.
fn sun_sector(day: i64) -> i64 {
    (sun_longitude(day as f64 - 0.5 - ZONE / 24.0) / PI * 6.0).floor() as i64
}

/// The first day of the 11th lunar month (the month of the winter solstice) of `year`.
fn month_11(year: i32) -> Option<i64> {
    let off = jd(NaiveDate::from_ymd_opt(year, 12, 31)?) - 2_415_021;
    let k = (off as f64 / 29.530_588_853).floor() as i64;
    let new_moon = new_moon_day(k);
    Some(if sun_sector(new_moon) >= 9 {
        new_moon_day(k - 1)
    } else {
        new_moon
    })
}

/// In a leap year that starts at month 11 `a11`, how many months after it the leap month
/// comes (the first month without a principal solar term).
fn leap_month_offset(a11: i64) -> i64 {
    let k = ((a11 as f64 - 2_415_021.076_998_695) / 29.530_588_853 + 0.5).floor() as i64;
    let mut i = 1;
    let mut arc = sun_sector(new_moon_day(k + i));
    loop {
        let last = arc;
        i += 1;
        arc = sun_sector(new_moon_day(k + i));
        if arc == last || i >= 14 {
            break;
        }
    }
    i - 1
}

/// The solar date of day `day` of lunar month `month` (1–12, not the leap month) of lunar
/// year `year`.
pub fn to_solar(day: u32, month: u32, year: i32) -> Option<NaiveDate> {
    let (a11, b11) = if month < 11 {
        (month_11(year - 1)?, month_11(year)?)
    } else {
        (month_11(year)?, month_11(year + 1)?)
    };
    let k = (0.5 + (a11 as f64 - 2_415_021.076_998_695) / 29.530_588_853).floor() as i64;
    let mut off = i64::from(month) - 11;
    if off < 0 {
        off += 12;
    }
    if b11 - a11 > 365 && off >= leap_month_offset(a11) {
        off += 1;
    }
    date_of(new_moon_day(k + off) + i64::from(day) - 1)
}

/// The first day of the lunar year that begins in solar year `year` (Tết Nguyên Đán).
pub fn tet(year: i32) -> Option<NaiveDate> {
    to_solar(1, 1, year)
}

/// The Hùng Kings' commemoration day (10th day of the 3rd lunar month) of `year`.
pub fn hung_kings(year: i32) -> Option<NaiveDate> {
    to_solar(10, 3, year)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn tet_and_the_hung_kings_day_fall_on_their_published_dates() {
        let tet_days = [
            (2020, "2020-01-25"),
            (2021, "2021-02-12"),
            (2022, "2022-02-01"),
            (2023, "2023-01-22"),
            (2024, "2024-02-10"),
            (2025, "2025-01-29"),
            (2026, "2026-02-17"),
            (2027, "2027-02-06"),
            (2028, "2028-01-26"),
            (2029, "2029-02-13"),
            // The new moon falls at 23:07 on 2 February in UTC+7 (00:07 on the 3rd in
            // UTC+8): Vietnam's Tết comes a day before China's.
            (2030, "2030-02-02"),
        ];
        for (year, day) in tet_days {
            assert_eq!(tet(year), Some(d(day)), "Tết {year}");
        }
        let hung = [
            (2020, "2020-04-02"),
            (2021, "2021-04-21"),
            (2022, "2022-04-10"),
            (2023, "2023-04-29"),
            (2024, "2024-04-18"),
            (2025, "2025-04-07"),
            (2026, "2026-04-26"),
        ];
        for (year, day) in hung {
            assert_eq!(hung_kings(year), Some(d(day)), "Giỗ Tổ {year}");
        }
    }

    #[test]
    fn julian_day_numbers_round_trip() {
        assert_eq!(jd(d("2000-01-01")), 2_451_545);
        assert_eq!(date_of(2_451_545), Some(d("2000-01-01")));
    }
}
