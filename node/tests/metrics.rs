//! `/metrics` of a real `pantheon dev` node (RocksDB on disk, JSON-RPC and
//! the metrics listener on real sockets): after known activity (one
//! operator registered, K roots finalized, one submission refused) the
//! scraped figures say what happened, the listener is on loopback and
//! separate from JSON-RPC, and Malachite's registry is exported alongside.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use pantheon_runtime::crypto::Keypair;
use pantheon_runtime::hash::{AuditRoot, GenesisHash, Hash256, SubmissionId};
use pantheon_runtime::tx::{Metadata, SubmitRoot, TxBody};
use support::{DevNode, ok};

/// Submissions the test finalizes.
const K: usize = 4;

/// One sample: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// `GET path` over a fresh connection: (status code, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

/// Parses the OpenMetrics text format's samples (comments skipped).
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("value of {line}")),
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let inner = rest.strip_suffix('}').unwrap();
                    let labels = inner
                        .split("\",")
                        .filter(|p| !p.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once('=').unwrap();
                            (k.to_owned(), v.trim_matches('"').to_owned())
                        })
                        .collect();
                    (name.to_owned(), labels)
                }
                None => (series.to_owned(), BTreeMap::new()),
            };
            (name, labels, value)
        })
        .collect()
}

/// The value of `name` whose labels include `want` (panics if absent).
fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    find(samples, name, want).unwrap_or_else(|| panic!("no {name} {want:?}"))
}

fn find(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, labels, _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
}

