//! The cost reference of `docs/costs.md`: OpenZeppelin `stellar-tokens` 0.8's `Base::mint`
//! (a sequential non-fungible mint) behind an entry point authorized by the receiver, the
//! same interface as `medimint-nft-baseline`, so `contract-costs` measures both, and the
//! study token, in one harness.
//!
//! Built on its own (`scripts/build-oz-baseline`) because stellar-tokens 0.8 needs
//! soroban-sdk 28 and the main workspace is on the 29 line.
#![no_std]

use soroban_sdk::{contract, contractimpl, Address, Env};
use stellar_tokens::non_fungible::Base;

/// The reference collection.
#[contract]
pub struct OzBaseline;

#[contractimpl]
impl OzBaseline {
    /// Mints the next token to `to`, authorized by `to`.
    pub fn mint(env: Env, to: Address) -> u32 {
        to.require_auth();
        Base::mint(&env, &to)
    }
}
