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

/// The largest page the issuer registry's `issuers` returns (the contract's `MAX_PAGE`: a full
/// page fits the network's 16 KiB limit on a transaction's return value).
pub const ISSUERS_PAGE: u32 = 32;

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

    /// A page of issuers in registration order (`limit` ≤ [`ISSUERS_PAGE`]).
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

    super::admin::admin_functions!();
}

#[cfg(test)]
mod tests {
    use super::*;

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
