//! The OpenRPC document served at `rpc.discover`, and the reference in
//! `docs/RPC.md` rendered from it.
//!
//! One table, [`methods`], names every method with its parameters, the
//! Rust type of its answer and the error codes it can return. Every schema
//! is derived from the type the server serializes ([`schemars`], the
//! derives in [`crate::types`] and the runtime), so the document cannot
//! drift from the answers: `node/tests/openrpc_live.rs` checks every
//! method's live answer against it. Schemas are JSON Schema draft 7 (what
//! OpenRPC 1.2.6 uses), shared types under `#/components/schemas`.
//!
//! [`reference`] renders the same document as Markdown; a test keeps the
//! committed `docs/RPC.md` equal to it (`PANTHEON_WRITE_DOCS=1` rewrites
//! it), so the reference a stranger reads is the document a client
//! fetches.
//!
//! Subscriptions (WebSocket only) have no OpenRPC form: their entry's
//! result is the notification's item, and the extension member
//! `x-subscription` names the notification and the unsubscribe method.

use std::fmt::Write as _;

use pantheon_runtime::audit::{Checkpoint, LogConsistency, SupplyProof};
use pantheon_runtime::proof::ProofBundle;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::error::{codes, meaning};
use crate::types::{
    AccountStateInfo, AnchorEngineStatus, AnchorInfo, BalanceInfo, BlockInfo, BlockTxPage,
    ExportPage, GenesisInfo, HeaderInfo, Health, OperatorInfo, OperatorProof, PeerInfo, Receipt,
    RelayAuth, RelayReport, SubmissionInfo, SupplyInfo, TxReceipt, VersionInfo,
};

const HASH: &str = "^[0-9a-f]{64}$";
const HEX: &str = "^([0-9a-f]{2})*$";

/// JSON-RPC 2.0's invalid params, which every method can answer.
const INVALID_PARAMS: i32 = -32602;

/// One parameter.
struct Param {
    name: &'static str,
    required: bool,
    description: &'static str,
    schema: Schema,
}

