//! Latency of every JSON-RPC call, per method, recorded lock-free.
//!
//! [`RpcMetricsLayer`] is a jsonrpsee RPC middleware
//! ([`RpcServiceT`]): it times each call from the moment jsonrpsee hands it
//! over (the envelope already checked, the body read) to its answer, and
//! adds the duration to the histogram of the call's method in
//! [`RpcMetrics`]. Nothing here depends on a metrics library: the node
//! reads [`RpcMetrics::snapshot`] when `/metrics` is scraped and encodes it.
//!
//! ```text
//! methods (sorted, fixed at start)     stats (same index)
//! chain_getBlock          ──────────▶  [bucket 0..N, +Inf] count sum_ns errors
//! ...
//! pantheon_submitRoot     ──────────▶  [...]
//! "other" (any unknown name)  ──────▶  [...]
//! "batch" (a whole batch request) ──▶  [...]
//! ```
//!
//! Label cardinality is bounded by construction: the method names are the
//! ones the server registers (the list `rpc.discover` publishes), fixed
//! when the server starts; any other name a client sends is counted as
//! `other`. A batch is timed once, as `batch` (jsonrpsee runs its calls
//! without passing them through the middleware one by one).
//!
//! Recording is a handful of relaxed atomic additions: no lock is taken on
//! the submission path.
//!
//! [`serve_text`] is the HTTP side of the node's `/metrics` listener (the
//! same hyper stack as the JSON-RPC server; the registry is the node's).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::StatusCode;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use jsonrpsee::MethodResponse;
use jsonrpsee::core::middleware::{Batch, Notification, RpcServiceT};
use jsonrpsee::types::Request;

/// Upper bounds of the latency buckets, in seconds (100 µs to 10 s).
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The label of a call whose method the server does not know.
pub const OTHER: &str = "other";
/// The label of a batch request, timed as a whole.
pub const BATCH: &str = "batch";

/// One method's histogram.
#[derive(Debug, Default)]
struct MethodStats {
    /// Calls per bucket (not cumulative); the last one is `+Inf`.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    count: AtomicU64,
    sum_nanos: AtomicU64,
    errors: AtomicU64,
}

impl MethodStats {
    fn record(&self, elapsed: Duration, error: bool) {
        let secs = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        if error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A method's figures at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodSnapshot {
    /// The method (or [`OTHER`], [`BATCH`]).
    pub method: &'static str,
    /// Calls answered.
    pub count: u64,
    /// Their total duration, in seconds.
    pub sum_seconds: f64,
    /// `(upper bound, calls in this bucket)`, not cumulative, in the order
    /// of [`LATENCY_BUCKETS`], then `(f64::MAX, calls above the last)`:
    /// the shape `prometheus-client` encodes.
    pub buckets: Vec<(f64, u64)>,
    /// Calls answered with a JSON-RPC error.
    pub errors: u64,
}

/// Per-method call latency, shared by every connection of a server.
#[derive(Debug)]
pub struct RpcMetrics {
    /// Sorted known names, then [`OTHER`] and [`BATCH`].
    methods: Vec<&'static str>,
    stats: Box<[MethodStats]>,
}

impl RpcMetrics {
    /// Figures for `methods` (and [`OTHER`], [`BATCH`]).
    #[must_use]
    pub fn new(methods: impl IntoIterator<Item = &'static str>) -> Self {
        let mut names: Vec<&'static str> = methods.into_iter().collect();
        names.sort_unstable();
        names.dedup();
        names.retain(|n| *n != OTHER && *n != BATCH);
        let known = names.len();
        names.extend([OTHER, BATCH]);
        let stats = (0..known + 2).map(|_| MethodStats::default()).collect();
        Self {
            methods: names,
            stats,
        }
    }

    fn index(&self, method: &str) -> usize {
        let known = self.methods.len() - 2;
        self.methods[..known]
            .binary_search(&method)
            .unwrap_or(known)
    }

    /// Records one call of `method` that took `elapsed`.
    pub fn record(&self, method: &str, elapsed: Duration, error: bool) {
        self.stats[self.index(method)].record(elapsed, error);
    }

    fn record_batch(&self, elapsed: Duration) {
        self.stats[self.methods.len() - 1].record(elapsed, false);
    }

    /// The label a call of `method` is counted under.
    #[must_use]
    pub fn label(&self, method: &str) -> &'static str {
        self.methods[self.index(method)]
    }

    /// Every method's figures now (a relaxed read: a call recorded during
    /// the read may be counted in some fields and not yet in others).
    #[must_use]
    pub fn snapshot(&self) -> Vec<MethodSnapshot> {
        self.methods
            .iter()
            .zip(self.stats.iter())
            .map(|(method, s)| MethodSnapshot {
                method,
                count: s.count.load(Ordering::Relaxed),
                #[allow(clippy::cast_precision_loss)] // nanoseconds: exact below 2^53 ns (104 days)
                sum_seconds: s.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
                buckets: LATENCY_BUCKETS
                    .iter()
                    .copied()
                    .chain(std::iter::once(f64::MAX))
                    .zip(s.buckets.iter().map(|b| b.load(Ordering::Relaxed)))
                    .collect(),
                errors: s.errors.load(Ordering::Relaxed),
            })
            .collect()
    }
}

