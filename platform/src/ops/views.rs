//! What a signed-in user sees: their studies by relation, and one study as they may see it.
//! A token the caller neither owns, issued nor holds a live role on is reported as not found,
//! so nobody learns that it exists.

use medimint_chain::clients::{Access, TokenStatus};

use super::*;
use crate::study::open_metadata;

/// Most items a page of studies holds.
pub const MAX_PAGE: u32 = 50;

/// How a user stands to a study in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Relation {
    /// The user owns it (released to them and approved).
    Owned,
    /// Someone shared it with the user (a live or expired grant not yet revoked).
    Shared,
    /// Released to the user, awaiting their consent.
    Pending,
}

impl Relation {
    const ALL: [Relation; 3] = [Relation::Owned, Relation::Shared, Relation::Pending];

    fn tag(self) -> &'static str {
        match self {
            Relation::Owned => "owned",
            Relation::Shared => "shared",
            Relation::Pending => "pending",
        }
    }

    fn function(self) -> &'static str {
        match self {
            Relation::Owned => "tokens_of",
            Relation::Shared => "shared_with",
            Relation::Pending => "pending_of",
        }
    }

    /// Parses `owned`, `shared` or `pending`.
    ///
    /// # Errors
    /// [`PlatformError::InvalidInput`] naming `role`.
    pub fn parse(s: &str) -> Result<Self, PlatformError> {
        Relation::ALL
            .into_iter()
            .find(|r| r.tag() == s)
            .ok_or_else(|| PlatformError::InvalidInput {
                field: "role",
                message: format!("{s:?} is not one of owned, shared, pending"),
            })
    }
}

/// One study in a user's list.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StudyItem {
    /// Token id.
    pub token_id: u32,
    /// How the user stands to it.
    pub relation: Relation,
    /// Effective status: `pending`, `active`, `rejected` or `lapsed`.
    pub status: String,
    /// The issuer's address.
    pub issuer: String,
    /// The owner's (patient's) address.
    pub owner: String,
    /// Files the study holds.
    pub file_count: u32,
    /// Ledger of the release.
    pub minted_ledger: u32,
    /// The user's role now (`owner`, `sharer`, `viewer`), if any.
    pub my_role: Option<String>,
    /// Unix seconds when the user's access ends, if it does.
    pub my_access_until: Option<u64>,
}

/// A page of studies and where the next one starts.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StudyPage {
    /// The studies.
    pub items: Vec<StudyItem>,
    /// Pass back as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// One file of a study as its holder sees it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StudyFile {
    /// Path in the release.
    pub path: String,
    /// Size of the original in bytes.
    pub size: u64,
    /// Hex SHA-256 of the original.
    pub sha256: String,
}

/// One study as the caller may see it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StudyView {
    /// Token id.
    pub token_id: u32,
    /// Effective status: `pending`, `active`, `rejected` or `lapsed`.
    pub status: String,
    /// The issuer's address.
    pub issuer: String,
    /// The owner's address.
    pub owner: String,
    /// `ipfs://…` CID of the encrypted metadata object.
    pub metadata_cid: String,
    /// Files the study holds.
    pub file_count: u32,
    /// Ledger of the release.
    pub minted_ledger: u32,
    /// The caller's role now (`owner`, `issuer`, `sharer`, `viewer`), if any.
    pub my_role: Option<String>,
    /// Unix seconds when the caller's access ends, if it does.
    pub my_access_until: Option<u64>,
    /// Hex checksum root of the original files (from the encrypted metadata: only a holder of
    /// the study key sees it).
    pub checksum_root: Option<String>,
    /// The files (only for a holder of the study key).
    pub files: Option<Vec<StudyFile>>,
    /// The de-identified summary (only for a holder of the study key).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub summary: Option<serde_json::Value>,
}

fn status_name(s: TokenStatus) -> String {
    format!("{s:?}").to_lowercase()
}

fn role_name(a: &Access) -> String {
    format!("{:?}", a.role).to_lowercase()
}

/// `<relation>:<start>`: where a list continues.
fn parse_cursor(cursor: &str) -> Result<(Relation, u32), PlatformError> {
    let bad = || PlatformError::InvalidInput {
        field: "cursor",
        message: "not a cursor this API returned; start again without one".into(),
    };
    let (rel, start) = cursor.split_once(':').ok_or_else(bad)?;
    Ok((
        Relation::parse(rel).map_err(|_| bad())?,
        start.parse().map_err(|_| bad())?,
    ))
}

