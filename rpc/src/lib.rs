//! Pantheon's JSON-RPC API.
//!
//! This crate will hold the jsonrpsee API traits and server for the methods
//! of `PRODUCT.md` (`pantheon_*`, `chain_*`, `pan_*`, `anchor_*`,
//! `system_*`, `rpc.discover`), implemented over read and submit traits that
//! the node provides. It never reaches into node internals.
//!
//! Status: empty until the node issue; the crate exists so the workspace
//! layout and dependency direction are fixed from the start.