/// One method: what `rpc.discover` lists.
struct Method {
    name: &'static str,
    summary: &'static str,
    params: Vec<Param>,
    /// The result's name and schema.
    result: (&'static str, Schema),
    /// The codes it can answer besides invalid params and internal.
    errors: &'static [i32],
    /// A subscription's notification and unsubscribe method.
    subscription: Option<(&'static str, &'static str)>,
}

fn string(pattern: &str) -> Schema {
    schemars::json_schema!({ "type": "string", "pattern": pattern })
}

fn hash(name: &'static str, description: &'static str) -> Param {
    Param {
        name,
        required: true,
        description,
        schema: string(HASH),
    }
}

fn hex(name: &'static str, description: &'static str) -> Param {
    Param {
        name,
        required: true,
        description,
        schema: string(HEX),
    }
}

fn required<T: JsonSchema>(
    g: &mut SchemaGenerator,
    name: &'static str,
    description: &'static str,
) -> Param {
    Param {
        name,
        required: true,
        description,
        schema: g.subschema_for::<T>(),
    }
}

fn optional<T: JsonSchema>(
    g: &mut SchemaGenerator,
    name: &'static str,
    description: &'static str,
) -> Param {
    Param {
        name,
        required: false,
        description,
        schema: g.subschema_for::<T>(),
    }
}

fn result<T: JsonSchema>(g: &mut SchemaGenerator, name: &'static str) -> (&'static str, Schema) {
    (name, g.subschema_for::<T>())
}

const HASH_ERRORS: &[i32] = &[codes::NOT_HEX, codes::WRONG_LENGTH];
const LOOKUP_ERRORS: &[i32] = &[codes::NOT_HEX, codes::WRONG_LENGTH, codes::NOT_FOUND];
const OPERATOR_ERRORS: &[i32] = &[
    codes::NOT_HEX,
    codes::WRONG_LENGTH,
    codes::UNKNOWN_OPERATOR,
    codes::NOT_FOUND,
];

/// Every method, in the order `rpc.discover` lists them.
#[allow(clippy::too_many_lines)] // one table
fn methods(g: &mut SchemaGenerator) -> Vec<Method> {
    let embed = "carry the genesis header, for verifiers without the network's genesis file \
                 (default true)";
    vec![
        Method {
            name: "pantheon_submitRoot",
            summary: "Accept a signed root submission (idempotent on operator, seq and root); \
                      the answer is durable before it is sent",
            params: vec![hex(
                "submission_hex",
                "the signed SubmitRoot transaction (docs/FORMATS.md 5.4)",
            )],
            result: result::<Receipt>(g, "Receipt"),
            errors: &[
                codes::NOT_HEX,
                codes::DECODE,
                codes::WRONG_KIND,
                codes::BAD_SIGNATURE,
                codes::UNKNOWN_OPERATOR,
                codes::SEQ_REUSED,
                codes::SEQ_GAP,
                codes::WRONG_PREV,
                codes::SUBMISSION_CONFLICT,
                codes::MEMPOOL_FULL,
                codes::OPERATOR_QUEUE_FULL,
            ],
            subscription: None,
        },
        Method {
            name: "pantheon_getSubmission",
            summary: "A submission's status and where it sits",
            params: vec![hash("id", "submission id")],
            result: result::<SubmissionInfo>(g, "SubmissionInfo"),
            errors: LOOKUP_ERRORS,
            subscription: None,
        },
        Method {
            name: "pantheon_getProof",
            summary: "The proof bundle (version 2, docs/FORMATS.md 22) of a finalized \
                      submission, with its anchor part once anchored",
            params: vec![
                hash("id", "submission id"),
                optional::<bool>(g, "embed_genesis", embed),
            ],
            result: result::<ProofBundle>(g, "ProofBundle"),
            errors: &[
                codes::NOT_HEX,
                codes::WRONG_LENGTH,
                codes::NOT_FOUND,
                codes::NOT_FINALIZED,
            ],
            subscription: None,
        },
        Method {
            name: "pantheon_findRoot",
            summary: "The submissions that carry an audit root",
            params: vec![hash("root", "audit root")],
            result: result::<Vec<SubmissionInfo>>(g, "SubmissionInfoList"),
            errors: HASH_ERRORS,
            subscription: None,
        },
        Method {
            name: "pantheon_getOperator",
            summary: "A registered operator: key, next seq, last submission, balance",
            params: vec![hash("operator_id", "operator id")],
            result: result::<OperatorInfo>(g, "OperatorInfo"),
            errors: &[codes::NOT_HEX, codes::WRONG_LENGTH, codes::UNKNOWN_OPERATOR],
            subscription: None,
        },
        Method {
            name: "pantheon_getSubmissionAt",
            summary: "An operator's submission by sequence number: finalized, or waiting in \
                      this node's mempool",
            params: vec![
                hash("operator_id", "operator id"),
                required::<u64>(g, "seq", "sequence number, from 0"),
            ],
            result: result::<SubmissionInfo>(g, "SubmissionInfo"),
            errors: OPERATOR_ERRORS,
            subscription: None,
        },
        Method {
            name: "pantheon_getOperatorProof",
            summary: "An operator's state record (next seq, last submission) after the block \
                      of one of its finalized submissions, with its proof against that \
                      block's state root (docs/FORMATS.md 7.4)",
            params: vec![
                hash("operator_id", "operator id"),
                optional::<u64>(
                    g,
                    "seq",
                    "the submission whose block to prove the state at (default: the latest \
                     finalized)",
                ),
            ],
            result: result::<OperatorProof>(g, "OperatorProof"),
            errors: OPERATOR_ERRORS,
            subscription: None,
        },
        Method {
            name: "pantheon_exportOperator",
            summary: "One page of an operator export (docs/FORMATS.md 25): its anchored \
                      submissions from from_seq with their bundles and the state record that \
                      proves the page complete; follow next_from for the rest",
            params: vec![
                hash("operator_id", "operator id"),
                optional::<u64>(g, "from_seq", "first sequence number (default 0)"),
                optional::<u64>(
                    g,
                    "max",
                    "submissions per page (default and limit 64; a page ends at the last \
                     submission of a block)",
                ),
            ],
            result: result::<ExportPage>(g, "ExportPage"),
            errors: OPERATOR_ERRORS,
            subscription: None,
        },
        Method {
            name: "pantheon_submitTransaction",
            summary: "Accept a transfer or an operator registration",
            params: vec![hex("tx_hex", "the signed transaction (docs/FORMATS.md 5)")],
            result: result::<TxReceipt>(g, "TxReceipt"),
            errors: &[
                codes::NOT_HEX,
                codes::DECODE,
                codes::WRONG_KIND,
                codes::BAD_SIGNATURE,
                codes::INSUFFICIENT_FUNDS,
                codes::BAD_NONCE,
                codes::UNKNOWN_ACCOUNT,
                codes::ALREADY_REGISTERED,
                codes::OVERFLOW,
                codes::UNKNOWN_VALIDATOR,
                codes::BAD_ANCHOR_RECORD,
                codes::ANCHOR_ALREADY_RECORDED,
                codes::MEMPOOL_FULL,
            ],
            subscription: None,
        },
        Method {
            name: "pantheon_relayTransactions",
            summary: "Node to node: queue transactions that another node's clients submitted \
                      (not relayed further); accepted only from the peer ids in the node's \
                      [relay] accept_from",
            params: vec![
                Param {
                    name: "txs_hex",
                    required: true,
                    description: "signed transactions (docs/FORMATS.md 5), at most the \
                                  request size limit",
                    schema: schemars::json_schema!({ "type": "array",
                                                     "items": { "type": "string", "pattern": HEX } }),
                },
                required::<RelayAuth>(
                    g,
                    "auth",
                    "the sending node's Ed25519 libp2p key and its signature over the batch \
                     (docs/FORMATS.md 27)",
                ),
            ],
            result: result::<RelayReport>(g, "RelayReport"),
            errors: &[codes::NOT_HEX, codes::RELAY_REFUSED],
            subscription: None,
        },
        Method {
            name: "anchor_status",
            summary: "The node's anchoring: Bitcoin network, address to fund, balance, pending \
                      and confirmed anchors, last error (null when the node does not anchor)",
            params: vec![],
            result: result::<Option<AnchorEngineStatus>>(g, "AnchorStatus"),
            errors: &[],
            subscription: None,
        },
        Method {
            name: "chain_getHead",
            summary: "The latest finalized header and its commit certificate",
            params: vec![],
            result: result::<HeaderInfo>(g, "HeaderInfo"),
            errors: &[codes::NOT_FOUND],
            subscription: None,
        },
        Method {
            name: "chain_getBlock",
            summary: "A finalized block with its certificate and transaction ids (and, if \
                      asked and at most 256, its transactions)",
            params: vec![
                required::<u64>(g, "height", "block height, from 1"),
                optional::<bool>(
                    g,
                    "include_txs",
                    "true: the transactions too, if the block holds at most 256 (else error \
                     1042: use chain_getBlockTransactions); default false, ids only",
                ),
            ],
            result: result::<BlockInfo>(g, "BlockInfo"),
            errors: &[codes::NOT_FOUND, codes::TOO_LARGE],
            subscription: None,
        },
        Method {
            name: "chain_getBlockTransactions",
            summary: "One page of a finalized block's transactions (hex, in block order)",
            params: vec![
                required::<u64>(g, "height", "block height, from 1"),
                optional::<u32>(g, "offset", "index of the first transaction (default 0)"),
                optional::<u32>(g, "limit", "transactions per page, 1 to 256 (default 256)"),
            ],
            result: result::<BlockTxPage>(g, "BlockTxPage"),
            errors: &[codes::NOT_FOUND, codes::TOO_LARGE],
            subscription: None,
        },
        Method {
            name: "chain_subscribeFinalized",
            summary: "WebSocket subscription to finalized headers with their certificates",
            params: vec![],
            result: result::<HeaderInfo>(g, "HeaderInfo"),
            errors: &[],
            subscription: Some(("chain_finalized", "chain_unsubscribeFinalized")),
        },
        Method {
            name: "pantheon_subscribeSubmission",
            summary: "WebSocket subscription to one submission's status changes, the current \
                      status first: received, finalized, anchored, finalized again after a \
                      Bitcoin reorg",
            params: vec![hash("id", "submission id")],
            result: result::<SubmissionInfo>(g, "SubmissionInfo"),
            errors: LOOKUP_ERRORS,
            subscription: Some(("pantheon_submission", "pantheon_unsubscribeSubmission")),
        },
        Method {
            name: "pantheon_subscribeOperator",
            summary: "WebSocket subscription to the status changes of an operator's finalized \
                      submissions from from_seq on, among its latest 256, the current ones \
                      first",
            params: vec![
                hash("operator_id", "operator id"),
                optional::<u64>(
                    g,
                    "from_seq",
                    "first sequence number (default: the operator's next)",
                ),
            ],
            result: result::<SubmissionInfo>(g, "SubmissionInfo"),
            errors: &[codes::NOT_HEX, codes::WRONG_LENGTH, codes::UNKNOWN_OPERATOR],
            subscription: Some(("pantheon_operator", "pantheon_unsubscribeOperator")),
        },
        Method {
            name: "pan_getBalance",
            summary: "An account's PAN balance and nonce (zero for an account never seen)",
            params: vec![hash("account", "account id")],
            result: result::<BalanceInfo>(g, "BalanceInfo"),
            errors: HASH_ERRORS,
            subscription: None,
        },
        Method {
            name: "pan_getSupply",
            summary: "The node's own audit of the fixed supply at the newest block: the sum \
                      of all balances equals 5,000,000,000 PAN (for a proof, \
                      pan_getSupplyProof)",
            params: vec![],
            result: result::<SupplyInfo>(g, "SupplyInfo"),
            errors: &[],
            subscription: None,
        },
        Method {
            name: "pan_getSupplyProof",
            summary: "The supply audit at a height as a proof: every account record, \
                      rebuilding that block's certified state root and summing to the fixed \
                      supply (docs/FORMATS.md 28.2); `pantheon verify` checks it offline",
            params: vec![
                optional::<u64>(g, "height", "block height (default: the newest)"),
                optional::<bool>(g, "embed_genesis", embed),
            ],
            result: result::<SupplyProof>(g, "SupplyProof"),
            errors: &[codes::NOT_FOUND, codes::TOO_LARGE],
            subscription: None,
        },
        Method {
            name: "log_getCheckpoint",
            summary: "The submission log's size and root after a block, certified by that \
                      block's validators (docs/FORMATS.md 28.3)",
            params: vec![
                optional::<u64>(g, "height", "block height (default: the newest)"),
                optional::<bool>(g, "embed_genesis", embed),
            ],
            result: result::<Checkpoint>(g, "Checkpoint"),
            errors: &[codes::NOT_FOUND],
            subscription: None,
        },
        Method {
            name: "log_getConsistencyProof",
            summary: "An RFC 9162 consistency proof between two log sizes, each the size after \
                      a certified block (docs/FORMATS.md 28.4): the newer log extends the \
                      older one",
            params: vec![
                required::<u64>(
                    g,
                    "old_size",
                    "the older log size (a size some block ends at)",
                ),
                required::<u64>(
                    g,
                    "new_size",
                    "the newer log size (a size some block ends at)",
                ),
                optional::<bool>(g, "embed_genesis", embed),
            ],
            result: result::<LogConsistency>(g, "LogConsistency"),
            errors: &[codes::NOT_FOUND],
            subscription: None,
        },
        Method {
            name: "anchor_list",
            summary: "Bitcoin anchors recorded on chain with ids in from..=to (at most 1,000)",
            params: vec![
                required::<u64>(g, "from", "first anchor id"),
                required::<u64>(g, "to", "last anchor id"),
            ],
            result: result::<Vec<AnchorInfo>>(g, "AnchorInfoList"),
            errors: &[],
            subscription: None,
        },
        Method {
            name: "anchor_get",
            summary: "One Bitcoin anchor recorded on chain",
            params: vec![required::<u64>(g, "id", "anchor id")],
            result: result::<AnchorInfo>(g, "AnchorInfo"),
            errors: &[codes::NOT_FOUND],
            subscription: None,
        },
        Method {
            name: "system_health",
            summary: "Height, sync state, peers, mempool, equivocation evidence and warnings",
            params: vec![],
            result: result::<Health>(g, "Health"),
            errors: &[],
            subscription: None,
        },
        Method {
            name: "system_peers",
            summary: "Connected peers",
            params: vec![],
            result: result::<Vec<PeerInfo>>(g, "PeerInfoList"),
            errors: &[],
            subscription: None,
        },
        Method {
            name: "system_version",
            summary: "Node version, genesis hash and chain id",
            params: vec![],
            result: result::<VersionInfo>(g, "VersionInfo"),
            errors: &[],
            subscription: None,
        },
        Method {
            name: "chain_getGenesis",
            summary: "The network's genesis hash and header (base64, docs/FORMATS.md 11.3)",
            params: vec![],
            result: result::<GenesisInfo>(g, "GenesisInfo"),
            errors: &[],
            subscription: None,
        },
        Method {
            name: "pantheon_getAccountState",
            summary: "An account's record in the newest block's state with its proof, and \
                      that block's header and certificate (receipt evidence, docs/FORMATS.md \
                      26.4)",
            params: vec![hash("account", "account id")],
            result: result::<AccountStateInfo>(g, "AccountStateInfo"),
            errors: HASH_ERRORS,
            subscription: None,
        },
        Method {
            name: "rpc.discover",
            summary: "This document (OpenRPC 1.2.6)",
            params: vec![],
            result: (
                "OpenRPC",
                schemars::json_schema!({
                    "type": "object",
                    "required": ["openrpc", "info", "methods"],
                    "description": "An OpenRPC 1.2.6 document (https://spec.open-rpc.org)"
                }),
            ),
            errors: &[],
            subscription: None,
        },
    ]
}

fn error_object(code: i32) -> Value {
    json!({ "code": code, "message": meaning(code).unwrap_or("see docs/RPC.md") })
}

/// The OpenRPC 1.2.6 document describing every method (built once).
#[must_use]
pub fn document() -> Value {
    static DOCUMENT: std::sync::LazyLock<Value> = std::sync::LazyLock::new(build);
    DOCUMENT.clone()
}

fn build() -> Value {
    let mut g = SchemaSettings::draft07()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        // Answers as the node writes them: a member serde always writes
        // (`null` or not) is required.
        .for_serialize()
        .into_generator();
    let methods: Vec<Value> = methods(&mut g)
        .into_iter()
        .map(|m| {
            let params: Vec<Value> = m
                .params
                .into_iter()
                .map(|p| {
                    json!({ "name": p.name, "required": p.required,
                            "description": p.description, "schema": p.schema })
                })
                .collect();
            let mut errors: Vec<Value> = m.errors.iter().map(|&c| error_object(c)).collect();
            errors.push(error_object(INVALID_PARAMS));
            errors.push(error_object(codes::INTERNAL));
            let mut method = json!({
                "name": m.name,
                "summary": m.summary,
                "params": params,
                "result": { "name": m.result.0, "schema": m.result.1 },
                "errors": errors,
            });
            if let Some((notification, unsubscribe)) = m.subscription {
                method["x-subscription"] = json!({
                    "notification": notification,
                    "unsubscribe": unsubscribe,
                    "note": "WebSocket only: the call answers a subscription id; each \
                             notification's result is the schema above"
                });
            }
            method
        })
        .collect();
    let schemas: Map<String, Value> = g.take_definitions(true);
    json!({
        "openrpc": "1.2.6",
        "info": {
            "title": "Pantheon JSON-RPC",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Byte strings are lower-case hex unless a schema says base64; \
                            amounts are decimal strings of 10^-9 PAN. Errors carry stable \
                            codes, listed per method; a code, once published, keeps its \
                            meaning. The reference: docs/RPC.md."
        },
        "methods": methods,
        "components": { "schemas": schemas }
    })
}

/// `docs/RPC.md`: the reference rendered from `document` (the value of
/// [`document`] or a live node's `rpc.discover`).
#[must_use]
pub fn reference(document: &Value) -> String {
    let mut out = String::new();
    let version = document["info"]["version"].as_str().unwrap_or("?");
    let _ = writeln!(
        out,
        "# Pantheon JSON-RPC reference\n\n\
         <!-- Generated from `rpc.discover` by rpc/src/openrpc.rs; do not edit. \
         `PANTHEON_WRITE_DOCS=1 cargo test -p pantheon-rpc` rewrites it. -->\n\n\
         Version {version}. Every method is JSON-RPC 2.0 over HTTP `POST /` and over \
         WebSocket on the same port; subscriptions are WebSocket only. Parameters are given \
         by position or by name; a missing required, an extra or an unknown parameter is \
         refused with -32602. {}\n\n\
         The machine-readable form of this page is the OpenRPC document a node answers to \
         `rpc.discover`; every schema below is derived from the Rust type the node \
         serializes, and a test checks every method's live answer against it.\n",
        document["info"]["description"].as_str().unwrap_or("")
    );
    out.push_str("## Methods\n\n| method | summary |\n|---|---|\n");
    let methods = document["methods"].as_array().cloned().unwrap_or_default();
    for m in &methods {
        let name = m["name"].as_str().unwrap_or("?");
        let _ = writeln!(
            out,
            "| [`{name}`](#{}) | {} |",
            anchor(name),
            cell(m["summary"].as_str().unwrap_or(""))
        );
    }
    for m in &methods {
        render_method(&mut out, m);
    }
    out.push_str("\n## Types\n");
    if let Some(schemas) = document["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            render_type(&mut out, name, schema);
        }
    }
    out.push_str("\n## Error codes\n\n| code | meaning |\n|---|---|\n");
    for (code, text) in crate::error::MEANINGS {
        let _ = writeln!(out, "| {code} | {} |", cell(text));
    }
    out
}

