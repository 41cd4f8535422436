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

mod one_call {
    //! `verify_bundle`, the one verification call, on the published
    //! bundles: the network comes from the genesis, a stated network must
    //! agree, and off regtest headers alone are refused.

    use pantheon_anchor::verify::{
        BitcoinBacking, GenesisPin, LiveAnswer, LiveBlock, NetworkSource,
    };
    use pantheon_anchor::{Checkpoint, Checks, Trust, verify_bundle};
    use pantheon_runtime::anchor::BitcoinNetwork;
    use pantheon_runtime::crypto::KeyCache;
    use pantheon_runtime::genesis::Genesis;
    use pantheon_runtime::proof::{Link, ProofBundle};

    use super::vector;

    fn pinned(network: &str) -> ProofBundle {
        serde_json::from_value(vector("bundle-pinned")[network].clone()).unwrap()
    }

    fn check(
        b: &ProofBundle,
        trust: &Trust,
        checks: &Checks,
    ) -> Result<pantheon_anchor::Verdict, (Link, String)> {
        verify_bundle(b, trust, checks, &KeyCache::default()).map_err(|e| (e.link, e.reason))
    }

    #[test]
    fn a_self_contained_bundle_verifies_with_no_flags_and_says_what_it_rests_on() {
        let v = check(&pinned("regtest"), &Trust::default(), &Checks::default()).unwrap();
        assert_eq!(v.genesis_pinned, GenesisPin::Unpinned);
        let b = v.bitcoin.unwrap();
        assert_eq!(b.network, BitcoinNetwork::Regtest);
        assert_eq!(b.network_source, NetworkSource::Genesis);
        assert_eq!((b.confirmations, b.required_confirmations), (3, 3));
        assert_eq!(b.backed_by, BitcoinBacking::HeadersOnly);
        assert!(b.block_time > 0);
        assert_eq!(
            v.links,
            [
                Link::Format,
                Link::Genesis,
                Link::Submission,
                Link::Header,
                Link::Certificate,
                Link::Path,
                Link::History,
                Link::Bitcoin
            ]
        );
        // Pinned by its hash, the same verdict says so.
        let hash = v.proof.genesis_hash;
        let trust = Trust {
            genesis_hash: Some(hash),
            ..Trust::default()
        };
        assert_eq!(
            check(&pinned("regtest"), &trust, &Checks::default())
                .unwrap()
                .genesis_pinned,
            GenesisPin::Hash
        );
    }

    #[test]
    fn a_stated_root_network_or_depth_adds_a_check() {
        let b = pinned("regtest");
        let root = check(&b, &Trust::default(), &Checks::default())
            .unwrap()
            .proof
            .root;
        let ok = Checks {
            root: Some(root),
            ..Checks::default()
        };
        assert!(
            check(&b, &Trust::default(), &ok)
                .unwrap()
                .links
                .contains(&Link::Root)
        );
        let other = Checks {
            root: Some(pantheon_runtime::hash::AuditRoot::default()),
            ..Checks::default()
        };
        let (link, why) = check(&b, &Trust::default(), &other).unwrap_err();
        assert_eq!(link, Link::Root);
        assert!(why.contains(&root.to_string()), "{why}");
        let testnet4 = Checks {
            bitcoin_network: Some(BitcoinNetwork::Testnet4),
            ..Checks::default()
        };
        let (link, why) = check(&b, &Trust::default(), &testnet4).unwrap_err();
        assert_eq!(link, Link::Bitcoin);
        assert!(why.contains("not the stated testnet4"), "{why}");
        let deeper = Checks {
            confirmations: Some(4),
            ..Checks::default()
        };
        assert_eq!(
            check(&b, &Trust::default(), &deeper).unwrap_err().0,
            Link::Bitcoin
        );
    }

    #[test]
    fn a_testnet4_genesis_with_regtest_headers_is_refused() {
        let b = pinned("testnet4");
        let (link, why) = check(&b, &Trust::default(), &Checks::default()).unwrap_err();
        assert_eq!(link, Link::Bitcoin);
        assert!(
            why.contains("headers alone are cheap to forge on testnet4"),
            "{why}"
        );
        // A checkpoint on its own header does not make the work real.
        let first = pantheon_anchor::ids::block_hash(
            &b.anchor.as_ref().unwrap().bitcoin.block_hash().unwrap(),
        );
        let trust = Trust {
            checkpoint: Some(Checkpoint {
                height: 1,
                hash: first,
            }),
            ..Trust::default()
        };
        let (link, why) = check(&b, &trust, &Checks::default()).unwrap_err();
        assert_eq!(link, Link::Bitcoin);
        assert!(why.contains("above"), "{why}");
        // Nor does a live node of another chain.
        let trust = Trust {
            live: Some(LiveAnswer {
                node: "http://127.0.0.1:1".into(),
                answer: Ok(LiveBlock {
                    chain: "regtest".into(),
                    block: first,
                    status: Some((1, 6)),
                }),
            }),
            ..Trust::default()
        };
        assert_eq!(
            check(&b, &trust, &Checks::default()).unwrap_err().0,
            Link::Bitcoin
        );
    }

