//! The JSON-RPC 2.0 envelope: requests, batches, results and errors.
//!
//! Hand-written (about sixty lines) rather than jsonrpsee's server because the devnet
//! serves JSON-RPC and the friendbot's plain GET on one port and one router, and needs
//! only HTTP POST at `/`; see docs/devnet.md.

use serde_json::{json, Value};

/// Invalid JSON.
pub const PARSE_ERROR: i64 = -32700;
/// Not a JSON-RPC 2.0 request.
pub const INVALID_REQUEST: i64 = -32600;
/// Unknown method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Bad parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// Server fault.
pub const INTERNAL_ERROR: i64 = -32603;

/// A JSON-RPC error.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The code.
    pub code: i64,
    /// What was wrong.
    pub message: String,
}

impl RpcError {
    /// Invalid params with `message`.
    pub fn params(message: impl Into<String>) -> Self {
        Self {
            code: INVALID_PARAMS,
            message: message.into(),
        }
    }
}

fn error_response(id: Value, e: RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code, "message": e.message}})
}

/// Handles one request object; `None` for a notification (no id).
fn handle_one(req: Value, call: &dyn Fn(&str, Value) -> Result<Value, RpcError>) -> Option<Value> {
    let Value::Object(obj) = req else {
        return Some(error_response(
            Value::Null,
            RpcError {
                code: INVALID_REQUEST,
                message: "request must be a JSON object".into(),
            },
        ));
    };
    let id = obj.get("id").cloned();
    let respond_id = id.clone().unwrap_or(Value::Null);
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Some(error_response(
            respond_id,
            RpcError {
                code: INVALID_REQUEST,
                message: "`jsonrpc` must be \"2.0\"".into(),
            },
        ));
    }
    let Some(method) = obj.get("method").and_then(Value::as_str) else {
        return Some(error_response(
            respond_id,
            RpcError {
                code: INVALID_REQUEST,
                message: "`method` must be a string".into(),
            },
        ));
    };
    let params = match obj.get("params") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(p @ Value::Object(_)) => p.clone(),
        Some(_) => {
            return Some(error_response(
                respond_id,
                RpcError::params("`params` must be an object of named parameters"),
            ));
        }
    };
    let out = call(method, params);
    id.as_ref()?;
    Some(match out {
        Ok(result) => json!({"jsonrpc": "2.0", "id": respond_id, "result": result}),
        Err(e) => error_response(respond_id, e),
    })
}

/// Handles a request body (single or batch); `None` when nothing is to be returned.
pub fn handle_body(
    body: &[u8],
    call: &dyn Fn(&str, Value) -> Result<Value, RpcError>,
) -> Option<Value> {
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Some(error_response(
                Value::Null,
                RpcError {
                    code: PARSE_ERROR,
                    message: format!("invalid JSON: {e}"),
                },
            ))
        }
    };
    match parsed {
        Value::Array(items) if items.is_empty() => Some(error_response(
            Value::Null,
            RpcError {
                code: INVALID_REQUEST,
                message: "empty batch".into(),
            },
        )),
        Value::Array(items) => {
            let out: Vec<Value> = items
                .into_iter()
                .filter_map(|r| handle_one(r, call))
                .collect();
            (!out.is_empty()).then_some(Value::Array(out))
        }
        single => handle_one(single, call),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo(method: &str, params: Value) -> Result<Value, RpcError> {
        match method {
            "echo" => Ok(params),
            _ => Err(RpcError {
                code: METHOD_NOT_FOUND,
                message: "no".into(),
            }),
        }
    }

    #[test]
    fn envelope_errors_have_their_codes() {
        let r = handle_body(b"{not json", &echo).unwrap();
        assert_eq!(r["error"]["code"], PARSE_ERROR);
        let r = handle_body(br#"{"jsonrpc":"1.0","id":1,"method":"echo"}"#, &echo).unwrap();
        assert_eq!(r["error"]["code"], INVALID_REQUEST);
        let r = handle_body(br#"{"jsonrpc":"2.0","id":1,"method":"nope"}"#, &echo).unwrap();
        assert_eq!(r["error"]["code"], METHOD_NOT_FOUND);
        let r = handle_body(
            br#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}"#,
            &echo,
        )
        .unwrap();
        assert_eq!(r["error"]["code"], INVALID_PARAMS);
    }

    #[test]
    fn batches_and_notifications() {
        let r = handle_body(br#"[{"jsonrpc":"2.0","id":1,"method":"echo","params":{"a":1}},{"jsonrpc":"2.0","method":"echo"}]"#, &echo).unwrap();
        assert_eq!(r.as_array().unwrap().len(), 1);
        assert_eq!(r[0]["result"]["a"], 1);
        assert_eq!(r[0]["id"], 1);
        assert!(handle_body(br#"{"jsonrpc":"2.0","method":"echo"}"#, &echo).is_none());
    }
}
