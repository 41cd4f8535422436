//! The browser verifier (`web/verifier.html`) against `pantheon verify`:
//! every vector, and live proof bundles and record proofs from a `pantheon
//! dev` network (one validator) and a `pantheon testnet` (four validators),
//! both anchoring to a real regtest bitcoind, finalized and anchored, plus
//! a copy of each with one changed byte in each link (record, signature,
//! path, header, certificate, genesis, history, Bitcoin transaction, Merkle
//! branch, Bitcoin header). The page is opened from `file://` in Debian's
//! headless Chromium (`web/test/browser.mjs`, playwright-core) and used as a
//! person would; its verdict (valid, or the failing link) must equal
//! `pantheon verify`'s on every case, it must make no request but for its
//! own file, and screenshots of a valid and an invalid verdict are kept in
//! `target/tmp/browser-verifier/`. The timings of the anchored
//! four-validator bundle are printed (`docs/BENCHMARKS.md`).

#![allow(clippy::unwrap_used, clippy::too_many_lines, reason = "tests")]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use pantheon_runtime::hash::Hash256;
use serde_json::{Value, json};
use support::testnet::Net;
use support::web::web_dir;
use support::{DevNode, ok, pantheon, submit};

/// One document to judge, with the trust given to both verifiers.
struct Case {
    name: String,
    file: PathBuf,
    /// `pantheon verify` flags.
    flags: Vec<String>,
    /// The same trust, as the page's options.
    options: Value,
    /// The link the case must fail at (`Some(None)`: valid), if known.
    expect: Option<Option<String>>,
    repeat: u32,
    /// Reload the page first (a cold verification).
    cold: bool,
    /// Keep this case's screenshot ("valid" or "invalid").
    shot: Option<&'static str>,
}

/// The trust of a case: a genesis file and/or a stated network.
fn trust(genesis: Option<&Path>, network: Option<&str>) -> (Vec<String>, Value) {
    let mut flags = Vec::new();
    let mut options = json!({});
    if let Some(g) = genesis {
        flags.extend(["--genesis".to_owned(), g.display().to_string()]);
        options["genesisFile"] = json!(g);
    }
    if let Some(n) = network {
        flags.extend(["--bitcoin-network".to_owned(), n.to_owned()]);
        options["bitcoinNetwork"] = json!(n);
    }
    (flags, options)
}

/// The packages of `web/`, and the committed page.
fn ensure_web() {
    support::web::ensure_web();
    assert!(
        web_dir().join("verifier.html").exists(),
        "web/verifier.html is committed"
    );
}

fn write(path: &Path, v: &Value) -> PathBuf {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
    path.to_path_buf()
}

