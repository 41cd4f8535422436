//! OpenTimestamps export checked by other people's software: a dev node
//! with its real regtest bitcoind anchors a submission and a batch of
//! records; `pantheon proof --format ots` and `pantheon records prove
//! --format ots` write `.ots` files; the unmodified OpenTimestamps client
//! (`opentimestamps-client` 0.7.2 from PyPI, in a venv this test
//! provisions) accepts each against that bitcoind, and rejects a copy with
//! one changed byte in every operation's argument, in the digest and in
//! the attestation's height, and a `-d` of another digest. A bundle that is
//! not anchored gets no `.ots`.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pantheon_runtime::hash::Hash256;
use pantheon_runtime::ots::Timestamp;
use serde_json::{Value, json};
use support::{DevNode, ok, pantheon, submit};

const CLIENT: &str = "opentimestamps-client==0.7.2";

/// `$HOME/.cache/pantheon/ots-venv/bin/ots`, installed from PyPI if
/// missing (as `scripts/setup.sh`'s `ensure_ots` does). Never skips.
fn ensure_ots() -> PathBuf {
    let home = std::env::var("HOME").unwrap();
    let given = std::env::var_os("OTS_EXE").map(PathBuf::from);
    let venv = Path::new(&home).join(".cache/pantheon/ots-venv");
    let ots = venv.join("bin/ots");
    let version = |ots: &Path| {
        Command::new(ots)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    if let Some(given) = given.filter(|g| version(g).as_deref() == Some("v0.7.2")) {
        return given;
    }
    if version(&ots).as_deref() == Some("v0.7.2") {
        return ots;
    }
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(status.success(), "python3 -m venv {}", venv.display());
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", CLIENT])
        .status()
        .unwrap();
    assert!(status.success(), "pip install {CLIENT}");
    assert_eq!(version(&ots).as_deref(), Some("v0.7.2"));
    ots
}

/// The bitcoind the dev node runs, as the OpenTimestamps client wants it:
/// `http://USER:PASS@127.0.0.1:PORT/` (the cookie's credentials).
fn bitcoin_node(node: &DevNode) -> String {
    let url = node.bitcoind_url();
    let cookie = std::fs::read_to_string(node.home.join("bitcoind/regtest/.cookie")).unwrap();
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    format!("http://{}@{host}/", cookie.trim())
}

struct Client {
    ots: PathBuf,
    node: String,
    cache: PathBuf,
}

impl Client {
    /// `ots --btc-regtest --bitcoin-node URL verify -d DIGEST FILE`:
    /// accepted when it exits 0 and prints its "Success!" line.
    fn accepts(&self, digest: &str, file: &Path) -> (bool, String) {
        let out = Command::new(&self.ots)
            .args([
                "--btc-regtest",
                "--bitcoin-node",
                &self.node,
                "verify",
                "-d",
            ])
            .arg(digest)
            .arg(file)
            // A cache of its own: nothing from another run is merged in.
            .env("XDG_CACHE_HOME", &self.cache)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let success = text
            .lines()
            .any(|l| l.starts_with("Success! Bitcoin block") && l.contains("attests existence"));
        (out.status.success() && success, text)
    }
}

/// Byte ranges of an `.ots` file: the digest, each append/prepend
/// argument, and the attestation's height (its payload).
fn ranges(bytes: &[u8]) -> (std::ops::Range<usize>, Vec<std::ops::Range<usize>>, usize) {
    let varuint = |at: &mut usize| {
        let mut v = 0usize;
        let mut shift = 0;
        loop {
            let b = bytes[*at];
            *at += 1;
            v |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return v;
            }
            shift += 7;
        }
    };
    let mut at = 33;
    let digest = at..at + 32;
    at += 32;
    let mut args = Vec::new();
    loop {
        let tag = bytes[at];
        at += 1;
        match tag {
            0x08 => {}
            0xf0 | 0xf1 => {
                let n = varuint(&mut at);
                args.push(at..at + n);
                at += n;
            }
            0x00 => break,
            t => panic!("unexpected tag {t:#x}"),
        }
    }
    at += 8;
    let payload = varuint(&mut at);
    assert_eq!(at + payload, bytes.len());
    (digest, args, at)
}

/// The `.ots` is accepted with its digest and refused after any one
/// change; returns how many tampered copies were refused.
fn accepted_and_tamper_proof(client: &Client, file: &Path, digest: &str, dir: &Path) -> usize {
    let (good, text) = client.accepts(digest, file);
    assert!(good, "ots refused {}: {text}", file.display());
    let other = Hash256::digest(b"another digest").to_string();
    let (accepted, text) = client.accepts(&other, file);
    assert!(!accepted, "accepted -d of another digest: {text}");

    let bytes = std::fs::read(file).unwrap();
    let (digest_at, args, height_at) = ranges(&bytes);
    let parsed = Timestamp::from_bytes(&bytes).unwrap();
    assert_eq!(parsed.digest().to_string(), digest);
    let mut copies: Vec<(String, usize, String)> = Vec::new();
    for (i, r) in args.iter().enumerate() {
        // A different byte of each argument: first, middle, last in turn.
        let at = match i % 3 {
            0 => r.start,
            1 => r.start + r.len() / 2,
            _ => r.end - 1,
        };
        copies.push((format!("argument of operation {i}"), at, digest.to_owned()));
    }
    copies.push(("digest".into(), digest_at.start + 7, digest.to_owned()));
    let mut changed = bytes[digest_at.clone()].to_vec();
    changed[7] ^= 1;
    copies.push((
        "digest, and -d naming the changed digest".into(),
        digest_at.start + 7,
        hex::encode(&changed),
    ));
    copies.push(("attestation height".into(), height_at, digest.to_owned()));
    let mut refused = 0;
    for (what, at, d) in &copies {
        let mut bad = bytes.clone();
        bad[*at] ^= 1;
        let path = dir.join("tampered.ots");
        std::fs::write(&path, &bad).unwrap();
        let (accepted, text) = client.accepts(d, &path);
        assert!(
            !accepted,
            "{}: accepted with one changed byte in the {what} (offset {at}): {text}",
            file.display()
        );
        refused += 1;
    }
    assert_eq!(refused, args.len() + 3);
    refused
}

