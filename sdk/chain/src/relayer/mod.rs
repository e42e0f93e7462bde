//! The fee-sponsoring relayer: users sign only their authorization entries; a channel
//! account is each transaction's source; the sponsor wraps it in a fee-bump and pays.

mod channels;
mod counts;
mod leases;
mod policy;
mod requests;
mod wallet;

pub use channels::{Channel, ChannelPool, Release};
pub use counts::RelayCounts;
pub use leases::{
    channel_lease_key, request_lease_key, LeaseExpect, LeaseStore, MemoryLeaseStore, MIN_LEASE_TTL,
};
pub use policy::{MemorySpendStore, Policy, Refusal, SpendBook, SpendStore};
pub use requests::{MemoryRequestStore, RequestRecord, RequestStore};
pub use wallet::{
    check_signed_entry, entry_preimage, with_signature, EntryRefusal, WalletAuthorization,
};

use std::sync::Arc;
use std::time::{Duration, Instant};

use leases::{unix_now, Lease, Leases};

use sha2::{Digest, Sha256};
use stellar_xdr::{
    HostFunction, Limits, ScVal, SorobanAuthorizationEntry, TransactionEnvelope, WriteXdr,
};

use crate::auth::{required_signers, sign_auth_entries};
use crate::error::{Error, Result};
use crate::network::Network;
use crate::outcome::{classify, lookup, result_code, wait_for, Backoff, Landed, Refused, Status};
use crate::rpc::{Rpc, SendStatus};
use crate::signer::Signer;
use crate::tx::{
    assemble, fee_bump, fee_bump_fee, hex_hash, invocation_tx, sign_tx, sponsored_account_tx,
    Simulated, TxHeader, BASE_FEE,
};

/// Tunables of the relayer. The defaults suit a public network; tests shorten them.
#[derive(Clone, Debug)]
pub struct RelayerConfig {
    /// Starting inclusion fee bid per operation, in stroops.
    pub inclusion_fee: u32,
    /// How many ledgers a user's authorization signature stays valid.
    pub auth_validity_ledgers: u32,
    /// How long a transaction stays valid (its time bound); also the cool-down of a
    /// channel whose transaction's outcome is unknown, after which it can no longer land.
    pub tx_validity: Duration,
    /// Polling for the outcome.
    pub backoff: Backoff,
    /// How many times to resend one envelope on TRY_AGAIN_LATER or an unreachable RPC.
    pub send_attempts: u32,
    /// How many times to rebuild with a freshly read sequence number after those resends
    /// still met TRY_AGAIN_LATER (the channel's previous transaction, e.g. one of a crashed
    /// holder, is still queued; nothing of ours was accepted, so this cannot duplicate).
    pub busy_rebuilds: u32,
    /// How long a channel (or request) lease lasts without renewal: a crashed holder's
    /// channel comes back after this. Renewed every third of it while held; at least
    /// [`MIN_LEASE_TTL`].
    pub lease_ttl: Duration,
    /// How often to look again for a channel when every channel is leased elsewhere.
    pub lease_poll: Duration,
    /// How many times to rebuild after txBAD_SEQ or txINSUFFICIENT_FEE.
    pub rebuilds: u32,
    /// How many times to simulate again and resubmit after the transaction failed with
    /// `INVOKE_HOST_FUNCTION_RESOURCE_LIMIT_EXCEEDED` because what it writes grew after its
    /// simulation (each costs the failed transaction's fee).
    pub resimulations: u32,
}

impl Default for RelayerConfig {
    fn default() -> Self {
        Self {
            inclusion_fee: BASE_FEE,
            auth_validity_ledgers: 60,
            tx_validity: Duration::from_secs(120),
            backoff: Backoff::default(),
            send_attempts: 5,
            busy_rebuilds: 20,
            lease_ttl: Duration::from_secs(30),
            lease_poll: Duration::from_millis(50),
            rebuilds: 3,
            resimulations: 24,
        }
    }
}

/// What to submit.
#[derive(Clone, Debug)]
enum Work {
    /// A Soroban host function.
    Soroban(HostFunction),
    /// A CAP-0033 sponsored account creation for this user key.
    SponsoredAccount,
    /// A Soroban host function with authorization entries signed elsewhere (an external
    /// wallet; see [`Relayer::submit_authorized`]).
    Authorized(HostFunction, Vec<SorobanAuthorizationEntry>),
}

