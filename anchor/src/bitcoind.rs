//! Locating and running Bitcoin Core.
//!
//! [`find_bitcoind`] looks for the `bitcoind` binary: `BITCOIND_EXE`, then
//! `PATH`, then the copy `scripts/ensure-bitcoind` builds under
//! `$HOME/.cache/pantheon/bitcoin-core/<version>/bin`.
//!
//! [`Regtest`] runs a private regtest node for `pantheon dev` and the tests:
//! loopback only, free RPC and P2P ports, cookie auth, a small cache,
//! standardness rules as on mainnet (`-acceptnonstdtxn=0`) and OP_RETURN
//! limited to the oldest relay policy (`-datacarriersize=42`, 40 bytes of
//! data), so what works here relays everywhere. It can be stopped and
//! restarted on the same data directory and ports, and it is killed when
//! the handle is dropped.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bitcoin::{Address, BlockHash};

use crate::rpc::{self, Auth, BitcoinRpc, RpcError};

/// The cache folder the provisioning script builds Bitcoin Core into,
/// relative to `$HOME`.
pub const CACHED_BITCOIND: &str = ".cache/pantheon/bitcoin-core/0.4.1/bin/bitcoind";

/// How long a start may take before it is called a failure.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a clean stop may take before the process is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Errors locating or running bitcoind.
#[derive(Debug, thiserror::Error)]
pub enum BitcoindError {
    /// No `bitcoind` binary was found.
    #[error(
        "bitcoind not found: set BITCOIND_EXE, put bitcoind on PATH, or run \
         scripts/ensure-bitcoind to build it into ~/{CACHED_BITCOIND} (looked in: {looked})"
    )]
    NotFound {
        /// The places searched.
        looked: String,
    },
    /// An I/O error (data directory, spawning the process).
    #[error("bitcoind {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// bitcoind exited or did not answer in time.
    #[error("bitcoind failed to start: {reason}")]
    Start {
        /// What happened, with the end of its log.
        reason: String,
    },
    /// An RPC call failed.
    #[error(transparent)]
    Rpc(#[from] RpcError),
}

/// Finds `bitcoind`: `BITCOIND_EXE`, then `PATH`, then
/// `$HOME/.cache/pantheon/bitcoin-core/0.4.1/bin/bitcoind`.
///
/// # Errors
/// [`BitcoindError::NotFound`], which says how to build it.
pub fn find_bitcoind() -> Result<PathBuf, BitcoindError> {
    find_with(|name| std::env::var_os(name))
}

