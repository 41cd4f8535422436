//! The node's consensus codec and the context types it encodes, compiled
//! from the node's own source files (the crate docs say why).
#![allow(
    missing_docs,
    dead_code,
    clippy::all,
    reason = "the node's files, compiled here only to be fuzzed"
)]

#[path = "../../node/src/consensus/context.rs"]
pub mod context;

#[path = "../../node/src/consensus/codec.rs"]
pub mod codec;
