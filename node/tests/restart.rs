//! Every role of a `pantheon testnet` restarts, after `testnet stop`
//! (SIGTERM) and after kill -9, on every kind of chain (issue 11, defect
//! 1: a validator of a chain whose genesis accounts no block had touched
//! could never start again). The roles: the proposer of the last block, a
//! validator that did not propose it, and a full node. The chains: empty
//! (no transaction at all), transfers only, and submissions with anchor
//! records. After each restart the node is in step with the others and
//! serves the same blocks; an on-chain anchor record replayed through RPC
//! is refused before and after the restarts, and no block carries it twice.
//! (`testnet_dir.rs` covers a testnet in a relative directory.)

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pantheon_runtime::hash::Hash256;
use serde_json::{Value, json};
use support::testnet::{Net, same_chain};
use support::{Rpc, ok, operator};

const FULL_NODE: usize = 4;

/// One testnet at a time: two 5-node testnets (and a bitcoind) on 2 cores
/// left a syncing full node behind a 400 ms chain for over two minutes.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A 4-validator testnet with one full node, every node running.
fn net(extra: &[&str]) -> Net {
    let net = Net::four_and_a_full_node(extra);
    net.cmd(&["up"]);
    net
}

/// The proposer of node 0's last finalized block.
fn last_proposer(net: &Net) -> usize {
    let head = Rpc::new(&net.rpc(0)).call("chain_getHead", vec![]).unwrap();
    usize::try_from(head["header"]["proposer"].as_u64().unwrap()).unwrap()
}

