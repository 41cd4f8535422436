//! Bitcoin anchoring end to end, against a real regtest bitcoind: a dev
//! network anchors, `submit --wait anchored` and `proof --wait anchored`
//! work, the bundle verifies offline at k=1 and k=6 and fails when asked for
//! more confirmations than it carries; a reorg that drops the anchor turns
//! the status back to `finalized`, then `anchored` again in another block,
//! and the old bundle fails `verify --bitcoin-rpc`. The WebSocket status
//! subscriptions (of the submission and of its operator) push every one of
//! those changes, and `pantheon_getSubmission` names the anchor.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pantheon_anchor::bitcoin::{Address, BlockHash, Network};
use pantheon_anchor::{AnchorKey, Auth, BitcoinRpc};
use pantheon_runtime::hash::Hash256;
use pantheon_runtime::proof::ProofBundle;
use serde_json::Value;
use support::{DevNode, ok, pantheon};

/// The dev network's bitcoind, reached like any client would.
struct Bitcoin {
    rpc: BitcoinRpc,
    cookie: PathBuf,
    rt: tokio::runtime::Runtime,
    to: Address,
}

impl Bitcoin {
    /// Finds the URL the node printed and the cookie in its data directory.
    fn of(node: &DevNode) -> Self {
        let url = node.bitcoind_url();
        let cookie = node.home.join("bitcoind/regtest/.cookie");
        let key = AnchorKey::generate().unwrap();
        Self {
            rpc: BitcoinRpc::new(url, Auth::Cookie(cookie.clone())),
            cookie,
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            to: key.address(Network::Regtest),
        }
    }

    fn mine(&self, n: u64) {
        self.rt
            .block_on(self.rpc.generate_to_address(n, &self.to))
            .unwrap();
    }

    /// A block without the mempool's transactions.
    fn mine_empty(&self) {
        self.rt
            .block_on(self.rpc.generate_block(&self.to, &[]))
            .unwrap();
    }

    fn invalidate(&self, hash: &BlockHash) {
        self.rt.block_on(self.rpc.invalidate_block(hash)).unwrap();
    }
}

/// Collects the (status, anchor txid, anchor block) notifications of a
/// WebSocket subscription in the background.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, Value, Value)>>>;

fn watch(rpc: &str, method: &'static str, params: Vec<Value>) -> Seen {
    use jsonrpsee::core::client::SubscriptionClientT;
    let seen: Seen = Seen::default();
    let out = seen.clone();
    let url = rpc.replacen("http", "ws", 1);
    let unsubscribe = method.replace("subscribe", "unsubscribe");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let ws = jsonrpsee::ws_client::WsClientBuilder::default()
                .build(&url)
                .await
                .unwrap();
            let mut p = jsonrpsee::core::params::ArrayParams::new();
            for v in params {
                p.insert(v).unwrap();
            }
            let mut sub = ws
                .subscribe::<Value, _>(method, p, &unsubscribe)
                .await
                .unwrap();
            while let Some(Ok(info)) = sub.next().await {
                out.lock().unwrap().push((
                    info["status"].as_str().unwrap().to_owned(),
                    info["anchor"]["txid"].clone(),
                    info["anchor"]["bitcoin_block"].clone(),
                ));
            }
        });
    });
    seen
}

