//! Consensus: Malachite (Tendermint with 2f+1 certificates of individual
//! signatures) driving the [`crate::chain::Chain`], over libp2p.
//!
//! The engine, `arc-malachitebft-*` pinned at 0.8.2, stays behind this
//! module; nothing else in the node names a Malachite type.
//!
//! | module | role |
//! |---|---|
//! | [`context`] | Malachite `Context` for Pantheon: heights, validator indexes, block headers as values |
//! | [`signing`] | ML-DSA-65 signer and verifier; Malachite certificates <-> [`pantheon_runtime::block::CommitCertificate`] |
//! | [`codec`] | wire and WAL encoding of every Malachite message |
//! | [`host`] | the pure core of the consensus host: one method per Malachite request (build, stream, reassemble, judge, commit, serve sync), returning its answer and the effects to carry out; no I/O, time as an argument |
//! | [`app`] | the driver: Malachite's app channel in, the host's answers out, its effects carried out on the chain, the undecided store and the network |
//! | [`sync_log`] | a log line every few seconds while value sync catches the node up: blocks synced, rate, estimated peers' height and time left |
//! | [`undecided`] | what consensus persists beside its WAL so it never equivocates after a restart |
//! | [`engine`] | Malachite configuration, network identity, engine start-up |
//!
//! One validator or many, the code path is the same: a block is final only
//! with precommits of validators holding more than two thirds of the power,
//! and every decided block is committed to the chain with its certificate.

pub mod app;
pub mod codec;
pub mod context;
pub mod engine;
pub mod host;
#[cfg(test)]
mod host_tests;
pub mod signing;
pub mod sync_log;
pub mod undecided;