/// The metrics address the node printed beside its JSON-RPC line.
fn metrics_addr(node: &DevNode) -> String {
    let start = Instant::now();
    loop {
        let log = std::fs::read_to_string(&node.log).unwrap_or_default();
        if let Some(line) = log
            .lines()
            .find(|l| l.contains("pantheon: metrics on http://"))
        {
            let url = line.split("metrics on http://").nth(1).unwrap();
            let addr = url.split('/').next().unwrap();
            return addr.to_owned();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no metrics line in\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn scrape(addr: &str) -> (String, Vec<Sample>) {
    let (status, body) = get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    let samples = parse(&body);
    // At most the 10 longest queues and `other`, at every scrape.
    let tenants = samples
        .iter()
        .filter(|(n, ..)| n == "pantheon_mempool_operator_transactions")
        .count();
    assert!(tenants <= 11, "{tenants} operator label values");
    (body, samples)
}

#[test]
fn scraped_figures_follow_known_activity() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start_with(&dir.path().join("dev"), &["--no-bitcoin"]);
    let addr = metrics_addr(&node);
    let parsed: SocketAddr = addr.parse().unwrap();
    assert!(parsed.ip().is_loopback(), "metrics on {addr}");
    let rpc_addr = node.rpc.trim_start_matches("http://");
    assert_ne!(
        parsed.port(),
        rpc_addr.rsplit(':').next().unwrap().parse::<u16>().unwrap()
    );

    // The public RPC port does not answer /metrics; the metrics port
    // answers nothing else.
    let (_, body) = get(rpc_addr, "/metrics");
    assert!(!body.contains("pantheon_finalized_height"), "{body}");
    assert_eq!(get(&addr, "/").0, 404);

    let (_, before) = scrape(&addr);
    assert_eq!(
        value(&before, "pantheon_finalized_submissions_total", &[]),
        0.0
    );

    // Known activity: an operator (a transfer and a registration), K roots
    // each waited to finality, and one refused submission (an operator
    // nobody registered: code 1011).
    let (key, _) = node.operator(dir.path(), "hospital", "10");
    let mut last_height = 0;
    for i in 0..K {
        let root = Hash256::digest(format!("metrics/{i}").as_bytes()).to_string();
        let receipt = support::submit(&key, &root, &node.rpc, "finalized");
        last_height = last_height.max(receipt["height"].as_u64().unwrap());
    }
    let stranger = dir.path().join("stranger.key");
    ok(&["keys", "generate", "--out", stranger.to_str().unwrap()]);
    let kp = Keypair::from_pkcs8_pem(&std::fs::read_to_string(&stranger).unwrap()).unwrap();
    let version = node.call("system_version", vec![]).unwrap();
    let genesis: GenesisHash = version["genesis_hash"].as_str().unwrap().parse().unwrap();
    let tx = TxBody::SubmitRoot(SubmitRoot {
        operator: kp.id(),
        seq: 0,
        prev: SubmissionId::default(),
        root: AuditRoot::new(Hash256::digest(b"refused")),
        metadata: Metadata::default(),
    })
    .sign(&genesis, &kp);
    let refused = node.call(
        "pantheon_submitRoot",
        vec![serde_json::json!(hex::encode(tx.as_bytes()))],
    );
    assert_eq!(refused.unwrap_err().0, 1011, "unknown operator");

    // The mempool drains once the last block is final.
    let start = Instant::now();
    let (text, after) = loop {
        let (text, samples) = scrape(&addr);
        if value(&samples, "pantheon_mempool_transactions", &[]) == 0.0 {
            break (text, samples);
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{text}");
        std::thread::sleep(Duration::from_millis(200));
    };

    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    let k = K as f64;
    assert!(value(&after, "pantheon_finalized_height", &[]) >= last_height as f64);
    assert_eq!(
        value(&after, "pantheon_finalized_submissions_total", &[]),
        k
    );
    // The transfer, the registration and the K roots, at least.
    assert!(value(&after, "pantheon_finalized_transactions_total", &[]) >= k + 2.0);
    assert!(value(&after, "pantheon_admission_accepted_total", &[]) >= k + 2.0);
    assert_eq!(
        value(
            &after,
            "pantheon_admission_refused_total",
            &[("code", "1011")]
        ),
        1.0
    );
    assert!(value(&after, "pantheon_signatures_valid_total", &[]) >= k + 2.0);
    let submit = value(
        &after,
        "pantheon_rpc_request_duration_seconds_count",
        &[("method", "pantheon_submitRoot")],
    );
    assert!(submit >= k + 1.0, "submitRoot calls: {submit}");
    assert_eq!(
        value(
            &after,
            "pantheon_rpc_request_duration_seconds_bucket",
            &[("method", "pantheon_submitRoot"), ("le", "+Inf")]
        ),
        submit,
        "the +Inf bucket holds every call"
    );
    assert!(
        value(
            &after,
            "pantheon_rpc_errors_total",
            &[("method", "pantheon_submitRoot")]
        ) >= 1.0
    );
    assert!(value(&after, "pantheon_block_interval_seconds_count", &[]) >= 1.0);
    assert!(value(&after, "pantheon_consensus_height", &[]) >= last_height as f64);
    assert!(value(&after, "pantheon_consensus_round", &[]) >= 0.0);
    assert!(value(&after, "pantheon_rocksdb_estimated_keys", &[("cf", "txs")]) >= 0.0);
    assert!(
        find(
            &after,
            "pantheon_rocksdb_live_sst_bytes",
            &[("cf", "blocks")]
        )
        .is_some()
    );
    assert_eq!(value(&after, "pantheon_peers", &[]), 0.0, "one validator");
    assert_eq!(
        value(&after, "pantheon_equivocation_evidence_total", &[]),
        0.0
    );
    assert!(
        find(&after, "pantheon_anchor_pending", &[]).is_none(),
        "no anchor figures without anchoring"
    );
    // HELP text and units, and Malachite's own registry (moniker label).
    assert!(text.contains("# HELP pantheon_finalized_height "), "{text}");
    assert!(text.contains("# UNIT pantheon_rpc_request_duration_seconds seconds"));
    assert!(
        after.iter().any(|(n, l, _)| n.starts_with("malachitebft_")
            && l.get("moniker").is_some_and(|m| m.starts_with("pantheon-"))),
        "no Malachite metric in\n{text}"
    );
    assert!(
        text.lines()
            .filter(|l| l.starts_with("# HELP pantheon_"))
            .all(|l| !l.ends_with("..")),
        "one full stop after each HELP text:\n{text}"
    );
    assert!(text.ends_with("# EOF\n"));
    assert_eq!(text.matches("# EOF").count(), 1);
}
