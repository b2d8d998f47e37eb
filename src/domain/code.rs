//! Codes of agencies and desks.

use std::fmt;

use super::Invalid;

/// An agency or desk code: 1–32 characters of `A-Z a-z 0-9 . _ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(String);

impl Code {
    pub const MAX_LEN: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(Invalid::new(
                "invalid_code",
                format!("a code has 1 to {} characters", Self::MAX_LEN),
            ));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(Invalid::new(
                "invalid_code",
                "a code uses only the letters A-Z and a-z, digits, '.', '_' and '-'",
            ));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The code of an agency a use case is asked about, parsed by the front end (the JSON API,
/// the pages, the command line) before the call: use cases never take raw text for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgencyCode(Code);

impl AgencyCode {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Code::parse(raw).map(Self)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for AgencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        for ok in ["A", "so-tp.hcm_01", "X".repeat(32).as_str(), "000.H29"] {
            assert!(Code::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "X".repeat(33).as_str(),
            "có dấu",
            "a b",
            "a/b",
            "a\u{0}",
            "Sở",
            "<x>",
        ] {
            assert_eq!(
                Code::parse(bad).unwrap_err().code,
                "invalid_code",
                "{bad:?}"
            );
        }
    }
}
