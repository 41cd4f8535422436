//! The JSON-RPC 2.0 envelope, checked before a request reaches jsonrpsee.
//!
//! jsonrpsee takes a call whose `id` it cannot represent (`-1`, `1.5`,
//! `2^64`, an object) for a notification and answers nothing, ignores
//! parameters beyond the ones a method reads, and answers a body that is
//! not JSON with HTTP 400 here and 200 there. This module is the pure check
//! that makes the answers uniform, run on the HTTP body the server has
//! already read within its limits:
//!
//! - a body that is not JSON: `-32700 parse error`;
//! - a call that is not an object with `"jsonrpc": "2.0"`, a string
//!   `method`, `params` (if present) an array or an object, and an `id`
//!   that is absent (a notification), null, a string or an integer from 0
//!   to 2^64 - 1: `-32600 invalid request`, with the call's id when it
//!   has a usable one and null otherwise;
//! - a call of a method this server knows with more positional parameters
//!   than the method takes, or a named parameter it does not take:
//!   `-32602 invalid params`, naming them.
//!
//! A batch with any such call runs none of its calls: each call is answered
//! with its own error, and the valid ones with `-32600` saying which call
//! stopped the batch, so that nothing in a rejected batch changes state.
//!
//! Every answer here is a JSON-RPC response and travels with HTTP 200, like
//! every other JSON-RPC answer; HTTP error statuses are kept for the
//! transport (413 too large, 408 too slow, 429 too many connections, 405
//! not POST, 415 not JSON).
//!
//! The parameter names come from the OpenRPC document ([`Arity::from_openrpc`]),
//! the one list of methods and their parameters, so the check cannot drift
//! from what `rpc.discover` publishes. Calls over WebSocket are answered by
//! jsonrpsee alone.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// JSON-RPC 2.0's parse error.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC 2.0's invalid request.
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC 2.0's invalid params.
pub const INVALID_PARAMS: i64 = -32602;

/// The parameter names of each method, in order.
#[derive(Debug, Clone, Default)]
pub struct Arity {
    params: BTreeMap<String, Vec<String>>,
}

impl Arity {
    /// Reads the methods and their parameter names from an OpenRPC
    /// document (`methods[].name`, `methods[].params[].name`).
    #[must_use]
    pub fn from_openrpc(document: &Value) -> Self {
        let mut params = BTreeMap::new();
        for m in document["methods"].as_array().into_iter().flatten() {
            let Some(name) = m["name"].as_str() else {
                continue;
            };
            let names = m["params"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect();
            params.insert(name.to_owned(), names);
        }
        Self { params }
    }

    /// The parameter names of `method`, if the server knows it.
    #[must_use]
    pub fn of(&self, method: &str) -> Option<&[String]> {
        self.params.get(method).map(Vec::as_slice)
    }
}

/// Checks a request body; `Err` holds the JSON answer to send instead of
/// running anything.
///
/// # Errors
/// When the body is not JSON, or a call in it is not a valid JSON-RPC 2.0
/// request for this server (see the module docs).
pub fn check(body: &[u8], arity: &Arity) -> Result<(), Value> {
    let parsed: Value = serde_json::from_slice(body).map_err(|e| {
        error(
            &Value::Null,
            PARSE_ERROR,
            &format!("parse error: the body is not JSON ({e})"),
        )
    })?;
    match &parsed {
        Value::Array(calls) if calls.is_empty() => Err(error(
            &Value::Null,
            INVALID_REQUEST,
            "invalid request: an empty batch",
        )),
        Value::Array(calls) => {
            let verdicts: Vec<Result<(), Value>> = calls.iter().map(|c| call(c, arity)).collect();
            let Some(first) = verdicts.iter().position(Result::is_err) else {
                return Ok(());
            };
            let answers = calls
                .iter()
                .zip(verdicts)
                .map(|(c, v)| match v {
                    Err(answer) => answer,
                    Ok(()) => error(
                        &c["id"],
                        INVALID_REQUEST,
                        &format!("batch not run: call {first} of it is invalid"),
                    ),
                })
                .collect();
            Err(Value::Array(answers))
        }
        single => call(single, arity),
    }
}

/// Checks one call of a request.
fn call(c: &Value, arity: &Arity) -> Result<(), Value> {
    let Value::Object(fields) = c else {
        return Err(error(
            &Value::Null,
            INVALID_REQUEST,
            "invalid request: a call must be a JSON object",
        ));
    };
    let id = fields.get("id");
    if let Some(id) = id
        && !usable_id(id)
    {
        return Err(error(
            &Value::Null,
            INVALID_REQUEST,
            &format!(
                "invalid request: id {id} is not a string, null or an integer from 0 to {}",
                u64::MAX
            ),
        ));
    }
    let id = id.unwrap_or(&Value::Null);
    let invalid = |message: String| Err(error(id, INVALID_REQUEST, &message));
    if fields.get("jsonrpc") != Some(&json!("2.0")) {
        return invalid("invalid request: \"jsonrpc\" must be \"2.0\"".into());
    }
    let Some(method) = fields.get("method").and_then(Value::as_str) else {
        return invalid("invalid request: \"method\" must be a string".into());
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "jsonrpc" | "method" | "params" | "id"))
    {
        return invalid(format!("invalid request: unknown member \"{unknown}\""));
    }
    let Some(names) = arity.of(method) else {
        // Unknown methods (and subscriptions' unsubscribe methods) are
        // answered by jsonrpsee.
        return match fields.get("params") {
            None | Some(Value::Array(_) | Value::Object(_)) => Ok(()),
            Some(_) => invalid("invalid request: \"params\" must be an array or an object".into()),
        };
    };
    match fields.get("params") {
        None => Ok(()),
        Some(Value::Array(given)) if given.len() <= names.len() => Ok(()),
        Some(Value::Array(given)) => Err(error(
            id,
            INVALID_PARAMS,
            &format!(
                "invalid params: {method} takes at most {} ({}), {} given",
                names.len(),
                names.join(", "),
                given.len()
            ),
        )),
        Some(Value::Object(given)) => named(method, given, names, id),
        Some(_) => invalid("invalid request: \"params\" must be an array or an object".into()),
    }
}

