use soroban_sdk::{
    contract, contractimpl, panic_with_error, Address, BytesN, Env, String, TryFromVal, Val, Vec,
};

use crate::admin_core;
use crate::errors::StudyTokenError as Error;
use crate::events::{
    AccessRecorded, Configured, Mint, Minted, OwnerRotated, ReleaseApproved, ReleaseProposed,
    ReleaseRejected, ReleaseWithdrawn, RoleGranted, RoleRevoked,
};
use crate::registry_client::IssuerRegistryClient;
use crate::storage::{self, List, MAX_PAGE};
use crate::types::{
    Access, AccessKind, Consent, GrantInfo, RejectReason, Release, Role, Token, TokenStatus,
};
use crate::validate;

// The other `#[contractimpl]` blocks of the token live in child modules: the generated
// client's fields are private to this module.
#[path = "admin.rs"]
mod admin;
#[path = "emergency.rs"]
mod emergency;
#[path = "records.rs"]
mod records;

// The study token contract.
#[contract]
pub struct StudyToken;

#[contractimpl]
impl StudyToken {
    // Creates the token with its `admin`, the `issuer_registry` it trusts, SEP-0050
    // `name` and `symbol`, and the `upgrade_delay` in ledgers (`None`: 48 hours; at most
    // `MAX_UPGRADE_DELAY`). Emits `configured`.
    pub fn __constructor(
        env: Env,
        admin: Address,
        issuer_registry: Address,
        name: String,
        symbol: String,
        upgrade_delay: Option<u32>,
    ) {
        storage::set_config(&env, &admin, &issuer_registry, &name, &symbol);
        let upgrade_delay = admin_core::init_upgrade_delay(&env, upgrade_delay)
            .unwrap_or_else(|f| panic_with_error!(&env, Error::from(f)));
        storage::bump_instance(&env);
        Configured {
            admin,
            issuer_registry,
            pending_window: storage::pending_window(&env),
            pending_cap: storage::pending_cap(&env),
            upgrade_delay,
        }
        .publish(&env);
    }

    // ----- release and consent -----

    // First of two transactions: a trusted `issuer` proposes `release` to `patient`.
    // Returns the new token id; the token is Pending until the patient approves or rejects
    // it (or the issuer withdraws it), and lapses after the pending window. One issuer may
    // have at most `pending_cap` pending releases for one patient. Issuer's authorization.
    pub fn propose_release(
        env: Env,
        issuer: Address,
        patient: Address,
        release: Release,
    ) -> Result<u32, Error> {
        issuer.require_auth();
        not_paused(&env)?;
        let outstanding = storage::pending_count(&env, &issuer, &patient);
        if outstanding >= storage::pending_cap(&env) {
            return Err(Error::PendingCapReached);
        }
        let window = storage::pending_window(&env);
        let mut token = new_token(&env, &issuer, &patient, release, TokenStatus::Pending)?;
        storage::set_pending_count(&env, &issuer, &patient, outstanding + 1);
        token.pending_until = env.ledger().sequence().saturating_add(window);
        token.slot = List::Pending(patient.clone()).push(&env, token.id.into());
        storage::set_token(&env, &token);
        storage::bump_instance(&env);
        ReleaseProposed {
            token_id: token.id,
            issuer,
            patient,
            pending_until: token.pending_until,
        }
        .publish(&env);
        Ok(token.id)
    }

    // Second transaction: the patient consents to a pending release; the token becomes
    // Active and the releasing issuer holds its implicit Viewer role. Patient's
    // authorization.
    pub fn approve_release(env: Env, patient: Address, token_id: u32) -> Result<(), Error> {
        patient.require_auth();
        not_paused(&env)?;
        let mut token = pending_of_patient(&env, &patient, token_id)?;
        if status(&env, &token) == TokenStatus::Lapsed {
            return Err(Error::ReleaseLapsed);
        }
        // A release proposed before its issuer was suspended or removed cannot activate (the
        // patient can still reject it).
        if !trusted(&env, &token.issuer) {
            return Err(Error::IssuerNotTrusted);
        }
        storage::unlist_token(&env, &List::Pending(patient.clone()), &token);
        settle_pending(&env, &token);
        record_consent(&env, &mut token, TokenStatus::Active);
        activate(&env, &mut token);
        storage::bump_instance(&env);
        ReleaseApproved { token_id, patient }.publish(&env);
        Ok(())
    }

