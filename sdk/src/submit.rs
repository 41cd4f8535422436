//! The submitter: the background task that cuts batches, signs their
//! submissions into the outbox and sends them until they are finalized and
//! anchored, across crashes, node restarts and several nodes.
//!
//! Each cycle (every `poll`, 200 ms by default):
//!
//! 1. a follower log reads what its writer sealed since ([`RecordLog::refresh`]);
//! 2. batches are cut while due ([`crate::batch::due`]) and while fewer than
//!    `max_unfinalized` batches wait for finality: that is the bound on
//!    the backlog. Past it, records simply wait in the log (on disk,
//!    sealed, so `append` never blocks) and the report says so;
//! 3. the first time, the outbox is pinned to the node's network (genesis
//!    hash) and to where the operator's chain stands (`pending_next_seq`,
//!    `pending_prev`);
//! 4. every batch without a submission is signed into the outbox, durably;
//! 5. submissions the current node does not hold are sent in order;
//!    received ones are asked after until finalized, finalized ones until
//!    anchored; an anchored one's proof bundle is saved in `bundles/` and
//!    the outbox's settled mark moves past it.
//!
//! A transport failure moves to the next endpoint; a node of another
//! network is refused. A node that lost its mempool (restart) answers "not
//! found" or refuses a later sequence number with a gap: the submissions
//! it lacks are sent again, the same bytes, from the lowest one. A crash
//! of this process loses nothing: the outbox and the batch list are
//! durable and reopened, and the live statuses are asked for again.
//!
//! Statuses are pushed: the submitter keeps a WebSocket subscription to
//! its operator (`pantheon_subscribeOperator`, on the endpoint in use) and
//! moves a batch to finalized or anchored as the node reports it, waking
//! at once. It still asks (`pantheon_getSubmission`) every
//! `POLL_EVERY`th cycle, and every cycle while it has no subscription: a
//! notification lost with a connection then costs a few seconds, never a
//! batch. Received submissions are always asked after, since the operator
//! subscription reports finalized ones only.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonrpsee::core::ClientError;
use jsonrpsee::core::client::Subscription;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use pantheon_rpc::api::PantheonRpcClient;
use pantheon_rpc::error::codes;
use pantheon_rpc::types::{Status, SubmissionInfo};
use pantheon_runtime::codec::Encode;
use serde::Serialize;

use crate::batch::{BatchError, BatchPolicy, Batches};
use crate::log::RecordLog;
use crate::outbox::{Outbox, OutboxError, Pin};

/// Lock file of the batch list and the outbox: one submitter per directory.
pub const SUBMITTER_LOCK: &str = "outbox.lock";
/// Where anchored batches' proof bundles are saved (`<batch>.json`).
pub const BUNDLE_DIR: &str = "bundles";
/// The submitter's last report, rewritten every cycle.
pub const STATUS_FILE: &str = "status.json";

/// How the submitter works.
#[derive(Debug, Clone)]
pub struct Config {
    /// Nodes' JSON-RPC URLs, used in turn when one fails.
    pub endpoints: Vec<String>,
    /// When to cut a batch.
    pub policy: BatchPolicy,
    /// Most batches signed and not yet finalized (the backlog's bound).
    pub max_unfinalized: u64,
    /// Time between cycles.
    pub poll: Duration,
    /// Time limit of one RPC call.
    pub timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            endpoints: Vec::new(),
            policy: BatchPolicy::default(),
            max_unfinalized: 256,
            poll: Duration::from_millis(200),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Where the operator's records and batches stand: what the submitter
/// last saw (also written to `status.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Records sealed (and durable).
    pub records: u64,
    /// Records in a batch.
    pub batched: u64,
    /// Records waiting for a batch.
    pub waiting_records: u64,
    /// The oldest waiting record's `time_ms`.
    pub oldest_waiting_ms: Option<u64>,
    /// Batches cut.
    pub batches: u64,
    /// Batches with a signed submission.
    pub signed: u64,
    /// Batches known finalized (settled ones included).
    pub finalized: u64,
    /// Batches known anchored (settled ones included).
    pub anchored: u64,
    /// Batches anchored with their bundle saved.
    pub settled: u64,
    /// True while `max_unfinalized` batches wait: no batch is cut.
    pub backlog_full: bool,
    /// The network (genesis hash), once pinned.
    pub genesis_hash: Option<String>,
    /// The sequence number of batch 0's submission, once pinned.
    pub first_seq: Option<u64>,
    /// The endpoint in use.
    pub endpoint: Option<String>,
    /// The last error, cleared by a cycle without one.
    pub error: Option<String>,
    /// When this report was made (Unix ms).
    pub at_ms: u64,
}

