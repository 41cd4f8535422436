//! `pantheon bench`: a load tool against a running node.
//!
//! 1. Measures the raw ML-DSA-65 verification rate of this machine, all
//!    cores, in the same run (the limit every figure is compared with).
//! 2. Creates, funds and registers N operators (deterministic keys).
//! 3. Pre-signs M chained submissions per operator (ids are computed
//!    locally, so no round trip is needed between them).
//! 4. Sends them over JSON-RPC, one task per operator (each operator's
//!    chain must arrive in order), optionally paced to a target rate, while
//!    a follower reads every finalized block and stamps each submission's
//!    finalization time.
//! 5. Reports finalized submissions/s, p50/p99 submit-to-finalized latency,
//!    and the ratio to the raw verification rate.
//!
//! The report is the only thing on stdout; progress (operators
//! registered, then submissions finalized of the total and how many are
//! sent) goes to stderr through [`super::progress`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pantheon_rpc::api::PantheonRpcClient;
use pantheon_runtime::amount::Amount;
use pantheon_runtime::crypto::{Keypair, SignContext, VerifyBackend};
use pantheon_runtime::hash::{AuditRoot, GenesisHash, Hash256, SubmissionId};
use pantheon_runtime::tx::{Metadata, SignedTx, SubmitRoot, TxBody};
use rayon::prelude::*;
use serde_json::json;
use tokio::sync::Mutex;

use super::progress::{Mode, Progress};
use crate::client::{self, Client};

/// Load parameters.
pub struct BenchArgs {
    /// Node RPC URLs (comma-separated); operator i sends to URL i mod n.
    pub rpc: String,
    /// Validators of the network (the limit per validator is the raw
    /// verify rate divided by this: every validator checks every signature).
    pub validators: u32,
    /// A funded key (the dev funder).
    pub funder: std::path::PathBuf,
    /// Operators.
    pub operators: u32,
    /// Submissions per operator.
    pub per_operator: u32,
    /// Target send rate (submissions/s), 0 = as fast as possible.
    pub rate: u32,
}

/// Verifications per second on all cores with `backend`, measured for
/// about `secs`.
pub fn raw_verify_rate(secs: f64, backend: VerifyBackend) -> f64 {
    let keys: Vec<Keypair> = (0..64u8).map(|i| Keypair::from_seed(&[i; 32])).collect();
    let msgs: Vec<_> = keys
        .iter()
        .map(|k| {
            let m = k.id().as_bytes().to_vec();
            (
                k.public().prepare_with(backend),
                k.sign(SignContext::SubmitRoot, &m),
                m,
            )
        })
        .collect();
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        let ok = msgs
            .par_iter()
            .filter(|(k, s, m)| k.verify(SignContext::SubmitRoot, m, s))
            .count();
        done += ok as u64;
    }
    done as f64 / start.elapsed().as_secs_f64()
}

/// The nearest-rank percentile (`per_mille` of 1000) of sorted samples.
fn percentile(sorted: &[Duration], per_mille: usize) -> Duration {
    let n = sorted.len();
    if n == 0 {
        return Duration::ZERO;
    }
    let rank = (n * per_mille.min(1000)).div_ceil(1000).max(1);
    sorted[rank - 1]
}

/// `count` chained submissions of `op`, the first at `seq` after `prev`.
fn sign_chain(
    genesis: &GenesisHash,
    op: &Keypair,
    mut seq: u64,
    mut prev: SubmissionId,
    count: u32,
) -> Vec<SignedTx> {
    (0..count)
        .map(|n| {
            let tx = TxBody::SubmitRoot(SubmitRoot {
                operator: op.id(),
                seq,
                prev,
                root: AuditRoot::new(Hash256::digest_parts(&[
                    op.id().as_bytes(),
                    &seq.to_be_bytes(),
                    &n.to_be_bytes(),
                ])),
                metadata: Metadata::default(),
            })
            .sign(genesis, op);
            prev = tx.submission_id();
            seq += 1;
            tx
        })
        .collect()
}

