//! A synthetic study of a chosen size, written straight to disk: multi-frame 16-bit
//! CT-like (512 x 512) and MR-like (256 x 256) instances of a few MiB to ~20 MiB each,
//! explicit VR little endian Part 10, one study, one fictitious patient; or (`file_kib`) the
//! shape of a typical CT export: many single-frame files of one size, e.g. 2,000 files of
//! 512 KiB (512 x 512 x 16 bit). Pixel data is pseudo-random noise written in 1 MiB pieces,
//! so the study is never held in memory.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Multi-frame Grayscale Word Secondary Capture Image Storage (16-bit, multi-frame, few
/// mandatory attributes).
const SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.7.3";
/// Explicit VR Little Endian.
const TRANSFER_SYNTAX: &str = "1.2.840.10008.1.2.1";
/// An implementation class UID under the UUID-derived root 2.25.
const IMPLEMENTATION_UID: &str = "2.25.302531413219384412519306427135911451";
/// The study's UID (UUID-derived root 2.25).
pub const STUDY_UID: &str = "2.25.215703960424116786013415128434513412";

/// The fictitious patient, in the manifest's and DICOM's forms.
pub const PATIENT_FAMILY: &str = "Bench";
pub const PATIENT_GIVEN: &str = "Ingrid";
pub const PATIENT_EMAIL: &str = "ingrid.bench@example.org";
pub const PATIENT_ID: &str = "MRN-BENCH-0001";
pub const BIRTH_DATE: &str = "19750412";

/// One series of the generated study.
struct SeriesPlan {
    modality: &'static str,
    body_part: &'static str,
    side: u16,
    /// Frames per instance cycle through these (file sizes vary).
    frames: &'static [u32],
}

/// CT: 512 x 512 x 2 bytes = 512 KiB per frame, 8..40 frames = 4..20 MiB per file.
/// MR: 256 x 256 x 2 bytes = 128 KiB per frame, 24..64 frames = 3..8 MiB per file.
const PLAN: [SeriesPlan; 3] = [
    SeriesPlan {
        modality: "CT",
        body_part: "CHEST",
        side: 512,
        frames: &[24, 40, 8, 32, 16],
    },
    SeriesPlan {
        modality: "MR",
        body_part: "HEAD",
        side: 256,
        frames: &[48, 24, 64, 32],
    },
    SeriesPlan {
        modality: "CT",
        body_part: "ABDOMEN",
        side: 512,
        frames: &[12, 36, 20],
    },
];

/// What was generated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Study {
    /// The folder holding the files and `release.json`.
    pub dir: PathBuf,
    /// Relative paths and sizes, in manifest order.
    pub files: Vec<(String, u64)>,
    /// Sum of the file sizes.
    pub bytes: u64,
    /// Set when every file is one frame of this many KiB of pixel data (`--file-kib`).
    #[serde(default)]
    pub file_kib: Option<u64>,
    /// Set when the study is one multi-frame file (`--single-file`).
    #[serde(default)]
    pub single_file: bool,
}

impl Study {
    /// The manifest (`release.json`) for this study.
    pub fn manifest(&self) -> serde_json::Value {
        serde_json::json!({
            "version": 1,
            "patient": {
                "email": PATIENT_EMAIL,
                "family_name": PATIENT_FAMILY,
                "given_names": PATIENT_GIVEN,
                "birth_date": BIRTH_DATE,
                "patient_id": PATIENT_ID,
            },
            "study_instance_uid": STUDY_UID,
            "files": self.files.iter().map(|(p, s)| serde_json::json!({"path": p, "size": s})).collect::<Vec<_>>(),
        })
    }

    /// Reads back a study written by [`generate`] (its `study.json`).
    pub fn load(dir: &Path) -> std::io::Result<Study> {
        let bytes = std::fs::read(dir.join("study.json"))?;
        let mut s: Study = serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
        s.dir = dir.to_owned();
        Ok(s)
    }
}

