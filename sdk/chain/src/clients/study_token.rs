//! The study-token contract: release and consent, key rotation, roles, access records,
//! reads, the SEP-0050 surface and administration.
//!
//! Every function of the contract has a client here except SEP-0050's `transfer`,
//! `transfer_from`, `approve` and `approve_for_all`: study tokens never move between people,
//! so the contract always fails them with `NonTransferable` (#211). A key change is
//! [`StudyToken::rotate_owner`].

use stellar_xdr::ScVal;

use super::encode::{contract_struct, field, unit_variant, variant_name, vec_of};
use super::errors::Named;
use crate::error::{Error, Result};
use crate::outcome::Landed;
use crate::relayer::Relayer;
use crate::scval::{arg, decode, Address};
use crate::signer::Signer;

/// What an issuer releases (no PHI: a CID of encrypted metadata and a commitment to the
/// checksum root, never the root itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    /// `ipfs://b…` CIDv1 of the encrypted metadata object.
    pub metadata_uri: String,
    /// Keyed or salted commitment to the SHA-256 Merkle root over the study's original files
    /// (e.g. HMAC-SHA256 under the platform's key): the contract stores it opaquely and
    /// deduplicates on it while its token is pending or active.
    pub commitment: [u8; 32],
    /// Number of files (1..=1,000,000).
    pub file_count: u32,
    /// The records request this release fulfils, if any.
    pub request_id: Option<[u8; 16]>,
}

impl Release {
    fn to_sc_val(&self) -> Result<ScVal> {
        contract_struct(vec![
            ("metadata_uri", arg::string(&self.metadata_uri)?),
            ("commitment", arg::bytes(&self.commitment)?),
            ("file_count", arg::u32(self.file_count)),
            (
                "request_id",
                match &self.request_id {
                    Some(id) => arg::bytes(id)?,
                    None => ScVal::Void,
                },
            ),
        ])
    }
}

/// Declares a `#[contracttype]` unit enum with its encoder and decoder.
macro_rules! unit_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// The contract value.
            ///
            /// # Errors
            /// Never for these names; kept fallible like every encoder here.
            pub fn to_sc_val(self) -> Result<ScVal> {
                unit_variant(match self { $(Self::$variant => stringify!($variant)),+ })
            }

            /// Decodes a contract value (e.g. from an event).
            ///
            /// # Errors
            /// [`Error::Decode`] naming an unknown variant.
            pub fn from_sc_val(v: &ScVal) -> Result<Self> {
                let name = variant_name(v)?;
                match name.as_str() {
                    $(stringify!($variant) => Ok(Self::$variant),)+
                    _ => Err(Error::Decode { expected: stringify!($name), got: name }),
                }
            }
        }
    };
}
pub(crate) use unit_enum;

unit_enum!(
    /// A role on a token.
    Role {
        /// The patient.
        Owner,
        /// May view and grant Viewer.
        Sharer,
        /// May view.
        Viewer,
    }
);
unit_enum!(
    /// Why a patient rejects a release.
    RejectReason {
        /// Not my study.
        NotMine,
        /// Already released.
        Duplicate,
        /// I do not want it on record.
        Declined,
        /// Anything else.
        Other,
    }
);
unit_enum!(
    /// What kind of access is recorded.
    AccessKind {
        /// Viewed in the app.
        View,
        /// Downloaded.
        Download,
    }
);

unit_enum!(
    /// A token's effective status, as `consent_status` reports it.
    TokenStatus {
        /// Proposed; awaiting the patient's consent.
        Pending,
        /// Consented: the owner and grantees have access.
        Active,
        /// The patient rejected it.
        Rejected,
        /// The issuer withdrew it while pending.
        Withdrawn,
        /// Pending past its window: it can no longer be approved.
        Lapsed,
        /// The patient erased the study: terminal, nobody has access.
        Erased,
    }
);
unit_enum!(
    /// Why an issuer opens a study without the patient's consent (break-glass): a closed
    /// list; the free-text account stays off chain.
    EmergencyReason {
        /// The patient is unconscious or otherwise unable to consent.
        Unconscious,
        /// A life- or limb-threatening condition needs the images now.
        LifeThreatening,
        /// Treatment cannot wait until the patient is reached.
        PatientUnreachable,
        /// Any other emergency (explained off chain).
        Other,
    }
);

/// The admin's bounds on emergency access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmergencyPolicy {
    /// Longest emergency access, in hours (1..=72).
    pub max_hours: u32,
    /// Emergency accesses one issuer may open per window (1..=1,000).
    pub limit: u32,
    /// The rate window, in seconds (3,600..=2,592,000).
    pub window: u64,
}

