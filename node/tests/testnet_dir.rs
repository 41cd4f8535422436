//! A testnet in a relative directory (issue 11's reproduction uses
//! `--dir tn`): node processes run in their own homes, so the testnet must
//! resolve the path; every node exited at start before it did. Alone in
//! its test binary, so that no other testnet takes its ports meanwhile.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use serde_json::Value;
use support::testnet::free_port_block;

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
