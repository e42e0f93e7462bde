//! DICOMweb (PS3.18) over the encrypted studies, the parts that do not depend on HTTP: the
//! index of a study (series, instances, headers) built once from its decrypted metadata
//! and kept in a bounded cache, QIDO-RS matching, where each frame's bytes are in a stored
//! file, and rendering a frame to JPEG or PNG. The platform's methods that check the
//! caller's role and read the store are in `ops/viewing.rs`; the routes are the HTTP API's
//! `routes/dicomweb`.

mod index;
pub mod pixels;
pub mod qido;
pub mod render;
pub mod tags;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use index::{first_string, InstanceIndex, SeriesIndex, StudyIndex, BASE_MARK};
pub use pixels::{FrameError, PixelLayout};
pub use qido::{Query, QueryError};
pub use render::{ImageFormat, RenderError, RenderOptions};

/// Most studies kept in the cache.
const MAX_STUDIES: usize = 64;
/// Rough bytes of indexes kept in the cache.
const MAX_WEIGHT: usize = 512 * 1024 * 1024;
/// How long an unused index (and the study key in it) is kept.
const IDLE: Duration = Duration::from_secs(15 * 60);

/// Cached indexes by (metadata CID, holder address), with their last use.
type Entries = HashMap<(String, String), (Arc<StudyIndex>, Instant)>;

/// The process's indexes, keyed by the metadata object's CID and the holder's address
/// (both immutable facts: a CID names one metadata object, and the key unwrapped by one
/// holder opens only it). Bounded by count, weight and idle time; the least recently used
/// goes first.
#[derive(Default)]
pub struct ViewCache {
    entries: Mutex<Entries>,
    /// Which token holds a Study Instance UID, per holder (a hint: the role is checked on
    /// every request).
    uids: Mutex<HashMap<(String, String), u32>>,
}

impl ViewCache {
    /// The process-wide cache.
    pub fn global() -> &'static ViewCache {
        static CACHE: OnceLock<ViewCache> = OnceLock::new();
        CACHE.get_or_init(ViewCache::default)
    }

    /// A cached index.
    pub fn get(&self, cid: &str, holder: &str) -> Option<Arc<StudyIndex>> {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        e.retain(|_, (_, at)| now.duration_since(*at) < IDLE);
        let hit = e.get_mut(&(cid.to_owned(), holder.to_owned()))?;
        hit.1 = now;
        Some(hit.0.clone())
    }

    /// Keeps an index, evicting the least recently used over the bounds.
    pub fn put(&self, cid: &str, holder: &str, index: Arc<StudyIndex>) {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.insert((cid.to_owned(), holder.to_owned()), (index, Instant::now()));
        loop {
            let weight: usize = e.values().map(|(i, _)| i.weight).sum();
            if (e.len() <= MAX_STUDIES && weight <= MAX_WEIGHT) || e.len() <= 1 {
                break;
            }
            let oldest = e
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    e.remove(&k);
                }
                None => break,
            }
        }
    }

    /// The token remembered for (holder, Study Instance UID).
    pub fn token_of(&self, holder: &str, study_uid: &str) -> Option<u32> {
        let u = self.uids.lock().unwrap_or_else(|p| p.into_inner());
        u.get(&(holder.to_owned(), study_uid.to_owned())).copied()
    }

    /// Remembers which token holds a Study Instance UID for a holder.
    pub fn remember_token(&self, holder: &str, study_uid: &str, token: u32) {
        let mut u = self.uids.lock().unwrap_or_else(|p| p.into_inner());
        if u.len() > 100_000 {
            u.clear();
        }
        u.insert((holder.to_owned(), study_uid.to_owned()), token);
    }
}

/// Why a DICOMweb read failed.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// Access, chain, storage (as the other operations report them).
    #[error(transparent)]
    Platform(#[from] crate::PlatformError),
    /// The frames asked cannot be served.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The frame cannot be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
}
