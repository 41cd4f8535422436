//! The consensus host's table tests: every request of Malachite's app
//! channel, answered by the pure core with no engine, network or disk. A
//! 4-validator genesis and a real ledger supply the blocks; proposals
//! travel from one host to another as the effects say.

use bytes::Bytes;
use malachitebft_app_channel::app::engine::host::{Next, SyncedValueOutcome};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamMessage};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate as MCommitCertificate, CommitSignature as MCommitSignature, LinearTimeouts,
    Round, Validity,
};
use malachitebft_app_channel::app::types::{MisbehaviorEvidence, PeerId};
use pantheon_runtime::amount::{Height, SUPPLY};
use pantheon_runtime::block::{Block, CommitCertificate, CommitSignature, VoteMessage, VoteType};
use pantheon_runtime::codec::Encode;
use pantheon_runtime::crypto::{KeyCache, Keypair, SignContext};
use pantheon_runtime::genesis::{Allocation, Genesis, Params, Validator, ValidatorSet as Vs};
use pantheon_runtime::hash::{AuditRoot, Hash256, SubmissionId};
use pantheon_runtime::ledger::Ledger;
use pantheon_runtime::tx::{Metadata, RegisterOperator, SignedTx, SubmitRoot, TxBody};

use super::context::{ConsensusHeight, ProposalPart, Sig, ValidatorIndex, ValidatorSet};
use super::host::{AppConfig, Effect, Host, Restored, Tip};
use super::signing::{PantheonSigner, PantheonVerifier};

fn key(i: u16) -> Keypair {
    Keypair::from_seed(&[u8::try_from(i + 1).unwrap(); 32])
}

struct Net {
    genesis: Genesis,
    ledger: Ledger,
    keys: KeyCache,
    operator: Keypair,
}

impl Net {
    fn new() -> Self {
        let operator = Keypair::from_seed(&[0x70; 32]);
        let validators = Vs::new(
            (0..4)
                .map(|i| Validator {
                    public_key: key(i).public().clone(),
                    power: 1,
                })
                .collect(),
        )
        .unwrap();
        let allocations = vec![Allocation {
            account: operator.id(),
            amount: SUPPLY,
        }];
        let genesis = Genesis::new(
            "host-table".into(),
            0,
            Params::default(),
            validators,
            allocations,
        )
        .unwrap();
        let ledger = Ledger::from_genesis(&genesis);
        Self {
            genesis,
            ledger,
            keys: KeyCache::default(),
            operator,
        }
    }

    /// `n` transactions for the next block.
    fn txs(&self, n: u64) -> Vec<SignedTx> {
        let gh = self.genesis.hash();
        let mut txs = vec![
            TxBody::RegisterOperator(RegisterOperator {
                key: self.operator.public().clone(),
                nonce: 0,
            })
            .sign(&gh, &self.operator),
        ];
        let mut prev = SubmissionId::default();
        for seq in 0..n.saturating_sub(1) {
            let submit = TxBody::SubmitRoot(SubmitRoot {
                operator: self.operator.id(),
                seq,
                prev,
                root: AuditRoot::new(Hash256::digest(&seq.to_be_bytes())),
                metadata: Metadata::default(),
            })
            .sign(&gh, &self.operator);
            prev = submit.submission_id();
            txs.push(submit);
        }
        txs
    }

    /// Proposes and commits the next block on the network's ledger.
    fn commit_next(&mut self, proposer: u16, txs: u64) -> Block {
        let (block, exec) = self
            .ledger
            .propose(proposer, 1_000, self.txs(txs), None, &self.keys)
            .unwrap();
        self.ledger.commit(&block.header, exec).unwrap();
        block
    }

    fn block(&self, proposer: u16, txs: u64) -> Block {
        self.ledger
            .propose(proposer, 1_000, self.txs(txs), None, &self.keys)
            .unwrap()
            .0
    }

