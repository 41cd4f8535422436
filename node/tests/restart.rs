//! Every role of a `pantheon testnet` restarts, after `testnet stop`
//! (SIGTERM) and after kill -9, on every kind of chain (issue 11, defect
//! 1: a validator of a chain whose genesis accounts no block had touched
//! could never start again). The roles: the proposer of the last block, a
//! validator that did not propose it, and a full node. The chains: empty
//! (no transaction at all) and transfers only. After each restart the node
//! is in step with the others and serves the same blocks, and the network
//! still finalizes. A testnet in a relative directory starts and restarts.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use support::testnet::{Net, free_port_block, same_chain};
use support::{Rpc, ok};

const FULL_NODE: usize = 4;

/// A 4-validator testnet with one full node, every node running.
fn net(extra: &[&str]) -> Net {
    let net = Net::new();
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

/// The reproduction uses a relative `--dir`: node processes run in
/// their own homes, so the testnet must resolve it (they failed with "node
/// 0 exited" before).
#[test]
fn a_testnet_in_a_relative_directory_starts_stops_and_restarts() {
    let cwd = tempfile::tempdir().unwrap();
    let base = free_port_block(4).to_string();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(support::bin())
            .arg("testnet")
            .args(args)
            .args(["--dir", "tn"])
            .current_dir(cwd.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "testnet {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(cwd.path().join("tn/node-0/node.log")).unwrap_or_default()
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&[
        "init",
        "--validators",
        "1",
        "--no-bitcoin",
        "--base-port",
        &base,
        "--block-time-ms",
        "200",
    ]);
    run(&["up"]);
    run(&["stop", "0"]);
    run(&["start", "0"]);
    let status: Vec<Value> = serde_json::from_str(&run(&["status", "--json"])).unwrap();
    assert_eq!(status[0]["running"], true, "{status:?}");
    run(&["down"]);
}
