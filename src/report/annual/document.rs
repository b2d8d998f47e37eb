//! The frozen document, version 1: what freezing stores, what its digest covers and what
//! verification recomputes. Its types are its own, not the API's: the served
//! [`Row`] may grow fields without changing the text, the digest or the verification of any
//! frozen report. A change to [`Canonical`] or [`FrozenRow`] (or to the serialized shape of
//! [`Band`] and [`Bands`], which they hold) changes the digests of reports already frozen:
//! it must come as a new version of the document beside this one, told apart by a
//! `"version"` key that version 1 does not have. The golden test below pins version 1.
//!
//! Text: JSON with object keys sorted by their UTF-8 bytes, no white space, numbers as the
//! shortest text that reads back as the same double, strings with only `"` `\` and control
//! characters escaped ([`canonical_text`]); the digest is SHA-256 of that text, in lowercase
//! hex.

use chrono::{DateTime, Utc};
use entity::annual_report;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Row;
use crate::error::{Error, Result};
use crate::score::{Band, Bands};

/// The frozen content whose digest is published (version 1). See the module documentation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Canonical {
    pub year: i32,
    pub method: u32,
    pub parent: Option<String>,
    pub timezone: String,
    pub min_responses: u64,
    pub bands: Bands,
    /// The freeze instant, RFC 3339 in UTC with microseconds.
    pub cutoff: String,
    /// The id of the last response covered.
    pub last_response: i64,
    pub rows: Vec<FrozenRow>,
}

/// One row of a frozen ranking (version 1). The same figures as the served [`Row`], kept
/// apart from it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FrozenRow {
    pub rank: Option<u32>,
    pub agency: String,
    pub name: String,
    pub responses: u64,
    pub excluded: u64,
    pub satisfied: u64,
    pub satisfaction_pct: Option<f64>,
    pub ci95: Option<[f64; 2]>,
    pub mean: Option<f64>,
    pub index: Option<f64>,
    pub band: Band,
    pub units: Vec<String>,
}

impl From<Row> for FrozenRow {
    fn from(row: Row) -> Self {
        let Row {
            rank,
            agency,
            name,
            responses,
            excluded,
            satisfied,
            satisfaction_pct,
            ci95,
            mean,
            index,
            band,
            units,
            ..
        } = row;
        Self {
            rank,
            agency,
            name,
            responses,
            excluded,
            satisfied,
            satisfaction_pct,
            ci95,
            mean,
            index,
            band,
            units,
        }
    }
}

impl From<FrozenRow> for Row {
    fn from(row: FrozenRow) -> Self {
        Self {
            rank: row.rank,
            agency: row.agency,
            name: row.name,
            responses: row.responses,
            excluded: row.excluded,
            // A year freezes only when none of its ratings are held.
            held: 0,
            satisfied: row.satisfied,
            satisfaction_pct: row.satisfaction_pct,
            ci95: row.ci95,
            mean: row.mean,
            index: row.index,
            band: row.band,
            units: row.units,
            loop_figures: Default::default(),
        }
    }
}

/// The frozen rows as the API serves them.
pub fn served_rows(rows: Vec<FrozenRow>) -> Vec<Row> {
    rows.into_iter().map(Row::from).collect()
}

/// The rows of a ranking as the document holds them.
pub fn frozen_rows(rows: Vec<Row>) -> Vec<FrozenRow> {
    rows.into_iter().map(FrozenRow::from).collect()
}

