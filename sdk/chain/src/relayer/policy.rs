//! What the relayer agrees to pay for: the suite's own contracts and allowlisted functions,
//! a fee cap per transaction and a spend cap per user per day.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use stellar_xdr::HostFunction;

use crate::address::address_string;

/// Why the relayer refused a request. Shown to callers as is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The call targets a contract outside the suite.
    #[error("contract {0} is not one of the suite's contracts")]
    UnknownContract(String),
    /// The contract is known but the function is not allowlisted.
    #[error("function {function} of contract {contract} is not allowlisted")]
    FunctionNotAllowed {
        /// The contract.
        contract: String,
        /// The function that was asked for.
        function: String,
    },
    /// Uploading code or creating contracts is an admin action, off unless enabled.
    #[error("deploying contracts through the relayer is not allowed")]
    DeployNotAllowed,
    /// The transaction would cost more than the per-transaction cap.
    #[error("fee of {fee} stroops exceeds the cap of {cap} per transaction")]
    FeeCap {
        /// The fee the transaction needs.
        fee: i64,
        /// The cap.
        cap: i64,
    },
    /// The user's spend today would pass the daily cap.
    #[error("{user} would spend {would} stroops today, over the daily cap of {cap}")]
    DailySpend {
        /// On whose behalf.
        user: String,
        /// Spend today including this transaction.
        would: i64,
        /// The cap.
        cap: i64,
    },
    /// A request key names one request; it was reused for a different one.
    #[error("request key {0:?} was already used for a different request")]
    KeyReused(String),
    /// Another submission with the same request key is running.
    #[error("request key {0:?} is being submitted right now; retry when it finished")]
    InFlight(String),
}

/// The relayer's policy.
#[derive(Clone, Debug)]
pub struct Policy {
    contracts: BTreeMap<String, BTreeSet<String>>,
    /// Highest total fee (stroops) the sponsor pays for one transaction.
    pub max_fee_per_tx: i64,
    /// Highest total of fees (stroops) the sponsor pays for one user in a UTC day.
    pub max_spend_per_user_per_day: i64,
    /// Whether code upload and contract creation may be relayed (admin deployments).
    pub allow_deploy: bool,
}

impl Policy {
    /// A policy that allows nothing yet, with the given caps.
    pub fn new(max_fee_per_tx: i64, max_spend_per_user_per_day: i64) -> Self {
        Self {
            contracts: BTreeMap::new(),
            max_fee_per_tx,
            max_spend_per_user_per_day,
            allow_deploy: false,
        }
    }

    /// Allows `functions` of `contract` (a `C…` id).
    pub fn allow(mut self, contract: &str, functions: &[&str]) -> Self {
        self.contracts
            .entry(contract.to_string())
            .or_default()
            .extend(functions.iter().map(|f| f.to_string()));
        self
    }

    /// Allows code upload and contract creation.
    pub fn with_deploy(mut self) -> Self {
        self.allow_deploy = true;
        self
    }

    /// Checks what a transaction would do.
    ///
    /// # Errors
    /// The [`Refusal`] saying what is not allowed.
    pub fn check(&self, function: &HostFunction) -> Result<(), Refusal> {
        match function {
            HostFunction::InvokeContract(args) => {
                let contract = address_string(&args.contract_address);
                let name = args.function_name.to_utf8_string_lossy();
                let Some(allowed) = self.contracts.get(&contract) else {
                    return Err(Refusal::UnknownContract(contract));
                };
                if !allowed.contains(&name) {
                    return Err(Refusal::FunctionNotAllowed {
                        contract,
                        function: name,
                    });
                }
                Ok(())
            }
            _ if self.allow_deploy => Ok(()),
            _ => Err(Refusal::DeployNotAllowed),
        }
    }

    /// Checks a fee against the per-transaction cap.
    ///
    /// # Errors
    /// [`Refusal::FeeCap`].
    pub fn check_fee(&self, fee: i64) -> Result<(), Refusal> {
        if fee > self.max_fee_per_tx {
            return Err(Refusal::FeeCap {
                fee,
                cap: self.max_fee_per_tx,
            });
        }
        Ok(())
    }
}

/// Fees charged per user per UTC day. A fee is reserved before sending (so concurrent
/// requests cannot overshoot the cap together) and settled to what was charged.
#[derive(Debug, Default)]
pub struct SpendBook {
    spent: HashMap<(String, u64), i64>,
}

impl SpendBook {
    /// Reserves `fee` for `user` on `day` unless that passes `cap`.
    ///
    /// # Errors
    /// [`Refusal::DailySpend`].
    pub fn reserve(&mut self, user: &str, day: u64, fee: i64, cap: i64) -> Result<(), Refusal> {
        let entry = self.spent.entry((user.to_string(), day)).or_default();
        let would = *entry + fee;
        if would > cap {
            return Err(Refusal::DailySpend {
                user: user.to_string(),
                would,
                cap,
            });
        }
        *entry = would;
        Ok(())
    }