    // The patient refuses a pending (or lapsed) release: the token becomes Rejected and
    // nobody gains access. `reason` comes from a closed list. Patient's authorization.
    pub fn reject_release(
        env: Env,
        patient: Address,
        token_id: u32,
        reason: RejectReason,
    ) -> Result<(), Error> {
        patient.require_auth();
        let mut token = pending_of_patient(&env, &patient, token_id)?;
        storage::unlist_token(&env, &List::Pending(patient.clone()), &token);
        settle_pending(&env, &token);
        record_consent(&env, &mut token, TokenStatus::Rejected);
        storage::clear_commitment(&env, &token);
        storage::set_token(&env, &token);
        storage::bump_instance(&env);
        ReleaseRejected {
            token_id,
            patient,
            reason,
        }
        .publish(&env);
        Ok(())
    }

    // The issuer takes back a release that is still pending (or lapsed), e.g. one addressed
    // to the wrong patient: the token becomes Withdrawn, nobody gains access, and its
    // commitment is free to be released again. Issuer's authorization (a suspended issuer
    // may still withdraw).
    pub fn withdraw_release(env: Env, issuer: Address, token_id: u32) -> Result<(), Error> {
        issuer.require_auth();
        let mut token = storage::token(&env, token_id)?;
        if token.issuer != issuer {
            return Err(Error::NotIssuer);
        }
        if token.status != TokenStatus::Pending {
            return Err(Error::TokenNotPending);
        }
        withdraw(&env, &mut token, &issuer);
        Ok(())
    }

    // One transaction: a trusted `issuer` mints `release` to `patient`, Active at once; the
    // issuer holds its implicit Viewer role. Both the issuer and the patient authorize this
    // call over the same arguments.
    pub fn mint(
        env: Env,
        issuer: Address,
        patient: Address,
        release: Release,
    ) -> Result<u32, Error> {
        // Checked before the signatures: one address cannot authorize the same call twice.
        if issuer == patient {
            return Err(Error::SelfRelease);
        }
        issuer.require_auth();
        patient.require_auth();
        not_paused(&env)?;
        let mut token = new_token(&env, &issuer, &patient, release, TokenStatus::Active)?;
        token.consent_by = patient.clone();
        activate(&env, &mut token);
        storage::bump_instance(&env);
        Minted {
            token_id: token.id,
            issuer,
            patient,
        }
        .publish(&env);
        Ok(token.id)
    }

    // Moves a token to the patient's new address (a key change). Grants are kept; a grant
    // the new address held on this token is dropped (with `role_revoked`). The new owner
    // cannot be the token's issuer. The old key keeps no power over the token: grants it
    // made as owner can then be revoked only by the current owner or their grantee. Needs
    // both the old and new address's authorization.
    pub fn rotate_owner(env: Env, token_id: u32, old: Address, new: Address) -> Result<(), Error> {
        // Checked before the signatures: one address cannot authorize the same call twice.
        if old == new {
            return Err(Error::SameOwner);
        }
        old.require_auth();
        new.require_auth();
        let mut token = storage::token(&env, token_id)?;
        if token.owner != old {
            return Err(Error::NotOwner);
        }
        if token.issuer == new {
            return Err(Error::SelfRelease);
        }
        let (from, to) = match status(&env, &token) {
            TokenStatus::Active => (List::Owned(old.clone()), List::Owned(new.clone())),
            TokenStatus::Pending => (List::Pending(old.clone()), List::Pending(new.clone())),
            TokenStatus::Rejected
            | TokenStatus::Withdrawn
            | TokenStatus::Lapsed
            | TokenStatus::Erased => return Err(Error::TokenNotActive),
        };
        if let Some(grant) = storage::grant(&env, token_id, &new, &old) {
            storage::delete_grant(&env, token_id, &grant);
            RoleRevoked {
                token_id,
                revoker: old.clone(),
                grantee: new.clone(),
            }
            .publish(&env);
        }
        storage::unlist_token(&env, &from, &token);
        if token.status == TokenStatus::Pending {
            // The issuer's pending count follows the patient to the new key.
            settle_pending(&env, &token);
            let moved = storage::pending_count(&env, &token.issuer, &new);
            storage::set_pending_count(&env, &token.issuer, &new, moved + 1);
        }
        token.slot = to.push(&env, token_id.into());
        token.owner = new.clone();
        storage::set_token(&env, &token);
        storage::bump_instance(&env);
        OwnerRotated {
            token_id,
            old_owner: old,
            new_owner: new,
        }
        .publish(&env);
        Ok(())
    }

