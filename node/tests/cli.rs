//! The `pantheon` binary as a user runs it.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

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

/// The top-level subcommands as `pantheon --help` lists them (the clap
/// tree the user sees), without `help`.
fn top_level_commands() -> Vec<String> {
    let out = pantheon(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let commands: Vec<String> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect();
    for known in [
        "submit",
        "verify",
        "testnet",
        "records",
        "completions",
        "man",
    ] {
        assert!(
            commands.iter().any(|c| c == known),
            "{known} in {commands:?}"
        );
    }
    commands
}

#[test]
fn bash_completions_name_every_subcommand() {
    let out = pantheon(&["completions", "bash"]);
    assert!(out.status.success(), "{out:?}");
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.contains("complete -F"), "a bash completion script");
    for command in top_level_commands() {
        assert!(
            script.contains(&format!("pantheon,{command})")),
            "completion of {command} missing"
        );
    }
    // Flags too, from the same definition.
    assert!(script.contains("--log-format"));
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = pantheon(&["completions", shell]);
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
    let bad = pantheon(&["completions", "tcsh"]);
    assert!(!bad.status.success());
}

#[test]
fn man_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man");
    let out = pantheon(&["man", "--out", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let mut expected = vec!["pantheon.1".to_owned()];
    expected.extend(
        top_level_commands()
            .iter()
            .map(|c| format!("pantheon-{c}.1")),
    );
    // Nested commands get theirs; hidden ones (`testnet mine`) none.
    expected.push("pantheon-testnet-up.1".into());
    for name in &expected {
        let page =
            std::fs::read_to_string(out_dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        // The page opens with its title (after roff's two-line definition
        // of the apostrophe string, which every clap_mangen page carries).
        let first = page
            .lines()
            .find(|l| !l.starts_with(".ie \\n(.g .ds Aq") && !l.starts_with(".el .ds Aq"))
            .unwrap();
        assert!(
            first.starts_with(".TH "),
            "{name} starts with .TH: {first:?}"
        );
    }
    assert!(!out_dir.join("pantheon-testnet-mine.1").exists());
    let top = std::fs::read_to_string(out_dir.join("pantheon.1")).unwrap();
    assert!(
        top.contains("completions") && top.contains("log\\-format"),
        "{top}"
    );
}

#[test]
fn a_dev_node_logs_to_a_file_without_terminal_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = support::DevNode::start_with(&dir.path().join("dev"), &["--no-bitcoin"]);
    // Some activity to log: a transfer finalized.
    let op = dir.path().join("op.key");
    let out = pantheon(&["keys", "generate", "--out", op.to_str().unwrap()]);
    assert!(out.status.success());
    let transfer = pantheon(&[
        "transfer",
        "--key",
        node.funder_key().to_str().unwrap(),
        "--to",
        op.to_str().unwrap(),
        "--amount",
        "1",
        "--wait",
        "--rpc",
        &node.rpc,
    ]);
    assert!(transfer.status.success(), "{transfer:?}");
    // Its --wait progress went to a pipe: plain lines, the last one final.
    let progress = String::from_utf8(transfer.stderr).unwrap();
    assert_plain(&progress);
    assert!(
        progress
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .contains("finalized"),
        "{progress}"
    );
    node.kill();
    let log = std::fs::read(&node.log).unwrap();
    let text = String::from_utf8_lossy(&log);
    assert!(text.contains("JSON-RPC on http://"), "{text}");
    assert!(text.contains(" INFO "), "text logs: {text}");
    assert!(
        !log.contains(&0x1b),
        "no ANSI escape in the log file:\n{text}"
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = support::DevNode::start_with(
        &dir.path().join("dev"),
        &["--no-bitcoin", "--log-format", "json"],
    );
    node.kill();
    let text = std::fs::read_to_string(&node.log).unwrap();
    let mut lines = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert!(v.is_object(), "{line}");
        assert!(v["level"].is_string(), "level in {line}");
        assert!(v["target"].is_string(), "target in {line}");
        assert!(v["fields"].is_object(), "fields in {line}");
        lines += 1;
    }
    assert!(lines >= 2, "{text}");
    assert!(
        text.contains("JSON-RPC on http://"),
        "the announcement is a JSON line too: {text}"
    );
    // The environment variable chooses the same, and a bad value is refused.
    let bad = Command::new(env!("CARGO_BIN_EXE_pantheon"))
        .args(["keys", "show", "/nonexistent"])
        .env("PANTHEON_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("PANTHEON_LOG_FORMAT"));
}

/// Progress written to a pipe: no carriage return, no escape code.
fn assert_plain(stderr: &str) {
    assert!(!stderr.contains('\r'), "a carriage return in {stderr:?}");
    assert!(!stderr.contains('\u{1b}'), "an escape code in {stderr:?}");
}

#[test]
fn testnet_up_progress_in_a_pipe_is_plain_lines_ending_with_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("tn");
    let d = d.to_str().unwrap();
    let base = support::testnet::free_port_block(4).to_string();
    let init = pantheon(&[
        "testnet",
        "init",
        "--validators",
        "2",
        "--no-bitcoin",
        "--block-time-ms",
        "250",
        "--base-port",
        &base,
        "--dir",
        d,
    ]);
    assert!(init.status.success(), "{init:?}");
    let up = pantheon(&["testnet", "up", "--dir", d]);
    let down = pantheon(&["testnet", "down", "--dir", d]);
    assert!(up.status.success(), "{up:?}");
    assert!(down.status.success(), "{down:?}");
    let stderr = String::from_utf8(up.stderr).unwrap();
    assert_plain(&stderr);
    let last = stderr.trim_end().lines().last().unwrap();
    assert!(
        last.starts_with("testnet up: 2/2 nodes ready"),
        "the final count line: {stderr}"
    );
    // Bounded: not a line per poll.
    assert!(stderr.lines().count() < 40, "{stderr}");
}
