//! The audit index: what the indexer (`lambdas/indexer`) builds from the suite's contract
//! events, and what lists, histories, the public explorer and notifications read.
//!
//! Two layers:
//! - [`IndexStore`]: a few primitives over sorted items `(pk, sk) → value` and counters,
//!   with one atomic "apply this event unless already applied" write. [`SqliteIndex`]
//!   (embedded default, its own file) and [`DynamoIndex`] (a table with `pk` and `sk`)
//!   implement it.
//! - [`Index`]: the typed view over any store: tokens, roles, per-address lists, history,
//!   issuers, counts, the cursor and pending notifications. The key layout lives here only.
//!
//! Nothing in the index is PHI: addresses, token ids, contract event names, CIDs of
//! encrypted objects, counts.
//!
//! [`SqliteIndex`]: crate::index_sqlite::SqliteIndex
//! [`DynamoIndex`]: crate::index_dynamo::DynamoIndex

use std::sync::Arc;

use async_trait::async_trait;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::StorageError;

/// One write of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Stores `value` under `(pk, sk)`, replacing what was there.
    Put {
        /// Partition key.
        pk: String,
        /// Sort key.
        sk: String,
        /// The value (JSON text).
        value: String,
    },
    /// Removes `(pk, sk)` (nothing if absent).
    Delete {
        /// Partition key.
        pk: String,
        /// Sort key.
        sk: String,
    },
    /// Adds `by` to the counter `key` (created at 0).
    Count {
        /// The counter.
        key: String,
        /// How much.
        by: i64,
    },
}

/// Everything one event changes, applied at most once: the store skips it when its marker
/// `("event", id)` exists, and writes the marker with the changes atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventWrite {
    /// The event's paging token (unique, in chain order).
    pub id: String,
    /// The marker's value (the history row as JSON).
    pub marker: String,
    /// The changes.
    pub ops: Vec<Op>,
}

/// The storage primitives of the index.
#[async_trait]
pub trait IndexStore: Send + Sync {
    /// Creates tables or applies migrations; idempotent.
    async fn migrate(&self) -> Result<(), StorageError>;
    /// The value under `(pk, sk)`.
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<String>, StorageError>;
    /// Up to `limit` items of `pk` in sort-key order (descending with `newest_first`),
    /// strictly after `after` in that order.
    async fn query(
        &self,
        pk: &str,
        after: Option<&str>,
        limit: u32,
        newest_first: bool,
    ) -> Result<Vec<(String, String)>, StorageError>;
    /// Every counter whose key starts with `prefix`, in key order.
    async fn counts(&self, prefix: &str) -> Result<Vec<(String, i64)>, StorageError>;
    /// Applies each event unless its marker exists (each one atomically, in order), then
    /// stores `cursor` under `("cursor", "-")`. A crash in between leaves the old cursor: the
    /// next run reads those events again and skips the ones applied. Returns how many were
    /// applied now.
    async fn write_events(
        &self,
        events: &[EventWrite],
        cursor: &str,
    ) -> Result<usize, StorageError>;
    /// Removes every item whose pk starts with one of `prefixes`, writes `puts`, then the
    /// cursor (a rebuild: a crash before the cursor write leaves the old cursor, so the
    /// rebuild runs again).
    async fn replace(
        &self,
        prefixes: &[&str],
        puts: &[Op],
        cursor: &str,
    ) -> Result<(), StorageError>;
    /// Plain writes outside events (notification bookkeeping).
    async fn apply(&self, ops: &[Op]) -> Result<(), StorageError>;
}

/// Where the indexer continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexCursor {
    /// The RPC's paging token to continue after; `None` to start at `ledger`.
    pub paging: Option<String>,
    /// The first ledger not yet fully read.
    pub ledger: u32,
    /// The latest ledger the RPC reported at the last run.
    pub latest_ledger: u32,
    /// When the last run stored this cursor (Unix seconds).
    pub updated_at: u64,
    /// How many times the index was rebuilt from contract state.
    pub rebuilds: u32,
    /// Why the last rebuild happened, if one did.
    pub last_rebuild: Option<String>,
    /// While a rebuild is under way (it goes on over several runs): the next token id to
    /// read. Events are followed again from `ledger` once it is done.
    #[serde(default)]
    pub rebuilding: Option<u32>,
}

impl IndexCursor {
    /// Ledgers between the chain's latest and what the index has read.
    pub fn lag_ledgers(&self) -> u32 {
        (self.latest_ledger + 1).saturating_sub(self.ledger)
    }
}

