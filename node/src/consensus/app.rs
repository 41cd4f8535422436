//! The consensus host's driver: Malachite's app channel on one side, the
//! chain, the undecided store and the network on the other, and the pure
//! [`Host`] deciding every answer.
//!
//! For each `AppMsg` the driver calls the matching [`Host`] method with
//! the ledger's two pure questions ("is this block valid?", "build the
//! next block"), carries out the effects the host returns in order
//! (writes to the undecided store before the answer, publishing after
//! it), then answers (each `AppMsg` carries a oneshot `reply`; the
//! engine's host actor waits for it, so every arm replies, promptly). A
//! write that fails stops consensus: an answer is a promise.
//!
//! Strict execution verifies signatures the mempool has not seen and can
//! take a while for a large block: it runs with `block_in_place`, so the
//! runtime's other tasks (networking, RPC) move to other threads.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use eyre::{Result, eyre};
use malachitebft_app_channel::app::engine::host::SyncedValueOutcome;
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use pantheon_runtime::amount::Height;
use pantheon_runtime::block::Block;
use pantheon_runtime::codec::Encode;
use pantheon_runtime::crypto::{KeyCache, Keypair};
use tracing::{debug, error, info, warn};

use crate::chain::Chain;
use crate::consensus::context::{PantheonContext, ValidatorIndex, ValidatorSet};
pub use crate::consensus::host::AppConfig;
use crate::consensus::host::{Effect, Host, Restored, Tip};
use crate::consensus::signing::{PantheonSigner, PantheonVerifier, to_malachite_certificate};
use crate::consensus::sync_log::SyncProgress;
use crate::consensus::undecided::Undecided;
use crate::health::{self, SharedStatus};
use crate::now_ms;

type Ctx = PantheonContext;

/// Logs a catch-up line of [`SyncProgress`].
fn log_sync(l: &crate::consensus::sync_log::SyncLine) {
    let eta_s = l.eta.map(|d| d.as_secs());
    if l.caught_up {
        info!(target: "pantheon::sync", synced = l.synced, height = l.height,
            "caught up: {} blocks synced, at height {}", l.synced, l.height);
    } else {
        info!(
            target: "pantheon::sync",
            synced = l.synced,
            height = l.height,
            peers_height = l.peers_height,
            blocks_per_second = l.rate,
            eta_s,
            "catching up: {} blocks synced, height {} of about {} ({:.1} blocks/s, {})",
            l.synced,
            l.height,
            l.peers_height.map_or_else(|| "?".to_owned(), |h| h.to_string()),
            l.rate,
            eta_s.map_or_else(|| "no estimate of the time left".to_owned(), |s| format!("about {s} s left")),
        );
    }
}

/// The host and what it drives.
pub struct App {
    host: Host,
    chain: Arc<Chain>,
    store: Undecided,
    network: SharedStatus,
    sync: SyncProgress,
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
        let signer = keypair.map(|k| PantheonSigner::new(k, gh));
        let verifier = PantheonVerifier::new(gh, Arc::new(KeyCache::default()));
        let tip = chain.with_ledger(|l| Tip {
            height: l.height(),
            block: l.last_block(),
        });
        let (blocks, built, inits) = store.undecided(tip.height.next().get())?;
        let blocks = blocks
            .into_iter()
            .map(|b| {
                let valid = validate(&chain, &b);
                (b, valid)
            })
            .collect();
        let restored = Restored {
            blocks,
            built,
            inits,
        };
        let sync = SyncProgress::new(cfg.target_time);
        let host = Host::new(validators, me, signer, verifier, cfg, tip, restored);
        info!(
            height = %host.tip().height,
            undecided = host.undecided(),
            "consensus attached to the chain"
        );
        Ok(Self {
            host,
            chain,
            store,
            network,
            sync,
        })
    }

    /// Carries out the effects that come before an answer (all but
    /// publishing).
    fn persist(&self, effects: &[Effect]) -> Result<()> {
        for effect in effects {
            match effect {
                Effect::PersistBlock(hash) => {
                    let block = self
                        .host
                        .block(hash)
                        .ok_or_else(|| eyre!("undecided block {hash} vanished"))?;
                    self.store.put_undecided(block)?;
                }
                Effect::PersistInit(init) => self.store.put_init(init)?,
                Effect::PersistBuilt {
                    height,
                    round,
                    hash,
                } => self.store.put_built(*height, *round, *hash)?,
                Effect::PruneUndecided(h) => self.store.prune_undecided(*h)?,
                Effect::ImproveCertificate(cert) => {
                    if let Err(e) = self.chain.improve_certificate(cert) {
                        warn!(height = %cert.height, "keeping the first certificate: {e}");
                    }
                }
                Effect::Equivocation(report) => {
                    health::lock(&self.network).record_equivocation(report.clone());
                }
                Effect::Synced => health::lock(&self.network).last_synced = Some(Instant::now()),
                Effect::Publish(_) => {}
            }
        }
        Ok(())
    }

    /// Carries out the effects that come after an answer (publishing).
    async fn publish(&self, channels: &Channels<Ctx>, effects: Vec<Effect>) -> Result<()> {
        for effect in effects {
            if let Effect::Publish(msgs) = effect {
                for m in msgs {
                    channels
                        .network
                        .send(NetworkMsg::PublishProposalPart(m))
                        .await
                        .map_err(|e| eyre!("publishing a proposal part: {e}"))?;
                }
            }
        }
        Ok(())
    }

    /// Commits a decided block; tells the host.
    fn commit(
        &mut self,
        block: &Block,
        cert: &pantheon_runtime::block::CommitCertificate,
    ) -> Result<()> {
        // The chain checks the certificate, writes block, certificate and
        // state in one atomic batch, then applies them.
        self.chain
            .commit(block, cert)
            .map_err(|e| eyre!("commit: {e}"))?;
        let effects = self.host.committed(block);
        self.persist(&effects)
    }

    /// Serves value sync: block bytes and certificate per height.
    fn decided_values(&self, from: u64, to: u64) -> Result<Vec<RawDecidedValue<Ctx>>> {
        let store = self.chain.store();
        let mut values = Vec::new();
        for h in from..=to {
            let height = Height::new(h);
            let (Some(block), Some(cert)) = (store.block(height)?, store.certificate(height)?)
            else {
                break;
            };
            values.push(RawDecidedValue::new(
                Bytes::from(block.to_bytes()),
                to_malachite_certificate(&cert),
            ));
        }
        Ok(values)
    }
}