fn h(s: &str) -> String {
    Hash256::digest(s.as_bytes()).to_string()
}

#[test]
fn the_opentimestamps_client_accepts_exported_proofs_and_rejects_tampered_ones() {
    let ots = ensure_ots();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let node = DevNode::start_with(
        &d.join("dev"),
        &["--anchor-every", "2", "--bitcoin-block-secs", "1"],
    );
    let client = Client {
        ots,
        node: bitcoin_node(&node),
        cache: d.join("ots-cache"),
    };
    let (key, _) = node.operator(d, "hospital", "10");

    // A submission, anchored; its .ots from the node.
    let root = h("ots batch 0");
    let receipt = submit(&key, &root, &node.rpc, "anchored");
    let id = receipt["id"].as_str().unwrap();
    let file = d.join("proof.ots");
    let out: Value = serde_json::from_str(&ok(&[
        "proof",
        id,
        "--format",
        "ots",
        "--out",
        file.to_str().unwrap(),
        "--json",
        "--rpc",
        &node.rpc,
    ]))
    .unwrap();
    assert_eq!(out["digest"], json!(root), "{out}");
    assert!(out["bitcoin_height"].as_u64().unwrap() > 0);
    let bundle_refused = accepted_and_tamper_proof(&client, &file, &root, d);

    // The same bundle saved, converted offline (`verify --ots-out`): the
    // same bytes. A version-2 bundle does not name the Bitcoin height, so
    // it is stated.
    let saved = d.join("proof.json");
    ok(&[
        "proof",
        id,
        "--out",
        saved.to_str().unwrap(),
        "--rpc",
        &node.rpc,
    ]);
    let offline = d.join("offline.ots");
    let height = out["bitcoin_height"].to_string();
    let no_height = pantheon(&[
        "verify",
        saved.to_str().unwrap(),
        "--ots-out",
        offline.to_str().unwrap(),
    ]);
    assert!(!no_height.status.success());
    assert!(
        String::from_utf8_lossy(&no_height.stderr).contains("--bitcoin-height"),
        "{no_height:?}"
    );
    ok(&[
        "verify",
        saved.to_str().unwrap(),
        "--ots-out",
        offline.to_str().unwrap(),
        "--bitcoin-height",
        &height,
    ]);
    assert_eq!(
        std::fs::read(&offline).unwrap(),
        std::fs::read(&file).unwrap()
    );

    // A record proof: records sealed, batched, anchored; its .ots starts
    // from the record's hash.
    let rdir = d.join("records");
    let r = rdir.to_str().unwrap();
    support::seal_records(
        &rdir,
        &key,
        &[
            json!({"kind": "manifest", "body": {"model": h("m"), "tokenizer": h("t"),
                "system_prompt": h("p"), "data": h("d")}}),
            json!({"kind": "decision", "stream": "ward-7", "body": {"inputs": h("in"),
                "output": h("out"), "policy": {"threshold": 0.8}, "score": 0.9}}),
            json!({"kind": "decision", "stream": "ward-7", "body": {"inputs": h("in 2"),
                "output": h("out 2"), "policy": {"threshold": 0.8}, "score": 0.4}}),
        ],
    );
    let mut run = support::records_runner(&rdir, &node.rpc, (4, 200), &d.join("records.log"));
    support::wait_records_settled(&rdir, 3, Duration::from_secs(180));
    let _ = run.kill();
    let _ = run.wait();
    let rec_file = d.join("record.ots");
    let out: Value = serde_json::from_str(&ok(&[
        "records",
        "prove",
        "--dir",
        r,
        "--seq",
        "2",
        "--format",
        "ots",
        "--out",
        rec_file.to_str().unwrap(),
        "--rpc",
        &node.rpc,
        "--json",
    ]))
    .unwrap();
    let proof_file = d.join("record.json");
    ok(&[
        "records",
        "prove",
        "--dir",
        r,
        "--seq",
        "2",
        "--out",
        proof_file.to_str().unwrap(),
    ]);
    let proof: Value =
        serde_json::from_str(&std::fs::read_to_string(&proof_file).unwrap()).unwrap();
    let verdict = support::verify_json(&proof_file);
    assert_eq!(verdict["valid"], json!(true), "{verdict}");
    let record_hash = verdict["record"]["record_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(out["digest"], json!(record_hash), "{out}");
    assert!(proof["record"].is_string());
    let record_refused = accepted_and_tamper_proof(&client, &rec_file, &record_hash, d);
    eprintln!(
        "ots accepted 2 files and refused {bundle_refused} + {record_refused} tampered copies"
    );

    // Not anchored: a finality-only record proof of the vectors gets no .ots.
    let vectors: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors/record-proof.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let finality = d.join("finality.json");
    std::fs::write(&finality, vectors["valid"][1]["proof"].to_string()).unwrap();
    let none = d.join("none.ots");
    let out = pantheon(&[
        "verify",
        finality.to_str().unwrap(),
        "--ots-out",
        none.to_str().unwrap(),
        "--bitcoin-height",
        "1",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not anchored"),
        "{out:?}"
    );
    assert!(!none.exists());
}
