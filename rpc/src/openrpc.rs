//! The OpenRPC document served at `rpc.discover`.

use serde_json::{Value, json};

const HASH: &str = "^[0-9a-f]{64}$";
const HEX: &str = "^([0-9a-f]{2})*$";

fn hex_param(name: &str, pattern: &str, description: &str) -> Value {
    json!({ "name": name, "required": true, "description": description,
            "schema": { "type": "string", "pattern": pattern } })
}

fn int_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "required": true, "description": description,
            "schema": { "type": "integer", "minimum": 0 } })
}

fn method(name: &str, summary: &str, params: &[Value], result: &str) -> Value {
    json!({ "name": name, "summary": summary, "params": params,
            "result": { "name": result, "schema": { "$ref": format!("#/components/schemas/{result}") } } })
}

/// The OpenRPC 1.2.6 document describing every method.
#[must_use]
pub fn document() -> Value {
    let methods = vec![
        method(
            "pantheon_submitRoot",
            "Accept a signed root submission (idempotent on operator, seq and root)",
            &[hex_param(
                "submission_hex",
                HEX,
                "the signed SubmitRoot transaction (docs/FORMATS.md 5.4)",
            )],
            "Receipt",
        ),
        method(
            "pantheon_getSubmission",
            "A submission's status and where it sits",
            &[hex_param("id", HASH, "submission id")],
            "SubmissionInfo",
        ),
        method(
            "pantheon_getProof",
            "The proof bundle (version 2) of a finalized submission",
            &[
                hex_param("id", HASH, "submission id"),
                json!({ "name": "embed_genesis", "required": false,
                        "description": "also carry the genesis header, for verifiers without the network's genesis file (default false)",
                        "schema": { "type": "boolean" } }),
            ],
            "ProofBundle",
        ),
        method(
            "pantheon_findRoot",
            "The submissions that carry an audit root",
            &[hex_param("root", HASH, "audit root")],
            "SubmissionInfoList",
        ),
        method(
            "pantheon_getOperator",
            "A registered operator: key, next seq, last submission, balance",
            &[hex_param("operator_id", HASH, "operator id")],
            "OperatorInfo",
        ),
        method(
            "pantheon_getSubmissionAt",
            "An operator's submission by sequence number: finalized, or waiting in this node's mempool",
            &[
                hex_param("operator_id", HASH, "operator id"),
                int_param("seq", "sequence number, from 0"),
            ],
            "SubmissionInfo",
        ),
        json!({ "name": "pantheon_getOperatorProof",
                "summary": "An operator's state record (next seq, last submission) after the block of one of its finalized submissions, with its proof against that block's state root (docs/FORMATS.md 7.4)",
                "params": [hex_param("operator_id", HASH, "operator id"),
                           { "name": "seq", "required": false, "description": "the submission whose block to prove the state at (default: the latest finalized)",
                             "schema": { "type": "integer", "minimum": 0 } }],
                "result": { "name": "OperatorProof", "schema": { "$ref": "#/components/schemas/OperatorProof" } } }),
        json!({ "name": "pantheon_exportOperator",
                "summary": "One page of an operator export (docs/FORMATS.md 25): its anchored submissions from from_seq with their bundles and the state record that proves the page complete; follow next_from for the rest",
                "params": [hex_param("operator_id", HASH, "operator id"),
                           { "name": "from_seq", "required": false, "description": "first sequence number (default 0)",
                             "schema": { "type": "integer", "minimum": 0 } },
                           { "name": "max", "required": false, "description": "submissions per page (default and limit 64; a page ends at the last submission of a block)",
                             "schema": { "type": "integer", "minimum": 1, "maximum": 64 } }],
                "result": { "name": "ExportPage", "schema": { "$ref": "#/components/schemas/ExportPage" } } }),
        method(
            "pantheon_submitTransaction",
            "Accept a transfer or an operator registration",
            &[hex_param(
                "tx_hex",
                HEX,
                "the signed transaction (docs/FORMATS.md 5)",
            )],
            "TxReceipt",
        ),
        json!({ "name": "pantheon_relayTransactions",
                "summary": "Node to node: queue transactions that another node's clients submitted (not relayed further); accepted only from the peer ids in the node's [relay] accept_from (error 1050 otherwise)",
                "params": [{ "name": "txs_hex", "required": true,
                             "description": "signed transactions (docs/FORMATS.md 5), at most the request size limit",
                             "schema": { "type": "array", "items": { "type": "string", "pattern": HEX } } },
                           { "name": "auth", "required": true,
                             "description": "the sending node's Ed25519 libp2p key and its signature over the batch (docs/FORMATS.md 27)",
                             "schema": { "type": "object", "required": ["key", "time_ms", "signature"],
                                         "properties": { "key": { "type": "string", "pattern": "^[0-9a-f]{64}$" },
                                                         "time_ms": { "type": "integer", "minimum": 0 },
                                                         "signature": { "type": "string", "pattern": "^[0-9a-f]{128}$" } } } }],
                "result": { "name": "RelayReport", "schema": { "$ref": "#/components/schemas/RelayReport" } } }),
        json!({ "name": "anchor_status",
                "summary": "The node's anchoring: Bitcoin network, address to fund, balance, pending and confirmed anchors, last error (null when the node does not anchor)",
                "params": [],
                "result": { "name": "AnchorStatus", "schema": { "type": ["object", "null"] } } }),
        method(
            "chain_getHead",
            "The latest finalized header and its commit certificate",
            &[],
            "HeaderInfo",
        ),
        method(
            "chain_getBlock",
            "A finalized block with its certificate and transaction ids (and, if asked and at most 256, its transactions)",
            &[
                int_param("height", "block height, from 1"),
                json!({ "name": "include_txs", "required": false,
                        "description": "true: the transactions too, if the block holds at most 256 (else error 1042: use chain_getBlockTransactions); default false, ids only",
                        "schema": { "type": "boolean" } }),
            ],
            "BlockInfo",
        ),
        method(
            "chain_getBlockTransactions",
            "One page of a finalized block's transactions (hex, in block order)",
            &[
                int_param("height", "block height, from 1"),
                json!({ "name": "offset", "required": false,
                        "description": "index of the first transaction (default 0)",
                        "schema": { "type": "integer", "minimum": 0 } }),
                json!({ "name": "limit", "required": false,
                        "description": "transactions per page, 1 to 256 (default 256)",
                        "schema": { "type": "integer", "minimum": 1, "maximum": 256 } }),
            ],
            "BlockTxPage",
        ),
        json!({ "name": "chain_subscribeFinalized", "summary": "WebSocket subscription to finalized headers (notifications: chain_finalized; unsubscribe: chain_unsubscribeFinalized)",
                "params": [], "result": { "name": "HeaderInfo", "schema": { "$ref": "#/components/schemas/HeaderInfo" } } }),
        json!({ "name": "pantheon_subscribeSubmission", "summary": "WebSocket subscription to one submission's status changes, the current status first: received, finalized, anchored, finalized again after a Bitcoin reorg (notifications: pantheon_submission; unsubscribe: pantheon_unsubscribeSubmission)",
                "params": [{ "name": "id", "required": true, "description": "submission id", "schema": { "type": "string", "pattern": HASH } }],
                "result": { "name": "SubmissionInfo", "schema": { "$ref": "#/components/schemas/SubmissionInfo" } } }),
        json!({ "name": "pantheon_subscribeOperator", "summary": "WebSocket subscription to the status changes of an operator's finalized submissions from from_seq on, among its latest 256 (notifications: pantheon_operator, each a SubmissionInfo; unsubscribe: pantheon_unsubscribeOperator)",
                "params": [{ "name": "operator_id", "required": true, "description": "operator id", "schema": { "type": "string", "pattern": HASH } },
                           { "name": "from_seq", "required": false, "description": "first sequence number (default: the operator's next)", "schema": { "type": "integer", "minimum": 0 } }],
                "result": { "name": "SubmissionInfo", "schema": { "$ref": "#/components/schemas/SubmissionInfo" } } }),
        method(
            "pan_getBalance",
            "An account's PAN balance and nonce",
            &[hex_param("account", HASH, "account id")],
            "BalanceInfo",
        ),
        method(
            "pan_getSupply",
            "Audit of the fixed supply: the sum of all balances equals 5,000,000,000 PAN",
            &[],
            "SupplyInfo",
        ),
        json!({ "name": "pan_getSupplyProof",
                "summary": "The supply audit at a height as a proof: every account record, rebuilding that block's certified state root, summing to the fixed supply (docs/FORMATS.md 28.2)",
                "params": [{ "name": "height", "required": false, "description": "block height (default: the newest)", "schema": { "type": "integer", "minimum": 0 } },
                           { "name": "embed_genesis", "required": false, "description": "carry the genesis header (default true)", "schema": { "type": "boolean" } }],
                "result": { "name": "SupplyProof", "schema": { "$ref": "#/components/schemas/SupplyProof" } } }),
        json!({ "name": "log_getCheckpoint",
                "summary": "The submission log's size and root after a block, certified by that block's validators (docs/FORMATS.md 28.3)",
                "params": [{ "name": "height", "required": false, "description": "block height (default: the newest)", "schema": { "type": "integer", "minimum": 0 } },
                           { "name": "embed_genesis", "required": false, "description": "carry the genesis header (default true)", "schema": { "type": "boolean" } }],
                "result": { "name": "Checkpoint", "schema": { "$ref": "#/components/schemas/Checkpoint" } } }),
        json!({ "name": "log_getConsistencyProof",
                "summary": "An RFC 9162 consistency proof between two log sizes, each the size after a certified block (docs/FORMATS.md 28.4)",
                "params": [{ "name": "old_size", "required": true, "description": "the older log size", "schema": { "type": "integer", "minimum": 0 } },
                           { "name": "new_size", "required": true, "description": "the newer log size", "schema": { "type": "integer", "minimum": 0 } },
                           { "name": "embed_genesis", "required": false, "description": "carry the genesis header (default true)", "schema": { "type": "boolean" } }],
                "result": { "name": "LogConsistency", "schema": { "$ref": "#/components/schemas/LogConsistency" } } }),
        method(
            "anchor_list",
            "Bitcoin anchors with ids in from..=to",
            &[
                int_param("from", "first anchor id"),
                int_param("to", "last anchor id"),
            ],
            "AnchorInfoList",
        ),
        method(
            "anchor_get",
            "One Bitcoin anchor",
            &[int_param("id", "anchor id")],
            "AnchorInfo",
        ),
        method(
            "system_health",
            "Height, sync state, peers, mempool, equivocation evidence and warnings",
            &[],
            "Health",
        ),
        method("system_peers", "Connected peers", &[], "PeerInfoList"),
        method(
            "system_version",
            "Node version, genesis hash and chain id",
            &[],
            "VersionInfo",
        ),
        method(
            "chain_getGenesis",
            "The network's genesis hash and header (base64, docs/FORMATS.md 11.3)",
            &[],
            "GenesisInfo",
        ),
        method(
            "pantheon_getAccountState",
            "An account's record in the newest block's state with its proof, and that block's header and certificate (receipt evidence, docs/FORMATS.md 26.4)",
            &[hex_param("account", HASH, "account id")],
            "AccountStateInfo",
        ),
        method("rpc.discover", "This document", &[], "OpenRPC"),
    ];
    let object = json!({ "type": "object" });
    let array = json!({ "type": "array" });
    json!({
        "openrpc": "1.2.6",
        "info": {
            "title": "Pantheon JSON-RPC",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Byte strings are lower-case hex; amounts are decimal strings of 10^-9 PAN. Errors carry stable codes: 1001 not hex, 1002 wrong length, 1003 undecodable transaction, 1004 wrong transaction kind, 1010 bad signature, 1011 unknown operator, 1012 seq used with another root, 1013 seq gap, 1014 wrong prev, 1015 insufficient funds, 1016 bad nonce, 1017 unknown account, 1018 already registered, 1019 overflow, 1030 mempool full, 1031 operator queue full, 1040 not found, 1041 not finalized yet, 1099 internal."
        },
        "methods": methods,
        "components": { "schemas": {
            "Receipt": object, "SubmissionInfo": object, "SubmissionInfoList": array, "ProofBundle": object,
            "OperatorInfo": object, "OperatorProof": object, "ExportPage": object, "TxReceipt": object, "RelayReport": object, "HeaderInfo": object, "BlockInfo": object, "BlockTxPage": object,
            "BalanceInfo": object, "SupplyInfo": object, "AnchorInfo": object, "AnchorInfoList": array,
            "Health": object, "PeerInfoList": array, "VersionInfo": object, "OpenRPC": object,
            "GenesisInfo": object, "AccountStateInfo": object,
            "SupplyProof": object, "Checkpoint": object, "LogConsistency": object
        } }
    })
}
