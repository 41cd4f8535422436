//! The node's TOML configuration (`pantheon node --config FILE`).
//!
//! ```toml
//! home = "/var/lib/pantheon"          # data directory; relative paths below are inside it
//! genesis = "genesis.json"
//! validator_key = "validator.key"     # omit for a full node that does not vote
//!
//! [rpc]
//! addr = "127.0.0.1:9944"
//! max_request_bytes = 1048576
//! max_connections = 256
//! max_batch = 256
//!
//! [p2p]
//! listen = "/ip4/127.0.0.1/tcp/27000"
//! peers = ["/ip4/127.0.0.1/tcp/27001"]
//!
//! [consensus]
//! block_time_ms = 1000
//!
//! [mempool]
//! capacity = 100000
//! per_queue = 20000
//! ```
//!
//! Every section and field has a default except `home`; unknown fields are
//! errors.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Data directory.
    pub home: PathBuf,
    /// Genesis file (relative to `home` unless absolute).
    #[serde(default = "default_genesis")]
    pub genesis: PathBuf,
    /// Validator key file; `None` for a full node.
    #[serde(default)]
    pub validator_key: Option<PathBuf>,
    /// JSON-RPC.
    #[serde(default)]
    pub rpc: RpcConfig,
    /// Peer-to-peer networking.
    #[serde(default)]
    pub p2p: P2pConfig,
    /// Consensus timing.
    #[serde(default)]
    pub consensus: ConsensusConfig,
    /// Mempool limits.
    #[serde(default)]
    pub mempool: MempoolConfig,
}

fn default_genesis() -> PathBuf {
    "genesis.json".into()
}

/// JSON-RPC settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RpcConfig {
    /// Listen address (HTTP and WebSocket).
    pub addr: SocketAddr,
    /// Largest request body.
    pub max_request_bytes: u32,
    /// Most connections.
    pub max_connections: u32,
    /// Most calls per batch.
    pub max_batch: u32,
}

impl Default for RpcConfig {
    fn default() -> Self {
        let limits = pantheon_rpc::Limits::default();
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 9944)),
            max_request_bytes: limits.max_request_bytes,
            max_connections: limits.max_connections,
            max_batch: limits.max_batch,
        }
    }
}

/// Peer-to-peer settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct P2pConfig {
    /// Listen multiaddress.
    pub listen: String,
    /// Peers to dial.
    pub peers: Vec<String>,
}

impl Default for P2pConfig {
    fn default() -> Self {
        Self {
            listen: "/ip4/127.0.0.1/tcp/0".into(),
            peers: Vec::new(),
        }
    }
}

/// Consensus timing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsensusConfig {
    /// Target time between blocks.
    pub block_time_ms: u64,
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        Self {
            block_time_ms: 1000,
        }
    }
}

/// Mempool limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MempoolConfig {
    /// Most transactions.
    pub capacity: usize,
    /// Most transactions per signer and lane.
    pub per_queue: usize,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        let d = crate::mempool::MempoolLimits::default();
        Self {
            capacity: d.capacity,
            per_queue: d.per_queue,
        }
    }
}

impl Config {
    /// Reads and validates a TOML file.
    ///
    /// # Errors
    /// Unreadable file, TOML or validation errors.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        let config: Self =
            toml::from_str(&text).with_context(|| format!("parsing config {}", path.display()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that types alone do not.
    ///
    /// # Errors
    /// The first invalid value.
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.consensus.block_time_ms >= 50,
            "consensus.block_time_ms must be at least 50"
        );
        ensure!(
            self.mempool.capacity > 0,
            "mempool.capacity must be positive"
        );
        ensure!(
            self.mempool.per_queue > 0,
            "mempool.per_queue must be positive"
        );
        ensure!(
            self.rpc.max_request_bytes >= 16 * 1024,
            "rpc.max_request_bytes must be at least 16384"
        );
        Ok(())
    }

    /// A path from the config, inside `home` unless absolute.
    #[must_use]
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.home.join(path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses_and_unknown_fields_are_refused() {
        let text = r#"
home = "/var/lib/pantheon"
validator_key = "validator.key"
[rpc]
addr = "127.0.0.1:9944"
[p2p]
listen = "/ip4/127.0.0.1/tcp/27000"
peers = ["/ip4/127.0.0.1/tcp/27001"]
[consensus]
block_time_ms = 500
"#;
        let c: Config = toml::from_str(text).unwrap();
        c.validate().unwrap();
        assert_eq!(
            c.resolve(&c.genesis),
            PathBuf::from("/var/lib/pantheon/genesis.json")
        );
        assert_eq!(c.mempool.capacity, MempoolConfig::default().capacity);
        assert!(toml::from_str::<Config>(&format!("{text}\nbogus = 1")).is_err());
        let bad = text.replace("block_time_ms = 500", "block_time_ms = 1");
        assert!(toml::from_str::<Config>(&bad).unwrap().validate().is_err());
    }
}
