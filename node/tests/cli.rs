//! The `pantheon` binary as a user runs it.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

fn pantheon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pantheon"))
        .args(args)
        .output()
        .expect("the pantheon binary runs")
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints JSON")
}

#[test]
fn keys_generate_and_show() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("op.key");
    let p = path.to_str().unwrap();
    let generated = stdout_json(&pantheon(&["keys", "generate", "--out", p, "--json"]));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "key files are private");
    let pem = std::fs::read_to_string(&path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));

    let shown = stdout_json(&pantheon(&["keys", "show", p, "--json"]));
    assert_eq!(shown, generated);
    assert_eq!(shown["id"].as_str().unwrap().len(), 64);
    assert_eq!(shown["public_key"].as_str().unwrap().len(), 2 * 1952);

    // A second generate refuses to destroy the key.
    let again = pantheon(&["keys", "generate", "--out", p]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), pem);
}

#[test]
fn bad_key_files_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.key");
    std::fs::write(&path, "not a key").unwrap();
    let out = pantheon(&["keys", "show", path.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Pantheon key"));
    let missing = pantheon(&["keys", "show", "/nonexistent/key"]);
    assert!(!missing.status.success());
}

#[test]
fn dev_prepares_a_funded_network_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("dev");
    let h = home.to_str().unwrap();
    let first = stdout_json(&pantheon(&["dev", "--home", h, "--init-only", "--json"]));
    let second = stdout_json(&pantheon(&["dev", "--home", h, "--init-only", "--json"]));
    assert_eq!(first["genesis_hash"], second["genesis_hash"]);
    assert_eq!(first["supply"], "5000000000");
    let funder = stdout_json(&pantheon(&[
        "keys",
        "show",
        home.join("dev-funder.key").to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(funder["id"], first["dev_funder"]);
    let genesis: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("genesis.json")).unwrap()).unwrap();
    assert_eq!(genesis["allocations"][0]["account"], first["dev_funder"]);
    assert_eq!(genesis["allocations"][0]["amount"], "5000000000000000000");
}

#[test]
fn anchor_address_follows_the_network_and_keeps_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("anchor").join("bitcoin.key");
    let k = key.to_str().unwrap();
    let address = |network: &str| {
        let out = pantheon(&[
            "anchor",
            "address",
            "--key",
            k,
            "--network",
            network,
            "--json",
        ]);
        assert!(out.status.success(), "{network}: {out:?}");
        stdout_json(&out)["address"].as_str().unwrap().to_owned()
    };
    let regtest = address("regtest");
    assert!(regtest.starts_with("bcrt1q"), "{regtest}");
    assert!(address("testnet4").starts_with("tb1q"));
    assert!(address("signet").starts_with("tb1q"));
    assert!(address("bitcoin").starts_with("bc1q"));
    // The key was created once (mode 0600) and is reused.
    assert_eq!(address("regtest"), regtest);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let bad = pantheon(&["anchor", "address", "--key", k, "--network", "testnet9"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("testnet9"));
}
