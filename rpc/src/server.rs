//! The HTTP + WebSocket server (one port) with its limits.
//!
//! Accepting is ours, answering is jsonrpsee's. jsonrpsee's own server
//! counts connections in one pool with no time limit on reading a request,
//! so a few hundred connections that send half a request and stop would
//! hold every slot and lock every other client out (issue 11). Here:
//!
//! - each accepted socket must pass [`Admission`] (at most
//!   [`Limits::max_connections_per_address`] per address, and a reserve for
//!   addresses that hold none); a refused one is answered
//!   `429 Too Many Requests` and closed, and the permit travels with the
//!   socket, so a WebSocket session counts for as long as it lives;
//! - request headers must arrive within [`Limits::header_timeout`]
//!   (hyper's header read timer, which also closes idle keep-alive
//!   connections), and the body within [`Limits::body_timeout`] of its
//!   headers, read here with the size limit before jsonrpsee sees it; a
//!   late body is answered `408 Request Timeout` and the connection closed.
//!
//! `GET /verify` and `GET /explorer` answer the static pages ([`crate::pages`]);
//! every other request is JSON-RPC, whose envelope ([`crate::envelope`]) is
//! checked before jsonrpsee runs it.
//!
//! Connections speak HTTP/1.1, which every JSON-RPC and WebSocket client
//! uses; HTTP/2 would need its own per-stream timeouts to be as safe.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{
    BatchRequestConfig, HttpBody, Methods, ServerConfig, ServerHandle, StopHandle, TowerService,
    stop_channel,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower_layer::{Identity, Stack};
use tower_service::Service as _;

/// jsonrpsee's service for one connection, its calls timed
/// ([`crate::metrics`]).
type JsonRpc = TowerService<Stack<RpcMetricsLayer, Identity>, Identity>;

use crate::metrics::{RpcMetrics, RpcMetricsLayer};

use crate::admission::{Admission, Permit, Refused};
use crate::api::{Api, Backend, PantheonRpcServer};
use crate::envelope::Arity;

/// Server limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body, bytes (a submission is about 7 KB of hex).
    pub max_request_bytes: u32,
    /// Largest response body, bytes. Every method's answer is bounded well
    /// below it (blocks by pages of 256 transactions, exports by pages of
    /// 64 submissions, anchors by 1,000), and a batch's answers count
    /// together, so one request holds at most this much.
    pub max_response_bytes: u32,
    /// Most simultaneous connections.
    pub max_connections: u32,
    /// Most simultaneous connections from one address (IPv6: one /64).
    pub max_connections_per_address: u32,
    /// Connections kept for addresses that hold none yet.
    pub reserved_connections: u32,
    /// Longest wait for a request's headers (and between requests on a
    /// kept-alive connection).
    pub header_timeout: Duration,
    /// Longest wait for a request's body once its headers arrived.
    pub body_timeout: Duration,
    /// Most calls in one batch request.
    pub max_batch: u32,
    /// Most subscriptions per connection.
    pub max_subscriptions: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_bytes: 1 << 20,
            max_response_bytes: 16 << 20,
            max_connections: 256,
            max_connections_per_address: 64,
            reserved_connections: 32,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
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
    start_timed(addr, backend, limits)
        .await
        .map(|(bound, handle, _)| (bound, handle))
}

/// As [`start`], also returning the per-method call latency the server
/// records ([`crate::metrics`]), for the node's `/metrics`.
///
/// # Errors
/// If the address cannot be bound.
pub async fn start_timed<B: Backend>(
    addr: SocketAddr,
    backend: Arc<B>,
    limits: Limits,
) -> std::io::Result<(SocketAddr, ServerHandle, Arc<RpcMetrics>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let (stop, handle) = stop_channel();
    let methods: Methods = Api::new(backend).into_rpc().into();
    let metrics = Arc::new(RpcMetrics::new(methods.method_names()));
    tokio::spawn(accept(listener, methods, limits, stop, metrics.clone()));
    tracing::info!(target: "pantheon::rpc", %bound, "JSON-RPC listening (HTTP and WebSocket)");
    Ok((bound, handle, metrics))
}

