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
//!
//! ## Pure core, thin driver
//!
//! Every decision above is made by [`core::Core`], which does no I/O and
//! reads no clock: a tick is a pure function of the state, the time and
//! bitcoind's answers, replayed as answers arrive (see [`core`]).
//! [`AnchorEngine`] is the driver: it answers the core's questions with
//! [`BitcoinRpc`], writes the state file with [`crate::fsio`] when the core
//! asks (before every first send of a transaction) and at the end of the
//! tick, and logs the events. Table tests drive the core with written
//! answers; a seeded simulation (`sim`, tests only) drives it over a
//! simulated Bitcoin with reorgs, stuck transactions, outages and crashes;
//! the regtest tests drive the real thing.
//!
//! | module | one idea |
//! |---|---|
//! | [`core`] | the pure core: `Query`/`Answer`/`Step`, the tick's replay |
//! | `chain` | following Bitcoin: confirmations, reorgs, block scans (core) |
//! | `send` | coins, fees, signing, sending, replacing, abandoning (core) |
//! | `state` | the persisted state file |

mod chain;
pub mod core;
mod send;
#[cfg(test)]
mod sim;
pub mod state;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bitcoin::{Address, Amount, BlockHash, Network, Txid};
use pantheon_runtime::amount::Height;
use pantheon_runtime::hash::Hash256;
use serde::{Deserialize, Serialize};

use self::core::{Answer, Core, Io, Mode, Query};
use self::state::State;
use crate::key::AnchorKey;
use crate::policy::{Policy, PolicyError};
use crate::rpc::{BitcoinRpc, RpcError};
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
    /// When bitcoind last answered a tick, in Unix seconds.
    pub checked_at: Option<u64>,
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

/// The anchor engine: [`core::Core`] driven over bitcoind and the state
/// file. See the module docs.
#[derive(Debug)]
pub struct AnchorEngine {
    core: Core,
    io: RpcIo,
}

/// The engine's I/O: bitcoind's JSON-RPC and the state file.
#[derive(Debug)]
struct RpcIo {
    rpc: BitcoinRpc,
    path: PathBuf,
    /// `addr(<address>)`, the descriptor `scantxoutset` looks for.
    descriptor: String,
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
    ) -> Result<Self, EngineError> {
        policy.validate()?;
        let path = state_path.into();
        let state_err = |reason: String| EngineError::State {
            path: path.clone(),
            reason,
        };
        let fresh = Core::fresh_state(&key, &policy);
        let state = match State::load(&path).map_err(state_err)? {
            Some(state) => {
                if state.network != policy.network {
                    return Err(state_err(format!(
                        "written for {}, the policy says {}",
                        state.network, policy.network
                    )));
                }
                if state.script_pubkey != fresh.script_pubkey {
                    return Err(state_err(
                        "written for another anchor key; restore that key or move the file away"
                            .to_owned(),
                    ));
                }
                state
            }
            None => fresh,
        };
        let core = Core::new(state, key, policy);
        let descriptor = format!("addr({})", core.address());
        Ok(Self {
            core,
            io: RpcIo {
                rpc,
                path,
                descriptor,
            },
        })
    }

    /// The address whose coins pay for anchors.
    #[must_use]
    pub const fn address(&self) -> &Address {
        self.core.address()
    }

    /// The policy.
    #[must_use]
    pub const fn policy(&self) -> &Policy {
        self.core.policy()
    }

    /// The state file.
    #[must_use]
    pub fn state_path(&self) -> &Path {
        &self.io.path
    }

    /// Asks for `target` to be anchored ([`Core::request`]). Kept in memory
    /// until the next tick writes the state, so a node should request its
    /// latest commitment again after a restart.
    pub fn request(&mut self, target: Target) {
        self.core.request(target);
    }

    /// Does one round of work: follows the chain, (re)sends, replaces and
    /// starts the next anchor. Never fails; problems come back as events
    /// and in [`Self::status`].
    pub async fn tick(&mut self) -> Vec<AnchorEvent> {
        let (events, result) =
            core::drive(&mut self.core, &mut self.io, SystemTime::now(), Mode::Work).await;
        log(&events, &result);
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
    pub async fn prepare(&mut self) -> Result<Option<Txid>, EngineError> {
        let (events, result) = core::drive(
            &mut self.core,
            &mut self.io,
            SystemTime::now(),
            Mode::Prepare,
        )
        .await;
        log(&events, &result);
        result
    }

    /// The engine's state as of the last tick.
    #[must_use]
    pub fn status(&self) -> AnchorStatus {
        self.core.status()
    }
}

impl Io for RpcIo {
    async fn ask(&mut self, query: &Query) -> Result<Answer, RpcError> {
        let rpc = &self.rpc;
        Ok(match query {
            Query::Tip => Answer::Tip(rpc.get_blockchain_info().await?),
            Query::Header(hash) => Answer::Header(rpc.get_block_header_info(hash).await?),
            Query::BlockHash(height) => Answer::BlockHash(rpc.get_block_hash(*height).await?),
            Query::Block(hash) => Answer::Block(rpc.get_block_info(hash).await?),
            Query::InMempool(txid) => {
                Answer::InMempool(rpc.get_mempool_entry(txid).await?.is_some())
            }
            Query::Coins => Answer::Coins(
                rpc.scan_tx_out_set(std::slice::from_ref(&self.descriptor))
                    .await?,
            ),
            Query::MempoolInfo => Answer::MempoolInfo(rpc.get_mempool_info().await?),
            Query::FeeEstimate(blocks) => {
                Answer::FeeEstimate(rpc.estimate_smart_fee(*blocks).await?)
            }
            Query::TestAccept(tx) => Answer::TestAccept(rpc.test_mempool_accept(tx).await?),
            Query::Send(tx) => {
                rpc.send_raw_transaction(tx).await?;
                Answer::Sent
            }
            Query::TxOut(outpoint) => Answer::TxOut(
                rpc.get_tx_out(&outpoint.txid, outpoint.vout, false)
                    .await?
                    .is_some(),
            ),
            Query::BestHash => Answer::BestHash(rpc.get_best_block_hash().await?),
        })
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), EngineError> {
        let path = self.path.clone();
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || crate::fsio::write_atomic(&path, &bytes))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map_err(|reason| EngineError::State {
                path: self.path.clone(),
                reason,
            })
    }
}

/// The driver's log of a tick (the core logs nothing: it is replayed).
fn log(events: &[AnchorEvent], result: &Result<Option<Txid>, EngineError>) {
    for event in events {
        match event {
            AnchorEvent::Broadcast {
                target,
                txid,
                fee,
                replaces,
            } => {
                tracing::info!(target: "pantheon::anchor", %txid, height = target.height.get(), fee = fee.to_sat(), replaces = ?replaces, "anchor sent");
            }
            AnchorEvent::Confirmed {
                txid,
                block_hash,
                block_height,
                ..
            } => {
                tracing::info!(target: "pantheon::anchor", %txid, block = %block_hash, block_height, "anchor confirmed");
            }
            AnchorEvent::Reconnected => {
                tracing::info!(target: "pantheon::anchor", "bitcoind answers again");
            }
            other => tracing::warn!(target: "pantheon::anchor", "{other:?}"),
        }
    }
    match result {
        Err(e) if matches!(e, EngineError::State { .. }) => {
            tracing::error!(target: "pantheon::anchor", error = %e, "cannot write anchor state");
        }
        Err(e) if !e.is_unreachable() => {
            tracing::warn!(target: "pantheon::anchor", error = %e, "anchor tick failed");
        }
        _ => {}
    }
}