/// A token as the index holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    /// Token id.
    pub id: u32,
    /// The releasing issuer.
    pub issuer: String,
    /// The owner (patient).
    pub owner: String,
    /// `pending`, `active`, `rejected` or `withdrawn` (lapse is computed by the chain).
    pub status: String,
    /// CID of the encrypted metadata object (without `ipfs://`).
    pub metadata_cid: String,
    /// Files in the release.
    pub file_count: u32,
    /// Ledger of the proposal or mint.
    pub minted_ledger: u32,
    /// Whether the owner revoked the issuer's implicit Viewer.
    pub issuer_revoked: bool,
    /// Ledger of the last change.
    pub updated_ledger: u32,
}

/// A stored grant on a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRow {
    /// Token id.
    pub token_id: u32,
    /// Who holds it.
    pub grantee: String,
    /// `viewer` or `sharer`.
    pub role: String,
    /// Unix seconds when it ends.
    pub expires_at: Option<u64>,
    /// Who granted it.
    pub granter: String,
}

/// A trusted issuer's public profile (no PHI: an institution's name and kind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerRow {
    /// Its address.
    pub address: String,
    /// `active` or `suspended`.
    pub status: String,
    /// Public name.
    pub name: String,
    /// `hospital`, `imaging_centre`, `physician` or `laboratory`.
    pub kind: String,
    /// Jurisdiction code.
    pub jurisdiction: String,
    /// Ledger it was added in (0 when rebuilt without it).
    pub added_ledger: u32,
}

/// One event of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRow {
    /// The event's paging token.
    pub id: String,
    /// Its ledger.
    pub ledger: u32,
    /// When the ledger closed (RFC 3339).
    pub closed_at: String,
    /// `study-token` or `issuer-registry`.
    pub contract: String,
    /// The event's name.
    pub kind: String,
    /// The token it concerns.
    pub token_id: Option<u32>,
    /// The addresses in its topics.
    pub parties: Vec<String>,
    /// A non-PHI detail from its data: the role granted, the access kind, the reject
    /// reason.
    pub detail: Option<String>,
    /// The transaction's hash.
    pub tx_hash: Option<String>,
}

/// How an address stands to a token in its lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// Active tokens it owns.
    Owned,
    /// Tokens with a stored grant to it (until revoked).
    Shared,
    /// Releases awaiting its consent.
    Pending,
    /// Tokens it released (as issuer).
    Issued,
}

impl ListKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ListKind::Owned => "owned",
            ListKind::Shared => "shared",
            ListKind::Pending => "pending",
            ListKind::Issued => "issued",
        }
    }
}

/// Whose history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryOf {
    /// One token's.
    Token(u32),
    /// Every event naming one address.
    Address(String),
    /// Every event.
    All,
}

/// A notification waiting to be sent (no PHI: a kind and a token id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// `released`, `accessed`, `shared`, `revoked` or `expired`.
    pub kind: String,
    /// The token.
    pub token_id: u32,
    /// The event it comes from.
    pub event_id: String,
}

/// A counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    /// The event kind (or access kind).
    pub kind: String,
    /// The value.
    pub n: i64,
}

/// Where a change to the index goes, in typed form (turned into [`Op`]s by [`Index`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Puts a token row.
    Token(TokenRow),
    /// Puts a grant.
    Role(RoleRow),
    /// Removes a grant.
    RoleGone {
        /// Token id.
        token_id: u32,
        /// Whose.
        grantee: String,
    },
    /// Adds a token to an address's list.
    Listed(String, ListKind, u32),
    /// Removes a token from an address's list.
    Unlisted(String, ListKind, u32),
    /// Puts an issuer.
    Issuer(IssuerRow),
    /// Removes an issuer.
    IssuerGone(String),
    /// Counts an event kind: in the total and in its UTC day (`YYYY-MM-DD`).
    Counted {
        /// The event kind.
        kind: String,
        /// The day.
        day: String,
    },
    /// Counts an access of a token (`view` or `download`).
    Accessed(u32, String),
    /// Queues a notification for an address.
    Notify(String, Notice),
    /// Adds (`set`) or removes a grant's expiry from the schedule the notifier reads.
    Expiry {
        /// Unix seconds.
        at: u64,
        /// Token id.
        token_id: u32,
        /// Whose grant.
        grantee: String,
        /// Add or remove.
        set: bool,
    },
}

/// A grant that expires (see [`Index::due_expiries`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiry {
    /// Unix seconds.
    pub at: u64,
    /// Token id.
    pub token_id: u32,
    /// Whose grant.
    pub grantee: String,
}

fn expiry_sk(at: u64, token_id: u32, grantee: &str) -> String {
    format!("{at:020}#{token_id:010}#{grantee}")
}

