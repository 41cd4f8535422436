//! The anchor engine: turns "anchor this commitment" requests into Bitcoin
//! transactions, follows them to confirmation, through reorgs and stuck
//! mempools, and reports what happened.
//!
//! The node calls [`AnchorEngine::request`] when a commitment should be
//! anchored and [`AnchorEngine::tick`] every few seconds; `tick` returns
//! [`AnchorEvent`]s. Between ticks nothing runs.
//!
//! ```text
//!  request ──> waiting (newest only) ──build, sign, PERSIST──> unconfirmed
//!                                                   │  send; replace (RBF)
//!                                                   │  after N blocks
//!                   reorg: back to unconfirmed <──  ▼
//!                                               in block ──k conf──> Confirmed
//!                                                   │ watch_depth
//!                                                   ▼
//!                                               settled (history)
//! ```
//!
//! Invariants:
//! - At most one anchor is unconfirmed at a time (a reorg may bring back
//!   more); targets requested meanwhile wait, and only the newest is kept,
//!   since it commits to everything before it. One transaction per
//!   interval, whatever the load.
//! - A signed transaction is written to the state file before bitcoind
//!   first sees it. After a crash the same transaction is sent again, or
//!   found confirmed. A commitment only ever gets another transaction as a
//!   replacement spending the same inputs, so at most one can confirm; the
//!   one exception is an anchor whose inputs were spent by a transaction
//!   that is not ours (the key is used elsewhere, or the coin's own block
//!   was reorged away): it is abandoned ([`AnchorEvent::Abandoned`]) and
//!   its target anchored again with other coins.
//! - Coins come from `scantxoutset` (confirmed outputs only), minus the
//!   inputs of our unconfirmed transactions and immature coinbase outputs.
//! - Confirmation is found without a wallet or `-txindex`: an unconfirmed
//!   anchor still in the mempool is not in any block; otherwise the blocks
//!   after the last one checked are searched for any of its versions'
//!   txids. A block that leaves the best chain (`getblockheader`
//!   confirmations -1) puts its anchor back to unconfirmed.
//! - Errors never panic: an unreachable bitcoind gives one
//!   [`AnchorEvent::Unreachable`] and the engine resumes when it answers;
//!   an empty wallet gives [`AnchorEvent::NoFunds`] with the address to
//!   fund.
//!
//! Events are reported once and the state that produced them is written at
//! the end of the tick: a node that crashes after a tick but before acting
//! on its events should, at start, compare [`AnchorEngine::status`]
//! (`confirmed` lists every anchor still watched or recently settled, with
//! its txid and block) with what it has recorded.

mod chain;
mod send;
mod state;

use std::path::{Path, PathBuf};

use bitcoin::{Address, Amount, BlockHash, Network, Txid};
use pantheon_runtime::amount::Height;
use pantheon_runtime::hash::Hash256;
use serde::{Deserialize, Serialize};

use self::state::{BlockRef, Phase, State};
use crate::key::AnchorKey;
use crate::policy::{Policy, PolicyError};
use crate::rpc::{BitcoinRpc, RpcError, Unspent, codes};
use crate::txbuild::TxBuildError;

/// Coinbase outputs are spendable after this many confirmations.
const COINBASE_MATURITY: u64 = 100;
/// Blocks searched per tick at most (the rest next tick).
const MAX_SCAN_PER_TICK: u64 = 200;
/// How far back to search when the last block checked is unknown.
const SCAN_LOOKBACK: u64 = 144;

/// What to anchor: the commitment to the Pantheon chain at `height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The Pantheon height committed to.
    pub height: Height,
    /// The 32-byte commitment written into the OP_RETURN output.
    pub commitment: Hash256,
}

