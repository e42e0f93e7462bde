//! Share links: a patient shows a study to someone without an account (SMART Health Links
//! are the model; docs/share-links.md).
//!
//! - Each link has its own key, derived from the platform seed at a fresh HD index like a
//!   custodial account's (the link's account is `shlink-<id>@links.medimint.invalid`), so
//!   every route that serves a custodial viewer serves the link's session unchanged.
//! - Creating a link grants that address a Viewer role on chain until the link's expiry and
//!   wraps the study key for it ([`Platform::share`]); revoking it revokes that grant.
//! - The database keeps, per link, only hashes (of the link's secret and of its passcode,
//!   keyed with a key derived from the seed), counters and times: no PHI, no passcode.
//! - Opening checks, in order: the link's secret, revoked, expired, locked (after
//!   [`MAX_PASSCODE_FAILURES`] wrong passcodes), used up, then the passcode. A good opening
//!   counts one use (a conditional write, so two openings never both take the last use) and
//!   is recorded on chain as a view by the link's address.

use medimint_storage::{KvExpect, StorageError};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::*;

/// Wrong passcodes after which a link is locked for good.
pub const MAX_PASSCODE_FAILURES: u32 = 5;
/// Most openings a link may allow.
pub const MAX_LINK_USES: u32 = 100;
/// Longest a link may live (90 days).
pub const MAX_LINK_SECONDS: u64 = 90 * 24 * 3600;
/// Shortest passcode a patient may choose.
pub const MIN_PASSCODE: usize = 6;
/// Most links one study may have.
pub const MAX_LINKS_PER_STUDY: usize = 200;
/// The domain of the link accounts' synthetic emails (`.invalid`: never deliverable).
pub const LINK_EMAIL_DOMAIN: &str = "links.medimint.invalid";
const RECORD: &str = "share-link";
const INDEX: &str = "share-links";
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// What a patient asks for.
#[derive(Debug, Clone)]
pub struct ShareLinkSpec {
    /// Unix seconds when the link (and its grant) ends.
    pub expires_at: u64,
    /// How many openings it allows (1 to [`MAX_LINK_USES`]).
    pub max_uses: u32,
    /// The passcode the patient chose; a random one when absent.
    pub passcode: Option<String>,
}

/// A link as its patient sees it (no secret, no passcode).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareLinkView {
    /// The link's id.
    pub id: String,
    /// The token.
    pub token_id: u32,
    /// The address the platform holds for the link (the Viewer grant's grantee).
    pub grantee: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds when it ends.
    pub expires_at: u64,
    /// Openings it allows.
    pub max_uses: u32,
    /// Openings so far.
    pub uses: u32,
    /// `active`, `expired`, `used_up`, `locked` or `revoked`.
    pub status: String,
    /// When each opening happened (Unix seconds), oldest first.
    pub openings: Vec<u64>,
    /// When it was revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
}

/// A new link: the view, and the two secrets shown once (never stored in clear).
#[derive(Debug, Clone)]
pub struct NewShareLink {
    /// The link.
    pub link: ShareLinkView,
    /// The link's secret (64 hex digits): it travels in the link itself.
    pub secret: String,
    /// The passcode: given to the viewer separately.
    pub passcode: String,
}

/// A good opening: whom to start a viewing session for.
#[derive(Debug, Clone)]
pub struct OpenedLink {
    /// The link.
    pub id: String,
    /// The token it shows.
    pub token_id: u32,
    /// The link's address (the session's subject).
    pub address: String,
    /// Unix seconds when the link ends.
    pub expires_at: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LinkRecord {
    id: String,
    token_id: u32,
    owner: String,
    email: String,
    address: String,
    secret_hash: String,
    passcode_hash: String,
    created_at: u64,
    expires_at: u64,
    max_uses: u32,
    uses: u32,
    failures: u32,
    openings: Vec<u64>,
    revoked_at: Option<u64>,
}

impl LinkRecord {
    fn status(&self, now: u64) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.failures >= MAX_PASSCODE_FAILURES {
            "locked"
        } else if now >= self.expires_at {
            "expired"
        } else if self.uses >= self.max_uses {
            "used_up"
        } else {
            "active"
        }
    }