fn token_pk(id: u32) -> String {
    format!("token#{id:010}")
}

fn list_pk(address: &str, kind: ListKind) -> String {
    format!("list#{address}#{}", kind.as_str())
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn parse<T: DeserializeOwned>(what: &str, v: &str) -> Result<T, StorageError> {
    serde_json::from_str(v).map_err(|e| StorageError::Corrupt(format!("index {what}: {e}")))
}

const STATE_PREFIXES: &[&str] = &["token#", "list#", "issuers", "expiry"];
/// The cursor's partition key.
const CURSOR_PK: &str = "cursor";

/// The typed index over a store.
#[derive(Clone)]
pub struct Index {
    store: Arc<dyn IndexStore>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Index")
    }
}

impl Index {
    /// The index over `store`.
    pub fn new(store: Arc<dyn IndexStore>) -> Self {
        Self { store }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn IndexStore> {
        &self.store
    }

    /// The cursor, `None` before the first run.
    ///
    /// # Errors
    /// Store failures; an unreadable cursor.
    pub async fn cursor(&self) -> Result<Option<IndexCursor>, StorageError> {
        self.store
            .get(CURSOR_PK, "-")
            .await?
            .map(|v| parse("cursor", &v))
            .transpose()
    }

    /// Turns typed changes into store operations.
    pub fn ops(changes: &[Change], history: Option<&HistoryRow>) -> Vec<Op> {
        let mut ops = Vec::new();
        if let Some(h) = history {
            let row = json(h);
            if let Some(t) = h.token_id {
                ops.push(Op::Put {
                    pk: format!("hist#token#{t:010}"),
                    sk: h.id.clone(),
                    value: row.clone(),
                });
            }
            let mut parties: Vec<&String> = h.parties.iter().collect();
            parties.sort();
            parties.dedup();
            for p in parties {
                ops.push(Op::Put {
                    pk: format!("hist#addr#{p}"),
                    sk: h.id.clone(),
                    value: row.clone(),
                });
            }
        }
        for c in changes {
            match c {
                Change::Token(t) => ops.push(Op::Put {
                    pk: token_pk(t.id),
                    sk: "-".into(),
                    value: json(t),
                }),
                Change::Role(r) => ops.push(Op::Put {
                    pk: token_pk(r.token_id),
                    sk: format!("role#{}", r.grantee),
                    value: json(r),
                }),
                Change::RoleGone { token_id, grantee } => ops.push(Op::Delete {
                    pk: token_pk(*token_id),
                    sk: format!("role#{grantee}"),
                }),
                Change::Listed(a, k, id) => ops.push(Op::Put {
                    pk: list_pk(a, *k),
                    sk: format!("{id:010}"),
                    value: String::new(),
                }),
                Change::Unlisted(a, k, id) => ops.push(Op::Delete {
                    pk: list_pk(a, *k),
                    sk: format!("{id:010}"),
                }),
                Change::Issuer(i) => ops.push(Op::Put {
                    pk: "issuers".into(),
                    sk: i.address.clone(),
                    value: json(i),
                }),
                Change::IssuerGone(a) => ops.push(Op::Delete {
                    pk: "issuers".into(),
                    sk: a.clone(),
                }),
                Change::Counted { kind, day } => {
                    ops.push(Op::Count {
                        key: format!("total#{kind}"),
                        by: 1,
                    });
                    ops.push(Op::Count {
                        key: format!("day#{day}#{kind}"),
                        by: 1,
                    });
                }
                Change::Accessed(id, kind) => ops.push(Op::Count {
                    key: format!("token#{id:010}#{kind}"),
                    by: 1,
                }),
                Change::Expiry {
                    at,
                    token_id,
                    grantee,
                    set,
                } => {
                    let sk = expiry_sk(*at, *token_id, grantee);
                    ops.push(if *set {
                        Op::Put {
                            pk: "expiry".into(),
                            sk,
                            value: json(&Expiry {
                                at: *at,
                                token_id: *token_id,
                                grantee: grantee.clone(),
                            }),
                        }
                    } else {
                        Op::Delete {
                            pk: "expiry".into(),
                            sk,
                        }
                    });
                }
                Change::Notify(a, n) => {
                    ops.push(Op::Put {
                        pk: format!("notify#{a}"),
                        sk: n.event_id.clone(),
                        value: json(n),
                    });
                    ops.push(Op::Put {
                        pk: "notify".into(),
                        sk: a.clone(),
                        value: String::new(),
                    });
                }
            }
        }
        ops
    }

    /// Applies events (each with its history row and changes) at most once each, then
    /// stores `cursor`. Returns how many were applied now (the rest were applied before).
    ///
    /// # Errors
    /// Store failures.
    pub async fn apply_events(
        &self,
        events: &[(HistoryRow, Vec<Change>)],
        cursor: &IndexCursor,
    ) -> Result<usize, StorageError> {
        let writes: Vec<EventWrite> = events
            .iter()
            .map(|(h, changes)| EventWrite {
                id: h.id.clone(),
                marker: json(h),
                ops: Self::ops(changes, Some(h)),
            })
            .collect();
        self.store.write_events(&writes, &json(cursor)).await
    }

    /// Replaces tokens, grants, lists and issuers with `state` (a rebuild from contract
    /// state); history, counts and pending notifications stay. Then stores `cursor`.
    ///
    /// # Errors
    /// Store failures.
    pub async fn replace_state(
        &self,
        state: &[Change],
        cursor: &IndexCursor,
    ) -> Result<(), StorageError> {
        let ops = Self::ops(state, None);
        self.store
            .replace(STATE_PREFIXES, &ops, &json(cursor))
            .await
    }

    /// Adds state read during a rebuild (puts only) and stores `cursor`: one transaction in
    /// SQLite; in DynamoDB the cursor is written last, so a crash reads the same tokens
    /// again (idempotent puts).
    ///
    /// # Errors
    /// Store failures.
    pub async fn add_state(
        &self,
        state: &[Change],
        cursor: &IndexCursor,
    ) -> Result<(), StorageError> {
        let mut ops = Self::ops(state, None);
        ops.push(Op::Put {
            pk: CURSOR_PK.into(),
            sk: "-".into(),
            value: json(cursor),
        });
        self.store.apply(&ops).await
    }

    /// A token.
    ///
    /// # Errors
    /// Store failures.
    pub async fn token(&self, id: u32) -> Result<Option<TokenRow>, StorageError> {
        self.store
            .get(&token_pk(id), "-")
            .await?
            .map(|v| parse("token", &v))
            .transpose()
    }

    /// A token's stored grants (up to 1,000).
    ///
    /// # Errors
    /// Store failures.
    pub async fn roles(&self, id: u32) -> Result<Vec<RoleRow>, StorageError> {
        self.store
            .query(&token_pk(id), Some("-"), 1_000, false)
            .await?
            .into_iter()
            .filter(|(sk, _)| sk.starts_with("role#"))
            .map(|(_, v)| parse("role", &v))
            .collect()
    }

    /// Up to `limit` token ids of `address`'s `kind` list, ascending, after `after`.
    ///
    /// # Errors
    /// Store failures.
    pub async fn list(
        &self,
        address: &str,
        kind: ListKind,
        after: Option<u32>,
        limit: u32,
    ) -> Result<Vec<u32>, StorageError> {
        let after = after.map(|a| format!("{a:010}"));
        self.store
            .query(&list_pk(address, kind), after.as_deref(), limit, false)
            .await?
            .into_iter()
            .map(|(sk, _)| {
                sk.parse()
                    .map_err(|_| StorageError::Corrupt(format!("index list entry {sk:?}")))
            })
            .collect()
    }

    /// Up to `limit` events of a history, newest first, before the event `before`.
    ///
    /// # Errors
    /// Store failures.
    pub async fn history(
        &self,
        of: &HistoryOf,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<HistoryRow>, StorageError> {
        let pk = match of {
            HistoryOf::Token(t) => format!("hist#token#{t:010}"),
            HistoryOf::Address(a) => format!("hist#addr#{a}"),
            HistoryOf::All => "event".into(),
        };
        self.store
            .query(&pk, before, limit, true)
            .await?
            .into_iter()
            .map(|(_, v)| parse("history", &v))
            .collect()
    }

    /// Every issuer, by address.
    ///
    /// # Errors
    /// Store failures.
    pub async fn issuers(&self) -> Result<Vec<IssuerRow>, StorageError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .query("issuers", after.as_deref(), 500, false)
                .await?;
            let n = page.len();
            for (sk, v) in page {
                out.push(parse("issuer", &v)?);
                after = Some(sk);
            }
            if n < 500 {
                return Ok(out);
            }
        }
    }

