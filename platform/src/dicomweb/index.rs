//! The index a viewer needs, built once from a study's decrypted metadata object: the
//! study's attributes, its series and instances, and each instance's header. This is the
//! one place that reads [`crate::study::Metadata`] for DICOMweb, so a change in how the
//! metadata is stored is followed here.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use medimint_sdk::crypto::StudyKey;
use serde_json::{json, Map, Value};

use super::pixels::PixelLayout;
use super::tags;
use crate::study::Metadata;

/// Replaced by the service's base URL when a metadata answer is sent: serde_json writes this
/// control character as `\u0001`, which DICOM text (no control characters but ESC, LF,
/// FF, CR and TAB) never produces.
pub const BASE_MARK: &str = "\u{1}";

/// One instance of a study.
#[derive(Debug)]
pub struct InstanceIndex {
    /// SOP Instance UID (0008,0018).
    pub sop_instance_uid: String,
    /// SOP Class UID (0008,0016).
    pub sop_class_uid: String,
    /// Index of its series in [`StudyIndex::series`].
    pub series: usize,
    /// Its path in the release.
    pub path: String,
    /// Where its ciphertext is.
    pub object_key: String,
    /// Size of the original file.
    pub size: u64,
    /// Hex SHA-256 of the original.
    pub sha256: String,
    /// Number of Frames (0028,0008), 1 when absent.
    pub frames: u32,
    /// Bytes of one native frame (0 for 1-bit pixels, or without pixel attributes).
    pub frame_bytes: u64,
    /// The header as DICOM JSON (pixel data excluded).
    pub header: Map<String, Value>,
}

/// One series of a study.
#[derive(Debug)]
pub struct SeriesIndex {
    /// Series Instance UID (0020,000E).
    pub uid: String,
    /// Its series-level attributes (from its first instance).
    pub attrs: Map<String, Value>,
    /// Indexes into [`StudyIndex::instances`], by Instance Number then UID.
    pub instances: Vec<usize>,
}

/// A study as DICOMweb serves it. Holds the study key: only kept in the bounded cache of
/// [`super::ViewCache`], and every request that uses it checks the caller's role first.
pub struct StudyIndex {
    /// Its token.
    pub token: u32,
    /// Study Instance UID (0020,000D).
    pub study_uid: String,
    /// Study-level attributes (from the first instance).
    pub attrs: Map<String, Value>,
    /// Its series, by Series Number then UID.
    pub series: Vec<SeriesIndex>,
    /// Its instances.
    pub instances: Vec<InstanceIndex>,
    pub(crate) key: StudyKey,
    by_sop: HashMap<String, usize>,
    /// The study's metadata answer, serialized once (with [`BASE_MARK`] for the base URL).
    metadata: OnceLock<Bytes>,
    /// Pixel layouts learned so far, per instance.
    layouts: Mutex<HashMap<usize, Arc<PixelLayout>>>,
    /// Rough bytes held, for the cache's budget.
    pub(crate) weight: usize,
}

impl std::fmt::Debug for StudyIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StudyIndex")
            .field("token", &self.token)
            .field("series", &self.series.len())
            .field("instances", &self.instances.len())
            .finish_non_exhaustive()
    }
}

/// The first string value of an element (a PN's alphabetic form).
pub fn first_string(attrs: &Map<String, Value>, tag: &str) -> Option<String> {
    let v = attrs.get(tag)?.get("Value")?.get(0)?;
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o.get("Alphabetic")?.as_str().map(str::to_owned),
        _ => None,
    }
}

fn first_u64(attrs: &Map<String, Value>, tag: &str) -> Option<u64> {
    let v = attrs.get(tag)?.get("Value")?.get(0)?;
    v.as_u64()
        .or_else(|| v.as_f64().map(|f| f as u64))
        .or_else(|| v.as_str()?.trim().parse().ok())
}

fn pick(header: &Map<String, Value>, wanted: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for t in wanted {
        if let Some(v) = header.get(*t) {
            out.insert((*t).to_owned(), v.clone());
        }
    }
    out
}