/// The relayer.
pub struct Relayer {
    rpc: Arc<dyn Rpc>,
    network: Network,
    sponsor: Arc<dyn Signer>,
    channels: ChannelPool,
    policy: Policy,
    config: RelayerConfig,
    spend: Arc<dyn SpendStore>,
    requests: Arc<dyn RequestStore>,
    leases: Leases,
    counters: Arc<counts::Counters>,
}

impl std::fmt::Debug for Relayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relayer")
            .field("network", &self.network)
            .field("sponsor", &self.sponsor.address())
            .field("channels", &self.channels)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Whether a failed transaction may have failed only because the state moved between its
/// simulation and its apply: its declared resources no longer covered what it did
/// (`invokeHostFunction ResourceLimitExceeded`), or it touched an entry outside its
/// footprint, which traps (`invokeHostFunction Trapped`): two proposals simulated against
/// the same token counter both declare the same new token entry, and the second to apply
/// writes the next one. Nothing of a failed transaction is applied, so simulating again
/// against the new state cannot do the work twice; a genuine refusal fails that simulation.
fn is_footprint_outgrown(code: &str) -> bool {
    code.contains("invokeHostFunction ResourceLimitExceeded")
        || code.contains("invokeHostFunction Trapped")
}

/// A number below `n` (n > 0), from the clock's nanoseconds: enough to spread retries.
fn rand_below(n: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    (nanos ^ (nanos >> 7)) % n
}

fn today() -> u64 {
    unix_now() / 86_400
}

/// The outcome of one send of one envelope.
enum Sent {
    Landed(Landed),
    /// Refused at submission; the kind says whether a rebuild can help.
    Refused(Refused, String),
}

impl Relayer {
    /// A relayer paying from `sponsor`, with `channels` as transaction sources.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] without channels.
    pub fn new(
        rpc: Arc<dyn Rpc>,
        network: Network,
        sponsor: Arc<dyn Signer>,
        channels: Vec<Arc<dyn Signer>>,
        policy: Policy,
        config: RelayerConfig,
    ) -> Result<Self> {
        if channels.is_empty() {
            return Err(Error::InvalidArgument(
                "the relayer needs at least one channel account".into(),
            ));
        }
        Ok(Self {
            rpc,
            network,
            sponsor,
            channels: ChannelPool::new(channels),
            policy,
            spend: Arc::new(MemorySpendStore::default()),
            requests: Arc::new(MemoryRequestStore::default()),
            leases: Leases::new(Arc::new(MemoryLeaseStore::default()), config.lease_ttl),
            config,
            counters: Arc::default(),
        })
    }

    /// What this relayer submitted since it was made (transactions landed and failed, fees
    /// charged); subtract an earlier reading for one invocation's share.
    pub fn counts(&self) -> RelayCounts {
        self.counters.read()
    }

    /// Uses `store` for request records (e.g. the platform's database), so a request key
    /// stays idempotent across processes and restarts.
    pub fn with_request_store(mut self, store: Arc<dyn RequestStore>) -> Self {
        self.requests = store;
        self
    }

    /// Uses `store` for the channel and request leases (e.g. the platform's database), so
    /// every process sharing it submits from a channel no other process is using, with
    /// the channel's sequence number read from the network under the lease.
    pub fn with_lease_store(mut self, store: Arc<dyn LeaseStore>) -> Self {
        self.leases = self.leases.with_store(store);
        self
    }

    /// Uses `store` for the daily spend per user, so the cap holds across processes.
    pub fn with_spend_store(mut self, store: Arc<dyn SpendStore>) -> Self {
        self.spend = store;
        self
    }

    /// The network this relayer signs for.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The channel accounts' addresses.
    pub fn channel_addresses(&self) -> Vec<String> {
        self.channels.addresses()
    }

    /// What `user` was charged (or has reserved) today, in stroops.
    ///
    /// # Errors
    /// [`Error::Store`] if the spend store cannot be read.
    pub async fn spent_today(&self, user: &str) -> Result<i64> {
        self.spend.spent(user, today()).await
    }

