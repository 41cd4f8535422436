//! Proof bundles verify offline, and a flipped bit in any part is refused
//! with the name of the link that failed.

#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use common::net;
use pantheon_runtime::crypto::KeyCache;
use pantheon_runtime::hash::SubmissionId;
use pantheon_runtime::ledger::Ledger;
use pantheon_runtime::proof::{Link, ProofBundle};

fn bundle() -> ProofBundle {
    let n = net(1, 0);
    let op = &n.users[0];
    let mut ledger = Ledger::from_genesis(&n.genesis);
    n.block(&mut ledger, vec![n.register(op, 0)]);
    let s0 = n.submit(op, 0, SubmissionId::default(), b"r0");
    let s1 = n.submit(op, 1, s0.submission_id(), b"r1");
    let (block, exec) = ledger.propose(0, 5, vec![s0, s1.clone()], &n.keys).unwrap();
    ledger.commit(&block.header, exec).unwrap();
    let cert = n.certify(&block.header, &[&n.validator]);
    let inclusion = ledger
        .log()
        .inclusion_proof(1, block.header.log_size)
        .unwrap();
    ProofBundle::new(
        n.genesis.header(),
        &s1,
        op.public().clone(),
        inclusion,
        &block.header,
        &cert,
    )
}

#[test]
fn a_valid_bundle_verifies_and_survives_json() {
    let b = bundle();
    let json = serde_json::to_string(&b).unwrap();
    let back: ProofBundle = serde_json::from_str(&json).unwrap();
    let v = back
        .verify(Some(b.genesis_hash), &KeyCache::default())
        .unwrap();
    assert_eq!(v.seq, 1);
    assert_eq!(v.height.get(), 2);
    assert_eq!(v.signers, (1, 1));
    // Hex of: genesis with one validator key, submission, operator key, one
    // signature, header and path.
    assert!(json.len() < 24_000, "bundle is {} bytes", json.len());
}

#[test]
fn every_tampered_part_names_its_link() {
    let b = bundle();
    let keys = KeyCache::default();
    let flip = |bytes: &mut Vec<u8>, at: usize| bytes[at] ^= 0x01;

    let mut t = b.clone();
    flip(&mut t.submission.0, 40);
    assert_eq!(t.verify(None, &keys).unwrap_err().link, Link::Submission);

    let mut t = b.clone();
    t.inclusion.path[0] = pantheon_runtime::hash::Hash256::digest(b"x");
    assert_eq!(t.verify(None, &keys).unwrap_err().link, Link::Path);

    let mut t = b.clone();
    flip(&mut t.header.0, 20);
    assert_eq!(t.verify(None, &keys).unwrap_err().link, Link::Header);

    let mut t = b.clone();
    let last = t.certificate.0.len() - 100;
    flip(&mut t.certificate.0, last);
    assert_eq!(t.verify(None, &keys).unwrap_err().link, Link::Certificate);

    let mut t = b.clone();
    flip(&mut t.genesis.0, 10);
    assert_eq!(t.verify(None, &keys).unwrap_err().link, Link::Genesis);

    let other = pantheon_runtime::hash::GenesisHash::default();
    assert_eq!(
        b.verify(Some(other), &keys).unwrap_err().link,
        Link::Genesis
    );

    let mut t = b.clone();
    t.version = 2;
    assert_eq!(t.verify(None, &keys).unwrap_err().link, Link::Format);
}
