//! The engine's pure core: every decision, no I/O.
//!
//! A tick is a pure function of the engine's state, the time and what
//! bitcoind answered so far in this tick. [`Core::step`] runs the tick's
//! logic from the start on a copy of the state; where it needs something
//! it has not been told, it stops and says what ([`Step::Ask`]), and where
//! it is about to hand bitcoind a transaction it has not written down, it
//! stops and asks for the state to be written first ([`Step::Persist`]).
//! The driver does that one thing, adds the answer to the [`Tick`] and
//! calls `step` again; the run replays to the same point (the logic is
//! deterministic, signatures included: RFC 6979) and goes one step
//! further. When nothing is missing, [`Step::Done`] carries the new state
//! and the events, which [`Core::finish`] adopts.
//!
//! ```text
//!   Core::step(&tick) ──Ask(q)──────> driver: rpc(q) ─> tick.answer(q, a) ─┐
//!        ▲            ──Persist(b,t)─> driver: write b ─> tick.persisted(t) ┤
//!        └────────────────────────────────────────────────────────────────┘
//!                     ──Done(outcome)─> core.finish(outcome) -> events
//! ```
//!
//! So the core reads like the sequential program it is (follow the chain,
//! push what is unconfirmed, start the next anchor), tests give it a state
//! and a table of answers and check the steps, and a simulated Bitcoin
//! can drive it through thousands of seeded histories
//! (`engine/sim.rs`, tests only). Replaying costs microseconds per answer; one tick
//! asks a few dozen questions at most.
//!
//! A run that stops for an answer or a write leaves the core untouched: an
//! aborted tick (bitcoind gone, the disk full) changes nothing but
//! [`Health`], and the next tick starts over from the same state.

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use bitcoin::{Address, Amount, BlockHash, FeeRate, Network, OutPoint, Transaction, Txid};

use super::state::{BlockRef, Phase, State};
use super::{AnchorEvent, AnchorInfo, AnchorStatus, EngineError, Target};
use crate::key::AnchorKey;
use crate::policy::Policy;
use crate::rpc::{
    BlockHeaderInfo, BlockInfo, BlockchainInfo, MempoolAccept, MempoolInfo, RpcError, ScanResult,
    Unspent, codes,
};
use crate::txbuild::TxBuildError;

/// One question for bitcoind: each is one JSON-RPC call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// `getblockchaininfo`.
    Tip,
    /// `getblockheader hash`.
    Header(BlockHash),
    /// `getblockhash height`.
    BlockHash(u64),
    /// `getblock hash 1`.
    Block(BlockHash),
    /// `getmempoolentry txid` (absent: not in the mempool).
    InMempool(Txid),
    /// `scantxoutset start ["addr(<our address>)"]`.
    Coins,
    /// `getmempoolinfo`.
    MempoolInfo,
    /// `estimatesmartfee blocks`.
    FeeEstimate(u16),
    /// `testmempoolaccept [tx]`.
    TestAccept(Transaction),
    /// `sendrawtransaction tx`. Asked only for a transaction already
    /// written to the state file.
    Send(Transaction),
    /// `gettxout txid vout false` (absent: spent or never existed).
    TxOut(OutPoint),
    /// `getbestblockhash`.
    BestHash,
}

impl Query {
    /// The Bitcoin Core method.
    #[must_use]
    pub const fn method(&self) -> &'static str {
        match self {
            Self::Tip => "getblockchaininfo",
            Self::Header(_) => "getblockheader",
            Self::BlockHash(_) => "getblockhash",
            Self::Block(_) => "getblock",
            Self::InMempool(_) => "getmempoolentry",
            Self::Coins => "scantxoutset",
            Self::MempoolInfo => "getmempoolinfo",
            Self::FeeEstimate(_) => "estimatesmartfee",
            Self::TestAccept(_) => "testmempoolaccept",
            Self::Send(_) => "sendrawtransaction",
            Self::TxOut(_) => "gettxout",
            Self::BestHash => "getbestblockhash",
        }
    }
}