    fn view(&self, now: u64) -> ShareLinkView {
        ShareLinkView {
            id: self.id.clone(),
            token_id: self.token_id,
            grantee: self.address.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            max_uses: self.max_uses,
            uses: self.uses,
            status: self.status(now).to_owned(),
            openings: self.openings.clone(),
            revoked_at: self.revoked_at,
        }
    }
}

fn record_key(id: &str) -> String {
    format!("{RECORD}:{id}")
}

fn index_key(token: u32) -> String {
    format!("{INDEX}:{token}")
}

/// A random code of `n` characters from an alphabet without look-alikes (no 0/O, 1/I).
pub(crate) fn random_code(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Constant-time equality of two hex digests.
pub(crate) fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A link id: 32 hex digits.
fn check_id(id: &str) -> Result<(), PlatformError> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(PlatformError::InvalidInput {
            field: "id",
            message: "a link id is 32 hex digits".into(),
        })
    }
}

impl Platform {
    /// HMAC-style SHA-256 of `value` under a key derived from the seed for `domain`: how
    /// link secrets, passcodes and access codes are stored (a short passcode hashed without
    /// a secret key would fall to guessing if the database leaked).
    pub(crate) fn keyed_digest(&self, domain: &str, value: &str) -> String {
        let key = commitment_key(&self.seed);
        let mut inner = Sha256::new();
        inner.update(b"medimint keyed digest v1\0");
        inner.update(key.as_ref());
        inner.update(domain.as_bytes());
        inner.update([0]);
        inner.update(value.as_bytes());
        let inner = inner.finalize();
        let mut outer = Sha256::new();
        outer.update(key.as_ref());
        outer.update(inner);
        hex::encode(outer.finalize())
    }

    async fn link_record(&self, id: &str) -> Result<Option<(LinkRecord, u64)>, PlatformError> {
        let Some(r) = self
            .db
            .kv_get(&record_key(id))
            .await
            .map_err(storage("reading the share link"))?
        else {
            return Ok(None);
        };
        let record: LinkRecord = serde_json::from_str(&r.value).map_err(|e| {
            PlatformError::Invalid(format!("a stored share link does not parse: {e}"))
        })?;
        Ok(Some((record, r.version)))
    }

    async fn put_link(&self, record: &LinkRecord, expect: KvExpect) -> Result<(), StorageError> {
        let text =
            serde_json::to_string(record).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        self.db
            .kv_put(&record_key(&record.id), &text, expect, None)
            .await
            .map(|_| ())
    }

    /// The owner's live record of link `id` on `token`; `NotFound` for anyone else.
    async fn owned_link(
        &self,
        owner: &str,
        token: u32,
        id: &str,
    ) -> Result<(LinkRecord, u64), PlatformError> {
        check_id(id)?;
        match self.link_record(id).await? {
            Some((r, v)) if r.owner == owner && r.token_id == token => Ok((r, v)),
            _ => Err(PlatformError::NotFound(format!(
                "no share link {id} on study {token}"
            ))),
        }
    }

