//! Block execution as a user sees it: operators' chains, fees, rejections,
//! supply conservation and determinism.

#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{net, pan};
use pantheon_runtime::amount::{Amount, SUPPLY};
use pantheon_runtime::block::Block;
use pantheon_runtime::codec::Encode;
use pantheon_runtime::crypto::AccountId;
use pantheon_runtime::hash::SubmissionId;
use pantheon_runtime::ledger::{BlockError, Ledger, Mode, TxError};
use pantheon_runtime::state::StateKey;
use pantheon_runtime::state::value_hash;
use proptest::prelude::*;

fn supply() -> u128 {
    u128::from(SUPPLY.units())
}

#[test]
fn operator_chain_fees_and_proofs() {
    let n = net(2, 0);
    let mut ledger = Ledger::from_genesis(&n.genesis);
    let (a, b) = (&n.users[0], &n.users[1]);
    assert!(
        n.block(&mut ledger, vec![n.register(a, 0), n.register(b, 0)])
            .is_empty()
    );

    let s0 = n.submit(a, 0, SubmissionId::default(), b"a0");
    let s1 = n.submit(a, 1, s0.submission_id(), b"a1");
    let t0 = n.submit(b, 0, SubmissionId::default(), b"b0");
    assert!(
        n.block(&mut ledger, vec![s0.clone(), t0, s1.clone()])
            .is_empty()
    );
    assert_eq!(ledger.log().size(), 3);

    let params = *ledger.params();
    let account = ledger.account(&a.id()).unwrap();
    let spent = params.register_fee.units() + 2 * params.submit_fee.units();
    assert_eq!(account.balance.units(), pan(1_000).units() - spent);
    let op = account.operator.unwrap();
    assert_eq!(op.next_seq, 2);
    assert_eq!(op.last.unwrap().id, s1.submission_id());
    assert_eq!(op.last.unwrap().height.get(), 2);

    // The validator earned every fee.
    let fees = 2 * params.register_fee.units() + 3 * params.submit_fee.units();
    assert_eq!(
        ledger.account(&n.validator.id()).unwrap().balance.units(),
        fees
    );
    assert_eq!(ledger.total_balance(), supply());

    // The operator's latest submission is provable against the state root.
    let (record, proof) = ledger.prove_account(&a.id());
    let key = StateKey::Account(a.id()).tree_key();
    let vh = value_hash(&record.unwrap().to_bytes());
    assert!(proof.verify(&ledger.state_root(), &key, Some(&vh)));
    // ... and its first submission is in the log.
    let incl = ledger.log().inclusion_proof(0, 3).unwrap();
    assert!(incl.verify(&s0.submission_id().hash(), &ledger.log().root()));
}

