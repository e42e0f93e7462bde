//! Each issuer's list of releases, in the order they were first seen: what
//! `GET /v1/releases` pages through, newest first. Every release is listed once, whichever
//! way it came: started through the API (and a records request's upload, which is one), or
//! a manifest that appeared in the inbox (a PACS export, the CLI). The pipeline lists a
//! release when it first records it, the API when it starts one; both call
//! [`list_release`], and a retry or a second delivery of the same release finds it listed.
//!
//! In the database's key-value records (no PHI: ids only):
//! - `api-releases:<issuer>`: how many places the list has;
//! - `api-releases:<issuer>:<n>`: the release id at place `n` (from 0);
//! - `release-listed:<issuer>:<release-id>`: the release's place, written once (absent
//!   before). Two concurrent listings of one release may both take a place; the one whose
//!   place this record names wins, and a reader skips a place that is not its release's.
//!
//! (The names keep the `api-releases` prefix of the first version, which listed API releases
//! only.)

use medimint_storage::{AppDb, KvExpect, StorageError};

const INDEX: &str = "api-releases";
const LISTED: &str = "release-listed";
/// Attempts at taking a place when other listings of the same issuer race for it.
const ATTEMPTS: usize = 16;

/// The record of how many places `issuer`'s list has.
pub fn count_key(issuer: &str) -> String {
    format!("{INDEX}:{issuer}")
}

/// The record of place `n` of `issuer`'s list.
pub fn entry_key(issuer: &str, n: u64) -> String {
    format!("{INDEX}:{issuer}:{n}")
}

fn listed_key(issuer: &str, release_id: &str) -> String {
    format!("{LISTED}:{issuer}:{release_id}")
}

/// The place of the release in its issuer's list, if it is listed.
///
/// # Errors
/// Database failures.
pub async fn listed_at(
    db: &dyn AppDb,
    issuer: &str,
    release_id: &str,
) -> Result<Option<u64>, StorageError> {
    Ok(db
        .kv_get(&listed_key(issuer, release_id))
        .await?
        .and_then(|r| r.value.parse().ok()))
}

/// How many places `issuer`'s list has (a place may be skipped: see the module).
///
/// # Errors
/// Database failures.
pub async fn list_len(db: &dyn AppDb, issuer: &str) -> Result<u64, StorageError> {
    Ok(db
        .kv_get(&count_key(issuer))
        .await?
        .and_then(|r| r.value.parse().ok())
        .unwrap_or(0))
}

/// The release id at place `n`, if that place is its release's (not a lost race).
///
/// # Errors
/// Database failures.
pub async fn release_at(
    db: &dyn AppDb,
    issuer: &str,
    n: u64,
) -> Result<Option<String>, StorageError> {
    let Some(entry) = db.kv_get(&entry_key(issuer, n)).await? else {
        return Ok(None);
    };
    Ok((listed_at(db, issuer, &entry.value).await? == Some(n)).then_some(entry.value))
}

/// Lists the release in its issuer's list unless it is listed; returns its place. Safe to
/// call again, and from concurrent deliveries: the release keeps one place.
///
/// # Errors
/// [`StorageError::Conflict`] when other listings kept taking the place first
/// ([`ATTEMPTS`] times; retry); database failures.
pub async fn list_release(
    db: &dyn AppDb,
    issuer: &str,
    release_id: &str,
) -> Result<u64, StorageError> {
    if let Some(n) = listed_at(db, issuer, release_id).await? {
        return Ok(n);
    }
    let count = count_key(issuer);
    let mut place = None;
    for _ in 0..ATTEMPTS {
        let current = db.kv_get(&count).await?;
        let (n, expect) = match &current {
            Some(r) => (
                r.value.parse::<u64>().unwrap_or(0),
                KvExpect::Version(r.version),
            ),
            None => (0, KvExpect::Absent),
        };
        match db.kv_put(&count, &(n + 1).to_string(), expect, None).await {
            Ok(_) => {
                place = Some(n);
                break;
            }
            Err(StorageError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    let n = place.ok_or_else(|| {
        StorageError::Conflict(format!(
            "the release list of {issuer} changed {ATTEMPTS} times while listing {release_id}; \
             retry"
        ))
    })?;
    db.kv_put(&entry_key(issuer, n), release_id, KvExpect::Any, None)
        .await?;
    match db
        .kv_put(
            &listed_key(issuer, release_id),
            &n.to_string(),
            KvExpect::Absent,
            None,
        )
        .await
    {
        Ok(_) => Ok(n),
        // Listed meanwhile by another delivery: its place wins, ours is skipped.
        Err(StorageError::Conflict(_)) => Ok(listed_at(db, issuer, release_id).await?.unwrap_or(n)),
        Err(e) => Err(e),
    }
}