/// What bitcoind answered, one variant per [`Query`].
#[derive(Debug, Clone)]
pub enum Answer {
    /// To [`Query::Tip`].
    Tip(BlockchainInfo),
    /// To [`Query::Header`].
    Header(BlockHeaderInfo),
    /// To [`Query::BlockHash`].
    BlockHash(BlockHash),
    /// To [`Query::Block`].
    Block(BlockInfo),
    /// To [`Query::InMempool`].
    InMempool(bool),
    /// To [`Query::Coins`].
    Coins(ScanResult),
    /// To [`Query::MempoolInfo`].
    MempoolInfo(MempoolInfo),
    /// To [`Query::FeeEstimate`] (`None`: no estimate yet).
    FeeEstimate(Option<FeeRate>),
    /// To [`Query::TestAccept`].
    TestAccept(MempoolAccept),
    /// To [`Query::Send`]: accepted.
    Sent,
    /// To [`Query::TxOut`]: whether the output is unspent.
    TxOut(bool),
    /// To [`Query::BestHash`].
    BestHash(BlockHash),
}

/// Everything one tick has learnt so far: its time, its mode, bitcoind's
/// answers and the transactions already written to disk.
#[derive(Debug, Clone)]
pub struct Tick {
    now: SystemTime,
    mode: Mode,
    answers: Vec<(Query, Result<Answer, RpcError>)>,
    persisted: Vec<Txid>,
    failed: Option<(Txid, String)>,
}

/// What a tick is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A whole round of work.
    Work,
    /// Only build, sign and persist the next anchor, sending nothing (the
    /// first half of a send, for crash tests and tools).
    Prepare,
}

impl Tick {
    /// A tick at `now`.
    #[must_use]
    pub const fn new(now: SystemTime, mode: Mode) -> Self {
        Self {
            now,
            mode,
            answers: Vec::new(),
            persisted: Vec::new(),
            failed: None,
        }
    }

    /// Records bitcoind's answer to `query`.
    pub fn answer(&mut self, query: Query, answer: Result<Answer, RpcError>) {
        self.answers.push((query, answer));
    }

    /// Records that the state asked for by [`Step::Persist`] for `txid` is
    /// on disk.
    pub fn persisted(&mut self, txid: Txid) {
        self.persisted.push(txid);
    }

    /// Records that the write asked for by [`Step::Persist`] for `txid`
    /// failed: the run takes that transaction back and ends the tick
    /// (what it did before stays: it may already have been sent).
    pub fn write_failed(&mut self, txid: Txid, reason: String) {
        self.failed = Some((txid, reason));
    }

    /// The questions asked so far, in order.
    pub fn queries(&self) -> impl Iterator<Item = &Query> {
        self.answers.iter().map(|(q, _)| q)
    }

    fn lookup(&self, query: &Query) -> Option<&Result<Answer, RpcError>> {
        self.answers
            .iter()
            .find(|(q, _)| q == query)
            .map(|(_, a)| a)
    }
}

/// What the driver does next.
#[derive(Debug)]
pub enum Step {
    /// Ask bitcoind, record the answer with [`Tick::answer`], step again.
    Ask(Query),
    /// Write these bytes to the state file (atomically, durably), record it
    /// with [`Tick::persisted`] (or [`Tick::write_failed`]) and step again.
    Persist {
        /// The state file's new contents.
        bytes: Vec<u8>,
        /// The transaction about to be sent.
        txid: Txid,
    },
    /// The tick is over: hand this to [`Core::finish`].
    Done(Box<Outcome>),
}

/// The result of a finished tick.
#[derive(Debug)]
pub struct Outcome {
    state: State,
    health: Health,
    events: Vec<AnchorEvent>,
    result: Result<Option<Txid>, EngineError>,
}

/// What is known about bitcoind and the coins: kept in memory, rebuilt
/// after a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub(super) reachable: Option<bool>,
    /// Unix seconds of the last tick bitcoind answered.
    pub(super) checked_at: Option<u64>,
    pub(super) tip: Option<BlockRef>,
    pub(super) balance: Option<Amount>,
    pub(super) last_error: Option<String>,
    /// The shortfall last reported, so it is reported once.
    pub(super) no_funds: Option<Amount>,
    /// Our confirmed outputs as of a tip: they only change with a new block,
    /// and `scantxoutset` reads the whole UTXO set (a minute on mainnet).
    pub(super) coins: Option<(BlockHash, Vec<Unspent>)>,
}