    /// One issuer.
    ///
    /// # Errors
    /// Store failures.
    pub async fn issuer(&self, address: &str) -> Result<Option<IssuerRow>, StorageError> {
        self.store
            .get("issuers", address)
            .await?
            .map(|v| parse("issuer", &v))
            .transpose()
    }

    /// All-time totals per event kind.
    ///
    /// # Errors
    /// Store failures.
    pub async fn totals(&self) -> Result<Vec<Count>, StorageError> {
        Ok(self
            .store
            .counts("total#")
            .await?
            .into_iter()
            .map(|(k, n)| Count {
                kind: k.trim_start_matches("total#").to_owned(),
                n,
            })
            .collect())
    }

    /// Counts per event kind of one UTC day (`YYYY-MM-DD`).
    ///
    /// # Errors
    /// Store failures.
    pub async fn day(&self, day: &str) -> Result<Vec<Count>, StorageError> {
        let prefix = format!("day#{day}#");
        Ok(self
            .store
            .counts(&prefix)
            .await?
            .into_iter()
            .map(|(k, n)| Count {
                kind: k[prefix.len()..].to_owned(),
                n,
            })
            .collect())
    }

    /// Accesses of a token by kind (`view`, `download`).
    ///
    /// # Errors
    /// Store failures.
    pub async fn accesses(&self, id: u32) -> Result<Vec<Count>, StorageError> {
        let prefix = format!("token#{id:010}#");
        Ok(self
            .store
            .counts(&prefix)
            .await?
            .into_iter()
            .map(|(k, n)| Count {
                kind: k[prefix.len()..].to_owned(),
                n,
            })
            .collect())
    }

