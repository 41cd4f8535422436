//! Offline checks of [`verify`] against a synthetic, deterministic block.

use bitcoin::block::{Header, Version as BlockVersion};
use bitcoin::secp256k1::SecretKey;
use bitcoin::{CompactTarget, FeeRate, OutPoint, pow::Target};

use super::*;
use crate::key::AnchorKey;
use crate::txbuild::{Coin, build_anchor};
use pantheon_runtime::codec::Encode;

/// Test headers use a target 2^-16 of the hash space, so a flipped bit
/// almost never still meets it (regtest's own limit is met half the time).
const TEST_BITS: u32 = 0x1f00_ffff;

fn commitment() -> Hash256 {
    Hash256::digest(b"pantheon example commitment")
}

/// The example anchor: a fixed key spending a fixed 1 BTC coin at 2 sat/vB.
pub(super) fn example_tx() -> Transaction {
    let key = AnchorKey::from_secret(SecretKey::from_slice(&[0x42; 32]).unwrap());
    let coin = Coin {
        outpoint: OutPoint {
            txid: Txid::from_byte_array(sha256d::Hash::hash(b"funding").to_byte_array()),
            vout: 0,
        },
        value: Amount::from_sat(100_000_000),
    };
    let anchor = build_anchor(
        &key,
        &[coin],
        &AnchorPayload::new(commitment()),
        FeeRate::from_sat_per_vb_u32(2),
    )
    .unwrap();
    anchor.tx().clone()
}

fn mine(prev: BlockHash, merkle_root: [u8; 32], time: u32) -> [u8; 80] {
    let mut header = Header {
        version: BlockVersion::from_consensus(0x2000_0000),
        prev_blockhash: prev,
        merkle_root: TxMerkleNode::from_byte_array(merkle_root),
        time,
        bits: CompactTarget::from_consensus(TEST_BITS),
        nonce: 0,
    };
    let target = target_from_bits(TEST_BITS).unwrap();
    loop {
        let bytes = header_bytes(&header);
        if target.is_met_by(header_hash(&bytes)) {
            return bytes;
        }
        header.nonce += 1;
    }
}

/// A block of three transactions (a stand-in coinbase, a filler, the
/// anchor at index 2, so the last level-0 node is paired with itself) and
/// two headers on top: three confirmations.
pub(super) fn example_part() -> BitcoinPart {
    static PART: std::sync::OnceLock<BitcoinPart> = std::sync::OnceLock::new();
    PART.get_or_init(mine_example_part).clone()
}

fn mine_example_part() -> BitcoinPart {
    let tx = example_tx();
    let mut stripped = tx.clone();
    for input in &mut stripped.input {
        input.witness.clear();
    }
    let raw_tx = encode::serialize(&stripped);
    let leaves = [
        sha256d::Hash::hash(b"coinbase").to_byte_array(),
        sha256d::Hash::hash(b"filler").to_byte_array(),
        tx.compute_txid().to_byte_array(),
    ];
    let root = merkle::root(&leaves).unwrap();
    let branch = merkle::branch(&leaves, 2).unwrap();
    let h0 = mine(BlockHash::all_zeros(), root, 1_700_000_000);
    let h1 = mine(header_hash(&h0), [1; 32], 1_700_000_600);
    let h2 = mine(header_hash(&h1), [2; 32], 1_700_001_200);
    BitcoinPart {
        raw_tx,
        tx_index: 2,
        branch,
        headers: vec![h0, h1, h2],
    }
}

#[test]
fn valid_part_verifies_up_to_its_confirmations() {
    let part = example_part();
    for k in 0..=3 {
        let v = verify(&part, &commitment(), Network::Regtest, k).unwrap();
        assert_eq!(v.confirmations, 3);
        assert_eq!(v.commitment, commitment());
        assert_eq!(v.txid, example_tx().compute_txid());
        assert_eq!(v.block_hash, header_hash(&part.headers[0]));
    }
    assert_eq!(
        verify(&part, &commitment(), Network::Regtest, 4),
        Err(SpvError::NotEnoughConfirmations { have: 3, need: 4 })
    );
}

