//! The application side of Malachite's app-channel API: builds blocks with
//! the `Ledger`, streams and reassembles proposals, commits decisions, and
//! serves value sync.
//!
//! Messages answered (each `AppMsg` carries a oneshot `reply`; the engine's
//! host actor waits for it, so every arm must reply, promptly):
//!
//! | `AppMsg`                | what we do                                                      |
//! |-------------------------|-----------------------------------------------------------------|
//! | `ConsensusReady`        | start at `ledger.height + 1` with `HeightParams`                |
//! | `StartedRound`          | note (h, r); validate complete streams buffered for h; reply the values seen for (h, r) |
//! | `GetValue`              | `Ledger::propose` (or the block already built for (h, r)); persist; reply the header; stream `Init` + `Txs`* + `Fin` |
//! | `ReceivedProposalPart`  | verify `Init`, buffer, on completion check `tx_root`, execute strictly, reply `Some(ProposedValue)` with validity |
//! | `Decided`               | convert + verify the certificate, persist, `Ledger::commit`, print, reply `()` |
//! | `Finalized`             | keep the larger certificate; reply `Next::Start(h + 1)` (or `Restart(h)` if the commit failed) |
//! | `GetHistoryMinHeight`   | lowest stored decided height                                    |
//! | `GetDecidedValues`      | block bytes + certificate per height, from the store            |
//! | `ProcessSyncedValue`    | decode + execute the block; reply `Verdict(ProposedValue)` or `PeerFault` |
//! | `RestreamProposal`      | re-publish the parts of a known block (signing a new `Init` if we are the proposer) |
//! | `ExtendVote` / `VerifyVoteExtensions` | no extensions: `None` / all `Ok`                   |

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use eyre::{Result, eyre};
use malachitebft_app_channel::app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate as MCommitCertificate, LinearTimeouts, Round, Validity,
};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{
    LocallyProposedValue, MisbehaviorEvidence, PeerId, ProposedValue,
};
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use pantheon_runtime::amount::Height;
use pantheon_runtime::block::Block;
use pantheon_runtime::codec::{Encode, decode_exact};
use pantheon_runtime::crypto::{KeyCache, Keypair};
use pantheon_runtime::hash::{BlockHash, Hash256, LogRoot};
use pantheon_runtime::log::root_of;
use pantheon_runtime::tx::SignedTx;
use tracing::{debug, error, info, warn};

use crate::chain::Chain;
use crate::consensus::codec::MAX_TXS_PER_PART;
use crate::consensus::context::{
    BlockValue, ConsensusHeight, PantheonContext, ProposalInit, ProposalPart, ValidatorIndex,
    ValidatorSet,
};
use crate::consensus::signing::{
    PantheonSigner, PantheonVerifier, to_malachite_certificate, to_runtime_certificate,
};
use crate::consensus::undecided::Undecided;
use crate::health::{self, NetworkStatus, SharedStatus};

type Ctx = PantheonContext;

/// Most proposal streams buffered at once (oldest evicted).
const MAX_STREAMS: usize = 16;
/// Most bytes buffered for one stream.
const MAX_STREAM_BYTES: usize = 128 << 20;
/// Most complete proposals buffered for later heights.
const MAX_PENDING: usize = 8;
/// Most values returned for one sync request.
const MAX_SYNC_BATCH: u64 = 64;

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

