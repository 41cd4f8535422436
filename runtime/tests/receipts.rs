//! Receipts and receipt evidence (FORMATS 26): every case of
//! `docs/vectors/receipts.json` is judged as the file says, the signed
//! bytes are the published ones, and receipts signed in groups of every
//! size verify and bind their own leaf only.

#![allow(clippy::unwrap_used, reason = "tests")]

use pantheon_runtime::amount::Height;
use pantheon_runtime::crypto::{KeyCache, Keypair};
use pantheon_runtime::genesis::GenesisHeader;
use pantheon_runtime::hash::{Hash256, SubmissionId};
use pantheon_runtime::receipt::{
    ReceiptEvidence, ReceiptLeaf, SignedReceipt, carried_genesis, sign_group, sign_group_hedged,
    verify_evidence, verify_receipt,
};
use pantheon_runtime::vectors::generate;
use serde_json::Value;

fn vectors() -> Value {
    generate()
        .into_iter()
        .find(|v| v.name == "receipts")
        .unwrap()
        .json
}

fn genesis_of(v: &Value) -> GenesisHeader {
    carried_genesis(v["genesis"].as_str()).unwrap().unwrap()
}

#[test]
fn every_receipt_case_is_judged_as_published() {
    let v = vectors();
    let genesis = genesis_of(&v);
    let keys = KeyCache::new(4);
    for case in v["receipts"].as_array().unwrap() {
        let bytes = serde_json::to_vec(&case["receipt"]).unwrap();
        let outcome = SignedReceipt::from_slice(&bytes).and_then(|r| {
            let carried = carried_genesis(r.genesis.as_deref())?.unwrap_or(genesis.clone());
            verify_receipt(&r, &carried, &keys)
        });
        let expected = case["fails"].as_str();
        match (outcome, expected) {
            (Ok(_), None) => {}
            (Err(e), Some(link)) => assert_eq!(e.link.to_string(), link, "{}: {e:?}", case["name"]),
            (got, want) => panic!("{}: got {got:?}, expected failure {want:?}", case["name"]),
        }
    }
}

#[test]
fn every_evidence_case_is_judged_as_published() {
    let v = vectors();
    let keys = KeyCache::new(4);
    for case in v["evidence"].as_array().unwrap() {
        let bytes = serde_json::to_vec(&case["evidence"]).unwrap();
        let outcome =
            ReceiptEvidence::from_slice(&bytes).and_then(|e| verify_evidence(&e, None, &keys));
        match (outcome, case["fails"].as_str()) {
            (Ok(b), None) => {
                assert_eq!(b.height, Height::new(3));
                assert_eq!(b.next_seq, 1);
                assert_eq!(b.receipt.seq, 1);
            }
            (Err(e), Some(link)) => assert_eq!(e.link.to_string(), link, "{}: {e:?}", case["name"]),
            (got, want) => panic!("{}: got {got:?}, expected failure {want:?}", case["name"]),
        }
    }
}

#[test]
fn evidence_refuses_another_pinned_network() {
    let v = vectors();
    let doc = &v["evidence"][0]["evidence"];
    let e = ReceiptEvidence::from_slice(&serde_json::to_vec(doc).unwrap()).unwrap();
    let other = pantheon_runtime::hash::GenesisHash::new(Hash256::digest(b"other"));
    let err = verify_evidence(&e, Some(other), &KeyCache::new(4)).unwrap_err();
    assert_eq!(err.link.to_string(), "genesis");
}

#[test]
fn groups_of_every_size_verify_and_bind_their_leaf() {
    // The example network's validator (keys.json seed 0x01).
    let validator = Keypair::from_seed(&[0x01; 32]);
    let operator = Keypair::from_seed(&[0x02; 32]);
    let genesis = genesis_of(&vectors());
    let keys = KeyCache::new(4);
    for n in [1usize, 2, 3, 5, 8, 13] {
        let leaves: Vec<ReceiptLeaf> = (0..n as u64)
            .map(|i| ReceiptLeaf {
                submission: SubmissionId::new(Hash256::digest(&i.to_be_bytes())),
                operator: operator.id(),
                seq: i,
            })
            .collect();
        let signed = sign_group(&validator, genesis.hash(), 7, Height::new(9), &leaves);
        assert_eq!(signed.len(), n);
        // The node's hedged (AWS-LC) signing verifies the same way.
        let hedged = sign_group_hedged(&validator, genesis.hash(), 7, Height::new(9), &leaves);
        for r in &hedged {
            verify_receipt(r, &genesis, &keys).unwrap();
        }
        for (i, r) in signed.iter().enumerate() {
            let facts = verify_receipt(r, &genesis, &keys).unwrap();
            assert_eq!(facts.seq, i as u64);
            // Another leaf's path does not serve this leaf.
            if n > 1 {
                let mut swapped = r.clone();
                swapped.batch = signed[(i + 1) % n].batch.clone();
                assert!(verify_receipt(&swapped, &genesis, &keys).is_err());
            }
        }
    }
}
