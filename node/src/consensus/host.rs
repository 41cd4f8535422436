//! The consensus host's pure core: what Pantheon answers to each of
//! Malachite's application requests, with no I/O.
//!
//! Every request is a method that returns the answer for Malachite and the
//! [`Effect`]s the driver ([`super::app`]) must carry out *before* sending
//! that answer (the undecided store's writes, so that a restart never
//! forgets a value we may have voted for), or after it (publishing
//! proposal parts). Time comes in as an argument. The two questions that
//! need the ledger, "is this block valid on top of ours?" and "build the
//! next block", come in as functions ([`Judge`], [`Build`]): pure
//! computations over the chain's state, which table tests replace with
//! their own. Committing a decided block is an effect whose outcome the
//! driver reports back ([`Host::committed`]).
//!
//! | request (`AppMsg`) | method | effects |
//! |---|---|---|
//! | `ConsensusReady` | [`Host::ready`] | — |
//! | `StartedRound` | [`Host::started_round`] | persist the buffered proposals of the height now started |
//! | `GetValue` | [`Host::get_value`] | persist the block and our choice for the round; publish the stream |
//! | `ReceivedProposalPart` | [`Host::received_part`] | persist a complete proposal |
//! | `Decided` | [`Host::decided`] | commit (then [`Host::committed`]: prune) |
//! | `Finalized` | [`Host::finalized`] | keep a larger certificate; record equivocation |
//! | `GetHistoryMinHeight` | [`Host::history_min`] | — |
//! | `GetDecidedValues` | [`Host::decided_range`] | the driver reads the store |
//! | `ProcessSyncedValue` | [`Host::synced_value`] | note the sync for health |
//! | `RestreamProposal` | [`Host::restream`] | publish |
//! | `ExtendVote`, `VerifyVoteExtensions` | (no extensions, in the driver) | — |

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use malachitebft_app_channel::app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate as MCommitCertificate, LinearTimeouts, Round, Validity,
};
use malachitebft_app_channel::app::types::{
    LocallyProposedValue, MisbehaviorEvidence, PeerId, ProposedValue,
};
use pantheon_runtime::amount::Height;
use pantheon_runtime::block::{Block, CommitCertificate};
use pantheon_runtime::codec::decode_exact;
use pantheon_runtime::hash::{BlockHash, Hash256, LogRoot};
use pantheon_runtime::log::root_of;
use pantheon_runtime::tx::SignedTx;
use tracing::{debug, info, warn};

use crate::consensus::codec::MAX_TXS_PER_PART;
use crate::consensus::context::{
    BlockValue, ConsensusHeight, PantheonContext, ProposalInit, ProposalPart, ValidatorIndex,
    ValidatorSet,
};
use crate::consensus::signing::{PantheonSigner, PantheonVerifier, to_runtime_certificate};

type Ctx = PantheonContext;

/// Most proposal streams buffered at once (oldest evicted).
const MAX_STREAMS: usize = 16;
/// Most bytes buffered for one stream.
const MAX_STREAM_BYTES: usize = 128 << 20;
/// Most complete proposals buffered for later heights.
const MAX_PENDING: usize = 8;
/// Most values returned for one sync request.
pub const MAX_SYNC_BATCH: u64 = 64;

/// Application settings.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Consensus timeouts.
    pub timeouts: LinearTimeouts,
    /// Target block time: Malachite holds `Finalized` until it has elapsed
    /// since the height started (collecting late precommits meanwhile).
    pub target_time: Option<Duration>,
    /// Approximate bytes of transactions per proposal part.
    pub part_bytes: usize,
}

/// Whether a block is valid as the next block on top of the chain
/// (strict execution; the chain keeps the execution for the commit).
pub type Judge<'a> = &'a mut dyn FnMut(&Block) -> bool;

/// Builds the next block as validator `.0` at time `.1` (ms) from the
/// mempool.
pub type Build<'a> = &'a mut dyn FnMut(u16, u64) -> Result<Block, String>;

