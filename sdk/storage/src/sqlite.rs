//! The application database in SQLite: the embedded default (one file, WAL journal).

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use crate::db::{kv_expect_holds, normalize_email, now};
use crate::{
    Account, AppDb, Custody, IdempotencyOutcome, KvExpect, KvRecord, Release, ReleaseStatus,
    SpendOutcome, StorageError, SCHEMA_VERSION,
};

/// Migrations, index `i` takes the schema from version `i` to `i + 1`. Append only: a
/// released migration is never edited.
const MIGRATIONS: &[&str] = &[
    // 1: accounts, releases, idempotency records, counters.
    "CREATE TABLE accounts (
        email TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        custody TEXT NOT NULL,
        hd_index INTEGER,
        created_at INTEGER NOT NULL
     );
     CREATE TABLE releases (
        issuer TEXT NOT NULL,
        release_id TEXT NOT NULL,
        status TEXT NOT NULL,
        checksum_root TEXT,
        study_id TEXT,
        metadata_cid TEXT,
        report_key TEXT,
        token_id TEXT,
        version INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (issuer, release_id)
     );
     CREATE TABLE idempotency (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        created_at INTEGER NOT NULL
     );
     CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
     );",
    // 2: accounts found by address.
    "CREATE INDEX accounts_by_address ON accounts (address);",
    // 3: the relayer's request records and daily spend per user.
    "CREATE TABLE relay_requests (
        key TEXT PRIMARY KEY,
        record TEXT NOT NULL,
        updated_at INTEGER NOT NULL
     );
     CREATE TABLE relay_spend (
        user TEXT NOT NULL,
        day INTEGER NOT NULL,
        spent INTEGER NOT NULL,
        PRIMARY KEY (user, day)
     );",
    // 4: the conditional key-value store (relayer leases, sign-in state).
    "CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        version INTEGER NOT NULL,
        expires_at INTEGER
     );",
];

/// SQLite behind a mutex; calls run on Tokio's blocking pool.
#[derive(Clone)]
pub struct SqliteDb {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteDb")
    }
}

fn db_err(context: &str) -> impl Fn(rusqlite::Error) -> StorageError + '_ {
    move |e| {
        let transient = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        StorageError::Backend {
            context: context.to_owned(),
            message: e.to_string(),
            transient,
        }
    }
}

impl SqliteDb {
    /// Opens (creating if needed) the database file, in WAL mode, and migrates it.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        let conn = Connection::open(path.as_ref()).map_err(db_err("opening the database"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err("enabling WAL"))?;
        Self::with_connection(conn).await
    }

    /// An in-memory database (tests).
    pub async fn open_in_memory() -> Result<Self, StorageError> {
        let conn = Connection::open_in_memory().map_err(db_err("opening the database"))?;
        Self::with_connection(conn).await
    }

    async fn with_connection(conn: Connection) -> Result<Self, StorageError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_err("setting the busy timeout"))?;
        let db = Self {
            conn: Arc::new(Mutex::new(conn)),
        };
        db.migrate().await?;
        Ok(db)
    }

    /// The one text column `sql` selects for `key`, if a row has it.
    async fn text_by_key(
        &self,
        sql: &'static str,
        key: &str,
        context: &'static str,
    ) -> Result<Option<String>, StorageError> {
        let key = key.to_owned();
        self.run(move |conn| {
            conn.query_row(sql, params![key], |r| r.get(0))
                .optional()
                .map_err(db_err(context))
        })
        .await
    }

    async fn run<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StorageError::Corrupt("database mutex poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StorageError::Backend {
            context: "database task".into(),
            message: e.to_string(),
            transient: true,
        })?
    }
}

/// What the relayer spent for `user` on `day` (0 without a row).
fn spent_of(conn: &Connection, user: &str, day: u64) -> Result<i64, StorageError> {
    Ok(conn
        .query_row(
            "SELECT spent FROM relay_spend WHERE user = ?1 AND day = ?2",
            params![user, day as i64],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err("reading the relay spend"))?
        .unwrap_or(0))
}