/// The accept loop: admits or refuses each socket, then serves it in its
/// own task.
async fn accept(
    listener: TcpListener,
    methods: Methods,
    limits: Limits,
    stop: StopHandle,
    metrics: Arc<RpcMetrics>,
) {
    let config = ServerConfig::builder()
        .max_request_body_size(limits.max_request_bytes)
        .max_response_body_size(limits.max_response_bytes)
        .max_connections(limits.max_connections)
        .max_subscriptions_per_connection(limits.max_subscriptions)
        .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch))
        .build();
    let services = jsonrpsee::server::Server::builder()
        .set_config(config)
        .set_rpc_middleware(RpcServiceBuilder::new().layer(RpcMetricsLayer::new(metrics)))
        .to_service_builder();
    let admission = Arc::new(Mutex::new(Admission::new(&limits)));
    let arity = Arc::new(Arity::from_openrpc(&crate::openrpc::document()));
    let mut next_id: u32 = 0;
    loop {
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to close.
                    tracing::warn!(target: "pantheon::rpc", "accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop.clone().shutdown() => return,
        };
        let permit = match Permit::acquire(&admission, peer.ip()) {
            Ok(p) => p,
            Err(refused) => {
                tracing::debug!(target: "pantheon::rpc", %peer, "connection refused: {refused}");
                tokio::spawn(refuse(socket, refused));
                continue;
            }
        };
        next_id = next_id.wrapping_add(1);
        let service = services
            .clone()
            .connection_id(next_id)
            .build(methods.clone(), stop.clone());
        tokio::spawn(serve(
            socket,
            permit,
            service,
            limits,
            arity.clone(),
            stop.clone(),
        ));
    }
}

/// Answers a refused socket `429` and closes it, reading (and dropping)
/// what the client sent for up to a second so that it sees the answer
/// rather than a reset.
async fn refuse(mut socket: TcpStream, refused: Refused) {
    let body = format!(
        r#"{{"jsonrpc":"2.0","error":{{"code":-32000,"message":"too many connections: {refused}"}},"id":null}}"#
    );
    let head = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let answer = async {
        socket.write_all(head.as_bytes()).await?;
        socket.write_all(body.as_bytes()).await?;
        socket.shutdown().await?;
        let mut sink = [0u8; 4096];
        while socket.read(&mut sink).await? > 0 {}
        std::io::Result::Ok(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
}

/// Serves one admitted connection until it closes, times out or the
/// server stops.
async fn serve(
    socket: TcpStream,
    permit: Permit,
    service: JsonRpc,
    limits: Limits,
    arity: Arc<Arity>,
    stop: StopHandle,
) {
    let io = TokioIo::new(Counted {
        socket,
        _permit: permit,
    });
    let handler = hyper::service::service_fn(move |request: Request<Incoming>| {
        let service = service.clone();
        let arity = arity.clone();
        async move { handle(request, service, limits, &arity).await }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let connection = http.serve_connection(io, handler).with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(target: "pantheon::rpc", "connection closed: {e}");
            }
        }
        () = stop.shutdown() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Reads the body within the time and size limits, then hands the request
/// to jsonrpsee.
async fn handle(
    request: Request<Incoming>,
    mut service: JsonRpc,
    limits: Limits,
    arity: &Arity,
) -> Result<Response<HttpBody>, Infallible> {
    if let Some(page) = crate::pages::answer(&request) {
        return Ok(page);
    }
    let (parts, body) = request.into_parts();
    let limited = Limited::new(body, limits.max_request_bytes as usize);
    let bytes = match tokio::time::timeout(limits.body_timeout, limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<LengthLimitError>() => {
            return Ok(refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "request body exceeds the limit of {} bytes",
                    limits.max_request_bytes
                ),
            ));
        }
        Ok(Err(e)) => {
            return Ok(refusal(
                StatusCode::BAD_REQUEST,
                &format!("reading the request body: {e}"),
            ));
        }
        Err(_) => {
            return Ok(refusal(
                StatusCode::REQUEST_TIMEOUT,
                &format!(
                    "request body not received within {} ms",
                    limits.body_timeout.as_millis()
                ),
            ));
        }
    };
    if parts.method == hyper::Method::POST
        && let Err(answer) = crate::envelope::check(&bytes, arity)
    {
        let mut response = Response::new(HttpBody::from(answer.to_string()));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(response);
    }
    let request = Request::from_parts(parts, HttpBody::new(Full::new(bytes)));
    Ok(service.call(request).await.unwrap_or_else(|e| {
        refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("internal error: {e}"),
        )
    }))
}

/// A JSON-RPC error answer that closes the connection.
fn refusal(status: StatusCode, message: &str) -> Response<HttpBody> {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "error": { "code": -32000, "message": message },
        "id": null,
    })
    .to_string();
    let mut response = Response::new(HttpBody::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A socket that holds its admission permit for as long as it lives.
struct Counted {
    socket: TcpStream,
    _permit: Permit,
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().socket).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().socket).poll_write(cx, buf)
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().socket).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().socket).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().socket).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.socket.is_write_vectored()
    }
}
