//! `pantheon dev` end to end, with the real binary, RocksDB on disk and
//! JSON-RPC over a real socket: operators submit concurrently through the
//! CLI and RPC, wait for finality, fetch proofs, and `pantheon verify`
//! accepts them and rejects tampered copies naming the failed link.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use pantheon_runtime::hash::{AuditRoot, GenesisHash, Hash256, SubmissionId};
use pantheon_runtime::proof::ProofBundle;
use pantheon_runtime::tx::{Metadata, SubmitRoot, TxBody};
use serde_json::{Value, json};
use support::{DevNode, ok, pantheon};

fn root(label: &str, i: u32) -> String {
    Hash256::digest(format!("{label}/{i}").as_bytes()).to_string()
}

#[test]
fn operators_submit_concurrently_and_proofs_verify_offline() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(&dir.path().join("dev"));
    let ops: Vec<_> = ["hospital", "bank", "factory"]
        .iter()
        .map(|n| (n.to_string(), node.operator(dir.path(), n, "10").0))
        .collect();

    // Three operators at once through the CLI, each waiting for finality.
    let receipts: Vec<Value> = std::thread::scope(|s| {
        let handles: Vec<_> = ops
            .iter()
            .map(|(name, key)| {
                let rpc = node.rpc.clone();
                s.spawn(move || {
                    (0..3)
                        .map(|i| {
                            let out = ok(&[
                                "submit",
                                "--key",
                                key.to_str().unwrap(),
                                "--root",
                                &root(name, i),
                                "--label",
                                name,
                                "--records",
                                "100",
                                "--wait",
                                "finalized",
                                "--rpc",
                                &rpc,
                            ]);
                            serde_json::from_str::<Value>(&out).unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(receipts.len(), 9);
    for r in &receipts {
        assert!(
            r["status"] == "finalized" || r["status"] == "anchored",
            "{r}"
        );
    }
    // Each operator's chain is 0, 1, 2 with prev links.
    let hospital: Vec<&Value> = receipts
        .iter()
        .filter(|r| r["label"] == "hospital")
        .collect();
    assert_eq!(
        hospital
            .iter()
            .map(|r| r["seq"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(hospital[1]["prev"], hospital[0]["id"]);

    // `submit --seq`: a retry of seq 1 with its root is the same
    // submission; another root under it is refused naming the one it
    // holds; a seq past the next leaves a gap and is refused.
    let key = ops[0].1.to_str().unwrap();
    let submit_at = |seq: &str, root: &str| {
        pantheon(&[
            "submit",
            "--key",
            key,
            "--root",
            root,
            "--label",
            "hospital",
            "--records",
            "100",
            "--seq",
            seq,
            "--rpc",
            &node.rpc,
        ])
    };
    let again = submit_at("1", &root("hospital", 1));
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        again["id"], hospital[1]["id"],
        "idempotent: the first receipt"
    );
    assert_eq!(again["status"], "finalized");
    let other = submit_at("1", &root("hospital", 99));
    assert!(!other.status.success());
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains("1023") && err.contains("differs"), "{err}");
    let gap = submit_at("7", &root("hospital", 7));
    assert!(!gap.status.success());
    assert!(String::from_utf8_lossy(&gap.stderr).contains("gap"));

    // A fourth tenant signs locally and talks JSON-RPC directly.
    let (_, kp) = node.operator(dir.path(), "raw", "10");
    let version = node.call("system_version", vec![]).unwrap();
    let genesis: GenesisHash = version["genesis_hash"].as_str().unwrap().parse().unwrap();
    let tx = TxBody::SubmitRoot(SubmitRoot {
        operator: kp.id(),
        seq: 0,
        prev: SubmissionId::default(),
        root: AuditRoot::new(Hash256::digest(b"raw batch")),
        metadata: Metadata::default(),
    })
    .sign(&genesis, &kp);
    let receipt = node
        .call(
            "pantheon_submitRoot",
            vec![json!(hex::encode(tx.as_bytes()))],
        )
        .unwrap();
    assert_eq!(receipt["status"], "received");
    assert_eq!(receipt["id"], tx.submission_id().to_string());
    let id = receipt["id"].as_str().unwrap().to_owned();
    ok(&[
        "proof",
        &id,
        "--wait",
        "finalized",
        "--out",
        dir.path().join("raw.json").to_str().unwrap(),
        "--rpc",
        &node.rpc,
    ]);
    let found = node
        .call(
            "pantheon_findRoot",
            vec![json!(Hash256::digest(b"raw batch").to_string())],
        )
        .unwrap();
    assert_eq!(found[0]["id"], id);

    // Every proof verifies offline against the network's genesis file, and
    // pinned to its hash.
    let genesis_hex = genesis.to_string();
    let genesis_file = node.home.join("genesis.json");
    let genesis_file = genesis_file.to_str().unwrap();
    for r in &receipts {
        let id = r["id"].as_str().unwrap();
        let path = dir.path().join(format!("{id}.json"));
        support::fetch_proof(&node.rpc, id, &path, &[]);
        let out: Value = serde_json::from_str(&ok(&[
            "verify",
            path.to_str().unwrap(),
            "--genesis",
            genesis_file,
            "--genesis-hash",
            &genesis_hex,
            "--json",
        ]))
        .unwrap();
        assert_eq!(out["valid"], true);
        assert_eq!(out["proof"]["root"], r["root"]);
    }

    // A default bundle carries its genesis and verifies with no flags,
    // saying the network was not pinned; one fetched with --no-genesis
    // asks for the genesis file.
    let id = receipts[4]["id"].as_str().unwrap();
    let embedded = dir.path().join(format!("{id}.json"));
    let out = ok(&["verify", embedded.to_str().unwrap()]);
    assert!(
        out.contains(&genesis_hex) && out.contains("pantheon-dev") && out.contains("NOT pinned"),
        "{out}"
    );
    let compact = dir.path().join("compact.json");
    support::fetch_proof(&node.rpc, id, &compact, &["--no-genesis"]);
    let out = pantheon(&["verify", compact.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("genesis link failed") && stderr.contains("--genesis"),
        "{stderr}"
    );
    // The auditor states the root they hold; another root fails, naming it.
    let root = receipts[4]["root"].as_str().unwrap();
    ok(&["verify", embedded.to_str().unwrap(), "--root", root]);
    let other = Hash256::digest(b"another batch").to_string();
    let out = pantheon(&[
        "verify",
        embedded.to_str().unwrap(),
        "--root",
        &other,
        "--json",
    ]);
    assert!(!out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["failed_link"], "root", "{v}");
    assert!(v["reason"].as_str().unwrap().contains(root), "{v}");
    // --json prints JSON for a file that is not a bundle too.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"version\": 2").unwrap();
    let out = pantheon(&["verify", junk.to_str().unwrap(), "--json"]);
    assert!(!out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["failed_link"], "format", "{v}");
    // A well-formed bundle with one malformed member fails the link that
    // uses it, not `format` (FORMATS 22.6).
    let mut v: Value = serde_json::from_slice(&std::fs::read(&embedded).unwrap()).unwrap();
    v["operator_key"] = Value::from("not base64!");
    let bad_key = dir.path().join("bad-key.json");
    std::fs::write(&bad_key, serde_json::to_vec(&v).unwrap()).unwrap();
    let out = pantheon(&["verify", bad_key.to_str().unwrap(), "--json"]);
    assert!(!out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["failed_link"], "submission", "{v}");

    // Tampered copies fail, naming the link.
    let read = |p: &std::path::Path| -> ProofBundle {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let bundle = read(&compact);
    let mut cases: Vec<(&str, ProofBundle)> = Vec::new();
    let mut b = bundle.clone();
    b.submission[90] ^= 1;
    cases.push(("submission", b));
    let mut b = bundle.clone();
    let mut p = *b.inclusion.path[0].as_bytes();
    p[0] ^= 1;
    b.inclusion.path[0] = Hash256::from_bytes(p);
    cases.push(("path", b));
    let mut b = bundle.clone();
    b.header[60] ^= 1;
    cases.push(("header", b));
    let mut b = bundle.clone();
    let n = b.certificate.len();
    b.certificate[n - 10] ^= 1;
    cases.push(("certificate", b));
    let mut b = read(&embedded);
    b.genesis.as_mut().unwrap()[20] ^= 1;
    cases.push(("genesis", b));
    for (link, tampered) in cases {
        let path = dir.path().join(format!("tampered-{link}.json"));
        std::fs::write(&path, serde_json::to_string(&tampered).unwrap()).unwrap();
        let out = pantheon(&["verify", path.to_str().unwrap(), "--genesis", genesis_file]);
        assert!(!out.status.success(), "tampered {link} verified");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("{link} link failed")),
            "tampered {link}: {stderr}"
        );
    }

    // The supply is intact.
    let supply = node.call("pan_getSupply", vec![]).unwrap();
    assert_eq!(supply["conserved"], true);
    assert_eq!(supply["sum_of_balances"], "5000000000000000000");
}
