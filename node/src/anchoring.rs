//! Anchoring the chain to Bitcoin: the node's side of `pantheon-anchor`.
//!
//! One task per node that has an `[anchor]` section (or runs `pantheon
//! dev`), once a second:
//!
//! 1. **Request.** Every `every_blocks` blocks, the designated anchorer of
//!    the interval (validator `(A / every_blocks) mod n`) asks its engine to
//!    anchor the commitment to block `A` (`AnchorCommitment`, over the block
//!    history log). The engine keeps one transaction in flight and only the
//!    newest waiting target, so Bitcoin sees at most one transaction per
//!    interval whatever the load. A designated anchorer that is down skips
//!    its interval; the next anchor commits to everything before it.
//! 2. **Tick.** The engine broadcasts, tracks confirmations, bumps fees and
//!    follows reorgs, persisting its state before every broadcast.
//! 3. **Record.** For every anchor the engine reports confirmed (with the
//!    genesis's `k` confirmations) that the chain has not recorded yet,
//!    this validator builds the Bitcoin part once, with exactly `k`
//!    headers, and signs an `AnchorRecord` carrying it (kind 5; kind 4,
//!    without a part, under a version-1 genesis) and submits it like any
//!    transaction. Reconciling from the engine's status, rather than from
//!    its one-shot events, makes recording crash-safe: a node killed
//!    between confirmation and recording records at its next start.
//! 4. **Judge.** This node's bitcoind says which recorded anchors are in
//!    its best chain ([`AnchorView::judged`]); a reorg that drops a block
//!    turns its submissions back to `finalized` until the engine's
//!    re-confirmation is recorded. An unanswered question keeps the last
//!    answer: a bitcoind outage changes nothing that was served.
//!
//! What counts, and what proofs are built from, is [`covering`]: a pure
//! function of the recorded anchors (whose Bitcoin parts every node checks
//! with `spv::verify`) and, where the node has a bitcoind, its judgement.
//! A node without a bitcoind (a full node) counts every recorded anchor
//! whose part verifies, so every node serves the same anchored bundle from
//! its own store, and none asks bitcoind while answering (ADR 0013).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use pantheon_anchor::{AnchorEngine, AnchorEvent, AnchorStatus, BitcoinRpc, Policy, Target, ids};
use pantheon_runtime::amount::Height;
use pantheon_runtime::crypto::Keypair;
use pantheon_runtime::genesis::GenesisHeader;
use pantheon_runtime::tx::{AnchorKey, AnchorRecord, SignedTx, TxBody};
use tracing::{debug, info, warn};

use crate::chain::Chain;
use crate::health::{self, SharedStatus};

/// Recorded anchors judged per pass (the newest).
const JUDGE_WINDOW: usize = 64;

/// What RPC reads: the engine's status and this node's bitcoind's
/// judgement of the recorded anchors.
#[derive(Debug, Clone, Default)]
pub struct AnchorView {
    /// The engine's status at the last pass.
    pub status: Option<AnchorStatus>,
    /// By anchor id, what this node's bitcoind answered: the confirmations
    /// of the record's block in its best chain (0: not in it). A record it
    /// has not answered for (no bitcoind, not asked yet, or down since the
    /// node started) counts on its part alone, as on a full node; only a
    /// definite answer excludes one.
    pub judged: BTreeMap<u64, u64>,
}

/// A recorded anchor whose Bitcoin part verifies under the genesis.
#[derive(Debug, Clone)]
pub struct CountedAnchor {
    /// Its id (order of recording on chain).
    pub id: u64,
    /// The record, with its part.
    pub record: AnchorRecord,
}

/// The recorded anchors (id, transaction) whose Bitcoin part proves their
/// commitment under `genesis`'s network with its `k` confirmations. Under
/// a version-1 genesis (kind-4 records, no part) none does.
#[must_use]
pub fn counted(recorded: Vec<(u64, SignedTx)>, genesis: &GenesisHeader) -> Vec<CountedAnchor> {
    let Some(params) = genesis.bitcoin else {
        return Vec::new();
    };
    let network = pantheon_anchor::ids::network(params.network);
    recorded
        .into_iter()
        .filter_map(|(id, tx)| {
            let record = tx.as_anchor_record()?.clone();
            let part = record.part.as_ref()?;
            pantheon_anchor::spv::verify(
                part,
                &record.commitment.hash(),
                network,
                u32::from(params.confirmations),
            )
            .ok()?;
            Some(CountedAnchor { id, record })
        })
        .collect()
}

