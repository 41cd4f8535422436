//! Audit documents (FORMATS 28) end to end, against a live `pantheon dev`
//! node with RocksDB on disk and JSON-RPC over a real socket:
//!
//! - a supply proof at an old height (not the head: a transfer and more
//!   submissions came after it), a checkpoint, and a consistency proof
//!   between two old log sizes, fetched over JSON-RPC and written to
//!   files, verify offline with `pantheon verify` (no `--rpc`) and with
//!   the independent Python verifier;
//! - tampered copies (a balance changed, a record dropped, a path hash
//!   flipped, the sizes swapped, a certificate signature byte flipped)
//!   fail both, with a non-zero exit, at the link FORMATS 28 names;
//! - killed with SIGKILL and restarted, the node answers the old-height
//!   supply proof identically: the account history is durable.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use pantheon_runtime::crypto::Keypair;
use pantheon_runtime::hash::Hash256;
use serde_json::{Value, json};
use support::{DevNode, ok, pantheon, python_verify, submit, verify_json};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn head(node: &DevNode) -> u64 {
    node.call("chain_getHead", vec![]).unwrap()["header"]["height"]
        .as_u64()
        .unwrap()
}

/// Waits until the head is past `height`.
fn wait_past(node: &DevNode, height: u64) {
    let start = Instant::now();
    while head(node) <= height {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no block after {height}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn write(dir: &Path, name: &str, doc: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(doc).unwrap()).unwrap();
    path
}

fn edit(doc: &Value, f: impl FnOnce(&mut Value)) -> Value {
    let mut v = doc.clone();
    f(&mut v);
    v
}

/// `text` (base64) with byte `at` XORed with 1.
fn flip_b64(text: &Value, at: usize) -> Value {
    let mut bytes = B64.decode(text.as_str().unwrap()).unwrap();
    bytes[at] ^= 1;
    json!(B64.encode(bytes))
}

/// Both verifiers accept `path`; returns `pantheon verify --json`'s verdict.
fn accepted(path: &Path) -> Value {
    let out = pantheon(&["verify", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.starts_with("VALID"),
        "{}: {text}{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let verdict = verify_json(path);
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["trust"]["genesis_pinned"], false, "{verdict}");
    assert!(
        verdict["trust"]["rests_on"]
            .as_str()
            .unwrap()
            .contains("ML-DSA-65 certificates"),
        "{verdict}"
    );
    let py = python_verify(path);
    assert_eq!(py["valid"], true, "python: {py}");
    verdict
}

/// Both verifiers refuse `doc` at `link`, with a non-zero exit.
fn refused(dir: &Path, name: &str, doc: &Value, link: &str) {
    let path = write(dir, &format!("{name}.json"), doc);
    let out = pantheon(&["verify", path.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{name}: accepted");
    assert!(
        err.contains(&format!("INVALID: {link} link failed")),
        "{name}: {err}"
    );
    let out = pantheon(&["verify", path.to_str().unwrap(), "--json"]);
    assert!(!out.status.success(), "{name}: accepted with --json");
    let verdict: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict["valid"], false, "{name}: {verdict}");
    assert_eq!(verdict["failed_link"], link, "{name}: {verdict}");
    let py = python_verify(&path);
    assert_eq!(py["valid"], false, "{name}: python {py}");
    assert_eq!(py["failed_link"], link, "{name}: python {py}");
}

#[test]
fn old_supply_and_consistency_proofs_verify_offline_and_tampered_ones_fail() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = DevNode::start_with(&dir.path().join("dev"), &["--no-bitcoin"]);
    let (key, _) = node.operator(dir.path(), "op", "10");
    let root = |i: u32| Hash256::digest(format!("audit test {i}").as_bytes()).to_string();

    // Log size A: after the first submission.
    submit(&key, &root(0), &node.rpc, "finalized");
    let cp = |h: u64| node.call("log_getCheckpoint", vec![json!(h)]).unwrap();
    let size_a = cp(head(&node))["log_size"].as_u64().unwrap();
    // Log size B and the old height: after three more.
    for i in 1..4 {
        submit(&key, &root(i), &node.rpc, "finalized");
    }
    let old = head(&node);
    let size_b = cp(old)["log_size"].as_u64().unwrap();
    assert!(size_a < size_b, "{size_a} < {size_b}");
    // After the old height: a transfer to a new account and two more
    // submissions, so that the state and the log both move on.
    let to = Keypair::from_seed(&[0x5a; 32]).id().to_string();
    ok(&[
        "transfer",
        "--key",
        node.funder_key().to_str().unwrap(),
        "--to",
        &to,
        "--amount",
        "3",
        "--wait",
        "--rpc",
        &node.rpc,
    ]);
    for i in 4..6 {
        submit(&key, &root(i), &node.rpc, "finalized");
    }
    wait_past(&node, old + 1);
    let now = node.call("log_getCheckpoint", vec![]).unwrap();
    assert!(now["log_size"].as_u64().unwrap() > size_b, "{now}");

    // The documents, fetched over JSON-RPC and written to files.
    let supply = node.call("pan_getSupplyProof", vec![json!(old)]).unwrap();
    let head_supply = node.call("pan_getSupplyProof", vec![]).unwrap();
    assert_eq!(supply["height"], old);
    assert_ne!(
        supply["accounts"], head_supply["accounts"],
        "the old state is not the head's"
    );
    assert!(
        !supply["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == to),
        "the account made after the old height is not in its state"
    );
    let checkpoint = cp(old);
    let consistency = node
        .call(
            "log_getConsistencyProof",
            vec![json!(size_a), json!(size_b)],
        )
        .unwrap();
    let d = dir.path();
    let supply_file = write(d, "supply.json", &supply);
    let checkpoint_file = write(d, "checkpoint.json", &checkpoint);
    let consistency_file = write(d, "consistency.json", &consistency);

    // Offline: VALID, and what it rests on.
    let v = accepted(&supply_file);
    assert_eq!(v["supply_proof"]["height"], old, "{v}");
    assert_eq!(
        v["supply_proof"]["sum_of_balances"], "5000000000000000000",
        "{v}"
    );
    // Pinned by the network's genesis file: valid, and says so; the same
    // document under another network's genesis fails the genesis link,
    // though it carries its own; without its genesis it needs the file.
    let genesis_file = node.home.join("genesis.json");
    let g = genesis_file.to_str().unwrap();
    let pinned = |file: &Path, genesis: &str| {
        let out = pantheon(&[
            "verify",
            file.to_str().unwrap(),
            "--genesis",
            genesis,
            "--json",
        ]);
        (
            out.status.success(),
            serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        )
    };
    let (ok_, v) = pinned(&supply_file, g);
    assert!(ok_ && v["trust"]["genesis_pinned"] == true, "{v}");
    let mut other: Value =
        serde_json::from_str(&std::fs::read_to_string(&genesis_file).unwrap()).unwrap();
    other["chain_id"] = json!(format!("{}-other", other["chain_id"].as_str().unwrap()));
    let other_file = write(d, "other-genesis.json", &other);
    let (ok_, v) = pinned(&supply_file, other_file.to_str().unwrap());
    assert!(!ok_ && v["failed_link"] == "genesis", "{v}");
    let bare = write(
        d,
        "supply-no-genesis.json",
        &edit(&supply, |v| {
            v.as_object_mut().unwrap().remove("genesis");
        }),
    );
    assert_eq!(verify_json(&bare)["failed_link"], "genesis");
    let (ok_, v) = pinned(&bare, g);
    assert!(ok_ && v["valid"] == true, "{v}");

    let v = accepted(&checkpoint_file);
    assert_eq!(v["checkpoint"]["log_size"], size_b, "{v}");
    let v = accepted(&consistency_file);
    assert_eq!(v["consistency"]["old"]["log_size"], size_a, "{v}");
    assert_eq!(v["consistency"]["new"]["log_size"], size_b, "{v}");
    assert!(
        v["consistency"]["new"]["height"].as_u64().unwrap() <= old,
        "{v}"
    );

    // Tampered copies.
    refused(
        d,
        "balance_changed",
        &edit(&supply, |v| {
            let rec = &mut v["accounts"][0]["record"];
            // The balance is bytes 1..9 of the record (FORMATS 6.1).
            *rec = flip_b64(rec, 8);
        }),
        "state",
    );
    refused(
        d,
        "record_dropped",
        &edit(&supply, |v| {
            v["accounts"].as_array_mut().unwrap().pop();
        }),
        "state",
    );
    refused(
        d,
        "supply_signature_flipped",
        &edit(&supply, |v| {
            let c = &mut v["block"]["certificate"];
            // The first signature starts at byte 49 (FORMATS 10.3).
            *c = flip_b64(c, 49 + 200);
        }),
        "certificate",
    );
    refused(
        d,
        "checkpoint_signature_flipped",
        &edit(&checkpoint, |v| {
            let c = &mut v["block"]["certificate"];
            *c = flip_b64(c, 49 + 200);
        }),
        "certificate",
    );
    refused(
        d,
        "checkpoint_size",
        &edit(&checkpoint, |v| v["log_size"] = json!(size_b + 1)),
        "checkpoint",
    );
    assert!(!consistency["path"].as_array().unwrap().is_empty());
    refused(
        d,
        "path_flipped",
        &edit(&consistency, |v| {
            let p = &mut v["path"][0];
            let mut h = hex::decode(p.as_str().unwrap()).unwrap();
            h[31] ^= 1;
            *p = json!(hex::encode(h));
        }),
        "consistency",
    );
    refused(
        d,
        "sizes_swapped",
        &edit(&consistency, |v| {
            v["old_size"] = json!(size_b);
            v["new_size"] = json!(size_a);
        }),
        "header",
    );
    refused(
        d,
        "ends_swapped",
        &edit(&consistency, |v| {
            v["old_size"] = json!(size_b);
            v["new_size"] = json!(size_a);
            let (o, n) = (v["old"].clone(), v["new"].clone());
            v["old"] = n;
            v["new"] = o;
        }),
        "consistency",
    );
    refused(
        d,
        "consistency_signature_flipped",
        &edit(&consistency, |v| {
            let c = &mut v["new"]["certificate"];
            *c = flip_b64(c, 49 + 200);
        }),
        "certificate",
    );

    // The account history survives kill -9.
    node.kill_and_restart();
    let again = node.call("pan_getSupplyProof", vec![json!(old)]).unwrap();
    assert_eq!(again, supply, "the old-height supply proof after a restart");
    let again = node
        .call(
            "log_getConsistencyProof",
            vec![json!(size_a), json!(size_b)],
        )
        .unwrap();
    assert_eq!(again, consistency);
}

#[test]
fn bad_audit_requests_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start_with(&dir.path().join("dev"), &["--no-bitcoin"]);
    let h = head(&node);
    let (code, msg) = node
        .call("pan_getSupplyProof", vec![json!(h + 1000)])
        .unwrap_err();
    assert_eq!(code, 1040, "{msg}");
    let (code, msg) = node.call("pan_getSupplyProof", vec![json!(0)]).unwrap_err();
    assert_eq!(code, 1040, "{msg}");
    let (code, msg) = node
        .call("log_getConsistencyProof", vec![json!(5), json!(2)])
        .unwrap_err();
    assert!(code == 1040 || code == -32602, "{code} {msg}");
    let (code, msg) = node
        .call("log_getConsistencyProof", vec![json!(0), json!(1_000_000)])
        .unwrap_err();
    assert_eq!(code, 1040, "{msg}");
}
