//! State archival (issue 19): a token nobody touched for longer than a new entry's TTL (120
//! days on the public network's settings, which the devnet serves) is archived; its next use
//! through the platform restores it in the same sponsored transaction (protocol 23's automatic
//! restore), with no separate `RestoreFootprint` and nothing for the user to do.

#[path = "../../lambdas/api/tests/common/mod.rs"]
mod common;
mod suite_common;

use medimint_chain::clients::AccessKind;
use stellar_rpc_client::{GetTransactionsRequest, TransactionsPaginationOptions};
use stellar_xdr::{
    FeeBumpTransactionInnerTx, SorobanTransactionDataExt, TransactionEnvelope, TransactionExt,
};
use suite_common::{suite, JANE};

/// Ledgers in a day at the network's 5 s close time.
const DAY: u32 = 17_280;

/// How many entries each transaction from `from` on marked for restoration.
async fn restored_per_transaction(rpc_url: &str, from: u32) -> Vec<usize> {
    let client = stellar_rpc_client::Client::new(rpc_url).unwrap();
    let page = client
        .get_transactions(GetTransactionsRequest {
            start_ledger: Some(from),
            pagination: Some(TransactionsPaginationOptions {
                cursor: None,
                limit: Some(100),
            }),
        })
        .await
        .unwrap();
    page.transactions
        .iter()
        .filter(|t| t.status == "SUCCESS")
        .filter_map(|t| {
            let tx = match t.envelope.as_ref()? {
                TransactionEnvelope::Tx(v1) => v1.tx.clone(),
                TransactionEnvelope::TxFeeBump(fb) => match &fb.tx.inner_tx {
                    FeeBumpTransactionInnerTx::Tx(inner) => inner.tx.clone(),
                },
                TransactionEnvelope::TxV0(_) => return None,
            };
            let TransactionExt::V1(data) = tx.ext else {
                return None;
            };
            Some(match data.ext {
                SorobanTransactionDataExt::V1(e) => e.archived_soroban_entries.len(),
                SorobanTransactionDataExt::V0 => 0,
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_untouched_for_months_is_restored_by_its_next_use() {
    let s = suite().await;
    let (cold, _) = s
        .release(&s.issuer, &JANE, "1.2.826.0.1.3680043.10.543.91", 1, 2)
        .await;
    let (warm, _) = s
        .release(&s.issuer, &JANE, "1.2.826.0.1.3680043.10.543.92", 1, 2)
        .await;
    s.approve(JANE.email, &cold).await;
    s.approve(JANE.email, &warm).await;
    let (cold, warm): (u32, u32) = (cold.parse().unwrap(), warm.parse().unwrap());

    // 140 days pass. The other token is used every 20 days, which keeps the contracts'
    // instances and code live (their extension is charged to whichever call finds them low),
    // as on a deployment in use; the first token is not touched at all.
    let mut warm_restored = vec![];
    for _ in 0..7 {
        s.devnet().advance_ledgers(20 * DAY);
        let from = s.devnet().latest_ledger() + 1;
        s.platform
            .record_access(JANE.email, warm, AccessKind::View)
            .await
            .unwrap();
        warm_restored.extend(restored_per_transaction(&s.devnet().rpc_url(), from).await);
    }
    assert_eq!(
        warm_restored,
        vec![0; 7],
        "the warm token's uses, one transaction each, restored nothing"
    );
    let before = s.devnet().latest_ledger();

    // Reading the archived token works (simulation restores it for the read), and its next
    // use lands: one transaction that restores what it reads.
    let record = s.platform.token(&cold.to_string()).await.unwrap();
    assert_eq!(record.id, cold);
    s.platform
        .record_access(JANE.email, cold, AccessKind::View)
        .await
        .unwrap();
    let restored = restored_per_transaction(&s.devnet().rpc_url(), before + 1).await;
    assert_eq!(restored.len(), 1, "one transaction: {restored:?}");
    assert!(
        restored[0] >= 1,
        "the cold token's entries were archived and restored by the access: {restored:?}"
    );

    // Restored for good: the next use restores nothing more.
    let after = s.devnet().latest_ledger();
    s.platform
        .record_access(JANE.email, cold, AccessKind::Download)
        .await
        .unwrap();
    let restored = restored_per_transaction(&s.devnet().rpc_url(), after + 1).await;
    assert_eq!(restored, vec![0]);
}
