//! Following the suite's events into the index, one bounded batch per run, and the rebuild
//! from contract state when the cursor fell out of the RPC's retention window.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use medimint_chain::clients::TokenRecord;
use medimint_chain::{ContractEvent, EventsFrom, Rpc};
use medimint_storage::index::{
    Change, HistoryRow, IndexCursor, IssuerRow, ListKind, Notice, RoleRow, TokenRow,
};
use medimint_storage::Index;
use serde::Serialize;

use crate::events::{addresses, data_variant, day_of, history_row, ledger_of_paging, snake};
use crate::reads::ChainReads;
use crate::IndexerError;

/// The suite's contracts the indexer follows.
#[derive(Debug, Clone)]
pub struct Contracts {
    /// The study token's id.
    pub study_token: String,
    /// The issuer registry's id.
    pub issuer_registry: String,
}

/// How much one run does.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Events per `getEvents` page (1..=10,000).
    pub page: u32,
    /// Pages per run (a bounded batch: a Lambda run ends well inside its timeout).
    pub max_pages: u32,
    /// A first run reads from the window's start when it begins at or before this ledger
    /// (the chain's start is inside the window); otherwise it rebuilds from state.
    pub genesis_within: u32,
    /// Tokens a run reads during a rebuild (two simulations each); a rebuild goes on over
    /// as many runs as it needs.
    pub rebuild_tokens: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            page: 1_000,
            max_pages: 20,
            genesis_within: 2,
            rebuild_tokens: 500,
        }
    }
}

/// What one run did. Holds no PHI.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// Events read from the RPC.
    pub read: usize,
    /// Events applied now (the rest of `read` had been applied before).
    pub applied: usize,
    /// The first ledger of this run.
    pub from_ledger: u32,
    /// The first ledger not yet read after it.
    pub next_ledger: u32,
    /// The RPC's latest ledger.
    pub latest_ledger: u32,
    /// Ledgers between the chain's latest and the index.
    pub lag_ledgers: u32,
    /// Whether the run read everything there was.
    pub caught_up: bool,
    /// Why the index was rebuilt from contract state in this run, if it was.
    pub rebuilt: Option<String>,
    /// Tokens written by a rebuild in this run.
    pub rebuilt_tokens: usize,
    /// Whether a rebuild is still under way after this run (the next runs go on with it).
    pub rebuild_pending: bool,
    /// How long the run took.
    pub millis: u64,
}

/// The indexer: reads events through `rpc`, token details and state through `chain`,
/// writes `index`.
pub struct Indexer {
    rpc: Arc<dyn Rpc>,
    chain: Arc<dyn ChainReads>,
    index: Index,
    contracts: Contracts,
    settings: Settings,
}

fn now() -> u64 {
    medimint_storage::now()
}

fn out_of_window(e: &medimint_chain::Error) -> bool {
    matches!(e, medimint_chain::Error::Rpc(m) if m.contains("startLedger must be between"))
}

fn token_row(r: &TokenRecord, ledger: u32) -> TokenRow {
    TokenRow {
        id: r.id,
        issuer: r.issuer.clone(),
        owner: r.owner.clone(),
        status: r.status.to_lowercase(),
        metadata_cid: r
            .metadata_uri
            .strip_prefix("ipfs://")
            .unwrap_or(&r.metadata_uri)
            .to_owned(),
        file_count: r.file_count,
        minted_ledger: r.minted_ledger,
        issuer_revoked: false,
        updated_ledger: ledger,
    }
}

/// The state a batch has written so far (later events of the batch read it).
#[derive(Default)]
struct Overlay {
    tokens: HashMap<u32, TokenRow>,
    issuers: HashMap<String, Option<IssuerRow>>,
    roles: HashMap<(u32, String), Option<RoleRow>>,
}

impl Indexer {
    /// An indexer over these parts.
    pub fn new(
        rpc: Arc<dyn Rpc>,
        chain: Arc<dyn ChainReads>,
        index: Index,
        contracts: Contracts,
        settings: Settings,
    ) -> Self {
        Self {
            rpc,
            chain,
            index,
            contracts,
            settings,
        }
    }

    /// The index it writes.
    pub fn index(&self) -> &Index {
        &self.index
    }

    fn ids(&self) -> Vec<String> {
        vec![
            self.contracts.issuer_registry.clone(),
            self.contracts.study_token.clone(),
        ]
    }

