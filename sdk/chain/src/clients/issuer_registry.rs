//! The issuer-registry contract: the admin-managed whitelist of trusted issuers, its
//! two-step admin transfer and its upgrade.

use stellar_xdr::ScVal;

use super::encode::{contract_struct, field, unit_variant, variant_name, vec_of};
use super::errors::Named;
use super::study_token::unit_enum;
use crate::error::{Error, Result};
use crate::outcome::Landed;
use crate::relayer::Relayer;
use crate::scval::{arg, decode, Address};
use crate::signer::Signer;

unit_enum!(
    /// What kind of organisation an issuer is.
    IssuerKind {
        /// A hospital.
        Hospital,
        /// An imaging centre.
        ImagingCentre,
        /// A physician's practice.
        Physician,
        /// A laboratory.
        Laboratory,
    }
);

/// An issuer's public profile: no PHI, a commitment to off-chain evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerProfile {
    /// Display name (1..=64 bytes).
    pub name: String,
    /// Kind of issuer.
    pub kind: IssuerKind,
    /// Jurisdiction code, e.g. `US-CA`.
    pub jurisdiction: String,
    /// Commitment (e.g. an HMAC) to the verification evidence; not all zero.
    pub evidence: [u8; 32],
}

impl IssuerProfile {
    fn to_sc_val(&self) -> Result<ScVal> {
        contract_struct(vec![
            ("name", arg::string(&self.name)?),
            ("kind", self.kind.to_sc_val()?),
            ("jurisdiction", arg::string(&self.jurisdiction)?),
            ("evidence", arg::bytes(&self.evidence)?),
        ])
    }
}

/// An issuer as the registry holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerRecord {
    /// The issuer's address.
    pub address: String,
    /// `Active` or `Suspended`.
    pub status: String,
    /// Display name.
    pub name: String,
    /// Kind of issuer.
    pub kind: IssuerKind,
    /// Jurisdiction code.
    pub jurisdiction: String,
    /// Commitment to the off-chain verification evidence.
    pub evidence: [u8; 32],
    /// Ledger of registration.
    pub added_ledger: u32,
    /// Ledger of the last change.
    pub changed_ledger: u32,
}

impl IssuerRecord {
    /// Decodes the contract's `Issuer` struct.
    ///
    /// # Errors
    /// A value of another shape.
    pub fn from_sc_val(v: &ScVal) -> Result<Self> {
        let profile = field(v, "profile")?;
        Ok(Self {
            address: decode::<Address>(field(v, "address")?)?.0,
            status: variant_name(field(v, "status")?)?,
            name: decode(field(profile, "name")?)?,
            kind: IssuerKind::from_sc_val(field(profile, "kind")?)?,
            jurisdiction: decode(field(profile, "jurisdiction")?)?,
            evidence: decode(field(profile, "evidence")?)?,
            added_ledger: decode(field(v, "added_ledger")?)?,
            changed_ledger: decode(field(v, "changed_ledger")?)?,
        })
    }
}

/// An admin transfer proposed but not yet accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingAdmin {
    /// The proposed new admin.
    pub admin: String,
    /// Last ledger at which `accept_admin` succeeds.
    pub live_until_ledger: u32,
}

impl PendingAdmin {
    /// Decodes the contract's `PendingAdmin` struct.
    ///
    /// # Errors
    /// A value of another shape.
    pub fn from_sc_val(v: &ScVal) -> Result<Self> {
        Ok(Self {
            admin: decode::<Address>(field(v, "admin")?)?.0,
            live_until_ledger: decode(field(v, "live_until_ledger")?)?,
        })
    }
}

/// An issuer-registry contract reached through a relayer.
#[derive(Debug)]
pub struct IssuerRegistry<'r> {
    relayer: &'r Relayer,
    contract: String,
}

impl<'r> IssuerRegistry<'r> {
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

    async fn admin_call(
        &self,
        key: &str,
        admin: &dyn Signer,
        function: &str,
        address: &str,
        extra: Vec<ScVal>,
    ) -> Result<Landed> {
        let mut args = vec![arg::address(address)?];
        args.extend(extra);
        self.chain()
            .invoke(
                key,
                &admin.address(),
                &self.contract,
                function,
                args,
                &[admin],
            )
            .await
    }

    /// Whitelists `issuer` with `profile` (admin).
    ///
    /// # Errors
    /// Contract errors (e.g. `IssuerExists`) as simulation errors; submission errors.
    pub async fn add_issuer(
        &self,
        key: &str,
        admin: &dyn Signer,
        issuer: &str,
        profile: &IssuerProfile,
    ) -> Result<Landed> {
        self.admin_call(key, admin, "add_issuer", issuer, vec![profile.to_sc_val()?])
            .await
    }

    /// Suspends `issuer` (admin).
    ///
    /// # Errors
    /// As [`IssuerRegistry::add_issuer`].
    pub async fn suspend_issuer(
        &self,
        key: &str,
        admin: &dyn Signer,
        issuer: &str,
    ) -> Result<Landed> {
        self.admin_call(key, admin, "suspend_issuer", issuer, vec![])
            .await
    }

    /// Reinstates a suspended `issuer` (admin).
    ///
    /// # Errors
    /// As [`IssuerRegistry::add_issuer`].
    pub async fn reinstate_issuer(
        &self,
        key: &str,
        admin: &dyn Signer,
        issuer: &str,
    ) -> Result<Landed> {
        self.admin_call(key, admin, "reinstate_issuer", issuer, vec![])
            .await
    }

    /// Whether `issuer` is whitelisted and active.
    ///
    /// # Errors
    /// Simulation errors.
    pub async fn is_trusted(&self, issuer: &str) -> Result<bool> {
        decode(
            &self
                .chain()
                .read(&self.contract, "is_trusted", vec![arg::address(issuer)?])
                .await?,
        )
    }

