//! Issue 13's acceptance run, against `pantheon dev` with its managed
//! regtest bitcoind: three operators append records while the node, and
//! separately each operator's process, are killed with SIGKILL at random
//! moments, and bitcoind is stopped (SIGSTOP) for a while. Two operators
//! link the library (`pantheon-sdk`) in their own process, this test
//! binary run again as a child; the third is the CLI (`records append`,
//! `records run`). Afterwards: every record that `append` acknowledged is
//! in the log with the hash it was acknowledged with, none is lost or
//! repeated, every record is in exactly one batch, the batches are the
//! operator's submissions 0.. with no gap, each paid once, all anchored;
//! each operator's export proves its chain complete, record proofs verify
//! (with `pantheon verify` and the Python verifier), and a withheld batch
//! fails the export's completeness in both.
//!
//! Scale comes from the environment: `PANTHEON_FAULT_RECORDS` records per
//! operator (CI: 1,500) and `PANTHEON_FAULT_CYCLES` kill cycles of each
//! kind (CI: 6). `scripts/accept-records` runs the acceptance scale
//! (10,000 records and 20 cycles each).
#![allow(clippy::unwrap_used, clippy::print_stderr, reason = "tests")]

mod support;

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pantheon_runtime::crypto::Keypair;
use pantheon_runtime::hash::Hash256;
use pantheon_runtime::record::Kind;
use pantheon_sdk::{BatchPolicy, Config, Entry, Operator, RecordLog};
use serde_json::{Value, json};
use support::{DevNode, ok, python_verify, verify_json};

/// Set in a child: `dir|key file|rpc|target`.
const CHILD: &str = "PANTHEON_FAULT_CHILD";
/// The file a child reads its quota (records to have appended) from.
const QUOTA: &str = "quota";
/// The test's own name, for the child's command line.
const NAME: &str = "records_survive_kills_of_node_and_operators_and_a_stopped_bitcoind";

