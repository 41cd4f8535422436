//! Bitcoin anchoring for Pantheon: commits the chain's state to Bitcoin in
//! an OP_RETURN output, follows the transaction through confirmations,
//! reorgs and fee bumps, and builds and checks the Bitcoin part of proof
//! bundles.
//!
//! It depends on `pantheon-runtime` and the `bitcoin` crate and talks to
//! Bitcoin Core over JSON-RPC, without a Bitcoin Core wallet: coins are
//! found with `scantxoutset`, transactions are built and signed here. It
//! knows nothing of libp2p or consensus; the node decides what to anchor
//! and records the outcome.
//!
//! | module | one idea |
//! |---|---|
//! | [`bitcoind`] | find the `bitcoind` binary; run a private regtest node; the one set of regtest flags (`regtest_args`) |
//! | [`fsio`] | the one durable file write (used by every crate above this one; `runtime` is pure) |
//! | [`rpc`] | a typed Bitcoin Core JSON-RPC client |
//! | [`payload`] | the 37-byte OP_RETURN payload `PNTH 01 <commitment>` |
//! | [`key`] | the node's P2WPKH key file (mode 0600) |
//! | [`txbuild`] | build and sign the anchor transaction and its replacements |
//! | [`merkle`] | Bitcoin's transaction Merkle tree |
//! | [`spv`] | the Bitcoin part of a proof bundle; offline and live checks |
//! | [`policy`] | network, confirmations, fee policy |
//! | [`engine`] | the anchor engine: a pure core (a tick is a function of the state, the time and bitcoind's answers) and the thin driver that asks bitcoind and writes the state file |
//! | [`ids`] | the one conversion between Bitcoin's ids and types and ours |
//! | [`verify`] | the one verification call for a proof bundle, down to Bitcoin |
//!
//! Invariants: every byte a verifier reads is specified in
//! `docs/FORMATS.md` (section 20); an anchor transaction is persisted before it is
//! broadcast, and replacements spend the same inputs, so one commitment is
//! never anchored by two transactions that can both confirm.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use pantheon_anchor::{AnchorEngine, AnchorKey, Policy, Regtest, Target};
//! use pantheon_runtime::{amount::Height, hash::Hash256};
//!
//! let bitcoind = Regtest::start("/tmp/pantheon-regtest").await?;
//! let key = AnchorKey::load_or_create("/tmp/pantheon-anchor/bitcoin.key".as_ref())?;
//! let policy = Policy::for_network(bitcoin::Network::Regtest);
//! bitcoind.mine(101, &key.address(policy.network)).await?; // fund the key
//! let mut engine = AnchorEngine::open(
//!     "/tmp/pantheon-anchor/anchor-state.json",
//!     key,
//!     bitcoind.rpc().clone(),
//!     policy,
//! )?;
//! engine.request(Target { height: Height::new(10), commitment: Hash256::digest(b"state") });
//! for event in engine.tick().await {
//!     println!("{event:?}");
//! }
//! # Ok(()) }
//! ```

pub mod bitcoind;
pub mod engine;
pub mod fsio;
pub mod ids;
pub mod key;
pub mod merkle;
pub mod payload;
pub mod policy;
pub mod rpc;
pub mod spv;
pub mod txbuild;
pub mod verify;

pub use bitcoin;
pub use bitcoind::{Regtest, find_bitcoind};
pub use engine::{AnchorEngine, AnchorEvent, AnchorInfo, AnchorStatus, EngineError, Target};
pub use key::AnchorKey;
pub use payload::AnchorPayload;
pub use policy::{FeePolicy, Policy};
pub use rpc::{Auth, BitcoinRpc, RpcError};
pub use spv::{BitcoinPart, Checkpoint, VerifiedAnchor};
pub use verify::{
    Checks, ExportVerdict, RecordVerdict, Trust, Verdict, verify_bundle, verify_operator_export,
    verify_record_proof,
};
