//! The node's Prometheus endpoint: `GET /metrics` on its own listener
//! (`[metrics]`, loopback by default), in the OpenMetrics text format that
//! Prometheus scrapes, followed by Malachite's own registry.
//!
//! Two kinds of figure, so that the hot paths never wait on a scrape:
//!
//! - **counted where it happens**, with relaxed atomic additions and no
//!   lock: [`ChainCounters`] (finalized submissions and transactions,
//!   signature checks, admission results, the consensus round, block
//!   intervals) and the RPC latency of [`pantheon_rpc::metrics`];
//! - **read at scrape time** by [`NodeCollector`], a `prometheus-client`
//!   [`Collector`]: height, mempool depth and per-operator queue lengths,
//!   RocksDB sizes, anchor state, peers, equivocation evidence. Nothing is
//!   kept up to date between scrapes.
//!
//! ```text
//!   RPC ──▶ Timed middleware ──atomics──▶ RpcMetrics ─┐
//!   admit / commit / round ──atomics──▶ ChainCounters ├─▶ Registry("pantheon") ─┐
//!   scrape ──▶ NodeCollector reads chain, store, health, anchors ─┘             ├─▶ GET /metrics
//!   Malachite's actors ──▶ its global SharedRegistry ─────────────────────────┘
//! ```
//!
//! Label cardinality is bounded everywhere: RPC methods are the registered
//! names plus `other`; operator queues are the [`TOP_OPERATORS`] longest
//! plus `other`; admission refusals are keyed by the stable error codes of
//! `docs/` (1000 to 1099, the rest as `other`); column families are fixed.
//! Operators are labelled by their full hex id (the form every RPC answer
//! and CLI command uses).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::anchoring::SharedView;
use crate::chain::Chain;
use crate::health::{self, SharedStatus};

/// Operators shown by name in the per-operator queue gauge; the others
/// are summed under `other`.
pub const TOP_OPERATORS: usize = 10;

/// Upper bounds of the block interval histogram, in seconds.
pub const BLOCK_INTERVAL_BUCKETS: [f64; 12] = [
    0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0,
];

/// The first admission error code counted by name.
const FIRST_CODE: i32 = 1000;
/// Codes `FIRST_CODE..FIRST_CODE + CODES` are counted each on its own.
const CODES: usize = 100;

/// Admission results of client transactions (`pantheon_submitRoot`,
/// `pantheon_submitTransaction`): accepted, or refused by error code.
#[derive(Debug)]
pub struct Admissions {
    accepted: AtomicU64,
    /// By `code - FIRST_CODE`, then one slot for any other code.
    refused: [AtomicU64; CODES + 1],
}

