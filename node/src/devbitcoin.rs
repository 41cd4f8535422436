//! The regtest Bitcoin Core that `pantheon dev` runs for itself: started on
//! loopback with temporary ports in `<home>/bitcoind`, the anchor key funded
//! by mining 101 blocks to it, then one block every few seconds so anchors
//! confirm; stopped when the node stops.
//!
//! It is supervised: a bitcoind that exits (crash, OOM kill, `kill -9`) is
//! reaped and started again on the same data directory and ports, after
//! 1 s, then 2, 4... up to [`MAX_BACKOFF`] while restarts keep failing (and
//! back to 1 s once it has run for [`STABLE`]). Anchoring resumes by
//! itself, since the node's RPC client points at the same port; meanwhile
//! `system_health` says bitcoind is down (`bitcoind.running`, a warning)
//! and how often it was restarted.
//!
//! A `bitcoind` left running by a node that was killed (SIGKILL gives it no
//! chance to stop its child) is stopped first, found by the pid file
//! Bitcoin Core keeps in its data directory.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result};
use pantheon_anchor::bitcoin::{Address, Network};
use pantheon_anchor::{AnchorKey, Regtest};
use tokio::sync::Mutex;

use crate::health::{self, ManagedBitcoind, SharedStatus};

/// Coinbase outputs mature after 100 blocks; 101 makes the first spendable.
const FUNDING_BLOCKS: u64 = 101;
/// How often the supervisor looks at the process.
const CHECK_EVERY: Duration = Duration::from_millis(500);
/// The longest wait between two restarts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Running this long resets the back-off.
const STABLE: Duration = Duration::from_secs(60);

/// A running dev bitcoind, its miner and its supervisor.
pub struct DevBitcoin {
    /// Its JSON-RPC URL (fixed across restarts).
    pub rpc_url: String,
    /// Its cookie file (rewritten at every start).
    pub cookie_file: PathBuf,
    /// Its data directory.
    pub datadir: PathBuf,
    node: Arc<Mutex<Regtest>>,
    report: Arc<OnceLock<SharedStatus>>,
    miner: Option<tokio::task::JoinHandle<()>>,
    supervisor: tokio::task::JoinHandle<()>,
}

impl DevBitcoin {
    /// Starts bitcoind in `<home>/bitcoind`, funds `key` and mines one block
    /// every `block_secs` seconds (never with 0: whoever drives the test
    /// network mines).
    ///
    /// # Errors
    /// bitcoind missing or failing to start.
    pub async fn start(home: &Path, key: &AnchorKey, block_secs: u64) -> Result<Self> {
        let datadir = home.join("bitcoind");
        stop_stale(&datadir).await;
        let node = Regtest::start(&datadir)
            .await
            .context("starting the regtest bitcoind (run scripts/ensure-bitcoind to build one)")?;
        let address = key.address(Network::Regtest);
        let height = node.rpc().get_block_count().await?;
        if height < FUNDING_BLOCKS {
            node.mine(FUNDING_BLOCKS - height, &address)
                .await
                .context("mining the funding blocks")?;
        }
        let miner = (block_secs > 0).then(|| {
            tokio::spawn(mine_forever(
                node.rpc().clone(),
                address,
                Duration::from_secs(block_secs),
            ))
        });
        let (rpc_url, cookie_file, datadir) = (
            node.rpc_url().to_owned(),
            node.cookie_file(),
            node.datadir().to_path_buf(),
        );
        let node = Arc::new(Mutex::new(node));
        let report = Arc::new(OnceLock::new());
        let supervisor = tokio::spawn(supervise(node.clone(), report.clone()));
        Ok(Self {
            rpc_url,
            cookie_file,
            datadir,
            node,
            report,
            miner,
            supervisor,
        })
    }

    /// Reports the supervisor's view into `status` (the node's health)
    /// from now on.
    pub fn report_to(&self, status: SharedStatus) {
        health::lock(&status).bitcoind = Some(ManagedBitcoind {
            running: true,
            ..ManagedBitcoind::default()
        });
        let _ = self.report.set(status);
    }

    /// Stops the supervisor, the miner and bitcoind.
    pub async fn stop(mut self) {
        self.supervisor.abort();
        if let Some(miner) = self.miner.take() {
            miner.abort();
        }
        if let Err(e) = self.node.lock().await.stop().await {
            tracing::warn!(target: "pantheon::anchor", "stopping bitcoind: {e}");
        }
    }
}

/// Restarts bitcoind whenever it exits, with back-off, and reports.
async fn supervise(node: Arc<Mutex<Regtest>>, report: Arc<OnceLock<SharedStatus>>) {
    let mut state = ManagedBitcoind {
        running: true,
        ..ManagedBitcoind::default()
    };
    let mut backoff = Duration::from_secs(1);
    let mut up_since = tokio::time::Instant::now();
    let publish = |state: &ManagedBitcoind, warning: Option<String>| {
        if let Some(status) = report.get() {
            let mut s = health::lock(status);
            s.bitcoind = Some(state.clone());
            s.set_warning("bitcoind", warning);
        }
    };
    loop {
        tokio::time::sleep(CHECK_EVERY).await;
        let Some(exit) = node.lock().await.exited() else {
            if up_since.elapsed() >= STABLE {
                backoff = Duration::from_secs(1);
            }
            publish(&state, None);
            continue;
        };
        state.running = false;
        state.last_exit = Some(exit.clone());
        loop {
            tracing::warn!(
                target: "pantheon::anchor",
                %exit,
                restart_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                "the managed bitcoind exited; restarting it"
            );
            publish(
                &state,
                Some(format!(
                    "the managed bitcoind exited ({exit}); restarting in {} s",
                    backoff.as_secs()
                )),
            );
            tokio::time::sleep(backoff).await;
            match node.lock().await.restart().await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(target: "pantheon::anchor", "restarting bitcoind: {e}");
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        state.running = true;
        state.restarts = state.restarts.saturating_add(1);
        up_since = tokio::time::Instant::now();
        tracing::info!(target: "pantheon::anchor", restarts = state.restarts, "the managed bitcoind runs again");
        publish(&state, None);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn mine_forever(rpc: pantheon_anchor::BitcoinRpc, address: Address, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = rpc.generate_to_address(1, &address).await {
            tracing::debug!(target: "pantheon::anchor", "mining a regtest block: {e}");
        }
    }
}

/// Stops a bitcoind that still runs on `datadir` (its `regtest/bitcoind.pid`).
async fn stop_stale(datadir: &Path) {
    let pid_file: PathBuf = datadir.join("regtest").join("bitcoind.pid");
    let Some(pid) = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
    else {
        return;
    };
    let target = nix::unistd::Pid::from_raw(pid);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if !String::from_utf8_lossy(&cmdline).contains("bitcoind") {
        return;
    }
    tracing::warn!(target: "pantheon::anchor", pid, "stopping a bitcoind left running on {}", datadir.display());
    let _ = nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGTERM);
    for _ in 0..600 {
        if nix::sys::signal::kill(target, None).is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGKILL);
}