    /// `email` (the token's owner) creates a share link: a key for the link at a fresh HD
    /// index, a Viewer grant to it on chain until `spec.expires_at` with the study key
    /// wrapped for it, and the link's record. `now` is the caller's clock.
    ///
    /// # Errors
    /// Not the owner ([`PlatformError::NotFound`]: nobody learns the token exists); bad
    /// expiry, use limit or passcode ([`PlatformError::InvalidInput`]); chain refusals.
    pub async fn create_share_link(
        &self,
        email: &str,
        token: &str,
        spec: &ShareLinkSpec,
        now: u64,
    ) -> Result<NewShareLink, PlatformError> {
        let id_num = parse_token(token)?;
        if spec.expires_at <= now || spec.expires_at > now + MAX_LINK_SECONDS {
            return Err(PlatformError::InvalidInput {
                field: "expires_at",
                message: format!(
                    "give a time in the future, at most {} days ahead (Unix seconds)",
                    MAX_LINK_SECONDS / 86_400
                ),
            });
        }
        if spec.max_uses == 0 || spec.max_uses > MAX_LINK_USES {
            return Err(PlatformError::InvalidInput {
                field: "max_uses",
                message: format!("allow 1 to {MAX_LINK_USES} openings"),
            });
        }
        let passcode = match &spec.passcode {
            Some(p) => {
                let n = p.chars().count();
                if !(MIN_PASSCODE..=64).contains(&n) || p.trim() != p {
                    return Err(PlatformError::InvalidInput {
                        field: "passcode",
                        message: format!(
                            "a passcode has {MIN_PASSCODE} to 64 characters, without leading or \
                             trailing spaces"
                        ),
                    });
                }
                p.clone()
            }
            None => random_code(10),
        };
        let owner = self.keypair_of(email).await?.address();
        let record = match self.token(token).await {
            Ok(r) if r.owner == owner => r,
            Ok(_) => {
                return Err(PlatformError::NotFound(format!(
                    "no study {id_num} owned by this account"
                )))
            }
            Err(e) if e.kind() == crate::ErrorKind::NotFound => {
                return Err(PlatformError::NotFound(format!(
                    "no study {id_num} owned by this account"
                )))
            }
            Err(e) => return Err(e),
        };
        let ids = self.link_ids(record.id).await?;
        if ids.len() >= MAX_LINKS_PER_STUDY {
            return Err(PlatformError::Conflict(format!(
                "study {} has {MAX_LINKS_PER_STUDY} share links already; revoke old ones first",
                record.id
            )));
        }
        let id = hex::encode(rand::random::<[u8; 16]>());
        let secret = hex::encode(rand::random::<[u8; 32]>());
        let link_email = format!("shlink-{id}@{LINK_EMAIL_DOMAIN}");
        let account = self.ensure_custodial_account(&link_email).await?;
        self.share(
            email,
            token,
            &Target::Address(account.address.clone()),
            Role::Viewer,
            Some(spec.expires_at),
        )
        .await?;
        let link = LinkRecord {
            secret_hash: self.keyed_digest("share-link-secret", &secret),
            passcode_hash: self.keyed_digest(&format!("share-link-passcode/{id}"), &passcode),
            id: id.clone(),
            token_id: record.id,
            owner,
            email: link_email,
            address: account.address,
            created_at: now,
            expires_at: spec.expires_at,
            max_uses: spec.max_uses,
            uses: 0,
            failures: 0,
            openings: Vec::new(),
            revoked_at: None,
        };
        self.put_link(&link, KvExpect::Absent)
            .await
            .map_err(storage("recording the share link"))?;
        self.add_link_id(record.id, &id).await?;
        tracing::info!(token = record.id, link = %id, "share link created");
        Ok(NewShareLink {
            link: link.view(now),
            secret,
            passcode,
        })
    }

    async fn link_ids(&self, token: u32) -> Result<Vec<String>, PlatformError> {
        Ok(
            match self
                .db
                .kv_get(&index_key(token))
                .await
                .map_err(storage("reading the study's share links"))?
            {
                Some(r) => serde_json::from_str(&r.value).unwrap_or_default(),
                None => Vec::new(),
            },
        )
    }

    async fn add_link_id(&self, token: u32, id: &str) -> Result<(), PlatformError> {
        for _ in 0..8 {
            let current = self
                .db
                .kv_get(&index_key(token))
                .await
                .map_err(storage("reading the study's share links"))?;
            let (mut ids, expect): (Vec<String>, _) = match &current {
                Some(r) => (
                    serde_json::from_str(&r.value).unwrap_or_default(),
                    KvExpect::Version(r.version),
                ),
                None => (Vec::new(), KvExpect::Absent),
            };
            ids.push(id.to_owned());
            let text = serde_json::to_string(&ids).unwrap_or_default();
            match self.db.kv_put(&index_key(token), &text, expect, None).await {
                Ok(_) => return Ok(()),
                Err(StorageError::Conflict(_)) => continue,
                Err(e) => return Err(storage("listing the share link")(e)),
            }
        }
        Err(PlatformError::Conflict(
            "the study's share links changed concurrently; retry".into(),
        ))
    }

    /// The share links of `email`'s token, newest first (the owner only).
    ///
    /// # Errors
    /// Not the owner ([`PlatformError::NotFound`]).
    pub async fn share_links(
        &self,
        email: &str,
        token: &str,
        now: u64,
    ) -> Result<Vec<ShareLinkView>, PlatformError> {
        let id = parse_token(token)?;
        let owner = self.keypair_of(email).await?.address();
        match self.token(token).await {
            Ok(r) if r.owner == owner => {}
            Ok(_) => {
                return Err(PlatformError::NotFound(format!(
                    "no study {id} owned by this account"
                )))
            }
            Err(e) if e.kind() == crate::ErrorKind::NotFound => {
                return Err(PlatformError::NotFound(format!(
                    "no study {id} owned by this account"
                )))
            }
            Err(e) => return Err(e),
        }
        let mut out = Vec::new();
        for link in self.link_ids(id).await?.iter().rev() {
            if let Some((r, _)) = self.link_record(link).await? {
                out.push(r.view(now));
            }
        }
        Ok(out)
    }