impl StudyIndex {
    /// Builds the index of token `token` from its decrypted metadata.
    ///
    /// # Errors
    /// A file without a header, Study, Series or SOP Instance UID; files of two studies.
    pub fn build(token: u32, key: StudyKey, meta: Metadata) -> Result<Self, String> {
        let mut study_uid: Option<String> = None;
        let mut attrs = Map::new();
        let mut series: Vec<SeriesIndex> = Vec::new();
        let mut series_at: HashMap<String, usize> = HashMap::new();
        let mut instances = Vec::with_capacity(meta.files.len());
        let mut weight = 0usize;
        for f in meta.files {
            let header = match f.header {
                Value::Object(m) => m,
                _ => {
                    return Err(format!(
                        "{} has no DICOM header in the study's metadata",
                        f.checksum.path
                    ))
                }
            };
            let need = |tag: &str, name: &str| {
                first_string(&header, tag)
                    .ok_or_else(|| format!("{} has no {name} ({tag})", f.checksum.path))
            };
            let st = need(tags::STUDY_INSTANCE_UID, "StudyInstanceUID")?;
            let se = need(tags::SERIES_INSTANCE_UID, "SeriesInstanceUID")?;
            let sop = need(tags::SOP_INSTANCE_UID, "SOPInstanceUID")?;
            match &study_uid {
                None => {
                    attrs = pick(&header, tags::STUDY_LEVEL);
                    study_uid = Some(st);
                }
                Some(u) if *u != st => {
                    return Err(format!("{} belongs to another study", f.checksum.path))
                }
                Some(_) => {}
            }
            let s = *series_at.entry(se.clone()).or_insert_with(|| {
                series.push(SeriesIndex {
                    uid: se.clone(),
                    attrs: pick(&header, tags::SERIES_LEVEL),
                    instances: Vec::new(),
                });
                series.len() - 1
            });
            let frames = first_u64(&header, tags::NUMBER_OF_FRAMES)
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
                .unwrap_or(1);
            let dim = |t| first_u64(&header, t).unwrap_or(0);
            let bits = dim(tags::BITS_ALLOCATED);
            let frame_bytes = if bits % 8 == 0 {
                dim(tags::ROWS) * dim(tags::COLUMNS) * dim(tags::SAMPLES_PER_PIXEL).max(1) * bits
                    / 8
            } else {
                0
            };
            weight += f.checksum.path.len() + 512 + header.len() * 96;
            series[s].instances.push(instances.len());
            instances.push(InstanceIndex {
                sop_instance_uid: sop,
                sop_class_uid: first_string(&header, tags::SOP_CLASS_UID).unwrap_or_default(),
                series: s,
                path: f.checksum.path,
                object_key: f.object_key,
                size: f.checksum.size,
                sha256: f.checksum.sha256,
                frames,
                frame_bytes,
                header,
            });
        }
        let study_uid = study_uid.ok_or("the study lists no files")?;
        let number = |i: &InstanceIndex| first_u64(&i.header, tags::INSTANCE_NUMBER);
        for s in &mut series {
            s.instances.sort_by(|a, b| {
                let (a, b) = (&instances[*a], &instances[*b]);
                number(a)
                    .cmp(&number(b))
                    .then_with(|| a.sop_instance_uid.cmp(&b.sop_instance_uid))
            });
        }
        // Series by number: remap the instances' series indexes after sorting.
        let mut order: Vec<usize> = (0..series.len()).collect();
        order.sort_by(|a, b| {
            let key = |s: &SeriesIndex| (first_u64(&s.attrs, tags::SERIES_NUMBER), s.uid.clone());
            key(&series[*a]).cmp(&key(&series[*b]))
        });
        let mut new_at = vec![0; series.len()];
        for (new, old) in order.iter().enumerate() {
            new_at[*old] = new;
        }
        let mut slots: Vec<Option<SeriesIndex>> = series.into_iter().map(Some).collect();
        let series: Vec<SeriesIndex> = order.iter().filter_map(|o| slots[*o].take()).collect();
        for i in &mut instances {
            i.series = new_at[i.series];
        }
        let by_sop = instances
            .iter()
            .enumerate()
            .map(|(i, x)| (x.sop_instance_uid.clone(), i))
            .collect();
        Ok(Self {
            token,
            study_uid,
            attrs,
            series,
            instances,
            key,
            by_sop,
            metadata: OnceLock::new(),
            layouts: Mutex::new(HashMap::new()),
            weight,
        })
    }

