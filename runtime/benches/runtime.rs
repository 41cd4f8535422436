//! Benchmarks of the runtime's hot paths, each read against the ML-DSA-65
//! verify rate measured in the same run (results: `docs/BENCHMARKS.md`).
//! Verification runs on AWS-LC ([`VerifyBackend::AwsLc`], what
//! [`PublicKey::prepare`] and [`KeyCache`] use); the `ml-dsa` crate
//! ([`VerifyBackend::RustCrypto`]) is measured beside it in the same run.
//!
//! ```text
//! cargo bench -p pantheon-runtime --bench runtime            # everything, about 3 min
//! cargo bench -p pantheon-runtime --bench runtime -- block   # one group
//! ```
//!
//! | id | what |
//! |---|---|
//! | `mldsa/verify_cached` | one verification with a prepared key ([`PreparedKey::verify`], AWS-LC, with a context string) |
//! | `mldsa/verify_cached_rust_crypto` | the same with the `ml-dsa` backend |
//! | `mldsa/verify_cached_aws_lc_rs` | for comparison: `aws-lc-rs`'s safe API (empty context string), the same AWS-LC without our FFI layer |
//! | `mldsa/verify_uncached`, `mldsa/verify_uncached_rust_crypto` | prepare the key, then verify |
//! | `mldsa/prepare`, `mldsa/prepare_rust_crypto` | prepare the key only (`ml-dsa` expands the matrix `A`; AWS-LC copies the bytes) |
//! | `mldsa/verify_parallel_batch` | 1,000 distinct signatures, 100 keys, rayon on all cores: the machine's raw verify limit (AWS-LC) |
//! | `mldsa/verify_parallel_batch_rust_crypto` | the same with the `ml-dsa` backend |
//! | `log/append` | [`MerkleLog::append_leaf_hash`] on a log of 1,000,000 to 1,500,000 leaves |
//! | `state/update_{1k,10k}_of_1m` | one [`StateTree::update`] batch (90% existing keys, 10% new) on a tree of 1,000,000 keys |
//! | `block/execute_{1000,10000}` | [`Ledger::execute`] in [`Mode::Strict`] of a block of `SubmitRoot`s from 100 operators, with a fresh [`KeyCache`] holding their decoded keys |
//! | `block/verify_only_{1000,10000}` | only the signature checks of that block, as the ledger does them (key lookup, [`KeyCache`] with its verified-transaction lookups, rayon), also with a fresh cache |
//! | `block/execute_{1000,10000}_preverified` | the same execution when every signature is already marked verified in the cache (admitted through the mempool): everything but verification |
//!
//! Criterion's own report comes first. Then, in `--bench` mode, this file's
//! `main` prints
//!
//! - `LOAD` lines: how busy the machine was during each group, split into
//!   this process and everything else (the benchmark machine may be shared);
//! - `VERIFY` lines: the ML-DSA-65 verify rate of both backends (one core,
//!   and all cores with rayon) measured just before and just after each
//!   group, so that every group is read against the verify rate of the same
//!   moment even when the background load changes during the run;
//! - `BACKENDS` lines: AWS-LC against `ml-dsa` from criterion medians and
//!   from the `VERIFY` measurements (which interleave the two);
//! - a Markdown table of every median from this run (read back from
//!   criterion's `estimates.json`), with throughput and its cost in
//!   single-core verifications at the rate measured around its group;
//! - `TARGET state/...`: the state-tree target (10k of 1M under 100 ms)
//!   from the criterion median;
//! - `UNPAIRED` lines: the execution ratios from criterion medians. These
//!   are measured one after another, so on a shared machine a change in
//!   background load between them distorts the ratio; they are not verdicts;
//! - then, if the `block` group ran, an interleaved measurement (see
//!   `interleaved_ratio`) that processes one block four ways in rotation,
//!   so that background load hits all of them alike, and prints
//!   `TARGET block/...` (verification >= 85% of execution), `RATIO` lines
//!   (execution without verification; execution against the raw verify rate
//!   measured alongside; the raw verify rate of AWS-LC against `ml-dsa` on
//!   the same block), a `CLONE` line (the copy `Ledger::apply_block`
//!   makes of a block before executing it) and a `REPEAT` line (whether
//!   executing a block twice with one cache verifies its signatures twice).

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use aws_lc_rs::signature::{ML_DSA_65, ParsedPublicKey};
use criterion::{BatchSize, Criterion, SamplingMode, Throughput};
use rayon::prelude::*;