/// What a tick observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnchorEvent {
    /// bitcoind accepted a transaction for `target` (sent again after a
    /// restart, the same transaction may be reported again).
    Broadcast {
        /// The target.
        target: Target,
        /// The transaction.
        txid: Txid,
        /// The fee it pays.
        fee: Amount,
        /// The version it replaces (RBF), if any.
        replaces: Option<Txid>,
    },
    /// The anchor has the confirmations the policy asks for.
    Confirmed {
        /// The target.
        target: Target,
        /// The transaction that confirmed.
        txid: Txid,
        /// Its block.
        block_hash: BlockHash,
        /// The block's height.
        block_height: u64,
        /// Its confirmations now.
        confirmations: u64,
    },
    /// A block holding a reported anchor left the best chain; the anchor is
    /// pending again and will be confirmed again (maybe in another block).
    Reorged {
        /// The target.
        target: Target,
        /// The transaction.
        txid: Txid,
        /// The block it was in.
        block_hash: BlockHash,
    },
    /// bitcoind stopped answering (reported once per outage).
    Unreachable {
        /// Why.
        error: String,
    },
    /// bitcoind answers again.
    Reconnected,
    /// The coins cannot pay for an anchor (reported once per shortfall).
    NoFunds {
        /// The address to fund.
        address: Address,
        /// The fee of one anchor.
        needed: Amount,
        /// What the coins are worth.
        available: Amount,
    },
    /// The anchor's inputs were spent by a transaction that is not ours;
    /// its target is anchored again with other coins.
    Abandoned {
        /// The target.
        target: Target,
        /// The versions that can no longer confirm.
        txids: Vec<Txid>,
    },
}

/// One anchor in [`AnchorStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnchorInfo {
    /// The target.
    pub target: Target,
    /// The newest version, or the one in a block.
    pub txid: Txid,
    /// How many versions were signed (1 + replacements).
    pub versions: usize,
    /// Its block, once in one.
    pub block_hash: Option<BlockHash>,
    /// The block's height.
    pub block_height: Option<u64>,
    /// Confirmations at the last tick (0 when unconfirmed).
    pub confirmations: u64,
}

/// The engine's state for `system_health` and `pantheon anchor status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnchorStatus {
    /// The network.
    pub network: Network,
    /// The address to fund.
    pub address: String,
    /// Whether bitcoind answered at the last tick (`None` before the first).
    pub reachable: Option<bool>,
    /// Bitcoin's best height at the last tick.
    pub tip_height: Option<u64>,
    /// Spendable confirmed balance at the last coin scan, in satoshis.
    #[serde(with = "bitcoin::amount::serde::as_sat::opt")]
    pub balance: Option<Amount>,
    /// The target waiting for the current anchor to confirm.
    pub waiting: Option<Target>,
    /// Anchors not yet confirmed as deep as the policy asks.
    pub pending: Vec<AnchorInfo>,
    /// Confirmed anchors, still watched or recently settled, oldest first.
    pub confirmed: Vec<AnchorInfo>,
    /// The last problem, cleared by a tick without one.
    pub last_error: Option<String>,
}

