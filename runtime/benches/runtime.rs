//! Benchmarks of the runtime's hot paths, each read against the ML-DSA-65
//! verify rate measured in the same run (results: `docs/BENCHMARKS.md`).
//!
//! ```text
//! cargo bench -p pantheon-runtime --bench runtime            # everything, ~4 min
//! cargo bench -p pantheon-runtime --bench runtime -- block   # one group
//! ```
//!
//! | id | what |
//! |---|---|
//! | `mldsa/verify_cached` | one verification with a decoded key ([`PreparedKey::verify`]) |
//! | `mldsa/verify_uncached` | decode the key, then verify |
//! | `mldsa/prepare` | decode the key only |
//! | `mldsa/verify_parallel_batch` | 1,000 distinct signatures, 100 keys, rayon on all cores: the machine's raw verify limit |
//! | `log/append` | [`MerkleLog::append_leaf_hash`] on a log of 1,000,000 to 1,500,000 leaves |
//! | `state/update_{1k,10k}_of_1m` | one [`StateTree::update`] batch (90% existing keys, 10% new) on a tree of 1,000,000 keys |
//! | `block/execute_{1000,10000}` | [`Ledger::execute`] in [`Mode::Strict`] of a block of `SubmitRoot`s from 100 operators |
//! | `block/verify_only_{1000,10000}` | only the signature checks of that block, as the ledger does them (key lookup, [`KeyCache`], rayon) |
//!
//! Criterion's own report comes first. Then, in `--bench` mode, this file's
//! `main` prints
//!
//! - `LOAD` lines: how busy the machine was during each group, split into
//!   this process and everything else (the benchmark machine may be shared);
//! - a Markdown table of every median from this run (read back from
//!   criterion's `estimates.json`), with throughput and its cost in
//!   single-core ML-DSA-65 verifications;
//! - `TARGET` lines: the state-tree target (10k of 1M under 100 ms) and the
//!   execution target (verification >= 85% of block execution) from the
//!   criterion medians;
//! - `RATIO` lines: the same execution target from a paired measurement that
//!   alternates executing a block and verifying its signatures, so that a
//!   change in background load hits both sides alike.

use std::cell::OnceCell;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BatchSize, Criterion, SamplingMode, Throughput};
use rayon::prelude::*;

use pantheon_runtime::amount::{Amount, SUPPLY};
use pantheon_runtime::crypto::{
    AccountId, KeyCache, Keypair, PreparedKey, PublicKey, SIGNATURE_LEN, SignContext, Signature,
};
use pantheon_runtime::genesis::{Allocation, Genesis, Params, Validator, ValidatorSet};
use pantheon_runtime::hash::{AuditRoot, GenesisHash, Hash256, SubmissionId};
use pantheon_runtime::ledger::{Ledger, Mode};
use pantheon_runtime::log::MerkleLog;
use pantheon_runtime::smt::{StateTree, Update};
use pantheon_runtime::tx::{Metadata, RegisterOperator, SignedTx, SubmitRoot, TxBody};

/// Keys in the state tree of the `state` group.
const STATE_KEYS: u64 = 1_000_000;
/// Leaves in the log of the `log` group before the first append.
const LOG_LEAVES: u64 = 1_000_000;
/// The log is rebuilt from its 1,000,000-leaf copy once it passes this size.
const LOG_MAX: u64 = 1_500_000;
/// Operators signing the benchmark blocks.
const OPERATORS: usize = 100;
/// Submissions per operator in the largest block.
const CHAIN_LEN: usize = 100;
/// Signatures in `mldsa/verify_parallel_batch`.
const BATCH: usize = 1_000;
/// The state-tree target: a 10k-of-1M batch update in under this.
const STATE_TARGET: Duration = Duration::from_millis(100);
/// The execution target: verification is at least this share of execution.
const VERIFY_SHARE_TARGET: f64 = 0.85;