fn env_u64(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn h(s: &str) -> String {
    Hash256::digest(s.as_bytes()).to_string()
}

fn decision(n: u64) -> Value {
    json!({"inputs": h(&format!("in {n}")), "output": h(&format!("out {n}")),
        "policy": {"threshold": 0.8}, "score": 0.5})
}

fn manifest() -> Value {
    json!({"model": h("m"), "tokenizer": h("t"), "system_prompt": h("p"), "data": h("d")})
}

fn config(rpc: &str) -> Config {
    Config {
        endpoints: vec![rpc.to_owned()],
        policy: BatchPolicy {
            max_records: 400,
            max_wait_ms: 300,
        },
        poll: Duration::from_millis(100),
        timeout: Duration::from_secs(3),
        ..Config::default()
    }
}

/// The child: a library operator that appends from two threads up to the
/// quota the parent writes, printing `acked SEQ HASH` once `append`
/// returns, and `settled` once its target is reached and every batch is
/// anchored with its bundle.
fn child(spec: &str) {
    let parts: Vec<&str> = spec.split('|').collect();
    let (dir, key, rpc, target) = (
        Path::new(parts[0]),
        Path::new(parts[1]),
        parts[2],
        parts[3].parse::<u64>().unwrap(),
    );
    let key = Keypair::from_pkcs8_pem(&std::fs::read_to_string(key).unwrap()).unwrap();
    let op = Arc::new(Operator::open(dir, key, config(rpc)).unwrap());
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let ack = |out: &Mutex<std::io::Stdout>, seq: u64, hash: Hash256| {
        let mut o = out.lock().unwrap();
        writeln!(o, "acked {seq} {hash}").unwrap();
        o.flush().unwrap();
    };
    let manifest_hash = match op.log().len() {
        0 => {
            let m = op
                .append(Entry {
                    stream: "main".into(),
                    kind: Kind::Manifest,
                    manifest: None,
                    time_ms: 1,
                    body: manifest(),
                })
                .unwrap();
            ack(&out, m.seq, m.hash);
            m.hash
        }
        // The first record is the manifest, sealed before any decision.
        _ => op.log().last_manifest().unwrap(),
    };
    let count = Arc::new(AtomicU64::new(op.log().len()));
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let (op, out, count) = (Arc::clone(&op), Arc::clone(&out), Arc::clone(&count));
            let quota_file = dir.join(QUOTA);
            std::thread::spawn(move || {
                loop {
                    let quota = std::fs::read_to_string(&quota_file)
                        .ok()
                        .and_then(|q| q.trim().parse::<u64>().ok())
                        .unwrap_or(0)
                        .min(target);
                    let n = count.load(Ordering::SeqCst);
                    if n >= target {
                        return;
                    }
                    if n >= quota
                        || count
                            .compare_exchange(n, n + 1, Ordering::SeqCst, Ordering::SeqCst)
                            .is_err()
                    {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    let s = op
                        .append(Entry {
                            stream: format!("line-{t}"),
                            kind: Kind::Decision,
                            manifest: Some(manifest_hash),
                            time_ms: 2 + n,
                            body: decision(n),
                        })
                        .unwrap();
                    let mut o = out.lock().unwrap();
                    writeln!(o, "acked {} {}", s.seq, s.hash).unwrap();
                    o.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    loop {
        if let Some(r) = op.report()
            && r.records >= target
            && r.waiting_records == 0
            && r.settled == r.batches
        {
            let mut o = out.lock().unwrap();
            writeln!(o, "settled").unwrap();
            o.flush().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Arc::into_inner(op).unwrap().close();
}

/// A library operator's process, and what it acknowledged.
struct LibOperator {
    dir: PathBuf,
    key: PathBuf,
    spec: String,
    child: Option<Child>,
    acked: Arc<Mutex<Vec<(u64, String)>>>,
    settled: Arc<AtomicU64>,
}

impl LibOperator {
    fn new(dir: PathBuf, key: PathBuf, rpc: &str, target: u64) -> Self {
        std::fs::create_dir_all(&dir).unwrap();
        let spec = format!("{}|{}|{rpc}|{target}", dir.display(), key.display());
        let mut op = Self {
            dir,
            key,
            spec,
            child: None,
            acked: Arc::default(),
            settled: Arc::default(),
        };
        op.spawn();
        op
    }

    fn spawn(&mut self) {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([NAME, "--exact", "--nocapture", "--test-threads", "1"])
            .env(CHILD, &self.spec)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(self.dir.with_extension("log")).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (acked, settled) = (Arc::clone(&self.acked), Arc::clone(&self.settled));
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("acked ") {
                    let (seq, hash) = rest.split_once(' ').unwrap();
                    acked
                        .lock()
                        .unwrap()
                        .push((seq.parse().unwrap(), hash.to_owned()));
                } else if line == "settled" {
                    settled.store(1, Ordering::SeqCst);
                }
            }
        });
        self.child = Some(child);
    }

    fn quota(&self, n: u64) {
        pantheon_sdk::frames::write_atomic(&self.dir, QUOTA, n.to_string().as_bytes()).unwrap();
    }

    fn kill_and_restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.spawn();
    }

    fn acked(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    fn wait_settled(&mut self, limit: Duration) {
        let start = Instant::now();
        while self.settled.load(Ordering::SeqCst) == 0 {
            assert!(
                start.elapsed() < limit,
                "{} not settled within {limit:?}; its log:\n{}",
                self.dir.display(),
                std::fs::read_to_string(self.dir.with_extension("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        if let Some(mut c) = self.child.take() {
            assert!(c.wait().unwrap().success(), "the child exits cleanly");
        }
    }
}

/// `pantheon records run` in the background.
fn runner(dir: &Path, rpc: &str) -> Child {
    support::records_runner(dir, rpc, (400, 300), &dir.with_extension("run.log"))
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn signal(pid: i32, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).unwrap();
}

fn bitcoind_pid(node: &DevNode) -> i32 {
    let file = node
        .home
        .join("bitcoind")
        .join("regtest")
        .join("bitcoind.pid");
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim()
        .parse()
        .unwrap()
}

fn balance(node: &DevNode, id: &str) -> u64 {
    let op = node.call("pantheon_getOperator", vec![json!(id)]).unwrap();
    op["balance"].as_str().unwrap().parse().unwrap()
}

/// Every record of `dir`'s log: count, and the acknowledged ones in it
/// with the hash they were acknowledged with.
fn log_holds(dir: &Path, key: &Path, records: u64, acked: &[(u64, String)]) {
    let key = Keypair::from_pkcs8_pem(&std::fs::read_to_string(key).unwrap()).unwrap();
    let log = RecordLog::follow(dir, key).unwrap();
    let stored = log.stored().unwrap();
    assert_eq!(
        stored.len() as u64,
        records,
        "{}: records in the log",
        dir.display()
    );
    for (i, s) in stored.iter().enumerate() {
        assert_eq!(s.seq, i as u64, "log positions have no gap");
    }
    for (seq, hash) in acked {
        let s = &stored[usize::try_from(*seq).unwrap()];
        assert_eq!(
            &s.hash.to_string(),
            hash,
            "acknowledged record {seq} kept as acknowledged"
        );
    }
    let mut seqs: Vec<u64> = acked.iter().map(|(s, _)| *s).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), acked.len(), "no position acknowledged twice");
}

/// On chain: submissions 0..batches with no gap, each once, committing
/// `records` records in all, each paid once.
fn chain_holds(node: &DevNode, id: &str, records: u64, paid: u64, fee: u64) -> u64 {
    let op = node.call("pantheon_getOperator", vec![json!(id)]).unwrap();
    let batches = op["next_seq"].as_u64().unwrap();
    let mut total = 0;
    let mut cursor = op["last_submission"]["id"].as_str().unwrap().to_owned();
    for seq in (0..batches).rev() {
        let s = node
            .call("pantheon_getSubmission", vec![json!(cursor)])
            .unwrap();
        assert_eq!(s["seq"], seq);
        assert_eq!(s["status"], "anchored", "seq {seq}");
        total += s["record_count"].as_u64().unwrap();
        cursor = s["prev"].as_str().unwrap().to_owned();
    }
    assert_eq!(total, records, "every record in exactly one batch");
    assert_eq!(paid, batches * fee, "every batch paid once");
    batches
}

/// The operator's export verifies (both verifiers) and covers every
/// batch; a withheld batch fails its completeness.
fn export_holds(node: &DevNode, dir: &Path, batches: u64, work: &Path, tamper: bool) {
    let out = work.join(format!(
        "{}-export.json",
        dir.file_name().unwrap().to_str().unwrap()
    ));
    ok(&[
        "records",
        "export",
        "--dir",
        dir.to_str().unwrap(),
        "--rpc",
        &node.rpc,
        "--page",
        "7",
        "--out",
        out.to_str().unwrap(),
    ]);
    let v = verify_json(&out);
    assert_eq!(v["valid"], true, "{v:#}");
    assert_eq!(v["completeness"]["from_seq"], 0);
    assert_eq!(v["completeness"]["to_seq"], batches - 1);
    assert_eq!(v["completeness"]["next_seq"], batches);
    assert_eq!(v["anchored"], batches);
    let p = python_verify(&out);
    assert_eq!(p["valid"], true, "python: {p:#}");
    assert_eq!(p["count"], batches);
    if !tamper {
        return;
    }
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let n = doc["submissions"].as_array().unwrap().len();
    assert!(n >= 3, "enough batches to withhold one in the middle");
    let mut d = doc.clone();
    d["submissions"].as_array_mut().unwrap().remove(n / 2);
    let path = work.join("withheld.json");
    std::fs::write(&path, d.to_string()).unwrap();
    let v = verify_json(&path);
    assert_eq!(v["valid"], false, "a batch withheld in the middle");
    assert_eq!(v["failed_link"], "completeness", "{v}");
    let p = python_verify(&path);
    assert_eq!(p["failed_link"], "completeness", "python: {p}");
    // The first withheld: what is left is a complete range from seq 1, and
    // the verdict says so (an auditor asking for everything sees it).
    let mut d = doc.clone();
    d["submissions"].as_array_mut().unwrap().remove(0);
    std::fs::write(&path, d.to_string()).unwrap();
    let v = verify_json(&path);
    assert_eq!(v["completeness"]["from_seq"], 1, "{v}");
    assert_eq!(python_verify(&path)["from_seq"], 1);
    // The last batch withheld: the state record names it (or, kept from
    // the last block, no longer matches the block the export ends on).
    let mut d = doc.clone();
    d["submissions"].as_array_mut().unwrap().pop();
    let path = work.join("withheld.json");
    std::fs::write(&path, d.to_string()).unwrap();
    let v = verify_json(&path);
    assert_eq!(v["valid"], false, "last withheld");
    let link = v["failed_link"].as_str().unwrap().to_owned();
    assert!(link == "state" || link == "completeness", "{v}");
    assert_eq!(python_verify(&path)["failed_link"], link.as_str());
}

#[test]
fn records_survive_kills_of_node_and_operators_and_a_stopped_bitcoind() {
    if let Ok(spec) = std::env::var(CHILD) {
        child(&spec);
        return;
    }
    let records = env_u64("PANTHEON_FAULT_RECORDS", 1_500);
    let cycles = env_u64("PANTHEON_FAULT_CYCLES", 6).max(1);
    let mut rng = support::seed("PANTHEON_FAULT_SEED", "record faults");
    let mut random = |n: u64| {
        rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (rng >> 33) % n
    };
    let work = tempfile::tempdir().unwrap();
    let mut node = DevNode::start_with(
        &work.path().join("dev"),
        &["--anchor-every", "3", "--bitcoin-block-secs", "1"],
    );
    let genesis: Value =
        serde_json::from_str(&std::fs::read_to_string(node.home.join("genesis.json")).unwrap())
            .unwrap();
    let fee: u64 = genesis["params"]["submit_fee"]
        .as_str()
        .map(|f| f.parse().unwrap())
        .or_else(|| genesis["params"]["submit_fee"].as_u64())
        .unwrap();

    // Two library operators in their own processes, one CLI operator.
    let mut libs = Vec::new();
    let mut before = Vec::new();
    for name in ["hospital", "bank"] {
        let (key, kp) = node.operator(work.path(), name, "100");
        before.push(balance(&node, &kp.id().to_string()));
        libs.push((
            LibOperator::new(work.path().join(name), key, &node.rpc, records),
            kp,
        ));
    }
    let (cli_key, cli_kp) = node.operator(work.path(), "factory", "100");
    before.push(balance(&node, &cli_kp.id().to_string()));
    let cli_dir = work.path().join("factory");
    let cli = cli_dir.to_str().unwrap();
    ok(&[
        "records",
        "init",
        "--dir",
        cli,
        "--key",
        cli_key.to_str().unwrap(),
    ]);
    let mut run = runner(&cli_dir, &node.rpc);
    let mut cli_acked: Vec<(u64, String)> = Vec::new();
    let chunk = work.path().join("chunk.jsonl");
    let mut cli_records = 0u64;

    // 2·cycles cycles: even ones kill an operator's process, odd ones the
    // node; before each, every operator's quota grows, so kills land while
    // records are appended. Half-way, bitcoind is stopped for a while.
    let total = 2 * cycles;
    let start = Instant::now();
    for cycle in 0..total {
        let quota = records * (cycle + 1) / total;
        for (lib, _) in &libs {
            lib.quota(quota);
        }
        // The CLI operator appends its share in one `records append`.
        let mut lines = Vec::new();
        while cli_records + (lines.len() as u64) < quota {
            let n = cli_records + lines.len() as u64;
            lines.push(if n == 0 {
                json!({"kind": "manifest", "body": manifest()}).to_string()
            } else {
                json!({"kind": "decision", "stream": "line-9", "body": decision(n)}).to_string()
            });
        }
        std::fs::write(&chunk, lines.join("\n") + "\n").unwrap();
        let out = ok(&[
            "records",
            "append",
            "--dir",
            cli,
            "--file",
            chunk.to_str().unwrap(),
            "--json",
        ]);
        for line in out.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            cli_acked.push((
                v["seq"].as_u64().unwrap(),
                v["hash"].as_str().unwrap().to_owned(),
            ));
        }
        cli_records = quota;
        std::thread::sleep(Duration::from_millis(random(400)));
        if cycle == total / 2 {
            // bitcoind stopped: appends go on; anchoring waits.
            let pid = bitcoind_pid(&node);
            signal(pid, nix::sys::signal::Signal::SIGSTOP);
            let acked = libs[0].0.acked();
            libs[0]
                .0
                .quota(records * (cycle + 1) / total + records / total / 2);
            std::thread::sleep(Duration::from_secs(6));
            assert!(
                libs[0].0.acked() > acked || acked as u64 >= records,
                "appends go on while bitcoind is stopped"
            );
            signal(pid, nix::sys::signal::Signal::SIGCONT);
        }
        if cycle % 2 == 0 {
            match random(3) {
                0 | 1 => {
                    let i = usize::try_from(random(2)).unwrap();
                    libs[i].0.kill_and_restart();
                }
                _ => {
                    kill(&mut run);
                    run = runner(&cli_dir, &node.rpc);
                }
            }
        } else {
            node.kill_and_restart();
        }
    }
    eprintln!(
        "{total} kill cycles ({cycles} of the node, {cycles} of operators' processes) in {:?}",
        start.elapsed()
    );

    // Recovery: everything appended ends anchored.
    for (lib, _) in &mut libs {
        lib.quota(records);
    }
    for (lib, _) in &mut libs {
        lib.wait_settled(Duration::from_secs(600));
    }
    let settle = Instant::now();
    loop {
        let v: Value =
            serde_json::from_str(&ok(&["records", "status", "--dir", cli, "--json"])).unwrap();
        if v["records"] == records && v["batched"] == records && v["settled"] == v["batches"] {
            break;
        }
        assert!(
            settle.elapsed() < Duration::from_secs(600),
            "CLI operator not settled: {v:#}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    kill(&mut run);

    let mut dirs = Vec::new();
    for (i, (lib, kp)) in libs.iter().enumerate() {
        let acked = lib.acked.lock().unwrap().clone();
        log_holds(&lib.dir, &lib.key, records, &acked);
        let id = kp.id().to_string();
        let paid = before[i] - balance(&node, &id);
        let batches = chain_holds(&node, &id, records, paid, fee);
        std::fs::write(
            lib.dir.join("operator.json"),
            json!({"key": lib.key, "operator": id}).to_string(),
        )
        .unwrap();
        dirs.push((lib.dir.clone(), batches, records));
    }
    log_holds(&cli_dir, &cli_key, records, &cli_acked);
    let id = cli_kp.id().to_string();
    let paid = before[2] - balance(&node, &id);
    dirs.push((
        cli_dir.clone(),
        chain_holds(&node, &id, records, paid, fee),
        records,
    ));

    for (i, (dir, batches, n)) in dirs.iter().enumerate() {
        let d = dir.to_str().unwrap();
        let v: Value = serde_json::from_str(&ok(&[
            "records", "verify", "--dir", d, "--rpc", &node.rpc, "--json",
        ]))
        .unwrap();
        assert_eq!(v["valid"], true);
        assert_eq!(v["anchored"], *batches);
        export_holds(&node, dir, *batches, work.path(), i == 0);
        for _ in 0..3 {
            let seq = random(*n);
            let out = work.path().join(format!("proof-{i}-{seq}.json"));
            ok(&[
                "records",
                "prove",
                "--dir",
                d,
                "--seq",
                &seq.to_string(),
                "--out",
                out.to_str().unwrap(),
            ]);
            let v = verify_json(&out);
            assert_eq!(v["valid"], true, "record {seq}: {v:#}");
            assert!(v["proof"]["anchor"].is_object(), "anchored");
            assert_eq!(python_verify(&out)["valid"], true, "python, record {seq}");
        }
    }
    let proof: Value = node
        .call("pantheon_getOperatorProof", vec![json!(id)])
        .unwrap();
    assert_eq!(proof["record"]["operator"]["next_seq"], dirs[2].1);
}
