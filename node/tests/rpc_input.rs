//! Bad input over JSON-RPC: each case gets its own stable error code, the
//! node keeps serving, and nothing is charged or changed.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use pantheon_runtime::amount::Amount;
use pantheon_runtime::crypto::Keypair;
use pantheon_runtime::hash::{AuditRoot, GenesisHash, Hash256, SubmissionId};
use pantheon_runtime::tx::{Metadata, SubmitRoot, Transfer, TxBody};
use serde_json::{Value, json};
use support::DevNode;

fn submission(g: &GenesisHash, k: &Keypair, seq: u64, prev: SubmissionId, root: &[u8]) -> String {
    let tx = TxBody::SubmitRoot(SubmitRoot {
        operator: k.id(),
        seq,
        prev,
        root: AuditRoot::new(Hash256::digest(root)),
        metadata: Metadata::default(),
    })
    .sign(g, k);
    hex::encode(tx.as_bytes())
}

/// The node's RPC port and its network's genesis hash.
fn port_and_genesis(node: &DevNode) -> (u16, GenesisHash) {
    let port = node.rpc.rsplit(':').next().unwrap().parse().unwrap();
    let g = node.call("system_version", vec![]).unwrap()["genesis_hash"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    (port, g)
}

/// A raw HTTP POST; returns the status line and body.
fn post(port: u16, body: &[u8]) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.lines().next().unwrap_or_default().to_owned();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

#[test]
fn bad_input_gets_stable_codes_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(&dir.path().join("dev"));
    let (port, g) = port_and_genesis(&node);

    // An operator with funds, and one key never funded.
    let (_, op) = node.operator(dir.path(), "op", "1");
    let stranger = Keypair::from_seed(&[0x77; 32]);

    let first = submission(&g, &op, 0, SubmissionId::default(), b"r0");
    let receipt = node
        .call("pantheon_submitRoot", vec![json!(first)])
        .unwrap();
    let first_id: SubmissionId = receipt["id"].as_str().unwrap().parse().unwrap();

    let mut bad_sig = hex::decode(&first).unwrap();
    let last = bad_sig.len() - 1;
    bad_sig[last - 100] ^= 1;
    let mut wrong_version = hex::decode(&first).unwrap();
    wrong_version[0] = 9;
    let unfunded_transfer = TxBody::Transfer(Transfer {
        from_key: stranger.public().clone(),
        nonce: 0,
        to: op.id(),
        amount: Amount::from_units(1),
    })
    .sign(&g, &stranger);

    // The stranger signs a submission in the operator's name.
    let other_tenant = hex::encode(
        TxBody::SubmitRoot(SubmitRoot {
            operator: op.id(),
            seq: 1,
            prev: first_id,
            root: AuditRoot::new(Hash256::digest(b"r1")),
            metadata: Metadata::default(),
        })
        .sign(&g, &stranger)
        .as_bytes(),
    );
    let cases: Vec<(&str, &str, Value, i32)> = vec![
        ("malformed hex", "pantheon_submitRoot", json!("zz"), 1001),
        (
            "odd-length hex",
            "pantheon_getSubmission",
            json!("abc"),
            1001,
        ),
        (
            "short id",
            "pantheon_getSubmission",
            json!("00".repeat(31)),
            1002,
        ),
        (
            "long root",
            "pantheon_findRoot",
            json!("00".repeat(33)),
            1002,
        ),
        (
            "truncated transaction",
            "pantheon_submitRoot",
            json!(&first[..first.len() - 2]),
            1003,
        ),
        (
            "wrong version",
            "pantheon_submitRoot",
            json!(hex::encode(wrong_version)),
            1003,
        ),
        (
            "oversize transaction",
            "pantheon_submitRoot",
            json!("00".repeat(9000)),
            1003,
        ),
        (
            "transfer sent as a root",
            "pantheon_submitRoot",
            json!(hex::encode(unfunded_transfer.as_bytes())),
            1004,
        ),
        (
            "bad signature",
            "pantheon_submitRoot",
            json!(hex::encode(bad_sig)),
            1010,
        ),
        (
            "unknown operator",
            "pantheon_submitRoot",
            json!(submission(&g, &stranger, 0, SubmissionId::default(), b"x")),
            1011,
        ),
        (
            "another tenant's key",
            "pantheon_submitRoot",
            json!(other_tenant),
            1010,
        ),
        (
            "same seq, another root",
            "pantheon_submitRoot",
            json!(submission(&g, &op, 0, SubmissionId::default(), b"other")),
            1023,
        ),
        (
            "seq gap",
            "pantheon_submitRoot",
            json!(submission(&g, &op, 5, first_id, b"r5")),
            1013,
        ),
        (
            "wrong prev",
            "pantheon_submitRoot",
            json!(submission(&g, &op, 1, SubmissionId::default(), b"r1")),
            1014,
        ),
        (
            "unfunded account",
            "pantheon_submitTransaction",
            json!(hex::encode(unfunded_transfer.as_bytes())),
            1017,
        ),
        (
            "unknown submission",
            "pantheon_getSubmission",
            json!("00".repeat(32)),
            1040,
        ),
        ("unknown block", "chain_getBlock", json!(1_000_000), 1040),
    ];
    for (name, method, param, code) in cases {
        let err = node.call(method, vec![param]).expect_err(name);
        assert_eq!(err.0, code, "{name}: {}", err.1);
        assert!(!err.1.is_empty(), "{name}: the message names the problem");
    }

    // The same (operator, seq) and root with any other signed field is a
    // conflict naming the recorded submission, whether it is still queued
    // or already finalized (issue 11, defect 4).
    let changed = |metadata: Metadata, prev: SubmissionId| {
        hex::encode(
            TxBody::SubmitRoot(SubmitRoot {
                operator: op.id(),
                seq: 0,
                prev,
                root: AuditRoot::new(Hash256::digest(b"r0")),
                metadata,
            })
            .sign(&g, &op)
            .as_bytes(),
        )
    };
    let conflicts = [
        (
            "another label",
            changed(
                Metadata::new("ward-9", None).unwrap(),
                SubmissionId::default(),
            ),
        ),
        (
            "another record count",
            changed(Metadata::new("", Some(7)).unwrap(), SubmissionId::default()),
        ),
        (
            "another prev",
            changed(
                Metadata::default(),
                SubmissionId::new(Hash256::digest(b"p")),
            ),
        ),
    ];
    let check_conflicts = |when: &str| {
        for (name, tx) in &conflicts {
            let err = node
                .call("pantheon_submitRoot", vec![json!(tx)])
                .expect_err(name);
            assert_eq!(err.0, 1023, "{name} ({when}): {}", err.1);
            assert!(
                err.1.contains(&first_id.to_string()),
                "{name} ({when}): the error names the recorded submission: {}",
                err.1
            );
        }
    };
    check_conflicts("queued or just finalized");

    // Idempotent: the same submission again gets the same receipt...
    let again = node
        .call("pantheon_submitRoot", vec![json!(first)])
        .unwrap();
    assert_eq!(again["id"], receipt["id"]);
    let info = loop {
        let info = node
            .call("pantheon_getSubmission", vec![json!(first_id.to_string())])
            .unwrap();
        if info["status"] == "finalized" || info["status"] == "anchored" {
            break info;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // ... also once finalized, and only one fee was charged.
    let after = node
        .call("pantheon_submitRoot", vec![json!(first)])
        .unwrap();
    assert_eq!(after["id"], receipt["id"]);
    assert!(after["status"] == "finalized" || after["status"] == "anchored");
    assert_eq!(after["height"], info["height"]);
    check_conflicts("finalized");
    let bal = node
        .call("pan_getBalance", vec![json!(op.id().to_string())])
        .unwrap();
    let expected = Amount::from_pan(1).unwrap().units() - 100_000_000 - 1_000_000;
    assert_eq!(bal["balance"], expected.to_string());

    // An oversized HTTP body is refused by the server.
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"pantheon_submitRoot","params":["{}"]}}"#,
        "0".repeat(2 << 20)
    );
    let (status, _) = post(port, huge.as_bytes());
    assert!(status.contains("413"), "oversized request: {status}");

    // A batch over the limit is refused; a burst of batches is served.
    let batch: Vec<Value> = (0..300)
        .map(|i| json!({"jsonrpc":"2.0","id":i,"method":"system_version","params":[]}))
        .collect();
    let (_, body) = post(port, Value::Array(batch).to_string().as_bytes());
    assert!(body.contains("error"), "oversized batch: {body}");
    std::thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| {
                let batch: Vec<Value> = (0..50)
                    .map(|i| json!({"jsonrpc":"2.0","id":i,"method":"pan_getSupply","params":[]}))
                    .collect();
                let (status, body) = post(port, Value::Array(batch).to_string().as_bytes());
                assert!(status.contains("200"), "{status}");
                assert_eq!(serde_json::from_str::<Vec<Value>>(&body).unwrap().len(), 50);
            });
        }
    });

    // Still serving, supply intact.
    let supply = node.call("pan_getSupply", vec![]).unwrap();
    assert_eq!(supply["conserved"], true);
}

