//! Display names of agencies, desks and keys.

use std::fmt;

use super::Invalid;

/// A human-readable name: trimmed, 1–300 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub const MAX_CHARS: usize = 300;

    /// The text rules of [`super::text`], on one line.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = match super::text::clean(raw, Self::MAX_CHARS) {
            Ok(Some(name)) => name,
            Ok(None) => return Err(Invalid::new("invalid_name", "a name cannot be empty")),
            Err(e) if e.code == "text_too_long" => {
                return Err(Invalid::new(
                    "invalid_name",
                    format!("a name has at most {} characters", Self::MAX_CHARS),
                ));
            }
            Err(e) => return Err(e),
        };
        if name.chars().any(char::is_control) {
            return Err(Invalid::new(
                "invalid_name",
                "a name is one line, without tabs",
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_vietnamese_and_trims() {
        let name = Name::parse("  Sở Tư pháp tỉnh Khánh Hòa ").unwrap();
        assert_eq!(name.as_str(), "Sở Tư pháp tỉnh Khánh Hòa");
        assert!(Name::parse(&"ệ".repeat(300)).is_ok());
    }

    #[test]
    fn composes_and_refuses_overrides() {
        assert_eq!(Name::parse("Ho\u{300}a").unwrap().as_str(), "Hòa");
        assert_eq!(
            Name::parse("Sở \u{202E}pháp").unwrap_err().code,
            "invalid_text"
        );
    }

    #[test]
    fn rejects_empty_long_and_control() {
        for bad in [
            "",
            "   ",
            "\u{200B}\u{3164}",
            &"a".repeat(301),
            "a\nb",
            "tab\there",
        ] {
            assert_eq!(
                Name::parse(bad).unwrap_err().code,
                "invalid_name",
                "{bad:?}"
            );
        }
    }
}
