//! Crash safety: `kill -9` the dev node at random moments under load, 20
//! times. After every restart each submission that was reported finalized
//! is still there with a valid proof, no height is lost or duplicated, and
//! blocks resume.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pantheon_runtime::crypto::{KeyCache, Keypair};
use pantheon_runtime::hash::{AuditRoot, GenesisHash, Hash256, SubmissionId};
use pantheon_runtime::proof::ProofBundle;
use pantheon_runtime::tx::{Metadata, SubmitRoot, TxBody};
use serde_json::{Value, json};
use support::{DevNode, Lcg};

const CYCLES: u32 = 20;

#[test]
fn kill_nine_under_load_loses_nothing_finalized() {
    let seed = support::seed("CRASH_SEED", "crash test");
    let mut rng = Lcg(seed);

    let dir = tempfile::tempdir().unwrap();
    let mut node = DevNode::start(&dir.path().join("dev"));
    let g: GenesisHash = node.call("system_version", vec![]).unwrap()["genesis_hash"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let keys: Vec<Keypair> = (0..3u8)
        .map(|i| node.operator(dir.path(), &format!("op{i}"), "100").1)
        .collect();

    // Load: every operator submits continuously; ids it saw finalized are recorded.
    let stop = Arc::new(AtomicBool::new(false));
    let finalized: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let loaders: Vec<_> = keys
        .into_iter()
        .map(|k| {
            let (stop, finalized) = (stop.clone(), finalized.clone());
            let port_rpc = node.rpc.clone();
            std::thread::spawn(move || {
                let probe = support::Rpc::new(&port_rpc);
                let mut n = 0u64;
                let mut sent: Vec<String> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let Ok(op) =
                        probe.call("pantheon_getOperator", vec![json!(k.id().to_string())])
                    else {
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    };
                    n += 1;
                    let tx = TxBody::SubmitRoot(SubmitRoot {
                        operator: k.id(),
                        seq: op["pending_next_seq"].as_u64().unwrap(),
                        prev: op["pending_prev"]
                            .as_str()
                            .unwrap()
                            .parse::<SubmissionId>()
                            .unwrap(),
                        root: AuditRoot::new(Hash256::digest(&n.to_be_bytes())),
                        metadata: Metadata::default(),
                    })
                    .sign(&g, &k);
                    if probe
                        .call(
                            "pantheon_submitRoot",
                            vec![json!(hex::encode(tx.as_bytes()))],
                        )
                        .is_ok()
                    {
                        sent.push(tx.submission_id().to_string());
                    }
                    sent.retain(
                        |id| match probe.call("pantheon_getSubmission", vec![json!(id)]) {
                            Ok(info)
                                if info["status"] == "finalized"
                                    || info["status"] == "anchored" =>
                            {
                                finalized
                                    .lock()
                                    .unwrap()
                                    .insert(id.clone(), info["height"].as_u64().unwrap());
                                false
                            }
                            Ok(_) => true,
                            Err(_) => false, // lost from the mempool by a crash: never acknowledged as final
                        },
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();

    let keys_cache = KeyCache::default();
    let mut last_height = 0;
    for cycle in 0..CYCLES {
        std::thread::sleep(Duration::from_millis(200 + rng.next() % 1200));
        node.kill_and_restart();
        let seen: BTreeMap<String, u64> = finalized.lock().unwrap().clone();
        // Every finalized submission survived with a valid proof at its height.
        for (id, height) in &seen {
            let info = node
                .call("pantheon_getSubmission", vec![json!(id)])
                .unwrap_or_else(|e| {
                    panic!("seed {seed} cycle {cycle}: finalized {id} lost: {e:?}")
                });
            assert!(
                info["status"] == "finalized" || info["status"] == "anchored",
                "seed {seed} cycle {cycle}: {id} is {}",
                info["status"]
            );
            assert_eq!(
                info["height"].as_u64().unwrap(),
                *height,
                "seed {seed}: {id} moved"
            );
        }
        if let Some((id, _)) = seen
            .iter()
            .nth(usize::try_from(rng.next()).unwrap() % seen.len().max(1))
        {
            // Fetched with the genesis embedded; `g` pins it.
            let bundle: ProofBundle = serde_json::from_value(
                node.call("pantheon_getProof", vec![json!(id), json!(true)])
                    .unwrap(),
            )
            .unwrap();
            bundle
                .verify(Some(g), &keys_cache)
                .unwrap_or_else(|e| panic!("seed {seed} cycle {cycle}: {e}"));
        }
        // Heights are contiguous, each block's parent is the previous block.
        let head = node.call("chain_getHead", vec![]).unwrap()["header"]["height"]
            .as_u64()
            .unwrap();
        assert!(
            head >= last_height,
            "seed {seed} cycle {cycle}: height went back from {last_height} to {head}"
        );
        let mut parent: Option<Value> = None;
        for h in last_height.max(1)..=head {
            let b = node
                .call("chain_getBlock", vec![json!(h)])
                .unwrap_or_else(|e| panic!("seed {seed}: block {h} missing: {e:?}"));
            assert_eq!(b["header"]["height"].as_u64().unwrap(), h);
            if let Some(p) = parent {
                assert_eq!(
                    b["header"]["parent"],
                    p["hash"],
                    "seed {seed}: block {h} does not extend {}",
                    h - 1
                );
            }
            parent = Some(b);
        }
        last_height = head;
    }
    // Blocks resume after the last restart.
    let head = node.call("chain_getHead", vec![]).unwrap()["header"]["height"]
        .as_u64()
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        let now = node.call("chain_getHead", vec![]).unwrap()["header"]["height"]
            .as_u64()
            .unwrap();
        if now > head + 2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "seed {seed}: blocks did not resume"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    for l in loaders {
        l.join().unwrap();
    }
    let total = finalized.lock().unwrap().len();
    eprintln!("{total} submissions finalized across {CYCLES} kill -9 cycles");
    assert!(
        total > 0,
        "seed {seed}: the load produced no finalized submission"
    );
}
