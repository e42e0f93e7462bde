//! `simulateTransaction`: runs the transaction's Soroban operation in soroban-simulation
//! over a snapshot of the state and reports resources, fee, auth and events.

use std::rc::Rc;
use std::sync::Arc;

use soroban_env_host::e2e_invoke::RecordingInvocationAuthMode;
use soroban_env_host::storage::SnapshotSource;
use soroban_env_host::xdr::{
    AccountId, DiagnosticEvent, InvokeHostFunctionOp, LedgerEntry, LedgerKey, Limits,
    OperationBody, ScVal, SorobanAuthorizationEntry, SorobanTransactionData,
    SorobanTransactionDataExt, TransactionEnvelope, WriteXdr,
};
use soroban_env_host::LedgerInfo;
use soroban_simulation::simulation::{
    simulate_extend_ttl_op, simulate_invoke_host_function_op, simulate_restore_op,
    SimulationAdjustmentConfig,
};
use soroban_simulation::{AutoRestoringSnapshotSource, NetworkConfig};

use crate::apply::{muxed_to_account, ParsedTx};
use crate::settings::NetworkSettings;
use crate::state::{LedgerState, StateSnapshot};

/// How recorded authorization is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// Check the auth entries the transaction carries.
    Enforce,
    /// Record auth entries; only the root invocation may require auth of non-source.
    Record,
    /// Record auth entries, allowing non-root authorization.
    RecordAllowNonroot,
}

impl AuthMode {
    /// Parses the RPC spelling.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "enforce" => Ok(Self::Enforce),
            "record" => Ok(Self::Record),
            "record_allow_nonroot" => Ok(Self::RecordAllowNonroot),
            other => Err(format!(
                "invalid authMode `{other}`: expected enforce, record or record_allow_nonroot"
            )),
        }
    }
}

/// A successful or failed simulation (failures carry `error`).
#[derive(Debug, Default)]
pub struct Simulation {
    /// Error text when the invocation failed.
    pub error: Option<String>,
    /// Return value and auth entries (invocations only).
    pub result: Option<(ScVal, Vec<SorobanAuthorizationEntry>)>,
    /// Resources and fee to put in the transaction.
    pub transaction_data: Option<SorobanTransactionData>,
    /// Minimum resource fee.
    pub min_resource_fee: i64,
    /// CPU instructions and memory measured.
    pub cost: (u64, u64),
    /// Diagnostic and contract events.
    pub events: Vec<DiagnosticEvent>,
    /// A restore to submit first, when the invocation needs archived entries restored and
    /// the caller asked to restore separately (transaction data, min resource fee).
    pub restore_preamble: Option<(SorobanTransactionData, i64)>,
    /// Entries changed: key, before, after.
    pub state_changes: Vec<(LedgerKey, Option<LedgerEntry>, Option<LedgerEntry>)>,
}

/// Simulates `envelope` at ledger `sequence` + 1.
pub fn simulate(
    envelope: TransactionEnvelope,
    state: Arc<LedgerState>,
    settings: &NetworkSettings,
    network_id: [u8; 32],
    auth_mode: Option<AuthMode>,
) -> Result<Simulation, String> {
    let tx = ParsedTx::new(envelope, network_id)?;
    if tx.tx.operations.len() != 1 {
        return Err("simulateTransaction needs exactly one operation".into());
    }
    let op = &tx.tx.operations[0];
    let source = op
        .source_account
        .as_ref()
        .map(muxed_to_account)
        .unwrap_or_else(|| tx.source());
    let sequence = state.sequence + 1;
    let close_time = crate::node::now().max(state.close_time);
    let ledger_info = settings.ledger_info(sequence, close_time, network_id);
    let network_config = settings.network_config();
    let adjust = SimulationAdjustmentConfig::default_adjustment();
    let snapshot = StateSnapshot { state, sequence };
    match &op.body {
        OperationBody::InvokeHostFunction(invoke_op) => {
            let mode = || match auth_mode {
                Some(AuthMode::Enforce) => RecordingInvocationAuthMode::Enforcing(invoke_op.auth.to_vec()),
                Some(AuthMode::Record) => RecordingInvocationAuthMode::recording(true, false),
                Some(AuthMode::RecordAllowNonroot) => RecordingInvocationAuthMode::recording(false, false),
                None if invoke_op.auth.is_empty() => RecordingInvocationAuthMode::recording(true, false),
                None => RecordingInvocationAuthMode::Enforcing(invoke_op.auth.to_vec()),
            };
            // A fresh random seed per simulation, as Stellar RPC does: the nonces of recorded
            // auth entries come from it, so simulating the same transaction twice must not
            // hand out the same nonce (the second submission would fail on a reused nonce).
            let seed = random_seed()?;
            // Protocol 23's automatic restore, as Stellar RPC simulates it (stellar-rpc #463,
            // #464): archived persistent entries the invocation reads are marked for
            // restoration in the transaction data (`archivedSorobanEntries`), so one
            // transaction restores and invokes. Only when that transaction would exceed the
            // per-transaction limits is it simulated again as if the entries were live, with a
            // separate restore reported as the preamble.
            let snapshot = Rc::new(snapshot);
            let invocation = Invocation {
                network_config: &network_config,
                adjust: &adjust,
                ledger_info: &ledger_info,
                op: invoke_op,
                mode: &mode,
                source: &source,
                seed,
            };
            let mut sim = invocation.run(snapshot.clone())?;
            let over_limits = sim
                .transaction_data
                .as_ref()
                .is_some_and(|d| restores(d) && !within_tx_limits(d, settings));
            if over_limits {
                let restoring = Rc::new(
                    AutoRestoringSnapshotSource::new(snapshot, &ledger_info)
                        .map_err(|e| e.to_string())?,
                );
                sim = invocation.run(restoring.clone())?;
                if sim.error.is_none() {
                    if let Some(pre) = restoring
                        .simulate_restore_keys_op(&network_config, &adjust, &ledger_info)
                        .map_err(|e| e.to_string())?
                    {
                        let fee = pre.transaction_data.resource_fee;
                        sim.restore_preamble = Some((pre.transaction_data, fee));
                    }
                }
            }
            Ok(sim)
        }
        OperationBody::ExtendFootprintTtl(ext) => {
            let data = tx.soroban_data().ok_or("ExtendFootprintTtl needs sorobanData with a footprint")?;
            let keys = data.resources.footprint.read_only.to_vec();
            let r = simulate_extend_ttl_op(&snapshot, &network_config, &adjust, &ledger_info, &keys, ext.extend_to)
                .map_err(|e| format!("simulation failed: {e}"))?;
            Ok(Simulation {
                min_resource_fee: r.transaction_data.resource_fee,
                transaction_data: Some(r.transaction_data),
                ..Default::default()
            })
        }
        OperationBody::RestoreFootprint(_) => {
            let data = tx.soroban_data().ok_or("RestoreFootprint needs sorobanData with a footprint")?;
            let keys = data.resources.footprint.read_write.to_vec();
            let r = simulate_restore_op(&snapshot, &network_config, &adjust, &ledger_info, &keys)
                .map_err(|e| format!("simulation failed: {e}"))?;
            Ok(Simulation {
                min_resource_fee: r.transaction_data.resource_fee,
                transaction_data: Some(r.transaction_data),
                ..Default::default()
            })
        }
        _ => Err("simulateTransaction needs an InvokeHostFunction, ExtendFootprintTtl or RestoreFootprint operation".into()),
    }
}