/// JSON with sorted keys and no white space: the canonical text of a document.
pub fn canonical_text(value: &serde_json::Value) -> String {
    use serde_json::Value;
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                out.push('{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(v, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// The canonical text of `doc` and its SHA-256 in hex.
pub fn digest_of(doc: &Canonical) -> Result<(String, String)> {
    let value = serde_json::to_value(doc).map_err(Error::internal)?;
    let text = canonical_text(&value);
    Ok((hex::encode(Sha256::digest(text.as_bytes())), text))
}

pub fn instant_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The document a stored frozen report holds.
pub fn parse(stored: &annual_report::Model) -> Result<Canonical> {
    serde_json::from_str(&stored.body).map_err(Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_text_sorts_keys_and_has_no_spaces() {
        let v = json!({"b": [1, 2.5, null], "a": {"é": "x\"y", "Z": true}, "ab": 0.1});
        assert_eq!(
            canonical_text(&v),
            r#"{"a":{"Z":true,"é":"x\"y"},"ab":0.1,"b":[1,2.5,null]}"#
        );
    }

    fn document() -> Canonical {
        let row = |rank, agency: &str, name: &str, band| FrozenRow {
            rank,
            agency: agency.to_string(),
            name: name.to_string(),
            responses: 120,
            excluded: 3,
            satisfied: 101,
            satisfaction_pct: Some(84.16666666666667),
            ci95: Some([76.6, 89.6]),
            mean: Some(4.1),
            index: Some(81.25),
            band,
            units: vec![agency.to_string(), format!("{agency}-01")],
        };
        Canonical {
            year: 2025,
            method: 1,
            parent: None,
            timezone: "Asia/Ho_Chi_Minh".to_string(),
            min_responses: 30,
            bands: Bands::default(),
            cutoff: "2026-01-05T02:00:00.123456Z".to_string(),
            last_response: 4711,
            rows: vec![
                row(Some(1), "SO-TP", "Sở Tư pháp", Band::Good),
                row(None, "UBND-X", "UBND xã \"Hòa\"", Band::InsufficientData),
            ],
        }
    }

    /// Version 1 as it is stored: this text and digest are in frozen reports already; the
    /// document must keep giving them (a served row's new field must not reach it).
    #[test]
    fn version_1_keeps_its_text_and_digest() {
        let (digest, text) = digest_of(&document()).unwrap();
        assert_eq!(text, GOLDEN_TEXT);
        assert_eq!(digest, GOLDEN_DIGEST);
        let read: Canonical = serde_json::from_str(GOLDEN_TEXT).unwrap();
        assert_eq!(read, document());
    }

    /// The API row round-trips through the document unchanged, and the document's row
    /// holds exactly the version-1 keys whatever the API row holds.
    #[test]
    fn the_served_row_and_the_frozen_row_are_separate() {
        let frozen = document().rows;
        let served = served_rows(frozen.clone());
        assert_eq!(frozen_rows(served.clone()), frozen);
        let keys = |v: serde_json::Value| -> Vec<String> {
            v.as_object().unwrap().keys().cloned().collect()
        };
        let mut v1 = keys(serde_json::to_value(&frozen[0]).unwrap());
        v1.sort();
        assert_eq!(
            v1,
            [
                "agency",
                "band",
                "ci95",
                "excluded",
                "index",
                "mean",
                "name",
                "rank",
                "responses",
                "satisfaction_pct",
                "satisfied",
                "units"
            ]
        );
        let api = keys(serde_json::to_value(&served[0]).unwrap());
        assert!(v1.iter().all(|k| api.contains(k)));
    }

    /// Checked outside the code too: `printf '%s' "$TEXT" | sha256sum`.
    const GOLDEN_TEXT: &str = r#"{"bands":{"completed":50.0,"good":70.0,"outstanding":90.0},"cutoff":"2026-01-05T02:00:00.123456Z","last_response":4711,"method":1,"min_responses":30,"parent":null,"rows":[{"agency":"SO-TP","band":"good","ci95":[76.6,89.6],"excluded":3,"index":81.25,"mean":4.1,"name":"Sở Tư pháp","rank":1,"responses":120,"satisfaction_pct":84.16666666666667,"satisfied":101,"units":["SO-TP","SO-TP-01"]},{"agency":"UBND-X","band":"insufficient_data","ci95":[76.6,89.6],"excluded":3,"index":81.25,"mean":4.1,"name":"UBND xã \"Hòa\"","rank":null,"responses":120,"satisfaction_pct":84.16666666666667,"satisfied":101,"units":["UBND-X","UBND-X-01"]}],"timezone":"Asia/Ho_Chi_Minh","year":2025}"#;
    const GOLDEN_DIGEST: &str = "cf193b42a897bee417ab8e08b244ae2b16e64c543125d77e20b93f069daddad1";
}
