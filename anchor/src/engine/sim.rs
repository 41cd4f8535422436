//! A seeded simulation of the anchor lifecycle: the pure core driven over
//! a simulated Bitcoin through thousands of random histories.
//!
//! The simulated Bitcoin keeps a block tree with a best chain, a UTXO set,
//! a mempool with BIP 125 replacement and a fee floor, and miners that
//! only take transactions paying the market rate. Each round does one
//! random thing — mine, reorg 1 to 6 blocks deep, raise the market rate
//! (stranding our transaction until it is replaced), empty the mempool,
//! take bitcoind down or up, fund the key, spend one of our coins behind
//! our back, ask for a new target, crash the engine — and then runs a tick
//! through a driver that may crash right after a persist (before the
//! send), fail a write, or lose the end-of-tick write. After every tick
//! the invariants are checked:
//!
//! - every transaction sent was in the state file when it was sent;
//! - the best chain never holds two anchors for one commitment;
//! - a `Confirmed` event names a transaction in that block of the best
//!   chain with at least the policy's confirmations, a `Reorged` one a
//!   block that left it;
//! - every anchor the engine believes in a block is in that block of the
//!   best chain.
//!
//! Reorgs are at most 6 deep and the watch depth at least 7: an anchor
//! settled past the watch depth is history, no longer followed (the
//! default depth is 100 blocks).
//!
//! Then a quiet period (bitcoind up, fees low, funds, no interference)
//! must bring the newest target to the policy's depth: the engine always
//! gets there. A failure prints the seed; `PANTHEON_SIM_SEED=<seed>`
//! replays it, `PANTHEON_SIM_SEEDS=<n>` runs more (`scripts/sim-anchor`).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitcoin::hashes::{Hash, sha256d};
use bitcoin::secp256k1::SecretKey;
use bitcoin::{
    Amount, BlockHash, FeeRate, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut,
    Txid, Witness, absolute::LockTime, transaction::Version as TxVersion,
};
use pantheon_runtime::amount::Height;
use pantheon_runtime::hash::Hash256;
use proptest::prelude::RngExt;
use proptest::test_runner::{RngAlgorithm, TestRng};

use super::core::{Answer, Core, Io, Mode, Query, drive};
use super::state::{Phase, State};
use super::{AnchorEvent, Target};
use crate::key::AnchorKey;
use crate::payload::AnchorPayload;
use crate::policy::{FeePolicy, Policy};
use crate::rpc::{
    BlockHeaderInfo, BlockInfo, BlockchainInfo, MempoolAccept, MempoolInfo, RpcError, ScanResult,
    Unspent, codes,
};

/// Seeds run by default (CI); each is a few hundred rounds.
const DEFAULT_SEEDS: u64 = 48;
/// Random rounds per seed, before the quiet period.
const ROUNDS: usize = 220;
/// Rounds the quiet period may take to settle the newest target.
const QUIET_ROUNDS: usize = 60;

pub(super) struct Block {
    prev: Option<BlockHash>,
    height: u64,
    /// `txs[0]` is the coinbase.
    pub(super) txs: Vec<Transaction>,
}

#[derive(Clone, Copy)]
pub(super) struct Utxo {
    value: Amount,
    script_is_ours: bool,
    height: u64,
    coinbase: bool,
}

/// The simulated Bitcoin Core (also the table tests' default answers).
pub(super) struct Bitcoin {
    pub(super) blocks: HashMap<BlockHash, Block>,
    pub(super) best: Vec<BlockHash>,
    pub(super) utxo: HashMap<OutPoint, Utxo>,
    pub(super) mempool: Vec<Transaction>,
    /// Transactions a miner puts in its next block whatever the mempool
    /// says: funding from outside, and spends of our coins behind our back.
    direct: Vec<Transaction>,
    /// Miners take mempool transactions paying at least this.
    pub(super) market: FeeRate,
    /// The mempool's floor.
    pub(super) min_fee: FeeRate,
    pub(super) estimate: Option<FeeRate>,
    pub(super) down: bool,
    ours: ScriptBuf,
    counter: u64,
}

/// A height as an index into the best chain.
fn index(height: u64) -> usize {
    usize::try_from(height).expect("simulated chains are short")
}

const INCREMENTAL: FeeRate = FeeRate::from_sat_per_vb_u32(1);

impl Bitcoin {
    pub(super) fn new(ours: ScriptBuf) -> Self {
        let mut b = Self {
            blocks: HashMap::new(),
            best: Vec::new(),
            utxo: HashMap::new(),
            mempool: Vec::new(),
            direct: Vec::new(),
            market: FeeRate::from_sat_per_vb_u32(1),
            min_fee: FeeRate::from_sat_per_vb_u32(1),
            estimate: None,
            down: false,
            ours,
            counter: 0,
        };
        b.mine_one(false);
        b
    }

    pub(super) fn tip_height(&self) -> u64 {
        self.best.len() as u64 - 1
    }

