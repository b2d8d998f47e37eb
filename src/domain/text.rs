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

#[cfg(test)]
mod tests {
    use super::*;
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