    /// Calls a read-only function by simulation: no transaction, no fee.
    ///
    /// # Errors
    /// [`Error::Simulation`] if the call fails; RPC errors.
    pub async fn read(&self, contract: &str, function: &str, args: Vec<ScVal>) -> Result<ScVal> {
        let f = crate::tx::invoke_contract(contract, function, args)?;
        let source = self.channels.addresses().remove(0);
        let header = TxHeader {
            source: crate::address::account_public_key(&source)?,
            seq: 0,
            max_time: None,
        };
        let tx = invocation_tx(&header, f)?;
        let env = TransactionEnvelope::Tx(stellar_xdr::TransactionV1Envelope {
            tx,
            signatures: Default::default(),
        });
        let sim = Simulated::from_response(&self.rpc.simulate(&env).await?)?;
        sim.return_value
            .ok_or_else(|| Error::Simulation("no return value".into()))
    }

    /// Calls `function` of `contract` for `user`, with `signers` authorizing whatever the
    /// call requires. `request_key` makes it idempotent: the same key never lands twice.
    ///
    /// # Errors
    /// [`Error::Refused`] by policy; simulation, signing and submission errors.
    pub async fn invoke(
        &self,
        request_key: &str,
        user: &str,
        contract: &str,
        function: &str,
        args: Vec<ScVal>,
        signers: &[&dyn Signer],
    ) -> Result<Landed> {
        let f = crate::tx::invoke_contract(contract, function, args)?;
        self.submit(request_key, user, f, signers).await
    }

    /// Submits any host function (invocation, upload, creation) under the policy.
    ///
    /// # Errors
    /// As [`Relayer::invoke`].
    pub async fn submit(
        &self,
        request_key: &str,
        user: &str,
        function: HostFunction,
        signers: &[&dyn Signer],
    ) -> Result<Landed> {
        self.policy.check(&function)?;
        self.run(request_key, user, Work::Soroban(function), signers)
            .await
    }

    /// Creates `new_account` with its reserves sponsored by the sponsor and a zero
    /// balance (CAP-0033), so its address can authorize contract calls.
    ///
    /// # Errors
    /// Submission errors (e.g. `txFAILED: createAccount AlreadyExist`).
    pub async fn create_sponsored_account(
        &self,
        request_key: &str,
        new_account: &dyn Signer,
    ) -> Result<Landed> {
        let user = new_account.address();
        self.run(request_key, &user, Work::SponsoredAccount, &[new_account])
            .await
    }

    fn fingerprint(user: &str, work: &Work) -> Result<[u8; 32]> {
        let mut h = Sha256::new();
        h.update(user.as_bytes());
        match work {
            Work::Soroban(f) | Work::Authorized(f, _) => h.update(f.to_xdr(Limits::none())?),
            Work::SponsoredAccount => h.update(b"sponsored-account"),
        }
        Ok(h.finalize().into())
    }

    async fn run(
        &self,
        key: &str,
        user: &str,
        work: Work,
        signers: &[&dyn Signer],
    ) -> Result<Landed> {
        let fingerprint = Self::fingerprint(user, &work)?;
        // One submission of a key at a time, in this process or any other sharing the
        // lease store: a second taker waits, then finds the first one's record.
        let lease = self.take_request(key).await?;
        let result = self.run_once(key, user, &work, fingerprint, signers).await;
        self.leases.release(lease, None).await;
        result
    }

    /// Waits for the lease of request `key`: at most the time bound of a transaction and
    /// two lease lifetimes (a crashed holder's lease expires within one).
    async fn take_request(&self, key: &str) -> Result<Lease> {
        let deadline = Instant::now() + self.config.tx_validity + 2 * self.config.lease_ttl;
        loop {
            if let Some(lease) = self.leases.try_take(&request_lease_key(key)).await? {
                return Ok(lease);
            }
            if Instant::now() > deadline {
                return Err(Refusal::InFlight(key.to_string()).into());
            }
            tokio::time::sleep(self.jittered_poll()).await;
        }
    }

    /// The lease poll interval, spread between one and two times it so that waiting
    /// processes do not knock in step.
    fn jittered_poll(&self) -> Duration {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let poll = self.config.lease_poll;
        poll + poll.mul_f64(f64::from(nanos % 1000) / 1000.0)
    }

    /// A channel of the pool whose lease this relayer holds, with its sequence number
    /// forgotten (read again from the network under the lease). A channel leased elsewhere
    /// is skipped for a poll interval.
    async fn take_channel(&self) -> Result<(Channel, Lease)> {
        loop {
            let mut channel = self.channels.acquire().await;
            match self
                .leases
                .try_take(&channel_lease_key(&channel.address))
                .await
            {
                Ok(Some(lease)) => {
                    channel.seq = None;
                    return Ok((channel, lease));
                }
                Ok(None) => self
                    .channels
                    .release(channel, Release::Unknown(self.jittered_poll())),
                Err(e) => {
                    self.channels.release(channel, Release::Seq(None));
                    return Err(e);
                }
            }
        }
    }