    pub(super) fn tip(&self) -> BlockHash {
        *self.best.last().expect("genesis")
    }

    fn unique(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    pub(super) fn in_best(&self, hash: &BlockHash) -> bool {
        self.blocks
            .get(hash)
            .is_some_and(|b| self.best.get(index(b.height)) == Some(hash))
    }

    /// A transaction with an input from outside the simulation.
    fn external_input(&mut self) -> TxIn {
        let n = self.unique();
        TxIn {
            previous_output: OutPoint::new(
                Txid::from_raw_hash(sha256d::Hash::hash(&n.to_be_bytes())),
                0,
            ),
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }
    }

    fn plain_tx(input: Vec<TxIn>, output: Vec<TxOut>) -> Transaction {
        Transaction {
            version: TxVersion::TWO,
            lock_time: LockTime::ZERO,
            input,
            output,
        }
    }

    fn is_external(&self, outpoint: &OutPoint) -> bool {
        // Outside inputs are made by `external_input` and never exist.
        !self.utxo.contains_key(outpoint)
            && !self
                .blocks
                .values()
                .any(|b| b.txs.iter().any(|t| t.compute_txid() == outpoint.txid))
            && !self
                .mempool
                .iter()
                .any(|t| t.compute_txid() == outpoint.txid)
    }

    /// Funds our key with `value` from outside (in the next block).
    pub(super) fn fund(&mut self, value: Amount) {
        let input = self.external_input();
        let tx = Self::plain_tx(
            vec![input],
            vec![TxOut {
                value,
                script_pubkey: self.ours.clone(),
            }],
        );
        self.direct.push(tx);
    }

    /// Someone else holding the key spends `outpoint` (in the next block).
    pub(super) fn spend(&mut self, outpoint: OutPoint) {
        let value = self.utxo[&outpoint].value;
        let tx = Self::plain_tx(
            vec![TxIn {
                previous_output: outpoint,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            vec![TxOut {
                value: value
                    .checked_sub(Amount::from_sat(1_000))
                    .unwrap_or(Amount::ZERO),
                script_pubkey: ScriptBuf::new_op_return([0xAB; 4]),
            }],
        );
        self.direct.push(tx);
    }

    /// Someone else holding the key spends one of our confirmed coins.
    fn spend_behind_our_back(&mut self, rng: &mut TestRng) -> bool {
        let mut ours: Vec<OutPoint> = self
            .utxo
            .iter()
            .filter(|(_, u)| u.script_is_ours && !u.coinbase)
            .map(|(o, _)| *o)
            .collect();
        if ours.is_empty() {
            return false;
        }
        ours.sort();
        let outpoint = ours[rng.random_range(0..ours.len())];
        self.spend(outpoint);
        true
    }

    pub(super) fn input_value(&self, outpoint: &OutPoint) -> Option<Amount> {
        if let Some(u) = self.utxo.get(outpoint) {
            return Some(u.value);
        }
        self.mempool
            .iter()
            .find(|t| t.compute_txid() == outpoint.txid)
            .and_then(|t| t.output.get(outpoint.vout as usize))
            .map(|o| o.value)
    }

    fn fee(&self, tx: &Transaction) -> Option<Amount> {
        let mut total = Amount::ZERO;
        for input in &tx.input {
            total = total.checked_add(self.input_value(&input.previous_output)?)?;
        }
        let out = tx
            .output
            .iter()
            .try_fold(Amount::ZERO, |a, o| a.checked_add(o.value))?;
        total.checked_sub(out)
    }

    fn rate(fee: Amount, tx: &Transaction) -> FeeRate {
        FeeRate::from_sat_per_kwu(fee.to_sat() * 1000 / tx.weight().to_wu().max(1))
    }

    /// The fee `tx` pays (its inputs must exist).
    pub(super) fn fee_of(&self, tx: &Transaction) -> Amount {
        self.fee(tx).unwrap_or(Amount::ZERO)
    }

    pub(super) fn confirmed(&self, txid: &Txid) -> bool {
        self.best
            .iter()
            .any(|h| self.blocks[h].txs.iter().any(|t| t.compute_txid() == *txid))
    }

    /// Mempool admission (`testmempoolaccept` when `test`, else
    /// `sendrawtransaction`).
    pub(super) fn accept(&mut self, tx: &Transaction, test: bool) -> Result<(), (i32, String)> {
        let txid = tx.compute_txid();
        if self.mempool.iter().any(|t| t.compute_txid() == txid) {
            return if test {
                Err((0, "txn-already-in-mempool".to_owned()))
            } else {
                Ok(())
            };
        }
        if self.confirmed(&txid) {
            return if test {
                Err((0, "txn-already-known".to_owned()))
            } else {
                Err((
                    codes::VERIFY_ALREADY_IN_UTXO_SET,
                    "Transaction outputs already in utxo set".to_owned(),
                ))
            };
        }
        let Some(fee) = self.fee(tx) else {
            return Err((-25, "bad-txns-inputs-missingorspent".to_owned()));
        };
        let rate = Self::rate(fee, tx);
        if rate < self.min_fee {
            return Err((-26, "mempool min fee not met".to_owned()));
        }
        let spends: HashSet<OutPoint> = tx.input.iter().map(|i| i.previous_output).collect();
        let conflicts: Vec<Transaction> = self
            .mempool
            .iter()
            .filter(|t| t.input.iter().any(|i| spends.contains(&i.previous_output)))
            .cloned()
            .collect();
        if !conflicts.is_empty() {
            let mut old_fee = Amount::ZERO;
            for c in &conflicts {
                let f = self.fee(c).unwrap_or(Amount::ZERO);
                if rate <= Self::rate(f, c) {
                    return Err((-26, "insufficient fee, rejecting replacement".to_owned()));
                }
                old_fee += f;
            }
            let bump = INCREMENTAL.fee_vb(tx.vsize() as u64).unwrap_or(Amount::MAX);
            if fee < old_fee + bump {
                return Err((-26, "insufficient fee, rejecting replacement".to_owned()));
            }
        }
        if !test {
            let gone: HashSet<Txid> = conflicts.iter().map(Transaction::compute_txid).collect();
            self.mempool.retain(|t| !gone.contains(&t.compute_txid()));
            self.drop_orphans();
            self.mempool.push(tx.clone());
        }
        Ok(())
    }

    /// Removes mempool transactions whose inputs no longer exist.
    fn drop_orphans(&mut self) {
        loop {
            let before = self.mempool.len();
            let keep: Vec<Transaction> = self
                .mempool
                .iter()
                .filter(|t| {
                    t.input.iter().all(|i| {
                        self.utxo.contains_key(&i.previous_output)
                            || self
                                .mempool
                                .iter()
                                .any(|m| m.compute_txid() == i.previous_output.txid)
                    })
                })
                .cloned()
                .collect();
            // Conflicts with the chain: an input already spent.
            self.mempool = keep;
            if self.mempool.len() == before {
                return;
            }
        }
    }

    fn apply(&mut self, tx: &Transaction, height: u64, coinbase: bool) {
        if !coinbase {
            for input in &tx.input {
                self.utxo.remove(&input.previous_output);
            }
        }
        let txid = tx.compute_txid();
        for (vout, out) in tx.output.iter().enumerate() {
            if out.script_pubkey.is_op_return() {
                continue;
            }
            self.utxo.insert(
                OutPoint::new(txid, u32::try_from(vout).expect("few outputs")),
                Utxo {
                    value: out.value,
                    script_is_ours: out.script_pubkey == self.ours,
                    height,
                    coinbase,
                },
            );
        }
    }

    /// Mines one block on the tip, with the direct transactions and the
    /// mempool transactions paying the market rate (when `with_mempool`).
    pub(super) fn mine_one(&mut self, with_mempool: bool) -> BlockHash {
        let height = self.best.len() as u64;
        let n = self.unique();
        let coinbase = Self::plain_tx(
            vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: ScriptBuf::from_bytes(n.to_be_bytes().to_vec()),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            vec![TxOut {
                value: Amount::from_sat(50_000),
                script_pubkey: ScriptBuf::new_op_return([0xC0; 2]),
            }],
        );
        let mut txs = vec![coinbase.clone()];
        let mut spent: HashSet<OutPoint> = HashSet::new();
        let mut chosen_ids: HashSet<Txid> = HashSet::new();
        for tx in std::mem::take(&mut self.direct) {
            let ok = tx.input.iter().all(|i| {
                !spent.contains(&i.previous_output)
                    && (self.utxo.contains_key(&i.previous_output)
                        || self.is_external(&i.previous_output))
            });
            if ok {
                spent.extend(tx.input.iter().map(|i| i.previous_output));
                chosen_ids.insert(tx.compute_txid());
                txs.push(tx);
            }
        }
        if with_mempool {
            let mut candidates: Vec<(FeeRate, Transaction)> = self
                .mempool
                .iter()
                .filter_map(|t| self.fee(t).map(|f| (Self::rate(f, t), t.clone())))
                .collect();
            candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
            for (rate, tx) in candidates {
                if rate < self.market {
                    continue;
                }
                // Only confirmed inputs (our anchors never chain in the
                // mempool), none spent in this block.
                let ok = tx.input.iter().all(|i| {
                    self.utxo.contains_key(&i.previous_output)
                        && !spent.contains(&i.previous_output)
                });
                if ok {
                    spent.extend(tx.input.iter().map(|i| i.previous_output));
                    chosen_ids.insert(tx.compute_txid());
                    txs.push(tx);
                }
            }
        }
        let hash = BlockHash::from_raw_hash(sha256d::Hash::hash(&n.to_le_bytes()));
        self.apply(&coinbase, height, true);
        for tx in &txs[1..] {
            self.apply(tx, height, false);
        }
        let prev = self.best.last().copied();
        self.blocks.insert(hash, Block { prev, height, txs });
        self.best.push(hash);
        self.mempool
            .retain(|t| !chosen_ids.contains(&t.compute_txid()));
        self.drop_orphans();
        hash
    }

    /// Replaces the last `depth` blocks with `depth + 1` new ones; the
    /// old blocks' transactions go back to the mempool (or, from outside,
    /// to the next block), as Bitcoin Core does.
    pub(super) fn reorg(&mut self, depth: usize) {
        let depth = depth.min(self.best.len() - 1);
        let gone: Vec<BlockHash> = self.best.split_off(self.best.len() - depth);
        self.rebuild_utxo();
        let mut returned = Vec::new();
        for hash in &gone {
            for tx in &self.blocks[hash].txs[1..] {
                returned.push(tx.clone());
            }
        }
        for tx in returned {
            if tx
                .input
                .iter()
                .any(|i| self.is_external_direct(&i.previous_output))
            {
                self.direct.push(tx);
            } else if self.fee(&tx).is_some() {
                self.mempool.push(tx);
            } else {
                // Its parent comes back in a later block: re-queued then.
                self.direct.push(tx);
            }
        }
        self.drop_orphans();
        for _ in 0..=depth {
            self.mine_one(true);
        }
    }

    fn is_external_direct(&self, outpoint: &OutPoint) -> bool {
        !self.utxo.contains_key(outpoint)
            && !self.best.iter().any(|h| {
                self.blocks[h]
                    .txs
                    .iter()
                    .any(|t| t.compute_txid() == outpoint.txid)
            })
    }

    fn rebuild_utxo(&mut self) {
        self.utxo.clear();
        let best = self.best.clone();
        for hash in best {
            let (height, txs) = {
                let b = &self.blocks[&hash];
                (b.height, b.txs.clone())
            };
            for (i, tx) in txs.iter().enumerate() {
                self.apply(tx, height, i == 0);
            }
        }
    }

    fn unreachable() -> RpcError {
        RpcError::Unreachable {
            url: "sim://bitcoind".to_owned(),
            reason: "connection refused".to_owned(),
        }
    }

    fn rpc_error(method: &str, code: i32, message: String) -> RpcError {
        RpcError::Rpc {
            method: method.to_owned(),
            code,
            message,
        }
    }

    fn header_info(&self, hash: &BlockHash) -> Option<BlockHeaderInfo> {
        let b = self.blocks.get(hash)?;
        let confirmations = if self.in_best(hash) {
            i64::try_from(self.tip_height() + 1 - b.height).unwrap_or(i64::MAX)
        } else {
            -1
        };
        Some(BlockHeaderInfo {
            hash: *hash,
            confirmations,
            height: b.height,
            previousblockhash: b.prev,
        })
    }

    /// Answers one of the core's questions.
    pub(super) fn answer(&mut self, query: &Query) -> Result<Answer, RpcError> {
        if self.down {
            return Err(Self::unreachable());
        }
        let method = query.method();
        let unknown = || {
            Self::rpc_error(
                method,
                codes::INVALID_ADDRESS_OR_KEY,
                "Block not found".to_owned(),
            )
        };
        Ok(match query {
            Query::Tip => Answer::Tip(BlockchainInfo {
                chain: "regtest".to_owned(),
                blocks: self.tip_height(),
                headers: self.tip_height(),
                bestblockhash: self.tip(),
                initialblockdownload: false,
            }),
            Query::Header(hash) => Answer::Header(self.header_info(hash).ok_or_else(unknown)?),
            Query::BlockHash(height) => {
                Answer::BlockHash(*self.best.get(index(*height)).ok_or_else(|| {
                    Self::rpc_error(method, -8, "Block height out of range".to_owned())
                })?)
            }
            Query::Block(hash) => {
                let h = self.header_info(hash).ok_or_else(unknown)?;
                Answer::Block(BlockInfo {
                    hash: *hash,
                    confirmations: h.confirmations,
                    height: h.height,
                    previousblockhash: h.previousblockhash,
                    tx: self.blocks[hash]
                        .txs
                        .iter()
                        .map(Transaction::compute_txid)
                        .collect(),
                })
            }
            Query::InMempool(txid) => {
                Answer::InMempool(self.mempool.iter().any(|t| t.compute_txid() == *txid))
            }
            Query::Coins => {
                let mut unspents: Vec<Unspent> = self
                    .utxo
                    .iter()
                    .filter(|(_, u)| u.script_is_ours)
                    .map(|(o, u)| Unspent {
                        txid: o.txid,
                        vout: o.vout,
                        value: u.value,
                        coinbase: u.coinbase,
                        height: u.height,
                    })
                    .collect();
                unspents.sort_by_key(|u| (u.txid, u.vout));
                Answer::Coins(ScanResult {
                    height: self.tip_height(),
                    best_block: self.tip(),
                    unspents,
                })
            }
            Query::MempoolInfo => Answer::MempoolInfo(MempoolInfo {
                min_relay_fee: FeeRate::from_sat_per_vb_u32(1),
                incremental_relay_fee: INCREMENTAL,
                mempool_min_fee: self.min_fee,
            }),
            Query::FeeEstimate(_) => Answer::FeeEstimate(self.estimate),
            Query::TestAccept(tx) => {
                let verdict = self.accept(tx, true);
                Answer::TestAccept(MempoolAccept {
                    txid: tx.compute_txid(),
                    allowed: verdict.is_ok(),
                    vsize: Some(tx.vsize() as u64),
                    reject_reason: verdict.err().map(|(_, m)| m),
                })
            }
            Query::Send(tx) => {
                self.accept(tx, false)
                    .map_err(|(code, message)| Self::rpc_error(method, code, message))?;
                Answer::Sent
            }
            Query::TxOut(outpoint) => Answer::TxOut(self.utxo.contains_key(outpoint)),
            Query::BestHash => Answer::BestHash(self.tip()),
        })
    }

    /// Our anchors in the best chain, by commitment: (block, txid).
    fn anchors_in_best(
        &self,
        commitments: &HashSet<ScriptBuf>,
    ) -> HashMap<ScriptBuf, Vec<(BlockHash, Txid)>> {
        let mut found: HashMap<ScriptBuf, Vec<(BlockHash, Txid)>> = HashMap::new();
        for hash in &self.best {
            for tx in &self.blocks[hash].txs[1..] {
                if let Some(out) = tx.output.first()
                    && commitments.contains(&out.script_pubkey)
                {
                    found
                        .entry(out.script_pubkey.clone())
                        .or_default()
                        .push((*hash, tx.compute_txid()));
                }
            }
        }
        found
    }
}

/// One seed's world: Bitcoin, the engine, what it wrote, what it was asked.
struct World {
    rng: TestRng,
    bitcoin: Bitcoin,
    core: Core,
    key: AnchorKey,
    policy: Policy,
    /// The state file's contents.
    disk: Vec<u8>,
    /// Every commitment's output script, and its target.
    commitments: HashMap<ScriptBuf, Target>,
    newest: Option<Target>,
    now: SystemTime,
    log: Vec<String>,
    seen: Seen,
}

/// What a run went through, so the test can insist that the histories
/// reach every path they claim to.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    broadcasts: u64,
    replacements: u64,
    confirmed: u64,
    reorged: u64,
    abandoned: u64,
    no_funds: u64,
    unreachable: u64,
    reconnected: u64,
    crashes_after_write: u64,
    crashes_between_persist_and_send: u64,
    failed_writes: u64,
    deep_reorgs: u64,
}

impl Seen {
    fn add(&mut self, o: Self) {
        self.broadcasts += o.broadcasts;
        self.replacements += o.replacements;
        self.confirmed += o.confirmed;
        self.reorged += o.reorged;
        self.abandoned += o.abandoned;
        self.no_funds += o.no_funds;
        self.unreachable += o.unreachable;
        self.reconnected += o.reconnected;
        self.crashes_after_write += o.crashes_after_write;
        self.crashes_between_persist_and_send += o.crashes_between_persist_and_send;
        self.failed_writes += o.failed_writes;
        self.deep_reorgs += o.deep_reorgs;
    }
}

fn target(h: u64) -> Target {
    Target {
        height: Height::new(h),
        commitment: Hash256::digest(format!("sim state at {h}").as_bytes()),
    }
}

impl World {
    fn new(seed: u64) -> Self {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
        let key = AnchorKey::from_secret(SecretKey::from_slice(&[0x42; 32]).expect("valid key"));
        let mut policy = Policy::for_network(Network::Regtest);
        policy.confirmations = rng.random_range(1..=3);
        policy.bump_after_blocks = rng.random_range(1..=4);
        // Reorgs up to 6 deep, so a watch depth of at least 7: an anchor
        // settled below the watch depth is no longer followed (the default
        // is 100 blocks, far below any reorg Bitcoin has seen).
        policy.watch_depth = 7 + rng.random_range(0..=4);
        if rng.random_bool(0.5) {
            policy.fee = FeePolicy::Estimate {
                target_blocks: 6,
                floor: FeeRate::from_sat_per_vb_u32(1),
                cap: FeeRate::from_sat_per_vb_u32(50),
            };
        }
        let mut bitcoin = Bitcoin::new(key.script_pubkey());
        // An empty wallet at first, sometimes.
        if rng.random_bool(0.7) {
            for _ in 0..rng.random_range(1..=3) {
                let sats = rng.random_range(20_000..2_000_000);
                bitcoin.fund(Amount::from_sat(sats));
            }
        }
        bitcoin.mine_one(true);
        let state = Core::fresh_state(&key, &policy);
        let disk = state.to_bytes();
        let core = Core::new(state, key.clone(), policy);
        Self {
            rng,
            bitcoin,
            core,
            key,
            policy,
            disk,
            commitments: HashMap::new(),
            newest: None,
            now: UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            log: Vec::new(),
            seen: Seen::default(),
        }
    }

    fn request(&mut self, t: Target) {
        self.commitments
            .insert(AnchorPayload::new(t.commitment).script_pubkey(), t);
        self.newest = Some(t);
        self.core.request(t);
    }

    /// The engine process dies; a new one reads the state file and, like
    /// the node, asks for its newest commitment again.
    fn crash(&mut self) {
        let state = State::from_bytes(&self.disk).expect("the state file reads back");
        self.core = Core::new(state, self.key.clone(), self.policy);
        if let Some(t) = self.newest {
            self.core.request(t);
        }
        self.log.push("engine crashed and restarted".to_owned());
    }

    /// One random thing happens in the world.
    fn perturb(&mut self) {
        let roll = self.rng.random_range(0..100);
        let b = &mut self.bitcoin;
        let what = match roll {
            0..=44 => {
                b.mine_one(true);
                "mine".to_owned()
            }
            45..=51 => {
                let depth = self.rng.random_range(1..=6);
                b.reorg(depth);
                if depth == 6 {
                    self.seen.deep_reorgs += 1;
                }
                format!("reorg {depth}")
            }
            52..=56 => {
                b.market = FeeRate::from_sat_per_vb_u32(self.rng.random_range(1..=30));
                if self.rng.random_bool(0.5) {
                    b.estimate = Some(b.market);
                }
                format!("market {} sat/vB", b.market.to_sat_per_vb_floor())
            }
            57..=58 => {
                b.min_fee = FeeRate::from_sat_per_vb_u32(self.rng.random_range(1..=5));
                format!("mempool floor {}", b.min_fee.to_sat_per_vb_floor())
            }
            59..=61 => {
                b.mempool.clear();
                "mempool emptied".to_owned()
            }
            62..=67 => {
                b.down = !b.down;
                format!("bitcoind {}", if b.down { "down" } else { "up" })
            }
            68..=71 => {
                let sats = self.rng.random_range(10_000..1_000_000);
                b.fund(Amount::from_sat(sats));
                format!("fund {sats}")
            }
            72..=73 => {
                if b.spend_behind_our_back(&mut self.rng) {
                    "coin spent behind our back".to_owned()
                } else {
                    "nothing".to_owned()
                }
            }
            74..=87 => {
                let h = self.newest.map_or(10, |t| t.height.get() + 10);
                self.request(target(h));
                format!("request {h}")
            }
            88..=90 => {
                self.crash();
                "crash".to_owned()
            }
            _ => "nothing".to_owned(),
        };
        self.log.push(what);
    }

    /// One tick through the driver, over the simulated Bitcoin and disk,
    /// with crashes and failed writes injected when `faults`.
    fn tick(&mut self, faults: bool) -> Result<(), String> {
        self.now += Duration::from_secs(1);
        let mut io = SimIo {
            bitcoin: &mut self.bitcoin,
            disk: &mut self.disk,
            rng: &mut self.rng,
            faults,
            dead: false,
            violation: None,
            seen: &mut self.seen,
            log: &mut self.log,
        };
        let (events, result) = block_on(drive(&mut self.core, &mut io, self.now, Mode::Work));
        let (dead, violation) = (io.dead, io.violation.take());
        if let Some(v) = violation {
            return Err(v);
        }
        if dead {
            // The process died in this tick: its events went nowhere.
            self.crash();
            return Ok(());
        }
        self.check_events(&events)?;
        // The engine's view is checked after a tick that ran to its end.
        self.check_state(result.is_ok())
    }

    fn check_events(&mut self, events: &[AnchorEvent]) -> Result<(), String> {
        let k = u64::from(self.policy.confirmations);
        for e in events {
            self.log.push(format!("  event {e:?}"));
            let seen = &mut self.seen;
            match e {
                AnchorEvent::Broadcast { replaces, .. } => {
                    seen.broadcasts += 1;
                    seen.replacements += u64::from(replaces.is_some());
                }
                AnchorEvent::Abandoned { .. } => seen.abandoned += 1,
                AnchorEvent::NoFunds { .. } => seen.no_funds += 1,
                AnchorEvent::Unreachable { .. } => seen.unreachable += 1,
                AnchorEvent::Reconnected => seen.reconnected += 1,
                _ => {}
            }
            match e {
                AnchorEvent::Confirmed {
                    txid,
                    block_hash,
                    block_height,
                    confirmations,
                    ..
                } => {
                    let b = &self.bitcoin;
                    let in_block = b
                        .blocks
                        .get(block_hash)
                        .is_some_and(|blk| blk.txs.iter().any(|t| t.compute_txid() == *txid));
                    let depth = b.tip_height() + 1 - block_height;
                    if !b.in_best(block_hash) || !in_block || depth < k || *confirmations != depth {
                        return Err(format!("false Confirmed: {e:?}"));
                    }
                    self.seen.confirmed += 1;
                }
                AnchorEvent::Reorged { block_hash, .. } => {
                    if self.bitcoin.in_best(block_hash) {
                        return Err(format!("Reorged for a block in the best chain: {e:?}"));
                    }
                    self.seen.reorged += 1;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn check_state(&self, completed: bool) -> Result<(), String> {
        let scripts: HashSet<ScriptBuf> = self.commitments.keys().cloned().collect();
        for (script, found) in self.bitcoin.anchors_in_best(&scripts) {
            if found.len() > 1 {
                return Err(format!(
                    "two anchors for target {:?} in the best chain: {found:?}",
                    self.commitments[&script]
                ));
            }
        }
        if !completed {
            return Ok(());
        }
        for a in &self.core.state().anchors {
            if let Phase::InBlock {
                txid, block_hash, ..
            } = a.phase
            {
                let b = &self.bitcoin;
                let there = b.in_best(&block_hash)
                    && b.blocks[&block_hash]
                        .txs
                        .iter()
                        .any(|t| t.compute_txid() == txid);
                if !there {
                    return Err(format!(
                        "the engine holds {txid} in {block_hash}, not in the best chain"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether the newest target is anchored as deep as the policy asks,
    /// and the engine says so.
    fn settled(&self) -> bool {
        let Some(newest) = self.newest else {
            return true;
        };
        let status = self.core.status();
        let k = u64::from(self.policy.confirmations);
        let script = AnchorPayload::new(newest.commitment).script_pubkey();
        let scripts = HashSet::from([script.clone()]);
        let in_chain = self
            .bitcoin
            .anchors_in_best(&scripts)
            .get(&script)
            .and_then(|f| f.first().copied());
        let Some((block, txid)) = in_chain else {
            return false;
        };
        status.waiting.is_none()
            && status.pending.is_empty()
            && status.confirmed.iter().any(|c| {
                c.target == newest
                    && c.txid == txid
                    && c.block_hash == Some(block)
                    && c.confirmations >= k
            })
    }

    fn run(&mut self) -> Result<(), String> {
        for round in 0..ROUNDS {
            self.perturb();
            self.tick(true).map_err(|e| format!("round {round}: {e}"))?;
        }
        // Quiet: bitcoind up, fees low, money to spend, no interference.
        let b = &mut self.bitcoin;
        b.down = false;
        b.market = FeeRate::from_sat_per_vb_u32(1);
        b.min_fee = FeeRate::from_sat_per_vb_u32(1);
        b.fund(Amount::from_sat(5_000_000));
        self.log.push("quiet".to_owned());
        if self.newest.is_none() {
            self.request(target(10));
        }
        for round in 0..QUIET_ROUNDS {
            self.bitcoin.mine_one(true);
            self.tick(false)
                .map_err(|e| format!("quiet round {round}: {e}"))?;
            if self.settled() {
                return Ok(());
            }
        }
        Err(format!(
            "the newest target {:?} is not anchored {} deep after {QUIET_ROUNDS} quiet blocks; status {:?}",
            self.newest,
            self.policy.confirmations,
            self.core.status()
        ))
    }
}

/// The simulated driver I/O: bitcoind is [`Bitcoin`], the disk one
/// buffer. It may die (crash) before or after any write, or fail one.
struct SimIo<'a> {
    bitcoin: &'a mut Bitcoin,
    disk: &'a mut Vec<u8>,
    rng: &'a mut TestRng,
    faults: bool,
    /// The process died: nothing more reaches bitcoind or the disk.
    dead: bool,
    violation: Option<String>,
    seen: &'a mut Seen,
    log: &'a mut Vec<String>,
}

impl Io for SimIo<'_> {
    async fn ask(&mut self, query: &Query) -> Result<Answer, RpcError> {
        if self.dead {
            return Err(Bitcoin::unreachable());
        }
        if let Query::Send(tx) = query {
            let txid = tx.compute_txid();
            let on_disk = State::from_bytes(self.disk).map(|s| s.own_txids().contains(&txid));
            if on_disk != Ok(true) {
                self.violation = Some(format!("sent {txid}, which is not in the state file"));
            }
        }
        // bitcoind may also go away in the middle of a tick.
        if self.faults && self.rng.random_bool(0.01) {
            return Err(Bitcoin::unreachable());
        }
        self.bitcoin.answer(query)
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), super::EngineError> {
        let fail = |reason: &str| super::EngineError::State {
            path: "sim".into(),
            reason: reason.to_owned(),
        };
        if self.dead {
            return Err(fail("dead"));
        }
        if self.faults {
            let roll = self.rng.random_range(0..100);
            if roll < 3 {
                self.log.push("write failed".to_owned());
                self.seen.failed_writes += 1;
                return Err(fail("disk full"));
            }
            if roll < 5 {
                self.log.push("killed before a write".to_owned());
                self.dead = true;
                return Err(fail("dead"));
            }
            if roll < 12 {
                // Killed just after the write: between persisting and
                // broadcasting when the write holds a new transaction.
                let before = State::from_bytes(self.disk)
                    .map(|s| s.own_txids())
                    .unwrap_or_default();
                let after = State::from_bytes(bytes)
                    .map(|s| s.own_txids())
                    .unwrap_or_default();
                if after.iter().any(|t| !before.contains(t)) {
                    self.seen.crashes_between_persist_and_send += 1;
                }
                self.disk.clone_from(&bytes.to_vec());
                self.log.push("killed after a write".to_owned());
                self.seen.crashes_after_write += 1;
                self.dead = true;
                return Ok(());
            }
        }
        self.disk.clone_from(&bytes.to_vec());
        Ok(())
    }
}

/// Runs a future whose I/O is all in memory (it never waits).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn run_seed(seed: u64) -> Result<Seen, String> {
    let outcome = std::panic::catch_unwind(|| {
        let mut world = World::new(seed);
        world.run().map(|()| world.seen).map_err(|e| {
            let tail: Vec<&String> = world.log.iter().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().map(String::as_str).collect();
            format!("{e}\nlast steps:\n{}", tail.join("\n"))
        })
    });
    match outcome {
        Ok(result) => result,
        Err(panic) => Err(format!(
            "panicked: {}",
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default()
        )),
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn seeded_anchor_lifecycle() {
    let seeds: Vec<u64> = match env_u64("PANTHEON_SIM_SEED") {
        Some(seed) => vec![seed],
        None => {
            let n = env_u64("PANTHEON_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS);
            let base = env_u64("PANTHEON_SIM_BASE").unwrap_or(0);
            (base..base + n).collect()
        }
    };
    let many = seeds.len() > 1;
    let mut total = Seen::default();
    for seed in seeds {
        match run_seed(seed) {
            Ok(seen) => total.add(seen),
            Err(e) => panic!(
                "anchor simulation failed with seed {seed} (replay: PANTHEON_SIM_SEED={seed} cargo test -p pantheon-anchor --lib seeded_anchor_lifecycle): {e}"
            ),
        }
    }
    println!("anchor simulation: {total:?}");
    if many {
        // The histories reach every path: a simulation that stopped doing
        // so would pass while testing nothing.
        let t = total;
        for (what, n) in [
            ("broadcasts", t.broadcasts),
            ("replacements (RBF)", t.replacements),
            ("confirmations", t.confirmed),
            ("reorged anchors", t.reorged),
            ("abandoned anchors", t.abandoned),
            ("empty wallets", t.no_funds),
            ("outages", t.unreachable),
            ("reconnections", t.reconnected),
            ("crashes right after a write", t.crashes_after_write),
            (
                "crashes between persist and send",
                t.crashes_between_persist_and_send,
            ),
            ("failed writes", t.failed_writes),
            ("reorgs 6 deep", t.deep_reorgs),
        ] {
            assert!(n > 0, "no {what} in any history: {t:?}");
        }
    }
}

#[test]
fn the_simulated_bitcoin_enforces_replacement_rules() {
    let key = AnchorKey::from_secret(SecretKey::from_slice(&[0x42; 32]).unwrap());
    let mut b = Bitcoin::new(key.script_pubkey());
    b.fund(Amount::from_sat(100_000));
    b.mine_one(true);
    let coin = *b
        .utxo
        .iter()
        .find(|(_, u)| u.script_is_ours)
        .map(|(o, _)| o)
        .unwrap();
    let coins = [crate::txbuild::Coin {
        outpoint: coin,
        value: Amount::from_sat(100_000),
    }];
    let payload = AnchorPayload::new(Hash256::digest(b"x"));
    let one = crate::txbuild::build_anchor(&key, &coins, &payload, FeeRate::from_sat_per_vb_u32(2))
        .unwrap();
    assert!(b.accept(one.tx(), false).is_ok());
    // The same fee again is no replacement.
    let same = crate::txbuild::build_anchor(
        &key,
        &coins,
        &AnchorPayload::new(Hash256::digest(b"y")),
        FeeRate::from_sat_per_vb_u32(2),
    )
    .unwrap();
    assert!(
        b.accept(same.tx(), false)
            .unwrap_err()
            .1
            .contains("insufficient fee")
    );
    let bumped = crate::txbuild::build_replacement(
        &key,
        &one,
        &coins,
        &payload,
        FeeRate::from_sat_per_vb_u32(2),
        INCREMENTAL,
    )
    .unwrap();
    assert!(b.accept(bumped.tx(), false).is_ok());
    assert_eq!(b.mempool.len(), 1);
    // A market above its rate leaves it out of blocks.
    b.market = FeeRate::from_sat_per_vb_u32(10);
    b.mine_one(true);
    assert_eq!(b.mempool.len(), 1);
    b.market = FeeRate::from_sat_per_vb_u32(1);
    let block = b.mine_one(true);
    assert!(b.mempool.is_empty());
    assert_eq!(b.blocks[&block].txs.len(), 2);
    // A reorg puts it back in the mempool, and the new branch mines it.
    b.reorg(1);
    assert!(b.confirmed(&bumped.txid()));
    assert!(!b.in_best(&block));
}