impl Default for Admissions {
    fn default() -> Self {
        Self {
            accepted: AtomicU64::new(0),
            refused: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Admissions {
    /// Counts one accepted transaction (new, or the same one again).
    pub fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one refused with JSON-RPC error `code`.
    pub fn refused(&self, code: i32) {
        let slot = code
            .checked_sub(FIRST_CODE)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i < CODES)
            .unwrap_or(CODES);
        self.refused[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// `(code label, count)` of every code refused at least once.
    fn refusals(&self) -> Vec<(String, u64)> {
        self.refused
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let n = n.load(Ordering::Relaxed);
                (n > 0).then(|| {
                    let label = if i < CODES {
                        let offset = i32::try_from(i).expect("i < CODES = 100");
                        (FIRST_CODE + offset).to_string()
                    } else {
                        "other".to_owned()
                    };
                    (label, n)
                })
            })
            .collect()
    }
}

/// Figures counted where they happen (atomics only; see the module docs).
#[derive(Debug)]
pub struct ChainCounters {
    /// Submissions finalized (applied, not rejected) since start.
    pub finalized_submissions: Counter,
    /// Transactions finalized (applied) since start.
    pub finalized_transactions: Counter,
    /// Client and relayed transactions whose signature verified.
    pub signatures_valid: Counter,
    /// Client and relayed transactions whose signature did not.
    pub signatures_invalid: Counter,
    /// Admission results.
    pub admissions: Admissions,
    /// Seconds between consecutive finalized blocks (their header times).
    block_interval: Histogram,
    /// The header time of the last block committed here, ms (0: none yet).
    last_block_ms: AtomicU64,
    /// The height consensus works on.
    consensus_height: AtomicU64,
    /// Its current round (-1: none started).
    consensus_round: AtomicI64,
}

impl Default for ChainCounters {
    fn default() -> Self {
        Self {
            finalized_submissions: Counter::default(),
            finalized_transactions: Counter::default(),
            signatures_valid: Counter::default(),
            signatures_invalid: Counter::default(),
            admissions: Admissions::default(),
            block_interval: Histogram::new(BLOCK_INTERVAL_BUCKETS),
            last_block_ms: AtomicU64::new(0),
            consensus_height: AtomicU64::new(0),
            consensus_round: AtomicI64::new(-1),
        }
    }
}

impl ChainCounters {
    /// Counts a finalized block of `submissions` submissions among `txs`
    /// applied transactions, stamped `time_ms`.
    pub fn finalized(&self, submissions: u64, txs: u64, time_ms: u64) {
        self.finalized_submissions.inc_by(submissions);
        self.finalized_transactions.inc_by(txs);
        let last = self.last_block_ms.swap(time_ms, Ordering::Relaxed);
        if last != 0 && time_ms >= last {
            #[allow(clippy::cast_precision_loss)] // block intervals are far below 2^53 ms
            self.block_interval
                .observe((time_ms - last) as f64 / 1000.0);
        }
    }

    /// Counts a signature check.
    pub fn signature(&self, valid: bool) {
        if valid {
            self.signatures_valid.inc();
        } else {
            self.signatures_invalid.inc();
        }
    }

    /// Consensus started `round` (-1 for nil) of `height`.
    pub fn started_round(&self, height: u64, round: i64) {
        self.consensus_height.store(height, Ordering::Relaxed);
        self.consensus_round.store(round, Ordering::Relaxed);
    }
}

/// The sources [`NodeCollector`] reads at scrape time.
pub struct Sources {
    /// The chain (height, mempool, store, counters).
    pub chain: Arc<Chain>,
    /// Peers and equivocation evidence.
    pub network: SharedStatus,
    /// The anchor engine's status (empty without `[anchor]`).
    pub anchors: SharedView,
    /// Call latency of the JSON-RPC server.
    pub rpc: Arc<pantheon_rpc::metrics::RpcMetrics>,
}

/// Reads the node's state when `/metrics` is scraped.
pub struct NodeCollector {
    sources: Sources,
    /// The newest confirmed anchor's transaction and when this node first
    /// saw it confirmed (for its age).
    newest_confirmed: Mutex<Option<(String, Instant)>>,
}

impl std::fmt::Debug for NodeCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCollector").finish_non_exhaustive()
    }
}

/// Encodes one gauge (or counter) without labels.
fn scalar(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    metric: &impl EncodeMetric,
) -> Result<(), std::fmt::Error> {
    let m = encoder.encode_descriptor(name, help, unit, metric.metric_type())?;
    metric.encode(m)
}

/// Encodes one metric family of `label` values.
fn family<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    label: &str,
    series: impl IntoIterator<Item = (String, M)>,
    metric_type: MetricType,
) -> Result<(), std::fmt::Error> {
    let mut m = encoder.encode_descriptor(name, help, unit, metric_type)?;
    for (value, metric) in series {
        let labels = [(label, value.as_str())];
        metric.encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge(v: u64) -> ConstGauge<i64> {
    ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX))
}

impl NodeCollector {
    /// A collector over `sources`.
    #[must_use]
    pub fn new(sources: Sources) -> Self {
        Self {
            sources,
            newest_confirmed: Mutex::new(None),
        }
    }

    fn chain(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let chain = &self.sources.chain;
        let c = chain.counters();
        scalar(
            e,
            "finalized_height",
            "Height of the newest finalized block",
            None,
            &gauge(chain.height().get()),
        )?;
        scalar(
            e,
            "consensus_height",
            "Height consensus is deciding",
            None,
            &gauge(c.consensus_height.load(Ordering::Relaxed)),
        )?;
        scalar(
            e,
            "consensus_round",
            "Consensus round of the height being decided (0 when decided at the first round; -1 before any)",
            None,
            &ConstGauge::new(c.consensus_round.load(Ordering::Relaxed)),
        )?;
        let (depth, top, rest) = chain.with_mempool(|m| {
            let (top, rest) = m.busiest_signers(TOP_OPERATORS);
            (m.len(), top, rest)
        });
        scalar(
            e,
            "mempool_transactions",
            "Transactions in the mempool (every lane, held ones included)",
            None,
            &gauge(depth as u64),
        )?;
        let series = top
            .into_iter()
            .map(|(id, n)| (id.to_string(), gauge(n as u64)))
            .chain((rest.signers > 0).then(|| ("other".to_owned(), gauge(rest.queued as u64))));
        family(
            e,
            "mempool_operator_transactions",
            "Transactions queued per signer (operator), the 10 longest queues by name (full hex id), the rest summed as `other`",
            None,
            "operator",
            series,
            MetricType::Gauge,
        )?;
        let refusals = c.admissions.refusals();
        scalar(
            e,
            "admission_accepted",
            "Client transactions accepted into the mempool (pantheon_submitRoot, pantheon_submitTransaction; an idempotent repeat counts)",
            None,
            &ConstCounter::new(c.admissions.accepted.load(Ordering::Relaxed)),
        )?;
        family(
            e,
            "admission_refused",
            "Client transactions refused, by the stable JSON-RPC error code of docs/ (1010 bad signature, 1013 sequence gap, 1030 mempool full, ...)",
            None,
            "code",
            refusals
                .into_iter()
                .map(|(code, n)| (code, ConstCounter::new(n))),
            MetricType::Counter,
        )?;
        Ok(())
    }