/// The record under `key`, expired or not.
fn kv_row(conn: &Connection, key: &str) -> Result<Option<KvRecord>, StorageError> {
    conn.query_row(
        "SELECT value, version, expires_at FROM kv WHERE key = ?1",
        params![key],
        |r| {
            Ok(KvRecord {
                value: r.get(0)?,
                version: r.get::<_, i64>(1)? as u64,
                expires_at: r.get::<_, Option<i64>>(2)?.map(|e| e as u64),
            })
        },
    )
    .optional()
    .map_err(db_err("reading a key-value record"))
}

/// Checks `expect` against the stored record of `key`, or names what was found.
fn kv_check(
    stored: &Option<KvRecord>,
    key: &str,
    expect: KvExpect,
    now: u64,
) -> Result<(), StorageError> {
    if kv_expect_holds(
        expect,
        stored.as_ref().map(|r| (r.version, r.expires_at)),
        now,
    ) {
        return Ok(());
    }
    Err(StorageError::Conflict(match stored {
        Some(r) if r.expires_at.is_none_or(|e| e > now) => {
            format!("key {key} is at version {}, expected {expect:?}", r.version)
        }
        _ => format!("key {key} is absent, expected {expect:?}"),
    }))
}

fn version_of(conn: &Connection) -> Result<u32, StorageError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get::<_, u32>(0))
        .map_err(db_err("reading the schema version"))
}

fn release_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Release, String)> {
    Ok((
        Release {
            issuer: r.get(0)?,
            release_id: r.get(1)?,
            status: ReleaseStatus::Received,
            checksum_root: r.get(3)?,
            study_id: r.get(4)?,
            metadata_cid: r.get(9)?,
            report_key: r.get(5)?,
            token_id: r.get(6)?,
            version: r.get::<_, i64>(7)? as u64,
            updated_at: r.get::<_, i64>(8)? as u64,
        },
        r.get(2)?,
    ))
}

fn read_release(
    conn: &Connection,
    issuer: &str,
    release_id: &str,
) -> Result<Option<Release>, StorageError> {
    let row = conn
        .query_row(
            "SELECT issuer, release_id, status, checksum_root, study_id, report_key, token_id,
                    version, updated_at, metadata_cid
             FROM releases WHERE issuer = ?1 AND release_id = ?2",
            params![issuer, release_id],
            release_from_row,
        )
        .optional()
        .map_err(db_err("reading a release"))?;
    row.map(|(mut rel, status)| {
        rel.status = ReleaseStatus::parse(&status)?;
        Ok(rel)
    })
    .transpose()
}

fn read_account(conn: &Connection, email: &str) -> Result<Option<Account>, StorageError> {
    read_account_where(conn, "email", email)
}

