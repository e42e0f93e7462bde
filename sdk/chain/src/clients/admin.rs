//! The administration every suite contract shares (`contracts/common/admin.rs`): the
//! two-step admin transfer with cancel and bounded expiry, and upgrades through a timelock.
//! [`admin_functions!`] gives each typed client the same client functions for them.

use stellar_xdr::ScVal;

use super::encode::field;
use crate::error::Result;
use crate::scval::{decode, Address};

/// An admin transfer proposed but not yet accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingAdmin {
    /// The proposed new admin.
    pub admin: String,
    /// Last ledger at which `accept_admin` succeeds.
    pub live_until_ledger: u32,
}

impl PendingAdmin {
    /// Decodes the contracts' `PendingAdmin` struct.
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

/// An upgrade waiting for its delay to pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledUpgrade {
    /// Hash of the uploaded WASM the contract will run.
    pub wasm_hash: [u8; 32],
    /// First ledger at which `upgrade` may run it.
    pub ready_ledger: u32,
}

impl ScheduledUpgrade {
    /// Decodes the contracts' `ScheduledUpgrade` struct.
    ///
    /// # Errors
    /// A value of another shape.
    pub fn from_sc_val(v: &ScVal) -> Result<Self> {
        Ok(Self {
            wasm_hash: decode(field(v, "wasm_hash")?)?,
            ready_ledger: decode(field(v, "ready_ledger")?)?,
        })
    }
}

/// `None` for `Void`, else the decoded value.
pub(crate) fn optional<T>(v: ScVal, f: impl Fn(&ScVal) -> Result<T>) -> Result<Option<T>> {
    match v {
        ScVal::Void => Ok(None),
        other => f(&other).map(Some),
    }
}

/// The shared admin client functions, inside `impl` of a client with `chain()` and
/// `contract`.
macro_rules! admin_functions {
    () => {
        /// The admin transfer awaiting acceptance, if any (none once expired).
        ///
        /// # Errors
        /// Simulation errors; decoding errors.
        pub async fn pending_admin(&self) -> Result<Option<super::admin::PendingAdmin>> {
            let v = self
                .chain()
                .read(&self.contract, "pending_admin", vec![])
                .await?;
            super::admin::optional(v, super::admin::PendingAdmin::from_sc_val)
        }

        /// First step of an admin transfer: proposes `new_admin`, who must accept by ledger
        /// `live_until_ledger` (in the future, within the network's maximum TTL) (admin). A
        /// new proposal replaces an earlier one.
        ///
        /// # Errors
        /// `InvalidExpiry` as a simulation error; [`Error::MissingSigner`] if `admin` is not
        /// the admin; submission errors.
        pub async fn propose_admin(
            &self,
            key: &str,
            admin: &dyn Signer,
            new_admin: &str,
            live_until_ledger: u32,
        ) -> Result<Landed> {
            let args = vec![arg::address(new_admin)?, arg::u32(live_until_ledger)];
            self.chain()
                .invoke(
                    key,
                    &admin.address(),
                    &self.contract,
                    "propose_admin",
                    args,
                    &[admin],
                )
                .await
        }

        /// Withdraws the pending admin transfer (admin).
        ///
        /// # Errors
        /// `NoPendingAdmin` as a simulation error; [`Error::MissingSigner`]; submission errors.
        pub async fn cancel_admin(&self, key: &str, admin: &dyn Signer) -> Result<Landed> {
            self.chain()
                .invoke(
                    key,
                    &admin.address(),
                    &self.contract,
                    "cancel_admin",
                    vec![],
                    &[admin],
                )
                .await
        }

        /// Second step of an admin transfer: the proposed admin accepts before the expiry.
        ///
        /// # Errors
        /// `NoPendingAdmin`, `AdminTransferExpired` as simulation errors;
        /// [`Error::MissingSigner`] if `new_admin` is not the proposed admin; submission
        /// errors.
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

        /// Schedules an upgrade to the uploaded WASM `wasm_hash`, runnable after the
        /// contract's upgrade delay (admin).
        ///
        /// # Errors
        /// [`Error::MissingSigner`] if `admin` is not the admin; submission and decoding
        /// errors.
        pub async fn schedule_upgrade(
            &self,
            key: &str,
            admin: &dyn Signer,
            wasm_hash: &[u8; 32],
        ) -> Result<(super::admin::ScheduledUpgrade, Landed)> {
            let args = vec![arg::bytes(wasm_hash)?];
            let landed = self
                .chain()
                .invoke(
                    key,
                    &admin.address(),
                    &self.contract,
                    "schedule_upgrade",
                    args,
                    &[admin],
                )
                .await?;
            let plan = super::admin::ScheduledUpgrade::from_sc_val(
                landed.return_value.as_ref().ok_or(Error::Decode {
                    expected: "a return value",
                    got: "none".into(),
                })?,
            )?;
            Ok((plan, landed))
        }

        /// Cancels the scheduled upgrade (admin).
        ///
        /// # Errors
        /// `NoScheduledUpgrade` as a simulation error; [`Error::MissingSigner`]; submission
        /// errors.
        pub async fn cancel_upgrade(&self, key: &str, admin: &dyn Signer) -> Result<Landed> {
            self.chain()
                .invoke(
                    key,
                    &admin.address(),
                    &self.contract,
                    "cancel_upgrade",
                    vec![],
                    &[admin],
                )
                .await
        }

        /// The upgrade waiting for its delay, if any.
        ///
        /// # Errors
        /// Simulation errors; decoding errors.
        pub async fn scheduled_upgrade(&self) -> Result<Option<super::admin::ScheduledUpgrade>> {
            let v = self
                .chain()
                .read(&self.contract, "scheduled_upgrade", vec![])
                .await?;
            super::admin::optional(v, super::admin::ScheduledUpgrade::from_sc_val)
        }

        /// The delay, in ledgers, between scheduling an upgrade and running it.
        ///
        /// # Errors
        /// Simulation errors; decoding errors.
        pub async fn upgrade_delay(&self) -> Result<u32> {
            decode(
                &self
                    .chain()
                    .read(&self.contract, "upgrade_delay", vec![])
                    .await?,
            )
        }

        /// Runs the scheduled upgrade to `wasm_hash` once its delay has passed (admin).
        ///
        /// # Errors
        /// `NoScheduledUpgrade`, `UpgradeNotReady` as simulation errors;
        /// [`Error::MissingSigner`] if `admin` is not the admin; submission errors.
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
    };
}
pub(crate) use admin_functions;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::contract_strkey;
    use crate::clients::contract_struct;
    use crate::scval::arg;
    use crate::Error;

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
    fn scheduled_upgrade_decodes_and_void_is_none() {
        let v = contract_struct(vec![
            ("wasm_hash", arg::bytes(&[5; 32]).unwrap()),
            ("ready_ledger", arg::u32(9)),
        ])
        .unwrap();
        assert_eq!(
            optional(v, ScheduledUpgrade::from_sc_val).unwrap(),
            Some(ScheduledUpgrade {
                wasm_hash: [5; 32],
                ready_ledger: 9
            })
        );
        assert_eq!(
            optional(ScVal::Void, ScheduledUpgrade::from_sc_val).unwrap(),
            None
        );
    }
}
