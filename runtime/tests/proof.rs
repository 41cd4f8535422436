//! Proof bundles verify offline, and a flipped bit in any part is refused
//! with the name of the link that failed. Version 2 leaves the genesis to
//! the verifier; version 1 is still read and checked.

#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use base64::Engine as _;
use common::net;
use pantheon_runtime::crypto::KeyCache;
use pantheon_runtime::hash::SubmissionId;
use pantheon_runtime::ledger::Ledger;
use pantheon_runtime::proof::{
    BUNDLE_VERSION, BUNDLE_VERSION_1, Link, ProofBundle, ReceivedBundle,
};
use serde_json::Value;

/// A version-2 bundle (no genesis) and the network it is for.
fn bundle() -> (ProofBundle, common::Net) {
    let n = net(1, 0);
    let op = &n.users[0];
    let mut ledger = Ledger::from_genesis(&n.genesis);
    n.block(&mut ledger, vec![n.register(op, 0)]);
    let s0 = n.submit(op, 0, SubmissionId::default(), b"r0");
    let s1 = n.submit(op, 1, s0.submission_id(), b"r1");
    let (block, exec) = ledger
        .propose(0, 5, vec![s0, s1.clone()], None, &n.keys)
        .unwrap();
    ledger.commit(&block.header, exec).unwrap();
    let cert = n.certify(&block.header, &[&n.validator]);
    let inclusion = ledger
        .log()
        .inclusion_proof(1, block.header.log_size)
        .unwrap();
    let b = ProofBundle::new(
        n.hash(),
        &s1,
        op.public().clone(),
        inclusion,
        &block.header,
        &cert,
    );
    (b, n)
}

#[test]
fn a_valid_bundle_verifies_with_its_genesis_and_survives_json() {
    let (b, n) = bundle();
    let keys = KeyCache::default();
    assert_eq!(b.version, BUNDLE_VERSION);

    // Without the genesis, the genesis link asks for it.
    let e = b.verify(None, &keys).unwrap_err();
    assert_eq!(e.link, Link::Genesis);
    assert!(e.reason.contains("--genesis"), "{e}");

    // Supplied by the verifier, or embedded by the node.
    let mut supplied = b.clone();
    supplied.supply_genesis(n.genesis.header());
    let embedded = b.clone().with_genesis(n.genesis.header());
    assert_eq!(supplied, embedded);
    for t in [&supplied, &embedded] {
        let v = t.verify(Some(n.hash()), &keys).unwrap();
        assert_eq!(v.seq, 1);
        assert_eq!(v.height.get(), 2);
        assert_eq!(v.signers, (1, 1));
    }

    // JSON round trips, in both versions; version 2 writes base64 and no
    // genesis unless embedded.
    let json = serde_json::to_string(&b).unwrap();
    assert!(!json.contains("\"genesis\""), "{json}");
    let back: ProofBundle = serde_json::from_str(&json).unwrap();
    assert_eq!(back, b);
    let v1 = b.clone().into_version_1(n.genesis.header(), None);
    let back: ProofBundle = serde_json::from_str(&serde_json::to_string(&v1).unwrap()).unwrap();
    assert_eq!(back, v1);
    back.verify(Some(n.hash()), &keys).unwrap();
    let value: Value = serde_json::to_value(&embedded).unwrap();
    assert_eq!(value["genesis"].as_str().unwrap().len() % 4, 0);
}

#[test]
fn a_supplied_genesis_of_another_network_is_refused() {
    let (b, n) = bundle();
    let other = net(2, 0);
    let mut t = b.clone();
    t.supply_genesis(other.genesis.header());
    assert_eq!(
        t.verify(None, &KeyCache::default()).unwrap_err().link,
        Link::Genesis
    );
    // An embedded genesis is kept; the supplied one's hash pins it.
    let mut t = b.with_genesis(n.genesis.header());
    t.supply_genesis(other.genesis.header());
    assert_eq!(
        t.verify(Some(other.hash()), &KeyCache::default())
            .unwrap_err()
            .link,
        Link::Genesis
    );
}

#[test]
fn every_tampered_part_names_its_link() {
    let (b, n) = bundle();
    let b = b.with_genesis(n.genesis.header());
    let keys = KeyCache::default();
    let flip = |bytes: &mut Vec<u8>, at: usize| bytes[at] ^= 0x01;

    let mut t = b.clone();
    flip(&mut t.submission, 40);
    assert_eq!(t.verify(None, &keys).unwrap_err().link, Link::Submission);

    let mut t = b.clone();
    t.inclusion.path[0] = pantheon_runtime::hash::Hash256::digest(b"x");
    assert_eq!(t.verify(None, &keys).unwrap_err().link, Link::Path);

    let mut t = b.clone();
    flip(&mut t.header, 20);
    assert_eq!(t.verify(None, &keys).unwrap_err().link, Link::Header);

    let mut t = b.clone();
    let last = t.certificate.len() - 100;
    flip(&mut t.certificate, last);
    assert_eq!(t.verify(None, &keys).unwrap_err().link, Link::Certificate);

    let mut t = b.clone();
    flip(t.genesis.as_mut().unwrap(), 10);
    assert_eq!(t.verify(None, &keys).unwrap_err().link, Link::Genesis);

    let other = pantheon_runtime::hash::GenesisHash::default();
    assert_eq!(
        b.verify(Some(other), &keys).unwrap_err().link,
        Link::Genesis
    );

    let mut t = b.clone();
    t.version = 3;
    assert_eq!(t.verify(None, &keys).unwrap_err().link, Link::Format);
    let mut t = b.clone();
    t.version = BUNDLE_VERSION_1;
    assert!(t.verify(None, &keys).is_ok());
}

