//! Bitcoin anchoring for Pantheon.
//!
//! This crate will commit the chain's state to Bitcoin in an OP_RETURN
//! transaction, track confirmations and reorgs, and build the Bitcoin part of
//! proof bundles. It depends only on `pantheon-runtime` and the `bitcoin`
//! crate, and talks to Bitcoin Core over JSON-RPC; it knows nothing of
//! libp2p or consensus.
//!
//! Status: empty until the anchoring issue; the crate exists so the
//! workspace layout and dependency direction are fixed from the start.