    fn host(&self, me: u16, signer: bool) -> Host {
        let gh = self.genesis.hash();
        Host::new(
            ValidatorSet::new(&self.genesis.header().validators),
            ValidatorIndex(me),
            signer.then(|| PantheonSigner::new(std::sync::Arc::new(key(me)), gh)),
            PantheonVerifier::new(gh, std::sync::Arc::new(KeyCache::default())),
            AppConfig {
                timeouts: LinearTimeouts::default(),
                target_time: None,
                // One transaction per part: a stream of several parts.
                part_bytes: 1,
            },
            Tip {
                height: self.ledger.height(),
                block: self.ledger.last_block(),
            },
            Restored::default(),
        )
    }

    /// A certificate for `block` with precommits of validators 0, 1, 2.
    fn certificate(&self, block: &Block) -> CommitCertificate {
        let vote = VoteMessage {
            vote_type: VoteType::Precommit,
            genesis: self.genesis.hash(),
            height: block.header.height,
            round: 0,
            block: Some(block.header.hash()),
        };
        CommitCertificate {
            height: block.header.height,
            round: 0,
            block_hash: block.header.hash(),
            signatures: (0..3)
                .map(|i| CommitSignature {
                    validator: i,
                    signature: key(i).sign(SignContext::Vote, &vote.to_bytes()),
                })
                .collect(),
        }
    }
}

/// A peer id (an identity multihash; any will do).
fn peer() -> PeerId {
    use std::sync::atomic::{AtomicU8, Ordering};
    static NEXT: AtomicU8 = AtomicU8::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    PeerId::from_bytes(&[0x00, 0x04, n, n, n, n]).unwrap()
}

/// `cert` as Malachite hands it over in `Decided` and `Finalized`.
fn decided_cert(cert: &CommitCertificate) -> MCommitCertificate<super::context::PantheonContext> {
    MCommitCertificate {
        height: ConsensusHeight(cert.height),
        round: Round::new(cert.round),
        value_id: cert.block_hash,
        commit_signatures: cert
            .signatures
            .iter()
            .map(|s| MCommitSignature::new(ValidatorIndex(s.validator), Sig(s.signature.clone())))
            .collect(),
    }
}

const H1: ConsensusHeight = ConsensusHeight(Height::new(1));
/// The proposer of (1, 0) with 4 equal validators: (1 + 0) mod 4.
const PROPOSER: u16 = 1;

fn valid(_: &Block) -> bool {
    true
}

fn published(effects: &[Effect]) -> Vec<StreamMessage<ProposalPart>> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Publish(m) => Some(m.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn kinds(effects: &[Effect]) -> Vec<&'static str> {
    effects
        .iter()
        .map(|e| match e {
            Effect::PersistBlock(_) => "PersistBlock",
            Effect::PersistInit(_) => "PersistInit",
            Effect::PersistBuilt { .. } => "PersistBuilt",
            Effect::PruneUndecided(_) => "PruneUndecided",
            Effect::Publish(_) => "Publish",
            Effect::ImproveCertificate(_) => "ImproveCertificate",
            Effect::Equivocation(_) => "Equivocation",
            Effect::Synced => "Synced",
        })
        .collect()
}

/// The proposer's stream for (1, 0) of a block of `txs` transactions.
fn proposal(net: &Net, txs: u64) -> (Block, Vec<StreamMessage<ProposalPart>>) {
    let mut proposer = net.host(PROPOSER, true);
    let block = net.block(PROPOSER, txs);
    let b = block.clone();
    let mut build = move |_: u16, _: u64| Ok(b.clone());
    let (effects, value) = proposer.get_value(H1, Round::new(0), 1_000, &mut build);
    assert!(value.is_some());
    (block, published(&effects))
}