fn render_method(out: &mut String, m: &Value) {
    let name = m["name"].as_str().unwrap_or("?");
    let _ = writeln!(
        out,
        "\n### `{name}`\n\n{}.\n",
        m["summary"].as_str().unwrap_or("")
    );
    if let Some(sub) = m.get("x-subscription") {
        let _ = writeln!(
            out,
            "WebSocket subscription: the call answers a subscription id; notifications \
             `{}` carry the result below; unsubscribe with `{}`.\n",
            sub["notification"].as_str().unwrap_or("?"),
            sub["unsubscribe"].as_str().unwrap_or("?")
        );
    }
    let params = m["params"].as_array().cloned().unwrap_or_default();
    if params.is_empty() {
        out.push_str("Parameters: none.\n\n");
    } else {
        out.push_str("| parameter | required | type | description |\n|---|---|---|---|\n");
        for p in &params {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                p["name"].as_str().unwrap_or("?"),
                if p["required"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                },
                type_of(&p["schema"]),
                cell(p["description"].as_str().unwrap_or(""))
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "Result: {}\n", type_of(&m["result"]["schema"]));
    out.push_str("Errors:\n\n");
    for e in m["errors"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "- `{}` {}",
            e["code"],
            e["message"].as_str().unwrap_or("")
        );
    }
}