    /// `email` revokes link `id`: the Viewer grant is revoked on chain and the wrapped key
    /// removed (an already expired grant is simply removed), then the link is marked
    /// revoked. Revoking again answers the same. Returns the link and its address (whose
    /// sessions the caller ends).
    ///
    /// # Errors
    /// Not the owner's link ([`PlatformError::NotFound`]); chain failures.
    pub async fn revoke_share_link(
        &self,
        email: &str,
        token: &str,
        id: &str,
        now: u64,
    ) -> Result<ShareLinkView, PlatformError> {
        let token_id = parse_token(token)?;
        let owner = self.keypair_of(email).await?.address();
        let (mut record, version) = self.owned_link(&owner, token_id, id).await?;
        if record.revoked_at.is_some() {
            return Ok(record.view(now));
        }
        match self
            .revoke(email, token, &Target::Address(record.address.clone()))
            .await
        {
            Ok(_) => {}
            Err(e) if matches!(e.contract_error(), Some((_, "GrantNotFound"))) => {}
            Err(e) => return Err(e),
        }
        record.revoked_at = Some(now);
        match self.put_link(&record, KvExpect::Version(version)).await {
            Ok(()) => {}
            // An opening counted meanwhile: mark the fresh record.
            Err(StorageError::Conflict(_)) => {
                let (mut fresh, v) = self.owned_link(&owner, token_id, id).await?;
                fresh.revoked_at = Some(now);
                self.put_link(&fresh, KvExpect::Version(v))
                    .await
                    .map_err(storage("marking the share link revoked"))?;
                record = fresh;
            }
            Err(e) => return Err(storage("marking the share link revoked")(e)),
        }
        tracing::info!(token = token_id, link = %id, "share link revoked");
        Ok(record.view(now))
    }

    /// Opens link `id` with its `secret` and `passcode` at `now`: one use counted and the
    /// opening recorded on chain as a view by the link's address.
    ///
    /// # Errors
    /// An unknown link or wrong secret ([`PlatformError::NotFound`]); revoked, expired,
    /// locked or used up ([`PlatformError::Forbidden`], saying which); a wrong passcode
    /// ([`PlatformError::InvalidInput`] on `passcode`, saying how many tries are left);
    /// the chain refusing the access (the grant was revoked or ended).
    pub async fn open_share_link(
        &self,
        id: &str,
        secret: &str,
        passcode: &str,
        now: u64,
    ) -> Result<OpenedLink, PlatformError> {
        let unknown = || {
            PlatformError::NotFound(
                "no such share link; check that the whole link was copied".into(),
            )
        };
        if check_id(id).is_err() || secret.len() != 64 || passcode.len() > 256 {
            return Err(unknown());
        }
        for _ in 0..8 {
            let Some((mut record, version)) = self.link_record(id).await? else {
                return Err(unknown());
            };
            if !same_digest(
                &self.keyed_digest("share-link-secret", secret),
                &record.secret_hash,
            ) {
                return Err(unknown());
            }
            match record.status(now) {
                "revoked" => {
                    return Err(PlatformError::Forbidden(
                        "this share link was revoked by the patient".into(),
                    ))
                }
                "locked" => {
                    return Err(PlatformError::Forbidden(format!(
                        "this share link is locked after {MAX_PASSCODE_FAILURES} wrong \
                         passcodes; ask the patient for a new link"
                    )))
                }
                "expired" => {
                    return Err(PlatformError::Forbidden(
                        "this share link has expired; ask the patient for a new link".into(),
                    ))
                }
                "used_up" => {
                    return Err(PlatformError::Forbidden(format!(
                        "this share link was opened its {} allowed times; ask the patient for \
                         a new link",
                        record.max_uses
                    )))
                }
                _ => {}
            }
            let good = same_digest(
                &self.keyed_digest(&format!("share-link-passcode/{id}"), passcode),
                &record.passcode_hash,
            );
            if good {
                record.uses += 1;
                record.failures = 0;
                record.openings.push(now);
            } else {
                record.failures += 1;
            }
            match self.put_link(&record, KvExpect::Version(version)).await {
                Ok(()) => {}
                Err(StorageError::Conflict(_)) => continue,
                Err(e) => return Err(storage("counting the opening")(e)),
            }
            if !good {
                let left = MAX_PASSCODE_FAILURES.saturating_sub(record.failures);
                tracing::warn!(link = %id, left, "wrong share-link passcode");
                return Err(PlatformError::InvalidInput {
                    field: "passcode",
                    message: if left == 0 {
                        format!(
                            "wrong passcode; the link is now locked after \
                             {MAX_PASSCODE_FAILURES} wrong tries"
                        )
                    } else {
                        format!("wrong passcode; {left} tries left before the link locks")
                    },
                });
            }
            self.record_access(&record.email, record.token_id, AccessKind::View)
                .await?;
            tracing::info!(token = record.token_id, link = %id, "share link opened");
            return Ok(OpenedLink {
                id: record.id,
                token_id: record.token_id,
                address: record.address,
                expires_at: record.expires_at,
            });
        }
        Err(PlatformError::Conflict(
            "the share link is being opened concurrently; retry".into(),
        ))
    }