fn main() {
    let started = SystemTime::now();
    let bench_mode = is_bench_mode();
    eprintln!(
        "machine: {} x {}; loadavg at start: {}",
        std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get),
        cpu_model(),
        loadavg()
    );
    let mut c = Criterion::default().configure_from_args();
    bench_mldsa(&mut c);
    bench_log(&mut c);
    bench_state(&mut c);
    let blocks = OnceCell::new();
    bench_block(&mut c, &blocks);
    c.final_summary();
    if bench_mode {
        summary(started);
        if let Some(fixture) = blocks.get() {
            let meter = LoadMeter::start();
            paired_ratio(fixture, 1_000, 20);
            paired_ratio(fixture, 10_000, 8);
            meter.report("paired ratio");
        }
        eprintln!("loadavg at end: {}", loadavg());
    }
}

// ---------------------------------------------------------------------------
// mldsa

/// 100 keys and 1,000 distinct messages, each signed by key `i % 100`.
struct SigFixture {
    keys: Vec<Keypair>,
    prepared: Vec<PreparedKey>,
    messages: Vec<Vec<u8>>,
    signatures: Vec<Signature>,
}

impl SigFixture {
    fn new() -> Self {
        let keys: Vec<Keypair> = (0..OPERATORS)
            .map(|i| Keypair::from_seed(&seed(i)))
            .collect();
        let prepared = keys.iter().map(|k| k.public().prepare()).collect();
        // About the size of a SubmitRoot signing message (152 bytes).
        let messages: Vec<Vec<u8>> = (0..BATCH)
            .map(|i| {
                (0..5u8)
                    .flat_map(|k| {
                        *Hash256::digest_parts(&[b"bench/message", &i.to_be_bytes(), &[k]])
                            .as_bytes()
                    })
                    .take(152)
                    .collect()
            })
            .collect();
        let signatures = messages
            .par_iter()
            .enumerate()
            .map(|(i, m)| keys[i % OPERATORS].sign(SignContext::SubmitRoot, m))
            .collect();
        Self {
            keys,
            prepared,
            messages,
            signatures,
        }
    }
}

fn bench_mldsa(c: &mut Criterion) {
    let fixture = OnceCell::new();
    let get = || fixture.get_or_init(SigFixture::new);
    let meter = LoadMeter::start();
    let mut g = c.benchmark_group("mldsa");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));

    g.bench_function("verify_cached", |b| {
        let f = get();
        let (key, msg, sig) = (&f.prepared[0], &f.messages[0], &f.signatures[0]);
        assert!(key.verify(SignContext::SubmitRoot, msg, sig));
        b.iter(|| black_box(key).verify(SignContext::SubmitRoot, black_box(msg), black_box(sig)));
    });
    g.bench_function("verify_uncached", |b| {
        let f = get();
        let (key, msg, sig) = (f.keys[0].public(), &f.messages[0], &f.signatures[0]);
        b.iter(|| {
            black_box(key)
                .prepare()
                .verify(SignContext::SubmitRoot, black_box(msg), black_box(sig))
        });
    });
    g.bench_function("prepare", |b| {
        let key = get().keys[0].public();
        b.iter(|| black_box(key).prepare());
    });

    g.sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(BATCH as u64));
    let mut batch: Option<Vec<(&PreparedKey, &Vec<u8>, &Signature)>> = None;
    // Criterion calls this closure once per sample: set up only once.
    g.bench_function("verify_parallel_batch", |b| {
        let batch = batch.get_or_insert_with(|| {
            let f = get();
            (0..BATCH)
                .map(|i| (&f.prepared[i % OPERATORS], &f.messages[i], &f.signatures[i]))
                .collect()
        });
        b.iter(|| {
            let ok = batch
                .par_iter()
                .filter(|(key, msg, sig)| key.verify(SignContext::SubmitRoot, msg, sig))
                .count();
            assert_eq!(ok, BATCH, "every signature verifies");
        });
    });
    g.finish();
    meter.report("mldsa");
}