/// What the driver does for the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Write this undecided block (a candidate of the core) durably.
    PersistBlock(BlockHash),
    /// Write this signed proposal `Init` durably.
    PersistInit(Box<ProposalInit>),
    /// Write our block choice for `(height, round)` durably.
    PersistBuilt {
        /// The height.
        height: u64,
        /// The round.
        round: u32,
        /// The block we propose in it.
        hash: BlockHash,
    },
    /// Delete undecided files up to this height.
    PruneUndecided(u64),
    /// Publish these proposal parts to the other validators.
    Publish(Vec<StreamMessage<ProposalPart>>),
    /// Keep this certificate if it is larger than the stored one.
    ImproveCertificate(Box<CommitCertificate>),
    /// Equivocation evidence, for `system_health`.
    Equivocation(String),
    /// A block arrived by value sync (health: we are syncing).
    Synced,
}

/// A decided block to commit, handed to the driver by [`Host::decided`].
#[derive(Debug)]
pub struct Commit {
    /// The block.
    pub block: Block,
    /// Its certificate, converted and ready to check.
    pub certificate: CommitCertificate,
}

/// A block we may vote for or commit: its body and, if it is valid on top
/// of our ledger, its execution (reused by `Ledger::commit`).
struct Candidate {
    block: Block,
    valid: bool,
    /// False for a block taken from value sync on the strength of its
    /// commit certificate (checked by Malachite before it hands the block
    /// over): the chain executes it in `Mode::Certified` at commit. If the
    /// same block is later proposed to us in a round, it is validated
    /// strictly before we vote.
    checked: bool,
}

#[derive(Default)]
struct PartialStream {
    init: Option<ProposalInit>,
    chunks: BTreeMap<u64, Vec<SignedTx>>,
    fin: Option<u64>,
    bytes: usize,
    rejected: bool,
}

/// What the undecided store held at start (see [`Host::new`]).
#[derive(Default)]
pub struct Restored {
    /// Undecided blocks of the next height, with their validity.
    pub blocks: Vec<(Block, bool)>,
    /// Our block choice per round of the next height.
    pub built: Vec<(u32, BlockHash)>,
    /// Proposals seen for the next height.
    pub inits: Vec<ProposalInit>,
}

/// The chain's tip as the core knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tip {
    /// The last committed height.
    pub height: Height,
    /// The last committed block (the genesis hash's block id at genesis).
    pub block: BlockHash,
}

/// The consensus host's state. See the module docs.
pub struct Host {
    validators: ValidatorSet,
    me: ValidatorIndex,
    /// `None` on a full node, which follows consensus without voting.
    signer: Option<PantheonSigner>,
    verifier: PantheonVerifier,
    cfg: AppConfig,
    tip: Tip,
    candidates: HashMap<BlockHash, Candidate>,
    seen: Vec<ProposedValue<Ctx>>,
    built: HashMap<(u64, u32), BlockHash>,
    inits: HashMap<(u64, u32, u16, BlockHash), ProposalInit>,
    streams: HashMap<(PeerId, StreamId), PartialStream>,
    stream_order: VecDeque<(PeerId, StreamId)>,
    pending: Vec<(ProposalInit, Block)>,
}

impl Host {
    /// A host on top of `tip`, with what the undecided store held.
    #[must_use]
    pub fn new(
        validators: ValidatorSet,
        me: ValidatorIndex,
        signer: Option<PantheonSigner>,
        verifier: PantheonVerifier,
        cfg: AppConfig,
        tip: Tip,
        restored: Restored,
    ) -> Self {
        let mut host = Self {
            validators,
            me,
            signer,
            verifier,
            cfg,
            tip,
            candidates: HashMap::new(),
            seen: Vec::new(),
            built: HashMap::new(),
            inits: HashMap::new(),
            streams: HashMap::new(),
            stream_order: VecDeque::new(),
            pending: Vec::new(),
        };
        let next = host.next_height().0.get();
        for (block, valid) in restored.blocks {
            host.candidates.insert(
                block.header.hash(),
                Candidate {
                    block,
                    valid,
                    checked: true,
                },
            );
        }
        for (round, hash) in restored.built {
            host.built.insert((next, round), hash);
        }
        // Proposals seen before the restart: Malachite's WAL may replay the
        // signed Proposal without the value, which `StartedRound` then
        // supplies.
        for init in restored.inits {
            if let Some(valid) = host.candidates.get(&init.header.hash()).map(|c| c.valid) {
                host.record(init, valid);
            }
        }
        host
    }

