//! What `pantheon testnet status` reports, read from each node's JSON-RPC.

use std::time::Duration;

use jsonrpsee::http_client::HttpClientBuilder;
use pantheon_rpc::api::PantheonRpcClient;
use pantheon_rpc::types::{HeaderInfo, Health};
use serde::{Deserialize, Serialize};

use crate::{Manifest, Role, process};

/// One node's status: one element of `status --json`'s array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Its index.
    pub index: usize,
    /// Validator or full node.
    pub role: Role,
    /// Its JSON-RPC URL.
    pub rpc: String,
    /// Whether its process runs.
    pub running: bool,
    /// Its pid while running.
    pub pid: Option<u32>,
    /// Whether its RPC answered.
    pub reachable: bool,
    /// Finalized height (0 when unreachable).
    pub height: u64,
    /// Hash of that block.
    pub finalized_hash: Option<String>,
    /// Connected libp2p peers.
    pub peers: usize,
    /// Catching up with peers.
    pub syncing: bool,
    /// Transactions in its mempool.
    pub mempool: usize,
    /// Signatures in its last commit certificate.
    pub last_certificate_signers: Option<usize>,
    /// Equivocation evidence the node has seen.
    pub equivocations: Vec<String>,
}

/// Asks every node for its status, concurrently, with a short timeout.
pub async fn collect(net: &Manifest) -> Vec<NodeStatus> {
    let queries = net.nodes.iter().map(|node| async move {
        let pid = process::pid(net, node.index).ok().flatten();
        let mut status = NodeStatus {
            index: node.index,
            role: node.role,
            rpc: node.rpc_url(),
            running: pid.is_some(),
            pid,
            reachable: false,
            height: 0,
            finalized_hash: None,
            peers: 0,
            syncing: false,
            mempool: 0,
            last_certificate_signers: None,
            equivocations: Vec::new(),
        };
        if let Some((health, head)) = query(&status.rpc).await {
            status.reachable = true;
            status.height = health.height.get();
            status.finalized_hash = Some(health.finalized_hash.to_string());
            status.peers = health.peers;
            status.syncing = health.syncing;
            status.mempool = health.mempool;
            status.equivocations = health.equivocations;
            status.last_certificate_signers = head.map(|h| h.signers);
        }
        status
    });
    let mut out = Vec::with_capacity(net.nodes.len());
    for q in queries {
        out.push(q.await);
    }
    out
}

async fn query(url: &str) -> Option<(Health, Option<HeaderInfo>)> {
    let client = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(2))
        .max_response_size(64 << 20)
        .build(url)
        .ok()?;
    let health: Health = client.system_health().await.ok()?;
    let head: Option<HeaderInfo> = if health.height.get() > 0 {
        client.get_head().await.ok()
    } else {
        None
    };
    Some((health, head))
}

/// A one-line, human-readable summary of a node.
#[must_use]
pub fn line(s: &NodeStatus) -> String {
    let role = match s.role {
        Role::Validator => "validator",
        Role::Full => "full node",
    };
    if !s.running {
        return format!("node {} ({role}) {}: stopped", s.index, s.rpc);
    }
    if !s.reachable {
        return format!("node {} ({role}) {}: starting", s.index, s.rpc);
    }
    let cert = s.last_certificate_signers.map_or_else(String::new, |n| {
        format!(", last certificate {n} signatures")
    });
    let sync = if s.syncing { ", syncing" } else { "" };
    format!(
        "node {} ({role}) {}: height {}, {} peers{cert}{sync}",
        s.index, s.rpc, s.height, s.peers
    )
}