    // ----- roles -----

    // `granter` gives `grantee` `role` (Viewer or Sharer) on an Active token until
    // `expires_at` (Unix seconds; `None` for no expiry), replacing an earlier grant. The
    // owner grants either role; a current Sharer grants only Viewer, never past its own
    // expiry, and never replaces a grant it did not make. A Sharer's grant also ends, at
    // access time, when the Sharer's own access ends or stops being Sharer. Granter's
    // authorization.
    pub fn grant(
        env: Env,
        granter: Address,
        token_id: u32,
        grantee: Address,
        role: Role,
        expires_at: Option<u64>,
    ) -> Result<(), Error> {
        granter.require_auth();
        not_paused(&env)?;
        let token = active_token(&env, token_id)?;
        if role == Role::Owner {
            return Err(Error::InvalidRole);
        }
        if grantee == token.owner {
            return Err(Error::GrantToOwner);
        }
        if let Some(at) = expires_at {
            if at <= env.ledger().timestamp() {
                return Err(Error::ExpiryInPast);
            }
        }
        let existing = storage::grant(&env, token_id, &grantee, &token.owner);
        if granter != token.owner {
            let own = access_of(&env, &token, &granter).ok_or(Error::NotAuthorizedToGrant)?;
            if own.role != Role::Sharer {
                return Err(Error::NotAuthorizedToGrant);
            }
            if role != Role::Viewer {
                return Err(Error::SharerCannotGrantSharer);
            }
            if let Some(limit) = own.expires_at {
                if expires_at.is_none_or(|at| at > limit) {
                    return Err(Error::ExpiryBeyondGranter);
                }
            }
            let by_other = match &existing {
                Some(g) => g.granter != granter,
                // The issuer's implicit Viewer is the owner's grant.
                None => grantee == token.issuer && !token.issuer_revoked,
            };
            if by_other {
                return Err(Error::NotGranter);
            }
        }
        put_grant(&env, &token, existing, &granter, &grantee, role, expires_at)?;
        storage::bump_instance(&env);
        Ok(())
    }

    // Ends `grantee`'s grant on a token. The owner revokes any grant, the releasing
    // issuer's implicit Viewer included (revoking the issuer ends both its implicit role
    // and any stored grant it holds). A grantee (the issuer included) may renounce its own
    // access by revoking itself. A Sharer revokes grants it made; a grant made by an owner
    // is revocable only by the current owner (so a rotated-away key cannot revoke).
    // Revoker's authorization.
    pub fn revoke(
        env: Env,
        revoker: Address,
        token_id: u32,
        grantee: Address,
    ) -> Result<(), Error> {
        revoker.require_auth();
        let mut token = storage::token(&env, token_id)?;
        let implicit = grantee == token.issuer && !token.issuer_revoked;
        let grant = storage::grant(&env, token_id, &grantee, &token.owner);
        if grant.is_none() && !implicit {
            return Err(Error::GrantNotFound);
        }
        let allowed = revoker == token.owner
            || revoker == grantee
            || grant
                .as_ref()
                .is_some_and(|g| !g.by_owner && g.granter == revoker);
        if !allowed {
            return Err(Error::NotGranter);
        }
        if let Some(grant) = grant {
            storage::delete_grant(&env, token_id, &grant);
        }
        if implicit && (revoker == token.owner || revoker == grantee) {
            token.issuer_revoked = true;
            storage::set_token(&env, &token);
        }
        storage::bump_instance(&env);
        RoleRevoked {
            token_id,
            revoker,
            grantee,
        }
        .publish(&env);
        Ok(())
    }