/// The application state.
pub struct App {
    validators: ValidatorSet,
    me: ValidatorIndex,
    /// `None` on a full node, which follows consensus without voting.
    signer: Option<PantheonSigner>,
    network: SharedStatus,
    verifier: PantheonVerifier,
    chain: Arc<Chain>,
    store: Undecided,
    cfg: AppConfig,
    candidates: HashMap<BlockHash, Candidate>,
    seen: Vec<ProposedValue<Ctx>>,
    built: HashMap<(u64, u32), BlockHash>,
    inits: HashMap<(u64, u32, u16, BlockHash), ProposalInit>,
    streams: HashMap<(PeerId, StreamId), PartialStream>,
    stream_order: VecDeque<(PeerId, StreamId)>,
    pending: Vec<(ProposalInit, Block)>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl App {
    /// Attaches consensus to `chain` (already restored from its store) and
    /// reloads the undecided proposals of the next height.
    ///
    /// # Errors
    /// Unreadable undecided files.
    pub fn open(
        chain: Arc<Chain>,
        me: ValidatorIndex,
        keypair: Option<Arc<Keypair>>,
        store: Undecided,
        cfg: AppConfig,
        network: SharedStatus,
    ) -> Result<Self> {
        let genesis = chain.genesis();
        let gh = genesis.hash();
        let validators = ValidatorSet::new(&genesis.header().validators);
        let keys = Arc::new(KeyCache::default());
        let mut app = Self {
            signer: keypair.map(|k| PantheonSigner::new(k, gh)),
            network,
            verifier: PantheonVerifier::new(gh, keys),
            validators,
            me,
            chain,
            store,
            cfg,
            candidates: HashMap::new(),
            seen: Vec::new(),
            built: HashMap::new(),
            inits: HashMap::new(),
            streams: HashMap::new(),
            stream_order: VecDeque::new(),
            pending: Vec::new(),
        };
        let next = app.chain.height().next().get();
        let (blocks, built, inits) = app.store.undecided(next)?;
        for block in blocks {
            let valid = app.validate(&block);
            app.candidates.insert(
                block.header.hash(),
                Candidate {
                    block,
                    valid,
                    checked: true,
                },
            );
        }
        for (round, hash) in built {
            app.built.insert((next, round), hash);
        }
        // Proposals seen before the restart: Malachite's WAL may replay the
        // signed Proposal without the value, which `StartedRound` then supplies.
        for init in inits {
            if let Some(valid) = app.candidates.get(&init.header.hash()).map(|c| c.valid) {
                app.record(init, valid);
            }
        }
        info!(
            height = %app.chain.height(),
            undecided = app.candidates.len(),
            "consensus attached to the chain"
        );
        Ok(app)
    }

    fn params(&self) -> HeightParams<Ctx> {
        HeightParams::new(
            self.validators.clone(),
            self.cfg.timeouts,
            self.cfg.target_time,
        )
    }

    fn next_height(&self) -> ConsensusHeight {
        ConsensusHeight(self.chain.height().next())
    }

    /// Checks `block` as the next block (parent, time, strict execution,
    /// header); the chain keeps the execution for the commit.
    ///
    /// Strict execution verifies signatures the mempool has not seen and can
    /// take a while for a large block: it runs with `block_in_place`, so the
    /// runtime's other tasks (networking, RPC) move to other threads.
    fn validate(&self, block: &Block) -> bool {
        tokio::task::block_in_place(|| self.chain.validate(block))
            .inspect_err(|e| warn!(height = %block.header.height, "invalid block: {e}"))
            .is_ok()
    }

    fn add_candidate(&mut self, block: Block) -> Result<bool> {
        let hash = block.header.hash();
        if let Some(c) = self.candidates.get(&hash) {
            if c.checked {
                return Ok(c.valid);
            }
            let valid = self.validate(&c.block);
            if let Some(c) = self.candidates.get_mut(&hash) {
                c.valid = valid;
                c.checked = true;
            }
            return Ok(valid);
        }
        self.store.put_undecided(&block)?;
        let valid = self.validate(&block);
        self.candidates.insert(
            hash,
            Candidate {
                block,
                valid,
                checked: true,
            },
        );
        Ok(valid)
    }

    /// Takes a block from value sync, whose commit certificate Malachite has
    /// already verified: cheap structural checks only; the chain re-executes
    /// it (`Mode::Certified`) when the decision arrives.
    fn add_synced(&mut self, block: Block) -> bool {
        let hash = block.header.hash();
        if let Some(c) = self.candidates.get(&hash) {
            return c.valid || !c.checked;
        }
        let parent_ok = self.chain.with_ledger(|l| {
            block.header.parent == l.last_block() && block.header.height == l.height().next()
        });
        if parent_ok {
            self.candidates.insert(
                hash,
                Candidate {
                    block,
                    valid: true,
                    checked: false,
                },
            );
        }
        self.network_mut().last_synced = Some(Instant::now());
        parent_ok
    }

    fn network_mut(&self) -> std::sync::MutexGuard<'_, NetworkStatus> {
        health::lock(&self.network)
    }

