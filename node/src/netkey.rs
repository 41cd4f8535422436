//! The node's libp2p identity: one Ed25519 key in `<home>/p2p.key` (a
//! 32-byte seed, hex, mode 0600) names the node on libp2p (its peer id)
//! and signs the transaction batches it relays ([`crate::relay`]), so a
//! receiving node knows which node a batch came from.
//!
//! Created on first start (or by `pantheon testnet init`, which needs each
//! node's peer id for the others' `[relay] accept_from`), so the peer id is
//! stable across restarts.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use libp2p_identity::{Keypair, PeerId};

/// Loads `<home>/p2p.key`, creating it from system randomness if absent.
///
/// # Errors
/// An unreadable or malformed key file, or no randomness.
pub fn load_or_create(home: &Path) -> Result<Keypair> {
    let path = home.join("p2p.key");
    let mut seed = if path.exists() {
        let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
        let bytes =
            hex::decode(text.trim()).with_context(|| format!("{}: not hex", path.display()))?;
        <[u8; 32]>::try_from(bytes).map_err(|_| anyhow!("{}: not 32 bytes", path.display()))?
    } else {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| anyhow!("no system randomness: {e}"))?;
        pantheon_anchor::fsio::create_private(&path, hex::encode(seed).as_bytes())
            .with_context(|| path.display().to_string())?;
        seed
    };
    Keypair::ed25519_from_bytes(&mut seed).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// The peer id of `<home>/p2p.key` (created if absent).
///
/// # Errors
/// As [`load_or_create`].
pub fn peer_id(home: &Path) -> Result<PeerId> {
    Ok(load_or_create(home)?.public().to_peer_id())
}
