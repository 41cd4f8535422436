//! Local Pantheon networks of real processes.
//!
//! A testnet is a directory with one manifest, `testnet.json`, and one home
//! per node:
//!
//! ```text
//! DIR/testnet.json        the manifest: chain, and per node its role, ports, paths
//! DIR/genesis.json        the one genesis every node loads
//! DIR/funder.key          the account holding the supply (mode 0600)
//! DIR/node-<i>/node.toml  node i's config (`pantheon node --config`)
//! DIR/node-<i>/node.log   its log (appended)
//! DIR/node-<i>/node.pid   its process id while it runs
//! ```
//!
//! This crate owns the layout ([`Manifest`]), the processes ([`process`]:
//! start detached, stop with SIGTERM then SIGKILL, liveness from the pid
//! file) and what `pantheon testnet status` reports ([`status`], over each
//! node's JSON-RPC). Writing keys, genesis and node configs is the node
//! crate's job (it owns their formats); `pantheon testnet init` does that and
//! then saves the manifest here. Nodes find each other over libp2p on
//! loopback through the `p2p.peers` of their configs. The shared bitcoind
//! runs with `pantheon_anchor::bitcoind::regtest_args`, the flags of every
//! regtest bitcoind Pantheon starts, and the manifest is written with
//! `pantheon_anchor::fsio`, the one durable-write helper.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pantheon_testnet::Error> {
//! let net = pantheon_testnet::Manifest::load(std::path::Path::new("testnet"))?;
//! pantheon_testnet::process::start(&net, 0, std::path::Path::new("pantheon"))?;
//! let report = pantheon_testnet::status::collect(&net).await;
//! assert!(report[0].running);
//! # Ok(()) }
//! ```

pub mod manifest;
pub mod process;
pub mod status;

pub use manifest::{Manifest, NodeEntry, Role};

/// What can go wrong driving a testnet.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The manifest is not valid JSON of the expected shape.
    #[error("{path}: not a testnet manifest: {source}")]
    Manifest {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// No node has this index.
    #[error("no node {index}: the testnet has nodes 0..{count}")]
    NoSuchNode {
        /// Asked for.
        index: usize,
        /// Nodes in the manifest.
        count: usize,
    },
    /// A process could not be started or signalled.
    #[error("node {index}: {message}")]
    Process {
        /// The node.
        index: usize,
        /// What happened.
        message: String,
    },
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}