#[test]
fn invalid_transactions_are_rejected_with_their_reason_and_change_nothing() {
    let n = net(3, 1);
    let mut ledger = Ledger::from_genesis(&n.genesis);
    let (a, b, c, broke) = (&n.users[0], &n.users[1], &n.users[2], &n.users[3]);
    let fee = ledger.params().register_fee;
    // c ends up with exactly the registration fee: registered, then unfunded.
    let to_c =
        Amount::from_units(pan(1_000).units() - fee.units() - ledger.params().transfer_fee.units());
    n.block(
        &mut ledger,
        vec![
            n.register(a, 0),
            n.register(b, 0),
            n.transfer(c, 0, a.id(), to_c),
        ],
    );
    n.block(&mut ledger, vec![n.register(c, 1)]);
    assert_eq!(ledger.account(&c.id()).unwrap().balance, Amount::ZERO);
    let s0 = n.submit(a, 0, SubmissionId::default(), b"a0");
    n.block(&mut ledger, vec![s0.clone()]);

    let before_root = ledger.state_root();
    let before_log = ledger.log().root();
    let cases = vec![
        (
            "replayed seq",
            n.submit(a, 0, SubmissionId::default(), b"a0"),
            TxError::SeqReused {
                operator: a.id(),
                expected: 1,
                got: 0,
            },
        ),
        (
            "seq gap",
            n.submit(a, 2, s0.submission_id(), b"a2"),
            TxError::SeqGap {
                operator: a.id(),
                expected: 1,
                got: 2,
            },
        ),
        (
            "wrong prev",
            n.submit(a, 1, SubmissionId::default(), b"a1"),
            TxError::WrongPrev {
                operator: a.id(),
                expected: s0.submission_id(),
                got: SubmissionId::default(),
            },
        ),
        (
            "another tenant's key",
            n.submit_as(b, a.id(), 1, s0.submission_id(), b"a1"),
            TxError::BadSignature(a.id()),
        ),
        (
            "unregistered operator",
            n.submit(broke, 0, SubmissionId::default(), b"x"),
            TxError::UnknownOperator(broke.id()),
        ),
        (
            "unfunded fee",
            n.submit(c, 0, SubmissionId::default(), b"c0"),
            TxError::InsufficientFunds {
                account: c.id(),
                needed: ledger.params().submit_fee,
                available: Amount::ZERO,
            },
        ),
        (
            "transfer from nothing",
            n.transfer(broke, 0, a.id(), pan(1)),
            TxError::UnknownAccount(broke.id()),
        ),
        (
            "transfer nonce replay",
            n.transfer(a, 0, b.id(), pan(1)),
            TxError::BadNonce {
                account: a.id(),
                expected: 1,
                got: 0,
            },
        ),
        (
            "overdraft",
            n.transfer(b, 1, a.id(), pan(5_000)),
            TxError::InsufficientFunds {
                account: b.id(),
                needed: pan(5_000)
                    .checked_add(ledger.params().transfer_fee)
                    .unwrap(),
                available: ledger.account(&b.id()).unwrap().balance,
            },
        ),
        (
            "registered twice",
            n.register(a, 1),
            TxError::AlreadyRegistered(a.id()),
        ),
    ];
    for (name, tx, expected) in cases {
        let exec = ledger
            .execute(0, vec![tx.clone()], Mode::Build, &n.keys)
            .unwrap();
        assert_eq!(exec.rejected, vec![(tx.id(), expected.clone())], "{name}");
        assert_eq!(exec.state_root, before_root, "{name}");
        assert_eq!(exec.log_root.hash(), before_log, "{name}");
        // A block carrying it is invalid for every other validator.
        let err = ledger
            .execute(0, vec![tx.clone()], Mode::Strict, &n.keys)
            .unwrap_err();
        assert_eq!(
            err,
            BlockError::InvalidTx {
                index: 0,
                id: tx.id(),
                error: Box::new(expected.clone())
            },
            "{name}"
        );
        // A certified block skips only the signature check.
        let certified = ledger.execute(0, vec![tx.clone()], Mode::Certified, &n.keys);
        if matches!(expected, TxError::BadSignature(_)) {
            assert!(certified.is_ok(), "{name}");
        } else {
            assert_eq!(
                certified.unwrap_err(),
                BlockError::InvalidTx {
                    index: 0,
                    id: tx.id(),
                    error: Box::new(expected)
                },
                "{name}"
            );
        }
    }
    assert_eq!(ledger.state_root(), before_root);
    assert_eq!(ledger.total_balance(), supply());
}

#[test]
fn certified_execution_reaches_the_same_roots_as_strict_execution() {
    let n = net(2, 0);
    let mut ledger = Ledger::from_genesis(&n.genesis);
    let (a, b) = (&n.users[0], &n.users[1]);
    let txs = vec![
        n.register(a, 0),
        n.register(b, 0),
        n.transfer(a, 1, b.id(), pan(3)),
    ];
    let strict = ledger
        .execute(0, txs.clone(), Mode::Strict, &n.keys)
        .unwrap();
    // A fresh key cache: nothing is known to verify.
    let fresh = pantheon_runtime::crypto::KeyCache::default();
    let certified = ledger.execute(0, txs, Mode::Certified, &fresh).unwrap();
    assert_eq!(certified.state_root, strict.state_root);
    assert_eq!(certified.log_root, strict.log_root);
    assert_eq!(certified.tx_root, strict.tx_root);
    let header = strict.header(ledger.last_block(), 1, None);
    ledger.commit(&header, certified).unwrap();
    assert_eq!(ledger.total_balance(), supply());
}