    /// The chain's tip as the core knows it.
    #[must_use]
    pub const fn tip(&self) -> Tip {
        self.tip
    }

    /// How many undecided blocks the core holds.
    #[must_use]
    pub fn undecided(&self) -> usize {
        self.candidates.len()
    }

    /// A candidate block (for [`Effect::PersistBlock`]).
    #[must_use]
    pub fn block(&self, hash: &BlockHash) -> Option<&Block> {
        self.candidates.get(hash).map(|c| &c.block)
    }

    /// The height consensus works on.
    #[must_use]
    pub fn next_height(&self) -> ConsensusHeight {
        ConsensusHeight(self.tip.height.next())
    }

    /// The parameters of every height (one validator set, fixed timeouts).
    #[must_use]
    pub fn params(&self) -> HeightParams<Ctx> {
        HeightParams::new(
            self.validators.clone(),
            self.cfg.timeouts,
            self.cfg.target_time,
        )
    }

    /// `ConsensusReady`: start at the next height.
    #[must_use]
    pub fn ready(&self) -> (ConsensusHeight, HeightParams<Ctx>) {
        (self.next_height(), self.params())
    }

    /// `StartedRound`: takes up the proposals buffered for the height now
    /// started, and answers the values already seen for `(height, round)`.
    pub fn started_round(
        &mut self,
        height: ConsensusHeight,
        round: Round,
        judge: Judge<'_>,
    ) -> (Vec<Effect>, Vec<ProposedValue<Ctx>>) {
        let mut effects = Vec::new();
        if height == self.next_height() {
            let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
                .into_iter()
                .partition(|(i, _)| i.height == height);
            self.pending = later;
            for (init, block) in now {
                self.accept(init, block, judge, &mut effects);
            }
        }
        let values = self
            .seen
            .iter()
            .filter(|v| v.height == height && v.round == round)
            .cloned()
            .collect();
        (effects, values)
    }

    /// `GetValue`: our proposal for `(height, round)` at `now_ms`: the
    /// block built before for the round, or a new one. No value (no
    /// answer: consensus times out and prevotes nil) on another height, on
    /// a full node, or when the chain cannot build. The effects are carried
    /// out even without a value: a block we built is on disk before we can
    /// ever propose it.
    pub fn get_value(
        &mut self,
        height: ConsensusHeight,
        round: Round,
        now_ms: u64,
        build: Build<'_>,
    ) -> (Vec<Effect>, Option<LocallyProposedValue<Ctx>>) {
        let mut effects = Vec::new();
        let value = self.propose(height, round, now_ms, build, &mut effects);
        (effects, value)
    }

    fn propose(
        &mut self,
        height: ConsensusHeight,
        round: Round,
        now_ms: u64,
        build: Build<'_>,
        effects: &mut Vec<Effect>,
    ) -> Option<LocallyProposedValue<Ctx>> {
        let r = round.as_u32()?;
        let known = self
            .built
            .get(&(height.0.get(), r))
            .filter(|h| self.candidates.contains_key(h))
            .copied();
        let hash = if let Some(hash) = known {
            info!(%height, %round, "re-proposing the block built before for this round");
            hash
        } else {
            if height != self.next_height() {
                warn!(%height, tip = %self.tip.height, "asked to build another height");
                return None;
            }
            if self.signer.is_none() {
                warn!(%height, "a full node does not propose");
                return None;
            }
            let block = match build(self.me.0, now_ms) {
                Ok(block) => block,
                Err(e) => {
                    warn!(%height, %round, "cannot build a block: {e}");
                    return None;
                }
            };
            let hash = block.header.hash();
            self.candidates.insert(
                hash,
                Candidate {
                    block,
                    valid: true,
                    checked: true,
                },
            );
            self.built.insert((height.0.get(), r), hash);
            effects.push(Effect::PersistBlock(hash));
            effects.push(Effect::PersistBuilt {
                height: height.0.get(),
                round: r,
                hash,
            });
            hash
        };
        let init = self.sign_init(height, round, Round::Nil, hash)?;
        let header = init.header;
        info!(%height, %round, %hash, "proposing");
        effects.push(Effect::Publish(self.stream(&init, hash)?));
        self.inits
            .insert((height.0.get(), r, self.me.0, hash), init);
        Some(LocallyProposedValue::new(
            height,
            round,
            BlockValue::new(header),
        ))
    }

