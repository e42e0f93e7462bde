use soroban_sdk::contracterror;

// Errors of the study token (codes 200–299).
#[contracterror]
#[derive(Copy, Clone, Debug, Eq, PartialEq, PartialOrd, Ord)]
#[repr(u32)]
pub enum StudyTokenError {
    // No token has this id.
    TokenNotFound = 200,
    // The address is not the token's owner (patient).
    NotOwner = 201,
    // The token is not pending, so it cannot be approved or rejected.
    TokenNotPending = 202,
    // The pending release lapsed: the approval window has passed.
    ReleaseLapsed = 203,
    // The token is not active (pending, rejected or lapsed): nobody can use it.
    TokenNotActive = 204,
    // The issuer is not trusted by the issuer registry at this moment.
    IssuerNotTrusted = 205,
    // A pending or active token already carries this commitment.
    DuplicateCommitment = 206,
    // The metadata URI is not `ipfs://` followed by a base32 CIDv1 of bounded length.
    InvalidMetadataUri = 207,
    // The file count is zero or larger than `MAX_FILE_COUNT`.
    InvalidFileCount = 208,
    // The commitment is all zero bytes.
    InvalidCommitment = 209,
    // The issuer and the patient (or the new owner of a rotation) are the same address.
    SelfRelease = 210,
    // Study tokens never move between people; use `rotate_owner` for a key change.
    NonTransferable = 211,
    // `Owner` cannot be granted.
    InvalidRole = 212,
    // A Sharer may grant only the Viewer role.
    SharerCannotGrantSharer = 213,
    // A Sharer cannot grant access that outlives its own.
    ExpiryBeyondGranter = 214,
    // The expiry is not in the future.
    ExpiryInPast = 215,
    // Only the owner, the grantee itself, or the Sharer that made a grant may revoke it.
    NotGranter = 216,
    // The address has no current access to the token.
    NoAccess = 217,
    // The grantee holds no grant on this token.
    GrantNotFound = 218,
    // The owner already has full access and cannot be a grantee.
    GrantToOwner = 219,
    // A page limit is zero or larger than `MAX_PAGE`.
    InvalidPageLimit = 220,
    // The pending window is zero or longer than `MAX_PENDING_WINDOW`.
    InvalidPendingWindow = 221,
    // The old and new owner are the same address.
    SameOwner = 222,
    // The token id counter is exhausted.
    TokenIdOverflow = 223,
    // Only the owner or a current Sharer may grant.
    NotAuthorizedToGrant = 224,
    // The contract instance is missing configuration (never the case after the constructor).
    NotInitialized = 225,
    // The address is not the issuer of this token.
    NotIssuer = 226,
    // No admin transfer is pending (none proposed, or cancelled, accepted or expired).
    NoPendingAdmin = 227,
    // The pending admin transfer expired before it was accepted.
    AdminTransferExpired = 228,
    // The admin transfer's deadline is not in the future or lies past the maximum TTL.
    InvalidExpiry = 229,
    // No upgrade to this WASM hash is scheduled: call `schedule_upgrade` first.
    NoScheduledUpgrade = 230,
    // The scheduled upgrade's delay has not passed yet.
    UpgradeNotReady = 231,
    // The upgrade delay is longer than `MAX_UPGRADE_DELAY`.
    InvalidUpgradeDelay = 232,
    // The admin paused releases, grants and access recording.
    Paused = 233,
    // The contract is not paused.
    NotPaused = 234,
    // The issuer already has `pending_cap` pending releases for this patient.
    PendingCapReached = 235,
    // The pending cap is zero or larger than `MAX_PENDING_CAP`.
    InvalidPendingCap = 236,
    // The token was stored by the first version and not converted yet: the admin runs
    // `migrate` after the upgrade.
    NotMigrated = 237,
    // No pending or active token holds this commitment (a lapsed, rejected or withdrawn
    // one frees it), so there is nothing to clear.
    CommitmentNotHeld = 238,
    // The emergency access's duration is zero or longer than the admin's `max_hours`.
    InvalidEmergencyHours = 239,
    // The issuer opened its `limit` of emergency accesses in the current window; try after
    // the window ends (see `emergency_policy`).
    EmergencyRateLimited = 240,
    // The emergency policy is out of bounds (hours 1..=72, limit 1..=1,000, window one
    // hour to 30 days).
    InvalidEmergencyPolicy = 241,
    // No emergency access of this issuer is open on this token.
    EmergencyNotFound = 242,
    // The address already has access to the token: no emergency access is needed.
    AlreadyHasAccess = 243,
    // The records request id is all zero bytes (it must be 32 random bytes).
    InvalidRequestId = 244,
    // A records request with this id exists already.
    DuplicateRequest = 245,
    // No records request with this id is open (unknown, or lapsed after `REQUEST_TTL`).
    RequestNotFound = 246,
    // Only the issuer that made a records request may fulfil it.
    NotRequester = 247,
    // The records request was fulfilled already.
    RequestFulfilled = 248,
    // The token holds `MAX_GRANTS` (64) stored grants, or 32 for a Sharer's new grant:
    // revoke one first.
    TooManyGrants = 249,
}
