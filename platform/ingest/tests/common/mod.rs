//! Test versions of the sealer and the chain (the real ones come from medimint-sdk and the
//! relayer), a DICOM generator over pydicom's real files, and helpers.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use dicom_core::VR;
use dicom_dictionary_std::tags;
use medimint_ingest::{Chain, IngestError, IssuerStatus, Proposal, Sealer, StudySeal};
use medimint_storage::{ObjectReader, ObjectStore};
use serde_json::json;
use tokio::io::{AsyncRead, ReadBuf};

pub const ISSUER: &str = "GCEZWKCA5VLDNRLN3RPRJMRZOX3Z6G5CHCGSNFHEYVXM3XOJMDS674JZ";
pub const SUSPENDED: &str = "GBSUSPENDEDISSUERAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
pub const STUDY_UID: &str = "1.2.826.0.1.3680043.8.498.1";

/// Faults to inject, by step name, each failing that many times.
#[derive(Default)]
pub struct Faults(Mutex<HashMap<&'static str, u32>>);

impl Faults {
    pub fn arm(&self, step: &'static str, times: u32) {
        self.0.lock().unwrap().insert(step, times);
    }

    fn hit(&self, step: &'static str) -> Result<(), IngestError> {
        let mut m = self.0.lock().unwrap();
        match m.get_mut(step) {
            Some(n) if *n > 0 => {
                *n -= 1;
                Err(IngestError::Transient {
                    step,
                    message: "injected fault".into(),
                })
            }
            _ => Ok(()),
        }
    }
}

/// XOR with a per-study key byte: reversible, keyed, and visibly not plaintext.
pub struct TestSealer {
    pub studies: AtomicU32,
    next_key: AtomicU8,
    pub faults: Arc<Faults>,
}

impl TestSealer {
    pub fn new(faults: Arc<Faults>) -> Self {
        Self {
            studies: AtomicU32::new(0),
            next_key: AtomicU8::new(0x41),
            faults,
        }
    }
}

pub const SEAL_MAGIC: &[u8] = b"TESTSEAL";

struct XorReader {
    inner: ObjectReader,
    key: u8,
    header_left: usize,
}

impl AsyncRead for XorReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.header_left > 0 {
            let mut header = SEAL_MAGIC.to_vec();
            header.push(self.key);
            let start = header.len() - self.header_left;
            let n = self.header_left.min(buf.remaining());
            buf.put_slice(&header[start..start + n]);
            self.header_left -= n;
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let key = self.key;
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            for b in &mut buf.filled_mut()[before..] {
                *b ^= key;
            }
        }
        r
    }
}

struct TestStudy {
    key: u8,
    faults: Arc<Faults>,
}

impl Sealer for TestSealer {
    fn new_study(&self) -> Result<Box<dyn StudySeal>, IngestError> {
        self.faults.hit("seal")?;
        self.studies.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(TestStudy {
            key: self.next_key.fetch_add(1, Ordering::SeqCst),
            faults: self.faults.clone(),
        }))
    }
}

impl StudySeal for TestStudy {
    fn encrypt(&self, plaintext: ObjectReader) -> ObjectReader {
        Box::new(XorReader {
            inner: plaintext,
            key: self.key,
            header_left: SEAL_MAGIC.len() + 1,
        })
    }

    fn encrypt_metadata(&self, plaintext: ObjectReader) -> ObjectReader {
        match self.faults.hit("metadata") {
            Ok(()) => self.encrypt(plaintext),
            Err(e) => Box::new(FailingReader(e.to_string())),
        }
    }

    fn wrap_key(&self, address: &str) -> Result<Vec<u8>, IngestError> {
        self.faults.hit("wrap")?;
        let mut out = vec![self.key];
        out.extend_from_slice(address.as_bytes());
        Ok(out)
    }
}

/// A reader that fails at once.
struct FailingReader(String);

impl AsyncRead for FailingReader {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(Err(std::io::Error::other(self.0.clone())))
    }
}

/// Decrypts what [`TestSealer`] produced.
pub fn unseal(ct: &[u8]) -> Vec<u8> {
    assert_eq!(&ct[..SEAL_MAGIC.len()], SEAL_MAGIC, "not sealed");
    let key = ct[SEAL_MAGIC.len()];
    ct[SEAL_MAGIC.len() + 1..].iter().map(|b| b ^ key).collect()
}

