//! Multi-validator networks of real processes, driven through
//! `pantheon testnet`: four validators finalize over libp2p on loopback
//! with certificates of at least three signatures; one stopped, the chain
//! goes on and the validator catches up when restarted; two stopped,
//! finality halts without a fork and resumes when one returns; a full node
//! started late syncs from genesis and serves the same proofs; a second
//! copy of one validator (same key) is reported as equivocating; the shared
//! regtest bitcoind anchors the chain and every node serves the same
//! anchored proof.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use pantheon_runtime::hash::Hash256;
use serde_json::{Value, json};
use support::testnet::{Net, same_chain};
use support::{Rpc, ok, operator};

fn submit(key: &Path, root: &str, rpc: &str) -> Value {
    support::submit(key, root, rpc, "finalized")
}

fn proof(id: &str, rpc: &str, out: &Path) -> Vec<u8> {
    support::fetch_proof(rpc, id, out, &[]);
    // The testnet's genesis file is in its directory, next to the bundles.
    let genesis = out.with_file_name("genesis.json");
    ok(&[
        "verify",
        out.to_str().unwrap(),
        "--genesis",
        genesis.to_str().unwrap(),
    ]);
    std::fs::read(out).unwrap()
}

#[test]
fn four_validators_finalize_survive_one_halt_at_two_and_a_late_full_node_syncs() {
    let net = Net::four_and_a_full_node(&[]);
    for i in 0..4 {
        net.cmd(&["start", &i.to_string()]);
    }
    net.wait_height(&[0, 1, 2, 3], 3);
    let status = net.status();
    assert_eq!(status.len(), 5);
    assert_eq!(status[4]["running"], false);
    same_chain(&net, &[0, 1, 2, 3], 3, 3);

    // Operators talk to different nodes; the relay brings every submission
    // to the proposers, and each is finalized exactly once.
    let funder = net.dir.path().join("funder.key");
    let (alice, _) = operator(&net.rpc(0), &funder, net.dir.path(), "alice", "10");
    let (bob, _) = operator(&net.rpc(2), &funder, net.dir.path(), "bob", "10");
    let a0 = submit(&alice, &Hash256::digest(b"a0").to_string(), &net.rpc(1));
    let b0 = submit(&bob, &Hash256::digest(b"b0").to_string(), &net.rpc(3));
    let a1 = submit(&alice, &Hash256::digest(b"a1").to_string(), &net.rpc(2));
    for r in [&a0, &b0, &a1] {
        assert_eq!(r["status"], "finalized", "{r}");
    }
    let op = Rpc::new(&net.rpc(3))
        .call("pantheon_getOperator", vec![a0["operator"].clone()])
        .unwrap();
    assert_eq!(op["next_seq"], 2, "{op}");
    let id = a1["id"].as_str().unwrap();
    let p0 = proof(id, &net.rpc(0), &net.dir.path().join("p0.json"));
    let p3 = proof(id, &net.rpc(3), &net.dir.path().join("p3.json"));
    let (v0, v3): (Value, Value) = (
        serde_json::from_slice(&p0).unwrap(),
        serde_json::from_slice(&p3).unwrap(),
    );
    assert_eq!(v0["genesis_hash"], v3["genesis_hash"]);
    assert_eq!(v0["header"], v3["header"]);
    assert_eq!(v0["inclusion"], v3["inclusion"]);

    // One validator down: the other three keep finalizing.
    net.cmd(&["stop", "3"]);
    let h = net.height(0);
    net.wait_height(&[0, 1, 2], h + 3);
    let c0 = submit(&alice, &Hash256::digest(b"a2").to_string(), &net.rpc(1));
    assert_eq!(c0["status"], "finalized");

    // Restarted, it catches up to the same state.
    net.cmd(&["start", "3"]);
    let h = net.height(0);
    net.wait_height(&[3], h);
    same_chain(&net, &[0, 3], h, 3);

    // Two of four down: no quorum, finality halts, nobody forks.
    net.cmd(&["stop", "2"]);
    net.cmd(&["stop", "3"]);
    std::thread::sleep(Duration::from_millis(1500));
    let halted = net.height(0);
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        net.height(0) <= halted + 1,
        "finality went on without a quorum"
    );
    let top = net.height(0).min(net.height(1));
    same_chain(&net, &[0, 1], top, 3);

    // One returns: a quorum again, finality resumes.
    net.cmd(&["start", "2"]);
    net.wait_height(&[0, 1, 2], top + 3);
    net.cmd(&["start", "3"]);

    // A full node started late, with no bitcoind configured, syncs from
    // genesis, checks every certificate, and serves the same proof.
    let config_path = net.dir.path().join("node-4").join("node.toml");
    let mut config: toml::Table =
        toml::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    assert!(config.remove("anchor").is_some());
    std::fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();
    net.cmd(&["start", "4"]);
    let h = net.height(0);
    net.wait_height(&[4], h);
    same_chain(&net, &[0, 4], h, 3);
    let p4 = proof(id, &net.rpc(4), &net.dir.path().join("p4.json"));
    let v4: Value = serde_json::from_slice(&p4).unwrap();
    assert_eq!(v4["header"], v0["header"]);
    assert_eq!(v4["inclusion"], v0["inclusion"]);
    let s = net.status();
    assert!(
        s.iter()
            .all(|n| n["equivocations"].as_array().unwrap().is_empty())
    );
    // The full node never proposes: what its clients submit is finalized
    // only through the relay, whose signed batches (FORMATS 27) the
    // validators accept from the peer ids `testnet init` listed.
    // A full node holds no validator key: its answer is as durable as a
    // validator's but signs nothing (`receipt: null`).
    let via_full: Value = serde_json::from_str(&ok(&[
        "submit",
        "--key",
        bob.to_str().unwrap(),
        "--root",
        &Hash256::digest(b"b1").to_string(),
        "--json",
        "--rpc",
        &net.rpc(4),
    ]))
    .unwrap();
    assert_eq!(via_full["status"], "received", "{via_full}");
    assert!(via_full["receipt"].is_null(), "{via_full}");
    let start = Instant::now();
    while !matches!(
        Rpc::new(&net.rpc(0)).call("pantheon_getSubmission", vec![via_full["id"].clone()]),
        Ok(i) if i["status"] == "finalized"
    ) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not relayed: {}",
            net.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Anyone else calling the relay method is refused, and nothing changes.
    let stranger = Rpc::new(&net.rpc(0)).call(
        "pantheon_relayTransactions",
        vec![
            json!([]),
            json!({"key": "00".repeat(32), "time_ms": 0, "signature": "00".repeat(64)}),
        ],
    );
    assert_eq!(stranger.unwrap_err().0, 1050);
    let unsigned = Rpc::new(&net.rpc(0)).call("pantheon_relayTransactions", vec![json!([])]);
    assert_eq!(unsigned.unwrap_err().0, 1050);

    // The shared regtest bitcoind: the designated anchorers anchor, every
    // validator judges with bitcoind, the full node has none; every node
    // serves the anchored proof from its own store, the same bytes.
    let start = Instant::now();
    let anchored = |i: usize| {
        Rpc::new(&net.rpc(i))
            .call("pantheon_getSubmission", vec![json!(id)])
            .unwrap()["status"]
            == "anchored"
    };
    while !(0..5).all(anchored) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "never anchored everywhere\n{}",
            net.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Byte for byte, certificate included: the block after the
    // submission's carries its canonical certificate, which every node
    // stores in place of the one it collected (FORMATS 9.4). A node serves
    // the lowest recorded anchor that covers the submission, so two nodes
    // a block apart may still differ (one has the record of a lower anchor,
    // the other not yet): they agree once they hold the same records.
    let fetch = || -> Vec<Vec<u8>> {
        (0..5)
            .map(|i| proof(id, &net.rpc(i), &net.dir.path().join(format!("a{i}.json"))))
            .collect()
    };
    let mut bundles = fetch();
    let start = Instant::now();
    while bundles.iter().any(|b| *b != bundles[0]) && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(500));
        bundles = fetch();
    }
    for (i, b) in bundles.iter().enumerate() {
        let v: Value = serde_json::from_slice(b).unwrap();
        assert!(v["anchor"].is_object(), "node {i}: {v}");
        assert!(
            *b == bundles[0],
            "node {i} serves other bytes for the anchored bundle:\n{}\n---\n{}",
            String::from_utf8_lossy(b),
            String::from_utf8_lossy(&bundles[0])
        );
    }

    // Validator 3's operator starts a second copy of it (same validator
    // key, its own home, ports and peer id): the classic double-signing
    // mistake. The honest nodes report the equivocation in the log and in
    // `system_health`, and keep finalizing one chain.
    let twin = Twin::start(&net, 3);
    let start = Instant::now();
    let evidence = loop {
        let s = net.status();
        if let Some(e) = s.iter().take(3).find_map(|n| {
            n["equivocations"]
                .as_array()
                .and_then(|e| e.first().cloned())
        }) {
            break e.as_str().unwrap().to_owned();
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no equivocation reported\n{}\n--- twin ---\n{}",
            net.logs(),
            twin.log_tail()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        evidence.contains("v3 ("),
        "the evidence names validator 3: {evidence}"
    );
    let logged = (0..3).any(|i| {
        std::fs::read_to_string(net.dir.path().join(format!("node-{i}/node.log")))
            .unwrap_or_default()
            .contains("equivocation evidence")
    });
    assert!(logged, "the evidence is logged");
    let h = net.height(0);
    net.wait_height(&[0, 1, 2], h + 3);
    same_chain(&net, &[0, 1, 2], h + 3, 3);
    drop(twin);

    net.cmd(&["down"]);
    assert!(net.status().iter().all(|n| n["running"] == false));
}

/// A second process running validator `i`'s key, killed on drop.
struct Twin {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Twin {
    fn start(net: &Net, i: usize) -> Self {
        let original = net.dir.path().join(format!("node-{i}"));
        let home = net.dir.path().join("twin");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::copy(original.join("validator.key"), home.join("validator.key")).unwrap();
        let config = std::fs::read_to_string(original.join("node.toml")).unwrap();
        let mut config: toml::Table = toml::from_str(&config).unwrap();
        config.remove("anchor");
        config.insert("home".into(), home.to_str().unwrap().into());
        let rpc = format!("127.0.0.1:{}", support::free_port());
        config["rpc"]
            .as_table_mut()
            .unwrap()
            .insert("addr".into(), rpc.into());
        config["p2p"].as_table_mut().unwrap().insert(
            "listen".into(),
            format!("/ip4/127.0.0.1/tcp/{}", support::free_port()).into(),
        );
        let path = home.join("config.toml");
        std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
        let log = home.join("node.log");
        let child = std::process::Command::new(support::bin())
            .args(["node", "--config", path.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self { child, log }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Twin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
