//! Soroban network settings (limits, fee rates, TTL bounds) with mainnet's published
//! values as the default; see docs/devnet.md for the sources.

use soroban_env_host::budget::Budget;
use soroban_env_host::fees::{FeeConfiguration, RentFeeConfiguration};
use soroban_env_host::xdr::{
    ContractCostParamEntry, ContractCostParams, ContractCostType, ExtensionPoint,
};
use soroban_env_host::LedgerInfo;
use soroban_simulation::NetworkConfig;

/// The ledger protocol version the embedded host implements.
pub const PROTOCOL_VERSION: u32 = soroban_env_host::meta::INTERFACE_VERSION.protocol;

/// Ledgers per day at mainnet's 5 s close time (TTLs are counted in ledgers).
const LEDGERS_PER_DAY: u32 = 17_280;

/// Soroban network settings. `Default` is mainnet's published values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkSettings {
    /// Base fee per operation, stroops (the minimum inclusion fee).
    pub base_fee: i64,
    /// Base reserve, stroops.
    pub base_reserve: u32,
    /// Max CPU instructions per transaction.
    pub tx_max_instructions: u32,
    /// Max memory per transaction, bytes.
    pub tx_memory_limit: u32,
    /// Max keys in a footprint.
    pub tx_max_footprint_entries: u32,
    /// Max disk-read entries per transaction (classic entries and archived entries).
    pub tx_max_disk_read_entries: u32,
    /// Max disk-read bytes per transaction.
    pub tx_max_disk_read_bytes: u32,
    /// Max written entries per transaction.
    pub tx_max_write_entries: u32,
    /// Max written bytes per transaction.
    pub tx_max_write_bytes: u32,
    /// Max transaction envelope size, bytes.
    pub tx_max_size_bytes: u32,
    /// Max size of events plus return value, bytes.
    pub tx_max_events_size_bytes: u32,
    /// Max contract code (Wasm) size, bytes.
    pub max_contract_size_bytes: u32,
    /// Max contract data entry size, bytes.
    pub max_contract_data_entry_size_bytes: u32,
    /// Max size of a contract data key (the `LedgerKey` XDR), bytes.
    pub max_contract_data_key_size_bytes: u32,
    /// Max Soroban transactions in one ledger.
    pub ledger_max_tx_count: u32,
    /// Max instructions of the Soroban transactions of one ledger.
    pub ledger_max_instructions: u64,
    /// Max disk-read entries of the Soroban transactions of one ledger.
    pub ledger_max_disk_read_entries: u32,
    /// Max disk-read bytes of the Soroban transactions of one ledger.
    pub ledger_max_disk_read_bytes: u32,
    /// Max written entries of the Soroban transactions of one ledger.
    pub ledger_max_write_entries: u32,
    /// Max written bytes of the Soroban transactions of one ledger.
    pub ledger_max_write_bytes: u32,
    /// Max envelope bytes of the Soroban transactions of one ledger.
    pub ledger_max_tx_size_bytes: u32,
    /// Max operations of the classic transactions of one ledger (`maxTxSetSize`).
    pub ledger_max_classic_ops: u32,
    /// Fee per 10 000 instructions.
    pub fee_per_instruction_increment: i64,
    /// Fee per disk-read entry.
    pub fee_per_disk_read_entry: i64,
    /// Fee per written entry.
    pub fee_per_write_entry: i64,
    /// Fee per disk-read KB.
    pub fee_per_disk_read_1kb: i64,
    /// Fee per written KB (also the base of rent).
    pub fee_per_write_1kb: i64,
    /// Fee per KB of history (transaction size).
    pub fee_per_historical_1kb: i64,
    /// Fee per KB of events and return value.
    pub fee_per_contract_event_1kb: i64,
    /// Fee per KB of transaction size (bandwidth).
    pub fee_per_transaction_size_1kb: i64,
    /// Persistent rent: 1 KB costs `fee_per_write_1kb` every this many ledgers.
    pub persistent_rent_rate_denominator: i64,
    /// Temporary rent denominator.
    pub temporary_rent_rate_denominator: i64,
    /// TTL of a new temporary entry, ledgers.
    pub min_temp_entry_ttl: u32,
    /// TTL of a new or restored persistent entry, ledgers.
    pub min_persistent_entry_ttl: u32,
    /// Max TTL, ledgers.
    pub max_entry_ttl: u32,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        Self {
            base_fee: 100,
            base_reserve: 5_000_000,
            tx_max_instructions: 100_000_000,
            tx_memory_limit: 40 * 1024 * 1024,
            tx_max_footprint_entries: 100,
            tx_max_disk_read_entries: 100,
            tx_max_disk_read_bytes: 200_000,
            tx_max_write_entries: 50,
            tx_max_write_bytes: 132 * 1024,
            tx_max_size_bytes: 132 * 1024,
            tx_max_events_size_bytes: 16 * 1024,
            max_contract_size_bytes: 128 * 1024,
            max_contract_data_entry_size_bytes: 128 * 1024,
            max_contract_data_key_size_bytes: 250,
            ledger_max_tx_count: 1_000,
            ledger_max_instructions: 600_000_000,
            ledger_max_disk_read_entries: 1_000,
            ledger_max_disk_read_bytes: 7_000_000,
            ledger_max_write_entries: 500,
            ledger_max_write_bytes: 143 * 1024,
            ledger_max_tx_size_bytes: 133 * 1024,
            ledger_max_classic_ops: 1_000,
            fee_per_instruction_increment: 25,
            fee_per_disk_read_entry: 6_250,
            fee_per_write_entry: 10_000,
            fee_per_disk_read_1kb: 1_786,
            fee_per_write_1kb: 11_800,
            fee_per_historical_1kb: 16_235,
            fee_per_contract_event_1kb: 10_000,
            fee_per_transaction_size_1kb: 1_624,
            persistent_rent_rate_denominator: 2_103,
            temporary_rent_rate_denominator: 4_206,
            min_temp_entry_ttl: LEDGERS_PER_DAY,
            min_persistent_entry_ttl: 120 * LEDGERS_PER_DAY,
            max_entry_ttl: 180 * LEDGERS_PER_DAY,
        }
    }
}