    /// Addresses with notifications waiting (up to `limit`).
    ///
    /// # Errors
    /// Store failures.
    pub async fn notify_recipients(&self, limit: u32) -> Result<Vec<String>, StorageError> {
        Ok(self
            .store
            .query("notify", None, limit, false)
            .await?
            .into_iter()
            .map(|(sk, _)| sk)
            .collect())
    }

    /// The notifications waiting for `address` (up to 500, oldest first).
    ///
    /// # Errors
    /// Store failures.
    pub async fn notices(&self, address: &str) -> Result<Vec<Notice>, StorageError> {
        self.store
            .query(&format!("notify#{address}"), None, 500, false)
            .await?
            .into_iter()
            .map(|(_, v)| parse("notice", &v))
            .collect()
    }

    /// Removes sent (or dropped) notices and, when none is left, the recipient's entry;
    /// records when `address` was last notified.
    ///
    /// # Errors
    /// Store failures.
    pub async fn notices_done(
        &self,
        address: &str,
        done: &[Notice],
        all: bool,
        sent_at: Option<u64>,
    ) -> Result<(), StorageError> {
        let mut ops: Vec<Op> = done
            .iter()
            .map(|n| Op::Delete {
                pk: format!("notify#{address}"),
                sk: n.event_id.clone(),
            })
            .collect();
        if all {
            ops.push(Op::Delete {
                pk: "notify".into(),
                sk: address.to_owned(),
            });
        }
        if let Some(t) = sent_at {
            ops.push(Op::Put {
                pk: "notified".into(),
                sk: address.to_owned(),
                value: t.to_string(),
            });
        }
        self.store.apply(&ops).await
    }

    /// Grants whose expiry is at or before `now` and not yet notified (up to `limit`, oldest
    /// first).
    ///
    /// # Errors
    /// Store failures.
    pub async fn due_expiries(&self, now: u64, limit: u32) -> Result<Vec<Expiry>, StorageError> {
        let mut out = Vec::new();
        for (_, v) in self.store.query("expiry", None, limit, false).await? {
            let e: Expiry = parse("expiry", &v)?;
            if e.at > now {
                break;
            }
            out.push(e);
        }
        Ok(out)
    }

    /// Queues the owner's "expired" notice for `expiry` and takes it off the schedule.
    ///
    /// # Errors
    /// Store failures.
    pub async fn expired(&self, expiry: &Expiry, owner: &str) -> Result<(), StorageError> {
        let notice = Notice {
            kind: "expired".into(),
            token_id: expiry.token_id,
            event_id: format!(
                "expiry-{}",
                expiry_sk(expiry.at, expiry.token_id, &expiry.grantee)
            ),
        };
        let mut ops = Self::ops(&[Change::Notify(owner.to_owned(), notice)], None);
        ops.push(Op::Delete {
            pk: "expiry".into(),
            sk: expiry_sk(expiry.at, expiry.token_id, &expiry.grantee),
        });
        self.store.apply(&ops).await
    }

    /// When `address` was last notified (Unix seconds).
    ///
    /// # Errors
    /// Store failures.
    pub async fn last_notified(&self, address: &str) -> Result<Option<u64>, StorageError> {
        Ok(self
            .store
            .get("notified", address)
            .await?
            .and_then(|v| v.parse().ok()))
    }
}
