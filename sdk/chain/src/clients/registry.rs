//! The suite registry contract: deploys the suite's members from uploaded WASM hashes at
//! deterministic addresses, records name → (contract id, WASM hash, version), lists them,
//! upgrades a member, and upgrades itself.

use stellar_xdr::ScVal;

use super::encode::{field, vec_of};
use super::errors::Named;
use crate::error::{Error, Result};
use crate::outcome::Landed;
use crate::relayer::Relayer;
use crate::scval::{arg, decode, Address};
use crate::signer::Signer;

/// A deployed member of the suite, as the registry records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Name under which it was deployed, e.g. `issuers` or `studies`.
    pub name: String,
    /// Its contract id (`C…`).
    pub contract: String,
    /// Hash of the WASM it currently runs.
    pub wasm_hash: [u8; 32],
    /// 1 at deployment, incremented by each upgrade through the registry.
    pub version: u32,
    /// Position in the enumeration `members` pages through.
    pub index: u32,
}

impl Member {
    /// Decodes the contract's `Member` struct.
    ///
    /// # Errors
    /// A value of another shape.
    pub fn from_sc_val(v: &ScVal) -> Result<Self> {
        Ok(Self {
            name: decode(field(v, "name")?)?,
            contract: decode::<Address>(field(v, "contract")?)?.0,
            wasm_hash: decode(field(v, "wasm_hash")?)?,
            version: decode(field(v, "version")?)?,
            index: decode(field(v, "index")?)?,
        })
    }
}

/// A suite registry contract reached through a relayer.
#[derive(Debug)]
pub struct SuiteRegistry<'r> {
    relayer: &'r Relayer,
    contract: String,
}

impl<'r> SuiteRegistry<'r> {
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

    fn returned<T: crate::scval::FromScVal>(landed: &Landed) -> Result<T> {
        decode(landed.return_value.as_ref().ok_or(Error::Decode {
            expected: "a return value",
            got: "none".into(),
        })?)
    }

    /// Deploys the uploaded WASM `wasm_hash` as member `name` (a Soroban symbol) with
    /// `constructor_args`, at [`SuiteRegistry::address_of`]`(name)` (admin). Returns the
    /// member's contract id.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a name that is not a symbol; `MemberExists` (#300) as
    /// a simulation error; [`Error::MissingSigner`] if `admin` is not the admin; submission
    /// errors.
    pub async fn deploy(
        &self,
        key: &str,
        admin: &dyn Signer,
        name: &str,
        wasm_hash: &[u8; 32],
        constructor_args: Vec<ScVal>,
    ) -> Result<(String, Landed)> {
        let args = vec![
            arg::symbol(name)?,
            arg::bytes(wasm_hash)?,
            arg::vec(constructor_args)?,
        ];
        let landed = self
            .chain()
            .invoke(
                key,
                &admin.address(),
                &self.contract,
                "deploy",
                args,
                &[admin],
            )
            .await?;
        Ok((Self::returned::<Address>(&landed)?.0, landed))
    }

    /// The contract id member `name` has, or will have once deployed (deterministic).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a name that is not a symbol; simulation errors.
    pub async fn address_of(&self, name: &str) -> Result<String> {
        let v = self
            .chain()
            .read(&self.contract, "address_of", vec![arg::symbol(name)?])
            .await?;
        Ok(decode::<Address>(&v)?.0)
    }

    /// Upgrades member `name` to the uploaded WASM `wasm_hash` through the member's own
    /// `upgrade` (admin); returns its new version. The member's admin authorizes the nested
    /// call: in a standard deployment that is `admin` itself; otherwise pass it as
    /// `member_admin`.
    ///
    /// # Errors
    /// `MemberNotFound` (#301) as a simulation error; a host error if the hash was not
    /// uploaded; [`Error::MissingSigner`] for a missing admin; submission errors.
    pub async fn upgrade_member(
        &self,
        key: &str,
        admin: &dyn Signer,
        member_admin: Option<&dyn Signer>,
        name: &str,
        wasm_hash: &[u8; 32],
    ) -> Result<(u32, Landed)> {
        let args = vec![arg::symbol(name)?, arg::bytes(wasm_hash)?];
        let mut signers: Vec<&dyn Signer> = vec![admin];
        signers.extend(member_admin);
        let landed = self
            .chain()
            .invoke(
                key,
                &admin.address(),
                &self.contract,
                "upgrade_member",
                args,
                &signers,
            )
            .await?;
        Ok((Self::returned(&landed)?, landed))
    }

    /// Member `name`: contract id, WASM hash, version, position.
    ///
    /// # Errors
    /// `MemberNotFound` (#301) as a simulation error; decoding errors.
    pub async fn member(&self, name: &str) -> Result<Member> {
        let v = self
            .chain()
            .read(&self.contract, "member", vec![arg::symbol(name)?])
            .await?;
        Member::from_sc_val(&v)
    }

    /// Up to `limit` (1..=50) members from position `start`, in deployment order; empty past
    /// the end.
    ///
    /// # Errors
    /// `InvalidPageLimit` (#302) as a simulation error; decoding errors.
    pub async fn members(&self, start: u32, limit: u32) -> Result<Vec<Member>> {
        let v = self
            .chain()
            .read(
                &self.contract,
                "members",
                vec![arg::u32(start), arg::u32(limit)],
            )
            .await?;
        vec_of(&v, "Vec<Member>", Member::from_sc_val)
    }

    /// The admin.
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
    use crate::address::contract_strkey;
    use crate::clients::contract_struct;

    #[test]
    fn member_decodes_from_the_contract_struct_and_refuses_other_shapes() {
        let contract = contract_strkey(&[5; 32]);
        let v = contract_struct(vec![
            ("name", arg::symbol("studies").unwrap()),
            ("contract", arg::address(&contract).unwrap()),
            ("wasm_hash", arg::bytes(&[8; 32]).unwrap()),
            ("version", arg::u32(2)),
            ("index", arg::u32(1)),
        ])
        .unwrap();
        assert_eq!(
            Member::from_sc_val(&v).unwrap(),
            Member {
                name: "studies".into(),
                contract,
                wasm_hash: [8; 32],
                version: 2,
                index: 1,
            }
        );
        let short = contract_struct(vec![("name", arg::symbol("x").unwrap())]).unwrap();
        assert!(matches!(
            Member::from_sc_val(&short),
            Err(Error::Decode { .. })
        ));
        assert!(matches!(
            Member::from_sc_val(&arg::u32(1)),
            Err(Error::Decode { .. })
        ));
    }
}