/// One invocation to simulate: everything but the snapshot it runs over.
struct Invocation<'a> {
    network_config: &'a NetworkConfig,
    adjust: &'a SimulationAdjustmentConfig,
    ledger_info: &'a LedgerInfo,
    op: &'a InvokeHostFunctionOp,
    /// A fresh auth mode per run (the mode is not `Clone`).
    mode: &'a dyn Fn() -> RecordingInvocationAuthMode,
    source: &'a AccountId,
    seed: [u8; 32],
}

impl Invocation<'_> {
    /// Runs the invocation in soroban-simulation over `snapshot` and collects what the RPC
    /// response reports.
    fn run(&self, snapshot: Rc<impl SnapshotSource + 'static>) -> Result<Simulation, String> {
        let r = simulate_invoke_host_function_op(
            snapshot,
            self.network_config,
            self.adjust,
            self.ledger_info,
            self.op.host_function.clone(),
            (self.mode)(),
            self.source,
            self.seed,
            true,
        )
        .map_err(|e| format!("simulation failed: {e}"))?;
        Ok(collect(r))
    }
}

/// What the RPC response reports of a simulated invocation.
fn collect(r: soroban_simulation::simulation::InvokeHostFunctionSimulationResult) -> Simulation {
    let mut sim = Simulation {
        cost: (r.simulated_instructions as u64, r.simulated_memory as u64),
        events: r.diagnostic_events,
        ..Default::default()
    };
    match r.invoke_result {
        Err(e) => sim.error = Some(format!("host invocation failed: {e:?}")),
        Ok(v) => {
            sim.result = Some((v, r.auth));
            if let Some(data) = r.transaction_data {
                sim.min_resource_fee = data.resource_fee;
                sim.transaction_data = Some(data);
            }
            sim.state_changes = r
                .modified_entries
                .into_iter()
                .filter_map(|d| {
                    let e = d.state_after.as_ref().or(d.state_before.as_ref())?;
                    Some((crate::state::key_of(e)?, d.state_before, d.state_after))
                })
                .collect();
        }
    }
    sim
}

/// Whether the transaction data restore archived entries (protocol 23's automatic restore).
fn restores(data: &SorobanTransactionData) -> bool {
    matches!(&data.ext, SorobanTransactionDataExt::V1(e) if !e.archived_soroban_entries.is_empty())
}

/// Whether the resources fit the per-transaction limits (the checks of
/// [`crate::ops::check_soroban_resources`] that do not need the signed envelope).
fn within_tx_limits(data: &SorobanTransactionData, settings: &NetworkSettings) -> bool {
    let r = &data.resources;
    let fp = &r.footprint;
    let keys = fp.read_only.len() + fp.read_write.len();
    let archived = match &data.ext {
        SorobanTransactionDataExt::V1(e) => e.archived_soroban_entries.len(),
        SorobanTransactionDataExt::V0 => 0,
    };
    let classic = fp
        .read_only
        .iter()
        .chain(fp.read_write.iter())
        .filter(|k| !matches!(k, LedgerKey::ContractData(_) | LedgerKey::ContractCode(_)))
        .count();
    r.instructions <= settings.tx_max_instructions
        && keys as u32 <= settings.tx_max_footprint_entries
        && (classic + archived) as u32 <= settings.tx_max_disk_read_entries
        && r.disk_read_bytes <= settings.tx_max_disk_read_bytes
        && fp.read_write.len() as u32 <= settings.tx_max_write_entries
        && r.write_bytes <= settings.tx_max_write_bytes
}

/// 32 bytes from the operating system's random source.
pub fn random_seed() -> Result<[u8; 32], String> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| format!("no randomness for the PRNG seed: {e}"))?;
    Ok(seed)
}

/// Base64 XDR of `v`.
pub fn b64(v: &impl WriteXdr) -> String {
    v.to_xdr_base64(Limits::none()).unwrap_or_default()
}
