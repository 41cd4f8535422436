//! The soak (issue 15, item 5): load from several operators against a
//! `pantheon dev` node (one validator and its managed regtest bitcoind)
//! while the node is killed with SIGKILL at random moments, for N cycles.
//!
//! Four operators, each its own registered ML-DSA-65 key and thread, sign
//! `SubmitRoot` transactions and send them over JSON-RPC
//! (`pantheon_submitRoot`), one sequence number after another. An answer
//! is an acknowledgement (`received`, or `finalized` for a retry of one
//! already in a block); a submission that got an error instead (the node
//! was down, or refused it) is sent again, the very same bytes under the
//! same seq, until it is acknowledged. So each seq is signed exactly once.
//! A poller follows every acknowledged submission's status
//! (`pantheon_getSubmission`) and records the highest it has seen:
//! `received`, `finalized`, `anchored`.
//!
//! Each cycle: the load runs for a random 0.3-3 s, the node is killed with
//! SIGKILL (in about one cycle in four its bitcoind is SIGKILLed first, at
//! a random moment of the window, and restarted by the node's restart),
//! then restarted on the same home and port. Recovery is timed from the
//! kill until JSON-RPC answers and a new block is final; a restart that
//! does not recover within 90 s counts as failed and is tried again.
//!
//! After the last cycle the load stops and the test waits (at most
//! `PANTHEON_SOAK_SETTLE_SECS`, default 180) until every acknowledged
//! submission is finalized and then anchored, and prints
//!
//! ```text
//! soak: N cycles, R restarts failed, recover p50/max X/Y ms; received A (missing a), finalized B (missing b), anchored C (missing c)
//! ```
//!
//! where A, B, C count the acknowledged submissions seen at least at that
//! level at some point, and a, b, c those of them that are not at least at
//! that level at the end. It fails unless every missing count and R are 0,
//! every acknowledged submission ends anchored, each one is in exactly one
//! block (no seq of an operator finalized twice: one block walk over the
//! whole chain) under the id it was acknowledged with, and each operator's
//! next seq is the number of its acknowledged submissions.
//!
//! CI runs 10 cycles (about 45 s on 2 cores; 100 cycles take about 6.5
//! minutes). Long, with the report:
//!
//! ```sh
//! scripts/soak 100        # PANTHEON_SOAK_CYCLES=100 cargo test -p pantheon-node --test soak -- --nocapture
//! ```
//!
//! The seed of the kill moments is printed; `PANTHEON_SOAK_SEED` repeats
//! it, and `PANTHEON_SOAK_KILL_BITCOIND=0` kills the node only.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pantheon_runtime::crypto::Keypair;
use pantheon_runtime::hash::{AuditRoot, GenesisHash, Hash256, SubmissionId};
use pantheon_runtime::tx::{Metadata, SignedTx, SubmitRoot, TxBody};
use serde_json::{Value, json};
use support::{Lcg, Rpc};

const OPERATORS: usize = 4;
/// Longest wait for a restarted node to answer and finalize a new block.
const RECOVER_LIMIT: Duration = Duration::from_secs(90);
/// Restarts tried in a row before the soak gives up.
const ATTEMPTS: u32 = 3;
/// Pause between one operator's submissions (about 40 a second each).
const PACE: Duration = Duration::from_millis(25);
/// Pause before sending again after an error.
const RETRY: Duration = Duration::from_millis(100);

/// How far a submission has come, as `pantheon_getSubmission` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    /// Not known to the node.
    Unknown,
    Received,
    Finalized,
    Anchored,
}

impl Level {
    fn of(status: &Value) -> Self {
        match status.as_str() {
            Some("received") => Self::Received,
            Some("finalized") => Self::Finalized,
            Some("anchored") => Self::Anchored,
            _ => Self::Unknown,
        }
    }
}

/// One acknowledged submission.
struct Acked {
    operator: usize,
    seq: u64,
    id: SubmissionId,
    /// The highest status seen since the acknowledgement.
    seen: Level,
}