/// The core: the persisted state, what is known of bitcoind, the policy
/// and the key. See the module docs.
#[derive(Debug)]
pub struct Core {
    policy: Policy,
    key: AnchorKey,
    address: Address,
    state: State,
    health: Health,
    /// The state file's contents as last written (or read).
    written: Vec<u8>,
}

impl Core {
    /// A core over `state`, as read from the state file (or
    /// [`Core::fresh_state`], which needs no writing until it changes).
    #[must_use]
    pub fn new(state: State, key: AnchorKey, policy: Policy) -> Self {
        let address = key.address(policy.network);
        Self {
            policy,
            key,
            address,
            written: state.to_bytes(),
            state,
            health: Health::default(),
        }
    }

    /// The state of an engine that never ran, for `key` under `policy`.
    #[must_use]
    pub fn fresh_state(key: &AnchorKey, policy: &Policy) -> State {
        State::new(policy.network, key.script_pubkey().to_hex_string())
    }

    /// The persisted state.
    #[must_use]
    pub const fn state(&self) -> &State {
        &self.state
    }

    /// The address whose coins pay for anchors.
    #[must_use]
    pub const fn address(&self) -> &Address {
        &self.address
    }

    /// The policy.
    #[must_use]
    pub const fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Asks for `target` to be anchored: it replaces a waiting target with
    /// a lower height and is ignored if a target at least as high is
    /// already anchored, on its way or waiting.
    pub fn request(&mut self, target: Target) {
        if self
            .state
            .last_target_height()
            .is_some_and(|h| h >= target.height.get())
        {
            return;
        }
        if self
            .state
            .waiting
            .is_some_and(|w| w.height >= target.height)
        {
            return;
        }
        self.state.waiting = Some(target);
    }

    /// Runs the tick as far as `tick`'s answers reach. Pure: `self` is not
    /// changed.
    #[must_use]
    pub fn step(&self, tick: &Tick) -> Step {
        let mut run = Run {
            core: self,
            tick,
            state: self.state.clone(),
            health: self.health.clone(),
            events: Vec::new(),
        };
        let flow = match tick.mode {
            Mode::Work => run.work().map(|()| None),
            Mode::Prepare => run.prepare(),
        };
        let result = match flow {
            Err(Stop::Ask(query)) => return Step::Ask(query),
            Err(Stop::Persist(txid)) => {
                return Step::Persist {
                    bytes: run.state.to_bytes(),
                    txid,
                };
            }
            Ok(prepared) => Ok(prepared),
            Err(Stop::Fail(e)) => Err(e),
        };
        Step::Done(Box::new(run.conclude(result)))
    }

    /// Adopts a finished tick; returns its events and, for
    /// [`Mode::Prepare`], the prepared transaction.
    ///
    /// # Errors
    /// What ended the tick early (it is also in the status).
    pub fn finish(
        &mut self,
        outcome: Box<Outcome>,
    ) -> (Vec<AnchorEvent>, Result<Option<Txid>, EngineError>) {
        let outcome = *outcome;
        self.state = outcome.state;
        self.health = outcome.health;
        (outcome.events, outcome.result)
    }

    /// A write of the whole state failed (see [`drive`]).
    fn write_failed(&mut self, error: &EngineError) {
        self.health.last_error = Some(error.to_string());
    }

