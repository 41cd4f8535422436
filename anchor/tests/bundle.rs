//! The published anchored bundle (`docs/vectors/bundle.json`) verifies end
//! to end offline, as `pantheon verify` does it: the runtime's links, then
//! the Bitcoin part against the commitment they return; and the Bitcoin
//! part's own links catch a flipped bit.

#![allow(clippy::unwrap_used, reason = "tests")]

use bitcoin::Network;
use pantheon_anchor::spv::{self, SpvError};
use pantheon_runtime::crypto::KeyCache;
use pantheon_runtime::proof::ProofBundle;

fn bundle() -> ProofBundle {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/vectors/bundle.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn published_anchored_bundle_verifies_down_to_bitcoin() {
    let b = bundle();
    let v = b.verify(None, &KeyCache::default()).unwrap();
    let claim = v.anchor.unwrap();
    let part = &b.anchor.as_ref().unwrap().bitcoin;
    let anchored = spv::verify(part, &claim.commitment.hash(), Network::Regtest, 3).unwrap();
    assert_eq!(anchored.txid.to_string(), claim.bitcoin_txid.to_string());
    assert_eq!(
        anchored.block_hash.to_string(),
        claim.bitcoin_block.to_string()
    );
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
    let claim = b
        .verify(None, &KeyCache::default())
        .unwrap()
        .anchor
        .unwrap();
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
