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
use jsonrpsee::core::traits::ToRpcParams;
use jsonrpsee::http_client::HttpClientBuilder;
use pantheon_rpc::types::RelayReport;
use pantheon_runtime::tx::SignedTx;
use serde_json::value::RawValue;
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

async fn batch(mut rx: mpsc::Receiver<SignedTx>, outs: Vec<(String, mpsc::Sender<Params>)>) {
    while let Some(first) = rx.recv().await {
        let mut txs = vec![first];
        let deadline = tokio::time::Instant::now() + LINGER;
        while txs.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(tx)) => txs.push(tx),
                Ok(None) | Err(_) => break,
            }
        }
        let params = match params(&txs) {
            Ok(p) => Params(Arc::new(p)),
            Err(e) => {
                warn!(target: "pantheon::relay", "relay batch not encoded: {e}");
                continue;
            }
        };
        for (url, out) in &outs {
            if out.try_send(params.clone()).is_err() {
                warn!(target: "pantheon::relay", peer = %url, n = txs.len(), "peer queue full; batch not relayed");
            }
        }
    }
}

/// The JSON parameters of `pantheon_relayTransactions` for `txs`,
/// `[["<hex>", ...]]`, written once per batch and shared by every peer's
/// request (hex needs no escaping, so the text is assembled directly).
fn params(txs: &[SignedTx]) -> Result<Box<RawValue>, serde_json::Error> {
    let len: usize = txs.iter().map(|tx| 2 * tx.as_bytes().len() + 3).sum();
    let mut text = String::with_capacity(len + 4);
    text.push_str("[[");
    for (i, tx) in txs.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push('"');
        text.push_str(&faster_hex::hex_string(tx.as_bytes()));
        text.push('"');
    }
    text.push_str("]]");
    RawValue::from_string(text)
}

/// One batch's encoded parameters, shared between the peers' queues.
#[derive(Clone)]
struct Params(Arc<Box<RawValue>>);

impl ToRpcParams for Params {
    fn to_rpc_params(self) -> Result<Option<Box<RawValue>>, serde_json::Error> {
        Ok(Some(Box::clone(&self.0)))
    }
}

async fn send_to(url: String, mut inbox: mpsc::Receiver<Params>) {
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
    while let Some(params) = inbox.recv().await {
        let result: Result<RelayReport, _> = client
            .request(pantheon_rpc::api::RELAY_TRANSACTIONS, params)
            .await;
        match result {
            Ok(report) => {
                if failing {
                    debug!(target: "pantheon::relay", peer = %url, "relay peer reachable again");
                }
                failing = false;
                debug!(target: "pantheon::relay", peer = %url, ?report, "relayed");
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
