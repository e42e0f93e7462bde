//! The mission end to end on the embedded default: local objects and SQLite.

use medimint_e2e::{run_flow, runtime, Adapters};

#[test]
fn mission_on_local_storage_and_sqlite() {
    // The devnet runs its own runtime, so it starts outside the test's.
    let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config::default()).unwrap();
    runtime().block_on(run_flow(Adapters::Local, devnet.rpc_url()));
}