#[test]
fn every_flipped_bit_is_caught() {
    let part = example_part();
    let check = |p: &BitcoinPart, what: &str| {
        assert!(
            verify(p, &commitment(), Network::Regtest, 3).is_err(),
            "tampered {what} verified"
        );
    };
    for i in 0..part.raw_tx.len() * 8 {
        let mut p = part.clone();
        p.raw_tx[i / 8] ^= 1 << (i % 8);
        check(&p, &format!("raw_tx bit {i}"));
    }
    for h in 0..part.branch.len() {
        for i in 0..256 {
            let mut p = part.clone();
            p.branch[h][i / 8] ^= 1 << (i % 8);
            check(&p, &format!("branch {h} bit {i}"));
        }
    }
    for h in 0..part.headers.len() {
        for i in 0..640 {
            let mut p = part.clone();
            p.headers[h][i / 8] ^= 1 << (i % 8);
            check(&p, &format!("header {h} bit {i}"));
        }
    }
    for index in [0, 1, 3, 6] {
        let mut p = part.clone();
        p.tx_index = index;
        check(&p, &format!("tx_index {index}"));
    }
}

#[test]
fn errors_name_the_failing_link() {
    let part = example_part();
    let mut p = part.clone();
    p.raw_tx = vec![0; 64];
    assert_eq!(
        verify(&p, &commitment(), Network::Regtest, 1),
        Err(SpvError::SixtyFourByteTx)
    );

    let other = Hash256::digest(b"other");
    assert_eq!(
        verify(&part, &other, Network::Regtest, 1),
        Err(SpvError::WrongCommitment {
            expected: other,
            found: commitment()
        })
    );

    // The mutated (duplicated) position of the last transaction.
    let mut p = part.clone();
    p.tx_index = 3;
    assert_eq!(
        verify(&p, &commitment(), Network::Regtest, 1),
        Err(SpvError::Merkle(MerkleError::DuplicatedRightChild {
            level: 0
        }))
    );

    let mut p = part.clone();
    p.branch[1][0] ^= 1;
    assert!(matches!(
        verify(&p, &commitment(), Network::Regtest, 1),
        Err(SpvError::MerkleRootMismatch { .. })
    ));

    // Header 1 re-mined on another parent: valid work, broken link.
    let mut p = part.clone();
    p.headers[1] = mine(BlockHash::all_zeros(), [1; 32], 1_700_000_600);
    assert!(matches!(
        verify(&p, &commitment(), Network::Regtest, 1),
        Err(SpvError::BrokenLink { index: 1, .. })
    ));

    // A nonce that misses the target.
    let mut p = part.clone();
    let mut h: Header = encode::deserialize(&p.headers[2]).unwrap();
    let target = target_from_bits(TEST_BITS).unwrap();
    while target.is_met_by(h.block_hash()) {
        h.nonce = h.nonce.wrapping_add(1);
    }
    p.headers[2] = header_bytes(&h);
    assert!(matches!(
        verify(&p, &commitment(), Network::Regtest, 1),
        Err(SpvError::InsufficientWork { index: 2, .. })
    ));

    // Regtest difficulty is not mainnet's.
    assert!(matches!(
        verify(&part, &commitment(), Network::Bitcoin, 1),
        Err(SpvError::TargetAboveLimit { index: 0, .. })
    ));

    let mut p = part.clone();
    p.headers.clear();
    assert_eq!(
        verify(&p, &commitment(), Network::Regtest, 1),
        Err(SpvError::NotEnoughConfirmations { have: 0, need: 1 })
    );
}

#[test]
fn witness_serialization_is_refused() {
    let mut p = example_part();
    p.raw_tx = encode::serialize(&example_tx());
    assert_eq!(
        verify(&p, &commitment(), Network::Regtest, 1),
        Err(SpvError::TxNotCanonical)
    );
    let mut p = example_part();
    p.raw_tx.push(0);
    assert!(matches!(
        verify(&p, &commitment(), Network::Regtest, 1),
        Err(SpvError::TxDecode(_))
    ));
}

#[test]
fn compact_targets_match_bitcoin_core() {
    for bits in [
        0x1d00_ffff,
        0x207f_ffff,
        0x1e03_77ae,
        0x1703_a30c,
        0x1f00_ffff,
    ] {
        let ours = target_from_bits(bits).unwrap();
        let theirs = Target::from_compact(CompactTarget::from_consensus(bits));
        assert_eq!(ours, theirs, "{bits:#x}");
    }
    assert_eq!(target_from_bits(0x0100_3456).unwrap_err(), "zero");
    assert_eq!(
        target_from_bits(0x0112_3456).unwrap().to_be_bytes()[31],
        0x12,
        "size 1 keeps the top byte"
    );
    assert_eq!(target_from_bits(0x0480_0001).unwrap_err(), "negative");
    assert_eq!(target_from_bits(0x2301_0000).unwrap_err(), "overflow");
    assert_eq!(
        target_from_bits(0x2200_0001).unwrap().to_be_bytes()[0],
        0x01
    );
    // Core refuses a set sign bit; rust-bitcoin alone would read 0x80.
    assert_eq!(target_from_bits(0x0180_0000).unwrap_err(), "zero");
    assert_eq!(target_from_bits(0x0380_8000).unwrap_err(), "negative");
    assert_eq!(pow_limit(Network::Bitcoin), Target::MAX_ATTAINABLE_MAINNET);
    assert_eq!(pow_limit(Network::Testnet4), Target::MAX_ATTAINABLE_TESTNET);
    assert_eq!(pow_limit(Network::Signet), Target::MAX_ATTAINABLE_SIGNET);
    assert_eq!(pow_limit(Network::Regtest), Target::MAX_ATTAINABLE_REGTEST);
}