/// Stops node `i` (SIGTERM through the CLI, or SIGKILL), starts it again,
/// and checks that it is in step with node `witness` and serves the same
/// chain.
fn restart(net: &Net, i: usize, sigkill: bool, what: &str) {
    if sigkill {
        let pid = net.status()[i]["pid"].as_u64().unwrap();
        kill(Pid::from_raw(i32::try_from(pid).unwrap()), Signal::SIGKILL).unwrap();
        let start = Instant::now();
        while net.status()[i]["running"] == true {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{what}: still running"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    } else {
        net.cmd(&["stop", &i.to_string()]);
    }
    let witness = if i == 0 { 1 } else { 0 };
    // Fails with "node i exited" if the node cannot reopen its store.
    net.cmd(&["start", &i.to_string()]);
    let h = net.height(witness);
    net.wait_height(&[i], h);
    same_chain(net, &[witness, i], h, 3);
    eprintln!("{what}: restarted, in step at height {h}");
}

/// Restarts every role after a stop and after a kill -9.
fn restart_every_role(net: &Net, chain: &str) {
    for sigkill in [false, true] {
        let how = if sigkill { "kill -9" } else { "stop" };
        let proposer = last_proposer(net);
        restart(net, proposer, sigkill, &format!("{chain}, proposer, {how}"));
        let other = (last_proposer(net) + 1) % 4;
        restart(
            net,
            other,
            sigkill,
            &format!("{chain}, non-proposer, {how}"),
        );
        restart(
            net,
            FULL_NODE,
            sigkill,
            &format!("{chain}, full node, {how}"),
        );
    }
    // And the network as a whole still finalizes.
    let h = net.height(0);
    net.wait_height(&[0, 1, 2, 3, FULL_NODE], h + 3);
}

/// The number of transactions in blocks `1..=head` of node `rpc`.
fn tx_count(rpc: &Rpc) -> usize {
    let head = rpc.call("chain_getHead", vec![]).unwrap()["header"]["height"]
        .as_u64()
        .unwrap();
    (1..=head)
        .map(|h| {
            rpc.call("chain_getBlock", vec![json!(h)]).unwrap()["tx_ids"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum()
}

#[test]
fn every_role_restarts_on_an_empty_chain_and_on_a_chain_of_transfers() {
    let _serial = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let net = net(&["--no-bitcoin"]);
    net.wait_height(&[0, 1, 2, 3, 4], 3);
    restart_every_role(&net, "empty chain");
    assert_eq!(
        tx_count(&Rpc::new(&net.rpc(0))),
        0,
        "the chain stayed empty"
    );

    let funder = net.dir.path().join("funder.key");
    for (n, rpc) in [(1u8, 1), (2, 4)] {
        let to = pantheon_runtime::crypto::Keypair::from_seed(&[n; 32]).id();
        ok(&[
            "transfer",
            "--key",
            funder.to_str().unwrap(),
            "--to",
            &to.to_string(),
            "--amount",
            "1",
            "--wait",
            "--rpc",
            &net.rpc(rpc),
        ]);
    }
    restart_every_role(&net, "transfers");
    let supply = Rpc::new(&net.rpc(FULL_NODE))
        .call("pan_getSupply", vec![])
        .unwrap();
    assert_eq!(supply["conserved"], true, "{supply}");
}

/// The first anchor record on node `rpc`'s chain: (height, id, hex).
fn first_anchor_record(rpc: &Rpc) -> Option<(u64, String, String)> {
    let head = rpc.call("chain_getHead", vec![]).unwrap()["header"]["height"]
        .as_u64()
        .unwrap();
    (1..=head).find_map(|h| {
        let b = rpc
            .call("chain_getBlock", vec![json!(h), json!(true)])
            .unwrap();
        let txs = b["txs"].as_array().unwrap();
        txs.iter()
            .position(|t| {
                let t = t.as_str().unwrap();
                t.starts_with("0104") || t.starts_with("0105")
            })
            .map(|i| {
                (
                    h,
                    b["tx_ids"][i].as_str().unwrap().to_owned(),
                    txs[i].as_str().unwrap().to_owned(),
                )
            })
    })
}

/// Issue 11, defect 2, as an attacker would try it: the bytes of an
/// on-chain anchor record sent again are refused with code 1022.
fn replay_is_refused(rpc: &Rpc, hex: &str) {
    let err = rpc
        .call("pantheon_submitTransaction", vec![json!(hex)])
        .expect_err("a replayed anchor record is refused");
    assert_eq!(err.0, 1022, "{}", err.1);
}

/// Blocks `1..=head` of `rpc` that carry transaction `id`.
fn blocks_carrying(rpc: &Rpc, id: &str) -> Vec<u64> {
    let head = rpc.call("chain_getHead", vec![]).unwrap()["header"]["height"]
        .as_u64()
        .unwrap();
    (1..=head)
        .filter(|&h| {
            rpc.call("chain_getBlock", vec![json!(h)]).unwrap()["tx_ids"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == id)
        })
        .collect()
}

#[test]
fn every_role_restarts_on_a_chain_with_submissions_and_anchor_records() {
    let _serial = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let net = net(&["--anchor-every", "5"]);
    let funder = net.dir.path().join("funder.key");
    let (alice, _) = operator(&net.rpc(0), &funder, net.dir.path(), "alice", "10");
    let mut last = String::new();
    for n in 0..3u8 {
        let root = Hash256::digest(&[n]).to_string();
        let rpc = net.rpc(usize::from(n) % 5);
        let receipt: Value = serde_json::from_str(&ok(&[
            "submit",
            "--key",
            alice.to_str().unwrap(),
            "--root",
            &root,
            "--wait",
            "finalized",
            "--json",
            "--rpc",
            &rpc,
        ]))
        .unwrap();
        assert_eq!(receipt["status"], "finalized", "{receipt}");
        last = receipt["id"].as_str().unwrap().to_owned();
        // The next submit asks another node for the next sequence number:
        // let every node hold this one first (a lagging node would hand
        // out a used number, and its submission would be dropped as stale).
        net.wait_height(
            &[0, 1, 2, 3, FULL_NODE],
            receipt["height"].as_u64().unwrap(),
        );
    }

    // Wait for an anchor record on chain.
    let rpc = Rpc::new(&net.rpc(0));
    let start = Instant::now();
    let (carried_in, id, hex) = loop {
        if let Some(found) = first_anchor_record(&rpc) {
            break found;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no anchor record on chain\n{}",
            net.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    for node in [0, 2, FULL_NODE] {
        replay_is_refused(&Rpc::new(&net.rpc(node)), &hex);
    }

    restart_every_role(&net, "submissions and anchor records");

    // The restarted nodes rebuilt the set of recorded anchors: the replay
    // is still refused everywhere, and no block carries the record twice.
    for node in 0..5 {
        replay_is_refused(&Rpc::new(&net.rpc(node)), &hex);
    }
    let h = net.height(0);
    net.wait_height(&[0, 1, 2, 3, 4], h + 2);
    // A new client: node 0 restarted under the first one's connections.
    let rpc = Rpc::new(&net.rpc(0));
    assert_eq!(blocks_carrying(&rpc, &id), vec![carried_in]);
    let info = rpc
        .call("pantheon_getSubmission", vec![json!(last)])
        .unwrap();
    assert!(
        info["status"] == "finalized" || info["status"] == "anchored",
        "{info}"
    );
}