fn status(node: &DevNode, id: &str) -> String {
    node.call("pantheon_getSubmission", vec![Value::from(id)])
        .unwrap()["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Mines a block at a time until `id` has `want` status.
fn mine_until(node: &DevNode, btc: &Bitcoin, id: &str, want: &str) {
    let start = Instant::now();
    while status(node, id) != want {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{id} never became {want}; log:\n{}",
            std::fs::read_to_string(&node.log).unwrap_or_default()
        );
        btc.mine(1);
        std::thread::sleep(Duration::from_millis(700));
    }
}

fn verify(bundle: &Path, extra: &[&str]) -> (bool, Value) {
    // The dev network's genesis file sits next to the bundles' node home.
    let genesis = bundle.with_file_name("dev").join("genesis.json");
    let mut args = vec![
        "verify",
        bundle.to_str().unwrap(),
        "--genesis",
        genesis.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = pantheon(&args);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.success(), v)
}

fn bundle(node: &DevNode, id: &str, path: &Path) -> ProofBundle {
    support::fetch_proof(&node.rpc, id, path, &[])
}

#[test]
fn anchored_proofs_verify_down_to_bitcoin_and_follow_a_reorg() {
    let dir = tempfile::tempdir().unwrap();
    // The test mines (0: the node does not), anchoring every 2 blocks.
    let node = DevNode::start_with(
        &dir.path().join("dev"),
        &["--anchor-every", "2", "--bitcoin-block-secs", "0"],
    );
    let btc = Bitcoin::of(&node);
    let (key, _) = node.operator(dir.path(), "clinic", "10");
    let receipt: Value = serde_json::from_str(&ok(&[
        "submit",
        "--key",
        key.to_str().unwrap(),
        "--root",
        &Hash256::digest(b"ward 7, batch 1").to_string(),
        "--wait",
        "finalized",
        "--rpc",
        &node.rpc,
    ]))
    .unwrap();
    let id = receipt["id"].as_str().unwrap().to_owned();
    assert_eq!(receipt["status"], "finalized");
    let pushed = watch(
        &node.rpc,
        "pantheon_subscribeSubmission",
        vec![Value::from(&*id)],
    );
    let operator = receipt["operator"].clone();
    let pushed_op = watch(
        &node.rpc,
        "pantheon_subscribeOperator",
        vec![operator, Value::from(0)],
    );

    // One block carries the anchor: anchored with one confirmation.
    mine_until(&node, &btc, &id, "anchored");
    let p1 = dir.path().join("k1.json");
    let first = bundle(&node, &id, &p1);
    assert!(
        first.anchor.is_some(),
        "an anchored bundle has its anchor part"
    );
    let (valid, v) = verify(&p1, &[]);
    assert!(valid, "{v}");
    let (valid, v) = verify(&p1, &["--confirmations", "7"]);
    assert!(!valid);
    assert_eq!(v["failed_link"], "bitcoin", "{v}");
    let cookie = btc.cookie.to_str().unwrap();
    let (valid, v) = verify(
        &p1,
        &["--bitcoin-rpc", btc.rpc.url(), "--bitcoin-cookie", cookie],
    );
    assert!(valid, "{v}");

    // The Bitcoin part was built once, with the genesis's one header, and
    // recorded on chain: six more blocks change nothing a node serves.
    // Six confirmations are then for a live node to vouch for.
    btc.mine(6);
    std::thread::sleep(Duration::from_millis(1500));
    let p6 = dir.path().join("k6.json");
    let six = bundle(&node, &id, &p6);
    assert_eq!(six, first, "the served bundle is the recorded one");
    assert_eq!(
        std::fs::read(&p6).unwrap(),
        std::fs::read(&p1).unwrap(),
        "byte for byte"
    );
    let six = six.anchor.unwrap().bitcoin;
    assert_eq!(six.headers.len(), 1);
    let (valid, _) = verify(&p6, &["--confirmations", "6"]);
    assert!(!valid, "one header carried, no live node to vouch for six");
    let live = ["--bitcoin-rpc", btc.rpc.url(), "--bitcoin-cookie", cookie];
    let (valid, v) = verify(&p6, &[&live[..], &["--confirmations", "7"]].concat());
    assert!(valid, "{v}");
    assert_eq!(
        v["trust"]["bitcoin"]["backed_by"]["kind"], "live_node",
        "{v}"
    );
    let (valid, _) = verify(&p6, &[&live[..], &["--confirmations", "1000"]].concat());
    assert!(!valid, "far fewer than 1,000 confirmations exist");

    // A reorg drops the anchor's block: back to finalized.
    let old_block: BlockHash = six.block_hash().unwrap().to_string().parse().unwrap();
    btc.invalidate(&old_block);
    for _ in 0..8 {
        btc.mine_empty();
    }
    let start = Instant::now();
    while status(&node, &id) != "finalized" {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still anchored after the reorg"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (valid, v) = verify(
        &p6,
        &["--bitcoin-rpc", btc.rpc.url(), "--bitcoin-cookie", cookie],
    );
    assert!(!valid, "the old bundle's block left the best chain");
    assert_eq!(v["failed_link"], "bitcoin", "{v}");

    // The anchor confirms again, in another block.
    mine_until(&node, &btc, &id, "anchored");
    let p2 = dir.path().join("again.json");
    let again = bundle(&node, &id, &p2);
    let (valid, v) = verify(
        &p2,
        &["--bitcoin-rpc", btc.rpc.url(), "--bitcoin-cookie", cookie],
    );
    assert!(valid, "{v}");
    assert_ne!(
        again.anchor.unwrap().bitcoin.headers[0],
        six.headers[0],
        "anchored again in a different block"
    );
    let anchors = node
        .call("anchor_list", vec![Value::from(0), Value::from(1000)])
        .unwrap();
    assert!(anchors.as_array().unwrap().len() >= 2, "{anchors}");

    // `pantheon_getSubmission` names the anchor; both subscriptions pushed
    // finalized, anchored, finalized (the reorg), anchored in another block.
    let info = node
        .call("pantheon_getSubmission", vec![Value::from(&*id)])
        .unwrap();
    assert_eq!(info["status"], "anchored");
    assert!(info["anchor"]["txid"].is_string(), "{info}");
    assert!(info["anchor"]["bitcoin_block"].is_string(), "{info}");
    assert!(
        info["anchor"]["confirmations"].as_u64().unwrap() >= 1,
        "{info}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    for seen in [&pushed, &pushed_op] {
        let seen = seen.lock().unwrap().clone();
        let statuses: Vec<&str> = seen.iter().map(|(s, _, _)| s.as_str()).collect();
        assert_eq!(
            statuses,
            ["finalized", "anchored", "finalized", "anchored"],
            "{seen:?}"
        );
        assert_ne!(seen[1].2, seen[3].2, "anchored again in another block");
        assert_eq!(seen[3].2, info["anchor"]["bitcoin_block"]);
    }

    // With bitcoind stopped, the node still serves the anchored bundle it
    // served before, byte for byte, from its own store.
    btc.rt.block_on(btc.rpc.stop()).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let down = dir.path().join("bitcoind-down.json");
    let out = ok(&[
        "proof",
        &id,
        "--wait",
        "anchored",
        "--out",
        down.to_str().unwrap(),
        "--rpc",
        &node.rpc,
    ]);
    let _ = out;
    assert_eq!(
        std::fs::read(&down).unwrap(),
        std::fs::read(&p2).unwrap(),
        "the same bytes with bitcoind down"
    );
    let (valid, v) = verify(&down, &[]);
    assert!(valid, "{v}");
}

/// Issue 15: the managed bitcoind of `pantheon dev` is supervised. Killed
/// with SIGKILL, it is reaped and restarted (reported in `system_health`),
/// an anchored submission stays `anchored` all the while (only a reorg
/// takes an anchor away), and anchoring resumes without a node restart.
#[test]
fn a_killed_managed_bitcoind_is_restarted_and_anchored_stays_anchored() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("dev");
    let node = DevNode::start_with(&home, &["--anchor-every", "2", "--bitcoin-block-secs", "1"]);
    let (key, _) = node.operator(dir.path(), "clinic", "10");
    let submit = |root: &[u8]| -> String {
        let receipt = support::submit(
            &key,
            &Hash256::digest(root).to_string(),
            &node.rpc,
            "anchored",
        );
        assert_eq!(receipt["status"], "anchored", "{receipt}");
        receipt["id"].as_str().unwrap().to_owned()
    };
    let id = submit(b"before the kill");
    let health = || node.call("system_health", vec![]).unwrap();
    assert_eq!(health()["bitcoind"]["running"], true, "{}", health());
    assert_eq!(health()["bitcoind"]["restarts"], 0);

    let pid_file = home.join("bitcoind/regtest/bitcoind.pid");
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_owned();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(killed.success());

    // While it is down and restarting, the submission stays anchored.
    let start = Instant::now();
    let mut saw_down = false;
    let restarted = loop {
        assert_eq!(
            status(&node, &id),
            "anchored",
            "left anchored without a reorg"
        );
        let h = health();
        if h["bitcoind"]["running"] == false {
            saw_down = true;
            assert!(
                h["warnings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|w| w.as_str().unwrap().starts_with("bitcoind: ")),
                "{h}"
            );
        }
        if h["bitcoind"]["restarts"] == 1 && h["bitcoind"]["running"] == true {
            break h;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "bitcoind not restarted: {h}\n{}",
            std::fs::read_to_string(&node.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        restarted["bitcoind"]["last_exit"]
            .as_str()
            .unwrap()
            .contains('9'),
        "the exit names SIGKILL: {restarted}"
    );
    assert!(
        saw_down || start.elapsed() > Duration::from_secs(1),
        "{restarted}"
    );
    // Reaped: the old process is gone, not a zombie.
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "bitcoind {pid} not reaped"
    );
    let new_pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_owned();
    assert_ne!(new_pid, pid);

    // Anchoring resumes by itself.
    submit(b"after the restart");
    assert_eq!(status(&node, &id), "anchored");
    assert!(
        !restarted["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().starts_with("bitcoind: ")),
        "{restarted}"
    );
}
