//! Durable, signed receipts (FORMATS 26) against live `pantheon dev`
//! nodes: what a client sees.
//!
//! - A receipt from the node verifies offline with `pantheon verify` and
//!   with the independent Python verifier; one changed member fails both,
//!   at the link the format names.
//! - Every submission answered `received` survives kill -9: a burst from
//!   four operators, the node killed right after the last answer,
//!   restarted; every one is finalized, exactly once, under the id it was
//!   answered with.
//! - A validator that signs receipts and drops the submissions (the
//!   `PANTHEON_FAULT_DROP_RECEIVED` fault of `pantheon_node::receipts`)
//!   is caught: once the deadline passes, `pantheon receipt evidence`
//!   writes evidence that both verifiers accept, and tampered evidence
//!   fails.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pantheon_runtime::crypto::Keypair;
use pantheon_runtime::hash::{AuditRoot, GenesisHash, Hash256, SubmissionId};
use pantheon_runtime::tx::{Metadata, SubmitRoot, TxBody};
use serde_json::{Value, json};
use support::{DevNode, bin, ok, pantheon, python_verify, verify_json};

fn genesis_hash(node: &DevNode) -> GenesisHash {
    node.call("system_version", vec![]).unwrap()["genesis_hash"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn tamper(path: &Path, out: &Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(out, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

#[test]
fn a_receipt_verifies_offline_and_a_tampered_one_fails() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start_with(&dir.path().join("dev"), &["--no-bitcoin"]);
    let (key, _) = node.operator(dir.path(), "op", "5");
    let receipt = dir.path().join("receipt.json");
    let answer: Value = serde_json::from_str(&ok(&[
        "submit",
        "--key",
        key.to_str().unwrap(),
        "--root",
        &"ab".repeat(32),
        "--receipt-out",
        receipt.to_str().unwrap(),
        "--rpc",
        &node.rpc,
    ]))
    .unwrap();
    assert_eq!(answer["status"], "received");
    let signed = &answer["receipt"];
    assert_eq!(signed["submission"], answer["id"]);
    assert_eq!(signed["seq"], 0);
    let head = node.call("chain_getHead", vec![]).unwrap()["header"]["height"]
        .as_u64()
        .unwrap();
    let deadline = signed["deadline"].as_u64().unwrap();
    assert!(
        deadline > head && deadline <= head + 101,
        "deadline {deadline} at height {head}"
    );

    // Offline: the file alone (it carries the genesis), both verifiers.
    let v = verify_json(&receipt);
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["receipt"]["validator_index"], 0);
    assert_eq!(v["receipt"]["submission"], answer["id"]);
    let p = python_verify(&receipt);
    assert_eq!(p["valid"], true, "{p}");
    // Pinned to the node's network, and refused under another.
    let pinned = pantheon(&[
        "verify",
        receipt.to_str().unwrap(),
        "--genesis-hash",
        &genesis_hash(&node).to_string(),
        "--json",
    ]);
    assert!(pinned.status.success());
    let other = pantheon(&[
        "verify",
        receipt.to_str().unwrap(),
        "--genesis-hash",
        &"00".repeat(32),
        "--json",
    ]);
    assert!(!other.status.success());

    for (name, edit, link) in [
        ("seq", json!({"seq": 1}), "signature"),
        ("deadline", json!({"deadline": deadline + 1}), "signature"),
        (
            "validator",
            json!({"validator": "11".repeat(32)}),
            "validator",
        ),
        (
            "leaf_index",
            json!({"batch": {"leaf_index": 9, "tree_size": 1, "path": ""}}),
            "batch",
        ),
    ] {
        let bad = dir.path().join(format!("bad-{name}.json"));
        tamper(&receipt, &bad, |v| {
            for (k, x) in edit.as_object().unwrap() {
                v[k] = x.clone();
            }
        });
        let v = verify_json(&bad);
        assert_eq!(v["valid"], false, "{name}: {v}");
        assert_eq!(v["failed_link"], link, "{name}: {v}");
        let p = python_verify(&bad);
        assert_eq!(p["valid"], false, "{name}: {p}");
        assert_eq!(p["failed_link"], link, "{name}: {p}");
    }

    // Sent again: the same receipt, from the receipt log.
    let again: Value = serde_json::from_str(&ok(&[
        "submit",
        "--key",
        key.to_str().unwrap(),
        "--root",
        &"ab".repeat(32),
        "--seq",
        "0",
        "--rpc",
        &node.rpc,
    ]))
    .unwrap();
    if again["status"] == "received" {
        assert_eq!(again["receipt"], answer["receipt"]);
    }
}

/// Signs a chain of `n` submissions of `key` from seq 0 (a fresh operator).
fn chain(genesis: &GenesisHash, key: &Keypair, n: u64, tag: u8) -> Vec<(SubmissionId, String)> {
    let mut prev = SubmissionId::default();
    (0..n)
        .map(|seq| {
            let tx = TxBody::SubmitRoot(SubmitRoot {
                operator: key.id(),
                seq,
                prev,
                root: AuditRoot::new(Hash256::digest(&[&[tag][..], &seq.to_be_bytes()].concat())),
                metadata: Metadata::default(),
            })
            .sign(genesis, key);
            prev = tx.submission_id();
            (prev, hex::encode(tx.as_bytes()))
        })
        .collect()
}

#[test]
fn nothing_answered_received_is_lost_to_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = DevNode::start_with(&dir.path().join("dev"), &["--no-bitcoin"]);
    let g = genesis_hash(&node);
    let ops: Vec<Keypair> = (0..4)
        .map(|i| node.operator(dir.path(), &format!("op{i}"), "5").1)
        .collect();
    let per = 60u64;
    let chains: Vec<_> = ops
        .iter()
        .zip(0u8..)
        .map(|(k, i)| chain(&g, k, per, i))
        .collect();
    // Four operators at once; each answer is a promise.
    let rpc = node.rpc.clone();
    let answered: Vec<Vec<SubmissionId>> = std::thread::scope(|s| {
        let handles: Vec<_> = chains
            .iter()
            .map(|c| {
                let rpc = rpc.clone();
                s.spawn(move || {
                    let client = support::Rpc::new(&rpc);
                    let mut ok = Vec::new();
                    for (id, hex) in c {
                        let r = client
                            .call("pantheon_submitRoot", vec![json!(hex)])
                            .unwrap();
                        assert_eq!(r["status"], "received", "{r}");
                        assert_eq!(r["id"], id.to_string());
                        assert!(r["receipt"].is_object(), "a validator signs: {r}");
                        ok.push(*id);
                    }
                    ok
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    node.kill_and_restart();
    let log = support::plain_log(&node.log);
    let replay = log
        .lines()
        .rfind(|l| l.contains("receipt log replayed"))
        .unwrap_or_default()
        .to_owned();
    let admitted: u64 = replay
        .split("admitted=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(
        admitted > 0,
        "the kill came after blocks took every submission; nothing was replayed: {replay}"
    );
    let start = Instant::now();
    for (op, ids) in ops.iter().zip(&answered) {
        for (seq, id) in ids.iter().enumerate() {
            loop {
                let info = node
                    .call(
                        "pantheon_getSubmissionAt",
                        vec![json!(op.id().to_string()), json!(seq)],
                    )
                    .unwrap();
                if info["status"] == "finalized" || info["status"] == "anchored" {
                    assert_eq!(
                        info["id"],
                        id.to_string(),
                        "exactly the answered submission"
                    );
                    break;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "seq {seq} of an operator not finalized after restart: {info}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let state = node
            .call("pantheon_getOperator", vec![json!(op.id().to_string())])
            .unwrap();
        assert_eq!(state["next_seq"], per, "each once: {state}");
    }
    eprintln!("receipts: {replay}");
}

#[test]
fn a_dropped_submission_becomes_evidence_against_the_validator() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("dev");
    // Registered first on an honest run of the same home...
    let (key, _) = {
        let node = DevNode::start_with(&home, &["--no-bitcoin"]);
        node.operator(dir.path(), "op", "5")
    };
    // ...then the validator turns faulty: it signs and drops.
    let port = support::free_port();
    let rpc = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("faulty.log")).unwrap();
    let mut child = Command::new(bin())
        .args([
            "dev",
            "--home",
            home.to_str().unwrap(),
            "--rpc-addr",
            &format!("127.0.0.1:{port}"),
            "--block-time-ms",
            "200",
            "--no-bitcoin",
            "--receipt-deadline-blocks",
            "5",
        ])
        .env("PANTHEON_FAULT_DROP_RECEIVED", "1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let start = Instant::now();
    while support::Rpc::new(&rpc)
        .call("chain_getHead", vec![])
        .is_err()
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "faulty node did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let receipt = dir.path().join("receipt.json");
    ok(&[
        "submit",
        "--key",
        key.to_str().unwrap(),
        "--root",
        &"cd".repeat(32),
        "--receipt-out",
        receipt.to_str().unwrap(),
        "--rpc",
        &rpc,
    ]);
    assert_eq!(verify_json(&receipt)["valid"], true);
    let evidence = dir.path().join("evidence.json");
    let start = Instant::now();
    let verdict = loop {
        let v: Value = serde_json::from_str(&ok(&[
            "receipt",
            "evidence",
            receipt.to_str().unwrap(),
            "--out",
            evidence.to_str().unwrap(),
            "--json",
            "--rpc",
            &rpc,
        ]))
        .unwrap();
        if v["verdict"] != "pending" {
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "deadline never passed: {v}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(verdict["verdict"], "breach", "{verdict}");
    // Checked anywhere, from the file alone, by both verifiers.
    let v = verify_json(&evidence);
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["breach"]["receipt"]["seq"], 0);
    assert_eq!(v["breach"]["next_seq"], 0);
    let p = python_verify(&evidence);
    assert_eq!(p["valid"], true, "{p}");
    assert_eq!(p["breach"], true);
    let bad = dir.path().join("bad.json");
    tamper(&evidence, &bad, |v| v["receipt"]["seq"] = json!(7));
    assert_eq!(verify_json(&bad)["failed_link"], "signature");
    assert_eq!(python_verify(&bad)["failed_link"], "signature");
    // A proof of the operator's record passed off as a proof of absence.
    tamper(&evidence, &bad, |v| v["state"]["account"] = Value::Null);
    assert_eq!(verify_json(&bad)["failed_link"], "state");
    assert_eq!(python_verify(&bad)["failed_link"], "state");
}