impl EmergencyPolicy {
    /// Decodes the contract's `(max_hours, limit, window)`.
    ///
    /// # Errors
    /// A value of another shape.
    pub fn from_sc_val(v: &ScVal) -> Result<Self> {
        match v {
            ScVal::Vec(Some(items)) if items.len() == 3 => Ok(Self {
                max_hours: decode(&items[0])?,
                limit: decode(&items[1])?,
                window: decode(&items[2])?,
            }),
            other => Err(Error::Decode {
                expected: "(u32, u32, u64)",
                got: format!("{other:?}"),
            }),
        }
    }
}

/// Consent state of a token, as `consent_status` returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    /// Effective status (a pending token past its window is `Lapsed`).
    pub status: TokenStatus,
    /// Ledger of the decision (of the proposal while pending; of the window's end if lapsed).
    pub ledger: u32,
    /// Unix time of the decision (of the proposal while pending or lapsed).
    pub timestamp: u64,
    /// Who decided (the issuer while pending or lapsed).
    pub by: String,
}

impl Consent {
    /// Decodes the contract's `Consent` struct.
    ///
    /// # Errors
    /// A value of another shape.
    pub fn from_sc_val(v: &ScVal) -> Result<Self> {
        Ok(Self {
            status: TokenStatus::from_sc_val(field(v, "status")?)?,
            ledger: decode(field(v, "ledger")?)?,
            timestamp: decode(field(v, "timestamp")?)?,
            by: decode::<Address>(field(v, "by")?)?.0,
        })
    }
}

/// Someone's access to a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// Their role.
    pub role: Role,
    /// Unix time the access ends, if it does.
    pub expires_at: Option<u64>,
    /// Who granted it (the owner for the owner).
    pub granter: String,
}

/// A study-token contract reached through a relayer.
#[derive(Debug)]
pub struct StudyToken<'r> {
    relayer: &'r Relayer,
    contract: String,
}

impl<'r> StudyToken<'r> {
    /// The contract `contract` (a `C…` id) through `relayer`.
    pub fn new(relayer: &'r Relayer, contract: impl Into<String>) -> Self {
        Self {
            relayer,
            contract: contract.into(),
        }
    }

