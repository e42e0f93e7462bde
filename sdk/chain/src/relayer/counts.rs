//! What a relayer submitted since it was made: transactions that landed, transactions
//! applied and failed, and the fees charged for them, for the Lambdas' metrics (CloudWatch
//! embedded metric format) and `medimint status`. Counters only: nothing about who asked.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The relayer's running counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    landed: AtomicU64,
    failed: AtomicU64,
    fees: AtomicI64,
}

impl Counters {
    /// A transaction landed with `fee` stroops charged.
    pub(crate) fn landed(&self, fee: i64) {
        self.landed.fetch_add(1, Ordering::Relaxed);
        self.fees.fetch_add(fee, Ordering::Relaxed);
    }

    /// A transaction was applied and failed, `fee` stroops charged.
    pub(crate) fn failed(&self, fee: i64) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.fees.fetch_add(fee, Ordering::Relaxed);
    }

    pub(crate) fn read(&self) -> RelayCounts {
        RelayCounts {
            landed: self.landed.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            fees_stroops: self.fees.load(Ordering::Relaxed),
        }
    }
}

/// A reading of a relayer's counters ([`crate::Relayer::counts`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayCounts {
    /// Transactions that landed and succeeded.
    pub landed: u64,
    /// Transactions applied that failed (their fee was charged).
    pub failed: u64,
    /// Fees charged for both, in stroops.
    pub fees_stroops: i64,
}

impl RelayCounts {
    /// What happened between `earlier` and this reading (one invocation's share).
    #[must_use]
    pub fn since(&self, earlier: &RelayCounts) -> RelayCounts {
        RelayCounts {
            landed: self.landed.saturating_sub(earlier.landed),
            failed: self.failed.saturating_sub(earlier.failed),
            fees_stroops: self.fees_stroops.saturating_sub(earlier.fees_stroops),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_subtract_per_invocation() {
        let c = Counters::default();
        c.landed(100);
        let before = c.read();
        c.landed(250);
        c.failed(400);
        let now = c.read();
        assert_eq!(
            now,
            RelayCounts {
                landed: 2,
                failed: 1,
                fees_stroops: 750
            }
        );
        assert_eq!(
            now.since(&before),
            RelayCounts {
                landed: 1,
                failed: 1,
                fees_stroops: 650
            }
        );
    }
}
