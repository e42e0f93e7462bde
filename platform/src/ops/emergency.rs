//! Emergency access (break-glass): an active trusted issuer opens a study without the
//! patient's consent for a bounded time, stating a reason from the contract's closed list;
//! the free-text note stays off chain, in a review record beside the study's objects. The
//! patient and the admin list every break-glass and end it early.

use medimint_chain::clients::{EmergencyPolicy, EmergencyReason};

use super::*;

/// Prefix of the review records: `emergency/<token>/<opened_at>-<issuer>.json`.
const RECORDS: &str = "emergency/";
/// Longest free-text note, in characters.
pub const MAX_NOTE_CHARS: usize = 1_000;
/// The contract's longest emergency access, in hours.
const MAX_HOURS: u32 = 72;
/// Largest review record read back, in bytes.
const MAX_RECORD_BYTES: u64 = 16 * 1024;

/// The reasons of the contract's closed list, as the API and CLI spell them.
pub const EMERGENCY_REASONS: &[&str] = &[
    "unconscious",
    "life_threatening",
    "patient_unreachable",
    "other",
];

/// Parses a reason as the API and CLI spell it.
///
/// # Errors
/// [`PlatformError::InvalidInput`] naming `reason` and the accepted values.
pub fn parse_reason(s: &str) -> Result<EmergencyReason, PlatformError> {
    Ok(match s.trim() {
        "unconscious" => EmergencyReason::Unconscious,
        "life_threatening" => EmergencyReason::LifeThreatening,
        "patient_unreachable" => EmergencyReason::PatientUnreachable,
        "other" => EmergencyReason::Other,
        other => {
            return Err(PlatformError::InvalidInput {
                field: "reason",
                message: format!("{other:?} is not one of {}", EMERGENCY_REASONS.join(", ")),
            })
        }
    })
}

fn reason_name(r: EmergencyReason) -> &'static str {
    match r {
        EmergencyReason::Unconscious => "unconscious",
        EmergencyReason::LifeThreatening => "life_threatening",
        EmergencyReason::PatientUnreachable => "patient_unreachable",
        EmergencyReason::Other => "other",
    }
}

/// One break-glass access, as the review list shows it. The note is the issuer's free text
/// (off chain only); the rest is what the chain recorded.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EmergencyRecord {
    /// The token opened.
    pub token_id: u32,
    /// The issuer that broke the glass.
    pub issuer: String,
    /// The patient (the token's owner).
    pub patient: String,
    /// `unconscious`, `life_threatening`, `patient_unreachable` or `other`.
    pub reason: String,
    /// The issuer's account, off chain only.
    pub note: String,
    /// Unix seconds it was opened (the chain's clock).
    pub opened_at: u64,
    /// Unix seconds it ends (the chain's answer).
    pub expires_at: u64,
    /// `open`, `expired` or `ended` (revoked or renounced), as the chain says now; set when
    /// listed.
    #[serde(default)]
    pub state: String,
    /// Unix seconds (the ledger's clock) it was ended early through MediMint (by the
    /// patient or the admin); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<u64>,
}

/// A page of the break-glass review, newest first.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EmergencyPage {
    /// The accesses, each with its state now.
    pub items: Vec<EmergencyRecord>,
    /// Pass back as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// The review's order, newest first: opened at, then token, then issuer (all descending),
/// so that a cursor names one place that new accesses never move.
type Place = (u64, u32, String);

fn place(r: &EmergencyRecord) -> Place {
    (r.opened_at, r.token_id, r.issuer.clone())
}

/// A cursor of the review: `e:<opened_at>:<token>:<issuer>`, the last item of the page
/// before (the next page starts after it, so accesses opened meanwhile do not shift it).
fn emergency_cursor(p: &Place) -> String {
    format!("e:{}:{}:{}", p.0, p.1, p.2)
}