/// The chain as the study-token contract behaves: a root is minted once.
#[derive(Default)]
pub struct TestChain {
    pub tokens: Mutex<HashMap<String, (String, Proposal)>>,
    pub accounts: Mutex<Vec<u32>>,
    pub proposals: AtomicU32,
    pub faults: Arc<Faults>,
}

impl TestChain {
    pub fn new(faults: Arc<Faults>) -> Self {
        Self {
            faults,
            ..Default::default()
        }
    }
}

pub fn patient_address(index: u32) -> String {
    format!("GPATIENT{index:048}")
}

#[async_trait]
impl Chain for TestChain {
    async fn issuer_status(&self, issuer: &str) -> Result<IssuerStatus, IngestError> {
        self.faults.hit("issuer")?;
        Ok(match issuer {
            ISSUER => IssuerStatus::Trusted,
            SUSPENDED => IssuerStatus::Suspended,
            _ => IssuerStatus::Unknown,
        })
    }

    async fn ensure_patient_account(&self, hd_index: u32) -> Result<String, IngestError> {
        self.faults.hit("account")?;
        self.accounts.lock().unwrap().push(hd_index);
        Ok(patient_address(hd_index))
    }

    fn commitment(&self, root: &str) -> Result<medimint_ingest::Commitment, IngestError> {
        let root =
            medimint_ingest::commitment::parse_hex32("checksum root", root).map_err(|message| {
                IngestError::Transient {
                    step: "reading the checksum root",
                    message,
                }
            })?;
        Ok(medimint_ingest::commitment::commitment(&[9; 32], &root))
    }

    async fn token_by_root(&self, root: &str) -> Result<Option<String>, IngestError> {
        self.faults.hit("lookup")?;
        Ok(self.tokens.lock().unwrap().get(root).map(|t| t.0.clone()))
    }

    async fn propose_release(&self, p: &Proposal) -> Result<String, IngestError> {
        self.faults.hit("propose")?;
        let mut tokens = self.tokens.lock().unwrap();
        if tokens.contains_key(&p.checksum_root) {
            return Err(IngestError::Transient {
                step: "proposing",
                message: "checksum root already minted".into(),
            });
        }
        let id = format!("{}", tokens.len() + 1);
        tokens.insert(p.checksum_root.clone(), (id.clone(), p.clone()));
        // A fault after the transaction lands: the caller never hears the token id.
        self.faults.hit("propose-after")?;
        self.proposals.fetch_add(1, Ordering::SeqCst);
        Ok(id)
    }
}

/// The patient every generated file belongs to.
pub struct Person {
    pub name: &'static str,
    pub birth_date: &'static str,
    pub id: &'static str,
}

pub const JANE: Person = Person {
    name: "Doe^Jane^Q",
    birth_date: "19800131",
    id: "MRN-001",
};

/// A copy of a real DICOM file with the patient, study, series and instance rewritten.
pub fn instance_from(
    template: &Path,
    who: &Person,
    study_uid: &str,
    series_uid: &str,
    sop_uid: &str,
) -> Vec<u8> {
    let mut obj = dicom_object::open_file(template).expect("template");
    obj.put_str(tags::PATIENT_NAME, VR::PN, who.name);
    obj.put_str(tags::PATIENT_BIRTH_DATE, VR::DA, who.birth_date);
    obj.put_str(tags::PATIENT_ID, VR::LO, who.id);
    obj.put_str(tags::STUDY_INSTANCE_UID, VR::UI, study_uid);
    obj.put_str(tags::SERIES_INSTANCE_UID, VR::UI, series_uid);
    obj.put_str(tags::SOP_INSTANCE_UID, VR::UI, sop_uid);
    obj.put_str(tags::STUDY_DATE, VR::DA, "20240115");
    obj.update_meta(|m| m.media_storage_sop_instance_uid = sop_uid.to_owned());
    let mut out = Vec::new();
    obj.write_all(&mut out).expect("write");
    out
}

/// A generated study: `series` series of `per_series` instances from `template`.
pub fn generated_study(template: &Path, series: u32, per_series: u32) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for s in 1..=series {
        for i in 1..=per_series {
            let bytes = instance_from(
                template,
                &JANE,
                STUDY_UID,
                &format!("{STUDY_UID}.{s}"),
                &format!("{STUDY_UID}.{s}.{i}"),
            );
            files.push((format!("S{s:02}/IM{i:04}.dcm"), bytes));
        }
    }
    files
}

