//! Actions an external wallet authorizes itself: the platform never holds a wallet user's
//! key, so each action that needs the user's `require_auth` goes in two steps.
//!
//! 1. [`Platform::authorize_wallet_action`] simulates the contract call and keeps the one
//!    Soroban authorization entry the wallet must sign (its nonce and signature expiration
//!    ledger fixed), under a random id, in the application database;
//! 2. [`Platform::submit_wallet_authorization`] takes the signed entry (or the bare
//!    signature), checks it is the issued entry signed by the account's own key over the
//!    issued preimage and not expired, marks the id used (a second submission is a replay)
//!    and submits the call through the relayer (a channel account as source, fee-bumped by
//!    the sponsor: the wallet pays nothing).
//!
//! A share also needs the study key sealed to the grantee, which only the wallet can do (it
//! alone opens its own wrapped key): the grantee's address is in the first step's answer,
//! and the sealed key comes with the signed entry.

use medimint_chain::clients::{AccessKind, RejectReason, Role};
use medimint_chain::relayer::{check_signed_entry, with_signature, EntryRefusal};
use medimint_chain::scval::arg;
use medimint_sdk::crypto::seal::{SEALED_LEN, SEALED_MAGIC, SEALED_VERSION};
use medimint_storage::KvExpect;
use serde::Deserialize;
use stellar_xdr::{HostFunction, Limits, ReadXdr, SorobanAuthorizationEntry, WriteXdr};

use super::*;

/// How many ledgers a wallet's signature stays valid: about ten minutes of 5-second
/// ledgers, time for a person to read and approve the request in the wallet.
pub const WALLET_AUTH_LEDGERS: u32 = 120;

/// Seconds a pending authorization is remembered: past its expiration ledger on any network,
/// so that a late replay hears "already used" rather than "unknown".
const PENDING_TTL_SECS: u64 = 3600;

const KV_PREFIX: &str = "wallet-auth/";

/// What a wallet account asks to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletAction {
    /// Approve (`true`) or reject a pending release.
    Consent {
        /// Approve or reject.
        approve: bool,
        /// The reason a rejection records.
        reason: RejectReason,
    },
    /// Grant a role; the study key sealed to the grantee comes with the signature.
    Share {
        /// The grantee.
        to: Target,
        /// The role.
        role: Role,
        /// Unix seconds when it ends.
        until: Option<u64>,
    },
    /// Revoke a grant (the grantee's wrapped key is removed once it landed).
    Revoke {
        /// The grantee.
        from: Target,
    },
    /// Record a view or download (before the study key is handed out).
    RecordAccess(AccessKind),
}

/// An authorization entry for the wallet to sign.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingAuthorization {
    /// Its id: submit the signed entry to `POST /v1/authorizations/{id}/submit`.
    pub id: String,
    /// The contract function it authorizes: `approve_release`, `reject_release`, `grant`,
    /// `revoke` or `record_access`.
    pub action: String,
    /// The token.
    pub token_id: u32,
    /// The address that must sign (the caller's).
    pub address: String,
    /// For a share or revoke: the grantee's address (seal the study key to it for a share).
    pub grantee: Option<String>,
    /// The `SorobanAuthorizationEntry` to sign, base64 XDR: address credentials with the
    /// nonce and `signature_expiration_ledger` set and a void signature.
    pub entry: String,
    /// The `HashIdPreimage` (`ENVELOPE_TYPE_SOROBAN_AUTHORIZATION`) of the entry, base64 XDR:
    /// what Freighter's `signAuthEntry` takes.
    pub preimage: String,
    /// SHA-256 of the preimage's XDR, hex: the 32 bytes the ed25519 signature covers.
    pub preimage_hash: String,
    /// The network passphrase the preimage commits to.
    pub network_passphrase: String,
    /// The entry's nonce.
    pub nonce: i64,
    /// The last ledger the signature is valid in.
    pub signature_expiration_ledger: u32,
    /// The ledger the call was simulated at.
    pub latest_ledger: u32,
    /// Unix seconds when the signature expires, estimated at 5 s a ledger.
    pub expires_at: u64,
}