/// Runs the load and prints a JSON report.
///
/// # Errors
/// RPC failures or refused submissions.
pub async fn run(args: BenchArgs) -> Result<()> {
    eprintln!("measuring the raw ML-DSA-65 verify rate on all cores ...");
    let verify_rate =
        tokio::task::spawn_blocking(|| raw_verify_rate(3.0, VerifyBackend::AwsLc)).await?;
    let verify_rate_rustcrypto =
        tokio::task::spawn_blocking(|| raw_verify_rate(2.0, VerifyBackend::RustCrypto)).await?;
    eprintln!(
        "raw verify rate: {verify_rate:.0}/s (AWS-LC, the node's backend), {verify_rate_rustcrypto:.0}/s (ml-dsa)"
    );

    let clients: Vec<Arc<Client>> = args
        .rpc
        .split(',')
        .map(|url| Client::new(url.trim()).map(Arc::new))
        .collect::<Result<_>>()?;
    let client = clients[0].clone();
    let funder = client::key(&args.funder)?;
    let version = client.answer(client.rpc().system_version().await)?;
    let genesis = version.genesis_hash;
    let ops: Vec<Keypair> = (0..args.operators)
        .map(|i| {
            let seed = Hash256::digest_parts(&[b"pantheon-bench/operator", &i.to_be_bytes()]);
            Keypair::from_seed(seed.as_bytes())
        })
        .collect();

    eprintln!("funding and registering {} operators ...", ops.len());
    let fee_budget = Amount::from_units(
        (u64::from(args.per_operator) + 10).saturating_mul(2_000_000) + 200_000_000,
    );
    let mut last_nonce = 0;
    for op in &ops {
        let info = client.balance(&op.id()).await?;
        if info.balance < fee_budget {
            let (_, nonce) = client.transfer(&funder, op.id(), fee_budget).await?;
            last_nonce = nonce;
        }
    }
    client.wait_nonce(&funder.id(), last_nonce).await?;
    let mut registering = Progress::counter(
        "bench",
        "operators registered",
        ops.len() as u64,
        Mode::detect(false),
    );
    for op in &ops {
        let registered = client.rpc().get_operator(op.id().to_string()).await.is_ok();
        if !registered {
            let (_, nonce) = client.register(op).await?;
            client.wait_nonce(&op.id(), nonce).await?;
        }
        registering.inc(1);
    }
    registering.finish("");

    eprintln!(
        "pre-signing {} submissions ...",
        ops.len() as u64 * u64::from(args.per_operator)
    );
    let mut starts = Vec::with_capacity(ops.len());
    for op in &ops {
        let info = client.answer(client.rpc().get_operator(op.id().to_string()).await)?;
        starts.push((info.pending_next_seq, info.pending_prev));
    }
    // Each operator's chain is sequential; the operators sign in parallel.
    let per_operator = args.per_operator;
    let chains: Vec<Vec<SignedTx>> = tokio::task::spawn_blocking(move || {
        ops.par_iter()
            .zip(starts)
            .map(|(op, (seq, prev))| sign_chain(&genesis, op, seq, prev, per_operator))
            .collect()
    })
    .await?;
    let total: usize = chains.iter().map(Vec::len).sum();
    eprintln!("sending {total} submissions ...");

    let start_height = client
        .rpc()
        .get_head()
        .await
        .map_or(0, |h| h.header.height.get());
    let sent: Arc<Mutex<HashMap<SubmissionId, Instant>>> = Arc::default();
    // Counts for the progress display (the latencies are the measurement).
    let sent_count = Arc::new(AtomicU64::new(0));
    let final_count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();

    // The follower: stamps finalization times from each new block.
    let follower = {
        let client = client.clone();
        let sent = sent.clone();
        let final_count = final_count.clone();
        tokio::spawn(async move {
            let mut next = start_height + 1;
            let mut latencies = Vec::with_capacity(total);
            let mut last_final = started;
            while latencies.len() < total && started.elapsed() < Duration::from_secs(600) {
                // Ids only: fetching whole blocks (~140 MB of hex for a full
                // one) would load the node being measured.
                let Ok(block) = client.rpc().get_block(next, Some(false)).await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let now = Instant::now();
                let map = sent.lock().await;
                for id in &block.tx_ids {
                    if let Some(t0) = map.get(&SubmissionId::new(id.hash())) {
                        latencies.push(now.duration_since(*t0));
                        last_final = now;
                    }
                }
                final_count.store(latencies.len() as u64, Ordering::Relaxed);
                next += 1;
            }
            (latencies, last_final)
        })
    };

    let per_op_interval = (args.rate > 0)
        .then(|| Duration::from_secs_f64(f64::from(args.operators) / f64::from(args.rate)));
    let senders: Vec<_> = chains
        .into_iter()
        .enumerate()
        .map(|(i, chain)| {
            let client = clients[i % clients.len()].clone();
            let sent = sent.clone();
            let sent_count = sent_count.clone();
            tokio::spawn(async move {
                let t0 = Instant::now();
                for (i, tx) in chain.into_iter().enumerate() {
                    if let Some(iv) = per_op_interval {
                        let due = t0 + iv * u32::try_from(i).unwrap_or(u32::MAX);
                        tokio::time::sleep_until(due.into()).await;
                    }
                    sent.lock().await.insert(tx.submission_id(), Instant::now());
                    let mut attempts = 0;
                    loop {
                        let r = client
                            .answer(client.rpc().submit_root(hex::encode(tx.as_bytes())).await);
                        match r {
                            Ok(_) => break,
                            Err(e) if attempts < 50 && e.to_string().contains("full") => {
                                attempts += 1;
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    sent_count.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<(), anyhow::Error>(())
            })
        })
        .collect();
    let sending = tokio::spawn(async move {
        for s in senders {
            s.await.context("sender task")??;
        }
        Ok::<f64, anyhow::Error>(started.elapsed().as_secs_f64())
    });
    // Shows submissions finalized of the total, and how many are sent,
    // while the senders and the follower work.
    let mut progress = Progress::counter(
        "bench",
        "submissions finalized",
        total as u64,
        Mode::detect(false),
    );
    let show = |progress: &mut Progress| {
        progress.show(
            final_count.load(Ordering::Relaxed),
            None,
            format!("{} sent", sent_count.load(Ordering::Relaxed)),
        );
    };
    while !sending.is_finished() {
        show(&mut progress);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let send_secs = match sending.await.context("senders")? {
        Ok(secs) => secs,
        Err(e) => {
            progress.abandon();
            return Err(e);
        }
    };
    while !follower.is_finished() {
        show(&mut progress);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (mut latencies, last_final) = follower.await?;
    progress.show(
        latencies.len() as u64,
        None,
        format!("{} sent", sent_count.load(Ordering::Relaxed)),
    );
    progress.finish(&format!("{} sent", sent_count.load(Ordering::Relaxed)));
    if latencies.len() < total {
        bail!(
            "only {} of {total} submissions finalized within the time limit",
            latencies.len()
        );
    }
    latencies.sort();
    let secs = last_final.duration_since(started).as_secs_f64();
    let throughput = total as f64 / secs;
    let report = json!({
        "operators": args.operators,
        "submissions": total,
        "target_rate": args.rate,
        "send_seconds": send_secs,
        "finalized_per_second": throughput,
        "latency_p50_ms": percentile(&latencies, 500).as_millis(),
        "latency_p99_ms": percentile(&latencies, 990).as_millis(),
        "nodes_driven": clients.len(),
        "validators": args.validators,
        "raw_verify_per_second_all_cores": verify_rate,
        "raw_verify_per_second_all_cores_ml_dsa": verify_rate_rustcrypto,
        "throughput_over_raw_verify": throughput / verify_rate,
        "throughput_over_raw_verify_per_validator":
            throughput / (verify_rate / f64::from(args.validators.max(1))),
    });
    println!("{report:#}");
    Ok(())
}