pub fn manifest_for(files: &[(String, Vec<u8>)], who: &Person) -> serde_json::Value {
    let (family, rest) = who.name.split_once('^').unwrap();
    let mut parts = rest.split('^');
    json!({
        "version": 1,
        "patient": {
            "email": "jane.doe@example.org",
            "family_name": family.to_uppercase(),
            "given_names": format!("  {}", parts.next().unwrap_or("")),
            "middle_names": parts.next(),
            "birth_date": format!("{}-{}-{}", &who.birth_date[..4], &who.birth_date[4..6], &who.birth_date[6..]),
            "patient_id": who.id,
        },
        "files": files.iter().map(|(p, b)| json!({"path": p, "size": b.len()})).collect::<Vec<_>>(),
    })
}

/// Uploads files, then the manifest last, as a PACS export rule would.
pub async fn upload(
    store: &dyn ObjectStore,
    issuer: &str,
    release_id: &str,
    files: &[(String, Vec<u8>)],
    manifest: &serde_json::Value,
) {
    for (path, bytes) in files {
        store
            .put_bytes(
                &format!("inbox/{issuer}/{release_id}/{path}"),
                Bytes::from(bytes.clone()),
            )
            .await
            .unwrap();
    }
    store
        .put_bytes(
            &format!("inbox/{issuer}/{release_id}/release.json"),
            Bytes::from(serde_json::to_vec(manifest).unwrap()),
        )
        .await
        .unwrap();
}

/// An Explicit VR Little Endian Part 10 file rewritten as Deflated Explicit VR Little Endian
/// (PS3.5 A.5): the same meta group but for the transfer syntax, the data set deflated (raw
/// DEFLATE, no zlib header).
pub fn deflated(explicit_le: &[u8]) -> Vec<u8> {
    use std::io::Write;
    assert_eq!(&explicit_le[128..132], b"DICM");
    let mut pos = 132;
    let mut meta = Vec::new();
    while explicit_le[pos..pos + 2] == [0x02, 0x00] {
        let elem = u16::from_le_bytes([explicit_le[pos + 2], explicit_le[pos + 3]]);
        let vr = &explicit_le[pos + 4..pos + 6];
        let (hdr, len) = if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT" | b"UC" | b"UR") {
            let l = &explicit_le[pos + 8..pos + 12];
            (12, u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize)
        } else {
            let l = &explicit_le[pos + 6..pos + 8];
            (8, usize::from(u16::from_le_bytes([l[0], l[1]])))
        };
        match elem {
            0x0000 => {}
            0x0010 => {
                let ts = b"1.2.840.10008.1.2.1.99";
                meta.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
                meta.extend_from_slice(&(ts.len() as u16).to_le_bytes());
                meta.extend_from_slice(ts);
            }
            _ => meta.extend_from_slice(&explicit_le[pos..pos + hdr + len]),
        }
        pos += hdr + len;
    }
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&explicit_le[pos..]).unwrap();
    part10(&meta, &z.finish().unwrap())
}

/// A Part 10 file: preamble, `DICM`, a meta group of `meta` elements (the group length is
/// added) and `data`.
pub fn part10(meta: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    out.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
    out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    out.extend_from_slice(meta);
    out.extend_from_slice(data);
    out
}

/// A meta group (without its group length) naming transfer syntax `ts`.
pub fn meta_with_ts(ts: &str) -> Vec<u8> {
    let mut v = ts.as_bytes().to_vec();
    if v.len() % 2 == 1 {
        v.push(0);
    }
    let mut meta = vec![0x02, 0x00, 0x10, 0x00, b'U', b'I'];
    meta.extend_from_slice(&(v.len() as u16).to_le_bytes());
    meta.extend_from_slice(&v);
    meta
}