/// The account whose `column` (a fixed column name, never input) equals `value`.
fn read_account_where(
    conn: &Connection,
    column: &str,
    value: &str,
) -> Result<Option<Account>, StorageError> {
    let sql = format!(
        "SELECT email, address, custody, hd_index, created_at FROM accounts WHERE {column} = ?1 \
         ORDER BY created_at LIMIT 1"
    );
    let row = conn
        .query_row(&sql, params![value], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .optional()
        .map_err(db_err("reading an account"))?;
    row.map(|(email, address, custody, hd, created)| {
        Ok(Account {
            email,
            address,
            custody: Custody::parse(&custody)?,
            hd_index: hd.map(|i| i as u32),
            created_at: created as u64,
        })
    })
    .transpose()
}

#[async_trait]
impl AppDb for SqliteDb {
    async fn migrate(&self) -> Result<u32, StorageError> {
        self.run(|conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_err("starting a migration"))?;
            let current = version_of(&tx)?;
            if current > SCHEMA_VERSION {
                return Err(StorageError::Corrupt(format!(
                    "database schema version {current} is newer than this code's {SCHEMA_VERSION}"
                )));
            }
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
                tx.execute_batch(sql)
                    .map_err(db_err("applying a migration"))?;
                tx.pragma_update(None, "user_version", (i + 1) as u32)
                    .map_err(db_err("recording the schema version"))?;
            }
            tx.commit().map_err(db_err("committing a migration"))?;
            Ok(SCHEMA_VERSION)
        })
        .await
    }

    async fn schema_version(&self) -> Result<u32, StorageError> {
        self.run(|conn| version_of(conn)).await
    }

    async fn allocate_hd_index(&self) -> Result<u32, StorageError> {
        self.run(|conn| {
            // One statement: atomic under SQLite's write lock.
            let next: i64 = conn
                .query_row(
                    "INSERT INTO counters (name, value) VALUES ('hd_index', 0)
                     ON CONFLICT (name) DO UPDATE SET value = value + 1
                     RETURNING value",
                    [],
                    |r| r.get(0),
                )
                .map_err(db_err("allocating an HD index"))?;
            u32::try_from(next)
                .ok()
                .filter(|i| *i < 0x8000_0000)
                .ok_or_else(|| StorageError::Corrupt("HD index space exhausted".into()))
        })
        .await
    }

    async fn insert_account(&self, account: &Account) -> Result<Account, StorageError> {
        let mut account = account.clone();
        account.email = normalize_email(&account.email);
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO accounts (email, address, custody, hd_index, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (email) DO NOTHING",
                params![
                    account.email,
                    account.address,
                    account.custody.as_str(),
                    account.hd_index.map(i64::from),
                    account.created_at as i64
                ],
            )
            .map_err(db_err("inserting an account"))?;
            read_account(conn, &account.email)?
                .ok_or_else(|| StorageError::Corrupt("account vanished after insert".into()))
        })
        .await
    }

    async fn account_by_email(&self, email: &str) -> Result<Option<Account>, StorageError> {
        let email = normalize_email(email);
        self.run(move |conn| read_account(conn, &email)).await
    }

    async fn account_by_address(&self, address: &str) -> Result<Option<Account>, StorageError> {
        let address = address.to_owned();
        self.run(move |conn| read_account_where(conn, "address", &address))
            .await
    }

    async fn insert_release(&self, release: &Release) -> Result<Release, StorageError> {
        let r = release.clone();
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO releases (issuer, release_id, status, checksum_root, study_id,
                                       report_key, token_id, version, updated_at,
                                       metadata_cid)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (issuer, release_id) DO NOTHING",
                params![
                    r.issuer,
                    r.release_id,
                    r.status.as_str(),
                    r.checksum_root,
                    r.study_id,
                    r.report_key,
                    r.token_id,
                    r.version as i64,
                    r.updated_at as i64,
                    r.metadata_cid
                ],
            )
            .map_err(db_err("inserting a release"))?;
            read_release(conn, &r.issuer, &r.release_id)?
                .ok_or_else(|| StorageError::Corrupt("release vanished after insert".into()))
        })
        .await
    }

    async fn get_release(
        &self,
        issuer: &str,
        release_id: &str,
    ) -> Result<Option<Release>, StorageError> {
        let (issuer, release_id) = (issuer.to_owned(), release_id.to_owned());
        self.run(move |conn| read_release(conn, &issuer, &release_id))
            .await
    }

    async fn update_release(&self, release: &Release) -> Result<Release, StorageError> {
        let r = release.clone();
        self.run(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE releases SET status = ?3, checksum_root = ?4, study_id = ?5,
                        report_key = ?6, token_id = ?7, version = version + 1, updated_at = ?8,
                        metadata_cid = ?10
                     WHERE issuer = ?1 AND release_id = ?2 AND version = ?9",
                    params![
                        r.issuer,
                        r.release_id,
                        r.status.as_str(),
                        r.checksum_root,
                        r.study_id,
                        r.report_key,
                        r.token_id,
                        r.updated_at as i64,
                        r.version as i64,
                        r.metadata_cid
                    ],
                )
                .map_err(db_err("updating a release"))?;
            let stored = read_release(conn, &r.issuer, &r.release_id)?;
            match (changed, stored) {
                (1, Some(s)) => Ok(s),
                (_, None) => Err(StorageError::NotFound(format!(
                    "release {}/{}",
                    r.issuer, r.release_id
                ))),
                (_, Some(s)) => Err(StorageError::Conflict(format!(
                    "release {}/{} is at version {}, not {}",
                    r.issuer, r.release_id, s.version, r.version
                ))),
            }
        })
        .await
    }

    async fn put_idempotency(
        &self,
        key: &str,
        value: &str,
    ) -> Result<IdempotencyOutcome, StorageError> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.run(move |conn| {
            let inserted = conn
                .execute(
                    "INSERT INTO idempotency (key, value, created_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (key) DO NOTHING",
                    params![key, value, now() as i64],
                )
                .map_err(db_err("writing an idempotency record"))?;
            if inserted == 1 {
                return Ok(IdempotencyOutcome::Inserted);
            }
            let existing: String = conn
                .query_row(
                    "SELECT value FROM idempotency WHERE key = ?1",
                    params![key],
                    |r| r.get(0),
                )
                .map_err(db_err("reading an idempotency record"))?;
            Ok(IdempotencyOutcome::Existing(existing))
        })
        .await
    }

    async fn get_idempotency(&self, key: &str) -> Result<Option<String>, StorageError> {
        self.text_by_key(
            "SELECT value FROM idempotency WHERE key = ?1",
            key,
            "reading an idempotency record",
        )
        .await
    }

    async fn put_relay_request(&self, key: &str, record: &str) -> Result<(), StorageError> {
        let (key, record) = (key.to_owned(), record.to_owned());
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO relay_requests (key, record, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET record = ?2, updated_at = ?3",
                params![key, record, now() as i64],
            )
            .map_err(db_err("writing a relay request record"))?;
            Ok(())
        })
        .await
    }

    async fn get_relay_request(&self, key: &str) -> Result<Option<String>, StorageError> {
        self.text_by_key(
            "SELECT record FROM relay_requests WHERE key = ?1",
            key,
            "reading a relay request record",
        )
        .await
    }

    async fn add_relay_spend(
        &self,
        user: &str,
        day: u64,
        delta: i64,
        cap: Option<i64>,
    ) -> Result<SpendOutcome, StorageError> {
        let user = user.to_owned();
        self.run(move |conn| {
            // IMMEDIATE takes the write lock first, so another process sharing the file
            // cannot read the same total in between.
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_err("locking the relay spend"))?;
            let spent = spent_of(&tx, &user, day)?;
            let would = spent.saturating_add(delta);
            if cap.is_some_and(|cap| would > cap) {
                return Ok(SpendOutcome::OverCap { would });
            }
            let total = would.max(0);
            tx.execute(
                "INSERT INTO relay_spend (user, day, spent) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user, day) DO UPDATE SET spent = ?3",
                params![user, day as i64, total],
            )
            .map_err(db_err("writing the relay spend"))?;
            tx.commit().map_err(db_err("writing the relay spend"))?;
            Ok(SpendOutcome::Added(total))
        })
        .await
    }

    async fn relay_spend(&self, user: &str, day: u64) -> Result<i64, StorageError> {
        let user = user.to_owned();
        self.run(move |conn| spent_of(conn, &user, day)).await
    }

    async fn kv_get(&self, key: &str) -> Result<Option<KvRecord>, StorageError> {
        let key = key.to_owned();
        self.run(move |conn| {
            let now = now();
            Ok(kv_row(conn, &key)?.filter(|r| r.expires_at.is_none_or(|e| e > now)))
        })
        .await
    }

    async fn kv_put(
        &self,
        key: &str,
        value: &str,
        expect: KvExpect,
        expires_at: Option<u64>,
    ) -> Result<u64, StorageError> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.run(move |conn| {
            // IMMEDIATE: the check and the write under one write lock, across processes.
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_err("locking a key-value record"))?;
            let stored = kv_row(&tx, &key)?;
            kv_check(&stored, &key, expect, now())?;
            let version = stored.map_or(1, |r| r.version + 1);
            tx.execute(
                "INSERT INTO kv (key, value, version, expires_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (key) DO UPDATE SET value = ?2, version = ?3, expires_at = ?4",
                params![key, value, version as i64, expires_at.map(|e| e as i64)],
            )
            .map_err(db_err("writing a key-value record"))?;
            tx.commit().map_err(db_err("writing a key-value record"))?;
            Ok(version)
        })
        .await
    }

    async fn kv_delete(&self, key: &str, expect: KvExpect) -> Result<bool, StorageError> {
        let key = key.to_owned();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_err("locking a key-value record"))?;
            let stored = kv_row(&tx, &key)?;
            let now = now();
            kv_check(&stored, &key, expect, now)?;
            let live = stored.is_some_and(|r| r.expires_at.is_none_or(|e| e > now));
            tx.execute("DELETE FROM kv WHERE key = ?1", params![key])
                .map_err(db_err("deleting a key-value record"))?;
            tx.commit().map_err(db_err("deleting a key-value record"))?;
            Ok(live)
        })
        .await
    }
}
