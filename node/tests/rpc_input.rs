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
        (
            "amount and fee overflow",
            "pantheon_submitTransaction",
            json!(hex::encode(
                TxBody::Transfer(Transfer {
                    from_key: op.public().clone(),
                    nonce: 1,
                    to: stranger.id(),
                    amount: Amount::from_units(u64::MAX),
                })
                .sign(&g, &op)
                .as_bytes()
            )),
            1019,
        ),
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

/// Issue 15: the JSON-RPC 2.0 envelope. Ids jsonrpsee cannot represent,
/// extra or unknown parameters, unknown members and bodies that are not
/// JSON all get an error object over HTTP 200 (never an empty `null`
/// answer, never a silent call), and a batch with one bad call runs none
/// of its calls.
#[test]
fn malformed_envelopes_get_error_objects_and_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start_with(&dir.path().join("dev"), &["--no-bitcoin"]);
    let (port, g) = port_and_genesis(&node);
    let (_, op) = node.operator(dir.path(), "op", "1");
    let answer = |body: &str| {
        let (status, body) = post(port, body.as_bytes());
        assert!(status.contains(" 200 "), "{status} for {body}");
        serde_json::from_str::<Value>(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"))
    };
    for id in ["-1", "1.5", "18446744073709551616", "{}", "[2]", "true"] {
        let a = answer(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"system_health","params":[]}}"#
        ));
        assert_eq!(a["error"]["code"], -32600, "id {id}: {a}");
        assert_eq!(a["id"], Value::Null, "id {id}");
    }
    let a = answer(r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"pan_getSupply"}"#);
    assert_eq!(a["result"]["conserved"], true, "{a}");

    let cases = [
        (
            r#"{"jsonrpc":"2.0","id":3,"method":"system_health","params":[1]}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":3,"method":"chain_getBlock","params":[1,false,3]}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":3,"method":"chain_getBlock","params":{"height":1,"all":true}}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":3,"method":"system_health","extra":1}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"1.0","id":3,"method":"system_health"}"#,
            -32600,
        ),
        (r#"{"jsonrpc":"2.0","id":3,"method":"no_such"}"#, -32601),
        ("nope", -32700),
        ("{", -32700),
        ("", -32700),
        ("5", -32600),
        ("[]", -32600),
    ];
    for (body, code) in cases {
        let a = answer(body);
        assert_eq!(a["error"]["code"], code, "{body}: {a}");
        assert!(!a["error"]["message"].as_str().unwrap().is_empty());
    }

    // A batch whose second call is malformed runs none: the valid
    // submission in it is not admitted.
    let sub = submission(&g, &op, 0, SubmissionId::default(), b"batched");
    let batch = json!([
        {"jsonrpc":"2.0","id":1,"method":"pantheon_submitRoot","params":[sub]},
        {"jsonrpc":"2.0","id":-1,"method":"system_health"},
    ]);
    let a = answer(&batch.to_string());
    let calls = a.as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["id"], 1);
    assert_eq!(calls[0]["error"]["code"], -32600, "{a}");
    let info = node
        .call("pantheon_getOperator", vec![json!(op.id().to_string())])
        .unwrap();
    assert_eq!(
        info["next_seq"], 0,
        "nothing of the rejected batch ran: {info}"
    );
}

/// Issue 15: a block's answer is bounded whatever its size. By default
/// `chain_getBlock` answers ids only; its transactions come in pages of
/// at most 256 from `chain_getBlockTransactions`, whose pages put
/// together give the block's ids back.
#[test]
fn a_large_block_is_read_in_bounded_pages() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start_with(
        &dir.path().join("dev"),
        &["--no-bitcoin", "--block-time-ms", "3000"],
    );
    let (port, g) = port_and_genesis(&node);
    let ops: Vec<Keypair> = (0..3)
        .map(|i| node.operator(dir.path(), &format!("op{i}"), "1").1)
        .collect();
    // 3 x 120 submissions in three batch requests, well within one block.
    for op in &ops {
        let mut prev = SubmissionId::default();
        let batch: Vec<Value> = (0..120u64)
            .map(|seq| {
                let hex = submission(&g, op, seq, prev, &seq.to_be_bytes());
                let tx = pantheon_runtime::codec::decode_exact::<pantheon_runtime::tx::SignedTx>(
                    &hex::decode(&hex).unwrap(),
                )
                .unwrap();
                prev = tx.submission_id();
                json!({"jsonrpc":"2.0","id":seq,"method":"pantheon_submitRoot","params":[hex]})
            })
            .collect();
        let (_, body) = post(port, Value::Array(batch).to_string().as_bytes());
        let answers: Vec<Value> = serde_json::from_str(&body).unwrap();
        assert!(answers.iter().all(|a| a.get("result").is_some()), "{body}");
    }
    // Find the largest block.
    let start = std::time::Instant::now();
    let (height, count) = loop {
        let head = node.call("chain_getHead", vec![]).unwrap()["header"]["height"]
            .as_u64()
            .unwrap();
        let biggest = (1..=head)
            .map(|h| {
                let b = node.call("chain_getBlock", vec![json!(h)]).unwrap();
                (h, b["tx_ids"].as_array().unwrap().len())
            })
            .max_by_key(|&(_, n)| n)
            .unwrap();
        if biggest.1 > 256 {
            break biggest;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no block of more than 256 transactions"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let (_, body) = post(
        port,
        json!({"jsonrpc":"2.0","id":1,"method":"chain_getBlock","params":[height]})
            .to_string()
            .as_bytes(),
    );
    assert!(
        body.len() < 100 * count,
        "ids only: {} bytes for {count} transactions",
        body.len()
    );
    let err = node
        .call("chain_getBlock", vec![json!(height), json!(true)])
        .unwrap_err();
    assert_eq!(err.0, 1042, "{}", err.1);
    assert!(err.1.contains("chain_getBlockTransactions"), "{}", err.1);
    let err = node
        .call(
            "chain_getBlockTransactions",
            vec![json!(height), json!(0), json!(257)],
        )
        .unwrap_err();
    assert_eq!(err.0, 1042, "{}", err.1);

    let ids = node.call("chain_getBlock", vec![json!(height)]).unwrap()["tx_ids"].clone();
    let mut paged = Vec::new();
    let mut offset = Some(0u64);
    while let Some(o) = offset {
        let page = node
            .call(
                "chain_getBlockTransactions",
                vec![json!(height), json!(o), json!(100)],
            )
            .unwrap();
        assert_eq!(page["total"], count);
        for tx in page["txs"].as_array().unwrap() {
            let bytes = hex::decode(tx.as_str().unwrap()).unwrap();
            paged.push(json!(
                pantheon_runtime::codec::decode_exact::<pantheon_runtime::tx::SignedTx>(&bytes)
                    .unwrap()
                    .id()
                    .to_string()
            ));
        }
        offset = page["next"].as_u64();
    }
    assert_eq!(Value::Array(paged), ids);
    let err = node
        .call(
            "chain_getBlockTransactions",
            vec![json!(height), json!(count)],
        )
        .unwrap_err();
    assert_eq!(err.0, 1040, "{}", err.1);
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