/// Feeds `parts` to `host` from one peer; the answers, one per part.
fn deliver(
    host: &mut Host,
    parts: Vec<StreamMessage<ProposalPart>>,
) -> Vec<(Vec<&'static str>, Option<Validity>)> {
    let peer = peer();
    parts
        .into_iter()
        .map(|p| {
            let (effects, value) = host.received_part(peer, p, &mut valid);
            (kinds(&effects), value.map(|v| v.validity))
        })
        .collect()
}

#[test]
fn ready_starts_at_the_next_height() {
    let net = Net::new();
    let (height, _) = net.host(0, true).ready();
    assert_eq!(height, H1);
}

#[test]
fn get_value_builds_persists_then_publishes_init_parts_fin() {
    let net = Net::new();
    let mut host = net.host(PROPOSER, true);
    let block = net.block(PROPOSER, 3);
    let b = block.clone();
    let mut calls = 0;
    let mut build = |me: u16, time: u64| {
        calls += 1;
        assert_eq!((me, time), (PROPOSER, 1_234));
        Ok(b.clone())
    };
    let (effects, value) = host.get_value(H1, Round::new(0), 1_234, &mut build);
    assert_eq!(value.unwrap().value.hash(), block.header.hash());
    assert_eq!(kinds(&effects), ["PersistBlock", "PersistBuilt", "Publish"]);
    let parts = published(&effects);
    assert!(matches!(
        parts[0].content,
        StreamContent::Data(ProposalPart::Init(_))
    ));
    assert_eq!(
        parts.len(),
        1 + 3 + 1,
        "Init, one part per transaction, Fin"
    );
    assert!(matches!(parts[4].content, StreamContent::Fin));
    // The same round again: the same block, nothing built or written.
    let (effects, again) = host.get_value(H1, Round::new(0), 9_999, &mut build);
    assert_eq!(again.unwrap().value.hash(), block.header.hash());
    assert_eq!(kinds(&effects), ["Publish"]);
    assert_eq!(calls, 1);
}

#[test]
fn get_value_answers_nothing_where_it_must_not_propose() {
    let net = Net::new();
    let mut never = |_: u16, _: u64| -> Result<Block, String> { panic!("must not build") };
    // Another height.
    let (effects, value) = net.host(PROPOSER, true).get_value(
        ConsensusHeight(Height::new(5)),
        Round::new(0),
        0,
        &mut never,
    );
    assert!(value.is_none() && effects.is_empty());
    // A full node.
    let (effects, value) = net
        .host(PROPOSER, false)
        .get_value(H1, Round::new(0), 0, &mut never);
    assert!(value.is_none() && effects.is_empty());
    // The chain cannot build.
    let mut fail = |_: u16, _: u64| Err("mempool gone".to_owned());
    let (effects, value) = net
        .host(PROPOSER, true)
        .get_value(H1, Round::new(0), 0, &mut fail);
    assert!(value.is_none() && effects.is_empty());
}

#[test]
fn a_complete_stream_is_judged_persisted_and_answered_once() {
    let net = Net::new();
    let (block, parts) = proposal(&net, 3);
    let mut host = net.host(2, true);
    let answers = deliver(&mut host, parts);
    let (last, firsts) = answers.split_last().unwrap();
    assert!(firsts.iter().all(|(e, v)| e.is_empty() && v.is_none()));
    assert_eq!(last.0, ["PersistBlock", "PersistInit"]);
    assert_eq!(last.1, Some(Validity::Valid));
    assert_eq!(host.block(&block.header.hash()), Some(&block));
}

#[test]
fn parts_out_of_order_still_make_the_block() {
    let net = Net::new();
    let (block, mut parts) = proposal(&net, 4);
    parts.reverse();
    let mut host = net.host(2, true);
    let answers = deliver(&mut host, parts);
    assert_eq!(answers.last().unwrap().1, Some(Validity::Valid));
    assert!(host.block(&block.header.hash()).is_some());
}