/// Writes a study of about `target_bytes` (at least one file; the last file is cut to fit
/// when the target is small) into `dir`, plus `release.json` and `study.json` (the list).
/// With `file_kib`, every file is one frame of `file_kib` KiB of pixels (512 columns,
/// `file_kib` rows), `target_bytes / file_kib KiB` files (rounded up), plus their headers.
/// `progress` is called after each file with (bytes so far, target).
pub fn generate(
    dir: &Path,
    target_bytes: u64,
    file_kib: Option<u64>,
    mut progress: impl FnMut(u64, u64),
) -> std::io::Result<Study> {
    std::fs::create_dir_all(dir)?;
    let mut files = Vec::new();
    let mut total = 0u64;
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut counters = [0u32; PLAN.len()];
    let mut turn = 0usize;
    if let Some(kib) = file_kib {
        let rows = u16::try_from(kib).map_err(|_| std::io::Error::other("file_kib over 65535"))?;
        let count = target_bytes.div_ceil(kib * 1024).max(1);
        for i in 0..count {
            // Three series, as a CT export with a scout, the chest and the abdomen.
            let s = [0, 0, 2, 0, 2, 1][i as usize % 6];
            counters[s] += 1;
            let number = counters[s];
            let rel = format!("S{:02}/IM{:05}.dcm", s + 1, number);
            let path = dir.join(&rel);
            std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
            let plan = &PLAN[s];
            let size = write_instance(&path, plan, (rows, 512), s as u32 + 1, number, 1, &mut rng)?;
            total += size;
            files.push((rel, size));
            progress(total, target_bytes);
        }
        return finish(dir, files, total, file_kib);
    }
    while total < target_bytes {
        // Interleave the series so every study size has all three (4 CT : 2 MR : 2 CT).
        let s = [0, 0, 1, 2, 0, 0, 1, 2][turn % 8];
        turn += 1;
        let plan = &PLAN[s];
        counters[s] += 1;
        let number = counters[s];
        let frame_bytes = u64::from(plan.side) * u64::from(plan.side) * 2;
        let mut frames = plan.frames[(number as usize - 1) % plan.frames.len()];
        // A small study still gets several files: none over an eighth of the target.
        let cap = (target_bytes / 8).div_ceil(frame_bytes).max(1);
        frames = frames.min(u32::try_from(cap).unwrap_or(u32::MAX));
        let remaining = target_bytes - total;
        if u64::from(frames) * frame_bytes > remaining {
            frames = u32::try_from(remaining.div_ceil(frame_bytes))
                .unwrap_or(1)
                .max(1);
        }
        let rel = format!("S{:02}/IM{:04}.dcm", s + 1, number);
        let path = dir.join(&rel);
        std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
        let size = write_instance(
            &path,
            plan,
            (plan.side, plan.side),
            s as u32 + 1,
            number,
            frames,
            &mut rng,
        )?;
        total += size;
        files.push((rel, size));
        progress(total, target_bytes);
    }
    finish(dir, files, total, None)
}

/// Frames of one multi-frame file at most: 8,191 frames of 512 x 512 x 16 bits are the
/// largest native pixel data a 32-bit element length holds (4 GiB less 512 KiB).
const MAX_FRAMES_512: u64 = 8_191;

/// Writes one multi-frame CT-like file (512 x 512 x 16 bit frames) of about `target_bytes`
/// (at most [`MAX_FRAMES_512`] frames) into `dir`, with `release.json` and `study.json`.
pub fn generate_single(dir: &Path, target_bytes: u64) -> std::io::Result<Study> {
    std::fs::create_dir_all(dir)?;
    let frame = 512u64 * 512 * 2;
    let frames = target_bytes.div_ceil(frame).clamp(1, MAX_FRAMES_512);
    let rel = "S01/IM0001.dcm".to_owned();
    let path = dir.join(&rel);
    std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let size = write_instance(
        &path,
        &PLAN[0],
        (512, 512),
        1,
        1,
        u32::try_from(frames).expect("at most 8191"),
        &mut rng,
    )?;
    let mut study = finish(dir, vec![(rel, size)], size, None)?;
    study.single_file = true;
    std::fs::write(
        dir.join("study.json"),
        serde_json::to_vec(&study).map_err(std::io::Error::other)?,
    )?;
    Ok(study)
}

/// Writes `release.json` and `study.json` for the files written.
fn finish(
    dir: &Path,
    files: Vec<(String, u64)>,
    total: u64,
    file_kib: Option<u64>,
) -> std::io::Result<Study> {
    let study = Study {
        dir: dir.to_owned(),
        files,
        bytes: total,
        file_kib,
        single_file: false,
    };
    std::fs::write(
        dir.join("release.json"),
        serde_json::to_vec_pretty(&study.manifest()).map_err(std::io::Error::other)?,
    )?;
    std::fs::write(
        dir.join("study.json"),
        serde_json::to_vec(&study).map_err(std::io::Error::other)?,
    )?;
    Ok(study)
}

/// Appends one explicit-VR-little-endian element; pads the value to even length.
fn element(out: &mut Vec<u8>, group: u16, elem: u16, vr: &[u8; 2], value: &[u8]) {
    let pad = match vr {
        b"UI" | b"OB" => 0u8,
        _ => b' ',
    };
    let mut v = value.to_vec();
    if v.len() % 2 == 1 {
        v.push(pad);
    }
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&elem.to_le_bytes());
    out.extend_from_slice(vr);
    if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT") {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    } else {
        out.extend_from_slice(&(v.len() as u16).to_le_bytes());
    }
    out.extend_from_slice(&v);
}

fn us(out: &mut Vec<u8>, group: u16, elem: u16, value: u16) {
    element(out, group, elem, b"US", &value.to_le_bytes());
}

