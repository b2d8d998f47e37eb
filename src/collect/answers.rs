//! Answers checked against their questionnaire, once, for every way a rating arrives
//! (JSON, the citizen form, imports). What comes out is valid by construction.

use super::questionnaire::{Kind, Questionnaire};
use crate::domain::text;

/// One raw answer as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    /// A whole number.
    Int(i64),
    /// Not answered (an empty form field, a JSON null, an empty CSV cell).
    Empty,
    /// Anything else: a fraction, a word, a list.
    Other,
}

impl Raw {
    pub fn from_json(value: &serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => Raw::Empty,
            serde_json::Value::Number(n) => n.as_i64().map(Raw::Int).unwrap_or(Raw::Other),
            _ => Raw::Other,
        }
    }

    /// A form field or CSV cell: digits only, without a sign or leading zeros (`+5` and
    /// `05` are not answers a form offers).
    pub fn from_text(text: &str) -> Self {
        let text = text.trim();
        let canonical = text.len() <= 6
            && text.bytes().all(|b| b.is_ascii_digit())
            && (text == "0" || !text.starts_with('0'));
        if text.is_empty() {
            Raw::Empty
        } else if canonical {
            text.parse().map(Raw::Int).unwrap_or(Raw::Other)
        } else {
            Raw::Other
        }
    }
}

/// A problem with one answer. `field` is the question key (or `comment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub code: &'static str,
}

impl Problem {
    fn new(field: &str, code: &'static str) -> Self {
        Self {
            field: field.to_string(),
            code,
        }
    }

    /// The API's error for this problem: 422 with `field` `answers.KEY` or `comment`.
    pub fn api_error(&self) -> crate::error::Error {
        let field = if self.field == "comment" {
            "comment".to_string()
        } else {
            format!("answers.{}", self.field)
        };
        crate::error::Error::unprocessable(self.code, self.message(true)).with_field(field)
    }

    /// A sentence for the citizen, in Vietnamese or English.
    pub fn message(&self, english: bool) -> &'static str {
        match (self.code, english) {
            ("missing_answer", false) => "Vui lòng chọn một mức đánh giá cho câu hỏi này.",
            ("missing_answer", true) => "Please choose a rating for this question.",
            ("invalid_answer", false) => "Vui lòng chọn một trong các mức đánh giá đã cho.",
            ("invalid_answer", true) => "Please choose one of the ratings offered.",
            ("comment_too_long", false) => "Ý kiến tối đa 1.000 ký tự.",
            ("comment_too_long", true) => "Comments have at most 1,000 characters.",
            ("invalid_text", false) => {
                "Ý kiến có ký tự không hợp lệ (ký tự điều khiển); vui lòng nhập lại."
            }
            ("invalid_text", true) => {
                "The comment contains characters that are not allowed (control characters)."
            }
            ("unknown_question", false) => "Câu hỏi này không có trong phiếu.",
            (_, _) => "This question is not part of the form.",
        }
    }
}

/// Answers that passed: the scale answers in questionnaire order, and the comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    pub values: Vec<(String, i16)>,
    pub comment: Option<String>,
}

