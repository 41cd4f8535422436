//! What the network layer and the anchor engine report about the node's
//! health, for `system_health` and `system_peers`.
//!
//! Consensus, the peer watcher and the anchor engine write into one
//! [`NetworkStatus`] behind a mutex; the RPC backend reads it. The types
//! here are the node's own, not the RPC's wire types, so that consensus
//! and anchoring depend on neither the RPC crate nor the backend.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How recently value sync must have handed us a block for the node to
/// report itself as catching up.
pub const SYNCING_WINDOW: Duration = Duration::from_secs(5);

/// Most equivocation reports kept.
pub const MAX_EVIDENCE: usize = 64;

/// One connected peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its libp2p peer id.
    pub id: String,
    /// Its address.
    pub address: String,
}

/// The regtest bitcoind a `pantheon dev` node runs and supervises.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ManagedBitcoind {
    /// Whether it runs now.
    pub running: bool,
    /// Times it was restarted after it exited.
    pub restarts: u32,
    /// How it last exited, if it ever did.
    pub last_exit: Option<String>,
}

/// The node's health as its tasks report it.
#[derive(Debug, Default, Clone)]
pub struct NetworkStatus {
    /// Connected peers, sorted by id.
    pub peers: Vec<Peer>,
    /// When value sync last handed us a block (we are catching up while
    /// this is recent).
    pub last_synced: Option<Instant>,
    /// Equivocation evidence seen, newest last, at most [`MAX_EVIDENCE`].
    pub equivocations: Vec<String>,
    /// Equivocation evidence seen since start, all of it (`/metrics`).
    pub equivocations_seen: u64,
    /// Operator-facing warnings, each starting with its source (`anchoring: `).
    pub warnings: Vec<String>,
    /// The supervised bitcoind of `pantheon dev` (`None` elsewhere).
    pub bitcoind: Option<ManagedBitcoind>,
}

impl NetworkStatus {
    /// Whether the node is catching up at `now`.
    #[must_use]
    pub fn syncing(&self, now: Instant) -> bool {
        self.last_synced
            .is_some_and(|t| now.saturating_duration_since(t) < SYNCING_WINDOW)
    }

    /// Records equivocation evidence, keeping the newest [`MAX_EVIDENCE`].
    pub fn record_equivocation(&mut self, report: String) {
        self.equivocations.push(report);
        self.equivocations_seen = self.equivocations_seen.saturating_add(1);
        let excess = self.equivocations.len().saturating_sub(MAX_EVIDENCE);
        self.equivocations.drain(..excess);
    }

    /// Replaces the warnings of `source` (e.g. `"anchoring"`) by `warning`.
    pub fn set_warning(&mut self, source: &str, warning: Option<String>) {
        let prefix = format!("{source}: ");
        self.warnings.retain(|w| !w.starts_with(&prefix));
        self.warnings
            .extend(warning.map(|w| format!("{prefix}{w}")));
    }
}

/// The status shared between the node's tasks.
pub type SharedStatus = Arc<Mutex<NetworkStatus>>;

/// Locks `status`, surviving a panicked writer (the status is advisory).
pub fn lock(status: &Mutex<NetworkStatus>) -> MutexGuard<'_, NetworkStatus> {
    status
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncing_only_while_value_sync_is_recent() {
        let t0 = Instant::now();
        let mut s = NetworkStatus::default();
        assert!(!s.syncing(t0));
        s.last_synced = Some(t0);
        assert!(s.syncing(t0 + Duration::from_secs(4)));
        assert!(!s.syncing(t0 + SYNCING_WINDOW));
    }

    #[test]
    fn evidence_is_bounded_and_warnings_replace_their_source() {
        let mut s = NetworkStatus::default();
        for i in 0..MAX_EVIDENCE + 3 {
            s.record_equivocation(format!("e{i}"));
        }
        assert_eq!(s.equivocations.len(), MAX_EVIDENCE);
        assert_eq!(s.equivocations[0], "e3");
        assert_eq!(s.equivocations_seen, MAX_EVIDENCE as u64 + 3);
        s.set_warning("anchoring", Some("wallet empty".into()));
        s.set_warning("other", Some("x".into()));
        s.set_warning("anchoring", Some("bitcoind down".into()));
        assert_eq!(s.warnings, ["other: x", "anchoring: bitcoind down"]);
        s.set_warning("anchoring", None);
        assert_eq!(s.warnings, ["other: x"]);
    }
}