/// The vector files, with the trust FORMATS gives them.
fn vector_cases(dir: &Path, cases: &mut Vec<Case>) {
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors");
    let load = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(vectors.join(name)).unwrap()).unwrap()
    };
    let genesis = write(
        &dir.join("vector-genesis.json"),
        &load("genesis.json")["genesis"],
    );
    let mut add = |name: String, file: PathBuf, t: (Vec<String>, Value), expect: Option<&str>| {
        cases.push(Case {
            name,
            file,
            flags: t.0,
            options: t.1,
            expect: Some(expect.map(str::to_owned)),
            repeat: 1,
            cold: false,
            shot: None,
        });
    };
    add(
        "vector bundle.json".into(),
        vectors.join("bundle.json"),
        trust(Some(&genesis), Some("regtest")),
        None,
    );
    add(
        "vector bundle-v1.json".into(),
        vectors.join("bundle-v1.json"),
        trust(None, Some("regtest")),
        None,
    );
    add(
        "vector bundle-v1.json, no network stated".into(),
        vectors.join("bundle-v1.json"),
        trust(None, None),
        Some("bitcoin"),
    );
    let limits = write(
        &dir.join("limits.json"),
        &load("bundle-limits.json")["bundle"],
    );
    add(
        "vector bundle-limits.json".into(),
        limits,
        trust(None, None),
        None,
    );
    let pinned = load("bundle-pinned.json");
    for (net, expect) in [("regtest", None), ("testnet4", Some("bitcoin"))] {
        let f = write(&dir.join(format!("pinned-{net}.json")), &pinned[net]);
        add(
            format!("vector bundle-pinned.json {net}"),
            f,
            trust(None, None),
            expect,
        );
    }
    let malformed = load("bundle-malformed.json");
    let bases = [
        ("bundle", load("bundle.json")),
        ("bundle-v1", load("bundle-v1.json")),
        ("limits", load("bundle-limits.json")["bundle"].clone()),
    ];
    for (i, c) in malformed["cases"].as_array().unwrap().iter().enumerate() {
        let base = c["base"].as_str().unwrap();
        let text = if let Some(t) = c["text"].as_str() {
            t.to_owned()
        } else {
            let mut doc = bases.iter().find(|b| b.0 == base).unwrap().1.clone();
            for e in c["edits"].as_array().into_iter().flatten() {
                let at = e["at"].as_array().unwrap();
                let mut obj = &mut doc;
                for p in &at[..at.len() - 1] {
                    obj = match p {
                        Value::String(s) => &mut obj[s.as_str()],
                        n => &mut obj[usize::try_from(n.as_u64().unwrap()).unwrap()],
                    };
                }
                let last = &at[at.len() - 1];
                if e["remove"] == true {
                    obj.as_object_mut().unwrap().remove(last.as_str().unwrap());
                } else {
                    match last {
                        Value::String(s) => obj[s.as_str()] = e["value"].clone(),
                        n => {
                            obj[usize::try_from(n.as_u64().unwrap()).unwrap()] = e["value"].clone();
                        }
                    }
                }
            }
            let mut text = doc.to_string();
            if let Some(ins) = c["insert"].as_str() {
                text = format!("{{{ins}{}", &text[1..]);
            }
            text
        };
        let f = dir.join(format!("malformed-{i}.json"));
        std::fs::write(&f, text).unwrap();
        let t = match base {
            "bundle" => trust(Some(&genesis), Some("regtest")),
            "bundle-v1" => trust(None, Some("regtest")),
            _ => trust(None, None),
        };
        add(
            format!(
                "vector bundle-malformed.json: {}",
                c["name"].as_str().unwrap()
            ),
            f,
            t,
            c["failed_link"].as_str(),
        );
    }
    let rp = load("record-proof.json");
    for (kind, list) in [("valid", &rp["valid"]), ("invalid", &rp["invalid"])] {
        for (i, c) in list.as_array().unwrap().iter().enumerate() {
            let f = write(
                &dir.join(format!("record-proof-{kind}-{i}.json")),
                &c["proof"],
            );
            add(
                format!("vector record-proof.json: {}", c["name"].as_str().unwrap()),
                f,
                trust(None, None),
                c["link"].as_str(),
            );
        }
    }
    let ex = load("operator-export.json");
    for (i, c) in ex["cases"].as_array().unwrap().iter().enumerate() {
        let f = write(&dir.join(format!("export-{i}.json")), &c["export"]);
        add(
            format!(
                "vector operator-export.json: {}",
                c["name"].as_str().unwrap()
            ),
            f,
            trust(None, None),
            c["fails"].as_str(),
        );
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The base64 member `v` with byte `at` (from the end if negative) flipped.
fn flip(v: &Value, at: isize) -> Value {
    let mut b = b64().decode(v.as_str().unwrap()).unwrap();
    let i = if at < 0 {
        b.len() - at.unsigned_abs()
    } else {
        at.unsigned_abs()
    };
    b[i] ^= 1;
    Value::String(b64().encode(b))
}

/// Offsets in a binary Bitcoin part (FORMATS 20.5.1): a byte of the
/// transaction, of the first branch hash (if any) and of the first
/// header's Merkle root. (Not a nonce: at regtest's target a changed
/// nonce still has the work half the time.)
fn part_offsets(part: &[u8]) -> (usize, Option<usize>, usize) {
    let tx_len = usize::try_from(u32::from_be_bytes(part[1..5].try_into().unwrap())).unwrap();
    let branch_at = 5 + tx_len + 4;
    let branch = usize::from(u16::from_be_bytes(
        part[branch_at..branch_at + 2].try_into().unwrap(),
    ));
    let header0 = branch_at + 2 + 32 * branch + 2;
    (5 + 10, (branch > 0).then_some(branch_at + 2), header0 + 40)
}

/// A copy of an anchored bundle with one changed byte in each link.
fn tampered_bundles(b: &Value) -> Vec<(&'static str, Value, &'static str)> {
    let mut out = Vec::new();
    let mut edit = |what: &'static str, link: &'static str, f: &dyn Fn(&mut Value)| {
        let mut d = b.clone();
        f(&mut d);
        out.push((what, d, link));
    };
    if b["genesis"].is_string() {
        edit("a genesis byte", "genesis", &|d| {
            d["genesis"] = flip(&b["genesis"], 40);
        });
    }
    edit("a submission signature byte", "submission", &|d| {
        d["submission"] = flip(&b["submission"], -100);
    });
    edit("a submission root byte", "submission", &|d| {
        d["submission"] = flip(&b["submission"], 80);
    });
    if !b["inclusion"]["path"].as_str().unwrap().is_empty() {
        edit("an inclusion path byte", "path", &|d| {
            d["inclusion"]["path"] = flip(&b["inclusion"]["path"], 0);
        });
    }
    edit("a header byte", "header", &|d| {
        d["header"] = flip(&b["header"], 100);
    });
    edit("a certificate signature byte", "certificate", &|d| {
        d["certificate"] = flip(&b["certificate"], 100);
    });
    if b["anchor"].is_object() {
        let a = &b["anchor"];
        if !a["history_proof"].as_str().unwrap().is_empty() {
            edit("a history path byte", "history", &|d| {
                d["anchor"]["history_proof"] = flip(&a["history_proof"], 0);
            });
        }
        let part = b64().decode(a["bitcoin"].as_str().unwrap()).unwrap();
        let (tx, branch, header) = part_offsets(&part);
        edit("a Bitcoin transaction byte", "bitcoin", &|d| {
            d["anchor"]["bitcoin"] = flip(&a["bitcoin"], isize::try_from(tx).unwrap());
        });
        if let Some(br) = branch {
            edit("a Merkle branch byte", "bitcoin", &|d| {
                d["anchor"]["bitcoin"] = flip(&a["bitcoin"], isize::try_from(br).unwrap());
            });
        }
        edit("a Bitcoin header byte", "bitcoin", &|d| {
            d["anchor"]["bitcoin"] = flip(&a["bitcoin"], isize::try_from(header).unwrap());
        });
    }
    out
}

/// A live bundle, its finality-only form and its tampered copies.
fn live_bundle_cases(name: &str, file: &Path, t: &(Vec<String>, Value), cases: &mut Vec<Case>) {
    let b: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert!(b["anchor"].is_object(), "{name} is anchored: {b}");
    let dir = file.parent().unwrap();
    let stem = file.file_stem().unwrap().to_str().unwrap();
    cases.push(Case {
        name: format!("{name} (anchored)"),
        file: file.to_path_buf(),
        flags: t.0.clone(),
        options: t.1.clone(),
        expect: Some(None),
        repeat: std::env::var("PANTHEON_BROWSER_REPEAT")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(5),
        cold: false,
        shot: name.starts_with("testnet").then_some("valid"),
    });
    cases.push(Case {
        name: format!("{name} (anchored, on a freshly loaded page)"),
        file: file.to_path_buf(),
        flags: t.0.clone(),
        options: t.1.clone(),
        expect: Some(None),
        repeat: 1,
        cold: true,
        shot: None,
    });
    let mut fin = b.clone();
    fin.as_object_mut().unwrap().remove("anchor");
    cases.push(Case {
        name: format!("{name} (finalized: the same bundle without its anchor part)"),
        file: write(&dir.join(format!("{stem}-final.json")), &fin),
        flags: t.0.clone(),
        options: t.1.clone(),
        expect: Some(None),
        repeat: 1,
        cold: false,
        shot: None,
    });
    for (i, (what, doc, link)) in tampered_bundles(&b).into_iter().enumerate() {
        cases.push(Case {
            name: format!("{name}: {what}"),
            file: write(&dir.join(format!("{stem}-t{i}.json")), &doc),
            flags: t.0.clone(),
            options: t.1.clone(),
            expect: Some(Some(link.to_owned())),
            repeat: 1,
            cold: false,
            shot: (name.starts_with("testnet") && link == "certificate").then_some("invalid"),
        });
    }
}

/// A live record proof and its tampered copies (record, signature, batch
/// path, and the bundle's links).
fn live_record_cases(name: &str, file: &Path, cases: &mut Vec<Case>) {
    let p: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let dir = file.parent().unwrap();
    let stem = file.file_stem().unwrap().to_str().unwrap();
    let none = trust(None, None);
    let mut push = |n: String, doc: &Value, expect: Option<&str>| {
        let f = write(&dir.join(format!("{stem}-{}.json", cases.len())), doc);
        cases.push(Case {
            name: n,
            file: f,
            flags: none.0.clone(),
            options: none.1.clone(),
            expect: Some(expect.map(str::to_owned)),
            repeat: 1,
            cold: false,
            shot: None,
        });
    };
    push(format!("{name} (anchored)"), &p, None);
    if p["record"].is_string() {
        let mut d = p.clone();
        d["record"] = flip(&p["record"], 0);
        push(
            format!("{name}: the record's version byte"),
            &d,
            Some("record"),
        );
        let mut d = p.clone();
        d["record"] = flip(&p["record"], -10);
        push(
            format!("{name}: a record signature byte"),
            &d,
            Some("signature"),
        );
    }
    if !p["batch"]["path"].as_str().unwrap().is_empty() {
        let mut d = p.clone();
        d["batch"]["path"] = flip(&p["batch"]["path"], 5);
        push(format!("{name}: a batch path byte"), &d, Some("batch"));
    }
    for (what, bundle, link) in tampered_bundles(&p["bundle"]) {
        let mut d = p.clone();
        d["bundle"] = bundle;
        // A changed submission root no longer matches the batch's path.
        let link = if what == "a submission root byte" {
            "batch"
        } else {
            link
        };
        push(format!("{name}: the bundle's {what}"), &d, Some(link));
    }
}

/// `pantheon verify --json FILE flags`: (valid, failed link, seconds).
fn cli_verdict(c: &Case) -> (bool, Option<String>, f64) {
    let mut args = vec![
        "verify".to_owned(),
        c.file.display().to_string(),
        "--json".to_owned(),
    ];
    args.extend(c.flags.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let start = Instant::now();
    let out = pantheon(&args);
    let secs = start.elapsed().as_secs_f64();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: pantheon verify printed no JSON ({e}): {}",
            c.name,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        v.get("error").is_none(),
        "{}: pantheon verify refused its input: {v}",
        c.name
    );
    (
        v["valid"] == true,
        v["failed_link"].as_str().map(str::to_owned),
        secs,
    )
}

fn proof(rpc: &str, id: &str, out: &Path) -> PathBuf {
    ok(&[
        "proof",
        id,
        "--wait",
        "anchored",
        "--out",
        out.to_str().unwrap(),
        "--rpc",
        rpc,
    ]);
    out.to_path_buf()
}

/// `pantheon records run` until every record is anchored with its bundle.
fn records_settled(dir: &Path, rpc: &str, records: u64, log: &Path) {
    let mut run = support::records_runner(dir, rpc, (4, 200), log);
    support::wait_records_settled(dir, records, Duration::from_secs(180));
    let _ = run.kill();
    let _ = run.wait();
}

fn h(s: &str) -> String {
    Hash256::digest(s.as_bytes()).to_string()
}

/// Seals a manifest and six decisions in two streams, anchors them and
/// writes record proofs: a decision with its body, neighbours and
/// manifest, and one record by its hash alone.
fn record_proofs(rpc: &str, key: &Path, dir: &Path) -> Vec<PathBuf> {
    let rdir = dir.join("records");
    let r = rdir.to_str().unwrap();
    let mut lines = vec![
        json!({"kind": "manifest", "body": {"model": h("m"), "tokenizer": h("t"),
            "system_prompt": h("p"), "data": h("d")}}),
    ];
    for n in 0..6 {
        lines.push(
            json!({"kind": "decision", "stream": "ward-7", "body": {"inputs": h(&format!("in {n}")),
                "output": h(&format!("out {n}")), "policy": {"threshold": 0.8}, "score": 0.25 + f64::from(n) / 10.0}})
        );
    }
    support::seal_records(&rdir, key, &lines);
    records_settled(&rdir, rpc, 7, &dir.join("records-run.log"));
    let decision = dir.join("record-decision.json");
    ok(&[
        "records",
        "prove",
        "--dir",
        r,
        "--seq",
        "3",
        "--neighbours",
        "--out",
        decision.to_str().unwrap(),
    ]);
    let hash_only = dir.join("record-hash.json");
    ok(&[
        "records",
        "prove",
        "--dir",
        r,
        "--seq",
        "5",
        "--hash-only",
        "--out",
        hash_only.to_str().unwrap(),
    ]);
    vec![decision, hash_only]
}

/// `GET /verify` on the node's RPC port answers the committed page with
/// its Content-Security-Policy, and Chromium opened there (same origin)
/// verifies the live proofs making no other request.
fn served_by_the_node(node: &DevNode, cases: &[Case], dir: &Path) {
    use std::io::{Read, Write};
    let addr = node.rpc.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /verify HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8(answer).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    let committed = std::fs::read_to_string(web_dir().join("verifier.html")).unwrap();
    assert!(
        body == committed,
        "the node serves the committed web/verifier.html"
    );
    // JSON-RPC on the same port is unchanged.
    assert!(node.call("chain_getHead", vec![]).is_ok());

    let live: Vec<Value> = cases
        .iter()
        .filter(|c| c.name.starts_with("dev "))
        .map(|c| json!({"name": c.name, "file": c.file, "options": c.options}))
        .collect();
    let file = write(&dir.join("served-cases.json"), &json!(live));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-verifier-served");
    let _ = std::fs::remove_dir_all(&out);
    let status = Command::new("node")
        .arg(web_dir().join("test/browser.mjs"))
        .arg(&file)
        .arg(&out)
        .env("PAGE_URL", format!("{}/verify", node.rpc))
        .status()
        .unwrap();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert!(status.success(), "served page: {report}");
    assert_eq!(report["foreign_requests"], json!([]));
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), live.len());
    for (c, r) in cases
        .iter()
        .filter(|c| c.name.starts_with("dev "))
        .zip(results)
    {
        let expect = c.expect.clone().unwrap();
        assert_eq!(
            (
                r["valid"] == true,
                r["failed_link"].as_str().map(str::to_owned)
            ),
            (expect.is_none(), expect),
            "served page, {}",
            c.name
        );
    }
}