// ---------------------------------------------------------------------------
// log

fn bench_log(c: &mut Criterion) {
    let meter = LoadMeter::start();
    let mut g = c.benchmark_group("log");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    let mut state: Option<(MerkleLog, MerkleLog, Vec<Hash256>, usize)> = None;
    // Criterion calls this closure once per sample: set up only once.
    g.bench_function("append", |b| {
        let (base, log, leaves, next) = state.get_or_insert_with(|| {
            let base = MerkleLog::from_leaf_hashes((0..LOG_LEAVES).map(|i| leaf(b"bench/log", i)));
            let leaves = (0..4096u64).map(|i| leaf(b"bench/append", i)).collect();
            (base.clone(), base, leaves, 0)
        });
        // Every sample appends to the same log; it is reset (outside the
        // timing) once it has grown by half, so appends land on a log of
        // 1,000,000 to 1,500,000 leaves and memory stays bounded.
        b.iter_custom(|iters| {
            if log.size() > LOG_MAX {
                *log = base.clone();
            }
            let start = Instant::now();
            for _ in 0..iters {
                log.append_leaf_hash(black_box(leaves[*next]));
                *next = (*next + 1) % leaves.len();
            }
            start.elapsed()
        });
    });
    g.finish();
    meter.report("log");
}

// ---------------------------------------------------------------------------
// state

fn bench_state(c: &mut Criterion) {
    let tree = OnceCell::new();
    let get = || {
        tree.get_or_init(|| {
            let start = Instant::now();
            let mut t = StateTree::new();
            t.update(
                (0..STATE_KEYS)
                    .map(|i| (state_key(i), Some(leaf(b"bench/value", i))))
                    .collect(),
            );
            assert_eq!(t.len() as u64, STATE_KEYS);
            eprintln!(
                "state: built a tree of {STATE_KEYS} keys in {:.2?}",
                start.elapsed()
            );
            t
        })
    };
    let meter = LoadMeter::start();
    let mut g = c.benchmark_group("state");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (name, n) in [("update_1k_of_1m", 1_000), ("update_10k_of_1m", 10_000)] {
        g.throughput(Throughput::Elements(n));
        let mut updates = None;
        // Criterion calls this closure once per sample: set up only once.
        g.bench_function(name, |b| {
            let base = get();
            let updates = updates.get_or_insert_with(|| state_updates(n));
            b.iter_batched(
                || (base.clone(), updates.clone()),
                |(mut t, u)| {
                    t.update(u);
                    t
                },
                BatchSize::PerIteration,
            );
        });
    }
    g.finish();
    meter.report("state");
}

/// A random-looking 32-byte state key: the i-th key of the tree.
fn state_key(i: u64) -> Hash256 {
    leaf(b"bench/key", i)
}