/// Engine errors (a tick reports them in events and the status; only
/// [`AnchorEngine::open`] and [`AnchorEngine::prepare`] return them).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// bitcoind failed or could not be reached.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The policy is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// bitcoind runs another chain.
    #[error("bitcoind runs chain {node:?}, the policy says {expected}")]
    WrongNetwork {
        /// The policy's network.
        expected: Network,
        /// bitcoind's `chain`.
        node: String,
    },
    /// The state file cannot be read or written, or belongs to another key
    /// or network.
    #[error("anchor state file {path}: {reason}")]
    State {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A transaction could not be built.
    #[error(transparent)]
    Build(#[from] TxBuildError),
}

impl EngineError {
    /// True when bitcoind could not be reached.
    #[must_use]
    pub const fn is_unreachable(&self) -> bool {
        matches!(self, Self::Rpc(e) if e.is_unreachable())
    }
}

type Result<T> = std::result::Result<T, EngineError>;

/// What a send attempt came to.
enum Sent {
    Accepted,
    FeeTooLow,
    InputsMissing,
    Refused,
}

#[derive(Debug, Default)]
struct Health {
    reachable: Option<bool>,
    tip: Option<BlockRef>,
    balance: Option<Amount>,
    last_error: Option<String>,
    /// The shortfall last reported, so it is reported once.
    no_funds: Option<Amount>,
    /// Our confirmed outputs as of a tip: they only change with a new block,
    /// and `scantxoutset` reads the whole UTXO set (a minute on mainnet).
    coins: Option<(BlockHash, Vec<Unspent>)>,
}

/// The anchor engine. See the module docs.
#[derive(Debug)]
pub struct AnchorEngine {
    rpc: BitcoinRpc,
    key: AnchorKey,
    policy: Policy,
    address: Address,
    path: PathBuf,
    state: State,
    dirty: bool,
    health: Health,
}

impl AnchorEngine {
    /// Opens the engine with its state file at `state_path` (created at the
    /// first write), spending with `key` through `rpc`.
    ///
    /// # Errors
    /// [`EngineError::Policy`], or [`EngineError::State`] when the file
    /// cannot be read or was written for another key or network.
    pub fn open(
        state_path: impl Into<PathBuf>,
        key: AnchorKey,
        rpc: BitcoinRpc,
        policy: Policy,
    ) -> Result<Self> {
        policy.validate()?;
        let path = state_path.into();
        let script = key.script_pubkey().to_hex_string();
        let state_err = |reason: String| EngineError::State {
            path: path.clone(),
            reason,
        };
        let state = match State::load(&path).map_err(state_err)? {
            Some(state) => {
                if state.network != policy.network {
                    return Err(state_err(format!(
                        "written for {}, the policy says {}",
                        state.network, policy.network
                    )));
                }
                if state.script_pubkey != script {
                    return Err(state_err(
                        "written for another anchor key; restore that key or move the file away"
                            .to_owned(),
                    ));
                }
                state
            }
            None => State::new(policy.network, script),
        };
        let address = key.address(policy.network);
        Ok(Self {
            rpc,
            key,
            policy,
            address,
            path,
            state,
            dirty: false,
            health: Health::default(),
        })
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

    /// The state file.
    #[must_use]
    pub fn state_path(&self) -> &Path {
        &self.path
    }

    /// Asks for `target` to be anchored. It replaces any waiting target
    /// with a lower height and is ignored if a target at least as high is
    /// already anchored or on its way. Kept in memory until the next tick
    /// writes the state, so a node should request its latest commitment
    /// again after a restart.
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
        self.dirty = true;
    }

    /// Does one round of work: follows the chain, (re)sends, replaces and
    /// starts the next anchor. Never fails; problems come back as events
    /// and in [`Self::status`].
    pub async fn tick(&mut self) -> Vec<AnchorEvent> {
        let mut events = Vec::new();
        let result = self.step(&mut events).await;
        self.conclude(result, &mut events).await;
        events
    }

    /// The first half of starting an anchor, for crash tests and tools:
    /// builds, signs and persists the transaction for the waiting target
    /// without sending it. Returns its txid, or `None` when there is
    /// nothing to do (no waiting target, an anchor already unconfirmed, no
    /// funds).
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn prepare(&mut self) -> Result<Option<Txid>> {
        let mut events = Vec::new();
        let tip = self.chain_tip().await?;
        let created = self.create_next(tip, &mut events).await?;
        Ok(created.map(|i| self.state.anchors[i].latest().tx.compute_txid()))
    }

    /// The engine's state as of the last tick.
    #[must_use]
    pub fn status(&self) -> AnchorStatus {
        let mut pending = Vec::new();
        let mut confirmed = Vec::new();
        for s in &self.state.recent {
            confirmed.push(AnchorInfo {
                target: s.target,
                txid: s.txid,
                versions: 1,
                block_hash: Some(s.block_hash),
                block_height: Some(s.block_height),
                confirmations: self.depth(s.block_height),
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
                info.confirmations = self.depth(block_height);
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
            tip_height: self.health.tip.map(|t| t.height),
            balance: self.health.balance,
            waiting: self.state.waiting,
            pending,
            confirmed,
            last_error: self.health.last_error.clone(),
        }
    }

    fn depth(&self, block_height: u64) -> u64 {
        self.health
            .tip
            .map_or(0, |t| (t.height + 1).saturating_sub(block_height))
    }

    async fn conclude(&mut self, result: Result<()>, events: &mut Vec<AnchorEvent>) {
        match result {
            Ok(()) => {
                if self.health.reachable == Some(false) {
                    tracing::info!(target: "pantheon::anchor", "bitcoind answers again");
                    events.push(AnchorEvent::Reconnected);
                }
                self.health.reachable = Some(true);
            }
            Err(e) if e.is_unreachable() => {
                if self.health.reachable != Some(false) {
                    tracing::warn!(target: "pantheon::anchor", error = %e, "bitcoind unreachable; anchoring paused");
                    events.push(AnchorEvent::Unreachable {
                        error: e.to_string(),
                    });
                }
                self.health.reachable = Some(false);
                self.health.last_error = Some(e.to_string());
            }
            Err(e) => {
                tracing::warn!(target: "pantheon::anchor", error = %e, "anchor tick failed");
                self.health.last_error = Some(e.to_string());
            }
        }
        if self.dirty
            && let Err(e) = self.persist().await
        {
            tracing::error!(target: "pantheon::anchor", error = %e, "cannot write anchor state");
            self.health.last_error = Some(e.to_string());
        }
    }

    async fn persist(&mut self) -> Result<()> {
        let bytes = self.state.to_bytes();
        let path = self.path.clone();
        let written = tokio::task::spawn_blocking(move || crate::fsio::write_atomic(&path, &bytes))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        match written {
            Ok(()) => {
                self.dirty = false;
                Ok(())
            }
            Err(reason) => Err(EngineError::State {
                path: self.path.clone(),
                reason,
            }),
        }
    }

    async fn chain_tip(&mut self) -> Result<BlockRef> {
        let info = self.rpc.get_blockchain_info().await?;
        if info.chain != self.policy.network.to_core_arg() {
            return Err(EngineError::WrongNetwork {
                expected: self.policy.network,
                node: info.chain,
            });
        }
        let tip = BlockRef {
            height: info.blocks,
            hash: info.bestblockhash,
        };
        self.health.tip = Some(tip);
        if info.initialblockdownload && self.policy.network != Network::Regtest {
            return Err(EngineError::Rpc(RpcError::Rpc {
                method: "getblockchaininfo".to_owned(),
                code: codes::IN_WARMUP,
                message: "bitcoind is in initial block download".to_owned(),
            }));
        }
        Ok(tip)
    }

    async fn step(&mut self, events: &mut Vec<AnchorEvent>) -> Result<()> {
        let tip = self.chain_tip().await?;
        self.health.last_error = None;
        let in_mempool = self.follow_chain(tip, events).await?;
        self.push_unconfirmed(tip, &in_mempool, events).await?;
        if let Some(index) = self.create_next(tip, events).await? {
            let outcome = self.send(index, tip, events).await?;
            self.after_send(index, outcome, tip, events).await?;
        }
        Ok(())
    }

    #[cfg(test)]
    fn state(&self) -> &State {
        &self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::Auth;
    use bitcoin::secp256k1::SecretKey;

    fn engine(dir: &Path) -> AnchorEngine {
        let key = AnchorKey::from_secret(SecretKey::from_slice(&[5; 32]).unwrap());
        let rpc = BitcoinRpc::new("http://127.0.0.1:1", Auth::Cookie(dir.join("none")));
        AnchorEngine::open(
            dir.join("state.json"),
            key,
            rpc,
            Policy::for_network(Network::Regtest),
        )
        .unwrap()
    }

    fn target(h: u64) -> Target {
        Target {
            height: Height::new(h),
            commitment: Hash256::digest(&h.to_be_bytes()),
        }
    }

    #[test]
    fn only_the_newest_waiting_target_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = engine(dir.path());
        e.request(target(5));
        e.request(target(3));
        assert_eq!(e.state().waiting, Some(target(5)));
        e.request(target(9));
        assert_eq!(e.state().waiting, Some(target(9)));
        assert_eq!(e.status().waiting, Some(target(9)));
    }

    #[tokio::test]
    async fn unreachable_bitcoind_is_an_event_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = engine(dir.path());
        e.request(target(1));
        let events = e.tick().await;
        assert!(
            matches!(events.as_slice(), [AnchorEvent::Unreachable { .. }]),
            "{events:?}"
        );
        // Reported once per outage.
        assert!(e.tick().await.is_empty());
        let status = e.status();
        assert_eq!(status.reachable, Some(false));
        assert!(status.last_error.is_some());
        // The waiting target was persisted.
        let text = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
        assert!(text.contains(&target(1).commitment.to_string()));
    }

    #[test]
    fn refuses_state_of_another_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = engine(dir.path());
        e.request(target(1));
        e.state.to_bytes();
        crate::fsio::write_atomic(&dir.path().join("state.json"), &e.state.to_bytes()).unwrap();
        let other = AnchorKey::from_secret(SecretKey::from_slice(&[6; 32]).unwrap());
        let rpc = BitcoinRpc::new("http://127.0.0.1:1", Auth::Cookie(dir.path().join("x")));
        let err = AnchorEngine::open(
            dir.path().join("state.json"),
            other,
            rpc,
            Policy::for_network(Network::Regtest),
        )
        .unwrap_err();
        assert!(matches!(err, EngineError::State { .. }), "{err}");
    }
}
