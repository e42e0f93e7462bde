//! The audit index in SQLite: its own file beside the application database (WAL journal).
//! A batch of events and the cursor commit in one transaction.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::index::{EventWrite, IndexStore, Op};
use crate::StorageError;

/// Migrations, index `i` takes the schema from version `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[
    // 1: sorted items and counters.
    "CREATE TABLE items (
        pk TEXT NOT NULL,
        sk TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (pk, sk)
     ) WITHOUT ROWID;
     CREATE TABLE counts (
        key TEXT PRIMARY KEY,
        n INTEGER NOT NULL
     ) WITHOUT ROWID;",
];

/// The index in SQLite behind a mutex; calls run on Tokio's blocking pool.
#[derive(Clone)]
pub struct SqliteIndex {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteIndex")
    }
}

fn db_err(context: &'static str) -> impl Fn(rusqlite::Error) -> StorageError {
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

impl SqliteIndex {
    /// Opens (creating if needed) the index file and migrates it.
    ///
    /// # Errors
    /// The file cannot be opened, or was written by newer code.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        let conn = Connection::open(path.as_ref()).map_err(db_err("opening the index database"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err("enabling WAL"))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db_err("setting synchronous"))?;
        Self::with_connection(conn).await
    }

    /// An in-memory index (tests).
    ///
    /// # Errors
    /// SQLite failures.
    pub async fn open_in_memory() -> Result<Self, StorageError> {
        let conn = Connection::open_in_memory().map_err(db_err("opening the index database"))?;
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

    async fn run<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StorageError::Corrupt("index mutex poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StorageError::Backend {
            context: "index database task".into(),
            message: e.to_string(),
            transient: true,
        })?
    }
}

/// The least string above every string starting with `prefix` (an ASCII prefix: its last
/// byte plus one).
fn upper_bound(prefix: &str) -> String {
    let mut b = prefix.as_bytes().to_vec();
    match b.last_mut() {
        Some(last) if *last < 0x7f => {
            *last += 1;
            String::from_utf8(b).unwrap_or_else(|_| "\u{10FFFF}".into())
        }
        _ => format!("{prefix}\u{10FFFF}"),
    }
}

fn apply_op(tx: &Transaction<'_>, op: &Op) -> Result<(), StorageError> {
    match op {
        Op::Put { pk, sk, value } => tx
            .execute(
                "INSERT INTO items (pk, sk, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (pk, sk) DO UPDATE SET value = excluded.value",
                params![pk, sk, value],
            )
            .map_err(db_err("writing an index item"))?,
        Op::Delete { pk, sk } => tx
            .execute(
                "DELETE FROM items WHERE pk = ?1 AND sk = ?2",
                params![pk, sk],
            )
            .map_err(db_err("deleting an index item"))?,
        Op::Count { key, by } => tx
            .execute(
                "INSERT INTO counts (key, n) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET n = n + excluded.n",
                params![key, by],
            )
            .map_err(db_err("counting"))?,
    };
    Ok(())
}

fn put_cursor(tx: &Transaction<'_>, cursor: &str) -> Result<(), StorageError> {
    apply_op(
        tx,
        &Op::Put {
            pk: "cursor".into(),
            sk: "-".into(),
            value: cursor.to_owned(),
        },
    )
}