fn render_type(out: &mut String, name: &str, schema: &Value) {
    let _ = writeln!(out, "\n### {name}\n");
    if let Some(d) = schema["description"].as_str() {
        let _ = writeln!(out, "{}\n", d.replace('\n', " "));
    }
    if let Some(props) = schema["properties"].as_object() {
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        out.push_str("| field | type | always present | description |\n|---|---|---|---|\n");
        for (field, s) in props {
            let _ = writeln!(
                out,
                "| `{field}` | {} | {} | {} |",
                type_of(s),
                if required.contains(&field.as_str()) {
                    "yes"
                } else {
                    "no"
                },
                cell(s["description"].as_str().unwrap_or(""))
            );
        }
        return;
    }
    let variants = schema["oneOf"].as_array().or(schema["anyOf"].as_array());
    if let Some(variants) = variants {
        out.push_str("One of:\n\n");
        for v in variants {
            let _ = writeln!(
                out,
                "- {}{}",
                type_of(v),
                v["description"]
                    .as_str()
                    .map(|d| format!(": {}", d.replace('\n', " ")))
                    .unwrap_or_default()
            );
        }
        return;
    }
    let _ = writeln!(out, "Type: {}", type_of(schema));
}

/// A schema in a few words: `$ref`s become links, patterns are shown.
fn type_of(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("[{name}](#{})", anchor(name));
    }
    if let Some(c) = schema.get("const") {
        return format!("`{c}`");
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
        return format!("one of {}", values.join(", "));
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(variants) = schema[key].as_array() {
            let parts: Vec<String> = variants.iter().map(type_of).collect();
            return parts.join(" or ");
        }
    }
    if let Some(all) = schema["allOf"].as_array()
        && all.len() == 1
    {
        return type_of(&all[0]);
    }
    let kinds: Vec<String> = match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => vec![],
    };
    let kinds: Vec<String> = kinds
        .into_iter()
        .map(|k| match k.as_str() {
            "array" => format!("array of {}", type_of(&schema["items"])),
            "string" => {
                let mut s = "string".to_owned();
                if schema["contentEncoding"].as_str() == Some("base64") {
                    s.push_str(" (base64)");
                } else if let Some(p) = schema["pattern"].as_str() {
                    let _ = write!(s, " `{}`", p.replace('|', "\\|"));
                }
                s
            }
            "integer" => {
                let mut s = "integer".to_owned();
                if let Some(f) = schema["format"].as_str() {
                    let _ = write!(s, " ({f})");
                }
                s
            }
            _ => k,
        })
        .collect();
    if kinds.is_empty() {
        "any".to_owned()
    } else {
        kinds.join(" or ")
    }
}