    // The current access of `addr` to a token: role, expiry and granter. `None` when it has
    // none, its grant expired, its granter (a Sharer) no longer holds Sharer access, the
    // address is the token's issuer and that issuer is not trusted now, or the token is not
    // Active (Pending, Rejected, Withdrawn and lapsed tokens give nobody access). The
    // expiry is the earlier of the grant's and its Sharer granter's.
    pub fn access(env: Env, token_id: u32, addr: Address) -> Result<Option<Access>, Error> {
        let token = storage::token(&env, token_id)?;
        Ok(access_of(&env, &token, &addr))
    }

    // Records that `viewer` viewed or downloaded the study: the event is the audit trail.
    // Needs the viewer's authorization and current access (see `access`: an issuer that is
    // suspended or removed has none).
    pub fn record_access(
        env: Env,
        viewer: Address,
        token_id: u32,
        kind: AccessKind,
    ) -> Result<(), Error> {
        viewer.require_auth();
        not_paused(&env)?;
        let token = active_token(&env, token_id)?;
        let access = access_of(&env, &token, &viewer).ok_or(Error::NoAccess)?;
        storage::bump_instance(&env);
        AccessRecorded {
            token_id,
            viewer,
            kind,
            role: access.role,
        }
        .publish(&env);
        Ok(())
    }

    // ----- reads -----

    // Consent state of a token: effective status, when, and by whom.
    pub fn consent_status(env: Env, token_id: u32) -> Result<Consent, Error> {
        let token = storage::token(&env, token_id)?;
        let status = status(&env, &token);
        let ledger = if status == TokenStatus::Lapsed {
            token.pending_until
        } else {
            token.consent_ledger
        };
        Ok(Consent {
            status,
            ledger,
            timestamp: token.consent_at,
            by: token.consent_by,
        })
    }

    // Whether the token is Active and carries `commitment` (false otherwise). A holder of
    // the files and of the encrypted metadata (which holds the salt, or access to the
    // platform's key) recomputes the commitment from the checksum root and checks it here.
    pub fn verify(env: Env, token_id: u32, commitment: BytesN<32>) -> Result<bool, Error> {
        let token = storage::token(&env, token_id)?;
        Ok(status(&env, &token) == TokenStatus::Active && token.release.commitment == commitment)
    }

    // The full stored token (status as stored; see `consent_status` for lapsing).
    pub fn token(env: Env, token_id: u32) -> Result<Token, Error> {
        storage::token(&env, token_id)
    }

    // The pending (not lapsed) or active token released with `commitment`, if any: lets a
    // retried upload find it. `None` once it was rejected, withdrawn or lapsed (the
    // commitment can then be released again).
    pub fn token_of_commitment(env: Env, commitment: BytesN<32>) -> Option<u32> {
        commitment_holder(&env, &commitment)
    }

    // Active tokens owned by `owner`: up to `limit` (1..=50) ids from position `start`.
    pub fn tokens_of(env: Env, owner: Address, start: u32, limit: u32) -> Result<Vec<u32>, Error> {
        page(&env, &List::Owned(owner), start, limit)
    }

    // Pending (and lapsed, not yet rejected) tokens of `patient`, paginated like `tokens_of`.
    pub fn pending_of(
        env: Env,
        patient: Address,
        start: u32,
        limit: u32,
    ) -> Result<Vec<u32>, Error> {
        page(&env, &List::Pending(patient), start, limit)
    }

    // Tokens on which `grantee` holds a stored grant (expired ones included until revoked),
    // paginated like `tokens_of`. A releasing issuer's implicit Viewer role is not listed.
    pub fn shared_with(
        env: Env,
        grantee: Address,
        start: u32,
        limit: u32,
    ) -> Result<Vec<u32>, Error> {
        page(&env, &List::Shared(grantee), start, limit)
    }