    fn chain(&self) -> Named<'r> {
        Named(self.relayer)
    }

    async fn call(
        &self,
        key: &str,
        user: &dyn Signer,
        function: &str,
        args: Vec<ScVal>,
        signers: &[&dyn Signer],
    ) -> Result<Landed> {
        self.chain()
            .invoke(
                key,
                &user.address(),
                &self.contract,
                function,
                args,
                signers,
            )
            .await
    }

    fn returned<T: crate::scval::FromScVal>(landed: &Landed) -> Result<T> {
        decode(landed.return_value.as_ref().ok_or(Error::Decode {
            expected: "a return value",
            got: "none".into(),
        })?)
    }

    /// The issuer proposes a release to `patient`; returns the pending token's id.
    ///
    /// # Errors
    /// Contract errors (e.g. `IssuerNotTrusted`) surface as simulation errors.
    pub async fn propose_release(
        &self,
        key: &str,
        issuer: &dyn Signer,
        patient: &str,
        release: &Release,
    ) -> Result<(u32, Landed)> {
        let args = vec![
            arg::address(&issuer.address())?,
            arg::address(patient)?,
            release.to_sc_val()?,
        ];
        let landed = self
            .call(key, issuer, "propose_release", args, &[issuer])
            .await?;
        Ok((Self::returned(&landed)?, landed))
    }

    /// Issuer and patient sign one call that mints the token active.
    ///
    /// # Errors
    /// As [`StudyToken::propose_release`].
    pub async fn mint(
        &self,
        key: &str,
        issuer: &dyn Signer,
        patient: &dyn Signer,
        release: &Release,
    ) -> Result<(u32, Landed)> {
        let args = vec![
            arg::address(&issuer.address())?,
            arg::address(&patient.address())?,
            release.to_sc_val()?,
        ];
        let landed = self
            .call(key, issuer, "mint", args, &[issuer, patient])
            .await?;
        Ok((Self::returned(&landed)?, landed))
    }

    /// The patient approves a pending release.
    ///
    /// # Errors
    /// Contract and submission errors.
    pub async fn approve_release(
        &self,
        key: &str,
        patient: &dyn Signer,
        token_id: u32,
    ) -> Result<Landed> {
        let args = vec![arg::address(&patient.address())?, arg::u32(token_id)];
        self.call(key, patient, "approve_release", args, &[patient])
            .await
    }

    /// The patient rejects a pending release.
    ///
    /// # Errors
    /// Contract and submission errors.
    pub async fn reject_release(
        &self,
        key: &str,
        patient: &dyn Signer,
        token_id: u32,
        reason: RejectReason,
    ) -> Result<Landed> {
        let args = vec![
            arg::address(&patient.address())?,
            arg::u32(token_id),
            reason.to_sc_val()?,
        ];
        self.call(key, patient, "reject_release", args, &[patient])
            .await
    }

    /// The issuer withdraws a release that is still pending (or lapsed), e.g. one addressed
    /// to the wrong patient; its commitment can then be released again.
    ///
    /// # Errors
    /// Contract (`NotIssuer`, `TokenNotPending`) and submission errors.
    pub async fn withdraw_release(
        &self,
        key: &str,
        issuer: &dyn Signer,
        token_id: u32,
    ) -> Result<Landed> {
        let args = vec![arg::address(&issuer.address())?, arg::u32(token_id)];
        self.call(key, issuer, "withdraw_release", args, &[issuer])
            .await
    }

    /// Grants `role` on a token to `grantee` until `expires_at` (Unix seconds).
    ///
    /// # Errors
    /// Contract and submission errors.
    pub async fn grant(
        &self,
        key: &str,
        granter: &dyn Signer,
        token_id: u32,
        grantee: &str,
        role: Role,
        expires_at: Option<u64>,
    ) -> Result<Landed> {
        let args = vec![
            arg::address(&granter.address())?,
            arg::u32(token_id),
            arg::address(grantee)?,
            role.to_sc_val()?,
            expires_at.map(arg::u64).unwrap_or(ScVal::Void),
        ];
        self.call(key, granter, "grant", args, &[granter]).await
    }

    /// Revokes a grant: the owner any, a Sharer those it made, a grantee (or the issuer) its
    /// own (renouncing it).
    ///
    /// # Errors
    /// Contract and submission errors.
    pub async fn revoke(
        &self,
        key: &str,
        revoker: &dyn Signer,
        token_id: u32,
        grantee: &str,
    ) -> Result<Landed> {
        let args = vec![
            arg::address(&revoker.address())?,
            arg::u32(token_id),
            arg::address(grantee)?,
        ];
        self.call(key, revoker, "revoke", args, &[revoker]).await
    }

    /// Records a view or download by `viewer`.
    ///
    /// # Errors
    /// Contract (`NoAccess`) and submission errors.
    pub async fn record_access(
        &self,
        key: &str,
        viewer: &dyn Signer,
        token_id: u32,
        kind: AccessKind,
    ) -> Result<Landed> {
        let args = vec![
            arg::address(&viewer.address())?,
            arg::u32(token_id),
            kind.to_sc_val()?,
        ];
        self.call(key, viewer, "record_access", args, &[viewer])
            .await
    }

    /// Whether the token is active and carries this commitment.
    ///
    /// # Errors
    /// Simulation errors (e.g. `TokenNotFound`).
    pub async fn verify(&self, token_id: u32, commitment: &[u8; 32]) -> Result<bool> {
        let v = self
            .chain()
            .read(
                &self.contract,
                "verify",
                vec![arg::u32(token_id), arg::bytes(commitment)?],
            )
            .await?;
        decode(&v)
    }

    /// The owner of an active token.
    ///
    /// # Errors
    /// Simulation errors (`TokenNotActive`, `TokenNotFound`).
    pub async fn owner_of(&self, token_id: u32) -> Result<String> {
        let v = self
            .chain()
            .read(&self.contract, "owner_of", vec![arg::u32(token_id)])
            .await?;
        Ok(decode::<Address>(&v)?.0)
    }

    /// The pending (not lapsed) or active token released with this commitment, if any.
    ///
    /// # Errors
    /// Simulation errors.
    pub async fn token_of_commitment(&self, commitment: &[u8; 32]) -> Result<Option<u32>> {
        let v = self
            .chain()
            .read(
                &self.contract,
                "token_of_commitment",
                vec![arg::bytes(commitment)?],
            )
            .await?;
        decode(&v)
    }

    /// Someone's access to a token.
    ///
    /// # Errors
    /// Simulation errors.
    pub async fn access(&self, token_id: u32, address: &str) -> Result<Option<Access>> {
        let v = self
            .chain()
            .read(
                &self.contract,
                "access",
                vec![arg::u32(token_id), arg::address(address)?],
            )
            .await?;
        decode_access(&v)
    }

    /// A page of token ids: `tokens_of`, `pending_of` or `shared_with` of `address`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for another function name; simulation errors.
    pub async fn page(
        &self,
        function: &str,
        address: &str,
        start: u32,
        limit: u32,
    ) -> Result<Vec<u32>> {
        if !matches!(function, "tokens_of" | "pending_of" | "shared_with") {
            return Err(Error::InvalidArgument(format!(
                "{function} is not a token-id page"
            )));
        }
        let v = self
            .chain()
            .read(
                &self.contract,
                function,
                vec![arg::address(address)?, arg::u32(start), arg::u32(limit)],
            )
            .await?;
        decode(&v)
    }

    /// The token as stored: owner, issuer, status and what was released.
    ///
    /// # Errors
    /// `TokenNotFound` (#2xx) as a simulation error; decoding errors.
    pub async fn token(&self, token_id: u32) -> Result<TokenRecord> {
        let v = self
            .chain()
            .read(&self.contract, "token", vec![arg::u32(token_id)])
            .await?;
        TokenRecord::from_sc_val(&v)
    }

    /// A page of the token's grants (expired ones included until revoked).
    ///
    /// # Errors
    /// `InvalidPageLimit` for a limit over the contract's page size; decoding errors.
    pub async fn grants(&self, token_id: u32, start: u32, limit: u32) -> Result<Vec<GrantRecord>> {
        let v = self
            .chain()
            .read(
                &self.contract,
                "grants",
                vec![arg::u32(token_id), arg::u32(start), arg::u32(limit)],
            )
            .await?;
        vec_of(&v, "Vec<GrantInfo>", GrantRecord::from_sc_val)
    }

    /// Moves a token to the patient's new address (a key change): both the `old` and the
    /// `new` owner sign. Grants are kept; a grant the new address held on it is dropped.
    ///
    /// # Errors
    /// `SameOwner` (#222), `TokenNotFound` (#200), `NotOwner` (#201), `TokenNotActive`
    /// (#204) as simulation errors; [`Error::MissingSigner`]; submission errors.
    pub async fn rotate_owner(
        &self,
        key: &str,
        token_id: u32,
        old: &dyn Signer,
        new: &dyn Signer,
    ) -> Result<Landed> {
        let args = vec![
            arg::u32(token_id),
            arg::address(&old.address())?,
            arg::address(&new.address())?,
        ];
        self.call(key, old, "rotate_owner", args, &[old, new]).await
    }

    /// Consent state of a token: effective status (`Lapsed` included), when, and by whom.
    ///
    /// # Errors
    /// `TokenNotFound` (#200) as a simulation error; decoding errors.
    pub async fn consent_status(&self, token_id: u32) -> Result<Consent> {
        let v = self
            .chain()
            .read(&self.contract, "consent_status", vec![arg::u32(token_id)])
            .await?;
        Consent::from_sc_val(&v)
    }

    /// Active tokens owned by `owner`: up to `limit` (1..=50) ids from position `start`.
    ///
    /// # Errors
    /// `InvalidPageLimit` (#220) as a simulation error; decoding errors.
    pub async fn tokens_of(&self, owner: &str, start: u32, limit: u32) -> Result<Vec<u32>> {
        self.page("tokens_of", owner, start, limit).await
    }

    /// Pending (and lapsed, not yet rejected) tokens of `patient`, paginated like
    /// [`StudyToken::tokens_of`].
    ///
    /// # Errors
    /// As [`StudyToken::tokens_of`].
    pub async fn pending_of(&self, patient: &str, start: u32, limit: u32) -> Result<Vec<u32>> {
        self.page("pending_of", patient, start, limit).await
    }

    /// Tokens on which `grantee` holds a stored grant (not the issuer's implicit Viewer),
    /// paginated like [`StudyToken::tokens_of`].
    ///
    /// # Errors
    /// As [`StudyToken::tokens_of`].
    pub async fn shared_with(&self, grantee: &str, start: u32, limit: u32) -> Result<Vec<u32>> {
        self.page("shared_with", grantee, start, limit).await
    }

    async fn read_string(&self, function: &str, args: Vec<ScVal>) -> Result<String> {
        decode(&self.chain().read(&self.contract, function, args).await?)
    }

    async fn read_address(&self, function: &str, args: Vec<ScVal>) -> Result<String> {
        self.chain()
            .read_address(&self.contract, function, args)
            .await
    }

    /// SEP-0050: the collection name (the constructor's `name`).
    ///
    /// # Errors
    /// Simulation errors; decoding errors.
    pub async fn name(&self) -> Result<String> {
        self.read_string("name", vec![]).await
    }

    /// SEP-0050: the collection symbol (the constructor's `symbol`).
    ///
    /// # Errors
    /// Simulation errors; decoding errors.
    pub async fn symbol(&self) -> Result<String> {
        self.read_string("symbol", vec![]).await
    }

    /// SEP-0050: how many Active tokens `owner` holds.
    ///
    /// # Errors
    /// Simulation errors; decoding errors.
    pub async fn balance(&self, owner: &str) -> Result<u32> {
        decode(
            &self
                .chain()
                .read(&self.contract, "balance", vec![arg::address(owner)?])
                .await?,
        )
    }

    /// SEP-0050: the `ipfs://` URI of the token's encrypted metadata (any existing token,
    /// pending ones included).
    ///
    /// # Errors
    /// `TokenNotFound` (#200) as a simulation error; decoding errors.
    pub async fn token_uri(&self, token_id: u32) -> Result<String> {
        self.read_string("token_uri", vec![arg::u32(token_id)])
            .await
    }

    /// SEP-0050: the approved spender of a token; always `None` (approvals do not exist).
    ///
    /// # Errors
    /// Simulation errors; decoding errors.
    pub async fn get_approved(&self, token_id: u32) -> Result<Option<String>> {
        let v = self
            .chain()
            .read(&self.contract, "get_approved", vec![arg::u32(token_id)])
            .await?;
        Ok(decode::<Option<Address>>(&v)?.map(|a| a.0))
    }

    /// SEP-0050: whether `operator` may move all of `owner`'s tokens; always `false`.
    ///
    /// # Errors
    /// Simulation errors; decoding errors.
    pub async fn is_approved_for_all(&self, owner: &str, operator: &str) -> Result<bool> {
        decode(
            &self
                .chain()
                .read(
                    &self.contract,
                    "is_approved_for_all",
                    vec![arg::address(owner)?, arg::address(operator)?],
                )
                .await?,
        )
    }

    /// The window, in ledgers, in which a new pending release can be approved.
    ///
    /// # Errors
    /// Simulation errors; decoding errors.
    pub async fn pending_window(&self) -> Result<u32> {
        decode(
            &self
                .chain()
                .read(&self.contract, "pending_window", vec![])
                .await?,
        )
    }

    /// Sets the pending window for future releases, in ledgers (1..=483,840) (admin).
    ///
    /// # Errors
    /// `InvalidPendingWindow` (#221) as a simulation error; [`Error::MissingSigner`] if
    /// `admin` is not the admin; submission errors.
    pub async fn set_pending_window(
        &self,
        key: &str,
        admin: &dyn Signer,
        window: u32,
    ) -> Result<Landed> {
        self.call(
            key,
            admin,
            "set_pending_window",
            vec![arg::u32(window)],
            &[admin],
        )
        .await
    }

    /// The admin.
    ///
    /// # Errors
    /// Simulation errors; decoding errors.
    pub async fn admin(&self) -> Result<String> {
        self.read_address("admin", vec![]).await
    }

    /// The issuer registry this token asks whether an issuer is trusted.
    ///
    /// # Errors
    /// Simulation errors; decoding errors.
    pub async fn issuer_registry(&self) -> Result<String> {
        self.read_address("issuer_registry", vec![]).await
    }

    /// Sets how many pending releases one issuer may have outstanding for one patient
    /// (1..=1,000) (admin).
    ///
    /// # Errors
    /// `InvalidPendingCap` (#236) as a simulation error; [`Error::MissingSigner`] if `admin`
    /// is not the admin; submission errors.
    pub async fn set_pending_cap(&self, key: &str, admin: &dyn Signer, cap: u32) -> Result<Landed> {
        self.call(key, admin, "set_pending_cap", vec![arg::u32(cap)], &[admin])
            .await
    }

    /// Frees a squatted commitment (admin): the pending release holding it becomes Withdrawn
    /// and the commitment can be released again. Returns the withdrawn token's id.
    ///
    /// # Errors
    /// `CommitmentNotHeld` (#238) when no pending or active token holds it;
    /// `TokenNotPending` (#202) when an active one does; [`Error::MissingSigner`];
    /// submission errors.
    pub async fn clear_commitment(
        &self,
        key: &str,
        admin: &dyn Signer,
        commitment: &[u8; 32],
    ) -> Result<(u32, Landed)> {
        let args = vec![arg::bytes(commitment)?];
        let landed = self
            .call(key, admin, "clear_commitment", args, &[admin])
            .await?;
        Ok((Self::returned(&landed)?, landed))
    }

    /// How many pending releases one issuer may have outstanding for one patient.
    ///
    /// # Errors
    /// Simulation errors; decoding errors.
    pub async fn pending_cap(&self) -> Result<u32> {
        decode(
            &self
                .chain()
                .read(&self.contract, "pending_cap", vec![])
                .await?,
        )
    }

    /// Emergency stop of releases, grants and access recording (admin).
    ///
    /// # Errors
    /// `Paused` (#233) if already paused; [`Error::MissingSigner`]; submission errors.
    pub async fn pause(&self, key: &str, admin: &dyn Signer) -> Result<Landed> {
        self.call(key, admin, "pause", vec![], &[admin]).await
    }

    /// Ends the emergency stop (admin).
    ///
    /// # Errors
    /// `NotPaused` (#234) if not paused; [`Error::MissingSigner`]; submission errors.
    pub async fn unpause(&self, key: &str, admin: &dyn Signer) -> Result<Landed> {
        self.call(key, admin, "unpause", vec![], &[admin]).await
    }

    /// Whether the admin paused the contract.
    ///
    /// # Errors
    /// Simulation errors; decoding errors.
    pub async fn paused(&self) -> Result<bool> {
        decode(&self.chain().read(&self.contract, "paused", vec![]).await?)
    }

    // ----- emergency access, records requests, re-key and erasure (issue 17) -----

    /// Break-glass: the active trusted `issuer` opens an active token without the patient's
    /// consent for `hours` (`None`: 24; at most the admin's bound). Returns the Unix time
    /// the access ends.
    ///
    /// # Errors
    /// `InvalidEmergencyHours` (#239), `EmergencyRateLimited` (#240), `AlreadyHasAccess`
    /// (#243), `IssuerNotTrusted` (#205), `TokenNotActive` (#204), `TokenNotFound` (#200),
    /// `Paused` (#233) as simulation errors; submission errors.
    pub async fn emergency_access(
        &self,
        key: &str,
        issuer: &dyn Signer,
        token_id: u32,
        reason: EmergencyReason,
        hours: Option<u32>,
    ) -> Result<(u64, Landed)> {
        let args = vec![
            arg::address(&issuer.address())?,
            arg::u32(token_id),
            reason.to_sc_val()?,
            hours.map(arg::u32).unwrap_or(ScVal::Void),
        ];
        let landed = self
            .call(key, issuer, "emergency_access", args, &[issuer])
            .await?;
        Ok((Self::returned(&landed)?, landed))
    }

    /// Ends `issuer`'s emergency access to a token: the owner or the admin revokes it, the
    /// issuer renounces it.
    ///
    /// # Errors
    /// `EmergencyNotFound` (#242), `NotGranter` (#216), `TokenNotFound` (#200) as
    /// simulation errors; submission errors.
    pub async fn revoke_emergency(
        &self,
        key: &str,
        revoker: &dyn Signer,
        token_id: u32,
        issuer: &str,
    ) -> Result<Landed> {
        let args = vec![
            arg::address(&revoker.address())?,
            arg::u32(token_id),
            arg::address(issuer)?,
        ];
        self.call(key, revoker, "revoke_emergency", args, &[revoker])
            .await
    }

    /// The admin's bounds on emergency access.
    ///
    /// # Errors
    /// Simulation and decoding errors.
    pub async fn emergency_policy(&self) -> Result<EmergencyPolicy> {
        let v = self
            .chain()
            .read(&self.contract, "emergency_policy", vec![])
            .await?;
        EmergencyPolicy::from_sc_val(&v)
    }

    /// Sets the bounds on emergency access (admin).
    ///
    /// # Errors
    /// `InvalidEmergencyPolicy` (#241) as a simulation error; [`Error::MissingSigner`];
    /// submission errors.
    pub async fn set_emergency_policy(
        &self,
        key: &str,
        admin: &dyn Signer,
        policy: EmergencyPolicy,
    ) -> Result<Landed> {
        let args = vec![
            arg::u32(policy.max_hours),
            arg::u32(policy.limit),
            arg::u64(policy.window),
        ];
        self.call(key, admin, "set_emergency_policy", args, &[admin])
            .await
    }

    /// The active trusted `issuer` records a records request: `request_id` is 32 random
    /// bytes, `patient` the patient's address when known. No PHI reaches the chain.
    ///
    /// # Errors
    /// `InvalidRequestId` (#244), `DuplicateRequest` (#245), `IssuerNotTrusted` (#205),
    /// `Paused` (#233) as simulation errors; submission errors.
    pub async fn request_records(
        &self,
        key: &str,
        issuer: &dyn Signer,
        request_id: &[u8; 32],
        patient: Option<&str>,
    ) -> Result<Landed> {
        let args = vec![
            arg::address(&issuer.address())?,
            arg::bytes(request_id)?,
            match patient {
                Some(p) => arg::address(p)?,
                None => ScVal::Void,
            },
        ];
        self.call(key, issuer, "request_records", args, &[issuer])
            .await
    }

    /// The requesting issuer records that the records were released as `token_id`.
    ///
    /// # Errors
    /// `RequestNotFound` (#246), `NotRequester` (#247), `RequestFulfilled` (#248),
    /// `NotIssuer` (#226), `TokenNotFound` (#200) as simulation errors; submission errors.
    pub async fn fulfill_records_request(
        &self,
        key: &str,
        issuer: &dyn Signer,
        request_id: &[u8; 32],
        token_id: u32,
    ) -> Result<Landed> {
        let args = vec![
            arg::address(&issuer.address())?,
            arg::bytes(request_id)?,
            arg::u32(token_id),
        ];
        self.call(key, issuer, "fulfill_records_request", args, &[issuer])
            .await
    }

    /// The owner points an active token at a new encrypted metadata object (after a
    /// re-key); the commitment stays, so `verify` still holds.
    ///
    /// # Errors
    /// `NotOwner` (#201), `TokenNotActive` (#204), `InvalidMetadataUri` (#207),
    /// `TokenNotFound` (#200) as simulation errors; submission errors.
    pub async fn rekey(
        &self,
        key: &str,
        owner: &dyn Signer,
        token_id: u32,
        metadata_uri: &str,
    ) -> Result<Landed> {
        let args = vec![
            arg::address(&owner.address())?,
            arg::u32(token_id),
            arg::string(metadata_uri)?,
        ];
        self.call(key, owner, "rekey", args, &[owner]).await
    }

    /// The owner erases an active token (after its keys and files were deleted): terminal.
    ///
    /// # Errors
    /// `NotOwner` (#201), `TokenNotActive` (#204), `TokenNotFound` (#200) as simulation
    /// errors; submission errors.
    pub async fn erase(&self, key: &str, owner: &dyn Signer, token_id: u32) -> Result<Landed> {
        let args = vec![arg::address(&owner.address())?, arg::u32(token_id)];
        self.call(key, owner, "erase", args, &[owner]).await
    }

    super::admin::admin_functions!();
}