#[test]
fn the_browser_verifier_agrees_with_pantheon_verify_on_vectors_and_live_proofs() {
    ensure_web();
    let dir = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    vector_cases(dir.path(), &mut cases);

    // One validator: `pantheon dev` with its regtest bitcoind.
    let home = dir.path().join("dev");
    let node = DevNode::start_with(&home, &["--anchor-every", "2", "--bitcoin-block-secs", "1"]);
    let (key, _) = node.operator(dir.path(), "hospital", "10");
    let mut last = Value::Null;
    for i in 0..3 {
        last = submit(&key, &h(&format!("dev batch {i}")), &node.rpc, "finalized");
    }
    let dev_bundle = proof(
        &node.rpc,
        last["id"].as_str().unwrap(),
        &dir.path().join("dev-bundle.json"),
    );
    live_bundle_cases(
        "dev (1 validator) bundle",
        &dev_bundle,
        &trust(None, None),
        &mut cases,
    );
    let dev_genesis = home.join("genesis.json");
    let compact = dir.path().join("dev-compact.json");
    ok(&[
        "proof",
        last["id"].as_str().unwrap(),
        "--no-genesis",
        "--out",
        compact.to_str().unwrap(),
        "--rpc",
        &node.rpc,
    ]);
    live_bundle_cases(
        "dev (1 validator) bundle without its genesis, given the genesis file",
        &compact,
        &trust(Some(&dev_genesis), None),
        &mut cases,
    );
    for (i, p) in record_proofs(&node.rpc, &key, dir.path())
        .iter()
        .enumerate()
    {
        live_record_cases(&format!("dev record proof {i}"), p, &mut cases);
    }
    served_by_the_node(&node, &cases, dir.path());

    // Four validators: `pantheon testnet` with its shared regtest bitcoind.
    let net = Net::four_and_a_full_node(&["--anchor-every", "2"]);
    for i in 0..4 {
        net.cmd(&["start", &i.to_string()]);
    }
    net.wait_height(&[0, 1, 2, 3], 2);
    let funder = net.dir.path().join("funder.key");
    let (alice, _) = support::operator(&net.rpc(0), &funder, net.dir.path(), "alice", "10");
    for i in 0..3 {
        last = submit(
            &alice,
            &h(&format!("testnet batch {i}")),
            &net.rpc(i),
            "finalized",
        );
    }
    let tn_bundle = proof(
        &net.rpc(1),
        last["id"].as_str().unwrap(),
        &dir.path().join("testnet-bundle.json"),
    );
    live_bundle_cases(
        "testnet (4 validators) bundle",
        &tn_bundle,
        &trust(Some(&net.dir.path().join("genesis.json")), None),
        &mut cases,
    );
    let four = cases.len() - 1;
    let anchored_four = cases
        .iter()
        .position(|c| c.name == "testnet (4 validators) bundle (anchored)")
        .unwrap();
    assert!(anchored_four < four);
    net.cmd(&["down"]);
    drop(node);

    // Both verifiers judge every case.
    let mut cli = Vec::new();
    for c in &cases {
        let mut runs: Vec<f64> = Vec::new();
        let mut verdict = None;
        for _ in 0..c.repeat {
            let (valid, link, secs) = cli_verdict(c);
            runs.push(secs);
            verdict = Some((valid, link));
        }
        runs.sort_by(f64::total_cmp);
        cli.push((verdict.unwrap(), runs[runs.len() / 2]));
    }
    let manifest: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({"name": c.name, "file": c.file, "options": c.options, "repeat": c.repeat,
                "cold": c.cold, "shot": c.shot})
        })
        .collect();
    let cases_file = write(&dir.path().join("cases.json"), &json!(manifest));
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-verifier");
    let _ = std::fs::remove_dir_all(&out_dir);
    let status = Command::new("node")
        .arg(web_dir().join("test/browser.mjs"))
        .arg(&cases_file)
        .arg(&out_dir)
        .status()
        .unwrap();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("results.json")).unwrap())
            .unwrap();
    assert!(
        status.success(),
        "the browser run failed: requests {} page errors {}",
        report["foreign_requests"],
        report["page_errors"]
    );
    assert_eq!(
        report["foreign_requests"],
        json!([]),
        "the page made a request"
    );
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());

    let mut disagree = Vec::new();
    let mut wrong = Vec::new();
    for ((c, ((valid, link), _)), r) in cases.iter().zip(&cli).zip(results) {
        let page = (
            r["valid"] == true,
            r["failed_link"].as_str().map(str::to_owned),
        );
        if page != (*valid, link.clone()) {
            disagree.push(format!(
                "{}: page {page:?} ({}), pantheon verify ({valid}, {link:?})",
                c.name, r["headline"]
            ));
        }
        if let Some(expect) = &c.expect
            && (*valid != expect.is_none() || link != expect)
        {
            wrong.push(format!(
                "{}: pantheon verify ({valid}, {link:?}), expected {expect:?}",
                c.name
            ));
        }
    }
    let valid = cli.iter().filter(|((v, _), _)| *v).count();
    eprintln!(
        "{} cases ({valid} valid, {} refused): the page and pantheon verify agree on {} of them",
        cases.len(),
        cases.len() - valid,
        cases.len() - disagree.len()
    );
    assert!(
        disagree.is_empty(),
        "verdicts differ:\n{}",
        disagree.join("\n")
    );
    assert!(
        wrong.is_empty(),
        "unexpected verdicts:\n{}",
        wrong.join("\n")
    );
    for shot in ["valid.png", "invalid.png"] {
        let len = std::fs::metadata(out_dir.join(shot)).unwrap().len();
        assert!(len > 10_000, "{shot} kept ({len} bytes)");
    }

    // Timing: the anchored four-validator bundle (median of the runs), and
    // on a freshly loaded page.
    let cold = &results[anchored_four + 1];
    assert_eq!(cold["valid"], true);
    eprintln!(
        "anchored 4-validator bundle on a freshly loaded page: Chromium {:.1} ms",
        cold["ms"].as_f64().unwrap()
    );
    let r = &results[anchored_four];
    let page_ms = r["ms"].as_f64().unwrap();
    let cli_ms = cli[anchored_four].1 * 1000.0;
    eprintln!(
        "anchored 4-validator bundle: Chromium {page_ms:.1} ms (runs {}), pantheon verify {cli_ms:.1} ms (whole process); page {} bytes; screenshots in {}",
        r["ms_all"],
        report["page_bytes"],
        out_dir.display()
    );
}
