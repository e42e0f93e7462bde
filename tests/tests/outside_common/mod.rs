//! A suite on an in-process devnet with Jane's approved study released by General
//! Hospital, and the API over it on a clock the test moves: the set-up of the tests of the
//! people outside MediMint (share links, records requests; issue 17).

#![allow(dead_code)]

use std::sync::Arc;

use medimint_api::clock::{Clock, ManualClock, SystemClock};
use medimint_api::keys::AuthKeys;
use medimint_api::mailer::OutboxMailer;
use medimint_api::platform::{PlatformAccounts, PlatformRoles};
use medimint_api::state::{Adapters, AppState};
use medimint_api::store::{appdb::AppDbKv, KvAuthStore};
use medimint_platform::Platform;

use crate::common::TestApi;
use crate::suite_common::{self, Suite, JANE};

pub struct Chain {
    pub api: TestApi,
    pub clock: Arc<ManualClock>,
    pub token: String,
    /// The study's first file as released.
    pub file: (String, Vec<u8>),
    pub platform: Arc<Platform>,
    pub issuer: String,
    /// Jane's files as generated.
    pub files: Vec<(String, Vec<u8>)>,
    suite: Suite,
}

pub async fn chain() -> Chain {
    let suite = suite_common::suite().await;
    let issuer = suite.issuer.clone();
    let (token, files) = suite.release(&issuer, &JANE, "2.25.3001", 1, 1).await;
    suite.approve(JANE.email, &token).await;
    let platform = suite.platform.clone();
    // The API as `medimint up` serves it, on a clock the test moves.
    let outbox = suite.dir().join("outbox");
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let state = AppState::new(
        suite.api_config(),
        AuthKeys::derive(platform.seed()),
        Adapters {
            store: Arc::new(KvAuthStore::new(AppDbKv(platform.db().clone()))),
            mailer: Arc::new(OutboxMailer::new(&outbox)),
            accounts: Arc::new(PlatformAccounts(platform.clone())),
            roles: Arc::new(PlatformRoles::new(platform.clone())),
            clock: clock.clone(),
            platform: Some(platform.clone()),
        },
    );
    let (name, bytes) = files[0].clone();
    Chain {
        platform,
        issuer,
        files,
        api: TestApi::from_state(state, outbox),
        clock,
        token,
        file: (name, bytes),
        suite,
    }
}