    /// `ReceivedProposalPart`: buffers the part; a complete proposal for
    /// the next height is judged and answered, one for a later height kept
    /// for its `StartedRound`.
    pub fn received_part(
        &mut self,
        peer: PeerId,
        part: StreamMessage<ProposalPart>,
        judge: Judge<'_>,
    ) -> (Vec<Effect>, Option<ProposedValue<Ctx>>) {
        let mut effects = Vec::new();
        let value = match self.on_part(peer, part) {
            None => None,
            Some((init, block)) if init.height == self.next_height() => {
                let v = self.accept(init, block, judge, &mut effects);
                info!(height = %v.height, round = %v.round, hash = %v.value.hash(), validity = ?v.validity, "received proposal");
                Some(v)
            }
            Some((init, block)) if init.height > self.next_height() => {
                debug!(height = %init.height, "buffering a proposal for a later height");
                if self.pending.len() >= MAX_PENDING {
                    self.pending.remove(0);
                }
                self.pending.push((init, block));
                None
            }
            Some(_) => None,
        };
        (effects, value)
    }

    /// `Decided`: the block to commit with its certificate, or why it
    /// cannot be (already committed, another height, block unknown, bad
    /// certificate). The driver commits, then calls [`Host::committed`].
    ///
    /// # Errors
    /// Why there is nothing to commit.
    pub fn decided(&mut self, cert: &MCommitCertificate<Ctx>) -> Result<Commit, String> {
        let height = cert.height.0;
        let current = self.tip.height;
        if height <= current {
            return Err(format!("height {height} is already committed"));
        }
        if height != current.next() {
            return Err(format!("decided {height}, chain is at {current}"));
        }
        let certificate = to_runtime_certificate(cert).map_err(|e| e.to_string())?;
        let candidate = self
            .candidates
            .remove(&cert.value_id)
            .ok_or_else(|| format!("decided block {} is not available", cert.value_id))?;
        Ok(Commit {
            block: candidate.block,
            certificate,
        })
    }

    /// The chain committed `block` at its height: forget everything about
    /// that height.
    pub fn committed(&mut self, block: &Block) -> Vec<Effect> {
        let h = block.header.height.get();
        self.tip = Tip {
            height: block.header.height,
            block: block.header.hash(),
        };
        self.candidates
            .retain(|_, c| c.block.header.height.get() > h);
        self.built.retain(|(bh, _), _| *bh > h);
        self.inits.retain(|(ih, ..), _| *ih > h);
        self.seen.retain(|v| v.height.0.get() > h);
        self.pending.retain(|(i, _)| i.height.0.get() > h);
        self.streams
            .retain(|_, s| s.init.as_ref().is_none_or(|i| i.height.0.get() > h));
        let streams = &self.streams;
        self.stream_order.retain(|k| streams.contains_key(k));
        vec![Effect::PruneUndecided(h)]
    }

    /// `Finalized`: start the next height, or restart this one if its
    /// decision was not committed; a certificate made larger by late
    /// precommits is kept.
    pub fn finalized(
        &mut self,
        cert: &MCommitCertificate<Ctx>,
        evidence: &MisbehaviorEvidence<Ctx>,
    ) -> (Vec<Effect>, Next<Ctx>) {
        let mut effects = Vec::new();
        if let Some(report) = evidence_report(cert.height, evidence) {
            warn!(height = %cert.height, "equivocation evidence: {report}");
            effects.push(Effect::Equivocation(report));
        }
        let h = cert.height.0;
        if h <= self.tip.height {
            if let Ok(rc) = to_runtime_certificate(cert) {
                effects.push(Effect::ImproveCertificate(Box::new(rc)));
            }
            (effects, Next::Start(self.next_height(), self.params()))
        } else {
            warn!(height = %h, "restarting height: the decision was not committed");
            (effects, Next::Restart(self.next_height(), self.params()))
        }
    }