impl Platform {
    /// The studies of `address` with the given relation (every relation, owned first, when
    /// `None`), `limit` at a time from `cursor`.
    ///
    /// # Errors
    /// A bad cursor or limit; chain failures.
    pub async fn studies_of(
        &self,
        address: &str,
        relation: Option<Relation>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<StudyPage, PlatformError> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(PlatformError::InvalidInput {
                field: "limit",
                message: format!("{limit} is not from 1 to {MAX_PAGE}"),
            });
        }
        let d = self.deployment()?;
        let client = self.token_client(&d);
        let relations: Vec<Relation> = match relation {
            Some(r) => vec![r],
            None => Relation::ALL.to_vec(),
        };
        let (mut at, mut start) = match cursor {
            Some(c) => {
                let (rel, start) = parse_cursor(c)?;
                let at = relations.iter().position(|r| *r == rel).ok_or_else(|| {
                    PlatformError::InvalidInput {
                        field: "cursor",
                        message: "the cursor belongs to another role filter".into(),
                    }
                })?;
                (at, start)
            }
            None => (0, 0),
        };
        let mut items = Vec::new();
        while at < relations.len() {
            let rel = relations[at];
            let want = limit - u32::try_from(items.len()).unwrap_or(limit);
            let ids = client
                .page(rel.function(), address, start, want)
                .await
                .map_err(chain(format!("listing {} studies", rel.tag())))?;
            let got = u32::try_from(ids.len()).unwrap_or(u32::MAX);
            for id in ids {
                items.push(self.study_item(&d, id, rel, address).await?);
            }
            if got == want {
                // The page is full: continue here next time (an empty next page is fine).
                return Ok(StudyPage {
                    items,
                    next_cursor: Some(format!("{}:{}", rel.tag(), start + got)),
                });
            }
            at += 1;
            start = 0;
        }
        Ok(StudyPage {
            items,
            next_cursor: None,
        })
    }

    async fn study_item(
        &self,
        d: &Deployment,
        id: u32,
        relation: Relation,
        address: &str,
    ) -> Result<StudyItem, PlatformError> {
        let client = self.token_client(d);
        let record = client
            .token(id)
            .await
            .map_err(chain(format!("reading token {id}")))?;
        let consent = client
            .consent_status(id)
            .await
            .map_err(chain(format!("reading the consent of token {id}")))?;
        let access = client
            .access(id, address)
            .await
            .map_err(chain(format!("reading access to token {id}")))?;
        Ok(StudyItem {
            token_id: id,
            relation,
            status: status_name(consent.status),
            issuer: record.issuer,
            owner: record.owner,
            file_count: record.file_count,
            minted_ledger: record.minted_ledger,
            my_role: access.as_ref().map(role_name),
            my_access_until: access.and_then(|a| a.expires_at),
        })
    }

    /// The token `token` as `address` may see it: `NotFound` unless the caller owns it,
    /// issued it or holds a role on it now. With `holder` (the caller's custodial key), the
    /// checksum root, the files and the de-identified summary are read from the encrypted
    /// metadata.
    ///
    /// # Errors
    /// `NotFound` as above; chain or storage failures.
    pub async fn study_view(
        &self,
        address: &str,
        token: u32,
        holder: Option<&Keypair>,
    ) -> Result<StudyView, PlatformError> {
        let d = self.deployment()?;
        let client = self.token_client(&d);
        let not_found = || PlatformError::NotFound(format!("no study {token} for this account"));
        let record = match client.token(token).await {
            Ok(r) => r,
            Err(e) if medimint_chain::clients::contract_error(&e).is_some() => {
                return Err(not_found())
            }
            Err(e) => return Err(chain(format!("reading token {token}"))(e)),
        };
        let access = client
            .access(token, address)
            .await
            .map_err(chain(format!("reading access to token {token}")))?;
        let my_role = if let Some(a) = &access {
            Some(role_name(a))
        } else if record.owner == address {
            Some("owner".to_owned())
        } else if record.issuer == address {
            Some("issuer".to_owned())
        } else {
            // A former grantee (or anyone) learns that it was erased: the chain says so.
            not_erased(&record)?;
            return Err(not_found());
        };
        let consent = client
            .consent_status(token)
            .await
            .map_err(chain(format!("reading the consent of token {token}")))?;
        let cid = record
            .metadata_uri
            .strip_prefix("ipfs://")
            .unwrap_or(&record.metadata_uri)
            .to_owned();
        let mut view = StudyView {
            token_id: token,
            status: status_name(consent.status),
            issuer: record.issuer.clone(),
            owner: record.owner.clone(),
            metadata_cid: cid.clone(),
            file_count: record.file_count,
            minted_ledger: record.minted_ledger,
            my_role,
            my_access_until: access.and_then(|a| a.expires_at),
            checksum_root: None,
            files: None,
            summary: None,
        };
        // An erased study has no files or keys left: its view is the chain's record only.
        if let Some(kp) = holder.filter(|_| record.status != ERASED) {
            let sid = study_of(&record)?;
            if let Ok((_, meta)) = open_metadata(self.store.as_ref(), &sid, &cid, kp).await {
                view.checksum_root = Some(meta.checksum_root);
                view.files = Some(
                    meta.files
                        .into_iter()
                        .map(|f| StudyFile {
                            path: f.checksum.path,
                            size: f.checksum.size,
                            sha256: f.checksum.sha256,
                        })
                        .collect(),
                );
                view.summary = Some(meta.summary);
            }
        }
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_and_relations_round_trip_and_bad_ones_name_the_field() {
        assert_eq!(parse_cursor("shared:12").unwrap(), (Relation::Shared, 12));
        for bad in ["", "owned", "owned:x", "mine:3", "pending:-1"] {
            match parse_cursor(bad).unwrap_err() {
                PlatformError::InvalidInput { field, .. } => assert_eq!(field, "cursor"),
                e => panic!("{bad}: {e}"),
            }
        }
        assert_eq!(Relation::parse("pending").unwrap(), Relation::Pending);
        assert!(matches!(
            Relation::parse("all"),
            Err(PlatformError::InvalidInput { field: "role", .. })
        ));
    }
}