#[test]
fn an_invalid_block_is_answered_invalid_not_dropped() {
    let net = Net::new();
    let (_, parts) = proposal(&net, 2);
    let mut host = net.host(2, true);
    let peer = peer();
    let mut last = None;
    for p in parts {
        last = host.received_part(peer, p, &mut |_| false).1;
    }
    assert_eq!(last.unwrap().validity, Validity::Invalid);
}

#[test]
fn a_stream_from_the_wrong_proposer_or_with_a_bad_signature_is_rejected() {
    let net = Net::new();
    // Validator 3 signs a proposal for a round it does not propose.
    let mut impostor = net.host(3, true);
    let block = net.block(3, 1);
    let b = block.clone();
    let mut build = move |_: u16, _: u64| Ok(b.clone());
    let (effects, _) = impostor.get_value(H1, Round::new(0), 0, &mut build);
    let mut host = net.host(2, true);
    assert!(
        deliver(&mut host, published(&effects))
            .iter()
            .all(|(e, v)| e.is_empty() && v.is_none())
    );
    // The right proposer's stream with its signature changed.
    let (_, mut parts) = proposal(&net, 1);
    if let StreamContent::Data(ProposalPart::Init(i)) = &mut parts[0].content {
        let mut forged = i.clone();
        forged.pol_round = Round::new(7);
        parts[0].content = StreamContent::Data(ProposalPart::Init(forged));
    }
    assert!(deliver(&mut host, parts).iter().all(|(_, v)| v.is_none()));
}

#[test]
fn a_stream_whose_transactions_do_not_match_the_header_is_dropped() {
    let net = Net::new();
    let (_, mut parts) = proposal(&net, 3);
    // Lose one transaction part and renumber: the header's tx_root fails.
    parts.remove(2);
    for (i, p) in parts.iter_mut().enumerate() {
        p.sequence = i as u64;
    }
    let mut host = net.host(2, true);
    assert!(
        deliver(&mut host, parts)
            .iter()
            .all(|(e, v)| e.is_empty() && v.is_none())
    );
}

#[test]
fn a_proposal_for_a_later_height_waits_for_its_round() {
    let mut net = Net::new();
    // This host is still at genesis when the network moves to height 2.
    let mut host = net.host(3, true);
    let b1 = net.commit_next(PROPOSER, 1);
    let cert1 = net.certificate(&b1);
    let h2 = ConsensusHeight(Height::new(2));
    // Height 2, round 0 is validator 2's: (2 + 0) mod 4.
    let mut proposer = net.host(2, true);
    let (b2, _) = net
        .ledger
        .propose(2, 2_000, Vec::new(), Some(cert1.clone()), &net.keys)
        .unwrap();
    let b = b2.clone();
    let mut build = move |_: u16, _: u64| Ok(b.clone());
    let (effects, _) = proposer.get_value(h2, Round::new(0), 2_000, &mut build);
    let answers = deliver(&mut host, published(&effects));
    assert!(
        answers.iter().all(|(e, v)| e.is_empty() && v.is_none()),
        "buffered, not judged"
    );
    // Height 1 is committed here too; height 2 starts: judged, persisted.
    host.committed(&b1);
    let (effects, values) = host.started_round(h2, Round::new(0), &mut valid);
    assert_eq!(kinds(&effects), ["PersistBlock", "PersistInit"]);
    assert_eq!(values.len(), 1);
    assert_eq!(values[0].value.hash(), b2.header.hash());
}

#[test]
fn decided_commits_and_committed_forgets_the_height() {
    let net = Net::new();
    let (block, parts) = proposal(&net, 2);
    let mut host = net.host(2, true);
    deliver(&mut host, parts);
    let cert = decided_cert(&net.certificate(&block));
    let commit = host.decided(&cert).unwrap();
    assert_eq!(commit.block, block);
    assert_eq!(commit.certificate.signatures.len(), 3);
    assert_eq!(kinds(&host.committed(&commit.block)), ["PruneUndecided"]);
    assert_eq!(host.tip().height, Height::new(1));
    assert_eq!(host.tip().block, block.header.hash());
    assert_eq!(host.undecided(), 0);
    assert_eq!(host.next_height(), ConsensusHeight(Height::new(2)));
    // Decided again: already committed.
    assert!(
        host.decided(&cert)
            .unwrap_err()
            .contains("already committed")
    );
}

