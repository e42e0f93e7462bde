//! The one-time conversion after upgrading a deployment of the first version (raw checksum
//! roots on chain, root-derived ids, grants without `by_owner`): the admin calls `migrate`
//! with, for each existing token, the commitment the platform computed from its root.
use soroban_sdk::{contractimpl, contracttype, Address, BytesN, Env, String, Vec};

use super::{StudyToken, StudyTokenArgs, StudyTokenClient};
use crate::errors::StudyTokenError as Error;
use crate::storage::{self, List, CHUNK};
use crate::types::{GrantInfo, Release, Role, Token, TokenStatus};

// `Release` as the first version stored it.
#[contracttype]
#[derive(Clone)]
pub struct LegacyRelease {
    pub metadata_uri: String,
    pub checksum_root: BytesN<32>,
    pub file_count: u32,
    pub request_id: Option<BytesN<16>>,
}

// `Token` as the first version stored it (only the release differs).
#[contracttype]
#[derive(Clone)]
pub struct LegacyToken {
    pub id: u32,
    pub owner: Address,
    pub issuer: Address,
    pub status: TokenStatus,
    pub release: LegacyRelease,
    pub minted_ledger: u32,
    pub minted_at: u64,
    pub pending_until: u32,
    pub consent_ledger: u32,
    pub consent_at: u64,
    pub consent_by: Address,
    pub slot: u32,
    pub issuer_revoked: bool,
}

// `GrantInfo` as the first version stored it (no `by_owner`).
#[contracttype]
#[derive(Clone)]
pub struct LegacyGrantInfo {
    pub grantee: Address,
    pub role: Role,
    pub expires_at: Option<u64>,
    pub granter: Address,
    pub token_slot: u32,
    pub grantee_slot: u32,
}

impl LegacyGrantInfo {
    // The grant with `by_owner` as the first version's rule had it: every grant stood on
    // its own. `migrate` refines it.
    pub fn upgrade(self, by_owner: bool) -> GrantInfo {
        GrantInfo {
            grantee: self.grantee,
            role: self.role,
            expires_at: self.expires_at,
            granter: self.granter,
            by_owner,
            token_slot: self.token_slot,
            grantee_slot: self.grantee_slot,
        }
    }
}

#[contractimpl]
impl StudyToken {
    // After an upgrade from the first version: replaces each listed token's raw checksum
    // root with `commitment` (computed off chain, as for new releases), indexes the
    // commitment while the token is pending or active, counts pending releases against the
    // issuer's cap, and gives each of its grants `by_owner` (a grant whose granter is the
    // owner, or holds no Sharer grant on the token, counts as the owner's). Tokens already
    // converted are skipped. Returns how many were converted. Admin only.
    pub fn migrate(env: Env, tokens: Vec<(u32, BytesN<32>)>) -> Result<u32, Error> {
        storage::admin(&env).require_auth();
        let mut converted = 0;
        for (id, commitment) in tokens.iter() {
            let legacy = match storage::stored_token(&env, id)? {
                storage::Stored::Current(_) => continue,
                storage::Stored::Legacy(t) => t,
            };
            if commitment.to_array() == [0u8; 32] {
                return Err(Error::InvalidCommitment);
            }
            let token = Token {
                id,
                owner: legacy.owner,
                issuer: legacy.issuer,
                status: legacy.status,
                release: Release {
                    metadata_uri: legacy.release.metadata_uri,
                    commitment: commitment.clone(),
                    file_count: legacy.release.file_count,
                    request_id: legacy.release.request_id,
                },
                minted_ledger: legacy.minted_ledger,
                minted_at: legacy.minted_at,
                pending_until: legacy.pending_until,
                consent_ledger: legacy.consent_ledger,
                consent_at: legacy.consent_at,
                consent_by: legacy.consent_by,
                slot: legacy.slot,
                issuer_revoked: legacy.issuer_revoked,
            };
            if matches!(token.status, TokenStatus::Pending | TokenStatus::Active) {
                if storage::commitment(&env, &commitment).is_some_and(|held| held != id) {
                    return Err(Error::DuplicateCommitment);
                }
                storage::set_commitment(&env, &commitment, id);
            }
            if token.status == TokenStatus::Pending {
                let n = storage::pending_count(&env, &token.issuer, &token.owner);
                storage::set_pending_count(&env, &token.issuer, &token.owner, n + 1);
            }
            storage::set_token(&env, &token);
            migrate_grants(&env, &token);
            converted += 1;
        }
        storage::bump_instance(&env);
        Ok(converted)
    }
}

// Rewrites every grant of `token` in the current form.
fn migrate_grants(env: &Env, token: &Token) {
    let list = List::Grants(token.id);
    let len = list.len(env);
    let mut start = 0;
    while start < len {
        let grantees: Vec<Address> = list.page(env, start, CHUNK);
        for grantee in grantees.iter() {
            if let Some(legacy) = storage::legacy_grant(env, token.id, &grantee) {
                let granter = legacy.granter.clone();
                let sharer = matches!(
                    storage::grant(env, token.id, &granter),
                    Some(GrantInfo {
                        role: Role::Sharer,
                        ..
                    })
                );
                let by_owner = granter == token.owner || !sharer;
                storage::set_grant(env, token.id, &legacy.upgrade(by_owner));
            }
        }
        start += CHUNK;
    }
}
