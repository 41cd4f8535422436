//! The published anchored bundles (`docs/vectors/bundle.json`, version 2,
//! with the genesis of `genesis.json`; `bundle-v1.json`) verify end to end
//! offline, as `pantheon verify` does it: the runtime's links, then the
//! Bitcoin part against the commitment they return; and the Bitcoin part's
//! own links catch a flipped bit.

#![allow(clippy::unwrap_used, reason = "tests")]

use bitcoin::Network;
use pantheon_anchor::spv::{self, SpvError};
use pantheon_runtime::crypto::KeyCache;
use pantheon_runtime::genesis::Genesis;
use pantheon_runtime::proof::{ProofBundle, VerifiedAnchorClaim};

fn vector(name: &str) -> serde_json::Value {
    // The manifest directory at run time: cargo reuses a test binary built
    // in another checkout of the same workspace (shared target directory),
    // and `env!` would name that checkout.
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let path = format!("{root}/../docs/vectors/{name}.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// What the runtime's links of `b` prove: the commitment to find in Bitcoin.
fn claim(b: &ProofBundle) -> VerifiedAnchorClaim {
    b.verify(None, &KeyCache::default())
        .unwrap()
        .anchor
        .unwrap()
}

/// `bundle.json` with the genesis of `genesis.json` supplied, as
/// `pantheon verify --genesis` does.
fn bundle() -> ProofBundle {
    let mut b: ProofBundle = serde_json::from_value(vector("bundle")).unwrap();
    let genesis: Genesis = serde_json::from_value(vector("genesis")["genesis"].clone()).unwrap();
    b.supply_genesis(genesis.header());
    b
}

#[test]
fn published_anchored_bundles_verify_down_to_bitcoin() {
    let v1: ProofBundle = serde_json::from_value(vector("bundle-v1")).unwrap();
    for b in [bundle(), v1] {
        let claim = claim(&b);
        let part = &b.anchor.as_ref().unwrap().bitcoin;
        let anchored = spv::verify(part, &claim.commitment.hash(), Network::Regtest, 3).unwrap();
        assert_eq!(anchored.txid.to_string(), claim.bitcoin_txid.to_string());
        assert_eq!(
            anchored.block_hash.to_string(),
            claim.bitcoin_block.unwrap().to_string()
        );
    }
    let b = bundle();
    let claim = claim(&b);
    let part = &b.anchor.as_ref().unwrap().bitcoin;
    assert!(matches!(
        spv::verify(part, &claim.commitment.hash(), Network::Regtest, 4),
        Err(SpvError::NotEnoughConfirmations { have: 3, need: 4 })
    ));
    assert!(matches!(
        spv::verify(part, &claim.commitment.hash(), Network::Bitcoin, 1),
        Err(SpvError::TargetAboveLimit { index: 0, .. })
    ));
}

#[test]
fn bitcoin_part_of_the_bundle_catches_flipped_bits() {
    let b = bundle();
    let claim = claim(&b);
    let part = b.anchor.unwrap().bitcoin;
    for i in 0..part.branch.len() * 256 {
        let mut p = part.clone();
        p.branch[i / 256][(i % 256) / 8] ^= 1 << (i % 8);
        assert!(spv::verify(&p, &claim.commitment.hash(), Network::Regtest, 3).is_err());
    }
    for i in 0..part.headers.len() * 640 {
        let mut p = part.clone();
        p.headers[i / 640][(i % 640) / 8] ^= 1 << (i % 8);
        assert!(
            spv::verify(&p, &claim.commitment.hash(), Network::Regtest, 3).is_err(),
            "header {} bit {}",
            i / 640,
            i % 640
        );
    }
}