#[async_trait]
impl IndexStore for SqliteIndex {
    async fn migrate(&self) -> Result<(), StorageError> {
        self.run(|conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_err("starting a migration"))?;
            let current: u32 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(db_err("reading the index schema version"))?;
            if current as usize > MIGRATIONS.len() {
                return Err(StorageError::Corrupt(format!(
                    "index schema version {current} is newer than this code's {}",
                    MIGRATIONS.len()
                )));
            }
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
                tx.execute_batch(sql)
                    .map_err(db_err("applying an index migration"))?;
                tx.pragma_update(None, "user_version", (i + 1) as u32)
                    .map_err(db_err("recording the index schema version"))?;
            }
            tx.commit().map_err(db_err("committing a migration"))
        })
        .await
    }

    async fn get(&self, pk: &str, sk: &str) -> Result<Option<String>, StorageError> {
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        self.run(move |conn| {
            conn.query_row(
                "SELECT value FROM items WHERE pk = ?1 AND sk = ?2",
                params![pk, sk],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err("reading an index item"))
        })
        .await
    }

    async fn query(
        &self,
        pk: &str,
        after: Option<&str>,
        limit: u32,
        newest_first: bool,
    ) -> Result<Vec<(String, String)>, StorageError> {
        let (pk, after) = (pk.to_owned(), after.map(str::to_owned));
        self.run(move |conn| {
            let sql = match (after.is_some(), newest_first) {
                (false, false) => "SELECT sk, value FROM items WHERE pk = ?1 ORDER BY sk LIMIT ?2",
                (false, true) => {
                    "SELECT sk, value FROM items WHERE pk = ?1 ORDER BY sk DESC LIMIT ?2"
                }
                (true, false) => {
                    "SELECT sk, value FROM items WHERE pk = ?1 AND sk > ?3 ORDER BY sk LIMIT ?2"
                }
                (true, true) => {
                    "SELECT sk, value FROM items WHERE pk = ?1 AND sk < ?3 ORDER BY sk DESC LIMIT ?2"
                }
            };
            let mut stmt = conn
                .prepare_cached(sql)
                .map_err(db_err("querying the index"))?;
            let map = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, r.get(1)?));
            let rows = match &after {
                Some(a) => stmt.query_map(params![pk, limit, a], map),
                None => stmt.query_map(params![pk, limit], map),
            }
            .map_err(db_err("querying the index"))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(db_err("reading index items"))
        })
        .await
    }

    async fn counts(&self, prefix: &str) -> Result<Vec<(String, i64)>, StorageError> {
        let prefix = prefix.to_owned();
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT key, n FROM counts WHERE key >= ?1 AND key < ?2 ORDER BY key",
                )
                .map_err(db_err("reading counters"))?;
            let rows = stmt
                .query_map(params![prefix, upper_bound(&prefix)], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(db_err("reading counters"))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(db_err("reading counters"))
        })
        .await
    }

    async fn write_events(
        &self,
        events: &[EventWrite],
        cursor: &str,
    ) -> Result<usize, StorageError> {
        let events = events.to_vec();
        let cursor = cursor.to_owned();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_err("starting an index write"))?;
            let mut applied = 0;
            for e in &events {
                let fresh = tx
                    .execute(
                        "INSERT INTO items (pk, sk, value) VALUES ('event', ?1, ?2)
                         ON CONFLICT (pk, sk) DO NOTHING",
                        params![e.id, e.marker],
                    )
                    .map_err(db_err("marking an event"))?;
                if fresh == 0 {
                    continue;
                }
                for op in &e.ops {
                    apply_op(&tx, op)?;
                }
                applied += 1;
            }
            put_cursor(&tx, &cursor)?;
            tx.commit().map_err(db_err("committing an index write"))?;
            Ok(applied)
        })
        .await
    }

    async fn replace(
        &self,
        prefixes: &[&str],
        puts: &[Op],
        cursor: &str,
    ) -> Result<(), StorageError> {
        let prefixes: Vec<String> = prefixes.iter().map(|p| (*p).to_owned()).collect();
        let puts = puts.to_vec();
        let cursor = cursor.to_owned();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_err("starting a rebuild"))?;
            for p in &prefixes {
                tx.execute(
                    "DELETE FROM items WHERE pk >= ?1 AND pk < ?2",
                    params![p, upper_bound(p)],
                )
                .map_err(db_err("clearing the index state"))?;
            }
            for op in &puts {
                apply_op(&tx, op)?;
            }
            put_cursor(&tx, &cursor)?;
            tx.commit().map_err(db_err("committing a rebuild"))
        })
        .await
    }

    async fn apply(&self, ops: &[Op]) -> Result<(), StorageError> {
        let ops = ops.to_vec();
        self.run(move |conn| {
            let tx = conn
                .transaction()
                .map_err(db_err("starting an index write"))?;
            for op in &ops {
                apply_op(&tx, op)?;
            }
            tx.commit().map_err(db_err("committing an index write"))
        })
        .await
    }
}