/// `n` updates: 90% distinct existing keys with new values, 10% new keys.
fn state_updates(n: u64) -> Vec<Update> {
    let existing = n * 9 / 10;
    (0..n)
        .map(|j| {
            // 999,983 is prime, so j -> j * 999,983 mod 10^6 is one-to-one.
            let key = if j < existing {
                state_key(j * 999_983 % STATE_KEYS)
            } else {
                state_key(STATE_KEYS + j)
            };
            (key, Some(leaf(b"bench/new-value", j)))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// block

/// A ledger after one block that registered 100 operators, and a chain of
/// 100 signed submissions per operator, ready to execute at height 2.
struct BlockFixture {
    ledger: Ledger,
    keys: KeyCache,
    /// `chains[op][seq]`.
    chains: Vec<Vec<SignedTx>>,
}

impl BlockFixture {
    fn new() -> Self {
        let start = Instant::now();
        let validator = Keypair::from_seed(&[0xaa; 32]);
        let operators: Vec<Keypair> = (0..OPERATORS)
            .map(|i| Keypair::from_seed(&seed(i)))
            .collect();
        let each = Amount::from_pan(1_000).expect("1,000 PAN is representable");
        let mut allocations: Vec<Allocation> = operators
            .iter()
            .map(|o| Allocation {
                account: o.id(),
                amount: each,
            })
            .collect();
        allocations.push(Allocation {
            account: AccountId::from_bytes([0xee; 32]),
            amount: Amount::from_units(SUPPLY.units() - each.units() * OPERATORS as u64),
        });
        allocations.sort_by_key(|a| a.account);
        let validators = ValidatorSet::new(vec![Validator {
            public_key: validator.public().clone(),
            power: 1,
        }])
        .expect("one validator is a valid set");
        let genesis = Genesis::new(
            "pantheon-bench".into(),
            1_700_000_000_000,
            Params::default(),
            validators,
            allocations,
        )
        .expect("a valid genesis");
        let hash = genesis.hash();
        let mut ledger = Ledger::from_genesis(&genesis);
        let keys = KeyCache::default();

        let registrations = operators
            .iter()
            .map(|o| {
                TxBody::RegisterOperator(RegisterOperator {
                    key: o.public().clone(),
                    nonce: 0,
                })
                .sign(&hash, o)
            })
            .collect();
        let (block, exec) = ledger
            .propose(0, 1_700_000_001_000, registrations, &keys)
            .expect("validator 0 proposes");
        assert!(exec.rejected.is_empty(), "{:?}", exec.rejected);
        ledger
            .commit(&block.header, exec)
            .expect("the proposed block commits");

        let chains: Vec<Vec<SignedTx>> = operators
            .par_iter()
            .enumerate()
            .map(|(op, key)| submission_chain(&hash, key, op))
            .collect();
        let fixture = Self {
            ledger,
            keys,
            chains,
        };
        // Both blocks are valid in strict mode, and the verify-only path
        // accepts every signature.
        for n in [1_000usize, 10_000] {
            let txs = fixture.block(n);
            let exec = fixture
                .ledger
                .execute(0, txs.clone(), Mode::Strict, &fixture.keys)
                .expect("the benchmark block is valid");
            assert_eq!(exec.txs.len(), n);
            assert!(fixture.verify_only(&txs).into_iter().all(|ok| ok));
        }
        eprintln!(
            "block: registered {OPERATORS} operators and signed {} submissions in {:.2?}",
            OPERATORS * CHAIN_LEN,
            start.elapsed()
        );
        fixture
    }

    /// A block of `n` submissions: the first `n / 100` of every operator's
    /// chain, operators interleaved as a mempool would deliver them.
    fn block(&self, n: usize) -> Vec<SignedTx> {
        let per_operator = n / OPERATORS;
        assert!(per_operator * OPERATORS == n && per_operator <= CHAIN_LEN);
        (0..per_operator)
            .flat_map(|seq| self.chains.iter().map(move |chain| chain[seq].clone()))
            .collect()
    }

    fn execute(&self, txs: Vec<SignedTx>) -> usize {
        self.ledger
            .execute(0, txs, Mode::Strict, &self.keys)
            .expect("the benchmark block is valid")
            .txs
            .len()
    }

    /// The signature checks of a block of submissions exactly as
    /// `Ledger::execute` does them (its private `verify_signatures`): find
    /// each signer's registered key, then verify in parallel through the
    /// key cache, rebuilding each signing message.
    fn verify_only(&self, txs: &[SignedTx]) -> Vec<bool> {
        let genesis = self.ledger.genesis_hash();
        let signers: Vec<Option<(AccountId, &PublicKey)>> = txs
            .iter()
            .map(|tx| {
                let s = tx.as_submission()?;
                self.ledger
                    .operator_key(&s.operator)
                    .map(|k| (s.operator, k))
            })
            .collect();
        txs.par_iter()
            .zip(signers)
            .map(|(tx, signer)| {
                signer.is_some_and(|(id, key)| {
                    self.keys.get_by_id(id, key).verify(
                        tx.body().context(),
                        &signing_message(&genesis, tx),
                        tx.signature(),
                    )
                })
            })
            .collect()
    }
}

/// `CHAIN_LEN` chained submissions of operator `op`.
fn submission_chain(genesis: &GenesisHash, key: &Keypair, op: usize) -> Vec<SignedTx> {
    let mut prev = SubmissionId::default();
    (0..CHAIN_LEN as u64)
        .map(|seq| {
            let tx = TxBody::SubmitRoot(SubmitRoot {
                operator: key.id(),
                seq,
                prev,
                root: AuditRoot::new(leaf(b"bench/audit-root", op as u64 * 1_000_000 + seq)),
                metadata: Metadata::new("bench", Some(1_000)).expect("a short label"),
            })
            .sign(genesis, key);
            prev = tx.submission_id();
            tx
        })
        .collect()
}

/// `genesis_hash || tx bytes without the signature`, as the ledger builds it.
fn signing_message(genesis: &GenesisHash, tx: &SignedTx) -> Vec<u8> {
    let bytes = tx.as_bytes();
    let unsigned = &bytes[..bytes.len() - SIGNATURE_LEN];
    let mut msg = Vec::with_capacity(32 + unsigned.len());
    msg.extend_from_slice(genesis.as_bytes());
    msg.extend_from_slice(unsigned);
    msg
}

fn bench_block(c: &mut Criterion, fixture: &OnceCell<BlockFixture>) {
    let get = || fixture.get_or_init(BlockFixture::new);
    let meter = LoadMeter::start();
    let mut g = c.benchmark_group("block");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2));
    for (n, secs) in [(1_000usize, 4), (10_000, 9)] {
        g.throughput(Throughput::Elements(n as u64))
            .measurement_time(Duration::from_secs(secs));
        let mut block = None;
        // Criterion calls these closures once per sample: set up only once.
        g.bench_function(format!("execute_{n}"), |b| {
            let f = get();
            let txs = block.get_or_insert_with(|| f.block(n));
            b.iter_batched(
                || txs.clone(),
                |txs| assert_eq!(f.execute(txs), n),
                BatchSize::PerIteration,
            );
        });
        g.bench_function(format!("verify_only_{n}"), |b| {
            let f = get();
            let txs = block.get_or_insert_with(|| f.block(n));
            b.iter(|| f.verify_only(black_box(txs)));
        });
    }
    g.finish();
    meter.report("block");
}

/// Alternates executing a block and verifying its signatures, `pairs`
/// times, and prints the ratio of the medians.
fn paired_ratio(f: &BlockFixture, n: usize, pairs: usize) {
    let txs = f.block(n);
    let mut execute = Vec::with_capacity(pairs);
    let mut verify = Vec::with_capacity(pairs);
    let mut ratios = Vec::with_capacity(pairs);
    for i in 0..pairs {
        let input = txs.clone();
        let time_execute = |input: Vec<SignedTx>| {
            let start = Instant::now();
            let applied = f.execute(input);
            let elapsed = start.elapsed();
            assert_eq!(applied, n);
            elapsed
        };
        let time_verify = || {
            let start = Instant::now();
            let ok = f.verify_only(&txs);
            let elapsed = start.elapsed();
            assert!(ok.into_iter().all(|ok| ok));
            elapsed
        };
        // Alternate which goes first, so neither always runs on a warm cache.
        let (e, v) = if i % 2 == 0 {
            let e = time_execute(input);
            (e, time_verify())
        } else {
            let v = time_verify();
            (time_execute(input), v)
        };
        execute.push(e);
        verify.push(v);
        ratios.push(v.as_secs_f64() / e.as_secs_f64());
    }
    let (e, v) = (median(&mut execute), median(&mut verify));
    ratios.sort_by(f64::total_cmp);
    let ratio = v.as_secs_f64() / e.as_secs_f64();
    let rest = e.saturating_sub(v);
    eprintln!(
        "RATIO block/verify_only_{n} / block/execute_{n} = {ratio:.3} \
         (paired, {pairs} pairs: execute median {e:.2?}, verify median {v:.2?}; \
         per-pair ratios {:.3}..{:.3}); non-verification {rest:.2?} = {:.2} us/tx; \
         target >= {VERIFY_SHARE_TARGET}: {}",
        ratios[0],
        ratios[ratios.len() - 1],
        rest.as_secs_f64() * 1e6 / n as f64,
        met(ratio >= VERIFY_SHARE_TARGET),
    );
}

// ---------------------------------------------------------------------------
// Summary from criterion's estimates

/// `(group, function, elements per iteration)` of every benchmark.
const ROWS: &[(&str, &str, u64)] = &[
    ("mldsa", "verify_cached", 1),
    ("mldsa", "verify_uncached", 1),
    ("mldsa", "prepare", 1),
    ("mldsa", "verify_parallel_batch", BATCH as u64),
    ("log", "append", 1),
    ("state", "update_1k_of_1m", 1_000),
    ("state", "update_10k_of_1m", 10_000),
    ("block", "execute_1000", 1_000),
    ("block", "verify_only_1000", 1_000),
    ("block", "execute_10000", 10_000),
    ("block", "verify_only_10000", 10_000),
];

/// Criterion's median of one benchmark from this run: `(median, lower, upper)`
/// of its 95% confidence interval, in nanoseconds per iteration.
fn estimate(group: &str, function: &str, since: SystemTime) -> Option<(f64, f64, f64)> {
    let path = criterion_dir()
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < since {
        return None; // from an earlier run: this run filtered it out
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    let median = &json["median"];
    Some((
        median["point_estimate"].as_f64()?,
        median["confidence_interval"]["lower_bound"].as_f64()?,
        median["confidence_interval"]["upper_bound"].as_f64()?,
    ))
}

/// Where criterion writes its results (the order criterion itself uses,
/// with the workspace's `target` instead of asking `cargo metadata`).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/criterion")
}

fn summary(since: SystemTime) {
    let get = |g: &str, f: &str| estimate(g, f, since).map(|(m, _, _)| m);
    let single = get("mldsa", "verify_cached");
    let parallel = get("mldsa", "verify_parallel_batch").map(|ns| BATCH as f64 * 1e9 / ns);
    eprintln!();
    eprintln!("SUMMARY (criterion medians of this run)");
    if let Some(ns) = single {
        eprintln!(
            "VERIFY ML-DSA-65 single core: {:.1} us = {:.0} verifies/s",
            ns / 1e3,
            1e9 / ns
        );
    }
    if let Some(rate) = parallel {
        eprintln!(
            "VERIFY ML-DSA-65 all {} cores (raw verify limit): {rate:.0} verifies/s",
            rayon::current_num_threads()
        );
    }
    eprintln!();
    eprintln!("| benchmark | median [95% CI] | throughput | = single-core verifies |");
    eprintln!("|---|---|---|---|");
    for &(group, function, elements) in ROWS {
        let Some((median, lower, upper)) = estimate(group, function, since) else {
            continue;
        };
        let per_second = elements as f64 * 1e9 / median;
        let verifies = single.map_or_else(|| "-".into(), |s| format!("{:.2}", median / s));
        eprintln!(
            "| `{group}/{function}` | {} [{} .. {}] | {} | {verifies} |",
            human_ns(median),
            human_ns(lower),
            human_ns(upper),
            human_rate(per_second, elements),
        );
    }
    eprintln!();
    for line in LOAD_REPORTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
    {
        eprintln!("{line}");
    }
    if let Some(ns) = get("state", "update_10k_of_1m") {
        let target = STATE_TARGET.as_secs_f64() * 1e9;
        eprintln!(
            "TARGET state/update_10k_of_1m: {} < {} : {} ({:.2} of the budget)",
            human_ns(ns),
            human_ns(target),
            met(ns < target),
            ns / target
        );
    }
    for n in [1_000usize, 10_000] {
        let (Some(e), Some(v)) = (
            get("block", &format!("execute_{n}")),
            get("block", &format!("verify_only_{n}")),
        ) else {
            continue;
        };
        let tx_rate = n as f64 * 1e9 / e;
        let share = parallel.map_or_else(String::new, |p| {
            format!(
                "; {tx_rate:.0} tx/s = {:.2} of the raw verify limit",
                tx_rate / p
            )
        });
        eprintln!(
            "TARGET block/verify_only_{n} / block/execute_{n} = {:.3} (criterion medians {} / {}) \
             >= {VERIFY_SHARE_TARGET}: {}{share}",
            v / e,
            human_ns(v),
            human_ns(e),
            met(v / e >= VERIFY_SHARE_TARGET),
        );
    }
}

// ---------------------------------------------------------------------------
// Machine load

/// CPU time used on the whole machine and by this process between two points.
struct LoadMeter {
    wall: Instant,
    machine: Option<(u64, u64)>,
    own: Option<u64>,
    loadavg: String,
}

static LOAD_REPORTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl LoadMeter {
    fn start() -> Self {
        Self {
            wall: Instant::now(),
            machine: machine_ticks(),
            own: own_ticks(),
            loadavg: loadavg(),
        }
    }

    /// Prints the share of all cores that were busy, for this process and
    /// for everything else, since `start`.
    fn report(&self, what: &str) {
        let (Some((busy0, total0)), Some((busy1, total1)), Some(own0), Some(own1)) =
            (self.machine, machine_ticks(), self.own, own_ticks())
        else {
            return;
        };
        if self.wall.elapsed() < Duration::from_millis(500) {
            return; // the group was filtered out
        }
        let total = (total1 - total0).max(1) as f64;
        let busy = (busy1 - busy0) as f64;
        let own = (own1 - own0) as f64;
        let line = format!(
            "LOAD {what}: {:.1?} wall; all cores {:.0}% busy: this benchmark {:.0}%, \
             other processes {:.0}%; loadavg {} -> {}",
            self.wall.elapsed(),
            100.0 * busy / total,
            100.0 * own.min(busy) / total,
            100.0 * (busy - own).max(0.0) / total,
            self.loadavg,
            loadavg()
        );
        eprintln!("{line}");
        LOAD_REPORTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(line);
    }
}

/// `(busy, total)` clock ticks of all CPUs, from `/proc/stat`.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    // user nice system idle iowait irq softirq steal (guest time is in user)
    let fields: Vec<u64> = line
        .split_whitespace()
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let total: u64 = fields.iter().sum();
    let idle = fields.get(3)? + fields.get(4)?;
    Some((total - idle, total))
}

/// User + system clock ticks of this process (all threads).
fn own_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state(0) ... utime(11) stime(12).
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

// ---------------------------------------------------------------------------
// Helpers

/// True when criterion will measure (not `--test`, `--list` or `--profile-time`).
fn is_bench_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| {
        args.iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    has("--bench") && !has("--test") && !has("--list") && !has("--profile-time")
}

/// A distinct, deterministic 32-byte key seed.
fn seed(i: usize) -> [u8; 32] {
    *Hash256::digest_parts(&[b"bench/seed", &i.to_be_bytes()]).as_bytes()
}

/// A deterministic, uniformly distributed hash of `(tag, i)`.
fn leaf(tag: &[u8], i: u64) -> Hash256 {
    Hash256::digest_parts(&[tag, &i.to_be_bytes()])
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn met(ok: bool) -> &'static str {
    if ok { "MET" } else { "MISSED" }
}

fn human_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} us", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn human_rate(per_second: f64, elements: u64) -> String {
    let unit = if elements == 1 { "op/s" } else { "elem/s" };
    if per_second >= 1e6 {
        format!("{:.2} M{unit}", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.1} k{unit}", per_second / 1e3)
    } else {
        format!("{per_second:.0} {unit}")
    }
}
