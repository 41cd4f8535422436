//! The explorer (`web/explorer.html`, `GET /explorer`) against a live
//! `pantheon dev` anchoring to its regtest bitcoind. The node must serve
//! the committed page with its Content-Security-Policy; then Debian's
//! headless Chromium (`web/test/explorer.mjs`, playwright-core) uses it as a
//! person would: finds a submission made here by its id in the search box,
//! follows it to its block, to its Bitcoin anchor and to its proof, and the
//! verifier page it opens with the bundle preloaded verifies it. What the
//! page showed must equal the node's answers, the downloaded bundle and
//! supply proof must verify with `pantheon verify`, and the run fails on any
//! request outside the node's origin. Screenshots of every view are kept in
//! `target/tmp/explorer/`.

#![allow(clippy::unwrap_used, clippy::too_many_lines, reason = "tests")]

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use pantheon_runtime::hash::Hash256;
use serde_json::{Value, json};
use support::web::{ensure_web, web_dir};
use support::{DevNode, ok, submit};

/// `GET path` on the node's RPC port, raw: (lower-cased head, body).
fn get(rpc: &str, path: &str) -> (String, String) {
    let addr = rpc.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8(answer).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.to_ascii_lowercase(), body.to_owned())
}

fn verify_json(path: &Path) -> Value {
    let out = support::pantheon(&["verify", path.to_str().unwrap(), "--json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "pantheon verify {}: no JSON ({e}): {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn the_explorer_follows_a_submission_to_its_block_anchor_and_verified_proof() {
    ensure_web();
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start_with(
        &dir.path().join("dev"),
        &["--anchor-every", "2", "--bitcoin-block-secs", "1"],
    );

    // Served on the RPC port with the policy that allows only this origin.
    let (head, body) = get(&node.rpc, "/explorer");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/html"), "{head}");
    let csp = head
        .lines()
        .find_map(|l| l.strip_prefix("content-security-policy: "))
        .unwrap_or_else(|| panic!("no policy: {head}"));
    assert_eq!(csp, pantheon_rpc::pages::EXPLORER_CSP.to_ascii_lowercase());
    assert!(csp.contains("connect-src 'self'") && csp.starts_with("default-src 'none'"));
    let committed = std::fs::read_to_string(web_dir().join("explorer.html")).unwrap();
    assert!(
        body == committed,
        "the node serves the committed web/explorer.html"
    );

    // An operator and a chain of three submissions; the last one anchored.
    let (key, kp) = node.operator(dir.path(), "clinic", "10");
    let operator = kp.id().to_string();
    let mut last = Value::Null;
    for i in 0..3 {
        let root = Hash256::digest(format!("explorer batch {i}").as_bytes()).to_string();
        last = submit(&key, &root, &node.rpc, "finalized");
    }
    let id = last["id"].as_str().unwrap().to_owned();
    let cli_bundle = dir.path().join("cli-bundle.json");
    ok(&[
        "proof",
        &id,
        "--wait",
        "anchored",
        "--out",
        cli_bundle.to_str().unwrap(),
        "--rpc",
        &node.rpc,
    ]);
    let info = node
        .call("pantheon_getSubmission", vec![json!(id)])
        .unwrap();
    assert_eq!(info["status"], "anchored", "{info}");
    let anchor = info["anchor"].clone();

    // The page, in Chromium.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("explorer");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let case = out.join("case.json");
    std::fs::write(
        &case,
        json!({"origin": node.rpc, "submission": id, "operator": operator, "supply_height": 2})
            .to_string(),
    )
    .unwrap();
    let status = Command::new("node")
        .arg(web_dir().join("test/explorer.mjs"))
        .arg(&case)
        .arg(&out)
        .status()
        .expect("node (Node.js 20) runs the explorer driver");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(
        report["foreign_requests"],
        json!([]),
        "the page made a request outside the node's origin"
    );
    assert_eq!(report["errors"], json!([]), "page or console errors");
    assert!(
        status.success() && report["failure"].is_null(),
        "the explorer run failed: {report:#}"
    );
    let shown = &report["shown"];
    let caught = shown["watch_catches"].as_array().unwrap();
    assert!(
        caught
            .iter()
            .any(|c| c.as_str().unwrap().contains("localhost:9")),
        "the request watch must catch a page that tries another origin: {caught:?}"
    );

    // What the page showed is what the node answers.
    let moved = shown["live_head_moved"].as_array().unwrap();
    assert!(
        moved[1].as_u64() > moved[0].as_u64(),
        "live head: {moved:?}"
    );
    assert_eq!(shown["submission_id"], json!(id));
    assert_eq!(shown["submission_status"], "anchored");
    assert_eq!(shown["block"], info["height"]);
    assert_eq!(shown["block_lists_it"], true);
    assert!(
        shown["block_signed_by"]
            .as_str()
            .unwrap()
            .starts_with("1 of 1 validators"),
        "{}",
        shown["block_signed_by"]
    );
    let a = &shown["anchor"];
    assert_eq!(a["id"], anchor["id"]);
    assert_eq!(a["txid"], anchor["txid"]);
    assert_eq!(a["bitcoin_block"], anchor["bitcoin_block"]);
    assert_eq!(
        a["bitcoin_height"].as_str().unwrap(),
        anchor["bitcoin_height"].to_string()
    );
    assert!(a["confirmations"].as_u64().unwrap() >= 1, "{a}");
    let now = node.call("anchor_get", vec![anchor["id"].clone()]).unwrap();
    assert!(a["confirmations"].as_u64() <= now["confirmations"].as_u64());

    // The proof: the verifier page verified it, from the address and from
    // the tab, and so does `pantheon verify` on the file the page saved.
    assert_eq!(shown["proof_anchored"], "true");
    let verifier = &shown["verifier"];
    assert_eq!(verifier["valid"], true, "{verifier}");
    assert!(
        verifier["headline"].as_str().unwrap().starts_with("VALID"),
        "{verifier}"
    );
    assert_eq!(shown["verifier_session"]["valid"], true);
    let bundle = Path::new(shown["bundle_file"].as_str().unwrap());
    let v = verify_json(bundle);
    assert_eq!(v["valid"], true, "{v}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(bundle).unwrap()).unwrap();
    let cli: Value = serde_json::from_str(&std::fs::read_to_string(&cli_bundle).unwrap()).unwrap();
    assert_eq!(saved, cli, "the page's bundle is the node's");

    // The operator's chain: three submissions, each linked to the one before.
    assert_eq!(shown["operator_rows"], 3);
    assert_eq!(shown["operator_chain"], json!(["→ 1", "→ 0", "first"]));
    assert!(shown["anchor_rows"].as_u64().unwrap() >= 1);

    // The supply audit at height 2: the page's figures are the proof's, and
    // the proof it saved verifies.
    let supply = &shown["supply"];
    assert_eq!(supply["height"], 2);
    let v = verify_json(Path::new(shown["supply_file"].as_str().unwrap()));
    assert_eq!(v["valid"], true, "{v}");
    let p = &v["supply_proof"];
    assert_eq!(p["height"], 2);
    assert_eq!(supply["accounts"], p["accounts"]);
    assert_eq!(supply["sum"], p["sum_of_balances"]);
    assert_eq!(p["sum_of_balances"], "5000000000000000000");
    assert!(
        supply["verdict"]
            .as_str()
            .unwrap()
            .starts_with("The supply is whole at block 2"),
        "{supply}"
    );

    for shot in [
        "home",
        "submission",
        "block",
        "anchor",
        "verified",
        "operator",
        "anchors",
        "supply",
    ] {
        let len = std::fs::metadata(out.join(format!("{shot}.png")))
            .unwrap()
            .len();
        assert!(len > 10_000, "{shot}.png kept ({len} bytes)");
    }
    eprintln!(
        "explorer: {} requests, all to {}; screenshots in {}",
        report["requests"].as_array().unwrap().len(),
        node.rpc,
        out.display()
    );
}