    /// The engine's state as of the last tick.
    #[must_use]
    pub fn status(&self) -> AnchorStatus {
        let depth = |block_height: u64| {
            self.health
                .tip
                .map_or(0, |t| (t.height + 1).saturating_sub(block_height))
        };
        let mut pending = Vec::new();
        let mut confirmed = Vec::new();
        for s in &self.state.recent {
            confirmed.push(AnchorInfo {
                target: s.target,
                txid: s.txid,
                versions: 1,
                block_hash: Some(s.block_hash),
                block_height: Some(s.block_height),
                confirmations: depth(s.block_height),
            });
        }
        for a in &self.state.anchors {
            let mut info = AnchorInfo {
                target: a.target,
                txid: a.latest().tx.compute_txid(),
                versions: a.versions.len(),
                block_hash: None,
                block_height: None,
                confirmations: 0,
            };
            if let Phase::InBlock {
                txid,
                block_hash,
                block_height,
            } = a.phase
            {
                info.txid = txid;
                info.block_hash = Some(block_hash);
                info.block_height = Some(block_height);
                info.confirmations = depth(block_height);
            }
            if a.reported {
                confirmed.push(info);
            } else {
                pending.push(info);
            }
        }
        AnchorStatus {
            network: self.policy.network,
            address: self.address.to_string(),
            reachable: self.health.reachable,
            checked_at: self.health.checked_at,
            tip_height: self.health.tip.map(|t| t.height),
            balance: self.health.balance,
            waiting: self.state.waiting,
            pending,
            confirmed,
            last_error: self.health.last_error.clone(),
        }
    }
}

/// The I/O a driver performs for the core: ask bitcoind, write the state
/// file (atomically and durably: [`crate::fsio::write_atomic`]).
pub trait Io {
    /// Asks bitcoind.
    fn ask(&mut self, query: &Query) -> impl Future<Output = Result<Answer, RpcError>> + Send;
    /// Replaces the state file's contents.
    fn write(&mut self, bytes: &[u8]) -> impl Future<Output = Result<(), EngineError>> + Send;
}

/// Runs one tick of `core` to its end over `io`: the one driver loop,
/// shared by [`super::AnchorEngine`] and the simulation.
///
/// A tick never starts with state the disk does not have (a tick may
/// send any transaction the state holds), every first send is preceded by
/// the write the core asks for, and the state is written again at the end
/// when it changed. A failed write ends the tick and is reported in the
/// status; the next tick writes again before doing anything.
pub async fn drive(
    core: &mut Core,
    io: &mut impl Io,
    now: SystemTime,
    mode: Mode,
) -> (Vec<AnchorEvent>, Result<Option<Txid>, EngineError>) {
    if let Err(e) = save(core, io).await {
        return (Vec::new(), Err(e));
    }
    let mut tick = Tick::new(now, mode);
    let (events, result) = loop {
        match core.step(&tick) {
            Step::Ask(query) => {
                let answer = io.ask(&query).await;
                tick.answer(query, answer);
            }
            Step::Persist { bytes, txid } => match io.write(&bytes).await {
                Ok(()) => {
                    core.written = bytes;
                    tick.persisted(txid);
                }
                Err(e) => tick.write_failed(txid, e.to_string()),
            },
            Step::Done(outcome) => break core.finish(outcome),
        }
    };
    // A failed write here is in the status and retried first next tick.
    let _ = save(core, io).await;
    (events, result)
}

/// Writes the core's state if the disk does not have it.
async fn save(core: &mut Core, io: &mut impl Io) -> Result<(), EngineError> {
    let bytes = core.state.to_bytes();
    if bytes == core.written {
        return Ok(());
    }
    match io.write(&bytes).await {
        Ok(()) => {
            core.written = bytes;
            Ok(())
        }
        Err(e) => {
            core.write_failed(&e);
            Err(e)
        }
    }
}

/// Why a run stopped before the end of its tick.
pub(super) enum Stop {
    /// It needs this answer.
    Ask(Query),
    /// It needs the state written before sending this transaction.
    Persist(Txid),
    /// The tick failed (bitcoind unreachable, wrong network, ...).
    Fail(EngineError),
}

impl From<EngineError> for Stop {
    fn from(e: EngineError) -> Self {
        Self::Fail(e)
    }
}

impl From<RpcError> for Stop {
    fn from(e: RpcError) -> Self {
        Self::Fail(EngineError::Rpc(e))
    }
}

impl From<TxBuildError> for Stop {
    fn from(e: TxBuildError) -> Self {
        Self::Fail(EngineError::Build(e))
    }
}

pub(super) type Flow<T> = std::result::Result<T, Stop>;