/// A connection from `source` that sends a request's headers and part of
/// its body (or, with `body: false`, part of its headers) and then stops.
fn half_request(source: [u8; 4], port: u16, body: bool) -> std::net::TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let socket = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(std::net::SocketAddr::from((source, 0)))
            .unwrap();
        socket
            .connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .unwrap()
            .into_std()
            .unwrap()
    });
    socket.set_nonblocking(false).unwrap();
    let mut s = socket;
    let head = if body {
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,"
    } else {
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty"
    };
    s.write_all(head.as_bytes()).unwrap();
    s
}

/// What the server sent on `s` until it closed the connection (or `wait`
/// passed: then `None`).
fn answer_and_close(s: &mut std::net::TcpStream, wait: Duration) -> Option<String> {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&out).into_owned());
            }
            Err(_) => return None,
        }
    }
}

/// Issue 11, defect 3: 300 connections from one address that send half a
/// request and stop cannot lock other clients out. One address holds at
/// most its share of the pool (the rest are answered 429 at once), other
/// clients submit and read normally meanwhile, and the held connections
/// are answered 408 and closed when the body timeout passes; half-sent
/// headers are closed when the header timeout passes.
#[test]
fn half_sent_requests_from_one_address_do_not_lock_other_clients_out() {
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_secs(4);
    let node = DevNode::start_with(
        &dir.path().join("dev"),
        &["--no-bitcoin", "--rpc-timeout-ms", "4000"],
    );
    let (port, g) = port_and_genesis(&node);
    let (_, op) = node.operator(dir.path(), "op", "1");

    let started = std::time::Instant::now();
    let mut held: Vec<std::net::TcpStream> = (0..300)
        .map(|i| half_request([127, 0, 0, 2], port, i % 10 != 0))
        .collect();
    // The server answers the connections beyond the address's share at
    // once, with 429.
    std::thread::sleep(Duration::from_millis(500));
    let mut refused = 0;
    held.retain_mut(|s| match answer_and_close(s, Duration::from_millis(5)) {
        Some(answer) => {
            assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
            refused += 1;
            false
        }
        None => true,
    });
    assert!(
        held.len() <= 64,
        "one address holds {} connections (limit 64)",
        held.len()
    );
    assert_eq!(refused + held.len(), 300);

    // Meanwhile everyone else is served: a submission is accepted and
    // finalized, reads answer.
    let first = submission(&g, &op, 0, SubmissionId::default(), b"while-held");
    let receipt = node
        .call("pantheon_submitRoot", vec![json!(first)])
        .unwrap();
    loop {
        let info = node
            .call("pantheon_getSubmission", vec![receipt["id"].clone()])
            .unwrap();
        if info["status"] == "finalized" {
            break;
        }
        assert!(started.elapsed() < timeout, "not finalized while held");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(node.call("chain_getHead", vec![]).is_ok());
    let (status, _) = post(
        port,
        br#"{"jsonrpc":"2.0","id":1,"method":"pan_getSupply"}"#,
    );
    assert!(status.contains("200"), "{status}");
    assert!(
        started.elapsed() < timeout,
        "the checks above ran while the connections were held"
    );

    // When the timeouts pass, the server closes every held connection:
    // a late body is answered 408, late headers are just closed.
    for s in &mut held {
        let answer = answer_and_close(s, timeout + Duration::from_secs(5))
            .expect("the server closes a held connection after its timeout");
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }
    assert!(started.elapsed() >= timeout);
    let (status, _) = post(
        port,
        br#"{"jsonrpc":"2.0","id":1,"method":"pan_getSupply"}"#,
    );
    assert!(status.contains("200"), "{status}");
}
