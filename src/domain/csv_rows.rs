//! What people are told about a CSV row that cannot be read (imports, reorganisations).

/// `bytes` without a leading UTF-8 byte-order mark (spreadsheets write one).
pub fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Why a row could not be read, for a header of `columns` cells.
pub fn problem(e: &csv::Error, columns: usize) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "this row is not valid UTF-8".to_string(),
        csv::ErrorKind::UnequalLengths { len, .. } => {
            format!("this row has {len} cells, the header {columns}")
        }
        _ => "this row cannot be read as CSV".to_string(),
    }
}
