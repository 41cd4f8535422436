//! The reading vectors (FORMATS 22.6, 22.7), through the one verification
//! call as `pantheon verify` makes it: every case of
//! `docs/vectors/bundle-malformed.json`, read from its text, fails at the
//! link the file names (or verifies), and the bundle of
//! `bundle-limits.json` verifies with every path at its limit.

#![allow(clippy::unwrap_used, reason = "tests")]

use pantheon_anchor::{Checks, Trust, verify_bundle};
use pantheon_runtime::anchor::BitcoinNetwork;
use pantheon_runtime::crypto::KeyCache;
use pantheon_runtime::genesis::Genesis;
use pantheon_runtime::proof::{Link, MAX_PATH_HASHES, ReceivedBundle};
use serde_json::Value;

fn vector(name: &str) -> Value {
    // At run time, not `env!`: a test binary reused from another checkout
    // sharing the target directory would read that checkout's files.
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let path = format!("{root}/../docs/vectors/{name}.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The document of a case: its `text`, or its base edited, with `insert`
/// placed after the opening brace.
fn document(case: &Value, bases: &[(&str, Value)]) -> String {
    if let Some(text) = case["text"].as_str() {
        return text.to_owned();
    }
    let base = case["base"].as_str().unwrap();
    let mut doc = bases.iter().find(|(n, _)| *n == base).unwrap().1.clone();
    for edit in case["edits"].as_array().into_iter().flatten() {
        let at = edit["at"].as_array().unwrap();
        let (last, parents) = at.split_last().unwrap();
        let mut target = &mut doc;
        for p in parents {
            target = match p {
                Value::String(name) => &mut target[name.as_str()],
                other => &mut target[usize::try_from(other.as_u64().unwrap()).unwrap()],
            };
        }
        let remove = edit["remove"].as_bool().unwrap_or(false);
        match last {
            Value::String(name) if remove => {
                target.as_object_mut().unwrap().remove(name).unwrap();
            }
            Value::String(name) => {
                target[name.as_str()] = edit["value"].clone();
            }
            index => {
                target[usize::try_from(index.as_u64().unwrap()).unwrap()] = edit["value"].clone();
            }
        }
    }
    let text = serde_json::to_string(&doc).unwrap();
    match case["insert"].as_str() {
        Some(insert) => format!("{{{insert}{}", &text[1..]),
        None => text,
    }
}

#[test]
fn every_malformed_bundle_fails_at_the_link_the_vectors_name() {
    let genesis: Genesis = serde_json::from_value(vector("genesis")["genesis"].clone()).unwrap();
    let bases = [
        ("bundle", vector("bundle")),
        ("bundle-v1", vector("bundle-v1")),
        ("limits", vector("bundle-limits")["bundle"].clone()),
    ];
    let regtest = Checks {
        bitcoin_network: Some(BitcoinNetwork::Regtest),
        ..Checks::default()
    };
    let keys = KeyCache::default();
    let cases = vector("bundle-malformed");
    let cases = cases["cases"].as_array().unwrap();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let text = document(case, &bases);
        let (trust, checks) = match case["base"].as_str().unwrap() {
            "bundle" => (
                Trust {
                    genesis: Some(genesis.header().clone()),
                    ..Trust::default()
                },
                regtest.clone(),
            ),
            "bundle-v1" => (Trust::default(), regtest.clone()),
            _ => (Trust::default(), Checks::default()),
        };
        let got = ReceivedBundle::from_json(&text)
            .and_then(|b| verify_bundle(&b, &trust, &checks, &keys))
            .map(|_| ());
        let want = case["failed_link"].as_str();
        match (got, want) {
            (Ok(()), None) => {}
            (Err(e), Some(link)) => assert_eq!(e.link.to_string(), link, "{name}: {e}"),
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn the_limits_bundle_verifies_and_one_hash_more_is_refused() {
    let doc = vector("bundle-limits");
    let text = serde_json::to_string(&doc["bundle"]).unwrap();
    let b = ReceivedBundle::from_json(&text).unwrap();
    let v = verify_bundle(
        &b,
        &Trust::default(),
        &Checks::default(),
        &KeyCache::default(),
    )
    .unwrap();
    assert_eq!(v.bitcoin.unwrap().confirmations, 3);
    assert_eq!(doc["inclusion_path_hashes"], MAX_PATH_HASHES);
    assert_eq!(doc["history_path_hashes"], MAX_PATH_HASHES);
    assert_eq!(doc["branch_hashes"], 32);
    // The typed bundle is refused at the same limit as its JSON.
    let mut typed = b.into_bundle().unwrap();
    typed
        .inclusion
        .path
        .push(pantheon_runtime::hash::Hash256::ZERO);
    let e = verify_bundle(
        &typed,
        &Trust::default(),
        &Checks::default(),
        &KeyCache::default(),
    )
    .unwrap_err();
    assert_eq!(e.link, Link::Path, "{e}");
    assert!(e.reason.contains("more than 64"), "{e}");
}

/// `pantheon verify` reads the file with `ReceivedBundle::from_slice` and
/// hands the result to both calls, as it did with a `ProofBundle`.
#[expect(dead_code, reason = "only needs to compile")]
async fn ask_about(
    rpc: &pantheon_anchor::BitcoinRpc,
    b: &ReceivedBundle,
) -> Option<pantheon_anchor::verify::LiveAnswer> {
    pantheon_anchor::verify::ask_live_node(rpc, b).await
}

#[test]
fn a_file_that_is_not_json_is_the_format_link() {
    for bytes in [&b"{\"version\": 2"[..], b"\xff", b""] {
        let e = ReceivedBundle::from_slice(bytes).unwrap_err();
        assert_eq!(e.link, Link::Format);
    }
}