/// The anchor that makes block `height` `anchored`, and whose part its
/// proof carries: among the counted anchors (less those this node's
/// bitcoind answered are not in its best chain with `k` confirmations), the one
/// of the lowest anchored height `A >= height`, the most recently recorded
/// for that height.
#[must_use]
pub fn covering<'a>(
    counted: &'a [CountedAnchor],
    height: Height,
    judged: &BTreeMap<u64, u64>,
    k: u64,
) -> Option<&'a CountedAnchor> {
    counted
        .iter()
        .filter(|a| a.record.height >= height)
        .filter(|a| judged.get(&a.id).is_none_or(|c| *c >= k))
        .min_by_key(|a| (a.record.height, std::cmp::Reverse(a.id)))
}

/// Shared handle to the view.
pub type SharedView = Arc<RwLock<AnchorView>>;

/// Everything the task needs.
pub struct Anchoring {
    /// The chain.
    pub chain: Arc<Chain>,
    /// The engine (opened on the node's key and state file).
    pub engine: AnchorEngine,
    /// bitcoind.
    pub rpc: BitcoinRpc,
    /// The policy the engine uses.
    pub policy: Policy,
    /// Anchor every this many blocks.
    pub every: u64,
    /// This node's validator index and key (`None`: a full node judges
    /// anchors but never anchors).
    pub validator: Option<(u16, Arc<Keypair>)>,
    /// What RPC reads.
    pub view: SharedView,
    /// Warnings for `system_health`.
    pub network: SharedStatus,
}

