//! The testnet manifest, `DIR/testnet.json`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result, io_error};

/// File name of the manifest inside the testnet directory.
pub const FILE: &str = "testnet.json";

/// What a node does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Holds a validator key: proposes and votes.
    Validator,
    /// No key: follows consensus, checks certificates, serves RPC.
    Full,
}

/// One node of the testnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    /// Its index (0-based), as `stop <i>` and `start <i>` take it.
    pub index: usize,
    /// Validator or full node.
    pub role: Role,
    /// Its home directory, relative to the testnet directory.
    pub home: PathBuf,
    /// JSON-RPC listen address.
    pub rpc: SocketAddr,
    /// libp2p listen multiaddress.
    pub p2p: String,
}

impl NodeEntry {
    /// Its JSON-RPC URL.
    #[must_use]
    pub fn rpc_url(&self) -> String {
        format!("http://{}", self.rpc)
    }
}

/// The testnet's shared regtest bitcoind (data in `DIR/bitcoind`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BitcoinEntry {
    /// Its JSON-RPC port on 127.0.0.1.
    pub rpc_port: u16,
    /// Its P2P port on 127.0.0.1.
    pub p2p_port: u16,
    /// Seconds between the blocks the testnet's miner mines.
    pub block_secs: u64,
}

impl BitcoinEntry {
    /// Its JSON-RPC URL.
    #[must_use]
    pub fn rpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rpc_port)
    }
}

/// The manifest: where everything of one testnet is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The testnet directory (not serialized: where the manifest was read).
    #[serde(skip)]
    pub dir: PathBuf,
    /// The chain id in the genesis.
    pub chain_id: String,
    /// The genesis hash (hex) every node must report.
    pub genesis_hash: String,
    /// Target block time.
    pub block_time_ms: u64,
    /// The nodes, by index.
    pub nodes: Vec<NodeEntry>,
    /// The shared regtest bitcoind, if the testnet anchors.
    #[serde(default)]
    pub bitcoin: Option<BitcoinEntry>,
}

impl Manifest {
    /// Reads `dir/testnet.json`.
    ///
    /// # Errors
    /// Missing or malformed manifest.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
        let mut manifest: Self = serde_json::from_str(&text).map_err(|source| Error::Manifest {
            path: path.clone(),
            source,
        })?;
        // Absolute: node processes run in their own home directories, where
        // a relative `--dir` would name nothing.
        manifest.dir = dir.canonicalize().map_err(io_error(dir))?;
        Ok(manifest)
    }

    /// Writes `dir/testnet.json` atomically and durably (`pantheon_anchor::fsio`).
    ///
    /// # Errors
    /// I/O errors.
    pub fn save(&self) -> Result<()> {
        let path = self.dir.join(FILE);
        let text = serde_json::to_string_pretty(self).map_err(|source| Error::Manifest {
            path: path.clone(),
            source,
        })? + "\n";
        pantheon_anchor::fsio::write_atomic(&path, text.as_bytes()).map_err(io_error(&path))
    }

    /// Node `index`.
    ///
    /// # Errors
    /// [`Error::NoSuchNode`].
    pub fn node(&self, index: usize) -> Result<&NodeEntry> {
        self.nodes.get(index).ok_or(Error::NoSuchNode {
            index,
            count: self.nodes.len(),
        })
    }

    /// Node `index`'s home directory.
    ///
    /// # Errors
    /// [`Error::NoSuchNode`].
    pub fn home(&self, index: usize) -> Result<PathBuf> {
        Ok(self.dir.join(&self.node(index)?.home))
    }

    /// The shared bitcoind's data directory.
    #[must_use]
    pub fn bitcoin_dir(&self) -> PathBuf {
        self.dir.join("bitcoind")
    }

    /// The shared bitcoind's RPC cookie file.
    #[must_use]
    pub fn bitcoin_cookie(&self) -> PathBuf {
        self.bitcoin_dir().join("regtest").join(".cookie")
    }

    /// Node `index`'s config file.
    ///
    /// # Errors
    /// [`Error::NoSuchNode`].
    pub fn config(&self, index: usize) -> Result<PathBuf> {
        Ok(self.home(index)?.join("node.toml"))
    }

    /// The standard layout for `validators` validators followed by
    /// `full_nodes` full nodes, with node i's RPC on `base_port + 2i` and
    /// its libp2p on `base_port + 2i + 1`, all on 127.0.0.1.
    #[must_use]
    pub fn layout(
        dir: &Path,
        chain_id: String,
        genesis_hash: String,
        block_time_ms: u64,
        validators: usize,
        full_nodes: usize,
        base_port: u16,
    ) -> Self {
        let nodes = (0..validators + full_nodes)
            .map(|index| {
                let offset = u16::try_from(2 * index).unwrap_or(u16::MAX);
                let rpc_port = base_port.saturating_add(offset);
                NodeEntry {
                    index,
                    role: if index < validators {
                        Role::Validator
                    } else {
                        Role::Full
                    },
                    home: PathBuf::from(format!("node-{index}")),
                    rpc: SocketAddr::from(([127, 0, 0, 1], rpc_port)),
                    p2p: format!("/ip4/127.0.0.1/tcp/{}", rpc_port.saturating_add(1)),
                }
            })
            .collect();
        Self {
            dir: dir.to_path_buf(),
            chain_id,
            genesis_hash,
            block_time_ms,
            nodes,
            bitcoin: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_round_trips_and_names_ports() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest::layout(dir.path(), "t".into(), "00".into(), 500, 4, 1, 28000);
        assert_eq!(m.nodes.len(), 5);
        assert_eq!(m.nodes[4].role, Role::Full);
        assert_eq!(m.nodes[1].rpc_url(), "http://127.0.0.1:28002");
        assert_eq!(m.nodes[1].p2p, "/ip4/127.0.0.1/tcp/28003");
        m.save().unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), m);
        assert!(matches!(
            m.node(5),
            Err(Error::NoSuchNode { index: 5, count: 5 })
        ));
    }
}
