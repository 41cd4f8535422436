//! Processes of a testnet: nodes, the shared bitcoind and its miner. Each
//! is started detached (own process group, output appended to a log file),
//! tracked by a pid file, and stopped with SIGTERM and, after a grace
//! period, SIGKILL.
//!
//! Liveness is read from `/proc/<pid>`: the process must exist, not be a
//! zombie, and carry the service's identifying arguments on its command
//! line (a recycled pid is not mistaken for the service).

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::{Error, Manifest, Result, io_error};

/// How long `stop` waits for a clean exit before SIGKILL.
pub const GRACE: Duration = Duration::from_secs(15);

/// One long-running process of the testnet.
#[derive(Debug, Clone)]
pub struct Service {
    /// Index used in errors (the node index; `usize::MAX` for others).
    pub index: usize,
    /// Its working directory.
    pub dir: PathBuf,
    /// The program.
    pub exe: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Its pid file.
    pub pid_file: PathBuf,
    /// Its log file (stdout and stderr, appended).
    pub log_file: PathBuf,
    /// Arguments that identify it on `/proc/<pid>/cmdline`.
    pub identity: Vec<OsString>,
}

impl Service {
    /// Node `index` of `net`, run as `exe node --config <config>`.
    ///
    /// # Errors
    /// [`Error::NoSuchNode`].
    pub fn node(net: &Manifest, index: usize, exe: &Path) -> Result<Self> {
        let home = net.home(index)?;
        let config = net.config(index)?.into_os_string();
        Ok(Self {
            index,
            dir: home.clone(),
            exe: exe.to_path_buf(),
            args: vec!["node".into(), "--config".into(), config.clone()],
            pid_file: home.join("node.pid"),
            log_file: home.join("node.log"),
            identity: vec![config],
        })
    }

    /// The pid if it is running.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        let pid = std::fs::read_to_string(&self.pid_file)
            .ok()?
            .trim()
            .parse::<u32>()
            .ok()?;
        self.alive(pid).then_some(pid)
    }

    fn alive(&self, pid: u32) -> bool {
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let Ok(stat) = std::fs::read_to_string(proc.join("stat")) else {
            return false;
        };
        // Field 3, after the parenthesised command name, is the state.
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']));
        let Ok(cmdline) = std::fs::read(proc.join("cmdline")) else {
            return false;
        };
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        !zombie
            && self
                .identity
                .iter()
                .all(|want| args.contains(&want.as_encoded_bytes()))
    }

    /// Starts it unless it runs; returns its pid.
    ///
    /// # Errors
    /// [`Error::Process`] if it cannot be spawned.
    pub fn start(&self) -> Result<u32> {
        if let Some(pid) = self.pid() {
            return Ok(pid);
        }
        std::fs::create_dir_all(&self.dir).map_err(io_error(&self.dir))?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .map_err(io_error(&self.log_file))?;
        let err = log.try_clone().map_err(io_error(&self.log_file))?;
        let child = Command::new(&self.exe)
            .args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| Error::Process {
                index: self.index,
                message: format!("cannot start {}: {e}", self.exe.display()),
            })?;
        let mut child = child;
        let pid = child.id();
        std::fs::write(&self.pid_file, format!("{pid}\n")).map_err(io_error(&self.pid_file))?;
        // Until the child has exec'd, /proc/<pid>/cmdline is still ours and
        // the process looks as if it had exited (on two busy cores a status
        // poll right after the spawn saw that, with an empty log): wait for
        // the exec, or for the child to exit.
        let spawned = Instant::now();
        while !self.alive(pid)
            && matches!(child.try_wait(), Ok(None))
            && spawned.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(pid)
    }

    /// Stops it: SIGTERM, then SIGKILL after [`GRACE`]. Returns whether it
    /// was running.
    ///
    /// # Errors
    /// [`Error::Process`] if it cannot be signalled.
    pub fn stop(&self) -> Result<bool> {
        self.signal_and_wait(Signal::SIGTERM, GRACE)
    }

    fn signal_and_wait(&self, first: Signal, grace: Duration) -> Result<bool> {
        let Some(pid) = self.pid() else {
            return Ok(false);
        };
        let index = self.index;
        let target = Pid::from_raw(i32::try_from(pid).map_err(|_| Error::Process {
            index,
            message: format!("pid {pid} out of range"),
        })?);
        let send = |signal| {
            kill(target, signal).map_err(|e| Error::Process {
                index,
                message: format!("cannot signal pid {pid}: {e}"),
            })
        };
        send(first)?;
        let deadline = Instant::now() + grace;
        while self.alive(pid) {
            if Instant::now() >= deadline {
                send(Signal::SIGKILL)?;
                std::thread::sleep(Duration::from_millis(200));
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_file(&self.pid_file);
        Ok(true)
    }
}

/// Node `index`'s log file.
///
/// # Errors
/// [`Error::NoSuchNode`].
pub fn log_file(net: &Manifest, index: usize) -> Result<PathBuf> {
    Ok(net.home(index)?.join("node.log"))
}

/// The pid of node `index` if it is running.
///
/// # Errors
/// [`Error::NoSuchNode`].
pub fn pid(net: &Manifest, index: usize) -> Result<Option<u32>> {
    Ok(Service::node(net, index, Path::new("pantheon"))?.pid())
}

/// Starts node `index` with `exe node --config <config>` unless it is
/// running; returns its pid.
///
/// # Errors
/// [`Error::Process`] if it cannot be spawned.
pub fn start(net: &Manifest, index: usize, exe: &Path) -> Result<u32> {
    Service::node(net, index, exe)?.start()
}

/// Stops node `index`: SIGTERM, then SIGKILL after [`GRACE`]. Returns
/// whether it was running.
///
/// # Errors
/// [`Error::Process`] if it cannot be signalled.
pub fn stop(net: &Manifest, index: usize) -> Result<bool> {
    Service::node(net, index, Path::new("pantheon"))?.stop()
}

/// The shared regtest bitcoind of `net` (`None` if it does not anchor).
#[must_use]
pub fn bitcoind(net: &Manifest, exe: &Path) -> Option<Service> {
    let b = net.bitcoin.as_ref()?;
    let dir = net.bitcoin_dir();
    let datadir = OsString::from(format!("-datadir={}", dir.display()));
    let args: Vec<OsString> = pantheon_anchor::bitcoind::regtest_args(&dir, b.rpc_port, b.p2p_port)
        .into_iter()
        .map(OsString::from)
        .collect();
    Some(Service {
        index: usize::MAX,
        dir: dir.clone(),
        exe: exe.to_path_buf(),
        args,
        pid_file: net.dir.join("bitcoind.pid"),
        log_file: net.dir.join("bitcoind.log"),
        identity: vec![datadir],
    })
}

/// The testnet's miner: `exe testnet mine --dir DIR`.
#[must_use]
pub fn miner(net: &Manifest, exe: &Path) -> Service {
    let dir = net.dir.clone().into_os_string();
    Service {
        index: usize::MAX,
        dir: net.dir.clone(),
        exe: exe.to_path_buf(),
        args: vec!["testnet".into(), "mine".into(), "--dir".into(), dir.clone()],
        pid_file: net.dir.join("miner.pid"),
        log_file: net.dir.join("miner.log"),
        identity: vec!["mine".into(), dir],
    }
}