/// Named parameters must all be ones the method takes.
fn named(
    method: &str,
    given: &Map<String, Value>,
    names: &[String],
    id: &Value,
) -> Result<(), Value> {
    let unknown: Vec<&str> = given
        .keys()
        .filter(|k| !names.contains(k))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(error(
        id,
        INVALID_PARAMS,
        &format!(
            "invalid params: {method} takes no parameter {} (it takes: {})",
            unknown.join(", "),
            names.join(", ")
        ),
    ))
}

/// An id jsonrpsee answers with: null, a string, or an integer in u64.
fn usable_id(id: &Value) -> bool {
    match id {
        Value::Null | Value::String(_) => true,
        Value::Number(n) => n.is_u64(),
        _ => false,
    }
}

fn error(id: &Value, code: i64, message: &str) -> Value {
    let id = if usable_id(id) {
        id.clone()
    } else {
        Value::Null
    };
    json!({ "jsonrpc": "2.0", "error": { "code": code, "message": message }, "id": id })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arity() -> Arity {
        Arity::from_openrpc(&json!({ "methods": [
            { "name": "chain_getBlock", "params": [ { "name": "height" }, { "name": "include_txs" } ] },
            { "name": "system_health", "params": [] },
        ]}))
    }

    fn answer(body: &str) -> Value {
        check(body.as_bytes(), &arity()).unwrap_err()
    }

    #[test]
    fn well_formed_calls_pass() {
        for body in [
            r#"{"jsonrpc":"2.0","method":"system_health","id":1}"#,
            r#"{"jsonrpc":"2.0","method":"system_health","params":[],"id":"a"}"#,
            r#"{"jsonrpc":"2.0","method":"chain_getBlock","params":[1,true],"id":18446744073709551615}"#,
            r#"{"jsonrpc":"2.0","method":"chain_getBlock","params":{"height":1},"id":null}"#,
            r#"{"jsonrpc":"2.0","method":"system_health"}"#,
            r#"{"jsonrpc":"2.0","method":"no_suchMethod","params":[1,2,3],"id":1}"#,
            r#"[{"jsonrpc":"2.0","method":"system_health","id":1},{"jsonrpc":"2.0","method":"chain_getBlock","params":[2],"id":2}]"#,
        ] {
            assert_eq!(check(body.as_bytes(), &arity()), Ok(()), "{body}");
        }
    }

    #[test]
    fn ids_jsonrpsee_cannot_answer_get_an_error_with_a_null_id() {
        for id in ["-1", "1.5", "18446744073709551616", "{}", "[1]", "true"] {
            let a = answer(&format!(
                r#"{{"jsonrpc":"2.0","method":"system_health","id":{id}}}"#
            ));
            assert_eq!(a["error"]["code"], INVALID_REQUEST, "{id}");
            assert_eq!(a["id"], Value::Null);
            assert!(a["error"]["message"].as_str().unwrap().contains("id"));
        }
    }

    #[test]
    fn extra_and_unknown_parameters_are_refused() {
        let a = answer(r#"{"jsonrpc":"2.0","method":"system_health","params":[1],"id":7}"#);
        assert_eq!(a["error"]["code"], INVALID_PARAMS);
        assert_eq!(a["id"], 7);
        let a = answer(r#"{"jsonrpc":"2.0","method":"chain_getBlock","params":[1,true,3],"id":7}"#);
        assert!(
            a["error"]["message"]
                .as_str()
                .unwrap()
                .contains("at most 2")
        );
        let a = answer(
            r#"{"jsonrpc":"2.0","method":"chain_getBlock","params":{"height":1,"full":true},"id":"x"}"#,
        );
        assert_eq!(a["error"]["code"], INVALID_PARAMS);
        assert!(a["error"]["message"].as_str().unwrap().contains("full"));
        assert_eq!(a["id"], "x");
    }

    #[test]
    fn malformed_envelopes_are_invalid_requests() {
        for body in [
            r#"{"method":"system_health","id":1}"#,
            r#"{"jsonrpc":"1.0","method":"system_health","id":1}"#,
            r#"{"jsonrpc":"2.0","method":5,"id":1}"#,
            r#"{"jsonrpc":"2.0","method":"system_health","params":"x","id":1}"#,
            r#"{"jsonrpc":"2.0","method":"system_health","id":1,"extra":0}"#,
            "[]",
            "5",
            r#""a""#,
        ] {
            assert_eq!(answer(body)["error"]["code"], INVALID_REQUEST, "{body}");
        }
        for body in ["", "{", "nope", r#"{"jsonrpc":"2.0"} x"#] {
            assert_eq!(answer(body)["error"]["code"], PARSE_ERROR, "{body}");
        }
    }

    #[test]
    fn a_batch_with_one_bad_call_runs_none() {
        let a = answer(
            r#"[{"jsonrpc":"2.0","method":"system_health","id":1},{"jsonrpc":"2.0","method":"system_health","id":-1}]"#,
        );
        let calls = a.as_array().unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0]["id"], 1);
        assert!(
            calls[0]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("call 1")
        );
        assert_eq!(calls[1]["id"], Value::Null);
    }
}