/// A token as the contract stores it (the fields callers need).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// Token id.
    pub id: u32,
    /// The patient who owns it.
    pub owner: String,
    /// The issuer who released it.
    pub issuer: String,
    /// Stored status: `Pending`, `Active`, `Rejected`, `Withdrawn` or `Erased`.
    pub status: String,
    /// `ipfs://…` of the encrypted metadata object.
    pub metadata_uri: String,
    /// Commitment to the checksum root of the original files.
    pub commitment: [u8; 32],
    /// How many files the root covers.
    pub file_count: u32,
    /// Ledger of the proposal or mint.
    pub minted_ledger: u32,
}

impl TokenRecord {
    /// Decodes the contract's `Token` struct.
    ///
    /// # Errors
    /// A value of another shape.
    pub fn from_sc_val(v: &ScVal) -> Result<Self> {
        let release = field(v, "release")?;
        Ok(Self {
            id: decode(field(v, "id")?)?,
            owner: decode::<Address>(field(v, "owner")?)?.0,
            issuer: decode::<Address>(field(v, "issuer")?)?.0,
            status: variant_name(field(v, "status")?)?,
            metadata_uri: decode(field(release, "metadata_uri")?)?,
            commitment: decode(field(release, "commitment")?)?,
            file_count: decode(field(release, "file_count")?)?,
            minted_ledger: decode(field(v, "minted_ledger")?)?,
        })
    }
}