    // Stored grants of a token, paginated like `tokens_of`. The releasing issuer's implicit
    // Viewer role is not listed (see `access`). An owner's grant names the current owner as
    // its granter.
    // A counter, not `zip`: 51 bytes less WASM, and the study token has none to spare.
    #[allow(clippy::explicit_counter_loop)]
    pub fn grants(
        env: Env,
        token_id: u32,
        start: u32,
        limit: u32,
    ) -> Result<Vec<GrantInfo>, Error> {
        let items: Vec<Val> = page(&env, &List::Grants(token_id), start, limit)?;
        let mut out = Vec::new(&env);
        let owner = storage::token(&env, token_id)?.owner;
        let mut slot = start;
        for item in items.iter() {
            if let Some(g) = storage::grant_at(&env, token_id, slot, item, None, &owner) {
                out.push_back(g);
            }
            slot += 1;
        }
        Ok(out)
    }

    // ----- SEP-0050 -----

    // SEP-0050: the collection name.
    pub fn name(env: Env) -> String {
        storage::name(&env)
    }

    // SEP-0050: the collection symbol.
    pub fn symbol(env: Env) -> String {
        storage::symbol(&env)
    }

    // SEP-0050: number of Active tokens `owner` holds.
    pub fn balance(env: Env, owner: Address) -> u32 {
        List::Owned(owner).len(&env)
    }

    // SEP-0050: owner of an Active token.
    pub fn owner_of(env: Env, token_id: u32) -> Result<Address, Error> {
        Ok(active_token(&env, token_id)?.owner)
    }

    // SEP-0050: the metadata URI (`ipfs://<CIDv1>` of the encrypted metadata object) of any
    // existing token, so a patient can inspect a pending release before consenting.
    pub fn token_uri(env: Env, token_id: u32) -> Result<String, Error> {
        Ok(storage::token(&env, token_id)?.release.metadata_uri)
    }

    // SEP-0050: always fails with `NonTransferable`; study tokens never move between people.
    pub fn transfer(_env: Env, _from: Address, _to: Address, _token_id: u32) -> Result<(), Error> {
        Err(Error::NonTransferable)
    }

    // SEP-0050: always fails with `NonTransferable`.
    pub fn transfer_from(
        _env: Env,
        _spender: Address,
        _from: Address,
        _to: Address,
        _token_id: u32,
    ) -> Result<(), Error> {
        Err(Error::NonTransferable)
    }

    // SEP-0050: always fails with `NonTransferable` (there is nothing to approve).
    pub fn approve(
        _env: Env,
        _approver: Address,
        _approved: Address,
        _token_id: u32,
        _live_until_ledger: u32,
    ) -> Result<(), Error> {
        Err(Error::NonTransferable)
    }

    // SEP-0050: always fails with `NonTransferable`.
    pub fn approve_for_all(
        _env: Env,
        _owner: Address,
        _operator: Address,
        _live_until_ledger: u32,
    ) -> Result<(), Error> {
        Err(Error::NonTransferable)
    }

    // SEP-0050: always `None`; approvals do not exist.
    pub fn get_approved(_env: Env, _token_id: u32) -> Option<Address> {
        None
    }

    // SEP-0050: always `false`; approvals do not exist.
    pub fn is_approved_for_all(_env: Env, _owner: Address, _operator: Address) -> bool {
        false
    }
}

// Checks everything a release needs and builds its token (not yet stored).
fn new_token(
    env: &Env,
    issuer: &Address,
    patient: &Address,
    release: Release,
    status: TokenStatus,
) -> Result<Token, Error> {
    if issuer == patient {
        return Err(Error::SelfRelease);
    }
    validate::release(&release)?;
    if !trusted(env, issuer) {
        return Err(Error::IssuerNotTrusted);
    }
    if commitment_holder(env, &release.commitment).is_some() {
        return Err(Error::DuplicateCommitment);
    }
    let id = storage::next_id(env)?;
    storage::set_commitment(env, &release.commitment, id);
    let ledger = env.ledger().sequence();
    let now = env.ledger().timestamp();
    Ok(Token {
        id,
        owner: patient.clone(),
        issuer: issuer.clone(),
        status,
        release,
        minted_ledger: ledger,
        minted_at: now,
        pending_until: ledger,
        consent_ledger: ledger,
        consent_at: now,
        consent_by: issuer.clone(),
        slot: 0,
        issuer_revoked: false,
    })
}