impl Anchoring {
    /// Runs until the node stops.
    pub async fn run(mut self) {
        info!(
            target: "pantheon::anchor",
            network = %self.policy.network,
            address = %self.engine.address(),
            every = self.every,
            "anchoring"
        );
        let mut last_requested = Height::GENESIS;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            self.request(&mut last_requested);
            let events = self.engine.tick().await;
            let status = self.engine.status();
            self.report(&events, &status);
            self.record(&status).await;
            write(&self.view).status = Some(status);
            self.judge().await;
        }
    }

    fn request(&mut self, last: &mut Height) {
        let Some((me, _)) = &self.validator else {
            return;
        };
        let height = self.chain.height().get();
        let anchored = height - height % self.every;
        if anchored == 0 || anchored <= last.get() {
            return;
        }
        *last = Height::new(anchored);
        let n = u64::try_from(self.chain.genesis().header().validators.len()).unwrap_or(1);
        if (anchored / self.every) % n.max(1) != u64::from(*me) {
            return;
        }
        let commitment = match self
            .chain
            .with_ledger(|l| l.anchor_commitment(Height::new(anchored)))
        {
            Ok(c) => c,
            Err(e) => {
                warn!(target: "pantheon::anchor", anchored, "no commitment: {e}");
                return;
            }
        };
        debug!(target: "pantheon::anchor", anchored, %commitment, "requesting an anchor");
        self.engine.request(Target {
            height: Height::new(anchored),
            commitment: commitment.hash(),
        });
    }

    fn report(&self, events: &[AnchorEvent], status: &AnchorStatus) {
        for e in events {
            match e {
                AnchorEvent::Broadcast { target, txid, .. } => {
                    info!(target: "pantheon::anchor", height = %target.height, %txid, "anchor broadcast");
                }
                AnchorEvent::Confirmed {
                    target,
                    txid,
                    block_height,
                    ..
                } => {
                    info!(target: "pantheon::anchor", height = %target.height, %txid, block_height, "anchor confirmed");
                }
                AnchorEvent::Reorged { target, txid, .. } => {
                    warn!(target: "pantheon::anchor", height = %target.height, %txid, "anchor reorged out; pending again");
                }
                other => warn!(target: "pantheon::anchor", "{other:?}"),
            }
        }
        health::lock(&self.network).set_warning("anchoring", status.last_error.clone());
    }

    /// Records, on chain, confirmed anchors the chain does not have yet.
    async fn record(&self, status: &AnchorStatus) {
        let Some((me, key)) = &self.validator else {
            return;
        };
        let genesis = self.chain.genesis().header();
        let k = self.policy.confirmations;
        for info in status
            .confirmed
            .iter()
            .filter(|a| a.confirmations >= u64::from(k))
        {
            let (Some(block), Some(block_height)) = (info.block_hash, info.block_height) else {
                continue;
            };
            let recorded = AnchorKey {
                height: info.target.height,
                bitcoin_block: ids::our_block_hash(&block),
            };
            if self.chain.with_ledger(|l| l.anchor_recorded(&recorded)) {
                continue;
            }
            let Ok(commitment) = self
                .chain
                .with_ledger(|l| l.anchor_commitment(info.target.height))
            else {
                continue;
            };
            let record = if genesis.pins_bitcoin() {
                // Built once, with exactly the genesis's k headers, and
                // checked as every node will check it.
                let part = match pantheon_anchor::spv::build(&self.rpc, &info.txid, &block, k)
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|part| {
                        pantheon_anchor::spv::verify(
                            &part,
                            &commitment.hash(),
                            self.policy.network,
                            k,
                        )
                        .map(|_| part)
                        .map_err(|e| e.to_string())
                    }) {
                    Ok(part) => part,
                    Err(e) => {
                        debug!(target: "pantheon::anchor", height = %info.target.height, "Bitcoin part not ready: {e}");
                        continue;
                    }
                };
                match AnchorRecord::with_part(
                    *me,
                    info.target.height,
                    commitment,
                    block_height,
                    part,
                ) {
                    Ok(r) => r,
                    Err(e) => {
                        warn!(target: "pantheon::anchor", height = %info.target.height, "Bitcoin part too large to record: {e}");
                        continue;
                    }
                }
            } else {
                AnchorRecord {
                    validator: *me,
                    height: info.target.height,
                    commitment,
                    bitcoin_txid: ids::our_txid(&info.txid),
                    bitcoin_block: ids::our_block_hash(&block),
                    bitcoin_height: block_height,
                    part: None,
                }
            };
            let tx = TxBody::AnchorRecord(record).sign(&self.chain.genesis().hash(), key);
            match self.chain.admit(tx) {
                Ok(_) => {
                    debug!(target: "pantheon::anchor", height = %info.target.height, "anchor record submitted");
                }
                Err(e) => {
                    debug!(target: "pantheon::anchor", height = %info.target.height, "anchor record not admitted: {e}");
                }
            }
        }
    }

    /// Asks bitcoind which recorded anchors are in its best chain. Only a
    /// reorg takes an anchor away: bitcoind knows the block and says it is
    /// not in its best chain (confirmations -1), or its best chain reaches
    /// the block's height and the block is not known. A question it cannot
    /// answer (it is down, restarting, or still syncing below that height)
    /// keeps the last answer.
    async fn judge(&self) {
        let recorded = match self.chain.store().recent_anchors(JUDGE_WINDOW) {
            Ok(r) => r,
            Err(e) => {
                warn!(target: "pantheon::anchor", "reading anchors: {e}");
                return;
            }
        };
        let previous = read(&self.view).judged.clone();
        let mut judged = BTreeMap::new();
        for (id, tx) in recorded {
            let Some(r) = tx.as_anchor_record() else {
                continue;
            };
            let hash = ids::block_hash(&r.bitcoin_block);
            let unknown = || async {
                self.rpc
                    .get_block_count()
                    .await
                    .is_ok_and(|tip| tip >= r.bitcoin_height)
            };
            let confirmations = match self.rpc.get_block_header_info(&hash).await {
                Ok(info) => u64::try_from(info.confirmations).unwrap_or(0),
                Err(e)
                    if e.code() == Some(pantheon_anchor::rpc::codes::INVALID_ADDRESS_OR_KEY)
                        && unknown().await =>
                {
                    0
                }
                Err(_) => match previous.get(&id) {
                    Some(c) => *c,
                    None => continue,
                },
            };
            judged.insert(id, confirmations);
        }
        write(&self.view).judged = judged;
    }
}

fn read(view: &SharedView) -> std::sync::RwLockReadGuard<'_, AnchorView> {
    view.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write(view: &SharedView) -> std::sync::RwLockWriteGuard<'_, AnchorView> {
    view.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
