//! Running real `pantheon` processes in tests: free ports, a temporary
//! home, waiting for JSON-RPC, killing on drop.
#![allow(dead_code, clippy::unwrap_used, reason = "test support")]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde_json::Value;

pub mod testnet;
pub mod web;

/// `pantheon verify FILE --json`'s verdict.
pub fn verify_json(path: &Path) -> Value {
    let out = pantheon(&["verify", path.to_str().unwrap(), "--json"]);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The independent Python verifier's verdict on `path`
/// (`verify_vectors.py --verify FILE`).
pub fn python_verify(path: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors/verify_vectors.py");
    let out = Command::new("python3")
        .arg(script)
        .arg("--verify")
        .arg(path)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "python verifier: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_pantheon")
}

/// Runs `pantheon args...` to completion.
pub fn pantheon(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

/// Runs `pantheon` and expects success; returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = pantheon(args);
    assert!(
        out.status.success(),
        "pantheon {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A test's random seed: `$var` if set, else the clock; printed so that a
/// failing run can be repeated.
pub fn seed(var: &str, what: &str) -> u64 {
    let seed = std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
                .try_into()
                .unwrap_or(u64::MAX)
        });
    eprintln!("{what} seed {seed} (rerun with {var}={seed})");
    seed
}

/// `pantheon proof ID --out PATH --rpc RPC [extra...]`: writes the bundle
/// to `path` and returns it.
pub fn fetch_proof(
    rpc: &str,
    id: &str,
    path: &Path,
    extra: &[&str],
) -> pantheon_runtime::proof::ProofBundle {
    let mut args = vec!["proof", id, "--out", path.to_str().unwrap(), "--rpc", rpc];
    args.extend_from_slice(extra);
    ok(&args);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `pantheon dev` process.
pub struct DevNode {
    pub home: PathBuf,
    pub rpc: String,
    port: u16,
    child: Option<Child>,
    pub log: PathBuf,
    extra: Vec<String>,
}

impl DevNode {
    /// Starts a dev node in `home` and waits until it finalizes a block.
    pub fn start(home: &Path) -> Self {
        Self::start_with(home, &[])
    }

    /// As [`DevNode::start`], with more `pantheon dev` arguments.
    pub fn start_with(home: &Path, extra: &[&str]) -> Self {
        let port = free_port();
        let mut node = Self {
            home: home.to_path_buf(),
            rpc: format!("http://127.0.0.1:{port}"),
            port,
            child: None,
            log: home.with_extension("log"),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
        };
        node.spawn();
        node
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(bin())
            .args([
                "dev",
                "--home",
                self.home.to_str().unwrap(),
                "--rpc-addr",
                &format!("127.0.0.1:{}", self.port),
                "--block-time-ms",
                "250",
            ])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_ready();
    }

    /// Waits until JSON-RPC answers and a block is final.
    pub fn wait_ready(&self) {
        let start = Instant::now();
        loop {
            if let Ok(h) = self.call("chain_getHead", vec![])
                && h["header"]["height"].as_u64().unwrap_or(0) >= 1
            {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "node did not finalize a block within 90 s; log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL, then start again on the same home and port.
    pub fn kill_and_restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A JSON-RPC call with positional parameters.
    pub fn call(&self, method: &str, params: Vec<Value>) -> Result<Value, (i32, String)> {
        Rpc::new(&self.rpc).call(method, params)
    }

    pub fn funder_key(&self) -> PathBuf {
        self.home.join("dev-funder.key")
    }

    /// The URL of the regtest bitcoind the node runs, as its log names it
    /// (its cookie is `<home>/bitcoind/regtest/.cookie`).
    pub fn bitcoind_url(&self) -> String {
        let start = Instant::now();
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(line) = log.lines().find(|l| l.contains("regtest bitcoind on ")) {
                let rest = line.split("regtest bitcoind on ").nth(1).unwrap();
                return rest.split_whitespace().next().unwrap().to_owned();
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no bitcoind line in {log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Through the CLI: generates `<dir>/<name>.key`, funds it with `pan`
    /// PAN from the dev funder and registers it as an operator.
    pub fn operator(
        &self,
        dir: &Path,
        name: &str,
        pan: &str,
    ) -> (PathBuf, pantheon_runtime::crypto::Keypair) {
        operator(&self.rpc, &self.funder_key(), dir, name, pan)
    }
}

/// Through the CLI against `rpc`: generates `<dir>/<name>.key`, funds it
/// with `pan` PAN from `funder` and registers it as an operator.
pub fn operator(
    rpc: &str,
    funder: &Path,
    dir: &Path,
    name: &str,
    pan: &str,
) -> (PathBuf, pantheon_runtime::crypto::Keypair) {
    let path = dir.join(format!("{name}.key"));
    let p = path.to_str().unwrap();
    ok(&["keys", "generate", "--out", p]);
    let key =
        pantheon_runtime::crypto::Keypair::from_pkcs8_pem(&std::fs::read_to_string(&path).unwrap())
            .unwrap();
    let id = key.id().to_string();
    ok(&[
        "transfer",
        "--key",
        funder.to_str().unwrap(),
        "--to",
        &id,
        "--amount",
        pan,
        "--wait",
        "--rpc",
        rpc,
    ]);
    ok(&["operator", "register", "--key", p, "--wait", "--rpc", rpc]);
    (path, key)
}

impl Drop for DevNode {
    fn drop(&mut self) {
        // SIGTERM first, so the node stops its regtest bitcoind.
        if let Some(mut c) = self.child.take() {
            terminate(&c);
            reap_by(&mut c, Instant::now() + Duration::from_secs(15));
        }
    }
}

/// A blocking JSON-RPC client.
pub struct Rpc {
    client: HttpClient,
    rt: tokio::runtime::Runtime,
}

impl Rpc {
    pub fn new(url: &str) -> Self {
        Self {
            client: HttpClientBuilder::default()
                .request_timeout(Duration::from_secs(30))
                .build(url)
                .unwrap(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    /// A call with positional parameters; `Err((code, message))`, code 0
    /// for transport errors.
    pub fn call(&self, method: &str, params: Vec<Value>) -> Result<Value, (i32, String)> {
        self.rt.block_on(async {
            let mut p = rpc_params![];
            for v in params {
                p.insert(v).unwrap();
            }
            self.client
                .request::<Value, _>(method, p)
                .await
                .map_err(|e| match e {
                    jsonrpsee::core::ClientError::Call(err) => {
                        (err.code(), err.message().to_owned())
                    }
                    other => (0, other.to_string()),
                })
        })
    }
}

/// `pantheon submit --key KEY --root ROOT --wait WAIT --json --rpc RPC`:
/// the receipt.
pub fn submit(key: &Path, root: &str, rpc: &str, wait: &str) -> Value {
    serde_json::from_str(&ok(&[
        "submit",
        "--key",
        key.to_str().unwrap(),
        "--root",
        root,
        "--wait",
        wait,
        "--json",
        "--rpc",
        rpc,
    ]))
    .unwrap()
}

/// `pantheon records init --dir DIR --key KEY`, then `records append` of
/// `lines` (one JSON entry each), written to `DIR.jsonl` first.
pub fn seal_records(dir: &Path, key: &Path, lines: &[Value]) {
    let d = dir.to_str().unwrap();
    ok(&[
        "records",
        "init",
        "--dir",
        d,
        "--key",
        key.to_str().unwrap(),
    ]);
    let chunk = dir.with_extension("jsonl");
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    std::fs::write(&chunk, text.join("\n") + "\n").unwrap();
    ok(&[
        "records",
        "append",
        "--dir",
        d,
        "--file",
        chunk.to_str().unwrap(),
    ]);
}

/// `pantheon records run` on `dir` in the background, batches of at most
/// `batch_records` records or `batch_ms`, its log appended to `log`.
pub fn records_runner(dir: &Path, rpc: &str, batch: (u32, u32), log: &Path) -> Child {
    Command::new(bin())
        .args([
            "records",
            "run",
            "--dir",
            dir.to_str().unwrap(),
            "--rpc",
            rpc,
        ])
        .args(["--batch-records", &batch.0.to_string()])
        .args(["--batch-ms", &batch.1.to_string()])
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap(),
        )
        .spawn()
        .unwrap()
}

/// Waits until `pantheon records status` of `dir` counts `records`
/// records, all batched, every batch anchored with its bundle; returns
/// the status.
pub fn wait_records_settled(dir: &Path, records: u64, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let v: Value = serde_json::from_str(&ok(&[
            "records",
            "status",
            "--dir",
            dir.to_str().unwrap(),
            "--json",
        ]))
        .unwrap();
        if v["records"] == records && v["batched"] == records && v["settled"] == v["batches"] {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "not settled within {limit:?}: {v:#}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A node's log file as text without its terminal colour codes (the log
/// still carries them when written to a file: issue 16).
pub fn plain_log(path: &Path) -> String {
    let raw = std::fs::read_to_string(path).unwrap_or_default();
    let mut text = String::with_capacity(raw.len());
    let mut in_escape = false;
    for c in raw.chars() {
        match (in_escape, c) {
            (false, '\u{1b}') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, c) => text.push(c),
        }
    }
    text
}

/// Sends SIGTERM to `child` (a node then stops its own bitcoind).
pub fn terminate(child: &Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
}

/// Waits for `child` to exit until `deadline`, then kills it; reaps it.
pub fn reap_by(child: &mut Child, deadline: Instant) {
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A tiny deterministic generator (the seed is printed on failure).
pub struct Lcg(pub u64);

impl Lcg {
    /// The next 31 bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// Uniform enough in `lo..hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}