/// Checks `raw` answers and a comment against `q`. Every problem is reported, in
/// questionnaire order (unknown keys last), so that a form can show each next to its
/// question and an API the first.
pub fn check(
    q: &Questionnaire,
    raw: &[(String, Raw)],
    comment: Option<&str>,
) -> Result<Answers, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut values = Vec::new();
    for question in q.scale_questions() {
        let mut given = raw
            .iter()
            .filter(|(k, _)| *k == question.key)
            .map(|(_, v)| v);
        // A question answered twice (`overall=5&overall=1`) is not an answer.
        let given = match (given.next(), given.next()) {
            (Some(_), Some(_)) => Some(&Raw::Other),
            (first, None) => first,
            (None, Some(_)) => None,
        };
        match given {
            None | Some(Raw::Empty) => {
                if question.required {
                    problems.push(Problem::new(&question.key, "missing_answer"));
                }
            }
            Some(Raw::Int(v)) => match question.choices.iter().find(|c| i64::from(c.value) == *v) {
                Some(choice) => values.push((question.key.clone(), choice.value)),
                None => problems.push(Problem::new(&question.key, "invalid_answer")),
            },
            Some(Raw::Other) => problems.push(Problem::new(&question.key, "invalid_answer")),
        }
    }
    for (key, _) in raw {
        let known = q
            .question(key)
            .is_some_and(|question| question.kind == Kind::Scale);
        if !known && !problems.iter().any(|p| p.field == *key) {
            problems.push(Problem::new(key, "unknown_question"));
        }
    }
    let max = q.comment().and_then(|c| c.max_length).unwrap_or(0);
    let comment = match comment.map(|c| text::clean(c, max)) {
        None | Some(Ok(None)) => None,
        Some(Ok(Some(text))) => Some(text),
        Some(Err(invalid)) => {
            let code = match invalid.code {
                "text_too_long" => "comment_too_long",
                _ => "invalid_text",
            };
            problems.push(Problem::new("comment", code));
            None
        }
    };
    if problems.is_empty() {
        Ok(Answers { values, comment })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::questionnaire::builtins;
    use serde_json::json;

    fn raw(pairs: &[(&str, serde_json::Value)]) -> Vec<(String, Raw)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), Raw::from_json(v)))
            .collect()
    }

    fn codes(r: Result<Answers, Vec<Problem>>) -> Vec<(String, &'static str)> {
        r.unwrap_err()
            .into_iter()
            .map(|p| (p.field, p.code))
            .collect()
    }

    #[test]
    fn accepts_a_full_one_stop_answer() {
        let q = &builtins()[0];
        let got = check(
            q,
            &raw(&[("staff", json!(2)), ("overall", json!(5))]),
            Some("  Cán bộ nhiệt tình  "),
        )
        .unwrap();
        assert_eq!(
            got.values,
            [("overall".to_string(), 5), ("staff".to_string(), 2)]
        );
        assert_eq!(got.comment.as_deref(), Some("Cán bộ nhiệt tình"));
    }

    #[test]
    fn rejects_bad_scores() {
        let q = &builtins()[0];
        for bad in [
            json!(0),
            json!(6),
            json!(4.5),
            json!("five"),
            json!("5"),
            json!([5]),
            json!(-1),
        ] {
            assert_eq!(
                codes(check(q, &raw(&[("overall", bad.clone())]), None)),
                [("overall".to_string(), "invalid_answer")],
                "{bad}"
            );
        }
    }

    #[test]
    fn overall_is_required_and_keys_are_known() {
        let q = &builtins()[0];
        assert_eq!(
            codes(check(q, &raw(&[("staff", json!(3))]), None)),
            [("overall".to_string(), "missing_answer")]
        );
        assert_eq!(
            codes(check(
                q,
                &raw(&[("overall", json!(3)), ("speed", json!(3))]),
                None
            )),
            [("speed".to_string(), "unknown_question")]
        );
        assert_eq!(
            codes(check(
                q,
                &raw(&[("overall", json!(3)), ("comment", json!(3))]),
                None
            )),
            [("comment".to_string(), "unknown_question")]
        );
    }

    #[test]
    fn kiosk_takes_only_one_four_five() {
        let q = &builtins()[1];
        for ok in [1, 4, 5] {
            assert!(check(q, &raw(&[("overall", json!(ok))]), None).is_ok());
        }
        for bad in [2, 3] {
            assert!(check(q, &raw(&[("overall", json!(bad))]), None).is_err());
        }
    }

    #[test]
    fn comments_up_to_1000_characters() {
        let q = &builtins()[0];
        let ok = "ệ".repeat(1000);
        assert!(check(q, &raw(&[("overall", json!(4))]), Some(&ok)).is_ok());
        let long = "ệ".repeat(1001);
        assert_eq!(
            codes(check(q, &raw(&[("overall", json!(4))]), Some(&long))),
            [("comment".to_string(), "comment_too_long")]
        );
        // Blank comments are no comment.
        assert_eq!(
            check(q, &raw(&[("overall", json!(4))]), Some("  "))
                .unwrap()
                .comment,
            None
        );
    }

    #[test]
    fn text_input_parses() {
        assert_eq!(Raw::from_text(" 4 "), Raw::Int(4));
        assert_eq!(Raw::from_text(""), Raw::Empty);
        assert_eq!(Raw::from_text("4.0"), Raw::Other);
    }
}
