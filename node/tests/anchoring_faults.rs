//! Anchoring under faults, with `pantheon node --config` and a bitcoind the
//! test runs itself: an empty wallet is reported and blocks keep
//! finalizing; bitcoind stopped for a while loses nothing and anchoring
//! catches up; the node killed at random moments while it anchors never
//! anchors one commitment twice and records every anchor it made.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pantheon_anchor::bitcoin::{Address, Network};
use pantheon_anchor::{AnchorKey, AnchorPayload, Regtest};
use pantheon_runtime::hash::Hash256;
use serde_json::Value;
use support::{Rpc, bin, free_port, ok, operator};

struct Node {
    child: Option<Child>,
    config: String,
    log: std::path::PathBuf,
    rpc: String,
}

impl Node {
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        self.child = Some(
            Command::new(bin())
                .args(["node", "--config", &self.config])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        let start = Instant::now();
        while Rpc::new(&self.rpc).call("system_health", vec![]).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "node did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn health(&self) -> Value {
        Rpc::new(&self.rpc).call("system_health", vec![]).unwrap()
    }

    fn height(&self) -> u64 {
        self.health()["height"].as_u64().unwrap()
    }

    fn wait(&self, what: &str, mut f: impl FnMut(&Self) -> bool) {
        let start = Instant::now();
        while !f(self) {
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "timed out waiting for {what}; log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn status(node: &Node, id: &str) -> String {
    Rpc::new(&node.rpc)
        .call("pantheon_getSubmission", vec![Value::from(id)])
        .unwrap()["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every anchor payload in bitcoind's best chain, by commitment: the
/// transactions carrying it.
fn anchors_in_chain(rt: &tokio::runtime::Runtime, btc: &Regtest) -> BTreeMap<Hash256, Vec<String>> {
    let rpc = btc.rpc();
    let tip = rt.block_on(rpc.get_block_count()).unwrap();
    let mut out: BTreeMap<Hash256, Vec<String>> = BTreeMap::new();
    for h in 1..=tip {
        let hash = rt.block_on(rpc.get_block_hash(h)).unwrap();
        let block = rt.block_on(rpc.get_block(&hash)).unwrap();
        for tx in &block.txdata {
            for o in &tx.output {
                if let Ok(p) = AnchorPayload::from_script(o.script_pubkey.as_bytes()) {
                    out.entry(p.commitment())
                        .or_default()
                        .push(tx.compute_txid().to_string());
                }
            }
        }
    }
    out
}

#[test]
fn empty_wallet_outage_and_kills_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut btc = rt
        .block_on(Regtest::start(dir.path().join("bitcoind")))
        .unwrap();
    let miner: Address = AnchorKey::generate().unwrap().address(Network::Regtest);
    rt.block_on(btc.mine(1, &miner)).unwrap();

    // A validator home (genesis and keys) and a config that anchors to the
    // test's bitcoind every 2 blocks.
    let home = dir.path().join("node");
    ok(&["dev", "--home", home.to_str().unwrap(), "--init-only"]);
    let port = free_port();
    let config = home.join("node.toml");
    std::fs::write(
        &config,
        format!(
            "home = {home:?}\nvalidator_key = \"validator.key\"\n[rpc]\naddr = \"127.0.0.1:{port}\"\n\
             [consensus]\nblock_time_ms = 250\n[anchor]\nnetwork = \"regtest\"\n\
             bitcoin_rpc = \"{}\"\nrpc_cookie = {:?}\nkey = \"anchor/bitcoin.key\"\nevery_blocks = 2\n",
            btc.rpc_url(),
            btc.cookie_file()
        ),
    )
    .unwrap();
    let mut node = Node {
        child: None,
        config: config.to_str().unwrap().to_owned(),
        log: dir.path().join("node.log"),
        rpc: format!("http://127.0.0.1:{port}"),
    };
    node.start();

    // Empty wallet: a clear warning naming the address; blocks go on.
    let address: Value = serde_json::from_str(&ok(&[
        "anchor",
        "address",
        "--key",
        home.join("anchor/bitcoin.key").to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    let address = address["address"].as_str().unwrap().to_owned();
    node.wait("a no-funds warning", |n| {
        n.health()["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains(&address))
    });
    let h = node.height();
    node.wait("blocks without funds", |n| n.height() >= h + 4);

    // Funded: anchors flow.
    let funded: Address = address.parse::<Address<_>>().unwrap().assume_checked();
    rt.block_on(btc.mine(101, &funded)).unwrap();
    let funder = home.join("dev-funder.key");
    let (key, _) = operator(&node.rpc, &funder, dir.path(), "lab", "10");
    let rpc_url = node.rpc.clone();
    let submit = |root: &[u8]| -> String {
        let out: Value = serde_json::from_str(&ok(&[
            "submit",
            "--key",
            key.to_str().unwrap(),
            "--root",
            &Hash256::digest(root).to_string(),
            "--wait",
            "finalized",
            "--rpc",
            &rpc_url,
        ]))
        .unwrap();
        out["id"].as_str().unwrap().to_owned()
    };
    // Mines a block at a time until submission `id` is anchored.
    let anchor = |node: &Node, btc: &Regtest, id: &str, when: &str| {
        let start = Instant::now();
        while status(node, id) != "anchored" {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "not anchored {when}"
            );
            rt.block_on(btc.mine(1, &miner)).unwrap();
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    let first = submit(b"first");
    anchor(&node, &btc, &first, "once funded");

    // bitcoind down for a while: reported, blocks and submissions go on.
    rt.block_on(btc.stop()).unwrap();
    node.wait("an unreachable warning", |n| {
        !n.health()["warnings"].as_array().unwrap().is_empty()
    });
    let during = submit(b"during the outage");
    assert_eq!(status(&node, &during), "finalized");
    rt.block_on(btc.restart()).unwrap();
    anchor(&node, &btc, &during, "after bitcoind returned");

    // Killed at varied moments while anchoring (between broadcast and
    // recording among them): restarted each time.
    for i in 0..6u64 {
        rt.block_on(btc.mine(1, &miner)).unwrap();
        std::thread::sleep(Duration::from_millis(150 + 170 * i));
        node.kill();
        node.start();
    }
    let last = submit(b"after the kills");
    anchor(&node, &btc, &last, "after the kills");
    // Let recording settle, then compare Bitcoin with the chain's records.
    rt.block_on(btc.mine(1, &miner)).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let in_chain = anchors_in_chain(&rt, &btc);
    assert!(!in_chain.is_empty());
    for (commitment, txs) in &in_chain {
        assert_eq!(
            txs.len(),
            1,
            "commitment {commitment} anchored twice: {txs:?}"
        );
    }
    let recorded = Rpc::new(&node.rpc)
        .call("anchor_list", vec![Value::from(0), Value::from(10_000)])
        .unwrap();
    let recorded: Vec<String> = recorded
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["txid"].as_str().unwrap().to_owned())
        .collect();
    for txs in in_chain.values() {
        assert!(
            recorded.contains(&txs[0]),
            "anchor {} in Bitcoin but never recorded on chain (orphan); recorded {recorded:?}",
            txs[0]
        );
    }
    drop(node);
    drop(btc);
}
