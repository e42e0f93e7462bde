//! The cache of parsed contract Wasm modules, as stellar-core keeps one: every uploaded
//! contract is parsed once, and invocations instantiate from the parsed module. Besides
//! speed this matters for metering: the host charges a cached instantiation less than a
//! parse, and simulation (which has no cache) charges the parse, so simulated
//! instructions cover what an application with the cache consumes.

use soroban_env_host::budget::{AsBudget, Budget};
use soroban_env_host::xdr::LedgerEntryData;
use soroban_env_host::{CompilationContext, Error, ErrorHandler, HostError, ModuleCache};

use crate::settings::PROTOCOL_VERSION;
use crate::state::LedgerState;

/// What the host needs to parse modules outside a transaction: a budget and error mapping.
#[derive(Clone)]
struct Compilation {
    budget: Budget,
}

impl AsBudget for Compilation {
    fn as_budget(&self) -> &Budget {
        &self.budget
    }
}

impl ErrorHandler for Compilation {
    fn map_err<T, E>(&self, res: Result<T, E>) -> Result<T, HostError>
    where
        Error: From<E>,
        E: std::fmt::Debug,
    {
        res.map_err(|e| HostError::from(Error::from(e)))
    }

    fn error(&self, error: Error, _msg: &str, _args: &[soroban_env_host::Val]) -> HostError {
        HostError::from(error)
    }
}

impl CompilationContext for Compilation {}

fn context() -> Compilation {
    // Parsing happens outside any transaction: an unmetered-in-practice budget.
    let budget = Budget::try_from_configs(
        u64::MAX / 2,
        u64::MAX / 2,
        Default::default(),
        Default::default(),
    )
    .unwrap_or_default();
    Compilation { budget }
}

/// A new, empty module cache.
pub fn new_cache() -> ModuleCache {
    ModuleCache::new(&context()).unwrap_or_default()
}

/// Parses `wasm` into the cache; a module the host cannot parse is left out (invoking it
/// then fails in the host, as on the network).
pub fn add(cache: &ModuleCache, wasm: &[u8]) {
    let _ = cache.parse_and_cache_module_simple(&context(), PROTOCOL_VERSION, wasm);
}

/// Parses every contract code entry of `state` into the cache.
pub fn add_all(cache: &ModuleCache, state: &LedgerState) {
    for e in state.entries.values() {
        if let LedgerEntryData::ContractCode(c) = &e.entry.data {
            add(cache, c.code.as_slice());
        }
    }
}