/// What the wallet sends back.
#[derive(Debug, Clone)]
pub enum SignedAuthorization {
    /// The whole entry, signed (base64 XDR), as `authorizeEntry` / `authorize_entry` return
    /// it.
    Entry(String),
    /// Only the 64-byte ed25519 signature over `preimage_hash` (Freighter's
    /// `signAuthEntry`); the platform puts it into the issued entry.
    Signature(Vec<u8>),
}

/// What a submitted authorization did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WalletOutcome {
    /// The contract function that ran.
    pub action: String,
    /// The token.
    pub token_id: u32,
    /// The grantee of a share or revoke.
    pub grantee: Option<String>,
    /// The (fee-bump) transaction's hash, hex.
    pub transaction_hash: String,
    /// The ledger it was applied in.
    pub ledger: u32,
}

/// Why a wallet's signed authorization was not submitted.
#[derive(Debug, thiserror::Error)]
pub enum WalletAuthError {
    /// No such pending authorization for this account (never issued, someone else's, or
    /// forgotten an hour after it was issued).
    #[error("no pending authorization {0} for this account; repeat the request for a new one")]
    NotFound(String),
    /// Already submitted (or being submitted): a replay.
    #[error("authorization {0} was already submitted; repeat the request for a new one if it must run again")]
    Used(String),
    /// The signature's expiration ledger has passed.
    #[error("the authorization expired at ledger {expiration} (the network is at ledger {latest}); repeat the request for a new one")]
    Expired {
        /// The entry's last valid ledger.
        expiration: u32,
        /// The network's latest ledger.
        latest: u32,
    },
    /// The entry is not the issued one, or not signed by the account's key.
    #[error(transparent)]
    Entry(#[from] EntryRefusal),
    /// A field of the submission is unusable.
    #[error("{field}: {message}")]
    Invalid {
        /// `signed_entry`, `signature` or `wrapped_key`.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The platform failed (chain, storage).
    #[error(transparent)]
    Platform(#[from] PlatformError),
}

/// The kept state of one pending authorization.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    address: String,
    token_id: u32,
    action: String,
    grantee: Option<String>,
    /// The host function, base64 XDR.
    function: String,
    /// The issued entry, base64 XDR.
    entry: String,
    expiration_ledger: u32,
    /// `ready`, `submitting` or `done`.
    state: String,
}

fn xdr_err(what: &'static str) -> impl Fn(stellar_xdr::Error) -> PlatformError {
    move |e| PlatformError::Invalid(format!("{what}: {e}"))
}

impl Platform {
    /// Step one for a wallet account `address` (the platform holds no key to it): the
    /// authorization entry of `action` on `token` for the wallet to sign. The call is
    /// simulated, so a contract refusal (not the owner, not pending…) comes back now, before
    /// anything is signed.
    ///
    /// # Errors
    /// Contract refusals as for the custodial actions; storage and RPC failures.
    pub async fn authorize_wallet_action(
        &self,
        address: &str,
        token: u32,
        action: &WalletAction,
    ) -> Result<PendingAuthorization, PlatformError> {
        let d = self.deployment()?;
        let who = arg::address(address).map_err(chain("reading the wallet's address"))?;
        let (name, grantee, args) = match action {
            WalletAction::Consent { approve: true, .. } => {
                ("approve_release", None, vec![who, arg::u32(token)])
            }
            WalletAction::Consent {
                approve: false,
                reason,
            } => (
                "reject_release",
                None,
                vec![
                    who,
                    arg::u32(token),
                    reason.to_sc_val().map_err(chain("encoding the reason"))?,
                ],
            ),
            WalletAction::Share { to, role, until } => {
                let grantee = self.grantee_address(to, true).await?;
                let args = vec![
                    who,
                    arg::u32(token),
                    arg::address(&grantee).map_err(chain("reading the grantee"))?,
                    role.to_sc_val().map_err(chain("encoding the role"))?,
                    until.map(arg::u64).unwrap_or(stellar_xdr::ScVal::Void),
                ];
                ("grant", Some(grantee), args)
            }
            WalletAction::Revoke { from } => {
                let grantee = self.grantee_address(from, false).await?;
                let args = vec![
                    who,
                    arg::u32(token),
                    arg::address(&grantee).map_err(chain("reading the grantee"))?,
                ];
                ("revoke", Some(grantee), args)
            }
            WalletAction::RecordAccess(kind) => (
                "record_access",
                None,
                vec![
                    who,
                    arg::u32(token),
                    kind.to_sc_val()
                        .map_err(chain("encoding the access kind"))?,
                ],
            ),
        };
        let function = medimint_chain::tx::invoke_contract(&d.study_token.id, name, args)
            .map_err(chain("building the call"))?;
        let auth = self
            .relayer
            .authorization_for(address, function.clone(), WALLET_AUTH_LEDGERS)
            .await
            .map_err(chain(format!("preparing {name} on token {token}")))?;
        let id = hex::encode(rand::random::<[u8; 16]>());
        let entry = auth
            .entry
            .to_xdr_base64(Limits::none())
            .map_err(xdr_err("encoding the entry"))?;
        let nonce = match &auth.entry.credentials {
            stellar_xdr::SorobanCredentials::Address(c) => c.nonce,
            _ => 0,
        };
        let pending = Pending {
            address: address.to_owned(),
            token_id: token,
            action: name.to_owned(),
            grantee: grantee.clone(),
            function: function
                .to_xdr_base64(Limits::none())
                .map_err(xdr_err("encoding the call"))?,
            entry: entry.clone(),
            expiration_ledger: auth.expiration_ledger,
            state: "ready".into(),
        };
        let now = medimint_storage::now();
        self.db
            .kv_put(
                &format!("{KV_PREFIX}{id}"),
                &serde_json::to_string(&pending).expect("serializes"),
                KvExpect::Absent,
                Some(now + PENDING_TTL_SECS),
            )
            .await
            .map_err(storage("keeping the pending authorization"))?;
        Ok(PendingAuthorization {
            id,
            action: name.to_owned(),
            token_id: token,
            address: address.to_owned(),
            grantee,
            entry,
            preimage: auth
                .preimage
                .to_xdr_base64(Limits::none())
                .map_err(xdr_err("encoding the preimage"))?,
            preimage_hash: hex::encode(auth.hash),
            network_passphrase: self.config.network.passphrase.clone(),
            nonce,
            signature_expiration_ledger: auth.expiration_ledger,
            latest_ledger: auth.latest_ledger,
            expires_at: now + u64::from(WALLET_AUTH_LEDGERS) * 5,
        })
    }

    /// Step two: checks the wallet's signed entry against pending authorization `id` of
    /// `address` and submits the call (through the relayer, paid by the sponsor). A share
    /// needs `wrapped_key`, the study key sealed to the grantee (`MMSK` v1, docs/formats.md).
    ///
    /// # Errors
    /// [`WalletAuthError`]: unknown id, a replay, an expired entry, a modified or wrongly
    /// signed entry, a missing sealed key; contract refusals and failures.
    pub async fn submit_wallet_authorization(
        &self,
        address: &str,
        id: &str,
        signed: SignedAuthorization,
        wrapped_key: Option<Vec<u8>>,
    ) -> Result<WalletOutcome, WalletAuthError> {
        let key = format!("{KV_PREFIX}{id}");
        let not_found = || WalletAuthError::NotFound(id.to_owned());
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(not_found());
        }
        let record = self
            .db
            .kv_get(&key)
            .await
            .map_err(storage("reading the pending authorization"))?
            .ok_or_else(not_found)?;
        let mut pending: Pending = serde_json::from_str(&record.value)
            .map_err(|e| PlatformError::Invalid(format!("a stored authorization: {e}")))?;
        // Someone else's id is as unknown as a made-up one.
        if pending.address != address {
            return Err(not_found());
        }
        if pending.state != "ready" {
            return Err(WalletAuthError::Used(id.to_owned()));
        }
        let issued = SorobanAuthorizationEntry::from_xdr_base64(&pending.entry, Limits::none())
            .map_err(xdr_err("a stored entry"))?;
        let entry = match signed {
            SignedAuthorization::Entry(b64) => {
                SorobanAuthorizationEntry::from_xdr_base64(b64.trim(), Limits::depth(500)).map_err(
                    |e| WalletAuthError::Invalid {
                        field: "signed_entry",
                        message: format!("not a base64 XDR SorobanAuthorizationEntry: {e}"),
                    },
                )?
            }
            SignedAuthorization::Signature(bytes) => {
                let sig: [u8; 64] =
                    bytes
                        .try_into()
                        .map_err(|b: Vec<u8>| WalletAuthError::Invalid {
                            field: "signature",
                            message: format!("an ed25519 signature is 64 bytes, not {}", b.len()),
                        })?;
                with_signature(&issued, sig).map_err(chain("adding the signature"))?
            }
        };
        check_signed_entry(self.relayer.network(), &issued, &entry)?;
        let latest = self
            .rpc
            .latest_ledger()
            .await
            .map_err(chain("reading the latest ledger"))?;
        if latest >= pending.expiration_ledger {
            return Err(WalletAuthError::Expired {
                expiration: pending.expiration_ledger,
                latest,
            });
        }
        let sid = if pending.action == "grant" || pending.action == "revoke" {
            Some(study_of(&self.token(&pending.token_id.to_string()).await?)?)
        } else {
            None
        };
        let sealed = match (pending.action.as_str(), wrapped_key) {
            ("grant", Some(k)) => {
                if k.len() != SEALED_LEN || k[..4] != SEALED_MAGIC || k[4] != SEALED_VERSION {
                    return Err(WalletAuthError::Invalid {
                        field: "wrapped_key",
                        message: format!(
                            "not a sealed study key (MMSK version {SEALED_VERSION}, \
                             {SEALED_LEN} bytes; docs/formats.md)"
                        ),
                    });
                }
                Some(k)
            }
            ("grant", None) => {
                return Err(WalletAuthError::Invalid {
                    field: "wrapped_key",
                    message: format!(
                        "a share needs the study key sealed to the grantee {}: open your \
                         wrapped key (GET /v1/studies/{}/key) and seal it to that address",
                        pending.grantee.as_deref().unwrap_or("?"),
                        pending.token_id
                    ),
                })
            }
            (_, Some(_)) => {
                return Err(WalletAuthError::Invalid {
                    field: "wrapped_key",
                    message: "only a share takes a sealed key".into(),
                })
            }
            (_, None) => None,
        };
        // Taken once: a concurrent or later submission of the same id is a replay.
        pending.state = "submitting".into();
        let version = match self
            .db
            .kv_put(
                &key,
                &serde_json::to_string(&pending).expect("serializes"),
                KvExpect::Version(record.version),
                record.expires_at,
            )
            .await
        {
            Ok(v) => v,
            Err(medimint_storage::StorageError::Conflict(_)) => {
                return Err(WalletAuthError::Used(id.to_owned()))
            }
            Err(e) => return Err(storage("taking the pending authorization")(e).into()),
        };
        let function = HostFunction::from_xdr_base64(&pending.function, Limits::none())
            .map_err(xdr_err("a stored call"))?;
        let landed = match self
            .relayer
            .submit_authorized(&format!("wallet/{id}"), address, function, vec![entry])
            .await
        {
            Ok(l) => l,
            Err(e) => {
                // Nothing landed: the same signed entry may be submitted again (the relayer's
                // request key keeps a retry from landing twice).
                pending.state = "ready".into();
                let _ = self
                    .db
                    .kv_put(
                        &key,
                        &serde_json::to_string(&pending).expect("serializes"),
                        KvExpect::Version(version),
                        record.expires_at,
                    )
                    .await;
                return Err(
                    chain(format!("{} on token {}", pending.action, pending.token_id))(e).into(),
                );
            }
        };
        pending.state = "done".into();
        // A revoke ends the grantee's downloads now, not when its cached role expires.
        self.forget_opened(pending.token_id);
        let _ = self
            .db
            .kv_put(
                &key,
                &serde_json::to_string(&pending).expect("serializes"),
                KvExpect::Version(version),
                record.expires_at,
            )
            .await;
        if let (Some(sid), Some(grantee)) = (&sid, &pending.grantee) {
            let object = wrapped_key_key(sid, grantee);
            match sealed {
                Some(k) => self
                    .store
                    .put_bytes(&object, Bytes::from(k))
                    .await
                    .map_err(storage("storing the grantee's wrapped key"))?,
                None => self
                    .store
                    .delete(&object)
                    .await
                    .map_err(storage("removing the grantee's wrapped key"))?,
            }
        }
        Ok(WalletOutcome {
            action: pending.action,
            token_id: pending.token_id,
            grantee: pending.grantee,
            transaction_hash: hex::encode(landed.hash),
            ledger: landed.ledger,
        })
    }
}
