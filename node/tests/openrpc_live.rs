//! The OpenRPC document against a live node: a `pantheon dev` network
//! anchoring to a real regtest bitcoind, with an operator, a transfer and
//! an anchored submission. Every method `rpc.discover` lists is called
//! over a real socket (subscriptions over WebSocket) and its answer must
//! validate against the method's result schema (closed: a member the
//! document does not name fails); each error a case
//! provokes must carry a code the method lists. The test fails if a
//! method has no case, and checks that the live document is the crate's
//! and that `docs/RPC.md` is its rendering.

#![allow(clippy::unwrap_used, clippy::too_many_lines, reason = "tests")]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use pantheon_runtime::amount::Amount;
use pantheon_runtime::codec::{Encode, decode_exact};
use pantheon_runtime::hash::GenesisHash;
use pantheon_runtime::tx::{SignedTx, Transfer, TxBody};
use serde_json::{Value, json};
use support::{DevNode, submit};

/// Every object schema with named members made closed: the published
/// document lets clients meet members added later, but here an answer
/// member the document does not name is a failure.
fn closed(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), json!(false));
            }
            map.values_mut().for_each(closed);
        }
        Value::Array(items) => items.iter_mut().for_each(closed),
        _ => {}
    }
}

/// A schema of the document, closed, with the document's components
/// beside it so that its `$ref`s resolve.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "allOf": [schema],
        "components": doc["components"],
    });
    closed(&mut root);
    jsonschema::draft7::new(&root).unwrap_or_else(|e| panic!("schema {schema}: {e}"))
}

fn check(doc: &Value, method: &Value, answer: &Value) {
    let name = method["name"].as_str().unwrap();
    let v = validator(doc, &method["result"]["schema"]);
    let errors: Vec<String> = v
        .iter_errors(answer)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{name}: the answer does not match its schema:\n{}\nanswer: {answer:#}",
        errors.join("\n")
    );
}