impl NetworkSettings {
    /// The fee rates as the host's fee functions take them.
    pub fn fee_configuration(&self) -> FeeConfiguration {
        FeeConfiguration {
            fee_per_instruction_increment: self.fee_per_instruction_increment,
            fee_per_disk_read_entry: self.fee_per_disk_read_entry,
            fee_per_write_entry: self.fee_per_write_entry,
            fee_per_disk_read_1kb: self.fee_per_disk_read_1kb,
            fee_per_write_1kb: self.fee_per_write_1kb,
            fee_per_historical_1kb: self.fee_per_historical_1kb,
            fee_per_contract_event_1kb: self.fee_per_contract_event_1kb,
            fee_per_transaction_size_1kb: self.fee_per_transaction_size_1kb,
        }
    }

    /// The rent rates as the host's fee functions take them.
    pub fn rent_fee_configuration(&self) -> RentFeeConfiguration {
        RentFeeConfiguration {
            fee_per_write_1kb: self.fee_per_write_1kb,
            fee_per_rent_1kb: self.fee_per_write_1kb,
            fee_per_write_entry: self.fee_per_write_entry,
            persistent_rent_rate_denominator: self.persistent_rent_rate_denominator,
            temporary_rent_rate_denominator: self.temporary_rent_rate_denominator,
        }
    }

    /// The configuration soroban-simulation needs.
    pub fn network_config(&self) -> NetworkConfig {
        let (cpu_cost_params, memory_cost_params) = host_cost_params();
        NetworkConfig {
            fee_configuration: self.fee_configuration(),
            rent_fee_configuration: self.rent_fee_configuration(),
            tx_max_instructions: self.tx_max_instructions as i64,
            tx_memory_limit: self.tx_memory_limit,
            cpu_cost_params,
            memory_cost_params,
            min_temp_entry_ttl: self.min_temp_entry_ttl,
            min_persistent_entry_ttl: self.min_persistent_entry_ttl,
            max_entry_ttl: self.max_entry_ttl,
        }
    }