    /// One bounded batch: from the cursor, up to `max_pages` pages of events into the
    /// index, the cursor moving with each page. A first run, or a cursor that fell out of the
    /// RPC's retention window, rebuilds from contract state instead (logged as a warning and
    /// reported in [`RunReport::rebuilt`]).
    ///
    /// # Errors
    /// RPC, contract-read or store failures; the cursor stays where the last stored page left
    /// it, so the next run continues from there.
    pub async fn run_once(&self) -> Result<RunReport, IndexerError> {
        let started = Instant::now();
        let mut report = match self.index.cursor().await? {
            Some(cursor) if cursor.rebuilding.is_some() => {
                self.continue_rebuild(cursor, RunReport::default()).await?
            }
            Some(cursor) => self.follow(cursor).await?,
            None => self.first_run().await?,
        };
        report.millis = started.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// The oldest ledger the RPC keeps events for (a one-event probe at the latest ledger).
    async fn oldest_ledger(&self) -> Result<u32, IndexerError> {
        let latest = self.rpc.latest_ledger().await.map_err(IndexerError::rpc)?;
        Ok(self
            .rpc
            .events(EventsFrom::Ledger(latest), &self.ids(), 1)
            .await
            .map_err(IndexerError::rpc)?
            .oldest_ledger)
    }

    async fn first_run(&self) -> Result<RunReport, IndexerError> {
        let oldest = self.oldest_ledger().await?;
        let latest = self.rpc.latest_ledger().await.map_err(IndexerError::rpc)?;
        if oldest <= self.settings.genesis_within {
            let cursor = IndexCursor {
                paging: None,
                ledger: oldest,
                latest_ledger: latest,
                updated_at: now(),
                rebuilds: 0,
                last_rebuild: None,
                rebuilding: None,
            };
            return self.follow(cursor).await;
        }
        self.rebuild(
            None,
            format!(
                "first run: the RPC keeps events from ledger {oldest} only, after the chain's start"
            ),
        )
        .await
    }

    async fn follow(&self, mut cursor: IndexCursor) -> Result<RunReport, IndexerError> {
        let mut report = RunReport {
            from_ledger: cursor.ledger,
            ..RunReport::default()
        };
        for _ in 0..self.settings.max_pages.max(1) {
            let from = match &cursor.paging {
                Some(p) => EventsFrom::Cursor(p.clone()),
                None => EventsFrom::Ledger(cursor.ledger),
            };
            let page = match self.rpc.events(from, &self.ids(), self.settings.page).await {
                Ok(p) => p,
                Err(e) if out_of_window(&e) => {
                    let why = format!(
                        "the cursor (ledger {}) is outside the RPC's retention window: {e}",
                        cursor.ledger
                    );
                    return self.rebuild(Some(cursor), why).await;
                }
                // Another refusal (servers word an old cursor differently): ask the window
                // itself before giving up on this run.
                Err(e @ medimint_chain::Error::Rpc(_)) => {
                    let oldest = self.oldest_ledger().await?;
                    if oldest > cursor.ledger {
                        let why = format!(
                            "the cursor (ledger {}) is before the RPC's retention window \
                             (from ledger {oldest}); it answered: {e}",
                            cursor.ledger
                        );
                        return self.rebuild(Some(cursor), why).await;
                    }
                    return Err(IndexerError::rpc(e));
                }
                Err(e) => return Err(IndexerError::rpc(e)),
            };
            if page.oldest_ledger > cursor.ledger {
                let why = format!(
                    "events of ledgers {} to {} fell out of the RPC's retention window before \
                     they were indexed",
                    cursor.ledger,
                    page.oldest_ledger - 1
                );
                return self.rebuild(Some(cursor), why).await;
            }
            let full = page.events.len() as u32 >= self.settings.page;
            let mut overlay = Overlay::default();
            let mut writes = Vec::with_capacity(page.events.len());
            for e in &page.events {
                writes.push(self.event(e, &mut overlay).await?);
            }
            let next_ledger = ledger_of_paging(&page.cursor)
                .or_else(|| page.events.last().map(|e| e.ledger))
                .unwrap_or(cursor.ledger)
                .max(cursor.ledger);
            cursor = IndexCursor {
                paging: if page.cursor.is_empty() {
                    cursor.paging
                } else {
                    Some(page.cursor.clone())
                },
                ledger: next_ledger,
                latest_ledger: page.latest_ledger,
                updated_at: now(),
                ..cursor
            };
            report.read += page.events.len();
            report.applied += self.index.apply_events(&writes, &cursor).await?;
            report.latest_ledger = page.latest_ledger;
            if !full {
                report.caught_up = true;
                break;
            }
        }
        report.next_ledger = cursor.ledger;
        report.lag_ledgers = cursor.lag_ledgers();
        Ok(report)
    }

    async fn token(&self, id: u32, ledger: u32, o: &Overlay) -> Result<TokenRow, IndexerError> {
        if let Some(t) = o.tokens.get(&id) {
            return Ok(t.clone());
        }
        if let Some(t) = self.index.token(id).await? {
            return Ok(t);
        }
        let record = self
            .chain
            .token(id)
            .await
            .map_err(|e| IndexerError::chain(format!("reading token {id}"), e))?
            .ok_or_else(|| {
                IndexerError::Inconsistent(format!("token {id} has events but does not exist"))
            })?;
        Ok(token_row(&record, ledger))
    }

    async fn issuer(&self, address: &str, o: &Overlay) -> Result<Option<IssuerRow>, IndexerError> {
        if let Some(i) = o.issuers.get(address) {
            return Ok(i.clone());
        }
        if let Some(i) = self.index.issuer(address).await? {
            return Ok(Some(i));
        }
        Ok(self
            .chain
            .issuer(address)
            .await
            .map_err(|e| IndexerError::chain(format!("reading issuer {address}"), e))?
            .map(|r| issuer_row(&r)))
    }

    /// The stored grant of `grantee` on token `id`, as the batch has left it.
    async fn role(
        &self,
        id: u32,
        grantee: &str,
        o: &Overlay,
    ) -> Result<Option<RoleRow>, IndexerError> {
        if let Some(r) = o.roles.get(&(id, grantee.to_owned())) {
            return Ok(r.clone());
        }
        Ok(self
            .index
            .roles(id)
            .await?
            .into_iter()
            .find(|r| r.grantee == grantee))
    }

    /// The history row and the changes of one event.
    async fn event(
        &self,
        e: &ContractEvent,
        o: &mut Overlay,
    ) -> Result<(HistoryRow, Vec<Change>), IndexerError> {
        let contract = if e.contract_id == self.contracts.study_token {
            "study-token"
        } else if e.contract_id == self.contracts.issuer_registry {
            "issuer-registry"
        } else {
            "other"
        };
        let h = history_row(e, contract);
        let mut c = vec![Change::Counted {
            kind: h.kind.clone(),
            day: day_of(&h.closed_at),
        }];
        let a = addresses(e);
        let notice = |kind: &str, id: u32| Notice {
            kind: kind.into(),
            token_id: id,
            event_id: e.id.clone(),
        };
        if contract == "issuer-registry" {
            if let Some(addr) = a.first() {
                let row = match h.kind.as_str() {
                    "issuer_added" => Some(issuer_from_event(e, addr)),
                    "issuer_suspended" | "issuer_reinstated" => {
                        self.issuer(addr, o).await?.map(|mut i| {
                            i.status = if h.kind == "issuer_suspended" {
                                "suspended".into()
                            } else {
                                "active".into()
                            };
                            i
                        })
                    }
                    "issuer_removed" => {
                        c.push(Change::IssuerGone(addr.clone()));
                        o.issuers.insert(addr.clone(), None);
                        None
                    }
                    _ => None,
                };
                if let Some(row) = row {
                    o.issuers.insert(addr.clone(), Some(row.clone()));
                    c.push(Change::Issuer(row));
                }
            }
            return Ok((h, c));
        }
        let Some(id) = h.token_id else {
            return Ok((h, c));
        };
        let ledger = e.ledger;
        match (h.kind.as_str(), a.as_slice()) {
            ("release_proposed" | "minted", [issuer, patient, ..]) => {
                let mut t = self.token(id, ledger, o).await?;
                let active = h.kind == "minted";
                t.issuer = issuer.clone();
                t.owner = patient.clone();
                t.status = if active { "active" } else { "pending" }.into();
                t.updated_ledger = ledger;
                c.push(Change::Listed(issuer.clone(), ListKind::Issued, id));
                c.push(Change::Listed(
                    patient.clone(),
                    if active {
                        ListKind::Owned
                    } else {
                        ListKind::Pending
                    },
                    id,
                ));
                c.push(Change::Notify(patient.clone(), notice("released", id)));
                o.tokens.insert(id, t.clone());
                c.push(Change::Token(t));
            }
            ("release_approved", [patient, ..]) => {
                let mut t = self.token(id, ledger, o).await?;
                t.status = "active".into();
                t.updated_ledger = ledger;
                c.push(Change::Unlisted(patient.clone(), ListKind::Pending, id));
                c.push(Change::Listed(patient.clone(), ListKind::Owned, id));
                o.tokens.insert(id, t.clone());
                c.push(Change::Token(t));
            }
            ("release_rejected" | "release_withdrawn", _) => {
                let mut t = self.token(id, ledger, o).await?;
                t.status = if h.kind == "release_rejected" {
                    "rejected"
                } else {
                    "withdrawn"
                }
                .into();
                t.updated_ledger = ledger;
                c.push(Change::Unlisted(t.owner.clone(), ListKind::Pending, id));
                o.tokens.insert(id, t.clone());
                c.push(Change::Token(t));
            }
            ("role_granted", [granter, grantee, ..]) => {
                let expires_at = medimint_chain::clients::field(&e.value, "expires_at")
                    .ok()
                    .and_then(|v| medimint_chain::scval::decode::<Option<u64>>(v).ok())
                    .flatten();
                // A re-grant replaces the earlier grant and its expiry.
                if let Some(at) = self.role(id, grantee, o).await?.and_then(|r| r.expires_at) {
                    c.push(Change::Expiry {
                        at,
                        token_id: id,
                        grantee: grantee.clone(),
                        set: false,
                    });
                }
                if let Some(at) = expires_at {
                    c.push(Change::Expiry {
                        at,
                        token_id: id,
                        grantee: grantee.clone(),
                        set: true,
                    });
                }
                let row = RoleRow {
                    token_id: id,
                    grantee: grantee.clone(),
                    role: data_variant(e, "role").unwrap_or_default(),
                    expires_at,
                    granter: granter.clone(),
                };
                o.roles.insert((id, grantee.clone()), Some(row.clone()));
                c.push(Change::Role(row));
                c.push(Change::Listed(grantee.clone(), ListKind::Shared, id));
                c.push(Change::Notify(grantee.clone(), notice("shared", id)));
            }
            ("role_revoked", [revoker, grantee, ..]) => {
                if let Some(at) = self.role(id, grantee, o).await?.and_then(|r| r.expires_at) {
                    c.push(Change::Expiry {
                        at,
                        token_id: id,
                        grantee: grantee.clone(),
                        set: false,
                    });
                }
                o.roles.insert((id, grantee.clone()), None);
                c.push(Change::RoleGone {
                    token_id: id,
                    grantee: grantee.clone(),
                });
                c.push(Change::Unlisted(grantee.clone(), ListKind::Shared, id));
                let mut t = self.token(id, ledger, o).await?;
                if t.issuer == *grantee {
                    t.issuer_revoked = true;
                    t.updated_ledger = ledger;
                    o.tokens.insert(id, t.clone());
                    c.push(Change::Token(t));
                }
                if revoker != grantee {
                    c.push(Change::Notify(grantee.clone(), notice("revoked", id)));
                }
            }
            ("access_recorded", [viewer, ..]) => {
                let kind = data_variant(e, "kind").unwrap_or_else(|| "view".into());
                c.push(Change::Accessed(id, kind));
                let t = self.token(id, ledger, o).await?;
                if t.owner != *viewer {
                    c.push(Change::Notify(t.owner.clone(), notice("accessed", id)));
                }
            }
            ("owner_rotated", [old, new, ..]) => {
                let mut t = self.token(id, ledger, o).await?;
                t.owner = new.clone();
                t.updated_ledger = ledger;
                c.push(Change::Unlisted(old.clone(), ListKind::Owned, id));
                c.push(Change::Listed(new.clone(), ListKind::Owned, id));
                o.tokens.insert(id, t.clone());
                c.push(Change::Token(t));
            }
            _ => {}
        }
        Ok((h, c))
    }

    /// Rebuilds tokens, grants, lists and issuers from contract state, keeping history and
    /// counts, and continues from the ledger the rebuild started at (events after it are
    /// applied again on top: every state change is idempotent as a set).
    ///
    /// # Errors
    /// RPC, contract-read or store failures (the old cursor stays: the next run rebuilds).
    pub async fn rebuild(
        &self,
        old: Option<IndexCursor>,
        why: String,
    ) -> Result<RunReport, IndexerError> {
        tracing::warn!(reason = %why, "rebuilding the index from contract state");
        let latest = self.rpc.latest_ledger().await.map_err(IndexerError::rpc)?;
        let mut state = Vec::new();
        for r in self
            .chain
            .issuers()
            .await
            .map_err(|e| IndexerError::chain("listing issuers", e))?
        {
            state.push(Change::Issuer(issuer_row(&r)));
        }
        let rebuilds = old.as_ref().map_or(0, |c| c.rebuilds) + 1;
        let cursor = IndexCursor {
            paging: None,
            ledger: latest,
            latest_ledger: latest,
            updated_at: now(),
            rebuilds,
            last_rebuild: Some(why.clone()),
            rebuilding: Some(1),
        };
        // Clears the state and keeps the issuers; the tokens follow, a chunk per run.
        self.index.replace_state(&state, &cursor).await?;
        let report = RunReport {
            from_ledger: old.map_or(latest, |c| c.ledger),
            rebuilt: Some(why),
            ..RunReport::default()
        };
        self.continue_rebuild(cursor, report).await
    }

    /// Reads the next tokens of a rebuild under way (up to `rebuild_tokens`) into the index.
    async fn continue_rebuild(
        &self,
        mut cursor: IndexCursor,
        mut report: RunReport,
    ) -> Result<RunReport, IndexerError> {
        let latest = cursor.ledger;
        let mut state = Vec::new();
        let mut tokens = 0;
        let mut next = cursor.rebuilding;
        while let Some(id) = next {
            if tokens >= self.settings.rebuild_tokens.max(1) as usize {
                break;
            }
            let Some(r) = self
                .chain
                .token(id)
                .await
                .map_err(|e| IndexerError::chain(format!("reading token {id}"), e))?
            else {
                next = None;
                break;
            };
            let t = token_row(&r, latest);
            state.push(Change::Listed(t.issuer.clone(), ListKind::Issued, id));
            match t.status.as_str() {
                "active" => state.push(Change::Listed(t.owner.clone(), ListKind::Owned, id)),
                "pending" => state.push(Change::Listed(t.owner.clone(), ListKind::Pending, id)),
                _ => {}
            }
            for g in
                self.chain.grants(id).await.map_err(|e| {
                    IndexerError::chain(format!("reading the grants of token {id}"), e)
                })?
            {
                state.push(Change::Listed(g.grantee.clone(), ListKind::Shared, id));
                // Grants that ended before the rebuild are not announced now.
                if let Some(at) = g.expires_at.filter(|at| *at > now()) {
                    state.push(Change::Expiry {
                        at,
                        token_id: id,
                        grantee: g.grantee.clone(),
                        set: true,
                    });
                }
                state.push(Change::Role(RoleRow {
                    token_id: id,
                    grantee: g.grantee,
                    role: snake(&format!("{:?}", g.role)),
                    expires_at: g.expires_at,
                    granter: g.granter,
                }));
            }
            state.push(Change::Token(t));
            tokens += 1;
            next = id.checked_add(1);
        }
        cursor.rebuilding = next;
        cursor.updated_at = now();
        self.index.add_state(&state, &cursor).await?;
        if next.is_none() {
            tracing::warn!(
                ledger = latest,
                rebuilds = cursor.rebuilds,
                "index rebuilt from contract state; following events again"
            );
        }
        report.from_ledger = if report.rebuilt.is_some() {
            report.from_ledger
        } else {
            latest
        };
        report.next_ledger = latest;
        report.latest_ledger = cursor.latest_ledger;
        report.lag_ledgers = cursor.lag_ledgers();
        report.rebuilt_tokens = tokens;
        report.rebuild_pending = next.is_some();
        Ok(report)
    }
}

fn issuer_row(r: &medimint_chain::clients::IssuerRecord) -> IssuerRow {
    IssuerRow {
        address: r.address.clone(),
        status: r.status.to_lowercase(),
        name: r.name.clone(),
        kind: snake(&format!("{:?}", r.kind)),
        jurisdiction: r.jurisdiction.clone(),
        added_ledger: r.added_ledger,
    }
}

/// The issuer's public profile from `issuer_added`'s data (`profile` is the whole
/// `IssuerProfile`).
fn issuer_from_event(e: &ContractEvent, address: &str) -> IssuerRow {
    use medimint_chain::clients::{field, variant_name};
    use medimint_chain::scval::decode;
    let profile = field(&e.value, "profile").ok();
    let text = |name: &'static str| {
        profile
            .and_then(|p| field(p, name).ok())
            .and_then(|v| decode::<String>(v).ok())
            .unwrap_or_default()
    };
    IssuerRow {
        address: address.to_owned(),
        status: "active".into(),
        name: text("name"),
        kind: profile
            .and_then(|p| field(p, "kind").ok())
            .and_then(|v| variant_name(v).ok())
            .map(|k| snake(&k))
            .unwrap_or_default(),
        jurisdiction: text("jurisdiction"),
        added_ledger: e.ledger,
    }
}