/// The GitHub-style anchor of a heading.
fn anchor(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            ' ' => Some('-'),
            _ => None,
        })
        .collect()
}

/// Text fit for a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_result_and_parameter_schema_is_typed_and_resolves() {
        let doc = document();
        let schemas = doc["components"]["schemas"]
            .as_object()
            .expect("components");
        let text = doc.to_string();
        for r in text.split("\"$ref\":\"").skip(1) {
            let target = r.split('"').next().expect("a ref");
            let name = target
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("ref outside components: {target}"));
            assert!(schemas.contains_key(name), "dangling ref {target}");
        }
        for m in doc["methods"].as_array().expect("methods") {
            let result = &m["result"]["schema"];
            assert!(
                result.get("$ref").is_some()
                    || result.get("type").is_some()
                    || result.get("anyOf").is_some(),
                "{}: untyped result {result}",
                m["name"]
            );
            assert!(
                m["errors"].as_array().is_some_and(|e| !e.is_empty()),
                "{}: no errors listed",
                m["name"]
            );
            for e in m["errors"].as_array().into_iter().flatten() {
                let code = i32::try_from(e["code"].as_i64().expect("a code")).expect("i32");
                assert!(
                    meaning(code).is_some(),
                    "{}: code {code} has no meaning",
                    m["name"]
                );
            }
        }
        // The answers' main shapes are objects with named fields, not `{"type":"object"}`.
        for name in [
            "SubmissionInfo",
            "Receipt",
            "HeaderInfo",
            "SupplyProof",
            "Health",
        ] {
            let props = schemas[name]["properties"].as_object();
            assert!(props.is_some_and(|p| p.len() > 2), "{name} has no fields");
        }
    }

    #[test]
    fn docs_rpc_md_is_the_rendered_document() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/RPC.md");
        let rendered = reference(&document());
        if std::env::var_os("PANTHEON_WRITE_DOCS").is_some() {
            std::fs::write(path, &rendered).expect("write docs/RPC.md");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == rendered,
            "docs/RPC.md is stale: run PANTHEON_WRITE_DOCS=1 cargo test -p pantheon-rpc --lib openrpc"
        );
    }
}