fn write_instance(
    path: &Path,
    plan: &SeriesPlan,
    (rows, columns): (u16, u16),
    series: u32,
    number: u32,
    frames: u32,
    rng: &mut u64,
) -> std::io::Result<u64> {
    let series_uid = format!("{STUDY_UID}.{series}");
    let sop_uid = format!("{series_uid}.{number}");

    let mut meta = Vec::new();
    element(&mut meta, 0x0002, 0x0001, b"OB", &[0, 1]);
    element(&mut meta, 0x0002, 0x0002, b"UI", SOP_CLASS.as_bytes());
    element(&mut meta, 0x0002, 0x0003, b"UI", sop_uid.as_bytes());
    element(&mut meta, 0x0002, 0x0010, b"UI", TRANSFER_SYNTAX.as_bytes());
    element(
        &mut meta,
        0x0002,
        0x0012,
        b"UI",
        IMPLEMENTATION_UID.as_bytes(),
    );

    let mut head = vec![0u8; 128];
    head.extend_from_slice(b"DICM");
    element(
        &mut head,
        0x0002,
        0x0000,
        b"UL",
        &(meta.len() as u32).to_le_bytes(),
    );
    head.extend_from_slice(&meta);

    let pn = format!(
        "{}^{}",
        PATIENT_FAMILY.to_uppercase(),
        PATIENT_GIVEN.to_uppercase()
    );
    let d = &mut head;
    element(d, 0x0008, 0x0016, b"UI", SOP_CLASS.as_bytes());
    element(d, 0x0008, 0x0018, b"UI", sop_uid.as_bytes());
    element(d, 0x0008, 0x0020, b"DA", b"20240115");
    element(d, 0x0008, 0x0030, b"TM", b"101500");
    element(d, 0x0008, 0x0050, b"SH", b"ACC-BENCH-1");
    element(d, 0x0008, 0x0060, b"CS", plan.modality.as_bytes());
    element(d, 0x0008, 0x0064, b"CS", b"WSD");
    element(d, 0x0008, 0x0080, b"LO", b"MEDIMINT BENCH HOSPITAL");
    element(d, 0x0008, 0x1030, b"LO", b"SYNTHETIC BENCHMARK STUDY");
    element(d, 0x0010, 0x0010, b"PN", pn.as_bytes());
    element(d, 0x0010, 0x0020, b"LO", PATIENT_ID.as_bytes());
    element(d, 0x0010, 0x0030, b"DA", BIRTH_DATE.as_bytes());
    element(d, 0x0010, 0x0040, b"CS", b"F");
    element(d, 0x0018, 0x0015, b"CS", plan.body_part.as_bytes());
    element(d, 0x0020, 0x000D, b"UI", STUDY_UID.as_bytes());
    element(d, 0x0020, 0x000E, b"UI", series_uid.as_bytes());
    element(d, 0x0020, 0x0010, b"SH", b"1");
    element(d, 0x0020, 0x0011, b"IS", series.to_string().as_bytes());
    element(d, 0x0020, 0x0013, b"IS", number.to_string().as_bytes());
    us(d, 0x0028, 0x0002, 1);
    element(d, 0x0028, 0x0004, b"CS", b"MONOCHROME2");
    element(d, 0x0028, 0x0008, b"IS", frames.to_string().as_bytes());
    us(d, 0x0028, 0x0010, rows);
    us(d, 0x0028, 0x0011, columns);
    us(d, 0x0028, 0x0100, 16);
    us(d, 0x0028, 0x0101, 12);
    us(d, 0x0028, 0x0102, 11);
    us(d, 0x0028, 0x0103, 0);
    element(d, 0x0028, 0x1050, b"DS", b"40");
    element(d, 0x0028, 0x1051, b"DS", b"400");
    let pixel_bytes = u64::from(frames) * u64::from(rows) * u64::from(columns) * 2;
    let pixel_len =
        u32::try_from(pixel_bytes).map_err(|_| std::io::Error::other("pixel data over 4 GiB"))?;
    d.extend_from_slice(&0x7FE0u16.to_le_bytes());
    d.extend_from_slice(&0x0010u16.to_le_bytes());
    d.extend_from_slice(b"OW\0\0");
    d.extend_from_slice(&pixel_len.to_le_bytes());

    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    out.write_all(&head)?;
    // 12-bit noise in 16-bit words, 1 MiB at a time (xorshift64*).
    let mut buf = vec![0u8; 1 << 20];
    let mut left = pixel_bytes;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        for word in buf[..n].chunks_exact_mut(8) {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            let v = rng.wrapping_mul(0x2545_F491_4F6C_DD1D) & 0x0FFF_0FFF_0FFF_0FFF;
            word.copy_from_slice(&v.to_le_bytes());
        }
        out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    out.flush()?;
    Ok(head.len() as u64 + pixel_bytes)
}
