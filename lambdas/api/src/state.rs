//! What every handler shares: configuration, keys and the injected adapters.

use std::sync::Arc;

use medimint_chain::Network;
use medimint_platform::Platform;

use crate::error::ApiError;

use crate::accounts::Accounts;
use crate::clock::Clock;
use crate::config::ApiConfig;
use crate::keys::AuthKeys;
use crate::limits::RateLimiter;
use crate::mailer::Mailer;
use crate::roles::Roles;
use crate::store::AuthStore;

/// The adapters the API is built from.
#[derive(Clone)]
pub struct Adapters {
    /// Sign-in state.
    pub store: Arc<dyn AuthStore>,
    /// Sends one-time codes.
    pub mailer: Arc<dyn Mailer>,
    /// Email ↔ custodial address.
    pub accounts: Arc<dyn Accounts>,
    /// Roles from the chain.
    pub roles: Arc<dyn Roles>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The platform behind the study, release and issuer endpoints; `None` serves sign-in
    /// only (those endpoints answer 503).
    pub platform: Option<Arc<Platform>>,
}

/// The router's state (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) config: ApiConfig,
    pub(crate) network: Network,
    pub(crate) keys: AuthKeys,
    pub(crate) store: Arc<dyn AuthStore>,
    pub(crate) mailer: Arc<dyn Mailer>,
    pub(crate) accounts: Arc<dyn Accounts>,
    pub(crate) roles: Arc<dyn Roles>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) limiter: RateLimiter,
    pub(crate) platform: Option<Arc<Platform>>,
    /// The audit index the explorer reads (set once by whoever runs the indexer).
    pub(crate) index: std::sync::OnceLock<medimint_storage::Index>,
    /// Viewings this process recorded on chain, per session and study.
    pub(crate) recorded: crate::session::RecordedAccess,
}

impl AppState {
    /// The state of an API with this configuration, keys and adapters.
    pub fn new(config: ApiConfig, keys: AuthKeys, adapters: Adapters) -> Self {
        Self(Arc::new(Inner {
            network: Network::new(config.network_passphrase.clone()),
            limiter: RateLimiter::default(),
            config,
            keys,
            store: adapters.store,
            mailer: adapters.mailer,
            accounts: adapters.accounts,
            roles: adapters.roles,
            clock: adapters.clock,
            platform: adapters.platform,
            index: std::sync::OnceLock::new(),
            recorded: crate::session::RecordedAccess::default(),
        }))
    }

    /// The configuration.
    pub fn config(&self) -> &ApiConfig {
        &self.0.config
    }

    /// The derived keys.
    pub fn keys(&self) -> &AuthKeys {
        &self.0.keys
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.0
    }

    /// The platform, or 503 when this instance serves sign-in only.
    ///
    /// # Errors
    /// [`ApiError::Unavailable`] without a platform.
    pub fn platform(&self) -> Result<&Arc<Platform>, ApiError> {
        self.0.platform.as_ref().ok_or_else(|| {
            ApiError::unavailable(
                "the study service",
                std::io::Error::other("this API instance was started without a platform"),
            )
        })
    }

    /// Gives the explorer its audit index (once; later calls are ignored).
    pub fn set_index(&self, index: medimint_storage::Index) {
        let _ = self.0.index.set(index);
    }

    /// The audit index, if one was set.
    pub fn index(&self) -> Option<&medimint_storage::Index> {
        self.0.index.get()
    }

    pub(crate) fn now(&self) -> u64 {
        self.0.clock.now()
    }
}