    #[test]
    fn a_version_1_genesis_needs_a_stated_network_and_a_live_answer_is_checked() {
        let v1: ProofBundle = serde_json::from_value(vector("bundle-v1")).unwrap();
        let (link, why) = check(&v1, &Trust::default(), &Checks::default()).unwrap_err();
        assert_eq!(link, Link::Bitcoin);
        assert!(why.contains("--bitcoin-network"), "{why}");
        let regtest = Checks {
            bitcoin_network: Some(BitcoinNetwork::Regtest),
            ..Checks::default()
        };
        let v = check(&v1, &Trust::default(), &regtest).unwrap();
        assert_eq!(
            v.bitcoin.as_ref().unwrap().network_source,
            NetworkSource::Stated
        );
        assert!(v.links.contains(&Link::AnchorRecord));

        // The compact bundle with the genesis file supplied; a live node's
        // answer backs the headers, or refuses them.
        let b: ProofBundle = serde_json::from_value(vector("bundle")).unwrap();
        let genesis: Genesis =
            serde_json::from_value(vector("genesis")["genesis"].clone()).unwrap();
        let block = pantheon_anchor::ids::block_hash(
            &b.anchor.as_ref().unwrap().bitcoin.block_hash().unwrap(),
        );
        let live = |chain: &str, status| Trust {
            genesis: Some(genesis.header().clone()),
            live: Some(LiveAnswer {
                node: "http://127.0.0.1:1".into(),
                answer: Ok(LiveBlock {
                    chain: chain.into(),
                    block,
                    status,
                }),
            }),
            ..Trust::default()
        };
        let v = check(&b, &live("regtest", Some((7, 3))), &regtest).unwrap();
        assert_eq!(v.genesis_pinned, GenesisPin::File);
        assert!(matches!(
            v.bitcoin.unwrap().backed_by,
            BitcoinBacking::LiveNode {
                block_height: 7,
                confirmations: 3,
                ..
            }
        ));
        for (chain, status) in [
            ("main", Some((7, 3))),
            ("regtest", Some((7, -1))),
            ("regtest", None),
        ] {
            assert_eq!(
                check(&b, &live(chain, status), &regtest).unwrap_err().0,
                Link::Bitcoin,
                "{chain} {status:?}"
            );
        }
        // Without the genesis file the compact bundle names what to pass.
        let (link, why) = check(&b, &Trust::default(), &regtest).unwrap_err();
        assert_eq!(link, Link::Genesis);
        assert!(why.contains("--genesis"), "{why}");
    }
}

/// `record-proof.json`: every valid record proof verifies and every
/// tampered one fails at the link the file names, as `pantheon verify`
/// judges them.
#[test]
fn record_proof_vectors_verify_and_name_their_links() {
    use pantheon_runtime::record_proof::RecordProof;
    let v = vector("record-proof");
    let keys = KeyCache::default();
    let trust = pantheon_anchor::Trust::default();
    let checks = pantheon_anchor::Checks::default();
    let judge = |doc: &serde_json::Value| {
        RecordProof::from_slice(doc.to_string().as_bytes())
            .and_then(|p| pantheon_anchor::verify_record_proof(&p, &trust, &checks, &keys))
    };
    for case in v["valid"].as_array().unwrap() {
        let verdict = judge(&case["proof"]).unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
        assert_eq!(verdict.batch.proof.seq, 0);
    }
    for case in v["invalid"].as_array().unwrap() {
        let e = judge(&case["proof"]).expect_err(case["name"].as_str().unwrap());
        assert_eq!(
            e.link.to_string(),
            case["link"].as_str().unwrap(),
            "{}: {e}",
            case["name"]
        );
    }
}

/// `operator-export.json`: every case verifies or fails at the link the
/// file names, as `pantheon verify` judges it; a valid export reports the
/// range and the block its completeness holds at.
#[test]
fn operator_export_vectors_verify_and_name_their_links() {
    use pantheon_runtime::export::OperatorExport;
    let v = vector("operator-export");
    let keys = KeyCache::default();
    let trust = pantheon_anchor::Trust::default();
    let checks = pantheon_anchor::Checks::default();
    let mut valid = 0;
    for case in v["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let verdict = OperatorExport::from_slice(case["export"].to_string().as_bytes())
            .and_then(|e| pantheon_anchor::verify_operator_export(&e, &trust, &checks, &[], &keys));
        match case["fails"].as_str() {
            None => {
                let verdict = verdict.unwrap_or_else(|e| panic!("{name}: {e}"));
                let c = &verdict.completeness;
                assert_eq!(c.next_seq, c.to_seq + 1, "{name}");
                assert_eq!(verdict.anchored, verdict.submissions.len(), "{name}");
                assert_eq!(c.operator.to_string(), v["operator"].as_str().unwrap());
                valid += 1;
            }
            Some(link) => {
                let e = verdict.expect_err(name);
                assert_eq!(e.link.to_string(), link, "{name}: {e}");
            }
        }
    }
    assert_eq!(valid, 3);
}
