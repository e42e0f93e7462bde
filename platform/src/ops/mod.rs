//! The platform's operations: one method per thing an admin, issuer, patient or viewer does,
//! one file per concern; this file holds the types they share and small helpers.

mod accounts;
mod consent;
mod deploy;
mod download;
mod emergency;
mod erase;
mod files;
mod history;
mod issuers;
mod links;
mod rekey;
mod release;
mod requests;
mod sharing;
mod viewing;
mod views;
mod wallet_auth;

pub use emergency::{
    parse_reason, EmergencyPage, EmergencyRecord, EMERGENCY_REASONS, MAX_NOTE_CHARS,
};
pub use erase::ErasureReport;
pub(crate) use files::OpenedStudies;
pub use files::{FileStream, OpenedStudy, ROLE_TTL};
pub use links::{
    NewShareLink, OpenedLink, ShareLinkSpec, ShareLinkView, LINK_EMAIL_DOMAIN, MAX_LINK_USES,
    MAX_PASSCODE_FAILURES,
};
pub use rekey::RekeyReport;
pub use requests::{
    check_request_id, NewRecordsRequest, OpenedRequest, RecordsRequestSpec, RecordsRequestView,
    RequestEvent, MAX_CODE_FAILURES, MAX_REQUEST_FILES,
};
pub use views::{Relation, StudyFile, StudyItem, StudyPage, StudyView, MAX_PAGE};
pub use wallet_auth::{
    PendingAuthorization, SignedAuthorization, WalletAction, WalletAuthError, WalletOutcome,
    WALLET_AUTH_LEDGERS,
};

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use medimint_chain::clients::{
    AccessKind, GrantRecord, IssuerProfile, IssuerRecord, IssuerRegistry, RejectReason, Role,
    StudyToken, TokenRecord, ISSUERS_PAGE,
};
use medimint_ingest::layout::{study_id, wrapped_key_key};
use medimint_ingest::retry::{process_with_retries, RetryPolicy};
use medimint_ingest::{
    verify, FileChecksum, Ingest, IngestConfig, Outcome, PresentedFile, ReleaseRef, Verification,
};
use medimint_sdk::crypto::StudyKey;
use medimint_sdk::keys::Keypair;
use medimint_storage::{normalize_email, Account, Custody, LocalDirStore};
use serde::Serialize;

use crate::deploy::{deploy_suite, Deployment};
use crate::study::{open_metadata, open_metadata_with_headers, share_key, Metadata};
use crate::trail::{read_trail, TrailEntry};
use crate::{chain, storage, Platform, PlatformError};
use medimint_ingest::commitment::{commit, commitment, commitment_key, parse_hex32};
use medimint_ingest::{RelayerChain, SdkSealer};

/// Ledgers of history asked of `getEvents` (a day of 5 s ledgers, the RPC's usual window).
const HISTORY_LEDGERS: u32 = 17_280;

/// An issuer to register.
#[derive(Debug, Clone)]
pub struct IssuerSpec {
    /// Contact email of the issuer's IT (the key of its account record).
    pub email: String,
    /// Its own G-address if it holds its key; `None` for a custodial key of the platform.
    pub address: Option<String>,
    /// Public profile (no PHI).
    pub profile: IssuerProfile,
}

/// The patient a release names.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PatientSpec {
    /// Email (the patient's account).
    pub email: String,
    /// Family name.
    pub family_name: String,
    /// Given names.
    pub given_names: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// Patient id / MRN as in the DICOM headers.
    pub patient_id: String,
}

/// A release from files on disk.
#[derive(Debug, Clone)]
pub struct ReleaseSpec {
    /// The issuer's address.
    pub issuer: String,
    /// The release id (folder name in the inbox).
    pub release_id: String,
    /// The patient.
    pub patient: PatientSpec,
    /// Optional expected StudyInstanceUID.
    pub study_instance_uid: Option<String>,
    /// Files or directories (walked recursively).
    pub paths: Vec<PathBuf>,
}

/// Who a share or revoke is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A person by email (a custodial account is made if they have none).
    Email(String),
    /// A Stellar G-address (an external wallet).
    Address(String),
}

impl Target {
    /// `G…` (56 characters) is an address, anything with `@` an email.
    ///
    /// # Errors
    /// Neither.
    pub fn parse(s: &str) -> Result<Self, PlatformError> {
        let s = s.trim();
        if s.starts_with('G') && s.len() == 56 {
            stellar_strkey::ed25519::PublicKey::from_string(s)
                .map_err(|_| PlatformError::Invalid(format!("{s} is not a valid G-address")))?;
            Ok(Self::Address(s.to_owned()))
        } else if s.contains('@') {
            Ok(Self::Email(normalize_email(s)))
        } else {
            Err(PlatformError::Invalid(format!(
                "{s:?} is neither an email nor a G-address"
            )))
        }
    }
}

/// Who may see a token.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessReport {
    /// Token id.
    pub token_id: u32,
    /// Pending, Active or Rejected.
    pub status: String,
    /// The owner (patient).
    pub owner: String,
    /// The issuer.
    pub issuer: String,
    /// Files the checksum root covers.
    pub file_count: u32,
    /// Grants (expired ones until revoked).
    pub grants: Vec<SharedWith>,
}

/// One grant.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharedWith {
    /// Grantee.
    pub grantee: String,
    /// `viewer` or `sharer`.
    pub role: String,
    /// Unix seconds, if it ends.
    pub expires_at: Option<u64>,
    /// Who granted it.
    pub granter: String,
}

impl From<GrantRecord> for SharedWith {
    fn from(g: GrantRecord) -> Self {
        Self {
            grantee: g.grantee,
            role: format!("{:?}", g.role).to_lowercase(),
            expires_at: g.expires_at,
            granter: g.granter,
        }
    }
}