    /// Records a complete, authenticated proposal for the next height.
    fn accept(&mut self, init: ProposalInit, block: Block) -> Result<ProposedValue<Ctx>> {
        let valid = self.add_candidate(block)?;
        self.store.put_init(&init)?;
        Ok(self.record(init, valid))
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

    fn build(&mut self, height: ConsensusHeight, round: Round) -> Result<Block> {
        let r = round.as_u32().ok_or_else(|| eyre!("nil round"))?;
        if let Some(c) = self
            .built
            .get(&(height.0.get(), r))
            .and_then(|h| self.candidates.get(h))
        {
            info!(%height, %round, "re-proposing the block built before for this round");
            return Ok(c.block.clone());
        }
        if height != self.next_height() {
            return Err(eyre!(
                "asked to build {height}, chain is at {}",
                self.chain.height()
            ));
        }
        if self.signer.is_none() {
            return Err(eyre!("a full node does not propose"));
        }
        let block = self
            .chain
            .propose(self.me.0, now_ms())
            .map_err(|e| eyre!("propose: {e}"))?;
        let hash = block.header.hash();
        self.store.put_undecided(&block)?;
        self.store.put_built(height.0.get(), r, hash)?;
        self.built.insert((height.0.get(), r), hash);
        self.candidates.insert(
            hash,
            Candidate {
                block: block.clone(),
                valid: true,
                checked: true,
            },
        );
        Ok(block)
    }

    fn sign_init(
        &self,
        height: ConsensusHeight,
        round: Round,
        pol_round: Round,
        block: &Block,
    ) -> Result<ProposalInit> {
        let signer = self
            .signer
            .as_ref()
            .ok_or_else(|| eyre!("a full node signs no proposal"))?;
        let signature =
            signer.sign_proposal_message(height, round, pol_round, block.header.hash())?;
        Ok(ProposalInit {
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
    fn stream(&self, init: ProposalInit, block: &Block) -> Vec<StreamMessage<ProposalPart>> {
        let mut id = Vec::with_capacity(44);
        id.extend_from_slice(&init.height.0.get().to_be_bytes());
        id.extend_from_slice(&init.round.as_u32().unwrap_or(0).to_be_bytes());
        id.extend_from_slice(block.header.hash().as_bytes());
        let id = StreamId::new(Bytes::from(id));
        let mut out = vec![StreamMessage::new(
            id.clone(),
            0,
            StreamContent::Data(ProposalPart::Init(init)),
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
        out
    }

    /// Checks an `Init` part: a future-or-current height, the round's
    /// proposer, and its signature over the proposal message.
    fn init_ok(&self, i: &ProposalInit) -> bool {
        if i.height.0 <= self.chain.height() || i.header.height != i.height.0 {
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

    fn commit(&mut self, cert: &MCommitCertificate<Ctx>) -> Result<(BlockHash, usize, usize)> {
        let height = cert.height.0;
        let current = self.chain.height();
        if height <= current {
            return Err(eyre!("height {height} is already committed"));
        }
        if height != current.next() {
            return Err(eyre!("decided {height}, chain is at {current}"));
        }
        let rc = to_runtime_certificate(cert)?;
        let cand = self
            .candidates
            .remove(&cert.value_id)
            .ok_or_else(|| eyre!("decided block {} is not available", cert.value_id))?;
        let hash = cand.block.header.hash();
        let txs = cand.block.txs.len();
        let signers = rc.signatures.len();
        // The chain checks the certificate, writes block, certificate and
        // state in one atomic batch, then applies them.
        self.chain
            .commit(&cand.block, &rc)
            .map_err(|e| eyre!("commit: {e}"))?;
        // Forget everything about the committed height.
        let h = height.get();
        self.candidates
            .retain(|_, c| c.block.header.height.get() > h);
        self.built.retain(|(bh, _), _| *bh > h);
        self.inits.retain(|(ih, ..), _| *ih > h);
        self.seen.retain(|v| v.height.0.get() > h);
        self.pending.retain(|(i, _)| i.height.0.get() > h);
        self.streams
            .retain(|_, s| s.init.as_ref().is_none_or(|i| i.height.0.get() > h));
        self.store.prune_undecided(h)?;
        Ok((hash, txs, signers))
    }

    async fn publish(
        &self,
        channels: &Channels<Ctx>,
        msgs: Vec<StreamMessage<ProposalPart>>,
    ) -> Result<()> {
        for m in msgs {
            channels
                .network
                .send(NetworkMsg::PublishProposalPart(m))
                .await
                .map_err(|e| eyre!("publishing a proposal part: {e}"))?;
        }
        Ok(())
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

/// Runs the application until consensus stops.
///
/// # Errors
/// When consensus closes its channel, or persisting fails.
#[allow(clippy::too_many_lines)]
pub async fn run(app: &mut App, channels: &mut Channels<Ctx>) -> Result<()> {
    while let Some(msg) = channels.consensus.recv().await {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let start = app.next_height();
                info!(%start, "consensus ready");
                let _ = reply.send((start, app.params()));
            }

            AppMsg::StartedRound {
                height,
                round,
                proposer,
                role,
                reply_value,
            } => {
                debug!(%height, %round, %proposer, ?role, "started round");
                if height == app.next_height() {
                    let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut app.pending)
                        .into_iter()
                        .partition(|(i, _)| i.height == height);
                    app.pending = later;
                    for (init, block) in now {
                        app.accept(init, block)?;
                    }
                }
                let values: Vec<_> = app
                    .seen
                    .iter()
                    .filter(|v| v.height == height && v.round == round)
                    .cloned()
                    .collect();
                let _ = reply_value.send(values);
            }

            AppMsg::GetValue {
                height,
                round,
                timeout: _,
                reply,
            } => {
                let block = match app.build(height, round) {
                    Ok(b) => b,
                    Err(e) => {
                        // No reply: consensus times out and prevotes nil.
                        error!(%height, %round, "cannot build a block: {e}");
                        continue;
                    }
                };
                info!(%height, %round, txs = block.txs.len(), hash = %block.header.hash(), "proposing");
                let value = BlockValue::new(block.header);
                let _ = reply.send(LocallyProposedValue::new(height, round, value));
                let init = app.sign_init(height, round, Round::Nil, &block)?;
                app.inits.insert(
                    (
                        height.0.get(),
                        round.as_u32().unwrap_or(0),
                        app.me.0,
                        block.header.hash(),
                    ),
                    init.clone(),
                );
                let msgs = app.stream(init, &block);
                app.publish(channels, msgs).await?;
            }

            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let peer = published_by.unwrap_or(from);
                let value = match app.on_part(peer, part) {
                    None => None,
                    Some((init, block)) if init.height == app.next_height() => {
                        let v = app.accept(init, block)?;
                        info!(height = %v.height, round = %v.round, hash = %v.value.hash(), validity = ?v.validity, "received proposal");
                        Some(v)
                    }
                    Some((init, block)) => {
                        debug!(height = %init.height, "buffering a proposal for a later height");
                        if app.pending.len() >= MAX_PENDING {
                            app.pending.remove(0);
                        }
                        app.pending.push((init, block));
                        None
                    }
                };
                let _ = reply.send(value);
            }

            AppMsg::Decided {
                certificate,
                extensions: _,
                reply,
            } => {
                let n = app.validators.runtime().len();
                match app.commit(&certificate) {
                    Ok((hash, txs, signers)) => {
                        debug!(
                            height = %certificate.height, round = %certificate.round, %hash, txs,
                            signers, validators = n, "decided"
                        );
                    }
                    Err(e) => error!(height = %certificate.height, "cannot commit: {e}"),
                }
                let _ = reply.send(());
            }

            AppMsg::Finalized {
                certificate,
                extensions: _,
                evidence,
                reply,
            } => {
                if let Some(report) = evidence_report(certificate.height, &evidence) {
                    warn!(height = %certificate.height, "equivocation evidence: {report}");
                    app.network_mut().record_equivocation(report);
                }
                let h = certificate.height.0;
                if h <= app.chain.height() {
                    // Late precommits make a larger certificate: keep it.
                    if let Ok(rc) = to_runtime_certificate(&certificate)
                        && let Err(e) = app.chain.improve_certificate(&rc)
                    {
                        warn!(height = %h, "keeping the first certificate: {e}");
                    }
                    let _ = reply.send(Next::Start(app.next_height(), app.params()));
                } else {
                    warn!(height = %h, "restarting height: the decision was not committed");
                    let _ = reply.send(Next::Restart(app.next_height(), app.params()));
                }
            }

            AppMsg::GetHistoryMinHeight { reply } => {
                let min = if app.chain.height() == Height::GENESIS {
                    app.next_height()
                } else {
                    ConsensusHeight::new(1)
                };
                let _ = reply.send(min);
            }

            AppMsg::GetDecidedValues { range, reply } => {
                let from = range.start().0.get();
                let to = range
                    .end()
                    .0
                    .get()
                    .min(app.chain.height().get())
                    .min(from.saturating_add(MAX_SYNC_BATCH - 1));
                let mut values = Vec::new();
                for h in from..=to {
                    let store = app.chain.store();
                    let height = Height::new(h);
                    let (Some(block), Some(cert)) =
                        (store.block(height)?, store.certificate(height)?)
                    else {
                        break;
                    };
                    values.push(RawDecidedValue::new(
                        Bytes::from(block.to_bytes()),
                        to_malachite_certificate(&cert),
                    ));
                }
                debug!(from, to, n = values.len(), "serving decided values");
                let _ = reply.send(values);
            }

            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let outcome = match decode_exact::<Block>(&value_bytes) {
                    Err(e) => {
                        warn!(%height, "undecodable synced block: {e}");
                        SyncedValueOutcome::PeerFault
                    }
                    Ok(block) if block.header.height != height.0 => SyncedValueOutcome::PeerFault,
                    Ok(_) if height != app.next_height() => SyncedValueOutcome::LocalTransientError,
                    Ok(block) => {
                        let header = block.header;
                        let valid = app.add_synced(block);
                        info!(%height, hash = %header.hash(), valid, "synced block");
                        SyncedValueOutcome::Verdict(ProposedValue {
                            height,
                            round,
                            valid_round: Round::Nil,
                            proposer,
                            value: BlockValue::new(header),
                            validity: Validity::from_bool(valid),
                        })
                    }
                };
                let _ = reply.send(outcome);
            }

            AppMsg::RestreamProposal {
                height,
                round,
                valid_round,
                address,
                value_id,
            } => {
                let Some(block) = app.candidates.get(&value_id).map(|c| c.block.clone()) else {
                    warn!(%height, %round, %value_id, "restream: unknown block");
                    continue;
                };
                let init = if address == app.me {
                    Some(app.sign_init(height, round, valid_round, &block)?)
                } else {
                    app.inits
                        .get(&(
                            height.0.get(),
                            round.as_u32().unwrap_or(0),
                            address.0,
                            value_id,
                        ))
                        .cloned()
                };
                match init {
                    Some(init) => {
                        info!(%height, %round, %valid_round, %address, "restreaming proposal");
                        let msgs = app.stream(init, &block);
                        app.publish(channels, msgs).await?;
                    }
                    None => warn!(%height, %round, %address, "restream: no signed Init to replay"),
                }
            }

            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }

            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => {
                let _ = reply.send(extensions.into_iter().map(|(a, _)| (a, Ok(()))).collect());
            }
        }
    }
    Err(eyre!("consensus channel closed"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use malachitebft_app_channel::Signer;
    use malachitebft_app_channel::app::types::core::{Context, NilOrVal};
    use pantheon_runtime::hash::GenesisHash;

    #[tokio::test]
    async fn double_votes_are_reported_for_system_health() {
        let genesis = GenesisHash::new(Hash256::digest(b"net"));
        let ctx = PantheonContext::new(genesis);
        let signer = PantheonSigner::new(Arc::new(Keypair::from_seed(&[2; 32])), genesis);
        let height = ConsensusHeight::new(7);
        let vote = |value: &[u8]| {
            ctx.new_prevote(
                height,
                Round::new(0),
                NilOrVal::Val(BlockHash::new(Hash256::digest(value))),
                ValidatorIndex(2),
            )
        };
        let a = signer.sign_vote(vote(b"a")).await.unwrap();
        let b = signer.sign_vote(vote(b"b")).await.unwrap();
        let mut evidence = MisbehaviorEvidence::<Ctx> {
            proposals: Default::default(),
            votes: Default::default(),
        };
        assert_eq!(evidence_report(height, &evidence), None);
        evidence.votes.add(a, b);
        let report = evidence_report(height, &evidence).unwrap();
        assert!(report.contains("height 7"), "{report}");
        assert!(report.contains("v2 (1 conflicting votes)"), "{report}");
    }
}
