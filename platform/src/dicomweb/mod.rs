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

    /// Drops every holder's index of `token` at once (its erasure, a re-key, a revoke:
    /// [`crate::Platform::forget_opened`]), so that its study key and decrypted headers leave
    /// the process then, not when evicted. The UID → token hint stays (it holds no key): a
    /// request for an erased study's UID still finds the token and answers 410.
    pub fn forget_token(&self, token: u32) {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.retain(|_, (index, _)| index.token != token);
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

#[cfg(test)]
mod tests {
    use super::*;
    use medimint_sdk::crypto::StudyKey;
    use serde_json::json;

    fn header(series: &str, number: u32, sop: &str, instance: u32) -> serde_json::Value {
        json!({
            "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
            "0020000E": {"vr": "UI", "Value": [series]},
            "00200011": {"vr": "IS", "Value": [number]},
            "00080018": {"vr": "UI", "Value": [sop]},
            "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]},
            "00080060": {"vr": "CS", "Value": ["CT"]},
            "00200013": {"vr": "IS", "Value": [instance]},
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": "DOE^JANE"}]},
            "00100020": {"vr": "LO", "Value": ["MRN-7"]},
            "00280010": {"vr": "US", "Value": [4]},
            "00280011": {"vr": "US", "Value": [4]},
            "00280100": {"vr": "US", "Value": [16]},
            "00280008": {"vr": "IS", "Value": [2]}
        })
    }

    fn index() -> StudyIndex {
        let file = |path: &str, h: serde_json::Value| json!({"path": path, "sha256": "00", "size": 10, "object_key": format!("studies/x/{path}"), "header": h});
        let meta: crate::study::Metadata = serde_json::from_value(json!({
            "files": [
                file("b2.dcm", header("9.2", 2, "9.2.2", 2)),
                file("a1.dcm", header("9.1", 1, "9.1.1", 1)),
                file("b1.dcm", header("9.2", 2, "9.2.1", 1)),
            ]
        }))
        .unwrap();
        StudyIndex::build(7, StudyKey::generate(), meta).unwrap()
    }

    #[test]
    fn the_index_orders_series_and_instances_and_marks_the_pixel_data() {
        let i = index();
        assert_eq!(i.study_uid, "1.2.3");
        let series: Vec<&str> = i.series.iter().map(|s| s.uid.as_str()).collect();
        assert_eq!(series, ["9.1", "9.2"]);
        let (at, inst) = i.instance_by_uid("9.2.1").unwrap();
        assert_eq!(inst.series, 1);
        assert_eq!(i.series[1].instances[0], at, "instances by number");
        assert_eq!(inst.frame_bytes, 32);
        assert_eq!(inst.frames, 2);
        let study = i.study_attrs();
        assert!(
            !study.contains_key(tags::PATIENT_ID),
            "PatientID is not a study attribute here"
        );
        assert_eq!(
            study[tags::NUMBER_OF_STUDY_RELATED_INSTANCES]["Value"][0],
            3
        );
        let text = String::from_utf8(i.metadata_json(None).to_vec()).unwrap();
        assert!(text.contains("\\u0001/studies/1.2.3/series/9.1/instances/9.1.1/frames/1,2"));
        let all: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0]["00080018"]["Value"][0], "9.1.1");
    }

    #[test]
    fn the_cache_is_bounded_by_count_least_recently_used_first() {
        let cache = ViewCache::default();
        let shared = Arc::new(index());
        for n in 0..MAX_STUDIES + 3 {
            cache.put(&format!("cid{n}"), "G", shared.clone());
            // Keep the first one in use: it is never the least recently used.
            assert!(cache.get("cid0", "G").is_some());
        }
        let kept = (0..MAX_STUDIES + 3)
            .filter(|n| cache.get(&format!("cid{n}"), "G").is_some())
            .count();
        assert_eq!(kept, MAX_STUDIES);
        assert!(cache.get("cid0", "G").is_some());
        assert!(cache.get("cid0", "another holder").is_none());
    }

    #[test]
    fn forgetting_a_token_drops_every_holders_index_of_it_and_only_those() {
        let cache = ViewCache::default();
        let seven = Arc::new(index());
        let other = Arc::new({
            let mut i = index();
            i.token = 8;
            i
        });
        cache.put("cid-a", "GA", seven.clone());
        cache.put("cid-a", "GB", seven.clone());
        cache.put("cid-b", "GA", other);
        cache.remember_token("GA", "1.2.3", 7);
        cache.forget_token(7);
        assert!(cache.get("cid-a", "GA").is_none());
        assert!(cache.get("cid-a", "GB").is_none());
        assert!(cache.get("cid-b", "GA").is_some());
        // The UID hint stays (no key in it): the erased study still answers 410.
        assert_eq!(cache.token_of("GA", "1.2.3"), Some(7));
    }
}
