//! Emergency access (break-glass): an active trusted issuer opens an Active token without
//! the patient's consent, for a bounded time, stating a reason from a closed list, within a
//! per-issuer rate limit; the patient and the admin revoke it. Everything lives in temporary
//! storage: an emergency grant lapses by itself, so it never pays persistent rent.
use soroban_sdk::{contractimpl, Address, Env};

use super::StudyTokenClient;
use super::{access_of, active_token, not_paused, trusted, StudyToken, StudyTokenArgs};
use crate::errors::StudyTokenError as Error;
use crate::events::{EmergencyAccess, EmergencyPolicySet, EmergencyRevoked};
use crate::storage::{
    self, DEFAULT_EMERGENCY_HOURS, MAX_EMERGENCY_HOURS, MAX_EMERGENCY_LIMIT, MAX_EMERGENCY_WINDOW,
    MIN_EMERGENCY_WINDOW,
};
use crate::types::{EmergencyGrant, EmergencyPolicy, EmergencyReason};

#[contractimpl]
impl StudyToken {
    // Break-glass: the active trusted `issuer` opens Active token `token_id` without the
    // patient's consent, stating `reason`, and holds Viewer for `hours` (`None`: 24; at most
    // the admin's `max_hours`, itself at most 72). At most `limit` per issuer per rate
    // window (`emergency_policy`). Returns the Unix time the access ends. Emits
    // `emergency_access`, on which the platform notifies the patient. Issuer's
    // authorization.
    pub fn emergency_access(
        env: Env,
        issuer: Address,
        token_id: u32,
        reason: EmergencyReason,
        hours: Option<u32>,
    ) -> Result<u64, Error> {
        issuer.require_auth();
        not_paused(&env)?;
        let policy = storage::emergency_policy(&env);
        let hours = hours.unwrap_or(DEFAULT_EMERGENCY_HOURS.min(policy.max_hours));
        if hours == 0 || hours > policy.max_hours {
            return Err(Error::InvalidEmergencyHours);
        }
        let token = active_token(&env, token_id)?;
        if !trusted(&env, &issuer) {
            return Err(Error::IssuerNotTrusted);
        }
        if access_of(&env, &token, &issuer).is_some() {
            return Err(Error::AlreadyHasAccess);
        }
        let now = env.ledger().timestamp();
        let (start, used) = match storage::emergency_use(&env, &issuer) {
            Some((start, used)) if now < start.saturating_add(policy.window) => (start, used),
            _ => (now, 0),
        };
        if used >= policy.limit {
            return Err(Error::EmergencyRateLimited);
        }
        storage::set_emergency_use(&env, &issuer, start, used + 1, policy.window);
        let expires_at = now.saturating_add(u64::from(hours) * 3_600);
        storage::set_emergency(
            &env,
            token_id,
            &issuer,
            &EmergencyGrant {
                reason,
                opened_at: now,
                expires_at,
            },
        );
        storage::bump_instance(&env);
        EmergencyAccess {
            token_id,
            issuer,
            patient: token.owner,
            reason,
            expires_at,
        }
        .publish(&env);
        Ok(expires_at)
    }

    // Ends `issuer`'s emergency access to a token before its expiry. The token's owner and
    // the admin revoke it; the issuer may renounce it. `revoker`'s authorization.
    pub fn revoke_emergency(
        env: Env,
        revoker: Address,
        token_id: u32,
        issuer: Address,
    ) -> Result<(), Error> {
        revoker.require_auth();
        let token = storage::token(&env, token_id)?;
        if storage::emergency(&env, token_id, &issuer).is_none() {
            return Err(Error::EmergencyNotFound);
        }
        if revoker != token.owner && revoker != issuer && revoker != storage::admin(&env) {
            return Err(Error::NotGranter);
        }
        storage::remove_emergency(&env, token_id, &issuer);
        storage::bump_instance(&env);
        EmergencyRevoked {
            token_id,
            revoker,
            issuer,
        }
        .publish(&env);
        Ok(())
    }

    // The bounds on emergency access as `(max_hours, limit, window)` (defaults: 72 hours,
    // 10 per issuer per 86,400 seconds).
    pub fn emergency_policy(env: Env) -> (u32, u32, u64) {
        let p = storage::emergency_policy(&env);
        (p.max_hours, p.limit, p.window)
    }

    // Sets the bounds on emergency access: longest grant `max_hours` (1..=72), `limit`
    // accesses (1..=1,000) per issuer per `window` seconds (one hour to 30 days). Admin
    // only.
    pub fn set_emergency_policy(
        env: Env,
        max_hours: u32,
        limit: u32,
        window: u64,
    ) -> Result<(), Error> {
        storage::admin(&env).require_auth();
        let policy = EmergencyPolicy {
            max_hours,
            limit,
            window,
        };
        if policy.max_hours == 0
            || policy.max_hours > MAX_EMERGENCY_HOURS
            || policy.limit == 0
            || policy.limit > MAX_EMERGENCY_LIMIT
            || policy.window < MIN_EMERGENCY_WINDOW
            || policy.window > MAX_EMERGENCY_WINDOW
        {
            return Err(Error::InvalidEmergencyPolicy);
        }
        storage::set_emergency_policy(&env, &policy);
        storage::bump_instance(&env);
        EmergencyPolicySet {
            max_hours: policy.max_hours,
            limit: policy.limit,
            window: policy.window,
        }
        .publish(&env);
        Ok(())
    }
}
