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
//! 3. **Record.** For every anchor the engine reports confirmed that the
//!    chain has not recorded yet, this validator signs an `AnchorRecord`
//!    (transaction kind 4) and submits it like any transaction (it is
//!    relayed). Reconciling from the engine's status, rather than from its
//!    one-shot events, makes recording crash-safe: a node killed between
//!    confirmation and recording records at its next start.
//! 4. **Judge.** Every recorded anchor whose Bitcoin block is in this
//!    node's bitcoind's best chain is *live*, with its confirmations. A
//!    submission in block `S` is `anchored` when a live anchor with `A >= S`
//!    has the policy's confirmations; a reorg that drops the block turns it
//!    back to `finalized` until the engine's re-confirmation is recorded.
//!    Every node judges with its own bitcoind, so validators check the
//!    designated anchorer's claim rather than trust it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use pantheon_anchor::bitcoin::Network;
use pantheon_anchor::bitcoin::hashes::Hash as _;
use pantheon_anchor::{AnchorEngine, AnchorEvent, AnchorStatus, BitcoinRpc, Policy, Target};
use pantheon_runtime::amount::Height;
use pantheon_runtime::anchor::{BitcoinBlockHash, BitcoinTxid};
use pantheon_runtime::crypto::Keypair;
use pantheon_runtime::tx::{AnchorKey, AnchorRecord, SignedTx, TxBody};
use tracing::{debug, info, warn};

use crate::api::NetworkStatus;
use crate::chain::Chain;

/// Recorded anchors judged per pass (the newest).
const JUDGE_WINDOW: usize = 64;

/// A recorded anchor as this node's bitcoind sees it.
#[derive(Debug, Clone)]
pub struct LiveAnchor {
    /// Its id (order of recording on chain).
    pub id: u64,
    /// The signed record.
    pub tx: SignedTx,
    /// Confirmations of its Bitcoin block in the best chain.
    pub confirmations: u64,
}

impl LiveAnchor {
    /// The record.
    ///
    /// # Panics
    /// Never: only `AnchorRecord` transactions are stored as anchors.
    #[must_use]
    pub fn record(&self) -> &AnchorRecord {
        match self.tx.body() {
            TxBody::AnchorRecord(r) => r,
            _ => unreachable!("anchors are AnchorRecord transactions"),
        }
    }
}

/// What RPC reads: the engine's status and the live anchors.
#[derive(Debug, Clone, Default)]
pub struct AnchorView {
    /// The Bitcoin network, once anchoring runs.
    pub network: Option<Network>,
    /// Confirmations an anchor needs.
    pub confirmations: u64,
    /// The engine's status at the last pass.
    pub status: Option<AnchorStatus>,
    /// Live anchors by anchored height (one per height: the deepest).
    pub live: BTreeMap<Height, LiveAnchor>,
    /// bitcoind, for building proofs.
    pub rpc: Option<BitcoinRpc>,
}

impl AnchorView {
    /// The anchor that makes block `height` `anchored`: the lowest live
    /// anchor at or above it with enough confirmations.
    #[must_use]
    pub fn covering(&self, height: Height) -> Option<&LiveAnchor> {
        self.live
            .range(height..)
            .map(|(_, a)| a)
            .find(|a| a.confirmations >= self.confirmations)
    }
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
    pub network: Arc<Mutex<NetworkStatus>>,
}

impl Anchoring {
    /// Runs until the node stops.
    pub async fn run(mut self) {
        {
            let mut view = write(&self.view);
            view.network = Some(self.policy.network);
            view.confirmations = u64::from(self.policy.confirmations);
            view.rpc = Some(self.rpc.clone());
        }
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
            self.record(&status);
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
        let warning = status.last_error.clone().map(|e| format!("anchoring: {e}"));
        {
            let mut net = self
                .network
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            net.warnings.retain(|w| !w.starts_with("anchoring: "));
            net.warnings.extend(warning);
        }
    }

    /// Records, on chain, confirmed anchors the chain does not have yet.
    fn record(&self, status: &AnchorStatus) {
        let Some((me, key)) = &self.validator else {
            return;
        };
        for info in status
            .confirmed
            .iter()
            .filter(|a| a.confirmations >= u64::from(self.policy.confirmations))
        {
            let (Some(block), Some(block_height)) = (info.block_hash, info.block_height) else {
                continue;
            };
            let txid = BitcoinTxid::from_bytes(info.txid.to_byte_array());
            let block = BitcoinBlockHash::from_bytes(block.to_byte_array());
            let recorded = AnchorKey {
                height: info.target.height,
                bitcoin_block: block,
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
            let tx = TxBody::AnchorRecord(AnchorRecord {
                validator: *me,
                height: info.target.height,
                commitment,
                bitcoin_txid: txid,
                bitcoin_block: block,
                bitcoin_height: block_height,
            })
            .sign(&self.chain.genesis().hash(), key);
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

    /// Recomputes the live anchors from the recorded ones and bitcoind.
    async fn judge(&self) {
        let recorded = match self.chain.store().recent_anchors(JUDGE_WINDOW) {
            Ok(r) => r,
            Err(e) => {
                warn!(target: "pantheon::anchor", "reading anchors: {e}");
                return;
            }
        };
        let mut live = BTreeMap::new();
        for (id, tx) in recorded {
            let TxBody::AnchorRecord(r) = tx.body() else {
                continue;
            };
            let hash =
                pantheon_anchor::bitcoin::BlockHash::from_byte_array(*r.bitcoin_block.as_bytes());
            let Ok(info) = self.rpc.get_block_header_info(&hash).await else {
                continue;
            };
            let Ok(confirmations) = u64::try_from(info.confirmations) else {
                continue; // -1: not in the best chain
            };
            if confirmations == 0 {
                continue;
            }
            let anchor = LiveAnchor {
                id,
                tx: tx.clone(),
                confirmations,
            };
            live.entry(r.height)
                .and_modify(|a: &mut LiveAnchor| {
                    if confirmations > a.confirmations {
                        *a = anchor.clone();
                    }
                })
                .or_insert(anchor);
        }
        write(&self.view).live = live;
    }
}

fn write(view: &SharedView) -> std::sync::RwLockWriteGuard<'_, AnchorView> {
    view.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
