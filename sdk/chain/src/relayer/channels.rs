//! The pool of channel accounts. Each transaction's source is a channel with its own
//! sequence number, so as many transactions can be in flight as there are channels.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::signer::Signer;

/// One channel account's state.
struct Slot {
    signer: Arc<dyn Signer>,
    address: String,
    /// The last sequence number known used; `None` means re-read it from the network.
    seq: Option<i64>,
    busy: bool,
    /// Not handed out before this instant: its last transaction's outcome is unknown and
    /// might still land until its time bound passes.
    cooldown_until: Option<Instant>,
}

/// A pool of channel accounts.
pub struct ChannelPool {
    slots: Mutex<Vec<Slot>>,
    freed: Notify,
}

impl std::fmt::Debug for ChannelPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        f.debug_struct("ChannelPool")
            .field(
                "channels",
                &slots.iter().map(|s| &s.address).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A channel checked out of the pool. Return it with [`ChannelPool::release`].
#[derive(Clone)]
pub struct Channel {
    index: usize,
    /// The channel's key (signs the inner transaction).
    pub signer: Arc<dyn Signer>,
    /// Its `G…` address.
    pub address: String,
    /// Its last used sequence number if known.
    pub seq: Option<i64>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("address", &self.address)
            .field("seq", &self.seq)
            .finish()
    }
}

/// How a channel comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// Its sequence number is now this (the transaction consumed it, or nothing was sent).
    Seq(Option<i64>),
    /// Its last transaction's outcome is unknown: re-read the sequence after `cooldown`.
    Unknown(Duration),
}

impl ChannelPool {
    /// A pool over these channel accounts (which must exist on the network).
    pub fn new(channels: Vec<Arc<dyn Signer>>) -> Self {
        Self {
            slots: Mutex::new(
                channels
                    .into_iter()
                    .map(|signer| Slot {
                        address: signer.address(),
                        signer,
                        seq: None,
                        busy: false,
                        cooldown_until: None,
                    })
                    .collect(),
            ),
            freed: Notify::new(),
        }
    }

    /// How many channels the pool holds.
    pub fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits for a free channel that is not cooling down.
    pub async fn acquire(&self) -> Channel {
        loop {
            let notified = self.freed.notified();
            let wait = {
                let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                if let Some((index, slot)) = slots
                    .iter_mut()
                    .enumerate()
                    .find(|(_, s)| !s.busy && s.cooldown_until.is_none_or(|t| t <= now))
                {
                    slot.busy = true;
                    slot.cooldown_until = None;
                    return Channel {
                        index,
                        signer: slot.signer.clone(),
                        address: slot.address.clone(),
                        seq: slot.seq,
                    };
                }
                // Nothing free: wake on a release, or when the first cool-down ends.
                slots
                    .iter()
                    .filter(|s| !s.busy)
                    .filter_map(|s| s.cooldown_until)
                    .min()
                    .map(|t| t.saturating_duration_since(now))
                    .unwrap_or(Duration::from_secs(1))
            };
            let _ = tokio::time::timeout(wait, notified).await;
        }
    }

    /// Returns a channel to the pool.
    pub fn release(&self, channel: Channel, how: Release) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = &mut slots[channel.index];
        slot.busy = false;
        match how {
            Release::Seq(seq) => slot.seq = seq,
            Release::Unknown(cooldown) => {
                slot.seq = None;
                slot.cooldown_until = Some(Instant::now() + cooldown);
            }
        }
        drop(slots);
        self.freed.notify_waiters();
    }

    /// Addresses of all channels.
    pub fn addresses(&self) -> Vec<String> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.iter().map(|s| s.address.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn pool(n: u8) -> ChannelPool {
        ChannelPool::new(
            (1..=n)
                .map(|i| Arc::new(SigningKey::from_bytes(&[i; 32])) as Arc<dyn Signer>)
                .collect(),
        )
    }

    #[tokio::test]
    async fn hands_out_distinct_channels_and_remembers_sequence() {
        let p = pool(2);
        let a = p.acquire().await;
        let b = p.acquire().await;
        assert_ne!(a.address, b.address);
        assert_eq!(a.seq, None);
        let a_addr = a.address.clone();
        p.release(a, Release::Seq(Some(41)));
        let again = p.acquire().await;
        assert_eq!(again.address, a_addr);
        assert_eq!(again.seq, Some(41));
    }

    #[tokio::test]
    async fn a_third_request_waits_for_a_release() {
        let p = Arc::new(pool(1));
        let a = p.acquire().await;
        let p2 = p.clone();
        let waiter = tokio::spawn(async move { p2.acquire().await.seq });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        p.release(a, Release::Seq(Some(7)));
        assert_eq!(waiter.await.unwrap(), Some(7));
    }

    #[tokio::test]
    async fn unknown_outcome_cools_the_channel_down_and_forgets_its_sequence() {
        let p = pool(2);
        let a = p.acquire().await;
        let cooled = a.address.clone();
        p.release(a, Release::Unknown(Duration::from_millis(200)));
        // The other channel is handed out while the first cools down.
        let b = p.acquire().await;
        assert_ne!(b.address, cooled);
        let started = Instant::now();
        let c = p.acquire().await;
        assert_eq!(c.address, cooled);
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert_eq!(
            c.seq, None,
            "sequence must be re-read after an unknown outcome"
        );
    }
}