fn find_with(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, BitcoindError> {
    let mut looked = Vec::new();
    if let Some(exe) = var("BITCOIND_EXE").filter(|v| !v.is_empty()) {
        let exe = PathBuf::from(exe);
        if is_executable(&exe) {
            return Ok(exe);
        }
        looked.push(format!("BITCOIND_EXE={}", exe.display()));
    }
    if let Some(path) = var("PATH") {
        for dir in std::env::split_paths(&path) {
            let exe = dir.join("bitcoind");
            if is_executable(&exe) {
                return Ok(exe);
            }
        }
        looked.push("PATH".to_owned());
    }
    if let Some(home) = var("HOME") {
        let exe = PathBuf::from(home).join(CACHED_BITCOIND);
        if is_executable(&exe) {
            return Ok(exe);
        }
        looked.push(exe.display().to_string());
    }
    Err(BitcoindError::NotFound {
        looked: looked.join(", "),
    })
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// Attempts at starting bitcoind on freshly drawn ports.
const START_ATTEMPTS: u32 = 3;

/// A free TCP port on 127.0.0.1 (free when asked; the OS may hand it out
/// again later).
///
/// # Errors
/// The I/O error of binding.
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A regtest bitcoind owned by this process. Call [`Regtest::stop`] for a
/// clean shutdown (it keeps the mempool); dropping the handle kills the
/// process.
#[derive(Debug)]
pub struct Regtest {
    exe: PathBuf,
    datadir: PathBuf,
    rpc_port: u16,
    p2p_port: u16,
    extra_args: Vec<String>,
    child: Option<Child>,
    rpc: BitcoinRpc,
}

/// The flags of every regtest bitcoind Pantheon runs (`pantheon dev`, the
/// tests through [`Regtest`], and the shared bitcoind of `pantheon
/// testnet`), so that all of them relay the same transactions: loopback
/// only, the given ports, a small cache, mainnet's standardness rules and
/// the oldest OP_RETURN relay limit (see the module docs).
#[must_use]
pub fn regtest_args(datadir: &Path, rpc_port: u16, p2p_port: u16) -> Vec<String> {
    vec![
        "-regtest".to_owned(),
        format!("-datadir={}", datadir.display()),
        "-server=1".to_owned(),
        "-rpcbind=127.0.0.1".to_owned(),
        "-rpcallowip=127.0.0.1".to_owned(),
        format!("-rpcport={rpc_port}"),
        "-listen=1".to_owned(),
        format!("-bind=127.0.0.1:{p2p_port}"),
        format!("-port={p2p_port}"),
        "-listenonion=0".to_owned(),
        "-discover=0".to_owned(),
        "-dnsseed=0".to_owned(),
        "-fixedseeds=0".to_owned(),
        "-dbcache=16".to_owned(),
        "-maxmempool=5".to_owned(),
        "-par=1".to_owned(),
        "-rpcthreads=4".to_owned(),
        "-maxconnections=16".to_owned(),
        "-printtoconsole=0".to_owned(),
        "-shrinkdebugfile=1".to_owned(),
        "-acceptnonstdtxn=0".to_owned(),
        "-datacarriersize=42".to_owned(),
        "-persistmempool=1".to_owned(),
    ]
}

impl Regtest {
    /// Starts bitcoind (found by [`find_bitcoind`]) in regtest on
    /// `datadir`, created if missing, and waits until RPC answers.
    ///
    /// # Errors
    /// [`BitcoindError`].
    pub async fn start(datadir: impl Into<PathBuf>) -> Result<Self, BitcoindError> {
        Self::start_with(find_bitcoind()?, datadir, Vec::new()).await
    }

    /// Starts `exe` in regtest on `datadir` with `extra_args` appended to
    /// the defaults.
    ///
    /// # Errors
    /// [`BitcoindError`].
    pub async fn start_with(
        exe: PathBuf,
        datadir: impl Into<PathBuf>,
        extra_args: Vec<String>,
    ) -> Result<Self, BitcoindError> {
        let datadir = datadir.into();
        fs::create_dir_all(&datadir).map_err(|source| BitcoindError::Io {
            what: format!("creating {}", datadir.display()),
            source,
        })?;
        let datadir = datadir.canonicalize().map_err(|source| BitcoindError::Io {
            what: format!("resolving {}", datadir.display()),
            source,
        })?;
        let port_err = |source| BitcoindError::Io {
            what: "finding a free port".to_owned(),
            source,
        };
        let cookie = datadir.join("regtest").join(".cookie");
        let mut node = Self {
            exe,
            datadir,
            rpc_port: 0,
            p2p_port: 0,
            extra_args,
            child: None,
            rpc: BitcoinRpc::new("http://127.0.0.1:0", Auth::Cookie(cookie.clone())),
        };
        // A port free when asked may be taken by another process before
        // bitcoind binds it (any listener on port 0 can draw it): then
        // bitcoind exits at once, and new ports are drawn.
        let mut attempt = 1;
        loop {
            node.rpc_port = free_port().map_err(port_err)?;
            node.p2p_port = free_port().map_err(port_err)?;
            node.rpc = BitcoinRpc::new(
                format!("http://127.0.0.1:{}", node.rpc_port),
                Auth::Cookie(cookie.clone()),
            );
            match node.spawn_and_wait().await {
                Err(BitcoindError::Start { reason })
                    if reason.contains("Unable to bind") && attempt < START_ATTEMPTS =>
                {
                    tracing::warn!(target: "pantheon::anchor", attempt, "bitcoind could not bind its ports; drawing new ones");
                    attempt += 1;
                }
                other => return other.map(|()| node),
            }
        }
    }

    fn args(&self) -> Vec<String> {
        let mut args = regtest_args(&self.datadir, self.rpc_port, self.p2p_port);
        args.extend(self.extra_args.iter().cloned());
        args
    }

    async fn spawn_and_wait(&mut self) -> Result<(), BitcoindError> {
        let stderr_path = self.datadir.join("bitcoind.stderr");
        let stderr = fs::File::create(&stderr_path).map_err(|source| BitcoindError::Io {
            what: format!("creating {}", stderr_path.display()),
            source,
        })?;
        let child = Command::new(&self.exe)
            .args(self.args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|source| BitcoindError::Io {
                what: format!("spawning {}", self.exe.display()),
                source,
            })?;
        tracing::info!(
            target: "pantheon::anchor",
            pid = child.id(),
            rpc_port = self.rpc_port,
            p2p_port = self.p2p_port,
            datadir = %self.datadir.display(),
            "started regtest bitcoind"
        );
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(BitcoindError::Start {
                    reason: format!("exited with {status}; {}", self.log_tail()),
                });
            }
            match self.rpc.get_blockchain_info().await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_unreachable() || e.code() == Some(rpc::codes::IN_WARMUP) => {}
                Err(e) => return Err(e.into()),
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(BitcoindError::Start {
                    reason: format!(
                        "RPC did not answer within {} s; {}",
                        START_TIMEOUT.as_secs(),
                        self.log_tail()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_tail(&self) -> String {
        let read_tail = |path: PathBuf| {
            fs::read_to_string(path)
                .map(|t| {
                    let lines: Vec<&str> = t.lines().collect();
                    lines[lines.len().saturating_sub(8)..].join("\n")
                })
                .unwrap_or_default()
        };
        format!(
            "stderr: {}\ndebug.log: {}",
            read_tail(self.datadir.join("bitcoind.stderr")),
            read_tail(self.datadir.join("regtest").join("debug.log"))
        )
    }

    /// The RPC client (cookie auth).
    #[must_use]
    pub const fn rpc(&self) -> &BitcoinRpc {
        &self.rpc
    }

    /// The RPC URL, `http://127.0.0.1:<port>`.
    #[must_use]
    pub fn rpc_url(&self) -> &str {
        self.rpc.url()
    }

    /// The cookie file (rewritten at every start).
    #[must_use]
    pub fn cookie_file(&self) -> PathBuf {
        self.datadir.join("regtest").join(".cookie")
    }

    /// The data directory.
    #[must_use]
    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// The P2P port (listening on 127.0.0.1), for `addnode`.
    #[must_use]
    pub const fn p2p_port(&self) -> u16 {
        self.p2p_port
    }

    /// The process id while running.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How the process ended, once it has (and reaps it): `None` while it
    /// runs, or when it was never started or was stopped by us.
    pub fn exited(&mut self) -> Option<String> {
        let status = self.child.as_mut().map(Child::try_wait)?;
        match status {
            Ok(None) => None,
            Ok(Some(status)) => {
                self.child = None;
                Some(status.to_string())
            }
            Err(e) => {
                self.child = None;
                Some(format!("could not be waited for: {e}"))
            }
        }
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    /// Mines `n` blocks paying `address` (`generatetoaddress`).
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn mine(&self, n: u64, address: &Address) -> Result<Vec<BlockHash>, RpcError> {
        self.rpc.generate_to_address(n, address).await
    }

    /// Stops bitcoind cleanly (RPC `stop`, then waits for the process to
    /// exit; kills it if it does not within a minute).
    ///
    /// # Errors
    /// [`BitcoindError`] when the process could not be waited for.
    pub async fn stop(&mut self) -> Result<(), BitcoindError> {
        if !self.is_running() {
            return Ok(());
        }
        if let Err(e) = self.rpc.stop().await {
            tracing::warn!(target: "pantheon::anchor", error = %e, "RPC stop failed; killing bitcoind");
            self.kill();
            return Ok(());
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while self.is_running() {
            if Instant::now() > deadline {
                tracing::warn!(target: "pantheon::anchor", "bitcoind did not stop in time; killing it");
                self.kill();
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tracing::info!(target: "pantheon::anchor", "stopped regtest bitcoind");
        Ok(())
    }

    /// Starts bitcoind again on the same data directory and ports (stopping
    /// it first if it runs).
    ///
    /// # Errors
    /// [`BitcoindError`].
    pub async fn restart(&mut self) -> Result<(), BitcoindError> {
        self.stop().await?;
        self.spawn_and_wait().await
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Regtest {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_bitcoind_says_how_to_get_it() {
        let empty = tempfile::tempdir().unwrap();
        let dir = empty.path().as_os_str().to_owned();
        let err = find_with(|name| match name {
            "BITCOIND_EXE" => Some(empty.path().join("nope").into_os_string()),
            _ => Some(dir.clone()),
        })
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("scripts/ensure-bitcoind"), "{text}");
        assert!(text.contains("BITCOIND_EXE"), "{text}");
    }

    #[test]
    fn bitcoind_exe_wins() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("bitcoind");
        fs::write(&exe, "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let found =
            find_with(|name| (name == "BITCOIND_EXE").then(|| exe.clone().into_os_string()));
        assert_eq!(found.unwrap(), exe);
        // Else the cached build under $HOME.
        let home = tempfile::tempdir().unwrap();
        let cached = home.path().join(CACHED_BITCOIND);
        fs::create_dir_all(cached.parent().unwrap()).unwrap();
        fs::copy(&exe, &cached).unwrap();
        let found = find_with(|name| (name == "HOME").then(|| home.path().as_os_str().to_owned()));
        assert_eq!(found.unwrap(), cached);
    }
}