    /// Marks every live share link of `token` revoked at `now` (its study is being erased,
    /// which ends the links' grants on chain); returns how many were marked.
    ///
    /// # Errors
    /// Storage failures.
    pub(crate) async fn end_share_links(
        &self,
        token: u32,
        now: u64,
    ) -> Result<usize, PlatformError> {
        let mut ended = 0;
        for id in self.link_ids(token).await? {
            // An opening may count meanwhile: retry on a version conflict.
            for _ in 0..5 {
                let Some((mut record, version)) = self.link_record(&id).await? else {
                    break;
                };
                if record.revoked_at.is_some() {
                    break;
                }
                record.revoked_at = Some(now);
                match self.put_link(&record, KvExpect::Version(version)).await {
                    Ok(()) => {
                        ended += 1;
                        break;
                    }
                    Err(StorageError::Conflict(_)) => continue,
                    Err(e) => return Err(storage("marking a share link revoked")(e)),
                }
            }
        }
        Ok(ended)
    }

    /// Whether the link account at `address` may still read now: its link is neither
    /// revoked nor expired. `None` when `address` is no link's.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn share_link_live(
        &self,
        address: &str,
        now: u64,
    ) -> Result<Option<bool>, PlatformError> {
        let Some(account) = self
            .db
            .account_by_address(address)
            .await
            .map_err(storage("reading the account"))?
        else {
            return Ok(None);
        };
        let Some(id) = account
            .email
            .strip_prefix("shlink-")
            .and_then(|r| r.strip_suffix(&format!("@{LINK_EMAIL_DOMAIN}")))
        else {
            return Ok(None);
        };
        Ok(Some(match self.link_record(id).await? {
            Some((r, _)) => r.revoked_at.is_none() && now < r.expires_at,
            None => false,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_digests() {
        let c = random_code(10);
        assert_eq!(c.len(), 10);
        assert!(c.bytes().all(|b| ALPHABET.contains(&b)), "{c}");
        assert!(same_digest("ab", "ab"));
        assert!(!same_digest("ab", "ac"));
        assert!(!same_digest("ab", "abc"));
        assert!(check_id(&"a".repeat(32)).is_ok());
        assert!(check_id("../x").is_err());
    }

    #[test]
    fn status_order() {
        let mut r = LinkRecord {
            id: "a".repeat(32),
            token_id: 1,
            owner: String::new(),
            email: String::new(),
            address: String::new(),
            secret_hash: String::new(),
            passcode_hash: String::new(),
            created_at: 0,
            expires_at: 100,
            max_uses: 2,
            uses: 0,
            failures: 0,
            openings: vec![],
            revoked_at: None,
        };
        assert_eq!(r.status(10), "active");
        r.uses = 2;
        assert_eq!(r.status(10), "used_up");
        assert_eq!(r.status(100), "expired");
        r.failures = MAX_PASSCODE_FAILURES;
        assert_eq!(r.status(100), "locked");
        r.revoked_at = Some(5);
        assert_eq!(r.status(10), "revoked");
    }
}