    async fn run_once(
        &self,
        key: &str,
        user: &str,
        work: &Work,
        fingerprint: [u8; 32],
        signers: &[&dyn Signer],
    ) -> Result<Landed> {
        if let Some(record) = self.requests.get(key).await? {
            if record.fingerprint != fingerprint {
                return Err(Refusal::KeyReused(key.to_string()).into());
            }
            if let Some(landed) = self.resume(&record).await? {
                return Ok(landed);
            }
        }
        let (mut channel, lease) = self.take_channel().await?;
        let result = self
            .with_channel(key, user, work, fingerprint, signers, &mut channel)
            .await;
        let (release, until) = match &result {
            // Only an unknown outcome after a send can leave a transaction that may still
            // land: the channel stays leased until its time bound has passed.
            Err(Error::OutcomeUnknown { .. }) => (
                Release::Unknown(self.config.tx_validity),
                Some(unix_now() + self.config.tx_validity.as_secs()),
            ),
            // The next holder, here or elsewhere, reads the sequence number afresh.
            _ => (Release::Seq(None), None),
        };
        self.channels.release(channel, release);
        self.leases.release(lease, until).await;
        result
    }

    /// A request seen before: find out what became of its transaction. `Ok(None)` means it
    /// did not land and never will, so a new transaction may be built.
    async fn resume(&self, record: &RequestRecord) -> Result<Option<Landed>> {
        match lookup(self.rpc.as_ref(), record.hash).await? {
            Status::Success(l) => return Ok(Some(*l)),
            // It failed only because the state moved under it: nothing was applied, so a
            // new transaction for the same request is built (see `is_footprint_outgrown`).
            Status::Failed(code) if is_footprint_outgrown(&code) => return Ok(None),
            Status::Failed(code) => {
                return Err(Error::Failed {
                    hash: hex_hash(&record.hash),
                    code,
                })
            }
            Status::NotFound => {}
        }
        if unix_now() > record.max_time {
            // Past its time bound: it can no longer be included.
            return Ok(None);
        }
        // Still valid: resend the very same envelope. It carries the same sequence number,
        // so at most one of the sends can ever be applied.
        match self.send_and_wait(&record.envelope, record.hash).await {
            Ok(Sent::Landed(l)) => Ok(Some(l)),
            // A rejection (e.g. its sequence was taken meanwhile) means this envelope will
            // not land; look once more in case a previous send landed it.
            // TRY_AGAIN_LATER: its channel has another transaction queued, so this envelope
            // is not in the queue either; the same holds.
            Ok(Sent::Refused(..)) | Err(Error::TryAgainLater { .. }) => {
                match lookup(self.rpc.as_ref(), record.hash).await? {
                    Status::Success(l) => Ok(Some(*l)),
                    _ => Ok(None),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn with_channel(
        &self,
        key: &str,
        user: &str,
        work: &Work,
        fingerprint: [u8; 32],
        signers: &[&dyn Signer],
        channel: &mut Channel,
    ) -> Result<Landed> {
        let mut rate = self.config.inclusion_fee.max(BASE_FEE);
        let mut rebuilds = 0;
        let mut busy_rebuilds = 0;
        let mut resimulations = 0;
        loop {
            let seq = match channel.seq {
                Some(s) => s,
                None => {
                    let s = self
                        .rpc
                        .account_sequence(&channel.address)
                        .await?
                        .ok_or_else(|| {
                            Error::InvalidArgument(format!(
                                "channel account {} does not exist",
                                channel.address
                            ))
                        })?;
                    channel.seq = Some(s);
                    s
                }
            };
            let max_time = unix_now() + self.config.tx_validity.as_secs();
            let header = TxHeader {
                source: channel.signer.public_key(),
                seq: seq + 1,
                max_time: Some(max_time),
            };
            let inner = self.build(&header, work, signers, channel, rate).await?;
            let fee = fee_bump_fee(&inner, rate)?;
            self.policy.check_fee(fee)?;
            let day = today();
            self.spend
                .reserve(user, day, fee, self.policy.max_spend_per_user_per_day)
                .await?;
            let envelope = fee_bump(&self.network, inner, self.sponsor.as_ref(), fee)?;
            let hash = crate::tx::envelope_hash(&self.network, &envelope)?;
            // Written before sending: a retry after a timeout must find this hash. If it
            // cannot be written, nothing is sent (and nothing was charged).
            let record = RequestRecord {
                fingerprint,
                hash,
                envelope: envelope.clone(),
                max_time,
                channel: channel.address.clone(),
            };
            if let Err(e) = self.requests.put(key, &record).await {
                let _ = self.spend.settle(user, day, fee, 0).await;
                return Err(e);
            }
            let outcome = self.send_and_wait(&envelope, hash).await;
            // A settlement that cannot be written leaves the whole reservation counted: the
            // cap is then stricter than it should be, never looser; the outcome stands.
            let settle = |charged: i64| async move {
                let _ = self.spend.settle(user, day, fee, charged).await;
            };
            match outcome {
                Ok(Sent::Landed(l)) => {
                    channel.seq = Some(seq + 1);
                    settle(l.fee_charged).await;
                    self.counters.landed(l.fee_charged);
                    return Ok(l);
                }
                Err(Error::Failed { hash, code }) => {
                    // Applied and failed: the sequence is consumed and the fee was paid.
                    channel.seq = Some(seq + 1);
                    settle(fee).await;
                    self.counters.failed(fee);
                    // The state grew between simulation and apply (another transaction in
                    // the same ledger wrote the same entry, e.g. a patient's pending list):
                    // nothing was applied, so simulating again against the new state and
                    // resubmitting cannot do the work twice.
                    if is_footprint_outgrown(&code) && resimulations < self.config.resimulations {
                        resimulations += 1;
                        // Contenders that lost the same race spread over the next ledgers.
                        let jitter = self.config.backoff.max.as_millis() as u64;
                        let wait = rand_below(jitter.max(1));
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                        continue;
                    }
                    return Err(Error::Failed { hash, code });
                }
                Err(e @ Error::TryAgainLater { .. }) => {
                    // Never accepted: nothing was charged, and nothing of this request can
                    // land from it. The channel has another transaction queued (a crashed
                    // holder's, or one sent under a lost lease): rebuild on the sequence
                    // number read afresh once that one is through.
                    settle(0).await;
                    if busy_rebuilds >= self.config.busy_rebuilds {
                        return Err(e);
                    }
                    busy_rebuilds += 1;
                    channel.seq = None;
                    tokio::time::sleep(self.config.backoff.max).await;
                }
                Err(e) => return Err(e), // unknown outcome: the reservation stands
                Ok(Sent::Refused(kind, code)) => {
                    if kind == Refused::BadSeq {
                        // An earlier send of this envelope whose answer was lost may have
                        // been applied since: then that is the outcome.
                        if let Status::Success(l) = lookup(self.rpc.as_ref(), hash).await? {
                            settle(l.fee_charged).await;
                            self.counters.landed(l.fee_charged);
                            return Ok(*l);
                        }
                    }
                    settle(0).await;
                    rebuilds += 1;
                    if rebuilds > self.config.rebuilds {
                        return Err(Error::Rejected {
                            hash: hex_hash(&hash),
                            code,
                        });
                    }
                    match kind {
                        Refused::BadSeq => channel.seq = None,
                        Refused::InsufficientFee => {
                            let raised = rate.saturating_mul(2);
                            // Raise within the cap, or refuse naming the fee it would need.
                            self.policy
                                .check_fee(fee_bump_fee(&envelope_inner(&envelope), raised)?)?;
                            rate = raised;
                        }
                        Refused::TooLate | Refused::Other => {
                            return Err(Error::Rejected {
                                hash: hex_hash(&hash),
                                code,
                            })
                        }
                    }
                }
            }
        }
    }

    async fn build(
        &self,
        header: &TxHeader,
        work: &Work,
        signers: &[&dyn Signer],
        channel: &Channel,
        rate: u32,
    ) -> Result<TransactionEnvelope> {
        match work {
            Work::SponsoredAccount => {
                let new_account = signers
                    .first()
                    .ok_or_else(|| Error::InvalidArgument("no key for the new account".into()))?;
                let tx = sponsored_account_tx(header, self.sponsor.as_ref(), *new_account)?;
                sign_tx(
                    &self.network,
                    tx,
                    &[channel.signer.as_ref(), self.sponsor.as_ref(), *new_account],
                )
            }
            Work::Soroban(function) | Work::Authorized(function, _) => {
                let unsigned = invocation_tx(header, function.clone())?;
                let sim = self.simulate(&unsigned).await?;
                let needed = required_signers(&sim.auth);
                let (sim, auth) = if needed.is_empty() {
                    (sim, None)
                } else {
                    let (expiration, signed) = match work {
                        // Signed by the wallet: the simulation's fresh nonces are not used.
                        Work::Authorized(_, signed) => (
                            crate::auth::expiration_of(signed).unwrap_or(sim.latest_ledger),
                            signed.clone(),
                        ),
                        _ => {
                            let expiration = sim.latest_ledger + self.config.auth_validity_ledgers;
                            let signed = sign_auth_entries(
                                &self.network,
                                sim.auth.clone(),
                                signers,
                                expiration,
                            )?;
                            (expiration, signed)
                        }
                    };
                    // Re-simulate with the signatures: verifying them costs resources that a
                    // recording simulation did not count, and this also catches a bad or
                    // expired signature before anything is paid.
                    let with_auth = assemble(unsigned.clone(), &sim, Some(signed.clone()), rate)?;
                    let sim = self.simulate(&with_auth).await.map_err(|e| match e {
                        Error::Simulation(m) => Error::Simulation(format!(
                            "with the signed authorization of {} (valid until ledger \
                             {expiration}, simulated at {}): {m}",
                            needed.join(", "),
                            sim.latest_ledger
                        )),
                        other => other,
                    })?;
                    (sim, Some(signed))
                };
                let tx = assemble(unsigned, &sim, auth, rate)?;
                sign_tx(&self.network, tx, &[channel.signer.as_ref()])
            }
        }
    }

    async fn simulate(&self, tx: &stellar_xdr::Transaction) -> Result<Simulated> {
        let env = TransactionEnvelope::Tx(stellar_xdr::TransactionV1Envelope {
            tx: tx.clone(),
            signatures: Default::default(),
        });
        Simulated::from_response(&self.rpc.simulate(&env).await?)
    }

    /// Sends one envelope until the network accepted or refused it, then waits for its
    /// outcome. Resending the same envelope is always safe (same sequence number).
    async fn send_and_wait(&self, envelope: &TransactionEnvelope, hash: [u8; 32]) -> Result<Sent> {
        let started = Instant::now();
        let mut wait = self.config.backoff.initial;
        let mut last_unavailable = None;
        for attempt in 1..=self.config.send_attempts {
            match self.rpc.send(envelope).await {
                Ok(resp) => match SendStatus::from_response(&resp)? {
                    SendStatus::Pending | SendStatus::Duplicate => {
                        return wait_for(self.rpc.as_ref(), hash, self.config.backoff)
                            .await
                            .map(Sent::Landed)
                    }
                    SendStatus::TryAgainLater => {
                        if attempt == self.config.send_attempts {
                            return Err(Error::TryAgainLater {
                                hash: hex_hash(&hash),
                                attempts: attempt,
                            });
                        }
                    }
                    SendStatus::Error(result) => {
                        let (kind, code) = match result {
                            Some(r) => (classify(&r), result_code(&r)),
                            None => (Refused::Other, "ERROR without a result".into()),
                        };
                        return Ok(Sent::Refused(kind, code));
                    }
                },
                Err(Error::RpcUnavailable(m)) => {
                    // We do not know whether the server got it: look before resending.
                    if let Ok(Status::Success(l)) = lookup(self.rpc.as_ref(), hash).await {
                        return Ok(Sent::Landed(*l));
                    }
                    last_unavailable = Some(m);
                }
                Err(e) => return Err(e),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(self.config.backoff.max);
        }
        match last_unavailable {
            Some(_) => Err(Error::OutcomeUnknown {
                hash: hex_hash(&hash),
                waited: started.elapsed(),
            }),
            None => Err(Error::TryAgainLater {
                hash: hex_hash(&hash),
                attempts: self.config.send_attempts,
            }),
        }
    }
}

/// The inner transaction of a fee-bump envelope (for fee arithmetic).
fn envelope_inner(envelope: &TransactionEnvelope) -> TransactionEnvelope {
    match envelope {
        TransactionEnvelope::TxFeeBump(e) => {
            let stellar_xdr::FeeBumpTransactionInnerTx::Tx(inner) = &e.tx.inner_tx;
            TransactionEnvelope::Tx(inner.clone())
        }
        other => other.clone(),
    }
}