#[test]
fn a_tampered_block_is_refused_and_leaves_the_ledger_unchanged() {
    let n = net(1, 0);
    let a = &n.users[0];
    let ledger = Ledger::from_genesis(&n.genesis);
    let (block, _) = ledger
        .propose(0, 1, vec![n.register(a, 0)], None, &n.keys)
        .unwrap();

    let mut follower = Ledger::from_genesis(&n.genesis);
    let mut bad = block.clone();
    bad.header.state_root = pantheon_runtime::hash::StateRoot::default();
    assert_eq!(
        follower.apply_block(&bad, &n.keys),
        Err(BlockError::HeaderMismatch("state_root"))
    );
    let mut bad = block.clone();
    bad.header.parent = pantheon_runtime::hash::BlockHash::default();
    assert!(matches!(
        follower.apply_block(&bad, &n.keys),
        Err(BlockError::WrongParent { .. })
    ));
    let mut bad = block.clone();
    bad.header.proposer = 7;
    assert_eq!(
        follower.apply_block(&bad, &n.keys),
        Err(BlockError::UnknownProposer(7))
    );
    assert_eq!(follower.height().get(), 0);
    follower.apply_block(&block, &n.keys).unwrap();
    assert_eq!(follower.last_block(), block.header.hash());
}

#[derive(Debug, Clone)]
enum Op {
    Transfer { from: usize, to: usize, pan: u64 },
    Register { who: usize },
    Submit { who: usize, skew: i8 },
    EndBlock,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..4usize, 0..5usize, 0..1_500u64).prop_map(|(from, to, pan)| Op::Transfer { from, to, pan }),
        1 => (0..4usize).prop_map(|who| Op::Register { who }),
        4 => (0..4usize, prop_oneof![8 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)])
            .prop_map(|(who, skew)| Op::Submit { who, skew }),
        1 => Just(Op::EndBlock),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Whatever users do, valid or not: after every block the balances sum to
    /// exactly 5,000,000,000 PAN, and a second node replaying the blocks
    /// reaches the same state root at every height.
    #[test]
    fn supply_is_conserved_and_execution_is_deterministic(ops in prop::collection::vec(op(), 1..40)) {
        let n = net(3, 1);
        let mut ledger = Ledger::from_genesis(&n.genesis);
        let mut replica = Ledger::from_genesis(&n.genesis);
        let mut nonces = [0u64; 4];
        let mut seqs = [0u64; 4];
        let mut prevs = [SubmissionId::default(); 4];
        let mut pending = Vec::new();
        let mut roots = 0u64;
        let ids: Vec<AccountId> = n.users.iter().map(pantheon_runtime::crypto::Keypair::id).chain([n.validator.id()]).collect();
        let mut ops = ops;
        ops.push(Op::EndBlock);
        for op in ops {
            match op {
                Op::Transfer { from, to, pan: p } => {
                    pending.push(n.transfer(&n.users[from], nonces[from], ids[to], pan(p)));
                    nonces[from] += 1;
                }
                Op::Register { who } => {
                    pending.push(n.register(&n.users[who], nonces[who]));
                    nonces[who] += 1;
                }
                Op::Submit { who, skew } => {
                    roots += 1;
                    let seq = seqs[who].saturating_add_signed(i64::from(skew));
                    let tx = n.submit(&n.users[who], seq, prevs[who], &roots.to_be_bytes());
                    if skew == 0 {
                        seqs[who] += 1;
                        prevs[who] = tx.submission_id();
                    }
                    pending.push(tx);
                }
                Op::EndBlock => {
                    let txs = std::mem::take(&mut pending);
                    let (block, exec) = ledger.propose(0, 1, txs, None, &n.keys).unwrap();
                    ledger.commit(&block.header, exec).unwrap();
                    prop_assert_eq!(ledger.total_balance(), supply());
                    let wire: Block = pantheon_runtime::codec::decode_exact(&block.to_bytes()).unwrap();
                    replica.apply_block(&wire, &n.keys).unwrap();
                    prop_assert_eq!(replica.state_root(), ledger.state_root());
                    prop_assert_eq!(replica.log().root(), ledger.log().root());
                    // Rejected nonces/seqs are reused by later ops; resync from the ledger.
                    for (i, u) in n.users.iter().enumerate() {
                        let acct = ledger.account(&u.id()).copied().unwrap_or_default();
                        nonces[i] = acct.nonce;
                        if let Some(op) = acct.operator {
                            seqs[i] = op.next_seq;
                            prevs[i] = op.last.map(|l| l.id).unwrap_or_default();
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn genesis_json_is_validated_like_genesis_bytes() {
    let n = net(1, 0);
    let mut json = serde_json::to_value(&n.genesis).unwrap();
    let back: pantheon_runtime::genesis::Genesis = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back.hash(), n.genesis.hash());

    let v = json["validators"][0].clone();
    json["validators"] = serde_json::json!([v.clone(), v]);
    assert!(serde_json::from_value::<pantheon_runtime::genesis::Genesis>(json.clone()).is_err());
    json["validators"] = serde_json::json!([]);
    assert!(serde_json::from_value::<pantheon_runtime::genesis::Genesis>(json.clone()).is_err());
    let mut zero = v;
    zero["power"] = serde_json::json!(0);
    json["validators"] = serde_json::json!([zero]);
    assert!(serde_json::from_value::<pantheon_runtime::genesis::Genesis>(json).is_err());
}

/// Every block after block 1 carries the canonical certificate of its
/// parent, so that consensus fixes one certificate per block (FORMATS 9.4).
#[test]
fn blocks_carry_their_parents_canonical_certificate() {
    use pantheon_runtime::block::{BLOCK_VERSION, HEADER_VERSION_2};
    use pantheon_runtime::hash::CertificateHash;
    let mut n = net(1, 0);
    let vals = n.with_four_validators(0xc0);
    let signers: Vec<_> = vals.iter().collect();
    let validators = n.genesis.header().validators.clone();
    let mut ledger = Ledger::from_genesis(&n.genesis);
    let reason = |r: Result<(), BlockError>| match r {
        Err(BlockError::CarriedCertificate { reason, .. }) => reason,
        other => panic!("expected a carried-certificate error, got {other:?}"),
    };

    // Block 1 carries nothing and commits to zero bytes.
    let (b1, exec) = ledger.propose(0, 1, vec![], None, &n.keys).unwrap();
    assert_eq!(b1.header.version(), HEADER_VERSION_2);
    assert_eq!(b1.header.last_certificate, Some(CertificateHash::default()));
    ledger.check_carried(&b1, 0, &n.keys).unwrap();
    let cert1 = n.certify(&b1.header, &signers);
    let mut carrying = b1.clone();
    carrying.last_certificate = Some(cert1.clone());
    assert!(reason(ledger.check_carried(&carrying, 0, &n.keys)).contains("block 1"));
    ledger.commit(&b1.header, exec).unwrap();

    // Block 2 carries the canonical quorum (3 of 4 signatures) of block 1's.
    let canonical = cert1.quorum(&validators);
    assert_eq!(canonical.signatures.len(), 3);
    let (b2, _) = ledger
        .propose(1, 2, vec![], Some(canonical.clone()), &n.keys)
        .unwrap();
    assert_eq!(b2.header.last_certificate, Some(canonical.hash()));
    ledger
        .check_carried(&b2, HEADER_VERSION_2, &n.keys)
        .unwrap();
    let decoded: Block =
        pantheon_runtime::codec::decode_exact(&b2.to_bytes()).expect("the block decodes");
    assert_eq!(decoded, b2);

    // Refused: all four signatures, none, another block's, a header that
    // commits to other bytes, and a return to version 1.
    let (full, _) = ledger
        .propose(1, 2, vec![], Some(cert1.clone()), &n.keys)
        .unwrap();
    assert!(reason(ledger.check_carried(&full, HEADER_VERSION_2, &n.keys)).contains("canonical"));
    let (none, _) = ledger.propose(1, 2, vec![], None, &n.keys).unwrap();
    assert!(reason(ledger.check_carried(&none, HEADER_VERSION_2, &n.keys)).contains("missing"));
    let mut other_header = b1.header;
    other_header.time_ms += 1;
    let other = n.certify(&other_header, &signers).quorum(&validators);
    let (wrong, _) = ledger.propose(1, 2, vec![], Some(other), &n.keys).unwrap();
    assert!(
        reason(ledger.check_carried(&wrong, HEADER_VERSION_2, &n.keys))
            .contains("certificate is for")
    );
    let mut swapped = b2.clone();
    swapped.last_certificate = Some(n.certify(&b1.header, &signers[1..]));
    assert!(
        reason(ledger.check_carried(&swapped, HEADER_VERSION_2, &n.keys)).contains("hashes to")
    );
    let mut v1 = b2.clone();
    v1.header.last_certificate = None;
    v1.last_certificate = None;
    assert!(reason(ledger.check_carried(&v1, HEADER_VERSION_2, &n.keys)).contains("version-1"));
    // A chain made before version 2 goes on with version-1 blocks.
    ledger.check_carried(&v1, BLOCK_VERSION, &n.keys).unwrap();
}
