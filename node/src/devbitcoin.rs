//! The regtest Bitcoin Core that `pantheon dev` runs for itself: started on
//! loopback with temporary ports in `<home>/bitcoind`, the anchor key funded
//! by mining 101 blocks to it, then one block every few seconds so anchors
//! confirm; stopped when the node stops.
//!
//! A `bitcoind` left running by a node that was killed (SIGKILL gives it no
//! chance to stop its child) is stopped first, found by the pid file
//! Bitcoin Core keeps in its data directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use pantheon_anchor::bitcoin::{Address, Network};
use pantheon_anchor::{AnchorKey, Regtest};

/// Coinbase outputs mature after 100 blocks; 101 makes the first spendable.
const FUNDING_BLOCKS: u64 = 101;

/// A running dev bitcoind and its miner.
pub struct DevBitcoin {
    /// The process.
    pub node: Regtest,
    miner: Option<tokio::task::JoinHandle<()>>,
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
        Ok(Self { node, miner })
    }

    /// Stops the miner and bitcoind.
    pub async fn stop(mut self) {
        if let Some(miner) = self.miner.take() {
            miner.abort();
        }
        if let Err(e) = self.node.stop().await {
            tracing::warn!(target: "pantheon::anchor", "stopping bitcoind: {e}");
        }
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