    /// Removes an issuer from the registry (admin). Tokens it released stay valid.
    ///
    /// # Errors
    /// `IssuerNotFound` (#101); relayer errors.
    pub async fn remove_issuer(
        &self,
        key: &str,
        admin: &dyn Signer,
        issuer: &str,
    ) -> Result<Landed> {
        self.admin_call(key, admin, "remove_issuer", issuer, vec![])
            .await
    }

    /// One issuer's record.
    ///
    /// # Errors
    /// `IssuerNotFound` (#101) as a simulation error; decoding errors.
    pub async fn issuer(&self, issuer: &str) -> Result<IssuerRecord> {
        let v = self
            .chain()
            .read(&self.contract, "issuer", vec![arg::address(issuer)?])
            .await?;
        IssuerRecord::from_sc_val(&v)
    }

    /// A page of issuers in registration order (`limit` ≤ 50).
    ///
    /// # Errors
    /// `InvalidPageLimit`; decoding errors.
    pub async fn issuers(&self, start: u32, limit: u32) -> Result<Vec<IssuerRecord>> {
        let v = self
            .chain()
            .read(
                &self.contract,
                "issuers",
                vec![arg::u32(start), arg::u32(limit)],
            )
            .await?;
        vec_of(&v, "Vec<Issuer>", IssuerRecord::from_sc_val)
    }

    /// How many issuers are registered.
    ///
    /// # Errors
    /// Simulation errors.
    pub async fn issuer_count(&self) -> Result<u32> {
        decode(
            &self
                .chain()
                .read(&self.contract, "issuer_count", vec![])
                .await?,
        )
    }

    /// The current admin.
    ///
    /// # Errors
    /// Simulation errors; decoding errors.
    pub async fn admin(&self) -> Result<String> {
        self.chain()
            .read_address(&self.contract, "admin", vec![])
            .await
    }

    /// The admin transfer awaiting acceptance, if any.
    ///
    /// # Errors
    /// Simulation errors; decoding errors.
    pub async fn pending_admin(&self) -> Result<Option<PendingAdmin>> {
        let v = self
            .chain()
            .read(&self.contract, "pending_admin", vec![])
            .await?;
        match v {
            ScVal::Void => Ok(None),
            other => PendingAdmin::from_sc_val(&other).map(Some),
        }
    }

    /// First step of an admin transfer: proposes `new_admin`, who must accept by ledger
    /// `live_until_ledger` (admin). A new proposal replaces an earlier one.
    ///
    /// # Errors
    /// `InvalidExpiry` (#108) as a simulation error; [`Error::MissingSigner`] if `admin` is
    /// not the admin; submission errors.
    pub async fn propose_admin(
        &self,
        key: &str,
        admin: &dyn Signer,
        new_admin: &str,
        live_until_ledger: u32,
    ) -> Result<Landed> {
        self.admin_call(
            key,
            admin,
            "propose_admin",
            new_admin,
            vec![arg::u32(live_until_ledger)],
        )
        .await
    }

    /// Second step of an admin transfer: the proposed admin accepts before the expiry.
    ///
    /// # Errors
    /// `NoPendingAdmin` (#106), `AdminTransferExpired` (#107) as simulation errors;
    /// [`Error::MissingSigner`] if `new_admin` is not the proposed admin; submission errors.
    pub async fn accept_admin(&self, key: &str, new_admin: &dyn Signer) -> Result<Landed> {
        self.chain()
            .invoke(
                key,
                &new_admin.address(),
                &self.contract,
                "accept_admin",
                vec![],
                &[new_admin],
            )
            .await
    }

    /// Replaces the contract's code with the uploaded WASM `wasm_hash` (admin).
    ///
    /// # Errors
    /// A host error if the hash was not uploaded; [`Error::MissingSigner`] if `admin` is not
    /// the admin; submission errors.
    pub async fn upgrade(
        &self,
        key: &str,
        admin: &dyn Signer,
        wasm_hash: &[u8; 32],
    ) -> Result<Landed> {
        self.chain()
            .upgrade(&self.contract, key, admin, wasm_hash)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::contract_strkey;

    #[test]
    fn pending_admin_decodes_and_refuses_other_shapes() {
        let admin = contract_strkey(&[6; 32]);
        let v = contract_struct(vec![
            ("admin", arg::address(&admin).unwrap()),
            ("live_until_ledger", arg::u32(77)),
        ])
        .unwrap();
        assert_eq!(
            PendingAdmin::from_sc_val(&v).unwrap(),
            PendingAdmin {
                admin,
                live_until_ledger: 77
            }
        );
        let wrong = contract_struct(vec![("admin", arg::u32(1))]).unwrap();
        assert!(matches!(
            PendingAdmin::from_sc_val(&wrong),
            Err(Error::Decode { .. })
        ));
    }

    #[test]
    fn profile_encodes_as_the_contract_struct() {
        let p = IssuerProfile {
            name: "General".into(),
            kind: IssuerKind::ImagingCentre,
            jurisdiction: "DE".into(),
            evidence: [1; 32],
        };
        let ScVal::Map(Some(m)) = p.to_sc_val().unwrap() else {
            panic!("not a map")
        };
        let keys: Vec<String> = m
            .iter()
            .map(|e| decode::<String>(&e.key).unwrap())
            .collect();
        assert_eq!(keys, ["evidence", "jurisdiction", "kind", "name"]);
        assert_eq!(
            IssuerKind::from_sc_val(&m[2].val).unwrap(),
            IssuerKind::ImagingCentre
        );
    }
}