/// An edit of a bundle's JSON.
type Edit = dyn Fn(&mut Value);

#[test]
fn a_malformed_member_is_reported_by_its_link() {
    let (b, n) = bundle();
    let good: Value = serde_json::to_value(b.with_genesis(n.genesis.header())).unwrap();
    let keys = KeyCache::default();
    // The link that refuses the edited document, read as a verifier reads
    // it: the structure first (format), then each member by its link.
    let link = |edit: &Edit| {
        let mut t = good.clone();
        edit(&mut t);
        let text = serde_json::to_string(&t).unwrap();
        ReceivedBundle::from_json(&text)
            .and_then(|r| r.verify(None, &keys))
            .unwrap_err()
    };
    let cases: Vec<(Link, &Edit)> = vec![
        (Link::Format, &|t| t["version"] = 3.into()),
        (Link::Format, &|t| {
            t.as_object_mut().unwrap().remove("version").unwrap();
        }),
        (Link::Format, &|t| t["inclusion"]["extra"] = 1.into()),
        (Link::Format, &|t| t["header"] = 7.into()),
        (Link::Genesis, &|t| t["genesis_hash"] = "00".into()),
        (Link::Genesis, &|t| t["genesis"] = "AAAA".into()),
        (Link::Submission, &|t| t["submission"] = "AAA".into()),
        (Link::Submission, &|t| t["submission"] = "AA==AA==".into()),
        (Link::Submission, &|t| t["operator_key"] = "AAAA".into()),
        (Link::Header, &|t| t["header"] = "ab-_".into()),
        (Link::Header, &|t| t["header"] = "AB==".into()),
        (Link::Header, &|t| t["header"] = "AA".into()),
        (Link::Certificate, &|t| t["certificate"] = "AAAA".into()),
        // A path is whole 32-byte hashes, at most 64 of them.
        (Link::Path, &|t| t["inclusion"]["path"] = "AAAA".into()),
        (Link::Path, &|t| {
            t["inclusion"]["path"] = base64::engine::general_purpose::STANDARD
                .encode([0; 65 * 32])
                .into();
        }),
    ];
    for (want, edit) in cases {
        let e = link(edit);
        assert_eq!(e.link, want, "{e}");
    }
    // Hex is version 1's encoding, not version 2's.
    let hex_key = hex::encode(n.users[0].public().as_bytes());
    let e = link(&move |t| t["operator_key"] = hex_key.clone().into());
    assert_eq!(e.link, Link::Submission, "{e}");
    assert!(e.reason.contains("operator_key"), "{e}");
    // The typed reader refuses what the received one reads, naming the link.
    let mut t = good.clone();
    t["certificate"] = "####".into();
    let e = serde_json::from_value::<ProofBundle>(t).unwrap_err();
    assert!(e.to_string().contains("certificate link failed"), "{e}");
}

#[test]
fn the_quorum_of_a_certificate_is_its_first_two_thirds() {
    let mut n = net(1, 0);
    let vals = n.with_four_validators(0xb0);
    let set = n.genesis.header().validators.clone();
    let mut ledger = Ledger::from_genesis(&n.genesis);
    let (block, exec) = ledger.propose(0, 5, vec![], None, &n.keys).unwrap();
    ledger.commit(&block.header, exec).unwrap();
    let keys = KeyCache::default();
    let all = n.certify(&block.header, &vals.iter().collect::<Vec<_>>());
    let q = all.quorum(&set);
    let signers: Vec<u16> = q.signatures.iter().map(|s| s.validator).collect();
    assert_eq!(signers, [0, 1, 2]);
    q.verify(n.hash(), &set, &block.header, &keys).unwrap();
    // Without validator 1's signature: 0, 2, 3 (all of them).
    let only = |keep: &[u16]| {
        let mut c = all.clone();
        c.signatures.retain(|s| keep.contains(&s.validator));
        c
    };
    let some = only(&[0, 2, 3]);
    assert_eq!(some.quorum(&set), some);
    some.verify(n.hash(), &set, &block.header, &keys).unwrap();
    // A certificate without a quorum is kept whole (and stays invalid).
    let few = only(&[0, 3]);
    assert_eq!(few.quorum(&set), few);
}
