//! medimint-devnet: a single-process Stellar network that speaks the Stellar RPC JSON-RPC
//! API, for development and tests.
//!
//! ```no_run
//! let dir = std::env::temp_dir().join("devnet-example");
//! let net = medimint_devnet::Devnet::start(medimint_devnet::Config {
//!     port: 0,
//!     data_dir: Some(dir),
//!     ..Default::default()
//! })
//! .unwrap();
//! println!("{} {} {}", net.rpc_url(), net.friendbot_url(), net.root_keypair().address());
//! // Stopped when `net` is dropped.
//! ```

pub mod apply;
pub mod history;
pub mod keys;
mod modules;
pub mod node;
pub mod ops;
pub mod persistence;
mod rpc;
pub mod settings;
pub mod simulate;
pub mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use keys::Keypair;
pub use settings::NetworkSettings;

use node::Node;

/// The quickstart's local network passphrase.
pub const STANDALONE_PASSPHRASE: &str = "Standalone Network ; February 2017";

/// Lumens friendbot gives a new account: 10 000 XLM, as the quickstart's friendbot.
pub const FRIENDBOT_STARTING_BALANCE: i64 = 10_000 * 10_000_000;

/// How to run a devnet.
#[derive(Clone, Debug)]
pub struct Config {
    /// TCP port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Where the state is kept across restarts; `None` keeps it in memory only.
    pub data_dir: Option<PathBuf>,
    /// Milliseconds between ledger closes; 0 closes a ledger on each submission (tests).
    pub ledger_ms: u64,
    /// Network passphrase.
    pub passphrase: String,
    /// Soroban settings (mainnet's by default).
    pub settings: NetworkSettings,
    /// Ledgers of transaction and event history served (and kept in the data directory).
    pub retention_ledgers: u32,
    /// Whether invocations record diagnostic events into the transaction meta (as
    /// stellar-core with `ENABLE_SOROBAN_DIAGNOSTIC_EVENTS = true`, the quickstart's local
    /// setting). Costs some speed.
    pub diagnostic_events: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            port: 0,
            data_dir: None,
            ledger_ms: 0,
            passphrase: STANDALONE_PASSPHRASE.to_string(),
            settings: NetworkSettings::default(),
            retention_ledgers: 17_280,
            diagnostic_events: true,
        }
    }
}

/// Errors starting a devnet.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be read.
    #[error("data directory: {0}")]
    Data(#[from] persistence::PersistError),
    /// The port could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port.
        port: u16,
        /// The error.
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
}

/// State shared by the RPC handlers and the ledger closer.
pub(crate) struct Shared {
    pub(crate) node: Mutex<Node>,
    pub(crate) friendbot_url: String,
    pub(crate) close_on_submit: bool,
    data_dir: Option<PathBuf>,
    last_save: Mutex<Instant>,
    /// Ledgers in the history file since it was last rewritten.
    history_lines: Mutex<usize>,
}

/// Closes a ledger and saves the state when it changed (or every 10 s while idle).
pub(crate) fn close_and_save(shared: &Shared) {
    let mut node = shared.node.lock().unwrap_or_else(|p| p.into_inner());
    let had_txs = node.pending_len() > 0;
    node.close_ledger();
    save_if_due(shared, &mut node, had_txs);
}

fn save_if_due(shared: &Shared, node: &mut Node, force: bool) {
    let Some(dir) = &shared.data_dir else { return };
    let mut last = shared.last_save.lock().unwrap_or_else(|p| p.into_inner());
    if force || last.elapsed() >= Duration::from_secs(10) {
        // History first: a crash between the two leaves history ahead of the state, which
        // loading drops, rather than a state whose transactions are missing from history.
        let mut lines = shared
            .history_lines
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let unsaved = node.take_unsaved();
        let result = if *lines + unsaved.len() > 2 * node.retention_ledgers as usize {
            let all = node.all_close_metas();
            *lines = all.len();
            persistence::rewrite_history(dir, &all)
        } else {
            *lines += unsaved.len();
            persistence::append_history(dir, &unsaved)
        };
        if let Err(e) = result {
            eprintln!("devnet: saving the history failed: {e}");
        }
        match persistence::save(dir, &node.passphrase, &node.state) {
            Ok(()) => {
                *last = Instant::now();
                node.dirty = false;
            }
            Err(e) => eprintln!("devnet: saving the ledger failed: {e}"),
        }
    }
}

