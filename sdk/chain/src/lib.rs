//! Stellar transactions, the RPC client, contract clients and the relayer core.