    /// `GetHistoryMinHeight`: the lowest height we serve (every block from
    /// 1 once there is one).
    #[must_use]
    pub fn history_min(&self) -> ConsensusHeight {
        if self.tip.height == Height::GENESIS {
            self.next_height()
        } else {
            ConsensusHeight::new(1)
        }
    }

    /// `GetDecidedValues`: the heights to serve, at most
    /// [`MAX_SYNC_BATCH`] and none above the tip (`None`: none).
    #[must_use]
    pub fn decided_range(&self, from: ConsensusHeight, to: ConsensusHeight) -> Option<(u64, u64)> {
        let from = from.0.get();
        let to =
            to.0.get()
                .min(self.tip.height.get())
                .min(from.saturating_add(MAX_SYNC_BATCH - 1));
        (from >= 1 && from <= to).then_some((from, to))
    }

    /// `ProcessSyncedValue`: a block from value sync, whose commit
    /// certificate Malachite has already checked: decoded, and taken if it
    /// extends our tip (the chain re-executes it, `Mode::Certified`, when
    /// the decision arrives).
    pub fn synced_value(
        &mut self,
        height: ConsensusHeight,
        round: Round,
        proposer: ValidatorIndex,
        bytes: &Bytes,
    ) -> (Vec<Effect>, SyncedValueOutcome<Ctx>) {
        let block = match decode_exact::<Block>(bytes) {
            Err(e) => {
                warn!(%height, "undecodable synced block: {e}");
                return (Vec::new(), SyncedValueOutcome::PeerFault);
            }
            Ok(block) if block.header.height != height.0 => {
                return (Vec::new(), SyncedValueOutcome::PeerFault);
            }
            Ok(_) if height != self.next_height() => {
                return (Vec::new(), SyncedValueOutcome::LocalTransientError);
            }
            Ok(block) => block,
        };
        let header = block.header;
        let valid = self.add_synced(block);
        info!(%height, hash = %header.hash(), valid, "synced block");
        (
            vec![Effect::Synced],
            SyncedValueOutcome::Verdict(ProposedValue {
                height,
                round,
                valid_round: Round::Nil,
                proposer,
                value: BlockValue::new(header),
                validity: Validity::from_bool(valid),
            }),
        )
    }

    /// `RestreamProposal`: publishes a known proposal again (signing a new
    /// `Init` if we are its proposer).
    pub fn restream(
        &mut self,
        height: ConsensusHeight,
        round: Round,
        valid_round: Round,
        address: ValidatorIndex,
        value_id: BlockHash,
    ) -> Vec<Effect> {
        if !self.candidates.contains_key(&value_id) {
            warn!(%height, %round, %value_id, "restream: unknown block");
            return Vec::new();
        }
        let init = if address == self.me {
            self.sign_init(height, round, valid_round, value_id)
        } else {
            self.inits
                .get(&(
                    height.0.get(),
                    round.as_u32().unwrap_or(0),
                    address.0,
                    value_id,
                ))
                .cloned()
        };
        let Some(init) = init else {
            warn!(%height, %round, %address, "restream: no signed Init to replay");
            return Vec::new();
        };
        info!(%height, %round, %valid_round, %address, "restreaming proposal");
        self.stream(&init, value_id)
            .map(|s| vec![Effect::Publish(s)])
            .unwrap_or_default()
    }

    fn add_candidate(&mut self, block: Block, judge: Judge<'_>, effects: &mut Vec<Effect>) -> bool {
        let hash = block.header.hash();
        if let Some(c) = self.candidates.get_mut(&hash) {
            if !c.checked {
                c.valid = judge(&c.block);
                c.checked = true;
            }
            return c.valid;
        }
        let valid = judge(&block);
        self.candidates.insert(
            hash,
            Candidate {
                block,
                valid,
                checked: true,
            },
        );
        effects.push(Effect::PersistBlock(hash));
        valid
    }

