//! The rules for text that people type (comments, names, reasons, replies), in one place:
//! stored in Unicode NFC, so that the same Vietnamese word typed with composed or decomposed
//! diacritics is one string; C0/C1 control characters other than line breaks and tabs are
//! refused (`invalid_text`), and so are the bidirectional overrides and isolates that can
//! make a name read backwards; text that is empty once invisible and format characters are
//! removed counts as empty. Lengths are counted in characters after NFC.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use super::Invalid;

/// Text that passed the rules: NFC, trimmed, not empty, at most the caller's length.
///
/// `Ok(None)` is text that is empty (or only white space and invisible characters).
pub fn clean(raw: &str, max_chars: usize) -> Result<Option<String>, Invalid> {
    if let Some(bad) = raw.chars().find(|&c| forbidden(c)) {
        return Err(Invalid::new(
            "invalid_text",
            format!(
                "the text contains a character that is not allowed (U+{:04X})",
                u32::from(bad)
            ),
        ));
    }
    let text: String = raw.trim().nfc().collect();
    if text.chars().all(invisible) {
        return Ok(None);
    }
    if text.chars().count() > max_chars {
        return Err(Invalid::new(
            "text_too_long",
            format!("the text has at most {max_chars} characters"),
        ));
    }
    Ok(Some(text))
}

/// Control characters other than line breaks and tabs, and the bidirectional embeddings,
/// overrides and isolates.
fn forbidden(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that show nothing: white space, format characters (zero-width space and
/// joiners, soft hyphen, byte-order mark…), lone combining marks that only change how
/// their neighbour looks (variation selectors, the grapheme joiner), and the fillers that
/// fonts draw blank.
fn invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c.general_category(),
            GeneralCategory::Format
                | GeneralCategory::Control
                | GeneralCategory::SpaceSeparator
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
                | GeneralCategory::Unassigned
        )
        || matches!(
            c,
            '\u{034F}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{E0100}'..='\u{E01EF}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{3164}'
                | '\u{FFA0}'
                | '\u{2800}'
        )
}

/// A key that sorts Vietnamese text as a Vietnamese reader expects: letters in the order of
/// the alphabet (a ă â b c d đ e ê … o ô ơ … u ư …, so "Đ…" comes after "D…", not after
/// "X…"), then the tones (none, huyền, hỏi, ngã, sắc, nặng), then the case. Compare keys
/// with `Ord`.
pub fn vi_sort_key(text: &str) -> Vec<u32> {
    const ALPHABET: &str = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz";
    let mut letters = Vec::with_capacity(text.len());
    let mut tones = Vec::new();
    let mut cases = Vec::new();
    let mut chars = text.nfd().peekable();
    while let Some(c) = chars.next() {
        let lower = c.to_lowercase().next().unwrap_or(c);
        let upper = u32::from(c != lower);
        // The marks that make another letter, then the tone.
        const TONES: [char; 5] = ['\u{300}', '\u{309}', '\u{303}', '\u{301}', '\u{323}'];
        let mut base = lower;
        let mut tone = 0;
        while let Some(&mark) = chars.peek() {
            if let Some(t) = TONES.iter().position(|m| *m == mark) {
                tone = t as u32 + 1;
            } else {
                base = match (base, mark) {
                    ('a', '\u{306}') => 'ă',
                    ('a', '\u{302}') => 'â',
                    ('e', '\u{302}') => 'ê',
                    ('o', '\u{302}') => 'ô',
                    ('o', '\u{31b}') => 'ơ',
                    ('u', '\u{31b}') => 'ư',
                    _ => break,
                };
            }
            chars.next();
        }
        let rank = match ALPHABET.chars().position(|l| l == base) {
            Some(i) => 1_000 + i as u32,
            None if base.is_whitespace() => 1,
            None if base.is_ascii_digit() => 10 + base as u32 - '0' as u32,
            // Other letters and signs after the alphabet, by code point.
            None => 2_000 + base as u32,
        };
        letters.push(rank);
        tones.push(tone);
        cases.push(upper);
    }
    letters.push(0);
    letters.extend(tones);
    letters.push(0);
    letters.extend(cases);
    letters
}

