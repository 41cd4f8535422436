//! From audit record to Bitcoin, end to end, against `pantheon dev` with
//! its managed regtest bitcoind: one operator through the library
//! (`pantheon-sdk`, appending from several threads), one through the CLI
//! (`pantheon records append` while `pantheon records run` is killed with
//! SIGKILL and restarted, and the node too); every record ends in exactly
//! one batch, every batch is finalized once and anchored, and record
//! proofs verify with `pantheon verify` and with the independent Python
//! verifier, and fail, naming the link, when tampered with.
#![allow(clippy::unwrap_used, clippy::print_stderr, reason = "tests")]

mod support;

use std::path::Path;
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use pantheon_runtime::hash::Hash256;
use pantheon_runtime::record::Kind;
use pantheon_sdk::{BatchPolicy, Config, Entry, Operator};
use serde_json::{Value, json};
use support::{DevNode, ok, python_verify, verify_json};

fn h(s: &str) -> String {
    Hash256::digest(s.as_bytes()).to_string()
}

fn manifest_line() -> String {
    json!({"kind": "manifest", "body": {"model": h("m"), "tokenizer": h("t"),
        "system_prompt": h("p"), "data": h("d")}})
    .to_string()
}

fn decision_line(stream: &str, n: u64) -> String {
    json!({"kind": "decision", "stream": stream, "body": {"inputs": h(&format!("in {n}")),
        "output": h(&format!("out {n}")), "policy": {"threshold": 0.8}, "score": 0.5}})
    .to_string()
}

/// `pantheon records run` in the background.
fn runner(dir: &Path, rpc: &str, log: &Path) -> Child {
    support::records_runner(dir, rpc, (200, 300), log)
}

/// On chain: the operator's submissions are batches 0.. with no gap, each
/// once, committing `records` records in all.
fn chain_holds(node: &DevNode, operator: &str, batches: u64, records: u64) {
    let op = node
        .call("pantheon_getOperator", vec![json!(operator)])
        .unwrap();
    assert_eq!(op["next_seq"], batches, "one submission per batch, no more");
    let mut total = 0;
    let mut id = op["last_submission"]["id"].as_str().unwrap().to_owned();
    for seq in (0..batches).rev() {
        let s = node
            .call("pantheon_getSubmission", vec![json!(id)])
            .unwrap();
        assert_eq!(s["seq"], seq);
        assert!(s["status"] == "finalized" || s["status"] == "anchored");
        total += s["record_count"].as_u64().unwrap();
        id = s["prev"].as_str().unwrap().to_owned();
    }
    assert_eq!(total, records, "every record in exactly one batch");
}