    /// Replaces a reservation by what was actually charged (0 when nothing was).
    pub fn settle(&mut self, user: &str, day: u64, reserved: i64, charged: i64) {
        if let Some(v) = self.spent.get_mut(&(user.to_string(), day)) {
            *v = (*v - reserved + charged).max(0);
        }
    }

    /// What `user` spent (or has reserved) on `day`.
    pub fn spent(&self, user: &str, day: u64) -> i64 {
        self.spent
            .get(&(user.to_string(), day))
            .copied()
            .unwrap_or(0)
    }
}

/// Where the relayer keeps [`SpendBook`]'s figures: [`MemorySpendStore`] for one process; a
/// database (`medimint_storage::RelayerDb`) when several processes relay for the same users,
/// so the daily cap holds across them.
#[async_trait::async_trait]
pub trait SpendStore: Send + Sync {
    /// Reserves `fee` for `user` on `day` unless that passes `cap`, atomically.
    ///
    /// # Errors
    /// [`crate::Error::Refused`] with [`Refusal::DailySpend`]; [`crate::Error::Store`].
    async fn reserve(&self, user: &str, day: u64, fee: i64, cap: i64) -> crate::Result<()>;

    /// Replaces a reservation by what was actually charged (0 when nothing was).
    ///
    /// # Errors
    /// [`crate::Error::Store`].
    async fn settle(&self, user: &str, day: u64, reserved: i64, charged: i64) -> crate::Result<()>;

    /// What `user` spent (or has reserved) on `day`.
    ///
    /// # Errors
    /// [`crate::Error::Store`].
    async fn spent(&self, user: &str, day: u64) -> crate::Result<i64>;
}

/// A [`SpendStore`] in process memory.
#[derive(Debug, Default)]
pub struct MemorySpendStore {
    book: std::sync::Mutex<SpendBook>,
}

impl MemorySpendStore {
    fn book(&self) -> std::sync::MutexGuard<'_, SpendBook> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl SpendStore for MemorySpendStore {
    async fn reserve(&self, user: &str, day: u64, fee: i64, cap: i64) -> crate::Result<()> {
        Ok(self.book().reserve(user, day, fee, cap)?)
    }

    async fn settle(&self, user: &str, day: u64, reserved: i64, charged: i64) -> crate::Result<()> {
        self.book().settle(user, day, reserved, charged);
        Ok(())
    }

    async fn spent(&self, user: &str, day: u64) -> crate::Result<i64> {
        Ok(self.book().spent(user, day))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::contract_strkey;
    use crate::tx::{create_contract, invoke_contract, upload_wasm};

    #[test]
    fn only_allowlisted_functions_of_suite_contracts_pass() {
        let c = contract_strkey(&[1; 32]);
        let other = contract_strkey(&[2; 32]);
        let p = Policy::new(1_000, 10_000).allow(&c, &["approve", "share"]);
        assert_eq!(
            p.check(&invoke_contract(&c, "approve", vec![]).unwrap()),
            Ok(())
        );
        assert_eq!(
            p.check(&invoke_contract(&c, "upgrade", vec![]).unwrap()),
            Err(Refusal::FunctionNotAllowed {
                contract: c.clone(),
                function: "upgrade".into()
            })
        );
        assert_eq!(
            p.check(&invoke_contract(&other, "approve", vec![]).unwrap()),
            Err(Refusal::UnknownContract(other))
        );
        assert_eq!(
            p.check(&upload_wasm(b"\0asm").unwrap()),
            Err(Refusal::DeployNotAllowed)
        );
        let g = stellar_strkey::ed25519::PublicKey([3; 32]).to_string();
        let create = create_contract(&g, [0; 32], [0; 32], vec![]).unwrap();
        assert_eq!(p.clone().with_deploy().check(&create), Ok(()));
        assert_eq!(
            p.check_fee(1_001),
            Err(Refusal::FeeCap {
                fee: 1_001,
                cap: 1_000
            })
        );
        assert_eq!(p.check_fee(1_000), Ok(()));
    }

    #[test]
    fn daily_spend_is_capped_per_user_and_day_and_settles_to_the_charge() {
        let mut book = SpendBook::default();
        book.reserve("alice", 1, 600, 1_000).unwrap();
        assert!(matches!(
            book.reserve("alice", 1, 500, 1_000),
            Err(Refusal::DailySpend { would: 1_100, .. })
        ));
        // Another user and another day are separate.
        book.reserve("bob", 1, 900, 1_000).unwrap();
        book.reserve("alice", 2, 900, 1_000).unwrap();
        // Only 100 of the 600 reserved was charged: room for 900 more.
        book.settle("alice", 1, 600, 100);
        assert_eq!(book.spent("alice", 1), 100);
        book.reserve("alice", 1, 900, 1_000).unwrap();
        assert_eq!(book.spent("alice", 1), 1_000);
    }
}