fn validate(chain: &Chain, block: &Block) -> bool {
    tokio::task::block_in_place(|| chain.validate(block))
        .inspect_err(|e| warn!(height = %block.header.height, "invalid block: {e}"))
        .is_ok()
}

/// Runs the application until consensus stops.
///
/// # Errors
/// When consensus closes its channel, or persisting fails.
pub async fn run(app: &mut App, channels: &mut Channels<Ctx>) -> Result<()> {
    while let Some(msg) = channels.consensus.recv().await {
        let chain = Arc::clone(&app.chain);
        let mut judge = |b: &Block| validate(&chain, b);
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let (start, params) = app.host.ready();
                info!(%start, "consensus ready");
                let _ = reply.send((start, params));
            }
            AppMsg::StartedRound {
                height,
                round,
                proposer,
                role,
                reply_value,
            } => {
                debug!(%height, %round, %proposer, ?role, "started round");
                app.chain
                    .counters()
                    .started_round(height.0.get(), round.as_i64());
                let (effects, values) = app.host.started_round(height, round, &mut judge);
                app.persist(&effects)?;
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue {
                height,
                round,
                timeout: _,
                reply,
            } => {
                let mut build =
                    |me: u16, time: u64| chain.propose(me, time).map_err(|e| e.to_string());
                let (effects, value) = app.host.get_value(height, round, now_ms(), &mut build);
                app.persist(&effects)?;
                // No value, no reply: consensus times out and prevotes nil.
                if let Some(value) = value {
                    let _ = reply.send(value);
                }
                app.publish(channels, effects).await?;
            }
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let peer = published_by.unwrap_or(from);
                let (effects, value) = app.host.received_part(peer, part, &mut judge);
                app.persist(&effects)?;
                let _ = reply.send(value);
            }
            AppMsg::Decided {
                certificate,
                extensions: _,
                reply,
            } => {
                match app.host.decided(&certificate) {
                    Ok(c) => match app.commit(&c.block, &c.certificate) {
                        Ok(()) => debug!(
                            height = %certificate.height, round = %certificate.round,
                            hash = %c.block.header.hash(), txs = c.block.txs.len(),
                            signers = c.certificate.signatures.len(), "decided"
                        ),
                        // The store refused the write (a failed write or
                        // fsync; RocksDB then refuses every later one): stop
                        // rather than stall, so that a restart recovers from
                        // what is on disk (node/tests/storage_faults.rs).
                        Err(e) => {
                            error!(height = %certificate.height, "cannot commit: {e}; stopping");
                            return Err(eyre!("commit of height {}: {e}", certificate.height));
                        }
                    },
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
                let (effects, next) = app.host.finalized(&certificate, &evidence);
                app.persist(&effects)?;
                let _ = reply.send(next);
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(app.host.history_min());
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let values = match app.host.decided_range(*range.start(), *range.end()) {
                    Some((from, to)) => {
                        let values = app.decided_values(from, to)?;
                        debug!(from, to, n = values.len(), "serving decided values");
                        values
                    }
                    None => Vec::new(),
                };
                let _ = reply.send(values);
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let (effects, outcome) =
                    app.host.synced_value(height, round, proposer, &value_bytes);
                app.persist(&effects)?;
                if let SyncedValueOutcome::Verdict(v) = &outcome {
                    let header = v.value.header();
                    if let Some(l) = app.sync.block(
                        Instant::now(),
                        now_ms(),
                        header.height.get(),
                        header.time_ms,
                    ) {
                        log_sync(&l);
                    }
                }
                let _ = reply.send(outcome);
            }
            AppMsg::RestreamProposal {
                height,
                round,
                valid_round,
                address,
                value_id,
            } => {
                let effects = app
                    .host
                    .restream(height, round, valid_round, address, value_id);
                app.publish(channels, effects).await?;
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
