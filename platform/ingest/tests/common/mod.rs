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
use sha2::{Digest, Sha256};
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

    fn seal_metadata(&self, plaintext: &[u8]) -> Result<(String, Vec<u8>), IngestError> {
        self.faults.hit("metadata")?;
        let mut out = SEAL_MAGIC.to_vec();
        out.push(self.key);
        out.extend(plaintext.iter().map(|b| b ^ self.key));
        let cid = format!("bafytest{}", hex::encode(&Sha256::digest(&out)[..16]));
        Ok((cid, out))
    }

    fn wrap_key(&self, address: &str) -> Result<Vec<u8>, IngestError> {
        let mut out = vec![self.key];
        out.extend_from_slice(address.as_bytes());
        Ok(out)
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