    fn add_synced(&mut self, block: Block) -> bool {
        let hash = block.header.hash();
        if let Some(c) = self.candidates.get(&hash) {
            return c.valid || !c.checked;
        }
        let extends =
            block.header.parent == self.tip.block && block.header.height == self.tip.height.next();
        if extends {
            self.candidates.insert(
                hash,
                Candidate {
                    block,
                    valid: true,
                    checked: false,
                },
            );
        }
        extends
    }

    /// Records a complete, authenticated proposal for the next height.
    fn accept(
        &mut self,
        init: ProposalInit,
        block: Block,
        judge: Judge<'_>,
        effects: &mut Vec<Effect>,
    ) -> ProposedValue<Ctx> {
        let valid = self.add_candidate(block, judge, effects);
        effects.push(Effect::PersistInit(Box::new(init.clone())));
        self.record(init, valid)
    }

    /// Remembers a proposal sighting (for `StartedRound` and restreams).
    fn record(&mut self, init: ProposalInit, valid: bool) -> ProposedValue<Ctx> {
        let hash = init.header.hash();
        let value = ProposedValue {
            height: init.height,
            round: init.round,
            valid_round: init.pol_round,
            proposer: init.proposer,
            value: BlockValue::new(init.header),
            validity: Validity::from_bool(valid),
        };
        self.inits.insert(
            (
                init.height.0.get(),
                init.round.as_u32().unwrap_or(0),
                init.proposer.0,
                hash,
            ),
            init,
        );
        if !self.seen.contains(&value) {
            self.seen.push(value.clone());
        }
        value
    }

    fn sign_init(
        &self,
        height: ConsensusHeight,
        round: Round,
        pol_round: Round,
        hash: BlockHash,
    ) -> Option<ProposalInit> {
        let signer = self.signer.as_ref()?;
        let block = &self.candidates.get(&hash)?.block;
        let signature = signer
            .sign_proposal_message(height, round, pol_round, hash)
            .inspect_err(|e| warn!(%height, %round, "cannot sign the proposal: {e}"))
            .ok()?;
        Some(ProposalInit {
            height,
            round,
            pol_round,
            proposer: self.me,
            header: block.header,
            last_certificate: block.last_certificate.clone().map(Box::new),
            signature,
        })
    }

    /// The stream messages of a proposal: `Init`, `Txs` chunks, `Fin`.
    fn stream(
        &self,
        init: &ProposalInit,
        hash: BlockHash,
    ) -> Option<Vec<StreamMessage<ProposalPart>>> {
        let block = &self.candidates.get(&hash)?.block;
        let mut id = Vec::with_capacity(44);
        id.extend_from_slice(&init.height.0.get().to_be_bytes());
        id.extend_from_slice(&init.round.as_u32().unwrap_or(0).to_be_bytes());
        id.extend_from_slice(hash.as_bytes());
        let id = StreamId::new(Bytes::from(id));
        let mut out = vec![StreamMessage::new(
            id.clone(),
            0,
            StreamContent::Data(ProposalPart::Init(init.clone())),
        )];
        let mut chunk = Vec::new();
        let mut bytes = 0;
        for tx in &block.txs {
            if !chunk.is_empty()
                && (bytes + tx.as_bytes().len() > self.cfg.part_bytes
                    || chunk.len() == MAX_TXS_PER_PART)
            {
                let seq = out.len() as u64;
                out.push(StreamMessage::new(
                    id.clone(),
                    seq,
                    StreamContent::Data(ProposalPart::Txs(std::mem::take(&mut chunk))),
                ));
                bytes = 0;
            }
            bytes += tx.as_bytes().len() + 2;
            chunk.push(tx.clone());
        }
        if !chunk.is_empty() {
            let seq = out.len() as u64;
            out.push(StreamMessage::new(
                id.clone(),
                seq,
                StreamContent::Data(ProposalPart::Txs(chunk)),
            ));
        }
        let seq = out.len() as u64;
        out.push(StreamMessage::new(id, seq, StreamContent::Fin));
        Some(out)
    }