use pantheon_runtime::amount::{Amount, SUPPLY};
use pantheon_runtime::crypto::{
    AccountId, KeyCache, Keypair, PreparedKey, PublicKey, SignContext, Signature, VerifyBackend,
};
use pantheon_runtime::genesis::{Allocation, Genesis, Params, Validator, ValidatorSet};
use pantheon_runtime::hash::{AuditRoot, GenesisHash, Hash256, SubmissionId};
use pantheon_runtime::ledger::{Execution, Ledger, Mode};
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
    let sigs = OnceCell::new();
    let blocks = OnceCell::new();
    // Verify-rate measurements around each group, only when measuring.
    let calibrate = bench_mode.then(|| sigs.get_or_init(SigFixture::new));
    let mut runs = Vec::new();
    run_group("mldsa", &mut c, calibrate, &mut runs, |c| {
        bench_mldsa(c, &sigs);
    });
    run_group("log", &mut c, calibrate, &mut runs, bench_log);
    run_group("state", &mut c, calibrate, &mut runs, bench_state);
    run_group("block", &mut c, calibrate, &mut runs, |c| {
        bench_block(c, &blocks);
    });
    c.final_summary();
    if let Some(sigs) = calibrate {
        summary(started, &runs);
        if let Some(fixture) = blocks.get() {
            let meter = LoadMeter::start();
            let rate = measure_verify_rate(sigs);
            interleaved_ratio(fixture, 1_000, 15);
            interleaved_ratio(fixture, 10_000, 6);
            let after = measure_verify_rate(sigs);
            if let Some(load) = meter.finish("interleaved ratio") {
                eprintln!("{load}");
            }
            eprintln!("{}", rate_line("interleaved ratio", rate, after));
        }
        eprintln!("loadavg at end: {}", loadavg());
    }
}

/// One group of benchmarks that ran, with the load and verify rates around it.
struct GroupRun {
    name: &'static str,
    load: String,
    before: VerifyRate,
    after: VerifyRate,
}

/// Runs one group; when `calibrate` is given (bench mode), measures the
/// verify rate before and after it and records the run.
fn run_group(
    name: &'static str,
    c: &mut Criterion,
    calibrate: Option<&SigFixture>,
    runs: &mut Vec<GroupRun>,
    group: impl FnOnce(&mut Criterion),
) {
    let before = calibrate.map(measure_verify_rate);
    let meter = LoadMeter::start();
    group(c);
    let Some(load) = meter.finish(name) else {
        return; // filtered out
    };
    if let (Some(sigs), Some(before)) = (calibrate, before) {
        let after = measure_verify_rate(sigs);
        eprintln!("{load}");
        eprintln!("{}", rate_line(name, before, after));
        runs.push(GroupRun {
            name,
            load,
            before,
            after,
        });
    }
}

/// ML-DSA-65 verifications per second of the backend in use (AWS-LC),
/// with those of `ml-dsa` measured alongside.
#[derive(Debug, Clone, Copy)]
struct VerifyRate {
    /// AWS-LC on one core.
    single: f64,
    /// AWS-LC on all cores with rayon (the raw verify limit).
    parallel: f64,
    /// `ml-dsa` on one core.
    single_rust_crypto: f64,
    /// `ml-dsa` on all cores with rayon.
    parallel_rust_crypto: f64,
}

impl VerifyRate {
    fn mean(a: Self, b: Self) -> Self {
        Self {
            single: f64::midpoint(a.single, b.single),
            parallel: f64::midpoint(a.parallel, b.parallel),
            single_rust_crypto: f64::midpoint(a.single_rust_crypto, b.single_rust_crypto),
            parallel_rust_crypto: f64::midpoint(a.parallel_rust_crypto, b.parallel_rust_crypto),
        }
    }
}

