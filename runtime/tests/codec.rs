//! Canonical encoding: every value round-trips, and the decoder refuses
//! truncated input, trailing bytes, oversize input and unknown versions.

#![allow(clippy::unwrap_used, reason = "tests")]

use pantheon_runtime::amount::{Amount, Height};
use pantheon_runtime::anchor::{BitcoinNetwork, BitcoinParams};
use pantheon_runtime::block::{
    Block, BlockHeader, CommitCertificate, CommitSignature, VoteMessage, VoteType,
};
use pantheon_runtime::codec::{CodecError, Decode, Encode, decode_exact};
use pantheon_runtime::crypto::{AccountId, PUBLIC_KEY_LEN, PublicKey, SIGNATURE_LEN, Signature};
use pantheon_runtime::genesis::{GenesisHeader, Params, Validator, ValidatorSet};
use pantheon_runtime::hash::{
    AuditRoot, BlockHash, CertificateHash, GenesisHash, Hash256, LogRoot, StateRoot, SubmissionId,
};
use pantheon_runtime::state::{Account, LastSubmission, OperatorState};
use pantheon_runtime::tx::{
    MAX_TX_SIZE, Metadata, RegisterOperator, SignedTx, SubmitRoot, Transfer, TxBody,
};
use proptest::prelude::*;

fn hash() -> impl Strategy<Value = Hash256> {
    any::<[u8; 32]>().prop_map(Hash256::from_bytes)
}

fn public_key() -> impl Strategy<Value = PublicKey> {
    prop::collection::vec(any::<u8>(), PUBLIC_KEY_LEN)
        .prop_map(|b| PublicKey::from_slice(&b).unwrap())
}

fn signature() -> impl Strategy<Value = Signature> {
    prop::collection::vec(any::<u8>(), SIGNATURE_LEN)
        .prop_map(|b| Signature::from_bytes(b.try_into().unwrap()))
}

fn metadata() -> impl Strategy<Value = Metadata> {
    ("[a-zA-Z0-9 é-]{0,20}", any::<Option<u64>>()).prop_map(|(l, c)| Metadata::new(l, c).unwrap())
}

fn body() -> impl Strategy<Value = TxBody> {
    prop_oneof![
        (public_key(), any::<u64>())
            .prop_map(|(key, nonce)| TxBody::RegisterOperator(RegisterOperator { key, nonce })),
        (hash(), any::<u64>(), hash(), hash(), metadata()).prop_map(|(o, seq, p, r, metadata)| {
            TxBody::SubmitRoot(SubmitRoot {
                operator: AccountId::new(o),
                seq,
                prev: SubmissionId::new(p),
                root: AuditRoot::new(r),
                metadata,
            })
        }),
        (public_key(), any::<u64>(), hash(), any::<u64>()).prop_map(|(from_key, nonce, to, a)| {
            TxBody::Transfer(Transfer {
                from_key,
                nonce,
                to: AccountId::new(to),
                amount: Amount::from_units(a),
            })
        }),
    ]
}

fn tx() -> impl Strategy<Value = SignedTx> {
    (body(), signature()).prop_map(|(b, s)| SignedTx::new(b, &s))
}

fn header() -> impl Strategy<Value = BlockHeader> {
    (
        any::<u64>(),
        hash(),
        any::<u64>(),
        any::<u16>(),
        any::<u32>(),
        hash(),
        any::<u64>(),
        hash(),
        hash(),
        prop::option::of(hash()),
    )
        .prop_map(
            |(
                h,
                parent,
                time_ms,
                proposer,
                tx_count,
                tx_root,
                log_size,
                log_root,
                state_root,
                last,
            )| {
                BlockHeader {
                    height: Height::new(h),
                    parent: BlockHash::new(parent),
                    time_ms,
                    proposer,
                    tx_count,
                    tx_root: LogRoot::new(tx_root),
                    log_size,
                    log_root: LogRoot::new(log_root),
                    state_root: StateRoot::new(state_root),
                    last_certificate: last.map(CertificateHash::new),
                }
            },
        )
}

fn certificate() -> impl Strategy<Value = CommitCertificate> {
    (
        any::<u64>(),
        any::<u32>(),
        hash(),
        prop::collection::vec((any::<u16>(), signature()), 0..4),
    )
        .prop_map(|(h, round, b, sigs)| CommitCertificate {
            height: Height::new(h),
            round,
            block_hash: BlockHash::new(b),
            signatures: sigs
                .into_iter()
                .map(|(validator, signature)| CommitSignature {
                    validator,
                    signature,
                })
                .collect(),
        })
}

fn account() -> impl Strategy<Value = Account> {
    let last = (hash(), hash(), any::<u64>()).prop_map(|(i, r, h)| LastSubmission {
        id: SubmissionId::new(i),
        root: AuditRoot::new(r),
        height: Height::new(h),
    });
    let op = (any::<u64>(), prop::option::of(last))
        .prop_map(|(next_seq, last)| OperatorState { next_seq, last });
    (any::<u64>(), any::<u64>(), prop::option::of(op)).prop_map(|(b, nonce, operator)| Account {
        balance: Amount::from_units(b),
        nonce,
        operator,
    })
}