// Withdraws a pending (or lapsed) token, by its issuer or the admin (`by`): it leaves the
// patient's pending list and its commitment is freed. Emits `release_withdrawn`.
fn withdraw(env: &Env, token: &mut Token, by: &Address) {
    storage::unlist_token(env, &List::Pending(token.owner.clone()), token);
    settle_pending(env, token);
    token.status = TokenStatus::Withdrawn;
    token.consent_ledger = env.ledger().sequence();
    token.consent_at = env.ledger().timestamp();
    token.consent_by = by.clone();
    storage::clear_commitment(env, token);
    storage::set_token(env, token);
    storage::bump_instance(env);
    ReleaseWithdrawn {
        token_id: token.id,
        issuer: token.issuer.clone(),
        patient: token.owner.clone(),
    }
    .publish(env);
}

// Fails with `Paused` while the admin has paused the contract.
fn not_paused(env: &Env) -> Result<(), Error> {
    if storage::paused(env) {
        return Err(Error::Paused);
    }
    Ok(())
}

// A pending token leaves its patient's pending list: one less for its issuer's cap. A
// lapsed one is not subtracted: the count (temporary) may already have lapsed with it and
// restarted for later releases, which must stay counted; at worst it over-counts until the
// window of the issuer's latest release passes.
fn settle_pending(env: &Env, token: &Token) {
    if status(env, token) == TokenStatus::Lapsed {
        return;
    }
    let count = storage::pending_count(env, &token.issuer, &token.owner);
    storage::set_pending_count(env, &token.issuer, &token.owner, count.saturating_sub(1));
}

// Whether the issuer registry trusts `issuer` now. Fails closed: a registry that errors
// (or an address that is no contract) trusts nobody.
fn trusted(env: &Env, issuer: &Address) -> bool {
    matches!(
        IssuerRegistryClient::new(env, &storage::registry(env)).try_is_trusted(issuer),
        Ok(Ok(true))
    )
}

// The pending (not lapsed) or active token holding `commitment`.
fn commitment_holder(env: &Env, commitment: &BytesN<32>) -> Option<u32> {
    let id = storage::commitment(env, commitment)?;
    let token = storage::token(env, id).ok()?;
    matches!(
        status(env, &token),
        TokenStatus::Pending | TokenStatus::Active
    )
    .then_some(id)
}

// Effective status: a Pending token past its window is Lapsed.
fn status(env: &Env, token: &Token) -> TokenStatus {
    if token.status == TokenStatus::Pending && env.ledger().sequence() > token.pending_until {
        TokenStatus::Lapsed
    } else {
        token.status
    }
}

fn active_token(env: &Env, token_id: u32) -> Result<Token, Error> {
    let token = storage::token(env, token_id)?;
    if status(env, &token) != TokenStatus::Active {
        return Err(Error::TokenNotActive);
    }
    Ok(token)
}

// A token of `patient` that is still Pending (possibly lapsed).
fn pending_of_patient(env: &Env, patient: &Address, token_id: u32) -> Result<Token, Error> {
    let token = storage::token(env, token_id)?;
    if &token.owner != patient {
        return Err(Error::NotOwner);
    }
    if token.status != TokenStatus::Pending {
        return Err(Error::TokenNotPending);
    }
    Ok(token)
}

fn record_consent(env: &Env, token: &mut Token, status: TokenStatus) {
    token.status = status;
    token.consent_ledger = env.ledger().sequence();
    token.consent_at = env.ledger().timestamp();
    token.consent_by = token.owner.clone();
}

// Makes a token Active in its owner's enumeration and stores it.
fn activate(env: &Env, token: &mut Token) {
    token.status = TokenStatus::Active;
    token.slot = List::Owned(token.owner.clone()).push(env, token.id.into());
    storage::set_token(env, token);
    Mint {
        to: token.owner.clone(),
        token_id: token.id,
    }
    .publish(env);
}

