//! A `pantheon testnet` directory driven through the CLI, and checks that
//! nodes serve one chain.
#![allow(dead_code, clippy::unwrap_used, reason = "test support")]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Rpc, ok, pantheon};

/// A testnet directory, brought down on drop.
pub struct Net {
    pub dir: tempfile::TempDir,
}

impl Net {
    /// A new, empty directory.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `testnet init` of 4 validators and one full node with 400 ms blocks
    /// on a free port block (node i uses base + 2i and base + 2i + 1,
    /// bitcoind the two after the nodes), plus `extra` arguments.
    pub fn four_and_a_full_node(extra: &[&str]) -> Self {
        let net = Self::new();
        let base = free_port_block(12).to_string();
        let mut args = vec![
            "init",
            "--validators",
            "4",
            "--full-nodes",
            "1",
            "--base-port",
            &base,
            "--block-time-ms",
            "400",
        ];
        args.extend_from_slice(extra);
        net.cmd(&args);
        net
    }

    pub fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    pub fn cmd(&self, args: &[&str]) -> String {
        let mut all = vec!["testnet"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--dir", self.path()]);
        ok(&all)
    }

    pub fn status(&self) -> Vec<Value> {
        serde_json::from_str(&self.cmd(&["status", "--json"])).unwrap()
    }

    pub fn rpc(&self, i: usize) -> String {
        self.status()[i]["rpc"].as_str().unwrap().to_owned()
    }

    pub fn height(&self, i: usize) -> u64 {
        Rpc::new(&self.rpc(i))
            .call("system_health", vec![])
            .unwrap()["height"]
            .as_u64()
            .unwrap()
    }

    /// Waits until every node in `nodes` reaches `height`.
    pub fn wait_height(&self, nodes: &[usize], height: u64) {
        let start = Instant::now();
        loop {
            let s = self.status();
            if nodes
                .iter()
                .all(|&i| s[i]["height"].as_u64().unwrap() >= height)
            {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "nodes {nodes:?} did not reach height {height}: {s:#?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn logs(&self) -> String {
        let mut out = String::new();
        for i in 0..5 {
            let log = self.dir.path().join(format!("node-{i}/node.log"));
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            out += &format!("--- node {i} ---\n");
            for l in tail.into_iter().rev() {
                out += l;
                out += "\n";
            }
        }
        out
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = pantheon(&["testnet", "down", "--dir", self.path()]);
    }
}

/// The first of `count` free consecutive ports, in a block below the
/// kernel's ephemeral range (32768 and up), so that other tests' outgoing
/// connections cannot take them.
pub fn free_port_block(count: u16) -> u16 {
    let mut seed = u64::from(std::process::id()).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos(),
        );
    loop {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let p = 20_000 + u16::try_from((seed >> 33) % 12_000).unwrap();
        if (0..count).all(|k| std::net::TcpListener::bind(("127.0.0.1", p + k)).is_ok()) {
            return p;
        }
    }
}

/// Block `h` as node `rpc` serves it: (hash, state root, signers).
pub fn block(rpc: &Rpc, h: u64) -> (String, String, u64) {
    let b = rpc.call("chain_getBlock", vec![json!(h)]).unwrap();
    (
        b["hash"].as_str().unwrap().to_owned(),
        b["header"]["state_root"].as_str().unwrap().to_owned(),
        b["signers"].as_u64().unwrap(),
    )
}

/// Every node in `nodes` serves the same blocks 1..=h, each with a
/// certificate of at least `min_signers` signatures.
pub fn same_chain(net: &Net, nodes: &[usize], h: u64, min_signers: u64) {
    let rpcs: Vec<Rpc> = nodes.iter().map(|&i| Rpc::new(&net.rpc(i))).collect();
    for height in 1..=h {
        let first = block(&rpcs[0], height);
        assert!(
            first.2 >= min_signers,
            "height {height}: {} signers",
            first.2
        );
        for (rpc, i) in rpcs.iter().zip(nodes).skip(1) {
            let b = block(rpc, height);
            assert_eq!(
                (&b.0, &b.1),
                (&first.0, &first.1),
                "node {i} differs at height {height}"
            );
        }
    }
}