#[test]
fn decided_for_a_block_never_received_is_an_error_not_a_panic() {
    let net = Net::new();
    let block = net.block(PROPOSER, 1);
    let mut host = net.host(2, true);
    let cert = decided_cert(&net.certificate(&block));
    assert!(host.decided(&cert).unwrap_err().contains("not available"));
}

#[test]
fn finalized_starts_the_next_height_or_restarts_this_one() {
    let net = Net::new();
    let (block, parts) = proposal(&net, 1);
    let mut host = net.host(2, true);
    deliver(&mut host, parts);
    let cert = decided_cert(&net.certificate(&block));
    let evidence = MisbehaviorEvidence {
        proposals: Default::default(),
        votes: Default::default(),
    };
    // Not committed (the commit failed): restart height 1.
    let (effects, next) = host.finalized(&cert, &evidence);
    assert!(effects.is_empty());
    assert!(matches!(next, Next::Restart(h, _) if h == H1));
    let commit = host.decided(&cert).unwrap();
    host.committed(&commit.block);
    let (effects, next) = host.finalized(&cert, &evidence);
    assert_eq!(kinds(&effects), ["ImproveCertificate"]);
    assert!(matches!(next, Next::Start(h, _) if h == ConsensusHeight(Height::new(2))));
}

#[test]
fn history_and_sync_ranges() {
    let net = Net::new();
    let mut host = net.host(2, true);
    assert_eq!(host.history_min(), H1, "nothing to serve at genesis");
    assert_eq!(
        host.decided_range(H1, ConsensusHeight(Height::new(9))),
        None
    );
    let (block, parts) = proposal(&net, 1);
    deliver(&mut host, parts);
    let cert = decided_cert(&net.certificate(&block));
    let commit = host.decided(&cert).unwrap();
    host.committed(&commit.block);
    assert_eq!(host.history_min(), H1);
    assert_eq!(
        host.decided_range(H1, ConsensusHeight(Height::new(500))),
        Some((1, 1)),
        "never above the tip"
    );
}

#[test]
fn synced_values_are_checked_for_shape_and_parent() {
    let net = Net::new();
    let mut host = net.host(2, true);
    let block = net.block(PROPOSER, 2);
    let bytes = Bytes::from(block.to_bytes());
    let (effects, outcome) = host.synced_value(H1, Round::new(0), ValidatorIndex(1), &bytes);
    assert_eq!(kinds(&effects), ["Synced"]);
    assert!(
        matches!(outcome, SyncedValueOutcome::Verdict(v) if v.validity == Validity::Valid && v.value.hash() == block.header.hash())
    );
    let (_, garbage) = host.synced_value(
        H1,
        Round::new(0),
        ValidatorIndex(1),
        &Bytes::from_static(b"junk"),
    );
    assert!(matches!(garbage, SyncedValueOutcome::PeerFault));
    let (_, wrong) = host.synced_value(
        ConsensusHeight(Height::new(2)),
        Round::new(0),
        ValidatorIndex(1),
        &bytes,
    );
    assert!(
        matches!(wrong, SyncedValueOutcome::PeerFault),
        "header height differs"
    );
    let mut later = block.clone();
    later.header.height = Height::new(3);
    let (_, early) = host.synced_value(
        ConsensusHeight(Height::new(3)),
        Round::new(0),
        ValidatorIndex(1),
        &Bytes::from(later.to_bytes()),
    );
    assert!(matches!(early, SyncedValueOutcome::LocalTransientError));
}