fn parse_emergency_cursor(cursor: &str) -> Result<Place, PlatformError> {
    let bad = || PlatformError::InvalidInput {
        field: "cursor",
        message: "not a cursor this API returned; start again without one".into(),
    };
    let mut parts = cursor.strip_prefix("e:").ok_or_else(bad)?.splitn(3, ':');
    let opened_at = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let token = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let issuer = parts.next().ok_or_else(bad)?;
    if stellar_strkey::ed25519::PublicKey::from_string(issuer).is_err() {
        return Err(bad());
    }
    Ok((opened_at, token, issuer.to_owned()))
}

impl Platform {
    /// `issuer_email` (a trusted issuer whose key the platform holds) breaks the glass on
    /// `token`: the chain grants it Viewer for `hours` (`None`: 24), the study key is
    /// wrapped to it, and a review record with the note is stored. The caller notifies the
    /// patient (the record names the patient's address).
    ///
    /// # Errors
    /// `note` too long; the contract's refusals (`IssuerNotTrusted`, `TokenNotActive`,
    /// `AlreadyHasAccess`, `EmergencyRateLimited`, `InvalidEmergencyHours`…); storage.
    pub async fn emergency_access(
        &self,
        issuer_email: &str,
        token: &str,
        reason: EmergencyReason,
        note: &str,
        hours: Option<u32>,
    ) -> Result<EmergencyRecord, PlatformError> {
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(PlatformError::InvalidInput {
                field: "note",
                message: format!("longer than {MAX_NOTE_CHARS} characters"),
            });
        }
        let d = self.deployment()?;
        let record = self.token(token).await?;
        let issuer = self.keypair_of(issuer_email).await?;
        let address = issuer.address();
        let (expires_at, _) = self
            .token_client(&d)
            .emergency_access(
                &fresh_key(&format!("emergency/{}/{address}", record.id)),
                issuer.signing_key(),
                record.id,
                reason,
                hours,
            )
            .await
            .map_err(chain(format!("emergency access to token {}", record.id)))?;
        let sid = study_of(&record)?;
        let holder = self.key_holder(&record).await?;
        share_key(self.store.as_ref(), &sid, &holder, &address)
            .await
            .map_err(PlatformError::Invalid)?;
        // The chain's time of opening (the platform's clock may differ): the expiry less the
        // hours granted (the default is 24, within the admin's bound).
        let hours = match hours {
            Some(h) => h,
            None => self
                .token_client(&d)
                .emergency_policy()
                .await
                .map_err(chain("reading the emergency policy"))?
                .max_hours
                .min(24),
        };
        let opened_at = expires_at.saturating_sub(u64::from(hours) * 3_600);
        let entry = EmergencyRecord {
            token_id: record.id,
            issuer: address.clone(),
            patient: record.owner.clone(),
            reason: reason_name(reason).into(),
            note: note.trim().to_owned(),
            opened_at,
            expires_at,
            state: "open".into(),
            ended_at: None,
        };
        let body = serde_json::to_vec(&entry)
            .map_err(|e| PlatformError::Invalid(format!("encoding the review record: {e}")))?;
        self.store
            .put_bytes(
                &format!("{RECORDS}{}/{opened_at:020}-{address}.json", record.id),
                Bytes::from(body),
            )
            .await
            .map_err(storage("storing the emergency review record"))?;
        Ok(entry)
    }

    /// The key holder whose wrapped study key the platform can open: the owner's custodial
    /// key, else the releasing issuer's.
    async fn key_holder(&self, record: &TokenRecord) -> Result<Keypair, PlatformError> {
        for address in [&record.owner, &record.issuer] {
            let account = self
                .db
                .account_by_address(address)
                .await
                .map_err(storage("reading the key holder's account"))?;
            if let Some(index) = account.and_then(|a| a.hd_index) {
                return self.operator(index);
            }
        }
        Err(PlatformError::Conflict(format!(
            "neither the owner nor the issuer of token {} has a key the platform holds; the \
             study key cannot be wrapped to the emergency issuer",
            record.id
        )))
    }

    /// Ends `issuer`'s emergency access to `token`: signed by `revoker_email`'s custodial
    /// key (the token's owner), or by the suite's admin key when `None`. The issuer's
    /// wrapped key is removed unless it still has access otherwise.
    ///
    /// # Errors
    /// `EmergencyNotFound`, `NotGranter` from the contract; storage.
    pub async fn revoke_emergency(
        &self,
        revoker_email: Option<&str>,
        token: &str,
        issuer: &str,
    ) -> Result<(), PlatformError> {
        let d = self.deployment()?;
        let record = self.token(token).await?;
        let revoker = match revoker_email {
            Some(email) => self.keypair_of(email).await?,
            None => self.operator(crate::ADMIN_INDEX)?,
        };
        let client = self.token_client(&d);
        client
            .revoke_emergency(
                &fresh_key(&format!("emergency-revoke/{}/{issuer}", record.id)),
                revoker.signing_key(),
                record.id,
                issuer,
            )
            .await
            .map_err(chain(format!(
                "ending {issuer}'s emergency access to token {}",
                record.id
            )))?;
        self.forget_opened(record.id);
        let still = client
            .access(record.id, issuer)
            .await
            .map_err(chain("reading the issuer's access"))?;
        if still.is_none() {
            let sid = study_of(&record)?;
            self.store
                .delete(&wrapped_key_key(&sid, issuer))
                .await
                .map_err(storage("removing the issuer's wrapped key"))?;
        }
        self.mark_emergency_ended(record.id, issuer).await
    }

    /// Notes in the newest review record of `issuer` on `token` that it was ended early
    /// (at the ledger's time), so that the review still says "ended" after its expiry
    /// has passed too.
    async fn mark_emergency_ended(&self, token: u32, issuer: &str) -> Result<(), PlatformError> {
        let prefix = format!("{RECORDS}{token}/");
        let listed = self
            .store
            .list(&prefix)
            .await
            .map_err(storage("listing the emergency review records"))?;
        let Some(key) = listed
            .into_iter()
            .map(|i| i.key)
            .filter(|k| k.ends_with(&format!("-{issuer}.json")))
            .max()
        else {
            return Ok(());
        };
        let bytes = self
            .store
            .get_bytes(&key, MAX_RECORD_BYTES)
            .await
            .map_err(storage("reading an emergency review record"))?;
        let Ok(mut entry) = serde_json::from_slice::<EmergencyRecord>(&bytes) else {
            return Ok(());
        };
        if entry.ended_at.is_some() {
            return Ok(());
        }
        entry.ended_at = Some(self.chain_now().await?);
        let body = serde_json::to_vec(&entry)
            .map_err(|e| PlatformError::Invalid(format!("encoding the review record: {e}")))?;
        self.store
            .put_bytes(&key, Bytes::from(body))
            .await
            .map_err(storage("updating the emergency review record"))?;
        Ok(())
    }

    /// The admin sets the bounds on emergency access: the longest access in hours (1..=72)
    /// and how many one issuer may open per window (seconds).
    ///
    /// # Errors
    /// `InvalidEmergencyPolicy` from the contract.
    pub async fn set_emergency_policy(&self, policy: EmergencyPolicy) -> Result<(), PlatformError> {
        let d = self.deployment()?;
        let admin = self.operator(crate::ADMIN_INDEX)?;
        self.token_client(&d)
            .set_emergency_policy(&fresh_key("emergency-policy"), admin.signing_key(), policy)
            .await
            .map_err(chain("setting the emergency policy"))?;
        Ok(())
    }

    /// Seconds until `issuer` may break the glass again under the rate limit (0 when it
    /// may now), from the review records: the contract's window starts at the first access
    /// after the previous window ended.
    ///
    /// # Errors
    /// Storage and RPC failures.
    pub async fn emergency_retry_after(&self, issuer: &str) -> Result<u64, PlatformError> {
        let d = self.deployment()?;
        let policy = self
            .token_client(&d)
            .emergency_policy()
            .await
            .map_err(chain("reading the emergency policy"))?;
        let mut opened: Vec<u64> = self
            .emergency_records()
            .await?
            .into_iter()
            .filter(|r| r.issuer == issuer)
            .map(|r| r.opened_at)
            .collect();
        opened.sort_unstable();
        let mut window: Option<(u64, u32)> = None;
        for t in opened {
            window = match window {
                Some((start, n)) if t < start.saturating_add(policy.window) => Some((start, n + 1)),
                _ => Some((t, 1)),
            };
        }
        // The contract counts its window on the ledger's clock.
        let now = self.chain_now().await?;
        Ok(match window {
            Some((start, n)) if n >= policy.limit => {
                start.saturating_add(policy.window).saturating_sub(now)
            }
            _ => 0,
        })
    }

    /// The tokens `issuer` opened in an emergency whose access has not ended on the
    /// ledger's clock, nor been ended through MediMint: the DICOMweb search lists them
    /// beside the issuer's own and shared studies (the chain's `access` still decides).
    ///
    /// # Errors
    /// Storage failures.
    pub(crate) async fn emergency_tokens_of(
        &self,
        issuer: &str,
    ) -> Result<Vec<u32>, PlatformError> {
        let suffix = format!("-{issuer}.json");
        let listed = self
            .store
            .list(RECORDS)
            .await
            .map_err(storage("listing the emergency review records"))?;
        let mine: Vec<_> = listed
            .into_iter()
            .filter(|i| i.key.ends_with(&suffix))
            .collect();
        if mine.is_empty() {
            // Most callers never broke the glass: no chain read.
            return Ok(Vec::new());
        }
        // Without the ledger's time (an RPC that does not say), every record is a candidate.
        let now = self.chain_now().await.unwrap_or(0);
        let longest = u64::from(MAX_HOURS) * 3_600;
        let mut out = Vec::new();
        for info in mine {
            // `emergency/<token>/<opened_at:020>-<issuer>.json`: one opened longer ago than
            // the longest access has ended without reading it.
            let opened = info
                .key
                .rsplit('/')
                .next()
                .and_then(|name| name.split('-').next())
                .and_then(|t| t.parse::<u64>().ok());
            if opened.is_some_and(|t| t.saturating_add(longest) <= now) {
                continue;
            }
            let bytes = self
                .store
                .get_bytes(&info.key, MAX_RECORD_BYTES)
                .await
                .map_err(storage("reading an emergency review record"))?;
            if let Ok(entry) = serde_json::from_slice::<EmergencyRecord>(&bytes) {
                if entry.expires_at > now && entry.ended_at.is_none() && entry.issuer == issuer {
                    out.push(entry.token_id);
                }
            }
        }
        Ok(out)
    }

    /// Every stored review record, as written.
    async fn emergency_records(&self) -> Result<Vec<EmergencyRecord>, PlatformError> {
        let listed = self
            .store
            .list(RECORDS)
            .await
            .map_err(storage("listing the emergency review records"))?;
        let mut out = Vec::with_capacity(listed.len());
        for info in listed {
            let bytes = self
                .store
                .get_bytes(&info.key, MAX_RECORD_BYTES)
                .await
                .map_err(storage("reading an emergency review record"))?;
            if let Ok(entry) = serde_json::from_slice::<EmergencyRecord>(&bytes) {
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// The close time of the latest ledger: the clock the contract judges every grant's
    /// expiry by (the platform's own clock may differ, and a test devnet skips ahead).
    async fn chain_now(&self) -> Result<u64, PlatformError> {
        medimint_chain::Rpc::latest_close_time(self.rpc.as_ref())
            .await
            .map_err(chain("reading the latest ledger's close time"))
    }

    /// Sets each record's state as the chain says now. Open while `access` reports the
    /// issuer's own Viewer until this record's expiry; ended when MediMint ended it before
    /// its expiry; otherwise expired once that time has passed on the ledger's clock
    /// (`now`), else ended early (revoked, renounced or the issuer suspended).
    async fn with_states(
        &self,
        records: Vec<EmergencyRecord>,
        now: u64,
    ) -> Result<Vec<EmergencyRecord>, PlatformError> {
        let d = self.deployment()?;
        let client = self.token_client(&d);
        let mut out = Vec::with_capacity(records.len());
        for mut entry in records {
            let access = client
                .access(entry.token_id, &entry.issuer)
                .await
                .map_err(chain("reading the issuer's access"))?;
            let own = access
                .as_ref()
                .filter(|a| a.granter == entry.issuer && a.expires_at == Some(entry.expires_at));
            entry.state = if own.is_some() && entry.expires_at > now {
                "open"
            } else if entry.ended_at.is_some_and(|t| t < entry.expires_at) {
                "ended"
            } else if entry.expires_at <= now {
                "expired"
            } else {
                "ended"
            }
            .into();
            out.push(entry);
        }
        Ok(out)
    }

    /// Every break-glass, newest first, with its state now: all of them when `patient` is
    /// `None` (the admin's review), else those on the patient's tokens.
    ///
    /// # Errors
    /// Storage and RPC failures.
    pub async fn emergencies(
        &self,
        patient: Option<&str>,
    ) -> Result<Vec<EmergencyRecord>, PlatformError> {
        let mut mine: Vec<EmergencyRecord> = self
            .emergency_records()
            .await?
            .into_iter()
            .filter(|r| patient.is_none_or(|p| p == r.patient))
            .collect();
        mine.sort_by_key(|r| std::cmp::Reverse(place(r)));
        let now = self.chain_now().await?;
        self.with_states(mine, now).await
    }

    /// A page of the break-glass review, newest first, `limit` (1 to [`MAX_PAGE`]) after
    /// `cursor`: every access when `party` is `None` (the admin), else those on the
    /// party's studies and those it opened. States are read for this page only, on the
    /// ledger's clock.
    ///
    /// # Errors
    /// A bad cursor or limit (naming the field); storage and RPC failures.
    pub async fn emergency_page(
        &self,
        party: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<EmergencyPage, PlatformError> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(PlatformError::InvalidInput {
                field: "limit",
                message: format!("{limit} is not from 1 to {MAX_PAGE}"),
            });
        }
        let after = cursor.map(parse_emergency_cursor).transpose()?;
        let mut mine: Vec<EmergencyRecord> = self
            .emergency_records()
            .await?
            .into_iter()
            .filter(|r| party.is_none_or(|p| p == r.patient || p == r.issuer))
            .filter(|r| after.as_ref().is_none_or(|a| place(r) < *a))
            .collect();
        mine.sort_by_key(|r| std::cmp::Reverse(place(r)));
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = mine.len() > limit;
        mine.truncate(limit);
        let next_cursor = if more {
            mine.last().map(|r| emergency_cursor(&place(r)))
        } else {
            None
        };
        let now = self.chain_now().await?;
        Ok(EmergencyPage {
            items: self.with_states(mine, now).await?,
            next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_parse_and_name_the_field() {
        for name in EMERGENCY_REASONS {
            assert_eq!(reason_name(parse_reason(name).unwrap()), *name);
        }
        let err = parse_reason("bored").unwrap_err();
        assert!(
            matches!(
                err,
                PlatformError::InvalidInput {
                    field: "reason",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("life_threatening"), "{err}");
    }

    #[test]
    fn review_cursors_round_trip_and_bad_ones_name_the_field() {
        let issuer = "GAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAWHF".to_owned();
        let p = (1_700_000_000, 7, issuer.clone());
        assert_eq!(parse_emergency_cursor(&emergency_cursor(&p)).unwrap(), p);
        for bad in [
            "",
            "e:",
            "shared:12",
            "e:1:2",
            "e:x:2:GAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAWHF",
            "e:1:-2:GAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAWHF",
            "e:1:2:not-an-address",
        ] {
            match parse_emergency_cursor(bad).unwrap_err() {
                PlatformError::InvalidInput { field, .. } => assert_eq!(field, "cursor", "{bad}"),
                other => panic!("{bad}: {other}"),
            }
        }
        // Newest first: a later opening, then a higher token, then a later issuer in the
        // order sorts before.
        let mut v = [
            (1, 9, issuer.clone()),
            (2, 1, issuer.clone()),
            (2, 3, issuer),
        ];
        v.sort_by_key(|p| std::cmp::Reverse(p.clone()));
        assert_eq!(
            v.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(),
            [(2, 3), (2, 1), (1, 9)]
        );
    }
}