/// One grant of a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRecord {
    /// Who holds it.
    pub grantee: String,
    /// Viewer or Sharer.
    pub role: Role,
    /// Unix time after which it ends.
    pub expires_at: Option<u64>,
    /// Who granted it.
    pub granter: String,
    /// Whether the granter was the owner when it granted (otherwise the grant lives no
    /// longer than its Sharer granter's access).
    pub by_owner: bool,
}

impl GrantRecord {
    /// Decodes the contract's `GrantInfo` struct.
    ///
    /// # Errors
    /// A value of another shape.
    pub fn from_sc_val(v: &ScVal) -> Result<Self> {
        Ok(Self {
            grantee: decode::<Address>(field(v, "grantee")?)?.0,
            role: Role::from_sc_val(field(v, "role")?)?,
            expires_at: decode(field(v, "expires_at")?)?,
            granter: decode::<Address>(field(v, "granter")?)?.0,
            by_owner: decode(field(v, "by_owner")?)?,
        })
    }
}

fn decode_access(v: &ScVal) -> Result<Option<Access>> {
    if matches!(v, ScVal::Void) {
        return Ok(None);
    }
    Ok(Some(Access {
        role: Role::from_sc_val(field(v, "role")?)?,
        expires_at: decode(field(v, "expires_at")?)?,
        granter: decode::<Address>(field(v, "granter")?)?.0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::contract_strkey;

    #[test]
    fn release_encodes_as_a_sorted_struct_with_optional_request_id() {
        let r = Release {
            metadata_uri: "ipfs://bafy".into(),
            commitment: [7; 32],
            file_count: 3,
            request_id: None,
        };
        let ScVal::Map(Some(m)) = r.to_sc_val().unwrap() else {
            panic!("not a map")
        };
        let keys: Vec<String> = m
            .iter()
            .map(|e| decode::<String>(&e.key).unwrap())
            .collect();
        assert_eq!(
            keys,
            ["commitment", "file_count", "metadata_uri", "request_id"]
        );
        assert_eq!(m[3].val, ScVal::Void);
        assert_eq!(decode::<[u8; 32]>(&m[0].val).unwrap(), [7; 32]);
    }

    #[test]
    fn enums_round_trip_and_unknown_variants_are_named() {
        for r in [Role::Owner, Role::Sharer, Role::Viewer] {
            assert_eq!(Role::from_sc_val(&r.to_sc_val().unwrap()).unwrap(), r);
        }
        let err = Role::from_sc_val(&unit_variant("Admin").unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("Admin") && err.contains("Role"), "{err}");
        assert_eq!(
            variant_name(&RejectReason::NotMine.to_sc_val().unwrap()).unwrap(),
            "NotMine"
        );
    }

    #[test]
    fn consent_decodes_lapsed_and_refuses_an_unknown_status() {
        let by = contract_strkey(&[4; 32]);
        let consent = |status: &str| {
            contract_struct(vec![
                ("status", unit_variant(status).unwrap()),
                ("ledger", arg::u32(10)),
                ("timestamp", arg::u64(1_700_000_000)),
                ("by", arg::address(&by).unwrap()),
            ])
            .unwrap()
        };
        assert_eq!(
            Consent::from_sc_val(&consent("Lapsed")).unwrap(),
            Consent {
                status: TokenStatus::Lapsed,
                ledger: 10,
                timestamp: 1_700_000_000,
                by: by.clone()
            }
        );
        let err = Consent::from_sc_val(&consent("Burnt")).unwrap_err();
        assert!(err.to_string().contains("Burnt"), "{err}");
    }

    #[test]
    fn issue_17_values_decode_and_refuse_other_shapes() {
        for r in [
            EmergencyReason::Unconscious,
            EmergencyReason::LifeThreatening,
            EmergencyReason::PatientUnreachable,
            EmergencyReason::Other,
        ] {
            assert_eq!(
                EmergencyReason::from_sc_val(&r.to_sc_val().unwrap()).unwrap(),
                r
            );
        }
        assert_eq!(
            TokenStatus::from_sc_val(&unit_variant("Erased").unwrap()).unwrap(),
            TokenStatus::Erased
        );
        let policy = ScVal::Vec(Some(
            vec![arg::u32(72), arg::u32(10), arg::u64(86_400)]
                .try_into()
                .unwrap(),
        ));
        assert_eq!(
            EmergencyPolicy::from_sc_val(&policy).unwrap(),
            EmergencyPolicy {
                max_hours: 72,
                limit: 10,
                window: 86_400
            }
        );
        let err = EmergencyPolicy::from_sc_val(&arg::u32(1)).unwrap_err();
        assert!(err.to_string().contains("(u32, u32, u64)"), "{err}");
    }

    #[test]
    fn access_decodes_from_the_contract_struct() {
        let granter = contract_strkey(&[3; 32]);
        let v = contract_struct(vec![
            ("role", Role::Viewer.to_sc_val().unwrap()),
            ("expires_at", arg::u64(99)),
            ("granter", arg::address(&granter).unwrap()),
        ])
        .unwrap();
        assert_eq!(
            decode_access(&v).unwrap(),
            Some(Access {
                role: Role::Viewer,
                expires_at: Some(99),
                granter
            })
        );
        assert_eq!(decode_access(&ScVal::Void).unwrap(), None);
    }
}