#[test]
fn restream_replays_our_own_or_a_seen_proposal_and_nothing_else() {
    let net = Net::new();
    let (block, parts) = proposal(&net, 2);
    let hash = block.header.hash();
    let mut host = net.host(2, true);
    deliver(&mut host, parts.clone());
    let effects = host.restream(
        H1,
        Round::new(0),
        Round::Nil,
        ValidatorIndex(PROPOSER),
        hash,
    );
    assert_eq!(
        published(&effects).len(),
        parts.len(),
        "the proposer's signed Init replayed"
    );
    let unknown = Hash256::digest(b"nothing");
    assert!(
        host.restream(
            H1,
            Round::new(0),
            Round::Nil,
            ValidatorIndex(PROPOSER),
            pantheon_runtime::hash::BlockHash::new(unknown)
        )
        .is_empty()
    );
    // Our own value in a later round: a new Init signed by us.
    let effects = host.restream(H1, Round::new(1), Round::new(0), ValidatorIndex(2), hash);
    let replayed = published(&effects);
    let StreamContent::Data(ProposalPart::Init(init)) = &replayed[0].content else {
        panic!()
    };
    assert_eq!(
        (init.proposer, init.round, init.pol_round),
        (ValidatorIndex(2), Round::new(1), Round::new(0))
    );
}

#[test]
fn a_restart_restores_what_was_persisted() {
    let net = Net::new();
    let (block, parts) = proposal(&net, 1);
    let mut before = net.host(2, true);
    let peer = peer();
    let mut inits = Vec::new();
    for p in parts {
        let (effects, _) = before.received_part(peer, p, &mut valid);
        for e in effects {
            if let Effect::PersistInit(i) = e {
                inits.push(*i);
            }
        }
    }
    let gh = net.genesis.hash();
    let mut after = Host::new(
        ValidatorSet::new(&net.genesis.header().validators),
        ValidatorIndex(2),
        Some(PantheonSigner::new(std::sync::Arc::new(key(2)), gh)),
        PantheonVerifier::new(gh, std::sync::Arc::new(KeyCache::default())),
        AppConfig {
            timeouts: LinearTimeouts::default(),
            target_time: None,
            part_bytes: 1,
        },
        before.tip(),
        Restored {
            blocks: vec![(block.clone(), true)],
            built: Vec::new(),
            inits,
        },
    );
    let (_, values) = after.started_round(H1, Round::new(0), &mut valid);
    assert_eq!(values.len(), 1, "the proposal seen before the restart");
    assert_eq!(values[0].value.hash(), block.header.hash());
}

#[tokio::test]
async fn double_votes_are_reported_for_system_health() {
    use malachitebft_app_channel::Signer;
    use malachitebft_app_channel::app::types::core::{Context, NilOrVal};

    let net = Net::new();
    let ctx = super::context::PantheonContext::new(net.genesis.hash());
    let signer = PantheonSigner::new(std::sync::Arc::new(key(2)), net.genesis.hash());
    let height = ConsensusHeight::new(7);
    let vote = |value: &[u8]| {
        ctx.new_prevote(
            height,
            Round::new(0),
            NilOrVal::Val(pantheon_runtime::hash::BlockHash::new(Hash256::digest(
                value,
            ))),
            ValidatorIndex(2),
        )
    };
    let a = signer.sign_vote(vote(b"a")).await.unwrap();
    let b = signer.sign_vote(vote(b"b")).await.unwrap();
    let mut evidence = MisbehaviorEvidence {
        proposals: Default::default(),
        votes: Default::default(),
    };
    let block = net.block(PROPOSER, 1);
    let cert = decided_cert(&net.certificate(&block));
    let mut host = net.host(0, true);
    assert!(host.finalized(&cert, &evidence).0.is_empty());
    evidence.votes.add(a, b);
    let (effects, _) = host.finalized(&cert, &evidence);
    let [Effect::Equivocation(report)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert!(report.contains("height 1"), "{report}");
    assert!(report.contains("v2 (1 conflicting votes)"), "{report}");
}