    fn rpc(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshot = self.sources.rpc.snapshot();
        let mut m = e.encode_descriptor(
            "rpc_request_duration",
            "JSON-RPC call latency per method called since start, from the checked request to its answer (unknown methods as `other`, whole batches as `batch`)",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        // Methods never called are left out (a series appears at its first
        // call): forty empty histograms would make most of a scrape.
        for s in snapshot.iter().filter(|s| s.count > 0) {
            let labels = [("method", s.method)];
            m.encode_family(&labels)?
                .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                    s.sum_seconds,
                    s.count,
                    &s.buckets,
                    None,
                )?;
        }
        let mut m = e.encode_descriptor(
            "rpc_errors",
            "JSON-RPC calls answered with an error, per method",
            None,
            MetricType::Counter,
        )?;
        for s in snapshot.iter().filter(|s| s.count > 0) {
            let labels = [("method", s.method)];
            ConstCounter::new(s.errors).encode(m.encode_family(&labels)?)?;
        }
        Ok(())
    }

    fn store(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.sources.chain.store().column_family_stats();
        family(
            e,
            "rocksdb_live_sst",
            "Size of the live SST files per column family (rocksdb.live-sst-files-size)",
            Some(&Unit::Bytes),
            "cf",
            stats
                .iter()
                .map(|s| (s.name.to_owned(), gauge(s.live_sst_bytes))),
            MetricType::Gauge,
        )?;
        family(
            e,
            "rocksdb_memtable",
            "Size of the memtables per column family (rocksdb.cur-size-all-mem-tables)",
            Some(&Unit::Bytes),
            "cf",
            stats
                .iter()
                .map(|s| (s.name.to_owned(), gauge(s.memtable_bytes))),
            MetricType::Gauge,
        )?;
        family(
            e,
            "rocksdb_estimated_keys",
            "Estimated number of keys per column family (rocksdb.estimate-num-keys)",
            None,
            "cf",
            stats
                .iter()
                .map(|s| (s.name.to_owned(), gauge(s.estimated_keys))),
            MetricType::Gauge,
        )
    }

    fn anchors(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let status = self
            .sources
            .anchors
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .status
            .clone();
        let Some(status) = status else {
            return Ok(());
        };
        scalar(
            e,
            "anchor_pending",
            "Anchor transactions not yet confirmed as deep as the policy asks",
            None,
            &gauge(status.pending.len() as u64),
        )?;
        let newest = status
            .pending
            .iter()
            .chain(&status.confirmed)
            .max_by_key(|a| (a.target.height, a.confirmations));
        if let Some(newest) = newest {
            scalar(
                e,
                "anchor_newest_confirmations",
                "Bitcoin confirmations of the newest anchor (the one of the highest Pantheon height)",
                None,
                &gauge(newest.confirmations),
            )?;
        }
        if let Some(balance) = status.balance {
            scalar(
                e,
                "anchor_wallet_balance",
                "Spendable confirmed balance of the anchor wallet at the last coin scan",
                Some(&Unit::Other("sats".into())),
                &gauge(balance.to_sat()),
            )?;
        }
        scalar(
            e,
            "anchor_bitcoind_reachable",
            "1 when bitcoind answered the anchor engine's last tick",
            None,
            &gauge(u64::from(status.reachable == Some(true))),
        )?;
        let confirmed = status.confirmed.iter().max_by_key(|a| a.target.height);
        if let Some(confirmed) = confirmed {
            let txid = confirmed.txid.to_string();
            let mut seen = self
                .newest_confirmed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let since = match &*seen {
                Some((id, at)) if *id == txid => *at,
                _ => {
                    let now = Instant::now();
                    *seen = Some((txid, now));
                    now
                }
            };
            scalar(
                e,
                "anchor_last_confirmed_age",
                "Seconds since this node first saw the newest anchor confirmed",
                Some(&Unit::Seconds),
                &ConstGauge::new(since.elapsed().as_secs_f64()),
            )?;
        }
        Ok(())
    }