    /// The host's view of a ledger.
    pub fn ledger_info(&self, sequence: u32, timestamp: u64, network_id: [u8; 32]) -> LedgerInfo {
        LedgerInfo {
            protocol_version: PROTOCOL_VERSION,
            sequence_number: sequence,
            timestamp,
            network_id,
            base_reserve: self.base_reserve,
            min_temp_entry_ttl: self.min_temp_entry_ttl,
            min_persistent_entry_ttl: self.min_persistent_entry_ttl,
            max_entry_ttl: self.max_entry_ttl,
        }
    }

    /// A fresh metering budget for one transaction limited to `instructions`.
    pub fn budget(&self, instructions: u32) -> Result<Budget, soroban_env_host::HostError> {
        let (cpu, mem) = host_cost_params();
        Budget::try_from_configs(instructions as u64, self.tx_memory_limit as u64, cpu, mem)
    }
}

/// The host's calibrated cost model, read back from a default budget.
///
/// Networks store these parameters in config-setting entries, set by validator votes from
/// the same calibration; the host keeps its copy private, so each parameter is measured:
/// charging input 0 costs the constant term, and input 128 adds the linear term exactly
/// (linear terms are scaled by 2^7).
fn host_cost_params() -> (ContractCostParams, ContractCostParams) {
    static PARAMS: std::sync::OnceLock<(Vec<ContractCostParamEntry>, Vec<ContractCostParamEntry>)> =
        std::sync::OnceLock::new();
    let (cpu, mem) = PARAMS.get_or_init(|| {
        // Cost types without an input refuse `Some(input)`: they have a constant term only.
        let measure = |ty: ContractCostType, input: u64| -> (u64, u64) {
            let charged = |input: Option<u64>| {
                let budget = Budget::default();
                budget.charge(ty, input).ok()?;
                Some((
                    budget.get_cpu_insns_consumed().ok()?,
                    budget.get_mem_bytes_consumed().ok()?,
                ))
            };
            charged(Some(input))
                .or_else(|| charged(None))
                .unwrap_or((0, 0))
        };
        let mut cpu = Vec::new();
        let mut mem = Vec::new();
        for ty in ContractCostType::variants() {
            let (c0, m0) = measure(ty, 0);
            let (c1, m1) = measure(ty, 128);
            let entry = |konst: u64, lin: u64| ContractCostParamEntry {
                ext: ExtensionPoint::V0,
                const_term: konst as i64,
                linear_term: lin as i64,
            };
            cpu.push(entry(c0, c1.saturating_sub(c0)));
            mem.push(entry(m0, m1.saturating_sub(m0)));
        }
        (cpu, mem)
    });
    (
        ContractCostParams(cpu.clone().try_into().unwrap_or_default()),
        ContractCostParams(mem.clone().try_into().unwrap_or_default()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_cost_model_matches_the_default_budget() {
        let (cpu, mem) = host_cost_params();
        assert_eq!(cpu.0.len(), ContractCostType::variants().len());
        // A budget built from the measured parameters charges what the default one does.
        let ours = NetworkSettings::default().budget(100_000_000).unwrap();
        let default = Budget::default();
        for (ty, input) in [
            (ContractCostType::WasmInsnExec, None),
            (ContractCostType::MemCpy, Some(4096)),
            (ContractCostType::ComputeSha256Hash, Some(300)),
            (ContractCostType::VerifyEcdsaSecp256r1Sig, None),
        ] {
            ours.charge(ty, input).unwrap();
            default.charge(ty, input).unwrap();
        }
        assert!(ours.get_cpu_insns_consumed().unwrap() > 0);
        assert_eq!(
            ours.get_cpu_insns_consumed().unwrap(),
            default.get_cpu_insns_consumed().unwrap()
        );
        assert_eq!(
            ours.get_mem_bytes_consumed().unwrap(),
            default.get_mem_bytes_consumed().unwrap()
        );
        assert!(mem.0.iter().any(|e| e.const_term > 0));
    }
}