// Stores a grant (new or replacing `existing`) on `token` and emits `RoleGranted`; the
// grant is the owner's (`by_owner`) when `granter` owns the token now. A new grant needs
// room: at most `MAX_GRANTS` per token.
fn put_grant(
    env: &Env,
    token: &Token,
    existing: Option<GrantInfo>,
    granter: &Address,
    grantee: &Address,
    role: Role,
    expires_at: Option<u64>,
) -> Result<(), Error> {
    let token_id = token.id;
    let by_owner = granter == &token.owner;
    let (token_slot, grantee_slot) = match existing {
        Some(g) => (g.token_slot, g.grantee_slot),
        // Appended (a failure reverts the push).
        None => (
            u32::MAX,
            List::Shared(grantee.clone()).push(env, token_id.into()),
        ),
    };
    storage::set_grant(
        env,
        token_id,
        &GrantInfo {
            grantee: grantee.clone(),
            role,
            expires_at,
            granter: granter.clone(),
            by_owner,
            token_slot,
            grantee_slot,
        },
    )?;
    RoleGranted {
        token_id,
        granter: granter.clone(),
        grantee: grantee.clone(),
        role,
        expires_at,
    }
    .publish(env);
    Ok(())
}

// Access of `addr` to `token` now, honouring status, expiry, the issuer's trust and a
// Sharer granter's own access. A stored grant decides; without one, the releasing issuer
// holds Viewer (no expiry, granted by the owner) until the owner revokes it or it
// renounces it.
fn access_of(env: &Env, token: &Token, addr: &Address) -> Option<Access> {
    if status(env, token) != TokenStatus::Active {
        return None;
    }
    let Some(access) = direct_access(env, token, addr) else {
        return emergency_of(env, token, addr);
    };
    if access.by_owner {
        return Some(access.access);
    }
    // A Sharer's grant: delegation is one level deep (only the owner grants Sharer), so the
    // granter's own access is one more read, without recursion.
    let granter = direct_access(env, token, &access.access.granter)?;
    if !matches!(granter.access.role, Role::Owner | Role::Sharer) {
        return None;
    }
    let expires_at = match (access.access.expires_at, granter.access.expires_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Some(Access {
        expires_at,
        ..access.access
    })
}

// An issuer's open emergency (break-glass) access: Viewer until its expiry, granted by
// itself, while the issuer registry trusts it (a suspended issuer loses it at once).
fn emergency_of(env: &Env, token: &Token, addr: &Address) -> Option<Access> {
    let grant = storage::emergency(env, token.id, addr)?;
    if env.ledger().timestamp() >= grant.expires_at || !trusted(env, addr) {
        return None;
    }
    Some(Access {
        role: Role::Viewer,
        expires_at: Some(grant.expires_at),
        granter: addr.clone(),
    })
}

// An address's access from its own grant (or ownership, or the issuer's implicit role),
// before its granter is checked.
struct Direct {
    access: Access,
    by_owner: bool,
}

fn direct_access(env: &Env, token: &Token, addr: &Address) -> Option<Direct> {
    if addr == &token.owner {
        return Some(Direct {
            access: Access {
                role: Role::Owner,
                expires_at: None,
                granter: token.owner.clone(),
            },
            by_owner: true,
        });
    }
    let grant = storage::grant(env, token.id, addr, &token.owner);
    // A suspended or removed issuer has no access to the tokens it released, implicit or
    // granted: one cross-contract call, on the issuer's branch only.
    if addr == &token.issuer && (grant.is_some() || !token.issuer_revoked) && !trusted(env, addr) {
        return None;
    }
    let Some(grant) = grant else {
        return (addr == &token.issuer && !token.issuer_revoked).then(|| Direct {
            access: Access {
                role: Role::Viewer,
                expires_at: None,
                granter: token.owner.clone(),
            },
            by_owner: true,
        });
    };
    if grant
        .expires_at
        .is_some_and(|at| env.ledger().timestamp() >= at)
    {
        return None;
    }
    Some(Direct {
        access: Access {
            role: grant.role,
            expires_at: grant.expires_at,
            granter: grant.granter,
        },
        by_owner: grant.by_owner,
    })
}

fn page<V: TryFromVal<Env, Val> + soroban_sdk::IntoVal<Env, Val>>(
    env: &Env,
    list: &List,
    start: u32,
    limit: u32,
) -> Result<Vec<V>, Error> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(Error::InvalidPageLimit);
    }
    Ok(list.page(env, start, limit))
}