fn listed(method: &Value, code: i32) -> bool {
    method["errors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["code"].as_i64() == Some(i64::from(code)))
}

#[test]
fn every_method_answers_what_rpc_discover_says() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(&dir.path().join("dev"));
    let (key_path, key) = node.operator(dir.path(), "op", "10");
    let operator = key.id().to_string();
    let first = submit(&key_path, &"11".repeat(32), &node.rpc, "anchored");
    let second = submit(&key_path, &"22".repeat(32), &node.rpc, "finalized");
    let id = first["id"].as_str().unwrap().to_owned();

    let doc = node.call("rpc.discover", vec![]).unwrap();
    assert_eq!(
        doc,
        pantheon_rpc::openrpc::document(),
        "the live document is the crate's"
    );
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/RPC.md"),
    )
    .unwrap();
    assert_eq!(
        committed,
        pantheon_rpc::openrpc::reference(&doc),
        "docs/RPC.md is the rendering of the live rpc.discover"
    );

    // What the cases need: a block with the submission, its transaction
    // hex (resubmitting it is idempotent), log sizes two blocks end at, a
    // fresh transfer.
    let info = node
        .call("pantheon_getSubmission", vec![json!(id)])
        .unwrap();
    let height = info["height"].as_u64().unwrap();
    let block = node
        .call("chain_getBlock", vec![json!(height), json!(true)])
        .unwrap();
    let submission_hex = block["txs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .find(|t| {
            let tx: SignedTx = decode_exact(&hex::decode(t).unwrap()).unwrap();
            tx.as_submission()
                .is_some_and(|s| s.root.to_string() == "11".repeat(32))
        })
        .expect("the block holds the submission");
    let head = node.call("chain_getHead", vec![]).unwrap();
    let head_height = head["header"]["height"].as_u64().unwrap();
    let old = node.call("log_getCheckpoint", vec![json!(height)]).unwrap();
    let new = node.call("log_getCheckpoint", vec![]).unwrap();
    let genesis: GenesisHash = node.call("chain_getGenesis", vec![]).unwrap()["hash"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let balance = node.call("pan_getBalance", vec![json!(operator)]).unwrap();
    let transfer = TxBody::Transfer(Transfer {
        from_key: key.public().clone(),
        nonce: balance["nonce"].as_u64().unwrap(),
        to: pantheon_runtime::crypto::Keypair::from_pkcs8_pem(
            &std::fs::read_to_string(node.funder_key()).unwrap(),
        )
        .unwrap()
        .id(),
        amount: Amount::from_units(1),
    })
    .sign(&genesis, &key);
    let transfer_hex = hex::encode(transfer.to_bytes());

    let h = |n: u64| json!(n);
    let s = |t: &str| json!(t);
    let unknown = "ab".repeat(32);
    // (method, params, expected error code or None for an answer)
    let cases: Vec<(&str, Vec<Value>, Option<i32>)> = vec![
        ("pantheon_submitRoot", vec![s(&submission_hex)], None),
        ("pantheon_submitRoot", vec![s("zz")], Some(1001)),
        ("pantheon_getSubmission", vec![s(&id)], None),
        ("pantheon_getSubmission", vec![s(&unknown)], Some(1040)),
        ("pantheon_getSubmission", vec![s("abcd")], Some(1002)),
        ("pantheon_getProof", vec![s(&id)], None),
        ("pantheon_getProof", vec![s(&id), json!(false)], None),
        ("pantheon_getProof", vec![s(&unknown)], Some(1040)),
        ("pantheon_findRoot", vec![s(&"11".repeat(32))], None),
        ("pantheon_getOperator", vec![s(&operator)], None),
        ("pantheon_getOperator", vec![s(&unknown)], Some(1011)),
        ("pantheon_getSubmissionAt", vec![s(&operator), h(1)], None),
        (
            "pantheon_getSubmissionAt",
            vec![s(&operator), h(99)],
            Some(1040),
        ),
        ("pantheon_getOperatorProof", vec![s(&operator)], None),
        ("pantheon_getOperatorProof", vec![s(&operator), h(0)], None),
        ("pantheon_exportOperator", vec![s(&operator)], None),
        ("pantheon_submitTransaction", vec![s(&transfer_hex)], None),
        (
            "pantheon_submitTransaction",
            vec![s(&submission_hex)],
            Some(1004),
        ),
        (
            "pantheon_relayTransactions",
            vec![
                json!([submission_hex]),
                json!({ "key": "00".repeat(32), "time_ms": 0, "signature": "00".repeat(64) }),
            ],
            Some(1050),
        ),
        ("anchor_status", vec![], None),
        ("chain_getHead", vec![], None),
        ("chain_getBlock", vec![h(height)], None),
        ("chain_getBlock", vec![h(height), json!(true)], None),
        ("chain_getBlock", vec![h(head_height + 1000)], Some(1040)),
        ("chain_getBlockTransactions", vec![h(height)], None),
        (
            "chain_getBlockTransactions",
            vec![h(height), h(0), h(9999)],
            Some(1042),
        ),
        ("pan_getBalance", vec![s(&operator)], None),
        ("pan_getBalance", vec![s(&unknown)], None),
        ("pan_getSupply", vec![], None),
        ("pan_getSupplyProof", vec![], None),
        ("pan_getSupplyProof", vec![h(height), json!(false)], None),
        (
            "pan_getSupplyProof",
            vec![h(head_height + 1000)],
            Some(1040),
        ),
        ("log_getCheckpoint", vec![], None),
        ("log_getCheckpoint", vec![h(1)], None),
        (
            "log_getConsistencyProof",
            vec![old["log_size"].clone(), new["log_size"].clone()],
            None,
        ),
        ("log_getConsistencyProof", vec![h(5), h(3)], Some(1040)),
        ("anchor_list", vec![h(0), h(100)], None),
        ("anchor_get", vec![h(0)], None),
        ("anchor_get", vec![h(1_000_000)], Some(1040)),
        ("system_health", vec![], None),
        ("system_peers", vec![], None),
        ("system_version", vec![], None),
        ("chain_getGenesis", vec![], None),
        ("pantheon_getAccountState", vec![s(&operator)], None),
        ("pantheon_getAccountState", vec![s(&unknown)], None),
        ("rpc.discover", vec![], None),
    ];

    let methods: Vec<Value> = doc["methods"].as_array().unwrap().clone();
    let find = |name: &str| {
        methods
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not in rpc.discover"))
    };
    let mut answered = BTreeSet::new();
    for (name, params, expected) in &cases {
        let method = find(name);
        match (node.call(name, params.clone()), expected) {
            (Ok(answer), None) => {
                check(&doc, method, &answer);
                answered.insert((*name).to_owned());
            }
            (Err((code, message)), Some(want)) => {
                assert_eq!(code, *want, "{name} {params:?}: {message}");
                assert!(listed(method, code), "{name}: code {code} is not listed");
                answered.insert((*name).to_owned());
            }
            (got, want) => panic!("{name} {params:?}: got {got:?}, expected {want:?}"),
        }
    }

    // Subscriptions, over WebSocket: the first notification of each.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ws_url = node.rpc.replace("http://", "ws://");
    let subscriptions = [
        ("chain_subscribeFinalized", json!([])),
        ("pantheon_subscribeSubmission", json!([second["id"]])),
        ("pantheon_subscribeOperator", json!([operator, 0])),
    ];
    rt.block_on(async {
        use jsonrpsee::core::client::SubscriptionClientT;
        let ws = jsonrpsee::ws_client::WsClientBuilder::default()
            .build(&ws_url)
            .await
            .unwrap();
        for (name, params) in &subscriptions {
            let method = find(name);
            let sub = &method["x-subscription"];
            let mut p = jsonrpsee::core::params::ArrayParams::new();
            for v in params.as_array().unwrap() {
                p.insert(v).unwrap();
            }
            let mut stream: jsonrpsee::core::client::Subscription<Value> = ws
                .subscribe(name, p, sub["unsubscribe"].as_str().unwrap())
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let item = tokio::time::timeout(Duration::from_secs(30), stream.next())
                .await
                .unwrap_or_else(|_| panic!("{name}: no notification in 30 s"))
                .unwrap()
                .unwrap();
            check(&doc, method, &item);
            answered.insert((*name).to_owned());
        }
    });

    // The schemas bite: an answer with a member missing, mistyped or
    // added does not validate.
    let method = find("pantheon_getSubmission");
    let v = validator(&doc, &method["result"]["schema"]);
    let good = node
        .call("pantheon_getSubmission", vec![json!(id)])
        .unwrap();
    assert!(v.is_valid(&good));
    for (member, bad) in [
        ("status", None),
        ("status", Some(json!("lost"))),
        ("seq", Some(json!("1"))),
        ("root", Some(json!("AB"))),
        ("surprise", Some(json!(1))),
    ] {
        let mut answer = good.clone();
        match bad {
            None => {
                answer.as_object_mut().unwrap().remove(member);
            }
            Some(value) => answer[member] = value,
        }
        assert!(!v.is_valid(&answer), "{member}: {answer}");
    }

    let documented: BTreeSet<String> = methods
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect();
    let missing: Vec<&String> = documented.difference(&answered).collect();
    assert!(
        missing.is_empty(),
        "methods without a live case: {missing:?}"
    );
}
