//! Transaction relay: every transaction a node's clients submit reaches the
//! other nodes' mempools, so whichever validator proposes next can include
//! it.
//!
//! A node relays only what its own clients sent (one hop), to every URL in
//! `[relay] peers`, with the node-to-node method
//! `pantheon_relayTransactions` over the same JSON-RPC port users call.
//! Relayed transactions are checked like any other (signature, seq chain,
//! fee) and are never relayed again, so each transaction crosses each link
//! once. Exactly-once finality does not depend on the relay: the ledger
//! refuses a second copy (seq chain, nonces), and every mempool drops what a
//! committed block carried.
//!
//! Batches of up to [`BATCH`] transactions leave every [`LINGER`] at most;
//! each peer has its own queue and task, so a slow or stopped peer delays
//! nobody. When a peer's queue is full, batches for it are dropped (the
//! transaction is still in this node's mempool and will be proposed from
//! here when this node is a validator).

use std::sync::Arc;
use std::time::Duration;

use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use pantheon_rpc::types::RelayReport;
use pantheon_runtime::tx::SignedTx;
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// Most transactions per relay call (about 7 KB of JSON each, under the
/// default 1 MiB request limit).
pub const BATCH: usize = 128;
/// Longest wait to fill a batch.
pub const LINGER: Duration = Duration::from_millis(20);
/// Batches queued per peer before dropping.
const PEER_QUEUE: usize = 256;
/// Transactions queued from RPC before the relay sheds load.
const INBOX: usize = 100_000;

/// Starts the relay to `peers` (JSON-RPC URLs); returns the inbox that
/// [`crate::chain::Chain::set_relay`] takes, or `None` without peers.
#[must_use]
pub fn spawn(peers: &[String]) -> Option<mpsc::Sender<SignedTx>> {
    if peers.is_empty() {
        return None;
    }
    let (tx, rx) = mpsc::channel(INBOX);
    let outs: Vec<_> = peers
        .iter()
        .map(|url| {
            let (out, inbox) = mpsc::channel(PEER_QUEUE);
            tokio::spawn(send_to(url.clone(), inbox));
            (url.clone(), out)
        })
        .collect();
    tokio::spawn(batch(rx, outs));
    Some(tx)
}

async fn batch(
    mut rx: mpsc::Receiver<SignedTx>,
    outs: Vec<(String, mpsc::Sender<Arc<Vec<String>>>)>,
) {
    while let Some(first) = rx.recv().await {
        let mut txs = vec![hex::encode(first.as_bytes())];
        let deadline = tokio::time::Instant::now() + LINGER;
        while txs.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(tx)) => txs.push(hex::encode(tx.as_bytes())),
                Ok(None) | Err(_) => break,
            }
        }
        let txs = Arc::new(txs);
        for (url, out) in &outs {
            if out.try_send(txs.clone()).is_err() {
                warn!(target: "pantheon::relay", peer = %url, n = txs.len(), "peer queue full; batch not relayed");
            }
        }
    }
}

async fn send_to(url: String, mut inbox: mpsc::Receiver<Arc<Vec<String>>>) {
    let client = match HttpClientBuilder::default()
        .max_request_size(8 << 20)
        .request_timeout(Duration::from_secs(10))
        .build(&url)
    {
        Ok(c) => c,
        Err(e) => {
            warn!(target: "pantheon::relay", peer = %url, "bad relay peer URL: {e}");
            return;
        }
    };
    let mut failing = false;
    while let Some(txs) = inbox.recv().await {
        let n = txs.len();
        let result: Result<RelayReport, _> = client
            .request("pantheon_relayTransactions", rpc_params![txs.as_ref()])
            .await;
        match result {
            Ok(report) => {
                if failing {
                    debug!(target: "pantheon::relay", peer = %url, "relay peer reachable again");
                }
                failing = false;
                debug!(target: "pantheon::relay", peer = %url, n, ?report, "relayed");
            }
            Err(e) => {
                if !failing {
                    warn!(target: "pantheon::relay", peer = %url, "relay peer unreachable: {e}");
                }
                failing = true;
            }
        }
    }
}