/// Errors that stop the submitter from starting.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The batch list failed.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// The outbox failed.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// Another submitter works in this directory.
    #[error("{0}")]
    Locked(String),
    /// No endpoint, or one that is not a URL.
    #[error("endpoint {0}")]
    Endpoint(String),
}

/// What the submitter knows of a submission it has not settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Live {
    /// The current node may not hold it: send it.
    Unsent,
    /// Held by the node, not yet in a block.
    Received,
    /// Finalized.
    Finalized,
    /// Anchored (its bundle not yet saved).
    Anchored,
}

/// The running submitter: a thread with its own single-threaded tokio
/// runtime, stopped (and joined) by [`Submitter::stop`] or on drop.
#[derive(Debug)]
pub struct Submitter {
    stop: Arc<AtomicBool>,
    report: Arc<Mutex<Report>>,
    thread: Option<JoinHandle<()>>,
}

impl Submitter {
    /// Opens the batch list and the outbox in `dir` (taking the
    /// submitter's lock) and starts the thread.
    ///
    /// # Errors
    /// [`SubmitError`]: the lock is held, a file is damaged, no endpoint.
    pub fn start(dir: &Path, log: Arc<RecordLog>, config: Config) -> Result<Self, SubmitError> {
        if config.endpoints.is_empty() {
            return Err(SubmitError::Endpoint(
                "list is empty: give at least one".into(),
            ));
        }
        let clients = config
            .endpoints
            .iter()
            .map(|url| {
                HttpClientBuilder::default()
                    .max_response_size(512 << 20)
                    .request_timeout(config.timeout)
                    .build(url)
                    .map_err(|e| SubmitError::Endpoint(format!("{url}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let lock = crate::frames::lock(dir, SUBMITTER_LOCK).map_err(SubmitError::Locked)?;
        let mut work = Work::open(dir, log, config, clients)?;
        let stop = Arc::new(AtomicBool::new(false));
        let report = Arc::new(Mutex::new(work.report()));
        let (stop2, report2) = (Arc::clone(&stop), Arc::clone(&report));
        let thread = std::thread::Builder::new()
            .name("pantheon-submitter".into())
            .spawn(move || {
                let _lock = lock;
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    while !stop2.load(Ordering::Relaxed) {
                        work.cycle().await;
                        let r = work.report();
                        work.save_report(&r);
                        *report2.lock().unwrap_or_else(PoisonError::into_inner) = r;
                        let mut slept = Duration::ZERO;
                        while slept < work.config.poll && !stop2.load(Ordering::Relaxed) {
                            let step = Duration::from_millis(20);
                            if work.pushed(step).await {
                                break;
                            }
                            slept += step;
                        }
                    }
                });
            })
            .map_err(|e| SubmitError::Locked(format!("starting the submitter thread: {e}")))?;
        Ok(Self {
            stop,
            report,
            thread: Some(thread),
        })
    }

    /// The latest report.
    #[must_use]
    pub fn report(&self) -> Report {
        self.report
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops the thread after its current cycle and waits for it.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Submitter {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Every how many cycles statuses are asked for even with a subscription.
const POLL_EVERY: u64 = 25;

/// The submitter's state, owned by its thread.
struct Work {
    /// The operator subscription on the current endpoint, if open.
    subscription: Option<Subscription<SubmissionInfo>>,
    /// Its client.
    ws: Option<WsClient>,
    cycles: u64,
    dir: PathBuf,
    log: Arc<RecordLog>,
    config: Config,
    clients: Vec<HttpClient>,
    /// The endpoint in use, and whether its network was checked.
    current: usize,
    checked: bool,
    batches: Batches,
    outbox: Outbox,
    /// Batches `settled..`, by number minus `settled`.
    live: Vec<Live>,
    error: Option<String>,
}

/// Why a cycle stopped early.
enum Stop {
    /// A failure to report; the next cycle tries again.
    Error(String),
}

type Step<T> = Result<T, Stop>;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Work {
    fn open(
        dir: &Path,
        log: Arc<RecordLog>,
        config: Config,
        clients: Vec<HttpClient>,
    ) -> Result<Self, SubmitError> {
        log.refresh()
            .map_err(|e| SubmitError::Batch(BatchError::Log(e)))?;
        let batches = Batches::open(dir, &log)?;
        let outbox = Outbox::open(dir, log.key(), batches.list())?;
        let live =
            vec![Live::Unsent; usize::try_from(outbox.len() - outbox.settled()).unwrap_or(0)];
        Ok(Self {
            subscription: None,
            ws: None,
            cycles: 0,
            dir: dir.to_owned(),
            log,
            config,
            clients,
            current: 0,
            checked: false,
            batches,
            outbox,
            live,
            error: None,
        })
    }

    /// Reopens the batch list and the outbox after a failed write, so that
    /// the files and the memory agree again.
    fn reopen(&mut self) -> Step<()> {
        let batches =
            Batches::open(&self.dir, &self.log).map_err(|e| Stop::Error(e.to_string()))?;
        let outbox = Outbox::open(&self.dir, self.log.key(), batches.list())
            .map_err(|e| Stop::Error(e.to_string()))?;
        self.live.resize(
            usize::try_from(outbox.len() - outbox.settled()).unwrap_or(0),
            Live::Unsent,
        );
        self.batches = batches;
        self.outbox = outbox;
        Ok(())
    }

    async fn cycle(&mut self) {
        self.error = match self.steps().await {
            Ok(()) => None,
            Err(Stop::Error(e)) => Some(e),
        };
    }

    async fn steps(&mut self) -> Step<()> {
        self.log.refresh().map_err(|e| Stop::Error(e.to_string()))?;
        self.cut()?;
        if self.outbox.pin().is_none() {
            if self.batches.list().is_empty() {
                return Ok(());
            }
            self.pin().await?;
        }
        self.sign()?;
        self.send().await?;
        self.subscribe().await;
        self.cycles += 1;
        let all = self.subscription.is_none() || self.cycles.is_multiple_of(POLL_EVERY);
        self.follow(all).await?;
        self.settle().await
    }

    /// Opens the operator subscription on the current endpoint, from the
    /// first unsettled batch's sequence number (best effort: without it,
    /// statuses are polled).
    async fn subscribe(&mut self) {
        if self.subscription.is_some() {
            return;
        }
        let Some(pin) = self.outbox.pin().copied() else {
            return;
        };
        let url = self.endpoint().replacen("http", "ws", 1);
        let Ok(ws) = WsClientBuilder::default()
            .max_response_size(16 << 20)
            .request_timeout(self.config.timeout)
            .connection_timeout(self.config.timeout)
            .build(&url)
            .await
        else {
            return;
        };
        let from = pin.seq + self.outbox.settled();
        let id = self.log.key().id().to_string();
        if let Ok(sub) = ws.subscribe_operator(id, Some(from)).await {
            // The client lives as long as the subscription needs it.
            self.ws = Some(ws);
            self.subscription = Some(sub);
        }
    }

    /// Waits up to `step` for a status notification and applies it; true
    /// if one changed a batch (the next cycle should run now).
    async fn pushed(&mut self, step: Duration) -> bool {
        let Some(sub) = self.subscription.as_mut() else {
            tokio::time::sleep(step).await;
            return false;
        };
        match tokio::time::timeout(step, sub.next()).await {
            Err(_) => false,
            Ok(Some(Ok(info))) => self.apply(&info),
            Ok(_) => {
                // Closed or undecodable: poll until it is opened again.
                self.subscription = None;
                self.ws = None;
                false
            }
        }
    }

    /// Applies a pushed status to its batch; true if it changed.
    fn apply(&mut self, info: &SubmissionInfo) -> bool {
        let Some(pin) = self.outbox.pin() else {
            return false;
        };
        let Some(number) = info.seq.checked_sub(pin.seq) else {
            return false;
        };
        let Some(i) = number
            .checked_sub(self.outbox.settled())
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i < self.live.len())
        else {
            return false;
        };
        // Only our own submission under that number (the id is the bytes).
        if self.outbox.signed()[usize::try_from(number).unwrap_or(usize::MAX)].submission_id()
            != info.id
        {
            return false;
        }
        let new = match info.status {
            Status::Received => Live::Received,
            Status::Finalized => Live::Finalized,
            Status::Anchored => Live::Anchored,
        };
        let changed = self.live[i] != new;
        self.live[i] = new;
        changed
    }

    fn unfinalized(&self) -> u64 {
        let unsigned = self.batches.list().len() as u64 - self.outbox.len();
        let waiting = self
            .live
            .iter()
            .filter(|l| matches!(l, Live::Unsent | Live::Received))
            .count() as u64;
        unsigned + waiting
    }

    fn cut(&mut self) -> Step<()> {
        let now = now_ms();
        while self.unfinalized() < self.config.max_unfinalized.max(1) {
            match self.batches.cut_if_due(&self.log, &self.config.policy, now) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    self.reopen()?;
                    return Err(Stop::Error(e.to_string()));
                }
            }
        }
        Ok(())
    }

    fn client(&self) -> &HttpClient {
        &self.clients[self.current]
    }

    fn endpoint(&self) -> &str {
        &self.config.endpoints[self.current]
    }

    /// Moves to the next endpoint after `e` and stops the cycle.
    fn fail_over(&mut self, what: &str, e: &ClientError) -> Stop {
        let msg = format!("{what} at {}: {e}", self.endpoint());
        self.current = (self.current + 1) % self.clients.len();
        self.checked = false;
        self.subscription = None;
        self.ws = None;
        // A new node may hold none of what the last one held.
        for l in &mut self.live {
            if *l == Live::Received {
                *l = Live::Unsent;
            }
        }
        Stop::Error(msg)
    }

    /// Checks, once per endpoint, that the node serves the pinned network.
    async fn check_network(&mut self) -> Step<()> {
        if self.checked {
            return Ok(());
        }
        let version = match self.client().system_version().await {
            Ok(v) => v,
            Err(e) => return Err(self.fail_over("system_version", &e)),
        };
        if let Some(pin) = self.outbox.pin()
            && pin.genesis != version.genesis_hash
        {
            let msg = format!(
                "{} serves network {} ({}), but this outbox is pinned to {}: refused",
                self.endpoint(),
                version.genesis_hash,
                version.chain_id,
                pin.genesis
            );
            self.current = (self.current + 1) % self.clients.len();
            return Err(Stop::Error(msg));
        }
        self.checked = true;
        Ok(())
    }

    async fn pin(&mut self) -> Step<()> {
        let version = match self.client().system_version().await {
            Ok(v) => v,
            Err(e) => return Err(self.fail_over("system_version", &e)),
        };
        let id = self.log.key().id();
        let op = match self.client().get_operator(id.to_string()).await {
            Ok(op) => op,
            Err(ClientError::Call(e)) => {
                return Err(Stop::Error(format!(
                    "operator {id} at {}: {} (code {}); register it with `pantheon operator register`",
                    self.endpoint(),
                    e.message(),
                    e.code()
                )));
            }
            Err(e) => return Err(self.fail_over("get_operator", &e)),
        };
        self.outbox
            .set_pin(Pin {
                genesis: version.genesis_hash,
                seq: op.pending_next_seq,
                prev: op.pending_prev,
            })
            .map_err(|e| Stop::Error(e.to_string()))?;
        self.checked = true;
        Ok(())
    }

    fn sign(&mut self) -> Step<()> {
        while self.outbox.len() < self.batches.list().len() as u64 {
            let batch = self.batches.list()[usize::try_from(self.outbox.len()).unwrap_or(0)];
            if let Err(e) = self.outbox.sign(self.log.key(), &batch) {
                self.reopen()?;
                return Err(Stop::Error(e.to_string()));
            }
            self.live.push(Live::Unsent);
        }
        Ok(())
    }

    fn settled(&self) -> usize {
        usize::try_from(self.outbox.settled()).unwrap_or(usize::MAX)
    }

    /// Sends, in order, every submission the node may not hold.
    async fn send(&mut self) -> Step<()> {
        self.check_network().await?;
        let base = self.settled();
        for i in 0..self.live.len() {
            if self.live[i] != Live::Unsent {
                continue;
            }
            let tx = &self.outbox.signed()[base + i];
            let hex = hex::encode(tx.to_bytes());
            match self.client().submit_root(hex).await {
                Ok(receipt) => {
                    self.live[i] = match receipt.status {
                        Status::Received => Live::Received,
                        Status::Finalized => Live::Finalized,
                        Status::Anchored => Live::Anchored,
                    };
                }
                Err(ClientError::Call(e)) => {
                    let code = e.code();
                    let msg = format!(
                        "batch {} (seq {}) at {}: {} (code {code})",
                        base + i,
                        tx.as_submission().map_or(0, |s| s.seq),
                        self.endpoint(),
                        e.message()
                    );
                    if code == codes::SEQ_GAP || code == codes::WRONG_PREV {
                        // The node lacks an earlier one: send from the
                        // lowest not known finalized, next cycle.
                        for l in &mut self.live {
                            if *l == Live::Received {
                                *l = Live::Unsent;
                            }
                        }
                    }
                    return Err(Stop::Error(msg));
                }
                Err(e) => return Err(self.fail_over("submit_root", &e)),
            }
        }
        Ok(())
    }

    /// Asks after the received submissions and, if `all`, the finalized
    /// ones too.
    async fn follow(&mut self, all: bool) -> Step<()> {
        let base = self.settled();
        for i in 0..self.live.len() {
            let ask = match self.live[i] {
                Live::Received => true,
                Live::Finalized => all,
                Live::Unsent | Live::Anchored => false,
            };
            if !ask {
                continue;
            }
            let id = self.outbox.signed()[base + i].submission_id().to_string();
            match self.client().get_submission(id).await {
                Ok(info) => {
                    self.live[i] = match info.status {
                        Status::Received => Live::Received,
                        Status::Finalized => Live::Finalized,
                        Status::Anchored => Live::Anchored,
                    };
                }
                Err(ClientError::Call(e)) if e.code() == codes::NOT_FOUND => {
                    // Lost with the node's mempool: send it (and what
                    // follows it) again.
                    for l in &mut self.live[i..] {
                        if *l == Live::Received {
                            *l = Live::Unsent;
                        }
                    }
                    return Ok(());
                }
                Err(ClientError::Call(e)) => {
                    return Err(Stop::Error(format!(
                        "get_submission at {}: {} (code {})",
                        self.endpoint(),
                        e.message(),
                        e.code()
                    )));
                }
                Err(e) => return Err(self.fail_over("get_submission", &e)),
            }
        }
        Ok(())
    }

    /// Saves the bundles of the anchored prefix and moves the settled mark.
    async fn settle(&mut self) -> Step<()> {
        let mut n = 0;
        while n < self.live.len() && self.live[n] == Live::Anchored {
            let number = self.settled() + n;
            let id = self.outbox.signed()[number].submission_id().to_string();
            let bundle = match self.client().get_proof(id, Some(true)).await {
                Ok(b) => b,
                Err(ClientError::Call(e)) => {
                    return Err(Stop::Error(format!(
                        "get_proof at {}: {} (code {})",
                        self.endpoint(),
                        e.message(),
                        e.code()
                    )));
                }
                Err(e) => return Err(self.fail_over("get_proof", &e)),
            };
            if bundle.anchor.is_none() {
                break;
            }
            let text = serde_json::to_string_pretty(&bundle)
                .map_err(|e| Stop::Error(format!("encoding bundle {number}: {e}")))?;
            let dir = self.dir.join(BUNDLE_DIR);
            crate::frames::write_atomic(&dir, &format!("{number}.json"), text.as_bytes())
                .map_err(|e| Stop::Error(format!("saving bundle {number}: {e}")))?;
            n += 1;
        }
        if n > 0 {
            let upto = self.outbox.settled() + n as u64;
            if let Err(e) = self.outbox.settle(upto) {
                self.reopen()?;
                return Err(Stop::Error(e.to_string()));
            }
            self.live.drain(..n);
        }
        Ok(())
    }

    fn report(&self) -> Report {
        let records = self.log.durable();
        let batched = self.batches.batched();
        let settled = self.outbox.settled();
        let count = |f: fn(&Live) -> bool| self.live.iter().filter(|l| f(l)).count() as u64;
        let anchored = settled + count(|l| *l == Live::Anchored);
        let finalized = anchored + count(|l| *l == Live::Finalized);
        Report {
            records,
            batched,
            waiting_records: records - batched,
            oldest_waiting_ms: self.log.hashes(batched, batched + 1).first().map(|h| h.1),
            batches: self.batches.list().len() as u64,
            signed: self.outbox.len(),
            finalized,
            anchored,
            settled,
            backlog_full: self.unfinalized() >= self.config.max_unfinalized.max(1),
            genesis_hash: self.outbox.pin().map(|p| p.genesis.to_string()),
            first_seq: self.outbox.pin().map(|p| p.seq),
            endpoint: Some(self.endpoint().to_owned()),
            error: self.error.clone(),
            at_ms: now_ms(),
        }
    }

    fn save_report(&self, report: &Report) {
        if let Ok(text) = serde_json::to_vec_pretty(report) {
            // Informative, rewritten every cycle: not worth an fsync.
            let tmp = self.dir.join(".status.json.tmp");
            if std::fs::write(&tmp, text).is_ok() {
                let _ = std::fs::rename(&tmp, self.dir.join(STATUS_FILE));
            }
        }
    }
}
