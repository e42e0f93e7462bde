//! Records requests (an issuer asks an outside institution for a patient's records), the
//! owner's re-key of a token's metadata pointer, and erasure (crypto-shredding's terminal
//! state on chain).
use soroban_sdk::{contractimpl, Address, BytesN, Env, String};

use super::StudyTokenClient;
use super::{not_paused, status, trusted, StudyToken, StudyTokenArgs};
use crate::errors::StudyTokenError as Error;
use crate::events::{Erased, RecordsRequestFulfilled, RecordsRequested, Rekeyed};
use crate::storage::{self, List};
use crate::types::{RecordsRequest, TokenStatus};
use crate::validate;

#[contractimpl]
impl StudyToken {
    // An active trusted `issuer` records that it asked an outside institution for records:
    // `request_id` is 32 random bytes chosen off chain, `patient` the patient's address when
    // known. Nothing else (no name, no institution) reaches the chain. The request can be
    // fulfilled for `REQUEST_TTL` (90 days). Emits `records_requested`. Issuer's
    // authorization.
    pub fn request_records(
        env: Env,
        issuer: Address,
        request_id: BytesN<32>,
        patient: Option<Address>,
    ) -> Result<(), Error> {
        issuer.require_auth();
        not_paused(&env)?;
        if request_id.to_array() == [0u8; 32] {
            return Err(Error::InvalidRequestId);
        }
        if !trusted(&env, &issuer) {
            return Err(Error::IssuerNotTrusted);
        }
        if storage::request(&env, &request_id).is_some() {
            return Err(Error::DuplicateRequest);
        }
        let request = RecordsRequest {
            issuer: issuer.clone(),
            fulfilled: false,
        };
        storage::set_request(&env, &request_id, &request);
        storage::bump_instance(&env);
        RecordsRequested {
            request_id,
            issuer,
            patient,
        }
        .publish(&env);
        Ok(())
    }

    // The issuer that made records request `request_id` records that the records were
    // released as `token_id` (its own release, pending or active). Once only. Emits
    // `records_request_fulfilled`. Issuer's authorization.
    pub fn fulfill_records_request(
        env: Env,
        issuer: Address,
        request_id: BytesN<32>,
        token_id: u32,
    ) -> Result<(), Error> {
        issuer.require_auth();
        let mut request = storage::request(&env, &request_id).ok_or(Error::RequestNotFound)?;
        if request.issuer != issuer {
            return Err(Error::NotRequester);
        }
        if request.fulfilled {
            return Err(Error::RequestFulfilled);
        }
        let token = storage::token(&env, token_id)?;
        if token.issuer != issuer {
            return Err(Error::NotIssuer);
        }
        request.fulfilled = true;
        storage::set_request(&env, &request_id, &request);
        storage::bump_instance(&env);
        RecordsRequestFulfilled {
            request_id,
            issuer,
            token_id,
        }
        .publish(&env);
        Ok(())
    }

    // The owner points an Active token at a new encrypted metadata object (after a new
    // study key re-encrypted every file): `metadata_uri` as in a release. The commitment
    // is unchanged, so `verify` still holds. Emits `rekeyed`. Owner's authorization.
    pub fn rekey(
        env: Env,
        owner: Address,
        token_id: u32,
        metadata_uri: String,
    ) -> Result<(), Error> {
        owner.require_auth();
        let mut token = storage::token(&env, token_id)?;
        if token.owner != owner {
            return Err(Error::NotOwner);
        }
        if status(&env, &token) != TokenStatus::Active {
            return Err(Error::TokenNotActive);
        }
        token.release.metadata_uri = metadata_uri.clone();
        validate::release(&token.release)?;
        storage::set_token(&env, &token);
        storage::bump_instance(&env);
        Rekeyed {
            token_id,
            owner,
            metadata_uri,
        }
        .publish(&env);
        Ok(())
    }

    // The owner erases an Active token after its keys and files were deleted off chain:
    // the token becomes Erased (terminal), leaves the owner's tokens, and its metadata
    // pointer and commitment are blanked (the commitment is free again). What stays is the
    // non-PHI history: addresses, times and counts. No grant, emergency access, re-key,
    // rotation or access record works afterwards. Emits `erased`. Owner's authorization.
    pub fn erase(env: Env, owner: Address, token_id: u32) -> Result<(), Error> {
        owner.require_auth();
        let mut token = storage::token(&env, token_id)?;
        if token.owner != owner {
            return Err(Error::NotOwner);
        }
        if token.status != TokenStatus::Active {
            return Err(Error::TokenNotActive);
        }
        storage::unlist_token(&env, &List::Owned(owner.clone()), &token);
        storage::clear_commitment(&env, &token);
        token.status = TokenStatus::Erased;
        token.release.metadata_uri = String::from_str(&env, "");
        token.release.commitment = BytesN::from_array(&env, &[0u8; 32]);
        token.release.request_id = None;
        token.slot = 0;
        token.consent_ledger = env.ledger().sequence();
        token.consent_at = env.ledger().timestamp();
        token.consent_by = owner.clone();
        storage::set_token(&env, &token);
        storage::bump_instance(&env);
        Erased { token_id, owner }.publish(&env);
        Ok(())
    }
}