/// What a download wrote.
#[derive(Debug, Clone, Serialize)]
pub struct DownloadReport {
    /// Files written.
    pub files: usize,
    /// Plaintext bytes written.
    pub bytes: u64,
    /// Where.
    pub out_dir: PathBuf,
    /// The checksum verification of what was written.
    pub verification: Verification,
}

/// A relayer request key for an action a user may repeat on purpose (a second download, a
/// grant after a revoke): unique per call, so the relayer's idempotency does not answer it
/// with an earlier result. Retries inside one call reuse the key.
fn fresh_key(prefix: &str) -> String {
    let nonce: [u8; 8] = rand::random();
    format!("{prefix}/{}", hex::encode(nonce))
}

/// The study id of a token: its objects are named after the commitment on chain. An erased
/// token has none (its commitment was blanked): [`PlatformError::Erased`].
fn study_of(record: &TokenRecord) -> Result<String, PlatformError> {
    not_erased(record)?;
    study_id(&hex::encode(record.commitment)).map_err(PlatformError::Invalid)
}

/// The chain's status of a token its owner erased (terminal).
pub(crate) const ERASED: &str = "Erased";

/// [`PlatformError::Erased`] for an erased token: its files and keys are gone for good.
pub(crate) fn not_erased(record: &TokenRecord) -> Result<(), PlatformError> {
    if record.status == ERASED {
        return Err(PlatformError::Erased(format!(
            "study {} was erased by its owner: its files and keys are deleted for good; its \
             non-PHI history is still at /v1/studies/{}/history",
            record.id, record.id
        )));
    }
    Ok(())
}

fn parse_token(id: &str) -> Result<u32, PlatformError> {
    id.trim().parse().map_err(|_| PlatformError::InvalidInput {
        field: "token",
        message: format!("token id {id:?} is not a number"),
    })
}

/// A relative path from a listed file name, refusing anything that leaves the directory.
fn safe_relative(path: &str) -> Result<PathBuf, PlatformError> {
    let p = Path::new(path);
    if p.components().all(|c| matches!(c, Component::Normal(_))) && !path.is_empty() {
        Ok(p.to_path_buf())
    } else {
        Err(PlatformError::Invalid(format!(
            "the study lists a file name {path:?} that is not a plain relative path"
        )))
    }
}

/// Every regular file under `paths` (directories walked, sorted), with the name it gets in
/// the release (relative to its directory argument, or its file name).
fn collect_files(paths: &[PathBuf]) -> Result<Vec<(String, PathBuf)>, PlatformError> {
    fn walk(
        root: &Path,
        dir: &Path,
        out: &mut Vec<(String, PathBuf)>,
    ) -> Result<(), PlatformError> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| PlatformError::Invalid(format!("cannot read {}: {e}", dir.display())))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, out)?;
            } else if p.is_file() {
                let rel = p.strip_prefix(root).unwrap_or(&p);
                let name = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((name, p.clone()));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, p, &mut out)?;
        } else if p.is_file() {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push((name, p.clone()));
        } else {
            return Err(PlatformError::Invalid(format!(
                "{} is not a file or directory",
                p.display()
            )));
        }
    }
    if out.is_empty() {
        return Err(PlatformError::Invalid("no files to release".into()));
    }
    Ok(out)
}

impl Platform {
    fn token_client(&self, d: &Deployment) -> StudyToken<'_> {
        StudyToken::new(&self.relayer, d.study_token.id.clone())
    }

    /// The token's stored record, for an operation on its study: an erased token is
    /// [`PlatformError::Erased`] (see [`Platform::token_record`] for any token).
    ///
    /// # Errors
    /// `TokenNotFound`; erased.
    pub async fn token(&self, token: &str) -> Result<TokenRecord, PlatformError> {
        let record = self.token_record(token).await?;
        not_erased(&record)?;
        Ok(record)
    }

    /// The token's stored record, whatever its status (an erased one included).
    ///
    /// # Errors
    /// `TokenNotFound`.
    pub async fn token_record(&self, token: &str) -> Result<TokenRecord, PlatformError> {
        let d = self.deployment()?;
        let id = parse_token(token)?;
        self.token_client(&d)
            .token(id)
            .await
            .map_err(chain(format!("reading token {id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_paths_are_checked() {
        let g = Keypair::generate().address();
        assert_eq!(Target::parse(&g).unwrap(), Target::Address(g.clone()));
        assert_eq!(
            Target::parse(" Dr.Who@Example.org ").unwrap(),
            Target::Email("dr.who@example.org".into())
        );
        let mut bad = g.clone();
        bad.replace_range(55.., "A");
        assert!(Target::parse(&bad).is_err() || bad == g);
        let err = Target::parse("bob").unwrap_err().to_string();
        assert!(err.contains("neither"), "{err}");
        assert!(safe_relative("S01/IM1.dcm").is_ok());
        for bad in ["../etc/passwd", "/abs", "", "a/../../b"] {
            assert!(safe_relative(bad).is_err(), "{bad}");
        }
        assert!(parse_token("x").unwrap_err().to_string().contains("\"x\""));
        assert_eq!(parse_token(" 7 ").unwrap(), 7);
    }

    #[test]
    fn files_are_collected_with_relative_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("S02")).unwrap();
        std::fs::write(dir.path().join("S02/b.dcm"), b"b").unwrap();
        std::fs::write(dir.path().join("a.dcm"), b"a").unwrap();
        let got = collect_files(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["S02/b.dcm", "a.dcm"]);
        let err = collect_files(&[dir.path().join("nope")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        assert!(collect_files(&[empty.path().to_path_buf()]).is_err());
    }
}
