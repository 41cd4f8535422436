//! The Pantheon node and the `pantheon` command-line tool, as a library
//! with a thin binary (`src/main.rs`), so that the command line, the node
//! and the tests share one code path.
//!
//! One binary serves all three users: operators (`keys`, `operator
//! register`, `submit`, `proof`, `transfer`, `balance`), verifiers
//! (`verify`) and validators (`dev`, `node`, `testnet`, `anchor`, `bench`).
//! Commands print a human-readable result, or JSON with `--json`; exit
//! status 0 means success, anything else names the failure on stderr.
//!
//! # Layout
//!
//! Data flows one way, from the edges (RPC, libp2p, bitcoind) through the
//! chain to the store:
//!
//! ```text
//! cli/ ──► client ──► (JSON-RPC) ──► rpc crate ──► backend ──┐
//!   │                                                        ▼
//!   └────► service ──► consensus/ ──► chain ──► store, mempool
//!               │                       ▲
//!               ├────► anchoring ───────┘  (and health, which consensus,
//!               └────► relay                anchoring and backend share)
//! ```
//!
//! - [`cli`]: the clap tree and one module per command; the only module
//!   that prints (`clippy::print_stdout` and `print_stderr` are denied
//!   elsewhere).
//! - `client`: the typed JSON-RPC client (`PantheonRpcClient`, generated
//!   from the server's trait in `pantheon-rpc`) plus local signing.
//! - `service`: runs a node: store, chain, anchoring, RPC, consensus.
//! - `backend`: the RPC backend, answering from local state only; the one
//!   module that builds RPC wire types.
//! - `health`: what consensus, the peer watcher and anchoring report for
//!   `system_health`, in the node's own types.
//! - `chain`, `store`, `mempool`: the ledger behind the operations
//!   consensus and RPC need, RocksDB, and the admission queue. They import
//!   no RPC type (`grep -rn pantheon_rpc node/src/chain.rs node/src/store.rs
//!   node/src/mempool.rs node/src/consensus` is empty).
//! - `consensus/`: Malachite behind our context, codec and signing; the
//!   host that answers Malachite is a pure core (`consensus::host`: one
//!   method per request, returning its answer and effects, time as an
//!   argument) and a driver (`consensus::app`) that carries the effects
//!   out, in the same shape as `pantheon-anchor`'s engine (ADR 0016).
//! - `anchoring`: the node's side of `pantheon-anchor`.
//! - `relay`, `config`, `keyfile`, `devbitcoin`: transaction relay, the
//!   TOML configuration, key files, and the managed regtest bitcoind.
//!
//! No module imports one that imports it back (`anchoring` and `backend`
//! both use `health`; neither uses the other's types but `backend` reads
//! `anchoring`'s view).
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;

mod anchoring;
mod backend;
mod chain;
mod client;
mod config;
mod consensus;
mod devbitcoin;
mod health;
mod keyfile;
mod mempool;
mod metrics;
mod netkey;
mod receipts;
mod relay;
mod service;
mod store;

/// The wall clock, ms since the Unix epoch (0 before it, `u64::MAX` past
/// what a u64 holds).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
