//! The portable backup archive: gzip-compressed JSON lines, readable by any hailong of the
//! same schema on SQLite or PostgreSQL.
//!
//! ```text
//! {"format":"hailong-archive","version":1,"migrations":[…],"made_at":"…","source":"postgres"}
//! {"table":"agencies","rows":[{…},…]}          one line per batch of up to 5,000 rows
//! …
//! {"end":true,"rows":{"agencies":12,…}}        the row count of every table
//! ```
//!
//! A file that stops before the last line (a copy cut short, a full disk) is refused, and
//! so is one whose counts disagree with the rows it holds. gzip's own CRC catches a change
//! inside a compressed block. Reading and writing are plain blocking file I/O: only the
//! command line uses them, one at a time.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "hailong-archive";
pub const VERSION: u32 = 1;

/// The first line.
#[derive(Debug, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// The schema: the migrations applied to the database it was made from.
    pub migrations: Vec<String>,
    pub made_at: String,
    pub source: String,
}

#[derive(Serialize)]
struct BatchOut<'a, T> {
    table: &'a str,
    rows: &'a [T],
}

#[derive(Deserialize)]
struct BatchIn {
    table: String,
    rows: Vec<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct End {
    end: bool,
    rows: BTreeMap<String, u64>,
}

/// What a backup file is, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A SQLite database file (what `backup` makes from SQLite).
    Sqlite,
    /// A gzip file, which should be a hailong archive (what `backup` makes from PostgreSQL).
    Archive,
}

/// Tells a backup's kind from its first bytes; anything else is not a hailong backup.
pub fn kind_of(path: &Path) -> anyhow::Result<Kind> {
    let mut file = File::open(path)
        .map_err(|e| anyhow::anyhow!("cannot open the backup {}: {e}", path.display()))?;
    let mut head = [0u8; 16];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..])? {
            0 => break,
            n => got += n,
        }
    }
    if got == 16 && &head == b"SQLite format 3\0" {
        Ok(Kind::Sqlite)
    } else if got >= 2 && head[..2] == [0x1f, 0x8b] {
        Ok(Kind::Archive)
    } else {
        anyhow::bail!(
            "{} is not a hailong backup (neither a SQLite file nor a hailong archive)",
            path.display()
        )
    }
}

pub struct Writer {
    out: GzEncoder<BufWriter<File>>,
    rows: BTreeMap<String, u64>,
}

impl Writer {
    /// Starts an archive at `path` (a temporary name: the caller renames it once
    /// [`Writer::finish`] returns).
    pub fn create(path: &Path, header: &Header) -> anyhow::Result<Self> {
        let file = File::create(path)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        let mut writer = Self {
            out: GzEncoder::new(BufWriter::with_capacity(1 << 20, file), Compression::fast()),
            rows: BTreeMap::new(),
        };
        writer.line(header)?;
        Ok(writer)
    }

    fn line(&mut self, value: &impl Serialize) -> anyhow::Result<()> {
        serde_json::to_writer(&mut self.out, value)?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    /// Adds a batch of `table`'s rows.
    pub fn rows<T: Serialize>(&mut self, table: &str, rows: &[T]) -> anyhow::Result<()> {
        self.line(&BatchOut { table, rows })?;
        *self.rows.entry(table.to_string()).or_default() += rows.len() as u64;
        Ok(())
    }

    /// Declares a table, even an empty one, so that the counts name every table.
    pub fn table(&mut self, table: &str) {
        self.rows.entry(table.to_string()).or_default();
    }

    /// Writes the counts, ends the gzip stream and flushes the file to the disk.
    pub fn finish(mut self) -> anyhow::Result<BTreeMap<String, u64>> {
        let rows = std::mem::take(&mut self.rows);
        self.line(&End {
            end: true,
            rows: rows.clone(),
        })?;
        let file = self
            .out
            .finish()?
            .into_inner()
            .map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(rows)
    }
}

/// One step of reading an archive.
pub enum Item {
    Rows {
        table: String,
        rows: Vec<serde_json::Value>,
    },
    End(BTreeMap<String, u64>),
}

pub struct Reader {
    lines: std::io::Lines<BufReader<GzDecoder<File>>>,
    pub header: Header,
    seen: BTreeMap<String, u64>,
    ended: bool,
}

impl Reader {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let file = File::open(path)
            .map_err(|e| anyhow::anyhow!("cannot open the backup {}: {e}", path.display()))?;
        let mut lines = BufReader::with_capacity(1 << 20, GzDecoder::new(file)).lines();
        let not_ours = || {
            anyhow::anyhow!(
                "{} is not a hailong backup (no hailong archive header)",
                path.display()
            )
        };
        let first = lines.next().ok_or_else(not_ours)?.map_err(|_| not_ours())?;
        let header: Header = serde_json::from_str(&first).map_err(|_| not_ours())?;
        if header.format != FORMAT {
            return Err(not_ours());
        }
        if header.version != VERSION {
            anyhow::bail!(
                "{} is a hailong archive of version {}; this hailong reads version {VERSION}",
                path.display(),
                header.version
            );
        }
        Ok(Self {
            lines,
            header,
            seen: BTreeMap::new(),
            ended: false,
        })
    }

    /// The next batch, or the end with the counts checked against the rows read.
    pub fn next_item(&mut self) -> anyhow::Result<Item> {
        let truncated = || anyhow::anyhow!("the backup is truncated or damaged");
        if self.ended {
            anyhow::bail!("the backup was already read to its end");
        }
        let line = match self.lines.next() {
            None => return Err(truncated()),
            Some(line) => line.map_err(|e| anyhow::anyhow!("{}: {e}", truncated()))?,
        };
        if let Ok(batch) = serde_json::from_str::<BatchIn>(&line) {
            *self.seen.entry(batch.table.clone()).or_default() += batch.rows.len() as u64;
            return Ok(Item::Rows {
                table: batch.table,
                rows: batch.rows,
            });
        }
        let end: End = serde_json::from_str(&line).map_err(|_| truncated())?;
        let counted = |rows: &BTreeMap<String, u64>| {
            rows.iter()
                .filter(|(_, n)| **n > 0)
                .map(|(t, n)| (t.clone(), *n))
                .collect::<BTreeMap<_, _>>()
        };
        if !end.end || counted(&end.rows) != counted(&self.seen) {
            anyhow::bail!("the backup is damaged: its last line counts other rows than it holds");
        }
        // Nothing may follow the end; reading on also lets gzip check its CRC.
        if self.lines.next().is_some() {
            return Err(truncated());
        }
        self.ended = true;
        Ok(Item::End(end.rows))
    }
}
