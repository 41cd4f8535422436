//! `append` throughput against the raw ML-DSA-65 signing rate of the
//! fastest implementation on the machine (AWS-LC, hedged, as `append`
//! signs), on the same cores, measured in the same run: issue 13's
//! benchmark (`scripts/bench-records`, docs/BENCHMARKS.md). Also reports
//! the `ml-dsa` crate's deterministic rate, and `append`'s latency.
#![allow(clippy::cast_precision_loss, clippy::print_stdout)] // rates of counts; the report
//!
//! ```text
//! cargo run --release -p pantheon-sdk --example append_rate -- [records] [threads]
//! ```
//!
//! `threads` appenders, each on its own stream (a stream's records are
//! signed one after another: each `prev` is the previous record's hash,
//! signature included), default twice the cores; the limit signs with one
//! thread per core.
//!
//! ```text
//! ```

use std::sync::Arc;
use std::time::Instant;

use pantheon_runtime::crypto::{Keypair, SignContext};
use pantheon_runtime::hash::Hash256;
use pantheon_runtime::record::Kind;
use pantheon_sdk::{Entry, RecordLog};
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map_or(Ok(2_000), |a| a.parse())?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get) as u64;
    let threads: u64 = args.next().map_or(Ok(2 * cores), |a| a.parse())?;
    let key = Arc::new(Keypair::from_seed(&[0x64; 32]));

    // The limit: raw hedged AWS-LC signing of a record-sized envelope, one
    // thread per core.
    let msg = [7u8; 200];
    let start = Instant::now();
    let signers: Vec<_> = (0..cores)
        .map(|_| {
            let key = Arc::clone(&key);
            std::thread::spawn(move || {
                for _ in 0..n / cores {
                    std::hint::black_box(key.sign_hedged(SignContext::Record, &msg));
                }
            })
        })
        .collect();
    for s in signers {
        s.join().map_err(|_| "a signer panicked")?;
    }
    let sign_rate = (n / cores * cores) as f64 / start.elapsed().as_secs_f64();
    // For reference: the `ml-dsa` crate, deterministic, one thread.
    let start = Instant::now();
    for _ in 0..n / 10 {
        std::hint::black_box(key.sign(SignContext::Record, &msg));
    }
    let rustcrypto_rate = (n / 10) as f64 / start.elapsed().as_secs_f64();

    let dir = tempfile_dir()?;
    let log = Arc::new(RecordLog::open(&dir, Keypair::from_seed(&[0x64; 32]))?);
    let start = Instant::now();
    let mut latencies = Vec::new();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || -> Result<Vec<f64>, String> {
                let mut lat = Vec::new();
                for i in 0..n / threads {
                    let began = Instant::now();
                    log.append(Entry {
                        stream: format!("s{t}"),
                        kind: Kind::Event,
                        manifest: None,
                        time_ms: i,
                        body: json!({"inputs": Hash256::digest(&i.to_be_bytes()).to_string(), "score": 0.5}),
                    })
                    .map_err(|e| e.to_string())?;
                    lat.push(began.elapsed().as_secs_f64() * 1e3);
                }
                Ok(lat)
            })
        })
        .collect();
    for h in handles {
        latencies.extend(h.join().map_err(|_| "a thread panicked")??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let appended = log.len();
    latencies.sort_by(f64::total_cmp);
    let pct = |per_mille: usize| latencies[(latencies.len() - 1) * per_mille / 1000];
    println!(
        "signing (limit, AWS-LC hedged, {cores} threads): {sign_rate:.0}/s (ml-dsa deterministic, 1 thread: {rustcrypto_rate:.0}/s); \
         append: {:.0}/s with {threads} threads = {:.0}% of the limit; {} fsyncs for {appended} records; latency p50 {:.2} ms, p99 {:.2} ms",
        appended as f64 / elapsed,
        100.0 * appended as f64 / elapsed / sign_rate,
        log.syncs(),
        pct(500),
        pct(990)
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("pantheon-append-rate-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