    /// The series with this UID.
    pub fn series_by_uid(&self, uid: &str) -> Option<(usize, &SeriesIndex)> {
        self.series.iter().enumerate().find(|(_, s)| s.uid == uid)
    }

    /// The instance with this SOP Instance UID.
    pub fn instance_by_uid(&self, uid: &str) -> Option<(usize, &InstanceIndex)> {
        self.by_sop.get(uid).map(|i| (*i, &self.instances[*i]))
    }

    /// The pixel layout of instance `i`, if learned.
    pub fn layout(&self, i: usize) -> Option<Arc<PixelLayout>> {
        self.layouts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&i)
            .cloned()
    }

    /// Remembers the pixel layout of instance `i`.
    pub fn remember_layout(&self, i: usize, layout: Arc<PixelLayout>) {
        self.layouts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(i, layout);
    }

    /// Study-level attributes with the counts and modalities computed.
    pub fn study_attrs(&self) -> Map<String, Value> {
        let mut a = self.attrs.clone();
        let mut modalities: Vec<String> = self
            .series
            .iter()
            .filter_map(|s| first_string(&s.attrs, tags::MODALITY))
            .collect();
        modalities.sort();
        modalities.dedup();
        a.insert(
            tags::MODALITIES_IN_STUDY.into(),
            json!({"vr": "CS", "Value": modalities}),
        );
        a.insert(
            tags::NUMBER_OF_STUDY_RELATED_SERIES.into(),
            json!({"vr": "IS", "Value": [self.series.len()]}),
        );
        a.insert(
            tags::NUMBER_OF_STUDY_RELATED_INSTANCES.into(),
            json!({"vr": "IS", "Value": [self.instances.len()]}),
        );
        a
    }

    /// Series-level attributes of series `s` with its instance count.
    pub fn series_attrs(&self, s: usize) -> Map<String, Value> {
        let mut a = self.series[s].attrs.clone();
        a.insert(
            tags::NUMBER_OF_SERIES_RELATED_INSTANCES.into(),
            json!({"vr": "IS", "Value": [self.series[s].instances.len()]}),
        );
        a
    }

    /// The DICOM JSON metadata of instance `i`, with the pixel data as a `BulkDataURI`
    /// (relative to [`BASE_MARK`]). PatientID is kept: this is the instance's own header.
    pub fn instance_metadata(&self, i: usize) -> Value {
        let inst = &self.instances[i];
        let mut m: BTreeMap<String, Value> = inst
            .header
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if inst.frame_bytes > 0 || m.contains_key(tags::ROWS) {
            let frames: Vec<String> = (1..=inst.frames).map(|n| n.to_string()).collect();
            m.insert(
                tags::PIXEL_DATA.into(),
                json!({
                    "vr": "OB",
                    "BulkDataURI": format!(
                        "{BASE_MARK}/studies/{}/series/{}/instances/{}/frames/{}",
                        self.study_uid,
                        self.series[inst.series].uid,
                        inst.sop_instance_uid,
                        frames.join(",")
                    )
                }),
            );
        }
        Value::Object(m.into_iter().collect())
    }

    /// The metadata of the instances `which`, serialized (with [`BASE_MARK`]). The whole
    /// study's is serialized once and kept.
    pub fn metadata_json(&self, which: Option<&[usize]>) -> Bytes {
        let build = |ids: &mut dyn Iterator<Item = usize>| -> Bytes {
            let all: Vec<Value> = ids.map(|i| self.instance_metadata(i)).collect();
            Bytes::from(serde_json::to_vec(&all).unwrap_or_else(|_| b"[]".to_vec()))
        };
        match which {
            None => self
                .metadata
                .get_or_init(|| {
                    build(&mut self.series.iter().flat_map(|s| s.instances.iter().copied()))
                })
                .clone(),
            Some(ids) => build(&mut ids.iter().copied()),
        }
    }
}
