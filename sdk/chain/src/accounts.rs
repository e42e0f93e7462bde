//! Operational accounts (the sponsor and the channels) must exist before the relayer runs.
//! This creates the missing ones from a funded account; users' accounts are created by the
//! relayer with sponsored reserves instead.

use crate::error::{Error, Result};
use crate::network::Network;
use crate::outcome::{submit_envelope, Backoff};
use crate::rpc::Rpc;
use crate::signer::Signer;
use crate::tx::{create_account_tx, sign_tx, TxHeader, BASE_FEE};

/// Creates each of `addresses` that does not exist yet with `starting_balance` stroops,
/// paid by `funder`. Returns the addresses it created.
///
/// # Errors
/// [`Error::InvalidArgument`] if the funder account does not exist; submission errors
/// (e.g. `txFAILED: createAccount Underfunded`).
pub async fn ensure_funded_accounts(
    rpc: &dyn Rpc,
    network: &Network,
    funder: &dyn Signer,
    addresses: &[String],
    starting_balance: i64,
    backoff: Backoff,
) -> Result<Vec<String>> {
    let mut created = Vec::new();
    for address in addresses {
        if rpc.account_sequence(address).await?.is_some() {
            continue;
        }
        // Re-read each time: the funder may be used by others meanwhile.
        let seq = rpc
            .account_sequence(&funder.address())
            .await?
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "funding account {} does not exist",
                    funder.address()
                ))
            })?;
        let header = TxHeader {
            source: funder.public_key(),
            seq: seq + 1,
            max_time: None,
        };
        let mut tx = create_account_tx(&header, address, starting_balance)?;
        // Bid what the network charges now (its base fee, or the surge price of a busy
        // network), never below the protocol's minimum base fee.
        tx.fee = rpc
            .classic_inclusion_fee()
            .await?
            .unwrap_or(BASE_FEE)
            .max(BASE_FEE);
        let envelope = sign_tx(network, tx, &[funder])?;
        submit_envelope(rpc, network, &envelope, backoff).await?;
        created.push(address.clone());
    }
    Ok(created)
}
