//! JSON input read strictly: syntax errors (and invalid UTF-8, and trailing bytes) are
//! `BadRequest` `malformed_json`; a body of the wrong shape is `Unprocessable`
//! `invalid_body`, naming the field's path.

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Parses JSON, telling syntax (400) apart from shape (422, with the field's path).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        if err.inner().is_data() {
            shape_error(err)
        } else {
            Error::bad_request("malformed_json", "the body is not valid JSON")
        }
    })?;
    de.end()
        .map_err(|_| Error::bad_request("malformed_json", "the body is not valid JSON"))?;
    Ok(value)
}

/// Reads an already parsed JSON value as `T`: 422 with the field's path when it does not fit.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(value).map_err(shape_error)
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`): use with
/// `#[serde(default, with = "crate::domain::json::present")]`.
pub mod present {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }

    pub fn serialize<S: Serializer, T: Serialize>(
        value: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }
}

fn shape_error(err: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let path = err.path().to_string();
    let inner = err.into_inner();
    let field = missing_field(&inner.to_string())
        .map(|name| join_path(&path, name))
        .unwrap_or(path);
    let error = Error::unprocessable("invalid_body", describe(&inner));
    if field.is_empty() || field == "." {
        error
    } else {
        error.with_field(field)
    }
}

/// serde reports a missing field at its parent's path; name the field itself.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

fn join_path(parent: &str, name: &str) -> String {
    if parent.is_empty() || parent == "." {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// serde's message without its " at line 1 column 7" suffix.
fn describe(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
fn status(e: &Error) -> u16 {
    use crate::error::Kind;
    match e.kind {
        Kind::BadRequest => 400,
        Kind::Unprocessable => 422,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        code: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: u8,
    }

    #[test]
    fn classifies_errors() {
        let syntax = parse_json::<Body>(b"{\"code\":").unwrap_err();
        assert_eq!(
            (super::status(&syntax), syntax.code),
            (400, "malformed_json")
        );

        let utf8 = parse_json::<Body>(b"{\"code\":\"\xff\"}").unwrap_err();
        assert_eq!(super::status(&utf8), 400);

        let missing = parse_json::<Body>(b"{}").unwrap_err();
        assert_eq!(
            (super::status(&missing), missing.field.as_deref()),
            (422, Some("code"))
        );

        let wrong = parse_json::<Body>(b"{\"code\":\"a\",\"inner\":{\"n\":\"x\"}}").unwrap_err();
        assert_eq!(wrong.field.as_deref(), Some("inner.n"));
        assert!(!wrong.message.contains("line"), "{}", wrong.message);

        let trailing = parse_json::<Body>(b"{\"code\":\"a\"} x").unwrap_err();
        assert_eq!(super::status(&trailing), 400);

        use crate::domain::UniqueMap;
        let twice = parse_json::<UniqueMap>(b"{\"a\":1,\"a\":2}").unwrap_err();
        assert_eq!(super::status(&twice), 422, "{}", twice.message);
        assert_eq!(
            parse_json::<UniqueMap>(b"{\"a\":1,\"b\":2}")
                .unwrap()
                .0
                .len(),
            2
        );
    }
}