/// A quick measurement (about 0.7 s): for each backend in turn, within each
/// of 5 rounds, 50 verifications on this thread and 1,000 with rayon on all
/// cores; the medians of the rounds.
fn measure_verify_rate(f: &SigFixture) -> VerifyRate {
    const ROUNDS: usize = 5;
    const SINGLE: usize = 50;
    let verify = |keys: &[PreparedKey], j: usize| {
        keys[j % OPERATORS].verify(SignContext::SubmitRoot, &f.messages[j], &f.signatures[j])
    };
    // [AWS-LC single, AWS-LC parallel, ml-dsa single, ml-dsa parallel]
    let mut times: [Vec<Duration>; 4] = Default::default();
    for round in 0..ROUNDS {
        for (b, keys) in [&f.prepared, &f.prepared_rust_crypto]
            .into_iter()
            .enumerate()
        {
            let start = Instant::now();
            for i in 0..SINGLE {
                assert!(verify(keys, (round * SINGLE + i) % BATCH));
            }
            times[2 * b].push(start.elapsed() / u32::try_from(SINGLE).expect("small"));
            let start = Instant::now();
            let ok = (0..BATCH)
                .into_par_iter()
                .filter(|&j| verify(keys, j))
                .count();
            times[2 * b + 1].push(start.elapsed() / u32::try_from(BATCH).expect("small"));
            assert_eq!(ok, BATCH);
        }
    }
    let [single, parallel, single_rust_crypto, parallel_rust_crypto] =
        times.map(|mut t| 1.0 / median(&mut t).as_secs_f64());
    VerifyRate {
        single,
        parallel,
        single_rust_crypto,
        parallel_rust_crypto,
    }
}

fn rate_line(what: &str, before: VerifyRate, after: VerifyRate) -> String {
    format!(
        "VERIFY around {what}: AWS-LC one core {:.0} -> {:.0} verifies/s, all cores {:.0} -> {:.0} \
         verifies/s; ml-dsa one core {:.0} -> {:.0}, all cores {:.0} -> {:.0} (before -> after)",
        before.single,
        after.single,
        before.parallel,
        after.parallel,
        before.single_rust_crypto,
        after.single_rust_crypto,
        before.parallel_rust_crypto,
        after.parallel_rust_crypto,
    )
}

// ---------------------------------------------------------------------------
// mldsa

/// 100 keys and 1,000 distinct messages, each signed by key `i % 100`.
struct SigFixture {
    keys: Vec<Keypair>,
    /// Prepared for AWS-LC.
    prepared: Vec<PreparedKey>,
    /// Prepared for `ml-dsa`.
    prepared_rust_crypto: Vec<PreparedKey>,
    messages: Vec<Vec<u8>>,
    signatures: Vec<Signature>,
}

impl SigFixture {
    fn new() -> Self {
        let keys: Vec<Keypair> = (0..OPERATORS)
            .map(|i| Keypair::from_seed(&seed(i)))
            .collect();
        let prepared = keys.iter().map(|k| k.public().prepare()).collect();
        let prepared_rust_crypto = keys
            .iter()
            .map(|k| k.public().prepare_with(VerifyBackend::RustCrypto))
            .collect();
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
            prepared_rust_crypto,
            messages,
            signatures,
        }
    }
}