#[test]
fn checkpoint_must_be_reached() {
    let part = example_part();
    let v = verify(&part, &commitment(), Network::Regtest, 1).unwrap();
    let cp = Checkpoint {
        height: 1002,
        hash: header_hash(&part.headers[2]),
    };
    assert_eq!(v.check_checkpoint(&cp), Ok(1000));
    let elsewhere = Checkpoint {
        height: 5,
        hash: BlockHash::all_zeros(),
    };
    assert!(matches!(
        v.check_checkpoint(&elsewhere),
        Err(SpvError::CheckpointNotReached { .. })
    ));
}

#[test]
fn encodings_round_trip_and_are_frozen() {
    let part = example_part();
    let bytes = part.to_bytes();
    assert_eq!(BitcoinPart::from_bytes(&bytes), Ok(part.clone()));
    let json = serde_json::to_string_pretty(&part).unwrap();
    assert_eq!(serde_json::from_str::<BitcoinPart>(&json).unwrap(), part);

    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(BitcoinPart::from_bytes(&trailing).is_err());
    let mut bad_version = bytes.clone();
    bad_version[0] = 2;
    assert!(BitcoinPart::from_bytes(&bad_version).is_err());

    // The worked example of docs/FORMATS.md, section 20.8: built here with
    // the `bitcoin` crate (a real signed transaction, its witness
    // stripped), it is byte for byte the one the runtime's vectors
    // generator writes to docs/vectors/bitcoin-part.json without it.
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let path = format!("{root}/../docs/vectors/bitcoin-part.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(doc["part_bytes"], hex::encode(&bytes));
    assert_eq!(
        serde_json::from_value::<BitcoinPart>(doc["part"].clone()).unwrap(),
        part
    );
    assert_eq!(doc["txid_displayed"], part.txid().to_string());
    assert_eq!(doc["commitment"], commitment().to_string());
    assert_eq!(
        doc["header_hashes"][0]["displayed"],
        header_hash(&part.headers[0]).to_string()
    );
    let (c, generated) = pantheon_runtime::vectors::worked_example_part();
    assert_eq!((c, generated), (commitment(), part));
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn part() -> impl Strategy<Value = BitcoinPart> {
        (
            proptest::collection::vec(any::<u8>(), 0..300),
            any::<u32>(),
            proptest::collection::vec(any::<[u8; 32]>(), 0..6),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 80), 0..4),
        )
            .prop_map(|(raw_tx, tx_index, branch, headers)| BitcoinPart {
                raw_tx,
                tx_index,
                branch,
                headers: headers
                    .into_iter()
                    .map(|h| <[u8; 80]>::try_from(h).unwrap())
                    .collect(),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn encodings_round_trip(p in part()) {
            prop_assert_eq!(BitcoinPart::from_bytes(&p.to_bytes()), Ok(p.clone()));
            let json = serde_json::to_string(&p).unwrap();
            prop_assert_eq!(serde_json::from_str::<BitcoinPart>(&json).unwrap(), p);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(p) = BitcoinPart::from_bytes(&bytes) {
                prop_assert_eq!(&p.to_bytes(), &bytes);
            }
            let _ = AnchorPayload::from_script(&bytes);
        }

        #[test]
        fn arbitrary_parts_do_not_verify(p in part()) {
            prop_assert!(verify(&p, &commitment(), Network::Regtest, 1).is_err());
        }

        #[test]
        fn edited_example_does_not_verify(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut bytes = example_part().to_bytes();
            let i = at.index(bytes.len());
            prop_assume!(bytes[i] != byte);
            bytes[i] = byte;
            if let Ok(p) = BitcoinPart::from_bytes(&bytes) {
                // Only a new last header that happens to meet its target (a
                // valid header, p ~ 2^-16) may still verify.
                let last_header = bytes.len() - 80;
                prop_assert!(
                    verify(&p, &commitment(), Network::Regtest, 3).is_err() || i >= last_header
                );
            }
        }
    }
}
