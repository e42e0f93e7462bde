//! The HTTP server: JSON-RPC at `/` and the friendbot at `/friendbot?addr=G...` (GET, or
//! POST as SDF's friendbot also answers and the JS SDK's `requestAirdrop` sends).

mod friendbot;
mod jsonrpc;
mod methods;

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::Shared;

/// Largest request body accepted (a transaction is at most 132 KiB; base64 and JSON add a
/// third, and a getLedgerEntries of 200 keys is far smaller).
const MAX_BODY_BYTES: usize = 1 << 20;

/// The server's routes.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", post(rpc))
        .route("/friendbot", get(friendbot::fund).post(friendbot::fund))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

async fn rpc(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    body: Bytes,
) -> Response {
    // Simulation and application are CPU work: keep them off the async workers.
    let out = tokio::task::spawn_blocking(move || {
        jsonrpc::handle_body(&body, &|method, params| {
            methods::call(&shared, method, params)
        })
    })
    .await;
    match out {
        Ok(Some(v)) => {
            ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
        }
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => {
            let v = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": jsonrpc::INTERNAL_ERROR, "message": "internal error"}});
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "application/json")],
                v.to_string(),
            )
                .into_response()
        }
    }
}