/// A running devnet; stopped (and its state saved) on drop.
pub struct Devnet {
    addr: SocketAddr,
    shared: Arc<Shared>,
    root: Keypair,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Devnet {
    /// Starts a devnet: loads the state from `data_dir` or creates a genesis ledger with
    /// the root account, then serves RPC on 127.0.0.1.
    pub fn start(config: Config) -> Result<Self, StartError> {
        let mut history_lines = 0;
        let mut node = match &config.data_dir {
            Some(dir) => match persistence::load(dir, &config.passphrase)? {
                Some(state) => {
                    let mut node = Node::with_state(
                        config.settings.clone(),
                        &config.passphrase,
                        config.retention_ledgers,
                        state,
                    );
                    node.restore_history(persistence::load_history(dir)?);
                    // Compact: only the retention window, only ledgers the state has.
                    let all = node.all_close_metas();
                    persistence::rewrite_history(dir, &all)?;
                    history_lines = all.len();
                    node
                }
                None => {
                    // A new genesis: any history file left there belongs to another chain.
                    persistence::rewrite_history(dir, &[])?;
                    Node::genesis(
                        config.settings.clone(),
                        &config.passphrase,
                        config.retention_ledgers,
                    )
                }
            },
            None => Node::genesis(
                config.settings.clone(),
                &config.passphrase,
                config.retention_ledgers,
            ),
        };
        node.diagnostics = config.diagnostic_events;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("devnet")
            .build()
            .map_err(StartError::Runtime)?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", config.port)))
            .map_err(|source| StartError::Bind {
                port: config.port,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            port: config.port,
            source,
        })?;
        let shared = Arc::new(Shared {
            node: Mutex::new(node),
            friendbot_url: format!("http://{addr}/friendbot"),
            close_on_submit: config.ledger_ms == 0,
            data_dir: config.data_dir.clone(),
            last_save: Mutex::new(Instant::now()),
            history_lines: Mutex::new(history_lines),
        });
        {
            let mut node = shared.node.lock().unwrap_or_else(|p| p.into_inner());
            save_if_due(&shared, &mut node, true);
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = rpc::router(shared.clone());
        runtime.spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        if config.ledger_ms > 0 {
            let s = shared.clone();
            let period = Duration::from_millis(config.ledger_ms);
            runtime.spawn(async move {
                let mut tick = tokio::time::interval(period);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let s = s.clone();
                    if tokio::task::spawn_blocking(move || close_and_save(&s))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
        Ok(Self {
            addr,
            shared,
            root: Keypair::root(&config.passphrase),
            shutdown: Some(tx),
            runtime: Some(runtime),
        })
    }

    /// The JSON-RPC endpoint, `http://127.0.0.1:PORT/`.
    pub fn rpc_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The friendbot endpoint: `GET {friendbot_url}?addr=G...`.
    pub fn friendbot_url(&self) -> String {
        self.shared.friendbot_url.clone()
    }

    /// The socket the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The root account's key (SHA-256 of the passphrase as the seed).
    pub fn root_keypair(&self) -> Keypair {
        self.root.clone()
    }

    /// The network passphrase.
    pub fn passphrase(&self) -> String {
        self.shared
            .node
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .passphrase
            .clone()
    }

    /// Sequence of the last closed ledger.
    pub fn latest_ledger(&self) -> u32 {
        self.shared
            .node
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .latest_ledger()
    }

    /// Closes a ledger now (whatever the close mode); returns its sequence. Tests use it
    /// to let TTLs lapse.
    pub fn close_ledger(&self) -> u32 {
        close_and_save(&self.shared);
        self.latest_ledger()
    }

    /// Changes the network settings from the next ledger on (tests shrink the ledger limits
    /// to fill ledgers).
    pub fn set_settings(&self, f: impl FnOnce(&mut NetworkSettings)) {
        let mut node = self.shared.node.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut node.settings);
    }

    /// Moves the ledger sequence `n` ledgers ahead at once, as if `n` empty ledgers closed
    /// (tests use it to let TTLs lapse).
    pub fn advance_ledgers(&self, n: u32) -> u32 {
        let mut node = self.shared.node.lock().unwrap_or_else(|p| p.into_inner());
        node.skip_ledgers(n);
        save_if_due(&self.shared, &mut node, true);
        node.latest_ledger()
    }
}

impl Devnet {
    /// Moves the ledger clock `secs` seconds ahead at once and closes a ledger (tests use
    /// it to let time-bound grants expire); later ledgers never close earlier.
    pub fn advance_time(&self, secs: u64) -> u64 {
        let mut node = self.shared.node.lock().unwrap_or_else(|p| p.into_inner());
        node.skip_time(secs);
        save_if_due(&self.shared, &mut node, true);
        node.latest_close_time()
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
        let mut node = self.shared.node.lock().unwrap_or_else(|p| p.into_inner());
        save_if_due(&self.shared, &mut node, true);
    }
}
