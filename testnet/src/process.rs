//! Node processes: started detached (own process group, output appended to
//! `node.log`), tracked by `node.pid`, stopped with SIGTERM and, after a
//! grace period, SIGKILL.
//!
//! Liveness is read from `/proc/<pid>`: the process must exist, not be a
//! zombie, and have this node's config on its command line (a recycled pid
//! is not mistaken for the node).

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

fn pid_file(net: &Manifest, index: usize) -> Result<PathBuf> {
    Ok(net.home(index)?.join("node.pid"))
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
    let path = pid_file(net, index)?;
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let Ok(pid) = text.trim().parse::<u32>() else {
        return Ok(None);
    };
    let config = net.config(index)?;
    Ok(alive(pid, &config).then_some(pid))
}

fn alive(pid: u32, config: &Path) -> bool {
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
    let want = config.as_os_str().as_encoded_bytes();
    !zombie && cmdline.split(|&b| b == 0).any(|arg| arg == want)
}

/// Starts node `index` with `exe node --config <config>` unless it is
/// running; returns its pid.
///
/// # Errors
/// [`Error::Process`] if it cannot be spawned.
pub fn start(net: &Manifest, index: usize, exe: &Path) -> Result<u32> {
    if let Some(pid) = pid(net, index)? {
        return Ok(pid);
    }
    let home = net.home(index)?;
    let log_path = log_file(net, index)?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io_error(&log_path))?;
    let err = log.try_clone().map_err(io_error(&log_path))?;
    let config = net.config(index)?;
    let child = Command::new(exe)
        .arg("node")
        .arg("--config")
        .arg(&config)
        .current_dir(&home)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| Error::Process {
            index,
            message: format!("cannot start {}: {e}", exe.display()),
        })?;
    let pid = child.id();
    let path = pid_file(net, index)?;
    std::fs::write(&path, format!("{pid}\n")).map_err(io_error(&path))?;
    Ok(pid)
}

/// Stops node `index`: SIGTERM, then SIGKILL after [`GRACE`]. Returns
/// whether it was running.
///
/// # Errors
/// [`Error::Process`] if it cannot be signalled.
pub fn stop(net: &Manifest, index: usize) -> Result<bool> {
    signal_and_wait(net, index, Signal::SIGTERM, GRACE)
}

/// Kills node `index` at once with SIGKILL, as a crash would.
///
/// # Errors
/// [`Error::Process`] if it cannot be signalled.
pub fn kill_now(net: &Manifest, index: usize) -> Result<bool> {
    signal_and_wait(net, index, Signal::SIGKILL, Duration::from_secs(5))
}

fn signal_and_wait(net: &Manifest, index: usize, first: Signal, grace: Duration) -> Result<bool> {
    let Some(pid) = pid(net, index)? else {
        return Ok(false);
    };
    let config = net.config(index)?;
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
    while alive(pid, &config) {
        if Instant::now() >= deadline {
            send(Signal::SIGKILL)?;
            std::thread::sleep(Duration::from_millis(200));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_file(pid_file(net, index)?);
    Ok(true)
}