#[test]
fn records_go_from_the_operator_to_bitcoin_through_kills_and_restarts() {
    let seed = support::seed("PANTHEON_RECORDS_SEED", "records");
    let dir = tempfile::tempdir().unwrap();
    let mut node = DevNode::start_with(
        &dir.path().join("dev"),
        &["--anchor-every", "3", "--bitcoin-block-secs", "1"],
    );

    // Operator A, through the library: 4 threads append while the node restarts.
    let (key_a, _) = node.operator(dir.path(), "hospital", "10");
    let a_dir = dir.path().join("hospital");
    let key = pantheon_runtime::crypto::Keypair::from_pkcs8_pem(
        &std::fs::read_to_string(&key_a).unwrap(),
    )
    .unwrap();
    let config = Config {
        endpoints: vec!["http://127.0.0.1:1".into(), node.rpc.clone()],
        policy: BatchPolicy {
            max_records: 250,
            max_wait_ms: 300,
        },
        poll: Duration::from_millis(100),
        timeout: Duration::from_secs(3),
        ..Config::default()
    };
    let op = Arc::new(Operator::open(&a_dir, key, config.clone()).unwrap());
    let m = op
        .append(Entry {
            stream: "icu".into(),
            kind: Kind::Manifest,
            manifest: None,
            time_ms: 1,
            body: json!({"model": h("m"), "tokenizer": h("t"), "system_prompt": h("p"), "data": h("d")}),
        })
        .unwrap();
    let per_thread = 500u64;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let op = Arc::clone(&op);
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                for n in 0..per_thread {
                    let start = Instant::now();
                    op.append(Entry {
                        stream: format!("ward-{t}"),
                        kind: Kind::Decision,
                        manifest: Some(m.hash),
                        time_ms: 2 + n,
                        body: json!({"inputs": h(&format!("{t} {n}")), "output": h("ok"),
                            "policy": {"threshold": 0.9}, "score": 0.25}),
                    })
                    .unwrap();
                    latencies.push(start.elapsed());
                }
                latencies
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300 + seed % 700));
    node.kill_and_restart();
    let mut latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    latencies.sort();
    eprintln!(
        "library append latency while the node restarted: p50 {:?}, p99 {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100]
    );
    let a_records = 1 + 4 * per_thread;

    // Operator B, through the CLI: appends in chunks while `records run`
    // is SIGKILLed at random moments, and the node once more.
    let (key_b, _) = node.operator(dir.path(), "factory", "10");
    let b_dir = dir.path().join("factory");
    let b = b_dir.to_str().unwrap();
    ok(&[
        "records",
        "init",
        "--dir",
        b,
        "--key",
        key_b.to_str().unwrap(),
    ]);
    let chunk = dir.path().join("chunk.jsonl");
    let mut b_records = 0u64;
    let run_log = dir.path().join("run.log");
    let mut run = runner(&b_dir, &node.rpc, &run_log);
    let mut rng = seed;
    for cycle in 0..6u64 {
        let mut lines = Vec::new();
        if cycle == 0 {
            lines.push(manifest_line());
        }
        for n in 0..150 {
            lines.push(decision_line("line-3", cycle * 1_000 + n));
        }
        std::fs::write(&chunk, lines.join("\n") + "\n").unwrap();
        let out = ok(&[
            "records",
            "append",
            "--dir",
            b,
            "--file",
            chunk.to_str().unwrap(),
        ]);
        b_records += out.lines().count() as u64;
        rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        std::thread::sleep(Duration::from_millis(100 + (rng >> 33) % 900));
        let _ = run.kill();
        let _ = run.wait();
        if cycle == 3 {
            node.kill_and_restart();
        }
        run = runner(&b_dir, &node.rpc, &run_log);
    }
    assert_eq!(b_records, 1 + 6 * 150);
    let b_status = support::wait_records_settled(&b_dir, b_records, Duration::from_secs(240));
    let _ = run.kill();
    let _ = run.wait();

    // A's library submitter, through the restart and a dead first endpoint.
    let start = Instant::now();
    loop {
        let r = op.report().unwrap();
        if r.records == a_records && r.waiting_records == 0 && r.settled == r.batches {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(240), "A: {r:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let a_report = op.report().unwrap();
    Arc::into_inner(op).unwrap().close();

    chain_holds(&node, &key_of(&key_a), a_report.batches, a_records);
    chain_holds(
        &node,
        &key_of(&key_b),
        b_status["batches"].as_u64().unwrap(),
        b_records,
    );
    // A library operator's directory serves `records prove` too (it has no
    // operator.json: write one, as `records init --key` would).
    std::fs::write(
        a_dir.join("operator.json"),
        json!({"key": key_a, "operator": key_of(&key_a)}).to_string(),
    )
    .unwrap();
    // The whole local logs check against their saved bundles and the chain.
    for d in [&a_dir, &b_dir] {
        let v: Value = serde_json::from_str(&ok(&[
            "records",
            "verify",
            "--dir",
            d.to_str().unwrap(),
            "--rpc",
            &node.rpc,
            "--json",
        ]))
        .unwrap();
        assert_eq!(v["valid"], true);
        assert_eq!(v["bundles_verified"], v["batches"]);
        assert_eq!(v["anchored"], v["batches"]);
    }

    // Record proofs for a sample: both verifiers accept them.
    for (d, n) in [(&a_dir, a_records), (&b_dir, b_records)] {
        for i in 0..3u64 {
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let seq = (rng >> 33) % n;
            let out = dir.path().join(format!("proof-{seq}.json"));
            ok(&[
                "records",
                "prove",
                "--dir",
                d.to_str().unwrap(),
                "--seq",
                &seq.to_string(),
                "--neighbours",
                "--out",
                out.to_str().unwrap(),
            ]);
            let v = verify_json(&out);
            assert_eq!(v["valid"], true, "record {seq}: {v:#}");
            assert!(v["proof"]["anchor"].is_object(), "anchored");
            let p = python_verify(&out);
            assert_eq!(p["valid"], true, "python, record {seq}: {p:#}");
            if i == 0 {
                tamper(&out, dir.path());
            }
        }
    }
    let hash_only = dir.path().join("hash-only.json");
    ok(&[
        "records",
        "prove",
        "--dir",
        b,
        "--seq",
        "5",
        "--hash-only",
        "--out",
        hash_only.to_str().unwrap(),
    ]);
    assert_eq!(verify_json(&hash_only)["valid"], true);
    let text = std::fs::read_to_string(&hash_only).unwrap();
    assert!(
        !text.contains("\"record\"") && !text.contains("\"body\""),
        "only the hash is disclosed"
    );
}

fn key_of(path: &Path) -> String {
    pantheon_runtime::crypto::Keypair::from_pkcs8_pem(&std::fs::read_to_string(path).unwrap())
        .unwrap()
        .id()
        .to_string()
}

/// Each tampering is refused by both verifiers, naming the same link.
fn tamper(proof: &Path, dir: &Path) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let p: Value = serde_json::from_str(&std::fs::read_to_string(proof).unwrap()).unwrap();
    let flip = |v: &Value, at: usize| {
        let mut b = b64.decode(v.as_str().unwrap()).unwrap();
        let i = at.min(b.len() - 1);
        b[i] ^= 1;
        Value::String(b64.encode(b))
    };
    let mut cases: Vec<(&str, Value, &str)> = Vec::new();
    let mut d = p.clone();
    d["body"]["score"] = json!(0.99);
    cases.push(("body edited", d, "body"));
    let mut d = p.clone();
    d["record"] = flip(&p["record"], 3_000);
    cases.push(("signature byte", d, "signature"));
    let mut d = p.clone();
    let leaf = p["batch"]["leaf_index"].as_u64().unwrap();
    let size = p["batch"]["tree_size"].as_u64().unwrap();
    d["batch"]["leaf_index"] = json!((leaf + 1) % size);
    cases.push(("moved within the batch", d, "batch"));
    if p["manifest"].is_object() {
        let mut d = p.clone();
        d.as_object_mut().unwrap().remove("manifest");
        cases.push(("manifest withheld", d, "manifest"));
    }
    if p["previous"].is_string() && p["next"].is_string() {
        let mut d = p.clone();
        d["previous"] = p["next"].clone();
        cases.push(("neighbours reordered", d, "chain"));
    }
    let mut d = p.clone();
    d["bundle"]["header"] = flip(&p["bundle"]["header"], 40);
    cases.push(("header byte", d, "header"));
    for (name, doc, link) in cases {
        let path = dir.join("tampered.json");
        std::fs::write(&path, doc.to_string()).unwrap();
        let v = verify_json(&path);
        assert_eq!(v["valid"], false, "{name}");
        assert_eq!(v["failed_link"], link, "{name}: {v}");
        let py = python_verify(&path);
        assert_eq!(py["failed_link"], link, "python, {name}: {py}");
    }
}