    /// Checks an `Init` part: a future-or-current height, the round's
    /// proposer, and its signature over the proposal message.
    fn init_ok(&self, i: &ProposalInit) -> bool {
        if i.height.0 <= self.tip.height || i.header.height != i.height.0 {
            return false;
        }
        if self.validators.proposer(i.height, i.round).index != i.proposer {
            return false;
        }
        let Some(v) = self.validators.get(i.proposer) else {
            return false;
        };
        self.verifier.proposal_ok(
            i.height,
            i.round,
            i.pol_round,
            i.header.hash(),
            &i.signature,
            &v.public_key,
        )
    }

    /// Adds a part; returns a complete (init, block) when the stream is done.
    fn on_part(
        &mut self,
        peer: PeerId,
        msg: StreamMessage<ProposalPart>,
    ) -> Option<(ProposalInit, Block)> {
        let key = (peer, msg.stream_id.clone());
        if !self.streams.contains_key(&key) {
            if self.stream_order.len() >= MAX_STREAMS
                && let Some(old) = self.stream_order.pop_front()
            {
                self.streams.remove(&old);
            }
            self.stream_order.push_back(key.clone());
            self.streams.insert(key.clone(), PartialStream::default());
        }
        let init_check = match &msg.content {
            StreamContent::Data(ProposalPart::Init(i)) if msg.sequence == 0 => {
                Some(self.init_ok(i))
            }
            _ => None,
        };
        let s = self.streams.get_mut(&key)?;
        if s.rejected {
            return None;
        }
        match msg.content {
            StreamContent::Data(ProposalPart::Init(i)) => {
                if init_check == Some(true) {
                    s.init = Some(i);
                } else {
                    warn!(%peer, "rejecting proposal stream: bad Init");
                    s.rejected = true;
                }
            }
            StreamContent::Data(ProposalPart::Txs(txs)) if msg.sequence > 0 => {
                s.bytes += txs.iter().map(|t| t.as_bytes().len()).sum::<usize>();
                s.chunks.insert(msg.sequence, txs);
                if s.bytes > MAX_STREAM_BYTES {
                    warn!(%peer, "rejecting proposal stream: too large");
                    s.rejected = true;
                }
            }
            StreamContent::Data(ProposalPart::Txs(_)) => s.rejected = true,
            StreamContent::Fin => s.fin = Some(msg.sequence),
        }
        let fin = s.fin?;
        let complete = s.init.is_some()
            && s.chunks.len() as u64 == fin.saturating_sub(1)
            && s.chunks.keys().all(|&k| k < fin);
        if !complete {
            return None;
        }
        let s = self.streams.remove(&key)?;
        self.stream_order.retain(|k| k != &key);
        let init = s.init?;
        let txs: Vec<SignedTx> = s.chunks.into_values().flatten().collect();
        // The stream must carry exactly the transactions the signed header
        // commits to; otherwise it was corrupted in transit (not the
        // proposer's fault): drop it rather than judge the block invalid.
        let ids: Vec<Hash256> = txs.iter().map(|t| t.id().hash()).collect();
        if txs.len() != init.header.tx_count as usize
            || LogRoot::new(root_of(&ids)) != init.header.tx_root
        {
            warn!(%peer, "dropping proposal stream: transactions do not match the header");
            return None;
        }
        Some((
            init.clone(),
            Block {
                header: init.header,
                last_certificate: init.last_certificate.as_deref().cloned(),
                txs,
            },
        ))
    }
}

/// A one-line account of equivocation evidence, `None` when there is none.
fn evidence_report(height: ConsensusHeight, evidence: &MisbehaviorEvidence<Ctx>) -> Option<String> {
    if evidence.is_empty() {
        return None;
    }
    let proposers: Vec<String> = evidence
        .proposals
        .iter()
        .map(|(a, e)| format!("{a} ({} conflicting proposals)", e.len()))
        .collect();
    let voters: Vec<String> = evidence
        .votes
        .iter()
        .map(|(a, e)| format!("{a} ({} conflicting votes)", e.len()))
        .collect();
    Some(format!(
        "height {height}: equivocating proposers [{}], equivocating voters [{}]",
        proposers.join(", "),
        voters.join(", ")
    ))
}