    fn network(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (peers, evidence) = {
            let s = health::lock(&self.sources.network);
            (s.peers.len(), s.equivocations_seen)
        };
        scalar(
            e,
            "peers",
            "Connected consensus peers",
            None,
            &gauge(peers as u64),
        )?;
        scalar(
            e,
            "equivocation_evidence",
            "Equivocation evidence (double votes) seen since start",
            None,
            &ConstCounter::new(evidence),
        )
    }
}

impl Collector for NodeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.chain(&mut encoder)?;
        self.rpc(&mut encoder)?;
        self.store(&mut encoder)?;
        self.anchors(&mut encoder)?;
        self.network(&mut encoder)
    }
}

/// The node's registry: the counters of [`ChainCounters`] and a
/// [`NodeCollector`], every name prefixed `pantheon_`.
#[must_use]
pub fn registry(sources: Sources) -> Registry {
    let mut registry = Registry::with_prefix("pantheon");
    let c = sources.chain.counters();
    registry.register(
        "finalized_submissions",
        "Submissions finalized since the node started (applied, not rejected)",
        c.finalized_submissions.clone(),
    );
    registry.register(
        "finalized_transactions",
        "Transactions finalized since the node started (applied, not rejected)",
        c.finalized_transactions.clone(),
    );
    registry.register(
        "signatures_valid",
        "Client and relayed transactions whose ML-DSA-65 signature verified at admission",
        c.signatures_valid.clone(),
    );
    registry.register(
        "signatures_invalid",
        "Client and relayed transactions whose signature did not verify at admission",
        c.signatures_invalid.clone(),
    );
    registry.register_with_unit(
        "block_interval",
        "Seconds between consecutive finalized blocks (header times)",
        Unit::Seconds,
        c.block_interval.clone(),
    );
    registry.register_collector(Box::new(NodeCollector::new(sources)));
    registry
}

/// The text of one scrape: our registry, then Malachite's.
///
/// # Errors
/// Never in practice (writing to a `String`).
pub fn render(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut text = String::with_capacity(64 * 1024);
    prometheus_client::encoding::text::encode_registry(&mut text, registry)?;
    // Malachite registers its actors' metrics in its global registry, with
    // a `moniker` label; `export` writes it and the closing `# EOF`.
    malachitebft_metrics::export(&mut text);
    if !text.ends_with("# EOF\n") {
        text.write_str("# EOF\n")?;
    }
    Ok(text)
}

/// Starts serving `registry` at `http://<listen>/metrics`; returns the
/// bound address.
///
/// # Errors
/// If the address cannot be bound.
pub async fn serve(listen: SocketAddr, registry: Registry) -> std::io::Result<SocketAddr> {
    let registry = Arc::new(registry);
    let bound = pantheon_rpc::metrics::serve_text(
        listen,
        Arc::new(move || render(&registry).map_err(|e| e.to_string())),
    )
    .await?;
    if !bound.ip().is_loopback() {
        tracing::warn!(
            target: "pantheon::metrics",
            %bound,
            "metrics listen on a non-loopback address: /metrics is reachable from the network"
        );
    }
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_keyed_by_code_and_bounded() {
        let a = Admissions::default();
        a.accepted();
        a.refused(1013);
        a.refused(1013);
        a.refused(1099);
        a.refused(-32602);
        a.refused(5000);
        assert_eq!(
            a.refusals(),
            [
                ("1013".to_owned(), 2),
                ("1099".to_owned(), 1),
                ("other".to_owned(), 2)
            ]
        );
        assert_eq!(a.accepted.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn block_intervals_come_from_consecutive_header_times() {
        let c = ChainCounters::default();
        c.finalized(2, 3, 10_000);
        c.finalized(1, 1, 11_500);
        c.finalized(0, 0, 11_500);
        assert_eq!(c.finalized_submissions.get(), 3);
        assert_eq!(c.finalized_transactions.get(), 4);
        let mut registry = Registry::default();
        registry.register("i", "h", c.block_interval.clone());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains("i_count 2\n"), "{text}");
        assert!(text.contains("i_sum 1.5\n"), "{text}");
    }
}
