//! Local Pantheon networks of real processes.
//!
//! This crate will drive real `pantheon` node processes and a regtest
//! `bitcoind` on loopback: `pantheon testnet init|up|status|stop|start|down`
//! and the process-level tests built on them.
//!
//! Status: empty until the multi-validator issue; the crate exists so the
//! workspace layout and dependency direction are fixed from the start.