/// What the load threads share.
#[derive(Default)]
struct Book {
    acked: Mutex<Vec<Acked>>,
    /// Errors answered to submissions, by JSON-RPC code (0: transport).
    errors: Mutex<BTreeMap<i32, u64>>,
    /// Answers that named another submission than the one sent.
    wrong_ids: Mutex<Vec<String>>,
}

/// A `pantheon dev` process the soak kills and restarts.
struct Node {
    home: PathBuf,
    port: u16,
    rpc: String,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn new(home: &Path) -> Self {
        let port = support::free_port();
        Self {
            home: home.to_path_buf(),
            port,
            rpc: format!("http://127.0.0.1:{port}"),
            log: home.with_extension("log"),
            child: None,
        }
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(support::bin())
            .args([
                "dev",
                "--home",
                self.home.to_str().unwrap(),
                "--rpc-addr",
                &format!("127.0.0.1:{}", self.port),
                "--block-time-ms",
                "250",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// Waits until JSON-RPC answers and a block newer than the first
    /// head it answers is final.
    fn recover(&mut self, limit: Duration) -> Result<(), String> {
        let rpc = Rpc::new(&self.rpc);
        let start = Instant::now();
        let mut first: Option<u64> = None;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                return Err(format!("the node exited: {status}"));
            }
            if let Ok(h) = rpc.call("chain_getHead", vec![]) {
                let height = h["header"]["height"].as_u64().unwrap_or(0);
                match first {
                    None => first = Some(height),
                    Some(f) if height > f => return Ok(()),
                    Some(_) => {}
                }
            }
            if start.elapsed() > limit {
                return Err(format!(
                    "no new final block within {limit:?} (first head answered: {first:?})"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn sigkill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The managed bitcoind's pid, from its pid file, if that process
    /// still runs on this home.
    fn bitcoind_pid(&self) -> Option<Pid> {
        let file = self
            .home
            .join("bitcoind")
            .join("regtest")
            .join("bitcoind.pid");
        let pid: i32 = std::fs::read_to_string(file).ok()?.trim().parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline);
        let home = self.home.canonicalize().ok()?;
        (cmdline.contains("bitcoind") && cmdline.contains(home.to_str()?))
            .then(|| Pid::from_raw(pid))
    }

    fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // SIGTERM, so the node stops its bitcoind; a bitcoind left by a
        // killed node is stopped here.
        if let Some(mut c) = self.child.take() {
            support::terminate(&c);
            support::reap_by(&mut c, Instant::now() + Duration::from_secs(15));
        }
        if let Some(pid) = self.bitcoind_pid() {
            let _ = kill(pid, Signal::SIGTERM);
        }
    }
}

fn env_u64(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// One operator's load: seq after seq, each signed once and sent until
/// acknowledged.
fn operate(
    rpc: &str,
    genesis: &GenesisHash,
    key: &Keypair,
    operator: usize,
    book: &Book,
    stop: &AtomicBool,
) {
    let client = Rpc::new(rpc);
    let tag = u8::try_from(operator).unwrap();
    let mut prev = SubmissionId::default();
    let mut seq = 0u64;
    let sign = |seq: u64, prev: SubmissionId| -> SignedTx {
        TxBody::SubmitRoot(SubmitRoot {
            operator: key.id(),
            seq,
            prev,
            root: AuditRoot::new(Hash256::digest_parts(&[
                b"soak",
                &[tag],
                &seq.to_be_bytes(),
            ])),
            metadata: Metadata::default(),
        })
        .sign(genesis, key)
    };
    let mut tx = sign(seq, prev);
    // Once told to stop, a submission that just got an error is sent
    // until acknowledged (it may be durable already), for at most a minute.
    let mut unanswered = false;
    let mut stopping: Option<Instant> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            let since = *stopping.get_or_insert_with(Instant::now);
            if !unanswered || since.elapsed() > Duration::from_secs(60) {
                return;
            }
        }
        match client.call(
            "pantheon_submitRoot",
            vec![json!(hex::encode(tx.as_bytes()))],
        ) {
            Ok(answer) => {
                let id = tx.submission_id();
                if answer["id"] != id.to_string() {
                    book.wrong_ids.lock().unwrap().push(format!(
                        "operator {operator} seq {seq}: sent {id}, answer {answer}"
                    ));
                }
                book.acked.lock().unwrap().push(Acked {
                    operator,
                    seq,
                    id,
                    seen: Level::of(&answer["status"]).max(Level::Received),
                });
                unanswered = false;
                prev = id;
                seq += 1;
                tx = sign(seq, prev);
                std::thread::sleep(PACE);
            }
            Err((code, _)) => {
                unanswered = true;
                *book.errors.lock().unwrap().entry(code).or_default() += 1;
                std::thread::sleep(RETRY);
            }
        }
    }
}

/// Follows every acknowledged submission below `anchored` and records the
/// highest status it is seen at.
fn poll(rpc: &str, book: &Book, stop: &AtomicBool) {
    let client = Rpc::new(rpc);
    while !stop.load(Ordering::Relaxed) {
        let pending: Vec<(usize, SubmissionId)> = book
            .acked
            .lock()
            .unwrap()
            .iter()
            .enumerate()
            .filter(|(_, a)| a.seen < Level::Anchored)
            .map(|(i, a)| (i, a.id))
            .collect();
        for (i, id) in pending {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            if let Ok(info) = client.call("pantheon_getSubmission", vec![json!(id.to_string())]) {
                let level = Level::of(&info["status"]);
                let mut acked = book.acked.lock().unwrap();
                acked[i].seen = acked[i].seen.max(level);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn genesis_hash(rpc: &str) -> GenesisHash {
    Rpc::new(rpc).call("system_version", vec![]).unwrap()["genesis_hash"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn head(client: &Rpc) -> u64 {
    client.call("chain_getHead", vec![]).unwrap()["header"]["height"]
        .as_u64()
        .unwrap()
}

/// The nearest-rank percentile `p` (0-100) of sorted `xs`.
fn percentile(xs: &[u128], p: usize) -> u128 {
    if xs.is_empty() {
        return 0;
    }
    let rank = (xs.len() * p).div_ceil(100).max(1);
    xs[rank - 1]
}

/// Where the acknowledged submissions stand at the end.
struct Audit {
    /// Each one's status now, in the order of `acked`.
    now: Vec<Level>,
    /// Seqs the node holds otherwise than acknowledged.
    misplaced: Vec<String>,
    /// Submissions in more than one block.
    twice: Vec<String>,
    /// The chain's height.
    top: u64,
}

/// Asks the node where every acknowledged submission stands, checks each
/// operator's seqs against the acknowledgements, and walks the chain.
fn audit(client: &Rpc, acked: &[Acked], op_ids: &[String], seed: u64) -> Audit {
    let now: Vec<Level> = acked
        .iter()
        .map(
            |a| match client.call("pantheon_getSubmission", vec![json!(a.id.to_string())]) {
                Ok(info) => Level::of(&info["status"]),
                Err(_) => Level::Unknown,
            },
        )
        .collect();
    // Each operator's seqs: exactly the acknowledged ones, each under the
    // acknowledged id.
    let mut misplaced = Vec::new();
    for a in acked {
        let op = &op_ids[a.operator];
        match client.call("pantheon_getSubmissionAt", vec![json!(op), json!(a.seq)]) {
            Ok(info) if info["id"] == a.id.to_string() => {}
            other => misplaced.push(format!(
                "operator {} seq {}: acknowledged {}, the node has {other:?}",
                a.operator, a.seq, a.id
            )),
        }
    }
    let mut counts = vec![0u64; op_ids.len()];
    for a in acked {
        counts[a.operator] += 1;
    }
    for (i, op) in op_ids.iter().enumerate() {
        let state = client
            .call("pantheon_getOperator", vec![json!(op)])
            .unwrap();
        if state["next_seq"] != counts[i] {
            misplaced.push(format!(
                "operator {i}: {} acknowledged, next_seq {}",
                counts[i], state["next_seq"]
            ));
        }
    }
    // The whole chain: every acknowledged id in exactly one block (each
    // seq was signed once, so a seq finalized twice is an id in two).
    let top = head(client);
    let mut blocks_of: BTreeMap<String, u32> = BTreeMap::new();
    for h in 1..=top {
        let b = client
            .call("chain_getBlock", vec![json!(h), json!(false)])
            .unwrap_or_else(|e| panic!("seed {seed}: block {h} of {top}: {e:?}"));
        for id in b["tx_ids"].as_array().unwrap() {
            *blocks_of
                .entry(id.as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    let mut twice = Vec::new();
    for a in acked {
        match blocks_of.get(&a.id.to_string()).copied().unwrap_or(0) {
            1 => {}
            0 => misplaced.push(format!(
                "operator {} seq {} ({}): in no block",
                a.operator, a.seq, a.id
            )),
            n => twice.push(format!(
                "operator {} seq {} ({}): in {n} blocks",
                a.operator, a.seq, a.id
            )),
        }
    }
    Audit {
        now,
        misplaced,
        twice,
        top,
    }
}

/// The receipt-log replays of every start in the node's log: submissions
/// answered `received` that were still unfinalized at a kill, summed as
/// (admitted, finalized meanwhile, refused).
fn replays(log: &Path) -> (u64, u64, u64) {
    let text = support::plain_log(log);
    let field = |line: &str, name: &str| -> u64 {
        line.split(&format!("{name}="))
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    text.lines()
        .filter(|l| l.contains("receipt log replayed"))
        .fold((0, 0, 0), |(a, f, r), l| {
            (
                a + field(l, "admitted"),
                f + field(l, "finalized"),
                r + field(l, "refused"),
            )
        })
}

#[test]
fn soak_kill_nine_under_load_loses_nothing_acknowledged() {
    let seed = support::seed("PANTHEON_SOAK_SEED", "soak");
    let mut rng = Lcg(seed);
    let cycles = env_u64("PANTHEON_SOAK_CYCLES", 10);
    let settle = Duration::from_secs(env_u64("PANTHEON_SOAK_SETTLE_SECS", 180));
    let kill_bitcoind = env_u64("PANTHEON_SOAK_KILL_BITCOIND", 1) != 0;
    let began = Instant::now();

    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::new(&dir.path().join("dev"));
    node.spawn();
    node.recover(RECOVER_LIMIT)
        .unwrap_or_else(|e| panic!("the first start: {e}; log:\n{}", node.log_tail(80)));
    let g = genesis_hash(&node.rpc);
    let funder = node.home.join("dev-funder.key");
    let keys: Vec<Keypair> = (0..OPERATORS)
        .map(|i| support::operator(&node.rpc, &funder, dir.path(), &format!("op{i}"), "1000").1)
        .collect();
    eprintln!(
        "soak: {OPERATORS} operators registered in {:?}; {cycles} kill cycles to go",
        began.elapsed()
    );

    let op_ids: Vec<String> = keys.iter().map(|k| k.id().to_string()).collect();
    let book = Arc::new(Book::default());
    let stop_load = Arc::new(AtomicBool::new(false));
    let stop_poll = Arc::new(AtomicBool::new(false));
    let operators: Vec<_> = keys
        .into_iter()
        .enumerate()
        .map(|(i, key)| {
            let (rpc, book, stop) = (node.rpc.clone(), book.clone(), stop_load.clone());
            std::thread::spawn(move || operate(&rpc, &g, &key, i, &book, &stop))
        })
        .collect();
    let poller = {
        let (rpc, book, stop) = (node.rpc.clone(), book.clone(), stop_poll.clone());
        std::thread::spawn(move || poll(&rpc, &book, &stop))
    };

    let mut recover_ms: Vec<u128> = Vec::new();
    let mut failed = 0u32;
    let mut bitcoind_kills = 0u32;
    for cycle in 1..=cycles {
        let window = rng.between(300, 3000);
        let bitcoind_at =
            (kill_bitcoind && rng.next().is_multiple_of(4)).then(|| rng.between(0, window));
        let mut note = String::new();
        if let Some(at) = bitcoind_at {
            std::thread::sleep(Duration::from_millis(at));
            if let Some(pid) = node.bitcoind_pid() {
                kill(pid, Signal::SIGKILL).unwrap();
                bitcoind_kills += 1;
                note = format!(" (its bitcoind at {at} ms)");
            }
            std::thread::sleep(Duration::from_millis(window - at));
        } else {
            std::thread::sleep(Duration::from_millis(window));
        }
        let killed = Instant::now();
        node.sigkill();
        let mut attempt = 1;
        loop {
            node.spawn();
            match node.recover(RECOVER_LIMIT) {
                Ok(()) => break,
                Err(e) => {
                    failed += 1;
                    eprintln!(
                        "soak: seed {seed} cycle {cycle}: restart {attempt} failed: {e}\n{}",
                        node.log_tail(30)
                    );
                    node.sigkill();
                    assert!(
                        attempt < ATTEMPTS,
                        "seed {seed} cycle {cycle}: {ATTEMPTS} restarts failed; log:\n{}",
                        node.log_tail(80)
                    );
                    attempt += 1;
                }
            }
        }
        let ms = killed.elapsed().as_millis();
        recover_ms.push(ms);
        eprintln!(
            "soak: cycle {cycle}/{cycles}: killed after {window} ms{note}, recovered in {ms} ms; {} acknowledged",
            book.acked.lock().unwrap().len()
        );
    }

    // The load stops; every acknowledged submission must settle.
    stop_load.store(true, Ordering::Relaxed);
    for t in operators {
        t.join().unwrap();
    }
    let settling = Instant::now();
    while book
        .acked
        .lock()
        .unwrap()
        .iter()
        .any(|a| a.seen < Level::Anchored)
        && settling.elapsed() < settle
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    stop_poll.store(true, Ordering::Relaxed);
    poller.join().unwrap();
    let settled_in = settling.elapsed();

    let client = Rpc::new(&node.rpc);
    let acked = std::mem::take(&mut *book.acked.lock().unwrap());
    let Audit {
        now,
        misplaced,
        twice,
        top,
    } = audit(&client, &acked, &op_ids, seed);

    let count = |level: Level| {
        let seen = acked.iter().filter(|a| a.seen >= level).count();
        let missing = acked
            .iter()
            .zip(&now)
            .filter(|(a, n)| a.seen >= level && **n < level)
            .count();
        (seen, missing)
    };
    let (received, missing_received) = count(Level::Received);
    let (finalized, missing_finalized) = count(Level::Finalized);
    let (anchored, missing_anchored) = count(Level::Anchored);
    let unsettled = now.iter().filter(|l| **l < Level::Anchored).count();
    recover_ms.sort_unstable();
    let errors = book.errors.lock().unwrap().clone();
    let wrong_ids = book.wrong_ids.lock().unwrap().clone();
    let (admitted, refinalized, refused) = replays(&node.log);
    eprintln!(
        "soak: receipt log replayed at restarts: {admitted} admitted, {refinalized} finalized meanwhile, {refused} refused"
    );
    eprintln!(
        "soak: seed {seed}; {bitcoind_kills} bitcoind SIGKILLs; submit errors by code (0: transport) {errors:?}; \
         settled in {settled_in:?}; {top} blocks; {:?} in all",
        began.elapsed()
    );
    println!(
        "soak: {cycles} cycles, {failed} restarts failed, recover p50/max {}/{} ms; \
         received {received} (missing {missing_received}), finalized {finalized} (missing {missing_finalized}), \
         anchored {anchored} (missing {missing_anchored})",
        percentile(&recover_ms, 50),
        recover_ms.last().copied().unwrap_or(0),
    );
    assert!(received > 0, "seed {seed}: the load acknowledged nothing");
    assert_eq!(failed, 0, "seed {seed}: restarts failed");
    assert_eq!(
        (missing_received, missing_finalized, missing_anchored),
        (0, 0, 0),
        "seed {seed}: acknowledged submissions missing after recovery"
    );
    assert_eq!(
        unsettled, 0,
        "seed {seed}: {unsettled} acknowledged submissions not anchored after {settle:?}"
    );
    assert!(wrong_ids.is_empty(), "seed {seed}: {wrong_ids:#?}");
    assert!(twice.is_empty(), "seed {seed}: finalized twice: {twice:#?}");
    assert!(misplaced.is_empty(), "seed {seed}: {misplaced:#?}");
}