/// A data set of `depth` sequences nested in one another, each of undefined length with one
/// item of undefined length (Explicit VR Little Endian), closed properly.
pub fn nested_sequences(depth: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(depth * 32);
    for _ in 0..depth {
        data.extend_from_slice(&[
            0x40, 0x00, 0x30, 0xA7, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        data.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    for _ in 0..depth {
        data.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        data.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    }
    data
}

/// A minimal PDF document (its bytes are carried, not rendered).
pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

/// An Encapsulated PDF instance (PS3.3 A.45.1) of `who`, written by dicom-object.
pub fn encapsulated_pdf(who: &Person, study_uid: &str, series_uid: &str, sop_uid: &str) -> Vec<u8> {
    use dicom_core::{DataElement, PrimitiveValue};
    use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
    const ENCAPSULATED_PDF: &str = "1.2.840.10008.5.1.4.1.1.104.1";
    let mut obj = InMemDicomObject::new_empty();
    obj.put_str(tags::SOP_CLASS_UID, VR::UI, ENCAPSULATED_PDF);
    obj.put_str(tags::SOP_INSTANCE_UID, VR::UI, sop_uid);
    obj.put_str(tags::STUDY_DATE, VR::DA, "20240115");
    obj.put_str(tags::MODALITY, VR::CS, "DOC");
    obj.put_str(tags::PATIENT_NAME, VR::PN, who.name);
    obj.put_str(tags::PATIENT_ID, VR::LO, who.id);
    obj.put_str(tags::PATIENT_BIRTH_DATE, VR::DA, who.birth_date);
    obj.put_str(tags::STUDY_INSTANCE_UID, VR::UI, study_uid);
    obj.put_str(tags::SERIES_INSTANCE_UID, VR::UI, series_uid);
    obj.put_str(tags::DOCUMENT_TITLE, VR::ST, "Report");
    let mut pdf = PDF.to_vec();
    if pdf.len() % 2 == 1 {
        pdf.push(0);
    }
    obj.put(DataElement::new(
        tags::ENCAPSULATED_DOCUMENT,
        VR::OB,
        PrimitiveValue::from(pdf),
    ));
    obj.put_str(
        tags::MIME_TYPE_OF_ENCAPSULATED_DOCUMENT,
        VR::LO,
        "application/pdf",
    );
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax("1.2.840.10008.1.2.1")
                .media_storage_sop_class_uid(ENCAPSULATED_PDF)
                .media_storage_sop_instance_uid(sop_uid),
        )
        .expect("meta");
    let mut out = Vec::new();
    file.write_all(&mut out).expect("write");
    out
}

/// A copy of `template` (rewritten for `who` like [`instance_from`]) that also carries
/// private sequences of undefined length nested `depth` levels deep, each level with its
/// private creator and a private text element.
pub fn with_nested_private_sequences(
    template: &Path,
    who: &Person,
    study_uid: &str,
    series_uid: &str,
    sop_uid: &str,
    depth: usize,
) -> Vec<u8> {
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, Length, Tag};
    use dicom_object::InMemDicomObject;
    let bytes = instance_from(template, who, study_uid, series_uid, sop_uid);
    let mut obj = dicom_object::from_reader(&bytes[128..]).expect("instance");
    let level = |n: usize| {
        let mut item = InMemDicomObject::new_empty();
        item.put_str(Tag(0x0029, 0x0010), VR::LO, "MEDIMINT TEST");
        item.put_str(Tag(0x0029, 0x1001), VR::LO, format!("level {n}"));
        item
    };
    let mut inner = level(depth);
    for n in (0..depth).rev() {
        let mut outer = level(n);
        outer.put(DataElement::new(
            Tag(0x0029, 0x1010),
            VR::SQ,
            DataSetSequence::new(vec![inner], Length::UNDEFINED),
        ));
        inner = outer;
    }
    for e in inner.into_iter() {
        obj.put(e);
    }
    let mut out = Vec::new();
    obj.write_all(&mut out).expect("write");
    out
}

/// The metadata object `cid` (sealed by [`TestSealer`]) as one JSON value: its head, with
/// the file lines as `files`, after checking that there are as many as the head says.
pub async fn metadata_in(store: Arc<dyn ObjectStore>, cid: &str) -> serde_json::Value {
    use tokio::io::AsyncReadExt;
    let mut ct = Vec::new();
    medimint_ingest::metadata::ciphertext(store, cid)
        .read_to_end(&mut ct)
        .await
        .unwrap();
    let plain = unseal(&ct);
    let mut lines = plain.split(|b| *b == b'\n').filter(|l| !l.is_empty());
    let mut head: serde_json::Value = serde_json::from_slice(lines.next().unwrap()).unwrap();
    assert_eq!(head["version"], 2);
    let files: Vec<serde_json::Value> = lines.map(|l| serde_json::from_slice(l).unwrap()).collect();
    assert_eq!(head["file_count"].as_u64().unwrap() as usize, files.len());
    head["files"] = serde_json::Value::Array(files);
    head
}