fn bench_mldsa(c: &mut Criterion, fixture: &OnceCell<SigFixture>) {
    let get = || fixture.get_or_init(SigFixture::new);
    let mut g = c.benchmark_group("mldsa");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));

    for (suffix, backend) in [
        ("", VerifyBackend::AwsLc),
        ("_rust_crypto", VerifyBackend::RustCrypto),
    ] {
        g.bench_function(format!("verify_cached{suffix}"), |b| {
            let f = get();
            let key = f.keys[0].public().prepare_with(backend);
            let (msg, sig) = (&f.messages[0], &f.signatures[0]);
            assert!(key.verify(SignContext::SubmitRoot, msg, sig));
            b.iter(|| {
                black_box(&key).verify(SignContext::SubmitRoot, black_box(msg), black_box(sig))
            });
        });
        g.bench_function(format!("verify_uncached{suffix}"), |b| {
            let f = get();
            let (key, msg, sig) = (f.keys[0].public(), &f.messages[0], &f.signatures[0]);
            b.iter(|| {
                black_box(key).prepare_with(backend).verify(
                    SignContext::SubmitRoot,
                    black_box(msg),
                    black_box(sig),
                )
            });
        });
        g.bench_function(format!("prepare{suffix}"), |b| {
            let key = get().keys[0].public();
            b.iter(|| black_box(key).prepare_with(backend));
        });
    }
    // For comparison only: AWS-LC through aws-lc-rs's safe API, which only
    // takes the empty context string (so this signature has none). The gap
    // to `verify_cached` is the cost of our FFI layer and of the context.
    g.bench_function("verify_cached_aws_lc_rs", |b| {
        let f = get();
        let msg = &f.messages[0];
        let sig = f.keys[0]
            .sign_with_context(b"", msg)
            .expect("the empty context is short");
        let key = ParsedPublicKey::new(&ML_DSA_65, f.keys[0].public().as_bytes())
            .expect("AWS-LC parses ML-DSA-65 keys");
        assert!(key.verify_sig(msg, sig.as_bytes()).is_ok());
        b.iter(|| black_box(&key).verify_sig(black_box(msg), black_box(sig.as_bytes())));
    });

    g.sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(BATCH as u64));
    for (suffix, rust_crypto) in [("", false), ("_rust_crypto", true)] {
        let mut batch: Option<Vec<(&PreparedKey, &Vec<u8>, &Signature)>> = None;
        // Criterion calls this closure once per sample: set up only once.
        g.bench_function(format!("verify_parallel_batch{suffix}"), |b| {
            let batch = batch.get_or_insert_with(|| {
                let f = get();
                let keys = if rust_crypto {
                    &f.prepared_rust_crypto
                } else {
                    &f.prepared
                };
                (0..BATCH)
                    .map(|i| (&keys[i % OPERATORS], &f.messages[i], &f.signatures[i]))
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
    }
    g.finish();
}

// ---------------------------------------------------------------------------
// log

fn bench_log(c: &mut Criterion) {
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
    /// The operators' ids and keys.
    operators: Vec<(AccountId, PublicKey)>,
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
            .propose(0, 1_700_000_001_000, registrations, None, &keys)
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
            operators: operators
                .iter()
                .map(|o| (o.id(), o.public().clone()))
                .collect(),
            chains,
        };
        // Both blocks are valid in strict mode, and the verify-only path
        // accepts every signature.
        for n in [1_000usize, 10_000] {
            let txs = fixture.block(n);
            let keys = fixture.warm_keys();
            assert_eq!(fixture.execute(txs.clone(), &keys).txs.len(), n);
            let keys = fixture.warm_keys();
            assert!(fixture.verify_only(&txs, &keys).into_iter().all(|ok| ok));
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

    /// A key cache holding the decoded keys of the 100 operators and nothing
    /// else, as a validator's cache is in steady state. Every execution gets
    /// a fresh one: if the cache also remembers which transactions verified,
    /// nothing carries over from one execution to the next, and each
    /// execution verifies its block as a validator seeing it for the first
    /// time does.
    fn warm_keys(&self) -> KeyCache {
        let keys = KeyCache::default();
        for (id, key) in &self.operators {
            let _ = keys.get_by_id(*id, key);
        }
        keys
    }

    fn execute(&self, txs: Vec<SignedTx>, keys: &KeyCache) -> Execution {
        self.ledger
            .execute(0, txs, Mode::Strict, keys)
            .expect("the benchmark block is valid")
    }

    /// A cache like [`BlockFixture::warm_keys`] in which every transaction
    /// of `txs` is already marked verified, as after mempool admission.
    fn preverified_keys(&self, txs: &[SignedTx]) -> KeyCache {
        let keys = self.warm_keys();
        for tx in txs {
            keys.mark_verified(tx.id());
        }
        keys
    }

    /// The signature checks of a block of submissions exactly as
    /// `Ledger::execute` does them (its private `verify_signatures`): find
    /// each signer's registered key, then, in parallel, skip transactions
    /// the cache knows verified, verify the others with the cached decoded
    /// key (rebuilding each signing message) and mark them verified.
    fn verify_only(&self, txs: &[SignedTx], keys: &KeyCache) -> Vec<bool> {
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
                    if keys.is_verified(&tx.id()) {
                        return true;
                    }
                    let ok = keys.get_by_id(id, key).verify(
                        tx.body().context(),
                        &tx.signing_message(&genesis),
                        &tx.signature(),
                    );
                    if ok {
                        keys.mark_verified(tx.id());
                    }
                    ok
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

fn bench_block(c: &mut Criterion, fixture: &OnceCell<BlockFixture>) {
    let get = || fixture.get_or_init(BlockFixture::new);
    let mut g = c.benchmark_group("block");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2));
    for (n, secs) in [(1_000usize, 4), (10_000, 11)] {
        g.throughput(Throughput::Elements(n as u64))
            .measurement_time(Duration::from_secs(secs));
        let mut block = None;
        // Criterion calls these closures once per sample: set up only once.
        g.bench_function(format!("execute_{n}"), |b| {
            let f = get();
            let txs = block.get_or_insert_with(|| f.block(n));
            b.iter_batched(
                || (txs.clone(), f.warm_keys()),
                // The execution and the cache are dropped outside the timing.
                |(txs, keys)| (f.execute(txs, &keys), keys),
                BatchSize::PerIteration,
            );
        });
        g.bench_function(format!("verify_only_{n}"), |b| {
            let f = get();
            let txs = block.get_or_insert_with(|| f.block(n));
            b.iter_batched(
                || f.warm_keys(),
                |keys| (f.verify_only(black_box(txs), &keys), keys),
                BatchSize::PerIteration,
            );
        });
    }
    // Without verification the executions are short: criterion's defaults.
    g.sampling_mode(SamplingMode::Auto)
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in [1_000usize, 10_000] {
        g.throughput(Throughput::Elements(n as u64));
        let mut input = None;
        g.bench_function(format!("execute_{n}_preverified"), |b| {
            let f = get();
            let (txs, keys) = input.get_or_insert_with(|| {
                let txs = f.block(n);
                let keys = f.preverified_keys(&txs);
                (txs, keys)
            });
            b.iter_batched(
                || txs.clone(),
                |txs| f.execute(txs, keys),
                BatchSize::PerIteration,
            );
        });
    }
    g.finish();
}

/// Interleaves, `rounds` times, five ways of processing one block of `n`
/// submissions, and prints the execution target's verdict from their
/// medians. Interleaving matters on a shared machine: criterion measures
/// one benchmark after another, and a change in background load between
/// `execute` and `verify_only` would show up as a change in their ratio.
///
/// 1. execute, with a fresh cache holding the decoded keys (a validator
///    seeing the block's transactions for the first time);
/// 2. verify only, as the ledger does, also with a fresh cache;
/// 3. verify raw: prepared keys and signing messages prepared beforehand
///    (AWS-LC, the backend execution uses);
/// 4. execute with every signature already marked verified (admitted
///    through the mempool): everything but verification;
/// 5. verify raw with the `ml-dsa` backend, for the ratio of the backends.
fn interleaved_ratio(f: &BlockFixture, n: usize, rounds: usize) {
    let txs = f.block(n);
    let genesis = f.ledger.genesis_hash();
    let prepare = |backend| -> BTreeMap<AccountId, PreparedKey> {
        f.operators
            .iter()
            .map(|(id, key)| (*id, key.prepare_with(backend)))
            .collect()
    };
    let (prepared, prepared_rust_crypto) = (
        prepare(VerifyBackend::AwsLc),
        prepare(VerifyBackend::RustCrypto),
    );
    // (AWS-LC key, ml-dsa key, signing message, signature)
    let raw: Vec<(&PreparedKey, &PreparedKey, Vec<u8>, Signature)> = txs
        .iter()
        .map(|tx| {
            let s = tx.as_submission().expect("a submission");
            (
                &prepared[&s.operator],
                &prepared_rust_crypto[&s.operator],
                tx.signing_message(&genesis),
                tx.signature(),
            )
        })
        .collect();
    let preverified = f.preverified_keys(&txs);
    // execute, verify_only, raw verify, execute preverified, raw verify
    // ml-dsa, clone
    let mut times: [Vec<Duration>; 6] = Default::default();
    for round in 0..rounds {
        // Not part of execution, but `Ledger::apply_block` pays it: it
        // clones the block's transactions before executing them.
        let start = Instant::now();
        let mut inputs = [Some(txs.clone()), Some(txs.clone())];
        times[5].push(start.elapsed());
        let (keys, verify_keys) = (f.warm_keys(), f.warm_keys());
        let mut outputs = Vec::with_capacity(2);
        // Rotate which goes first.
        for k in 0..5 {
            let which = (round + k) % 5;
            let start = Instant::now();
            match which {
                0 | 3 => {
                    let input = inputs[which / 3].take().expect("executed once per round");
                    let cache = if which == 0 { &keys } else { &preverified };
                    outputs.push(f.execute(input, cache)); // dropped untimed
                }
                1 => assert!(f.verify_only(&txs, &verify_keys).into_iter().all(|ok| ok)),
                _ => {
                    let ok = raw
                        .par_iter()
                        .filter(|(aws_lc, rust_crypto, msg, sig)| {
                            let key = if which == 2 { aws_lc } else { rust_crypto };
                            key.verify(SignContext::SubmitRoot, msg, sig)
                        })
                        .count();
                    assert_eq!(ok, n);
                }
            }
            times[which].push(start.elapsed());
        }
        assert!(outputs.iter().all(|exec| exec.txs.len() == n));
    }
    let [
        execute,
        verify,
        raw_verify,
        execute_pre,
        raw_verify_rust_crypto,
        clone,
    ] = times.map(|mut t| median(&mut t));
    let secs = |d: Duration| d.as_secs_f64();
    let share = secs(verify) / secs(execute);
    let share_pre = 1.0 - secs(execute_pre) / secs(execute);
    eprintln!(
        "TARGET block/verify_only_{n} / block/execute_{n} = {share:.3} >= {VERIFY_SHARE_TARGET}: \
         {} (interleaved, {rounds} rounds; medians: execute {execute:.2?}, verify only \
         {verify:.2?})",
        met(share >= VERIFY_SHARE_TARGET),
    );
    eprintln!(
        "RATIO 1 - block/execute_{n}_preverified / block/execute_{n} = {share_pre:.3} \
         (execute without verification {execute_pre:.2?} = {:.2} us/tx, interleaved)",
        secs(execute_pre) * 1e6 / n as f64,
    );
    eprintln!(
        "RATIO block/execute_{n}: {:.0} tx/s = {:.3} of the raw parallel verify rate measured \
         alongside ({:.0} verifies/s with AWS-LC; raw verify {raw_verify:.2?})",
        n as f64 / secs(execute),
        secs(raw_verify) / secs(execute),
        n as f64 / secs(raw_verify),
    );
    eprintln!(
        "RATIO backends on block {n}: raw verify with AWS-LC {raw_verify:.2?}, with ml-dsa \
         {raw_verify_rust_crypto:.2?}: AWS-LC {:.2} times as fast; execution with AWS-LC runs at \
         {:.2} times the ml-dsa raw verify limit ({:.0} verifies/s) measured alongside",
        secs(raw_verify_rust_crypto) / secs(raw_verify),
        secs(raw_verify_rust_crypto) / secs(execute),
        n as f64 / secs(raw_verify_rust_crypto),
    );
    eprintln!(
        "CLONE block of {n} txs (Ledger::apply_block clones before executing): median \
         {clone:.2?} = {:.1}% of execution",
        100.0 * secs(clone) / secs(execute)
    );
    // Executing the same block twice with the same cache shows whether the
    // ledger remembers verified signatures (then a block whose transactions
    // were verified on admission executes without verifying them again).
    let keys = f.warm_keys();
    let [first, second] = [0, 1].map(|_| {
        let input = txs.clone();
        let start = Instant::now();
        let exec = f.execute(input, &keys);
        let elapsed = start.elapsed();
        drop(exec);
        elapsed
    });
    eprintln!(
        "REPEAT block/execute_{n} twice with one key cache: {first:.2?} then {second:.2?}: {}",
        if secs(second) < 0.5 * secs(first) {
            "the ledger skips signatures the cache saw verify; the benchmarks give every \
             execution a fresh cache"
        } else {
            "every execution verifies every signature"
        }
    );
}

// ---------------------------------------------------------------------------
// Summary from criterion's estimates

/// `(group, function, elements per iteration)` of every benchmark.
const ROWS: &[(&str, &str, u64)] = &[
    ("mldsa", "verify_cached", 1),
    ("mldsa", "verify_cached_rust_crypto", 1),
    ("mldsa", "verify_cached_aws_lc_rs", 1),
    ("mldsa", "verify_uncached", 1),
    ("mldsa", "verify_uncached_rust_crypto", 1),
    ("mldsa", "prepare", 1),
    ("mldsa", "prepare_rust_crypto", 1),
    ("mldsa", "verify_parallel_batch", BATCH as u64),
    ("mldsa", "verify_parallel_batch_rust_crypto", BATCH as u64),
    ("log", "append", 1),
    ("state", "update_1k_of_1m", 1_000),
    ("state", "update_10k_of_1m", 10_000),
    ("block", "execute_1000", 1_000),
    ("block", "verify_only_1000", 1_000),
    ("block", "execute_10000", 10_000),
    ("block", "verify_only_10000", 10_000),
    ("block", "execute_1000_preverified", 1_000),
    ("block", "execute_10000_preverified", 10_000),
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

fn summary(since: SystemTime, runs: &[GroupRun]) {
    let get = |g: &str, f: &str| estimate(g, f, since).map(|(m, _, _)| m);
    let rate_of = |group: &str| {
        runs.iter()
            .find(|r| r.name == group)
            .map(|r| VerifyRate::mean(r.before, r.after))
    };
    eprintln!();
    eprintln!("SUMMARY (criterion medians of this run)");
    for (suffix, name) in [("", "AWS-LC"), ("_rust_crypto", "ml-dsa")] {
        if let Some(ns) = get("mldsa", &format!("verify_cached{suffix}")) {
            eprintln!(
                "VERIFY mldsa/verify_cached{suffix}: ML-DSA-65 ({name}) on one core {:.1} us = \
                 {:.0} verifies/s",
                ns / 1e3,
                1e9 / ns
            );
        }
        if let Some(ns) = get("mldsa", &format!("verify_parallel_batch{suffix}")) {
            eprintln!(
                "VERIFY mldsa/verify_parallel_batch{suffix}: ML-DSA-65 ({name}) on all {} cores \
                 (raw verify limit) {:.0} verifies/s",
                rayon::current_num_threads(),
                BATCH as f64 * 1e9 / ns
            );
        }
    }
    for (what, aws_lc, rust_crypto) in [
        ("one core", "verify_cached", "verify_cached_rust_crypto"),
        (
            "all cores",
            "verify_parallel_batch",
            "verify_parallel_batch_rust_crypto",
        ),
    ] {
        if let (Some(a), Some(r)) = (get("mldsa", aws_lc), get("mldsa", rust_crypto)) {
            eprintln!(
                "BACKENDS {what}: AWS-LC {:.2} times as fast as ml-dsa (criterion medians \
                 mldsa/{aws_lc} / mldsa/{rust_crypto}, measured one after the other)",
                r / a
            );
        }
    }
    if let (Some(ours), Some(safe)) = (
        get("mldsa", "verify_cached"),
        get("mldsa", "verify_cached_aws_lc_rs"),
    ) {
        eprintln!(
            "BACKENDS FFI: AWS-LC through PreparedKey (context string) {} against aws-lc-rs's \
             safe API (empty context) {}: {:+.1}%",
            human_ns(ours),
            human_ns(safe),
            100.0 * (ours / safe - 1.0)
        );
    }
    if !runs.is_empty() {
        let n = runs.len() as f64;
        let mean = |f: fn(&VerifyRate) -> f64| {
            runs.iter()
                .map(|r| f(&VerifyRate::mean(r.before, r.after)))
                .sum::<f64>()
                / n
        };
        eprintln!(
            "BACKENDS interleaved (the VERIFY measurements around {} groups): AWS-LC {:.2} times \
             as fast as ml-dsa on one core ({:.0} against {:.0} /s), {:.2} times on all cores \
             ({:.0} against {:.0} /s)",
            runs.len(),
            mean(|r| r.single) / mean(|r| r.single_rust_crypto),
            mean(|r| r.single),
            mean(|r| r.single_rust_crypto),
            mean(|r| r.parallel) / mean(|r| r.parallel_rust_crypto),
            mean(|r| r.parallel),
            mean(|r| r.parallel_rust_crypto),
        );
    }
    for run in runs {
        eprintln!("{}", run.load);
        eprintln!("{}", rate_line(run.name, run.before, run.after));
    }
    eprintln!();
    eprintln!(
        "| benchmark | median [95% CI] | throughput | AWS-LC verify rate around the group, \
         1 core / all cores | median in 1-core AWS-LC verifies |"
    );
    eprintln!("|---|---|---|---|---|");
    for &(group, function, elements) in ROWS {
        let Some((median, lower, upper)) = estimate(group, function, since) else {
            continue;
        };
        let per_second = elements as f64 * 1e9 / median;
        let (rate, verifies) = rate_of(group).map_or_else(
            || ("-".into(), "-".into()),
            |r| {
                (
                    format!("{:.0} / {:.0} /s", r.single, r.parallel),
                    format!("{:.2}", median * r.single / 1e9),
                )
            },
        );
        eprintln!(
            "| `{group}/{function}` | {} [{} .. {}] | {} | {rate} | {verifies} |",
            human_ns(median),
            human_ns(lower),
            human_ns(upper),
            human_rate(per_second, elements),
        );
    }
    eprintln!();
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
        let share = rate_of("block").map_or_else(String::new, |r| {
            format!(
                "; {tx_rate:.0} tx/s = {:.2} of the raw (AWS-LC) verify rate around the group",
                tx_rate / r.parallel
            )
        });
        eprintln!(
            "UNPAIRED block/verify_only_{n} / block/execute_{n} = {:.3} (criterion medians {} / \
             {}, measured at different moments: on a shared machine see the interleaved \
             TARGET line below){share}",
            v / e,
            human_ns(v),
            human_ns(e),
        );
        if let Some(p) = get("block", &format!("execute_{n}_preverified")) {
            eprintln!(
                "UNPAIRED block/execute_{n}_preverified = {} = {:.1}% of block/execute_{n}: \
                 everything but signature verification",
                human_ns(p),
                100.0 * p / e,
            );
        }
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

impl LoadMeter {
    fn start() -> Self {
        Self {
            wall: Instant::now(),
            machine: machine_ticks(),
            own: own_ticks(),
            loadavg: loadavg(),
        }
    }

    /// The share of all cores that were busy since `start`, for this
    /// process and for everything else; `None` if nothing ran (the group
    /// was filtered out) or `/proc` is not readable.
    fn finish(&self, what: &str) -> Option<String> {
        let wall = self.wall.elapsed();
        if wall < Duration::from_millis(500) {
            return None;
        }
        let (busy0, total0) = self.machine?;
        let (busy1, total1) = machine_ticks()?;
        let own = (own_ticks()? - self.own?) as f64;
        let total = (total1 - total0).max(1) as f64;
        let busy = (busy1 - busy0) as f64;
        Some(format!(
            "LOAD {what}: {wall:.1?} wall; all cores {:.0}% busy: this benchmark {:.0}%, \
             other processes {:.0}%; loadavg {} -> {}",
            100.0 * busy / total,
            100.0 * own.min(busy) / total,
            100.0 * (busy - own).max(0.0) / total,
            self.loadavg,
            loadavg()
        ))
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