/// Text folded for searching: lower case, without tones or letter marks, đ as d, so that
/// "so tu phap" finds "Sở Tư pháp".
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| c.general_category() != GeneralCategory::NonspacingMark)
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'đ' { 'd' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn folding_drops_tones_and_marks_for_search() {
        assert_eq!(fold("Sở Tư pháp"), "so tu phap");
        assert_eq!(fold("ĐẮK LẮK"), "dak lak");
        assert!(fold("Ủy ban nhân dân xã Cam Hải Đông").contains(&fold("hai dong")));
    }
    use super::*;

    #[test]
    fn vietnamese_text_sorts_in_the_order_of_the_alphabet() {
        let mut names = vec![
            "Xã Vĩnh Lương",
            "Phường Đông Hải",
            "Phường Bắc Nha Trang",
            "Đảo Trường Sa",
            "Dân tộc",
            "Ơn",
            "Ôn",
            "On",
            "ăn",
            "Ấp",
            "an",
            "Ả",
            "à",
            "á",
            "ạ",
            "ã",
            "a",
            "Cam Ranh",
            "Ba Ngòi",
            "Ưu",
            "Uy",
        ];
        names.sort_by_key(|n| vi_sort_key(n));
        assert_eq!(
            names,
            [
                "a",
                "à",
                "Ả",
                "ã",
                "á",
                "ạ",
                "an",
                "ăn",
                "Ấp",
                "Ba Ngòi",
                "Cam Ranh",
                "Dân tộc",
                "Đảo Trường Sa",
                "On",
                "Ôn",
                "Ơn",
                "Phường Bắc Nha Trang",
                "Phường Đông Hải",
                "Uy",
                "Ưu",
                "Xã Vĩnh Lương",
            ]
        );
        // Precomposed and decomposed forms sort alike.
        assert_eq!(
            vi_sort_key("Đông Hải"),
            vi_sort_key("\u{110}o\u{302}ng Ha\u{309}i")
        );
    }
    use proptest::prelude::*;

    #[test]
    fn composes_vietnamese() {
        // "Hòa" with a combining grave accent, and "ệ" as e + dot below + circumflex.
        let decomposed = "Kha\u{301}nh Ho\u{300}a, tê\u{323}";
        let got = clean(decomposed, 100).unwrap().unwrap();
        assert_eq!(got, "Khánh Hòa, tệ");
        assert_eq!(got.chars().count(), 13);
    }

    #[test]
    fn counts_characters_after_nfc() {
        let decomposed = "e\u{302}\u{301}".repeat(10); // "ế" ten times, 30 code points
        assert_eq!(clean(&decomposed, 10).unwrap().unwrap(), "ế".repeat(10));
        assert_eq!(clean(&decomposed, 9).unwrap_err().code, "text_too_long");
    }

    #[test]
    fn refuses_controls_and_overrides_keeps_lines_and_tabs() {
        for bad in [
            "a\0b",
            "a\u{7}",
            "a\u{1b}[31m",
            "x\u{85}y",
            "\u{202E}gnp.exe",
            "a\u{2066}b",
        ] {
            assert_eq!(clean(bad, 100).unwrap_err().code, "invalid_text", "{bad:?}");
        }
        assert_eq!(
            clean("dòng 1\r\n\tdòng 2", 100).unwrap().unwrap(),
            "dòng 1\r\n\tdòng 2"
        );
    }

    #[test]
    fn invisible_only_is_empty() {
        for empty in [
            "",
            "   ",
            "\u{200B}\u{200D}",
            "\u{FEFF}",
            "\u{3164}",
            "\u{00A0}\u{2800}",
            "\u{FE0F}",
        ] {
            assert_eq!(clean(empty, 100).unwrap(), None, "{empty:?}");
        }
        assert_eq!(
            clean("\u{200B}ok", 100).unwrap().as_deref(),
            Some("\u{200B}ok")
        );
    }

    proptest! {
        #[test]
        fn clean_text_is_nfc_bounded_and_free_of_controls(raw in any::<String>(), max in 1usize..50) {
            if let Ok(Some(text)) = clean(&raw, max) {
                prop_assert!(unicode_normalization::is_nfc(&text));
                prop_assert!(text.chars().count() <= max);
                prop_assert!(!text.chars().any(forbidden));
                prop_assert!(!text.chars().all(invisible));
                // Cleaning again changes nothing.
                prop_assert_eq!(clean(&text, max).unwrap(), Some(text.clone()));
            }
        }
    }
}
