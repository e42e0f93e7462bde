//! The relayer's request records and spend in the platform database: a second relayer
//! process (a Lambda invocation after a timeout, the CLI after a crash) sharing the database
//! resumes a request instead of sending it again.

mod common;

use std::sync::Arc;

use common::operators;
use medimint_chain::{Error, Refusal};
use medimint_sdk::keys::Keypair;
use medimint_storage::{RelayerDb, SqliteDb};

#[test]
fn a_second_relayer_over_the_same_database_resumes_the_request() {
    let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("platform.db");
    common::runtime().block_on(async {
        let ops = operators(&devnet, 1).await;
        let patient = Keypair::generate();

        // A relayer process whose records and spend are in the database file.
        let over_the_file = || async {
            let db = Arc::new(RelayerDb::new(Arc::new(
                SqliteDb::open(&path).await.unwrap(),
            )));
            ops.another_relayer()
                .with_request_store(db.clone())
                .with_spend_store(db)
        };
        let first = over_the_file().await;
        let landed = first
            .create_sponsored_account("account:patient-1", patient.signing_key())
            .await
            .unwrap();
        let charged = first.spent_today(&patient.address()).await.unwrap();
        assert_eq!(charged, landed.fee_charged);
        assert!(charged > 0);
        drop(first);

        // A new process: only the database file is shared.
        let second = over_the_file().await;
        assert_eq!(
            second.spent_today(&patient.address()).await.unwrap(),
            charged
        );
        // The same request: the first transaction's outcome, nothing sent (a new
        // transaction would fail with createAccount AlreadyExist and be charged again).
        let again = second
            .create_sponsored_account("account:patient-1", patient.signing_key())
            .await
            .unwrap();
        assert_eq!(again.hash, landed.hash);
        assert_eq!(again.ledger, landed.ledger);
        assert_eq!(
            second.spent_today(&patient.address()).await.unwrap(),
            charged
        );

        // The key cannot be reused for another request.
        let other = Keypair::generate();
        let err = second
            .create_sponsored_account("account:patient-1", other.signing_key())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Refused(Refusal::KeyReused(k)) if k == "account:patient-1"),
            "{err}"
        );

        // Without the shared records, the same request sends a second transaction, which
        // the network fails: what the database prevents.
        let forgetful = ops.another_relayer();
        let err = forgetful
            .create_sponsored_account("account:patient-1", patient.signing_key())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("AlreadyExist"), "{err}");
    });
}
