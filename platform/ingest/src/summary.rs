//! The de-identified study summary, after DICOM PS3.15 Annex E (Basic Application Level
//! Confidentiality Profile). Built by keeping a short list of attributes the profile does not
//! touch; everything else is removed (action X). The table is in docs/ingest.md.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::header::HeaderFields;

/// Which profile and options the summary follows.
pub const PROFILE: &str = "DICOM PS3.15 Annex E Basic Application Level Confidentiality \
Profile; dates reduced to the study year (MediMint policy, docs/ingest.md)";

/// De-identified facts about a study.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudySummary {
    /// The profile and options applied.
    pub profile: String,
    /// Distinct modalities, e.g. `CT`.
    pub modalities: Vec<String>,
    /// Distinct body parts examined.
    pub body_parts: Vec<String>,
    /// Number of series.
    pub series_count: usize,
    /// Number of instances (files).
    pub instance_count: usize,
    /// Frames over all instances.
    pub frame_count: u64,
    /// Bytes over all original files.
    pub total_bytes: u64,
    /// Year of the study date, if every file agrees on one.
    pub study_year: Option<u16>,
    /// Distinct transfer syntax UIDs (not identifying: standard constants).
    pub transfer_syntaxes: Vec<String>,
    /// Distinct SOP Class UIDs (standard constants).
    pub sop_classes: Vec<String>,
    /// Per series, numbered 1.. in order of their first file's path (UIDs are replaced).
    pub series: Vec<SeriesSummary>,
}

/// One series, without its UID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesSummary {
    /// 1-based ordinal.
    pub number: usize,
    /// Modality.
    pub modality: Option<String>,
    /// Body part examined.
    pub body_part: Option<String>,
    /// Instances.
    pub instances: usize,
    /// Frames.
    pub frames: u64,
    /// Bytes.
    pub bytes: u64,
}

/// A code string kept only if it looks like one (CS: upper case, digits, space, `_`, at most
/// 16 characters); free text that a bad export put there is dropped.
fn code_string(s: &Option<String>) -> Option<String> {
    let s = s.as_deref()?.trim();
    let ok = !s.is_empty()
        && s.len() <= 16
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ' || b == b'_');
    ok.then(|| s.to_owned())
}

fn uid(s: &Option<String>) -> Option<String> {
    let s = s.as_deref()?.trim();
    let ok = !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    ok.then(|| s.to_owned())
}

/// Summarises files given as (path, size, header fields), in path order.
pub fn summarise(files: &[(&str, u64, &HeaderFields)]) -> StudySummary {
    let mut sorted: Vec<_> = files.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut modalities = BTreeSet::new();
    let mut body_parts = BTreeSet::new();
    let mut syntaxes = BTreeSet::new();
    let mut classes = BTreeSet::new();
    let mut years = BTreeSet::new();
    let mut order: Vec<String> = Vec::new();
    let mut series: BTreeMap<String, SeriesSummary> = BTreeMap::new();
    let (mut frames, mut bytes) = (0u64, 0u64);
    for (_, size, h) in &sorted {
        let modality = code_string(&h.modality);
        let body = code_string(&h.body_part);
        modalities.extend(modality.clone());
        body_parts.extend(body.clone());
        syntaxes.extend(uid(&Some(h.transfer_syntax.clone())));
        classes.extend(uid(&h.sop_class_uid));
        if let Some(y) = h
            .study_date
            .as_deref()
            .and_then(|d| d.trim().get(..4))
            .and_then(|y| y.parse::<u16>().ok())
        {
            years.insert(y);
        }
        frames += u64::from(h.frames);
        bytes += size;
        let key = h.series_instance_uid.clone().unwrap_or_default();
        if !series.contains_key(&key) {
            order.push(key.clone());
        }
        let next = order.len();
        let s = series.entry(key).or_insert(SeriesSummary {
            number: next,
            modality,
            body_part: body,
            instances: 0,
            frames: 0,
            bytes: 0,
        });
        s.instances += 1;
        s.frames += u64::from(h.frames);
        s.bytes += size;
    }
    let mut series: Vec<SeriesSummary> = series.into_values().collect();
    series.sort_by_key(|s| s.number);
    StudySummary {
        profile: PROFILE.into(),
        modalities: modalities.into_iter().collect(),
        body_parts: body_parts.into_iter().collect(),
        series_count: series.len(),
        instance_count: sorted.len(),
        frame_count: frames,
        total_bytes: bytes,
        study_year: if years.len() == 1 {
            years.into_iter().next()
        } else {
            None
        },
        transfer_syntaxes: syntaxes.into_iter().collect(),
        sop_classes: classes.into_iter().collect(),
        series,
    }
}
