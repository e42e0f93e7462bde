//! Friendbot: funds a new account from the root account with a real CreateAccount
//! transaction, as the quickstart's friendbot does.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;
use soroban_env_host::xdr::{
    CreateAccountOp, DecoratedSignature, Memo, MuxedAccount, Operation, OperationBody,
    Preconditions, SequenceNumber, Signature, SignatureHint, Transaction, TransactionEnvelope,
    TransactionExt, TransactionV1Envelope, Uint256,
};

use crate::apply::ParsedTx;
use crate::node::SubmitError;
use crate::{Keypair, Shared, FRIENDBOT_STARTING_BALANCE};

fn problem(status: StatusCode, detail: impl Into<String>) -> axum::response::Response {
    (
        status,
        Json(json!({"status": status.as_u16(), "detail": detail.into()})),
    )
        .into_response()
}

pub(crate) async fn fund(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> axum::response::Response {
    let Some(addr) = q.get("addr") else {
        return problem(
            StatusCode::BAD_REQUEST,
            "missing query parameter `addr` (a G... address)",
        );
    };
    let dest = match crate::keys::parse_account_id(addr) {
        Ok(d) => d,
        Err(e) => return problem(StatusCode::BAD_REQUEST, e),
    };
    // The root account has one transaction queued at a time (TRY_AGAIN_LATER for a second,
    // as stellar-core): concurrent requests take turns, a ledger each.
    let mut waited = Duration::ZERO;
    let hash = loop {
        let submitted = {
            let mut node = shared.node.lock().unwrap_or_else(|p| p.into_inner());
            if node.entry(&crate::apply::account_key(&dest)).is_some() {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "account already funded to starting balance",
                );
            }
            let root = Keypair::root(&node.passphrase);
            let Some(seq) = node.next_sequence(&root.account_id()) else {
                return problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the root account is missing",
                );
            };
            let tx = Transaction {
                source_account: MuxedAccount::Ed25519(Uint256(root.public_key())),
                fee: node.settings.base_fee as u32,
                seq_num: SequenceNumber(seq),
                cond: Preconditions::None,
                memo: Memo::None,
                operations: vec![Operation {
                    source_account: None,
                    body: OperationBody::CreateAccount(CreateAccountOp {
                        destination: dest.clone(),
                        starting_balance: FRIENDBOT_STARTING_BALANCE,
                    }),
                }]
                .try_into()
                .unwrap_or_default(),
                ext: TransactionExt::V0,
            };
            let unsigned = TransactionEnvelope::Tx(TransactionV1Envelope {
                tx: tx.clone(),
                signatures: Default::default(),
            });
            let hash = match ParsedTx::new(unsigned, node.network_id) {
                Ok(p) => p.hash,
                Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e),
            };
            let pk = root.public_key();
            let sig = DecoratedSignature {
                hint: SignatureHint([pk[28], pk[29], pk[30], pk[31]]),
                signature: Signature(root.sign(&hash).to_vec().try_into().unwrap_or_default()),
            };
            let env = TransactionEnvelope::Tx(TransactionV1Envelope {
                tx,
                signatures: vec![sig].try_into().unwrap_or_default(),
            });
            node.submit(env)
        };
        match submitted {
            Ok(h) | Err(SubmitError::Duplicate(h)) => break h,
            Err(SubmitError::TryAgainLater(_)) if waited < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                waited += Duration::from_millis(50);
            }
            Err(SubmitError::TryAgainLater(_)) => {
                return problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "friendbot busy: the root account's queue did not clear within 30 s; retry",
                )
            }
            Err(SubmitError::Invalid { reason, .. }) => {
                return problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("friendbot transaction refused: {reason}"),
                )
            }
        }
    };
    if shared.close_on_submit {
        let s = shared.clone();
        let _ = tokio::task::spawn_blocking(move || crate::close_and_save(&s)).await;
    }
    // Wait for the ledger that applies it.
    for _ in 0..600 {
        {
            let node = shared.node.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(t) = node.transaction(&hash) {
                let status = if t.success {
                    StatusCode::OK
                } else {
                    StatusCode::BAD_REQUEST
                };
                return (
                    status,
                    Json(json!({"hash": hash, "successful": t.success, "ledger": t.ledger})),
                )
                    .into_response();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    problem(
        StatusCode::GATEWAY_TIMEOUT,
        format!("transaction {hash} not applied within 30 s"),
    )
}