/// One run of a tick: a working copy of the state, the tick's answers.
pub(super) struct Run<'a> {
    pub(super) core: &'a Core,
    tick: &'a Tick,
    pub(super) state: State,
    pub(super) health: Health,
    pub(super) events: Vec<AnchorEvent>,
}

/// Extracts the expected variant of an answer, or fails the tick naming
/// the query (a driver that answers the wrong question is a bug, reported
/// rather than panicking).
macro_rules! expect {
    ($run:expr, $query:expr, $variant:ident) => {{
        let query = $query;
        match $run.ask(query.clone())? {
            Answer::$variant(value) => value,
            other => {
                return Err(Stop::Fail(EngineError::Rpc(RpcError::Decode {
                    method: query.method().to_owned(),
                    reason: format!("the driver answered {other:?}"),
                })));
            }
        }
    }};
}

impl<'a> Run<'a> {
    /// bitcoind's answer to `query`, or a stop asking for it. Borrowed from
    /// the tick: a run replays once per answer, so answers (a block's
    /// txids, the coin scan) are never copied.
    fn ask(&self, query: Query) -> Flow<&'a Answer> {
        let tick: &'a Tick = self.tick;
        match tick.lookup(&query) {
            Some(Ok(answer)) => Ok(answer),
            Some(Err(e)) => Err(e.clone().into()),
            None => Err(Stop::Ask(query)),
        }
    }

    /// Like [`Self::ask`], but hands back an RPC error instead of failing
    /// the tick with it (for errors with a meaning, like "unknown block").
    fn ask_or_error(&self, query: Query) -> Flow<Result<Answer, RpcError>> {
        match self.tick.lookup(&query) {
            Some(answer) => Ok(answer.clone()),
            None => Err(Stop::Ask(query)),
        }
    }

    /// Continues only once the working state, holding the new `txid`, is
    /// on disk. If that write failed, `undo` takes the transaction back out
    /// of the working state and the tick ends.
    pub(super) fn persisted(&mut self, txid: Txid, undo: impl FnOnce(&mut State)) -> Flow<()> {
        if self.tick.persisted.contains(&txid) {
            return Ok(());
        }
        match &self.tick.failed {
            Some((failed, reason)) if *failed == txid => {
                undo(&mut self.state);
                Err(Stop::Fail(EngineError::State {
                    path: "(the anchor state file)".into(),
                    reason: reason.clone(),
                }))
            }
            _ => Err(Stop::Persist(txid)),
        }
    }

    pub(super) fn header(&self, hash: BlockHash) -> Flow<Option<BlockHeaderInfo>> {
        match self.ask_or_error(Query::Header(hash))? {
            Ok(Answer::Header(h)) => Ok(Some(h)),
            // A block bitcoind does not know (its data directory was
            // replaced) is not in its best chain either.
            Err(e) if e.code() == Some(codes::INVALID_ADDRESS_OR_KEY) => Ok(None),
            Err(e) => Err(e.into()),
            Ok(other) => Err(Stop::Fail(EngineError::Rpc(RpcError::Decode {
                method: "getblockheader".to_owned(),
                reason: format!("the driver answered {other:?}"),
            }))),
        }
    }

    pub(super) fn block_hash(&self, height: u64) -> Flow<BlockHash> {
        Ok(*expect!(self, Query::BlockHash(height), BlockHash))
    }

    pub(super) fn block(&self, hash: BlockHash) -> Flow<&'a BlockInfo> {
        Ok(expect!(self, Query::Block(hash), Block))
    }

    pub(super) fn in_mempool(&self, txid: Txid) -> Flow<bool> {
        Ok(*expect!(self, Query::InMempool(txid), InMempool))
    }

    pub(super) fn coins_scan(&self) -> Flow<&'a ScanResult> {
        Ok(expect!(self, Query::Coins, Coins))
    }

    pub(super) fn mempool_info(&self) -> Flow<MempoolInfo> {
        Ok(*expect!(self, Query::MempoolInfo, MempoolInfo))
    }

    pub(super) fn fee_estimate(&self, blocks: u16) -> Flow<Option<FeeRate>> {
        Ok(*expect!(self, Query::FeeEstimate(blocks), FeeEstimate))
    }

    pub(super) fn test_accept(&self, tx: &Transaction) -> Flow<MempoolAccept> {
        Ok(expect!(self, Query::TestAccept(tx.clone()), TestAccept).clone())
    }

    /// `Ok(Err(_))`: bitcoind answered with a refusal.
    pub(super) fn send_tx(&self, tx: &Transaction) -> Flow<Result<(), RpcError>> {
        match self.ask_or_error(Query::Send(tx.clone()))? {
            Ok(Answer::Sent) => Ok(Ok(())),
            Ok(other) => Err(Stop::Fail(EngineError::Rpc(RpcError::Decode {
                method: "sendrawtransaction".to_owned(),
                reason: format!("the driver answered {other:?}"),
            }))),
            Err(e) => Ok(Err(e)),
        }
    }

    pub(super) fn tx_out_unspent(&self, outpoint: OutPoint) -> Flow<bool> {
        Ok(*expect!(self, Query::TxOut(outpoint), TxOut))
    }

    pub(super) fn best_hash(&self) -> Flow<BlockHash> {
        Ok(*expect!(self, Query::BestHash, BestHash))
    }

    pub(super) const fn policy(&self) -> &Policy {
        &self.core.policy
    }

    pub(super) const fn key(&self) -> &AnchorKey {
        &self.core.key
    }

    pub(super) const fn address(&self) -> &Address {
        &self.core.address
    }

    fn chain_tip(&mut self) -> Flow<BlockRef> {
        let info: BlockchainInfo = expect!(self, Query::Tip, Tip).clone();
        let network = self.policy().network;
        if info.chain != network.to_core_arg() {
            return Err(EngineError::WrongNetwork {
                expected: network,
                node: info.chain,
            }
            .into());
        }
        let tip = BlockRef {
            height: info.blocks,
            hash: info.bestblockhash,
        };
        self.health.tip = Some(tip);
        if info.initialblockdownload && network != Network::Regtest {
            return Err(RpcError::Rpc {
                method: "getblockchaininfo".to_owned(),
                code: codes::IN_WARMUP,
                message: "bitcoind is in initial block download".to_owned(),
            }
            .into());
        }
        Ok(tip)
    }

    /// A whole round: follow the chain, (re)send and replace, start the
    /// next anchor.
    fn work(&mut self) -> Flow<()> {
        let tip = self.chain_tip()?;
        self.health.last_error = None;
        let in_mempool = self.follow_chain(tip)?;
        self.push_unconfirmed(tip, &in_mempool)?;
        if let Some(index) = self.create_next(tip)? {
            let outcome = self.send(index, tip)?;
            self.after_send(index, outcome, tip)?;
        }
        Ok(())
    }

    /// Builds, signs and persists the next anchor without sending it.
    fn prepare(&mut self) -> Flow<Option<Txid>> {
        let tip = self.chain_tip()?;
        let created = self.create_next(tip)?;
        Ok(created.map(|i| self.state.anchors[i].latest().tx.compute_txid()))
    }

    /// Ends the tick: reachability and errors into the health.
    fn conclude(mut self, result: Result<Option<Txid>, EngineError>) -> Outcome {
        let now = self
            .tick
            .now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let result = match result {
            Ok(prepared) => {
                if self.health.reachable == Some(false) {
                    self.events.push(AnchorEvent::Reconnected);
                }
                self.health.reachable = Some(true);
                self.health.checked_at = Some(now);
                Ok(prepared)
            }
            Err(e) if e.is_unreachable() => {
                if self.health.reachable != Some(false) {
                    self.events.push(AnchorEvent::Unreachable {
                        error: e.to_string(),
                    });
                }
                self.health.reachable = Some(false);
                self.health.last_error = Some(e.to_string());
                Err(e)
            }
            Err(e) => {
                // bitcoind answered, if not as hoped.
                self.health.checked_at = Some(now);
                self.health.last_error = Some(e.to_string());
                Err(e)
            }
        };
        Outcome {
            state: self.state,
            health: self.health,
            events: self.events,
            result,
        }
    }
}
