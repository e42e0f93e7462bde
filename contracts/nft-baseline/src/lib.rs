//! Cost baseline for `docs/costs.md`: the storage and event footprint of a plain SEP-0050
//! non-fungible mint as OpenZeppelin's `stellar-tokens` `Base::mint` lays it out (an owner
//! entry per token, a balance entry per owner, a `mint` event with the owner as topic).
//! Written from the SEP, not from OpenZeppelin's code; OpenZeppelin's own `Base::mint` is
//! measured beside it from `contracts/oz-baseline` (its figures are within 3 stroops).
#![no_std]

use soroban_sdk::{contract, contractevent, contractimpl, contracttype, Address, Env};

const EXTEND_TO: u32 = 30 * 17_280;
const THRESHOLD: u32 = 29 * 17_280;

#[contracttype]
enum Key {
    NextId,
    Owner(u32),
    Balance(Address),
}

/// SEP-0050 mint event.
#[contractevent]
pub struct Mint {
    /// Receiver.
    #[topic]
    pub to: Address,
    /// Minted token.
    pub token_id: u32,
}

/// The baseline collection.
#[contract]
pub struct NftBaseline;

#[contractimpl]
impl NftBaseline {
    /// Mints the next token to `to`, authorized by `to` (as a sequential `Base::mint` with
    /// an access-controlled caller).
    pub fn mint(env: Env, to: Address) -> u32 {
        to.require_auth();
        let id: u32 = env.storage().instance().get(&Key::NextId).unwrap_or(0);
        env.storage().instance().set(&Key::NextId, &(id + 1));
        let owner = Key::Owner(id);
        env.storage().persistent().set(&owner, &to);
        env.storage()
            .persistent()
            .extend_ttl(&owner, THRESHOLD, EXTEND_TO);
        let balance_key = Key::Balance(to.clone());
        let balance: u32 = env.storage().persistent().get(&balance_key).unwrap_or(0);
        env.storage().persistent().set(&balance_key, &(balance + 1));
        env.storage()
            .persistent()
            .extend_ttl(&balance_key, THRESHOLD, EXTEND_TO);
        env.storage().instance().extend_ttl(THRESHOLD, EXTEND_TO);
        Mint { to, token_id: id }.publish(&env);
        id
    }
}
