//! Charts: pictures of figures that [`crate::report::charts`] gathers, drawn by [`render`]
//! off the async runtime (no I/O) and cached.
//!
//! The cache is keyed by the chart's content (every label and figure drawn) and the
//! format, so a chart is drawn once per parameters and data version and a new rating or
//! exclusion can never be answered with a stale picture.

pub mod render;
mod typeset;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
pub use render::{Caveats, Chart, Image, MonthFigure, RankBar};

/// Drawn charts by content and format, within [`Cache::MAX_BYTES`] (emptied when the
/// next picture would not fit: a chart costs milliseconds to draw again).
#[derive(Clone, Default)]
pub struct Cache(Arc<Mutex<Drawn>>);

#[derive(Default)]
struct Drawn {
    pictures: HashMap<[u8; 32], Arc<Vec<u8>>>,
    bytes: usize,
}

impl Cache {
    /// What the cache may hold: a province's worth of charts in both formats.
    pub const MAX_BYTES: usize = 32 * 1024 * 1024;

    /// The bytes held now.
    pub fn bytes(&self) -> usize {
        self.0.lock().map_or(0, |m| m.bytes)
    }

    /// The chart in `format`, drawn on a blocking thread unless cached.
    pub async fn render(&self, chart: Chart, format: Image) -> Result<Arc<Vec<u8>>> {
        let key: [u8; 32] = Sha256::digest(format!("{format:?}{chart:?}").as_bytes()).into();
        if let Some(hit) = self
            .0
            .lock()
            .ok()
            .and_then(|m| m.pictures.get(&key).cloned())
        {
            metrics::counter!("hailong_chart_cache_hits_total").increment(1);
            return Ok(hit);
        }
        let bytes = tokio::task::spawn_blocking(move || chart.render(format))
            .await
            .map_err(Error::internal)?
            .map_err(Error::internal)?;
        let bytes = Arc::new(bytes);
        if let Ok(mut drawn) = self.0.lock()
            && bytes.len() <= Self::MAX_BYTES
        {
            if drawn.bytes + bytes.len() > Self::MAX_BYTES {
                drawn.pictures.clear();
                drawn.bytes = 0;
            }
            if drawn.pictures.insert(key, bytes.clone()).is_none() {
                drawn.bytes += bytes.len();
            }
        }
        Ok(bytes)
    }
}
