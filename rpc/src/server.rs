//! The HTTP + WebSocket server (one port) with its limits.

use std::net::SocketAddr;
use std::sync::Arc;

use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};

use crate::api::{Api, Backend, PantheonRpcServer};

/// Server limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body, bytes (a submission is about 7 KB of hex).
    pub max_request_bytes: u32,
    /// Largest response body, bytes (a block of 20,000 transactions is ~140 MB of hex).
    pub max_response_bytes: u32,
    /// Most simultaneous connections.
    pub max_connections: u32,
    /// Most calls in one batch request.
    pub max_batch: u32,
    /// Most subscriptions per connection.
    pub max_subscriptions: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_bytes: 1 << 20,
            max_response_bytes: 256 << 20,
            max_connections: 256,
            max_batch: 256,
            max_subscriptions: 16,
        }
    }
}

/// Starts serving `backend` on `addr`; returns the bound address and a
/// handle that stops the server when told to (or dropped and stopped).
///
/// # Errors
/// If the address cannot be bound.
pub async fn start<B: Backend>(
    addr: SocketAddr,
    backend: Arc<B>,
    limits: Limits,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let config = ServerConfig::builder()
        .max_request_body_size(limits.max_request_bytes)
        .max_response_body_size(limits.max_response_bytes)
        .max_connections(limits.max_connections)
        .max_subscriptions_per_connection(limits.max_subscriptions)
        .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch))
        .build();
    let server = Server::builder().set_config(config).build(addr).await?;
    let bound = server.local_addr()?;
    let handle = server.start(Api::new(backend).into_rpc());
    tracing::info!(target: "pantheon::rpc", %bound, "JSON-RPC listening (HTTP and WebSocket)");
    Ok((bound, handle))
}