fn vote() -> impl Strategy<Value = VoteMessage> {
    (
        any::<bool>(),
        hash(),
        any::<u64>(),
        any::<u32>(),
        prop::option::of(hash()),
    )
        .prop_map(|(pre, g, h, round, b)| VoteMessage {
            vote_type: if pre {
                VoteType::Prevote
            } else {
                VoteType::Precommit
            },
            genesis: GenesisHash::new(g),
            height: Height::new(h),
            round,
            block: b.map(BlockHash::new),
        })
}

fn genesis_header() -> impl Strategy<Value = GenesisHeader> {
    (
        "[a-z0-9-]{1,32}",
        any::<u64>(),
        prop::collection::vec(public_key(), 1..3),
        hash(),
        0u8..6,
        1u16..=100,
    )
        .prop_map(
            |(chain_id, time_ms, keys, allocations_hash, bitcoin, confirmations)| GenesisHeader {
                // 0: version 1; 1: version 2 without anchoring; 2..=5 a network.
                version: if bitcoin == 0 { 1 } else { 2 },
                chain_id,
                time_ms,
                params: Params::default(),
                bitcoin: BitcoinNetwork::from_code(bitcoin.saturating_sub(1)).map(|network| {
                    BitcoinParams {
                        network,
                        confirmations,
                    }
                }),
                validators: ValidatorSet::new(
                    keys.into_iter()
                        .map(|public_key| Validator {
                            public_key,
                            power: 1,
                        })
                        .collect(),
                )
                .unwrap(),
                allocations_hash,
            },
        )
}

/// Round trip, every truncation, one trailing byte, and oversize input.
fn check<T: Encode + Decode + PartialEq + std::fmt::Debug>(value: &T) -> Result<(), TestCaseError> {
    let bytes = value.to_bytes();
    prop_assert!(bytes.len() <= T::MAX_SIZE);
    prop_assert_eq!(&decode_exact::<T>(&bytes)?, value);
    for cut in 0..bytes.len() {
        let err = decode_exact::<T>(&bytes[..cut]);
        prop_assert!(
            err.is_err(),
            "prefix of {} of {} bytes decoded",
            cut,
            bytes.len()
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    let trailing = matches!(
        decode_exact::<T>(&longer),
        Err(CodecError::TrailingBytes { count: 1 } | CodecError::Oversize { .. })
    );
    prop_assert!(trailing, "one trailing byte was accepted");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn transactions(tx in tx()) {
        check(&tx)?;
        let mut wrong_version = tx.as_bytes().to_vec();
        wrong_version[0] = 0;
        let refused = matches!(decode_exact::<SignedTx>(&wrong_version), Err(CodecError::UnsupportedVersion { version: 0, .. }));
        prop_assert!(refused, "version 0 accepted");
    }

    #[test]
    fn headers(h in header()) {
        check(&h)?;
        prop_assert_eq!(h.to_bytes().len(), if h.last_certificate.is_some() { 191 } else { 159 });
        let mut b = h.to_bytes();
        b[0] = 3;
        let refused = matches!(decode_exact::<BlockHeader>(&b), Err(CodecError::UnsupportedVersion { version: 3, .. }));
        prop_assert!(refused, "version 3 accepted");
    }

    #[test]
    fn blocks(h in header(), cert in prop::option::of(certificate()), txs in prop::collection::vec(tx(), 0..3)) {
        let mut header = h;
        header.tx_count = u32::try_from(txs.len()).unwrap();
        // Only a version-2 header has room for the parent's certificate.
        let last_certificate = cert.filter(|_| header.last_certificate.is_some());
        check(&Block { header, last_certificate, txs })?;
    }

    #[test]
    fn certificates(c in certificate()) { check(&c)?; }

    #[test]
    fn accounts(a in account()) { check(&a)?; }

    #[test]
    fn votes(v in vote()) { check(&v)?; }

    #[test]
    fn genesis_headers(g in genesis_header()) { check(&g)?; }

    /// Arbitrary bytes never panic the decoder, and whatever decodes
    /// re-encodes to the same bytes (the encoding is canonical).
    #[test]
    fn arbitrary_bytes_are_decoded_canonically_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..6000)) {
        if let Ok(tx) = decode_exact::<SignedTx>(&bytes) {
            prop_assert_eq!(tx.as_bytes(), &bytes[..]);
        }
        if let Ok(a) = decode_exact::<Account>(&bytes) {
            prop_assert_eq!(a.to_bytes(), bytes);
        }
    }
}

#[test]
fn oversize_input_is_refused_before_decoding() {
    let big = vec![1u8; MAX_TX_SIZE + 1];
    assert_eq!(
        decode_exact::<SignedTx>(&big),
        Err(CodecError::Oversize {
            size: MAX_TX_SIZE + 1,
            limit: MAX_TX_SIZE
        })
    );
}

#[test]
fn bad_tags_are_refused() {
    let a = Account {
        operator: Some(OperatorState::default()),
        ..Account::default()
    };
    let mut b = a.to_bytes();
    b[17] = 2; // the operator option tag
    assert!(matches!(
        decode_exact::<Account>(&b),
        Err(CodecError::InvalidTag {
            field: "operator",
            tag: 2
        })
    ));
}