/// The jsonrpsee RPC middleware layer that records into an [`RpcMetrics`].
#[derive(Debug, Clone)]
pub struct RpcMetricsLayer(Arc<RpcMetrics>);

impl RpcMetricsLayer {
    /// A layer recording into `metrics`.
    #[must_use]
    pub fn new(metrics: Arc<RpcMetrics>) -> Self {
        Self(metrics)
    }
}

impl<S> tower_layer::Layer<S> for RpcMetricsLayer {
    type Service = Timed<S>;

    fn layer(&self, service: S) -> Self::Service {
        Timed {
            service,
            metrics: self.0.clone(),
        }
    }
}

/// The middleware's service: times calls of the service it wraps.
#[derive(Debug, Clone)]
pub struct Timed<S> {
    service: S,
    metrics: Arc<RpcMetrics>,
}

impl<S> RpcServiceT for Timed<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let service = self.service.clone();
        let metrics = self.metrics.clone();
        async move {
            let started = Instant::now();
            let method = metrics.label(request.method_name());
            let response = service.call(request).await;
            metrics.record(method, started.elapsed(), response.is_error());
            response
        }
    }

    fn batch<'a>(&self, requests: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let service = self.service.clone();
        let metrics = self.metrics.clone();
        async move {
            let started = Instant::now();
            let response = service.batch(requests).await;
            metrics.record_batch(started.elapsed());
            response
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.notification(n)
    }
}

/// Renders the text of one scrape (run on the blocking pool).
pub type Render = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

/// Most `/metrics` connections served at once (others are closed).
const MAX_CONNECTIONS: usize = 16;

/// The content type of the OpenMetrics text format.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

const PLAIN: &str = "text/plain; charset=utf-8";

/// Serves `GET /metrics` on its own listener at `listen`, answering what
/// `render` writes, and nothing else (any other path is `404`, any other
/// method `405`); returns the bound address. The node's registry lives in
/// the node: this is only the HTTP side, on the same hyper stack as the
/// JSON-RPC server, so that the node needs no HTTP server of its own.
///
/// # Errors
/// If the address cannot be bound.
pub async fn serve_text(listen: SocketAddr, render: Render) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let bound = listener.local_addr()?;
    tracing::info!(target: "pantheon::metrics", %bound, "metrics listening (GET /metrics)");
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let socket = match listener.accept().await {
                Ok((socket, _)) => socket,
                Err(e) => {
                    tracing::warn!(target: "pantheon::metrics", "accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                continue; // closed: a scraper retries at its next interval
            };
            let render = render.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request| answer(request, render.clone()));
                let mut http = hyper::server::conn::http1::Builder::new();
                http.timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10));
                if let Err(e) = http
                    .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                    .await
                {
                    tracing::debug!(target: "pantheon::metrics", "connection closed: {e}");
                }
                drop(slot);
            });
        }
    });
    Ok(bound)
}

async fn answer(
    request: hyper::Request<hyper::body::Incoming>,
    render: Render,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let reply = |status: StatusCode, body: String, content: &'static str| {
        let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content));
        response
    };
    if request.uri().path() != "/metrics" {
        return Ok(reply(
            StatusCode::NOT_FOUND,
            "not found: the metrics are at /metrics\n".into(),
            PLAIN,
        ));
    }
    if request.method() != hyper::Method::GET {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "GET /metrics\n".into(),
            PLAIN,
        ));
    }
    Ok(match tokio::task::spawn_blocking(move || render()).await {
        Ok(Ok(text)) => reply(StatusCode::OK, text, OPENMETRICS),
        Ok(Err(e)) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("rendering the metrics: {e}\n"),
            PLAIN,
        ),
        Err(e) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("rendering the metrics: {e}\n"),
            PLAIN,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label_and_buckets_hold_each_call_once() {
        let m = RpcMetrics::new(["b_method", "a_method", "a_method"]);
        assert_eq!(m.label("a_method"), "a_method");
        assert_eq!(m.label("nope"), OTHER);
        assert_eq!(
            m.label("batch"),
            OTHER,
            "a client cannot name the batch label"
        );
        m.record("a_method", Duration::from_micros(50), false);
        m.record("a_method", Duration::from_millis(3), true);
        m.record("zzz", Duration::from_secs(60), false);
        m.record_batch(Duration::from_millis(1));
        let snap = m.snapshot();
        let names: Vec<_> = snap.iter().map(|s| s.method).collect();
        assert_eq!(names, ["a_method", "b_method", OTHER, BATCH]);
        let a = &snap[0];
        assert_eq!((a.count, a.errors), (2, 1));
        assert!((a.sum_seconds - 0.003_05).abs() < 1e-9);
        assert_eq!(a.buckets.len(), LATENCY_BUCKETS.len() + 1);
        assert_eq!(a.buckets[0], (0.000_1, 1));
        assert_eq!(a.buckets[5], (0.005, 1));
        assert_eq!(a.buckets.iter().map(|b| b.1).sum::<u64>(), 2);
        let other = &snap[2];
        assert_eq!(other.buckets.last(), Some(&(f64::MAX, 1)));
        assert_eq!(snap[3].count, 1);
    }
}
