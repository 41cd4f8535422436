//! Durable file writes: what survives a crash at any instant. The one
//! helper every crate that writes a file uses (the anchor engine's state,
//! key files, the consensus host's undecided values, the testnet
//! manifest); it lives here because `pantheon-anchor` is the lowest crate
//! that does I/O (`pantheon-runtime` is pure).
//!
//! - [`write_atomic`] replaces a file: it writes a temporary file beside
//!   the target, fsyncs it, renames it over the target and fsyncs the
//!   directory, so after a crash the target holds either the old bytes or
//!   the new bytes, never a mix, and a write that returned is on disk.
//! - [`write_atomic_private`] is the same with mode 0600 from the first
//!   byte, for secrets that may be replaced (`pantheon keys generate
//!   --force`).
//! - [`create_private`] creates a new secret file (mode 0600), failing with
//!   `AlreadyExists` rather than replacing one, and makes file and
//!   directory entry durable.
//!
//! A temporary file is named `<name>.tmp` in the same directory (so the
//! rename never crosses a file system) and is removed when a write fails.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically and durably.
///
/// # Errors
/// Any I/O error; the target is then unchanged.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace(path, bytes, None)
}

/// [`write_atomic`] with the file readable by its owner only (mode 0600).
///
/// # Errors
/// Any I/O error; the target is then unchanged.
pub fn write_atomic_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace(path, bytes, Some(0o600))
}

/// Creates `path` with `bytes`, readable by its owner only (mode 0600),
/// durably; never replaces an existing file.
///
/// # Errors
/// `AlreadyExists` if `path` exists, or any other I/O error (a partly
/// written new file is then removed).
pub fn create_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = options(Some(0o600)).create_new(true).open(path)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| sync_parent_dir(path));
    if written.is_err() {
        drop(file);
        let _ = fs::remove_file(path);
    }
    written
}

fn replace(path: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        // A temporary file left by a crash is ours to replace.
        let _ = fs::remove_file(&tmp);
        let mut file = options(mode).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_parent_dir(path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn options(mode: Option<u32>) -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options
}

/// Fsyncs the directory holding `path`, so a create or rename in it is
/// durable.
///
/// # Errors
/// Any I/O error.
pub fn sync_parent_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_contents_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_stale_temp_file_does_not_block_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(dir.path().join("state.json.tmp"), b"half").unwrap();
        write_atomic(&path, b"whole").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"whole");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_write_leaves_the_target_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, b"old").unwrap();
        // The rename cannot replace a directory: the write fails after the
        // temporary file was written.
        let blocked = dir.path().join("blocked");
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("x"), b"").unwrap();
        assert!(write_atomic(&blocked, b"new").is_err());
        assert!(!dir.path().join("blocked.tmp").exists());
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_owner_only_and_never_replaced_by_create() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("a.key");
        create_private(&key, b"secret").unwrap();
        assert_eq!(
            fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let again = create_private(&key, b"other").unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&key).unwrap(), b"secret");
        write_atomic_private(&key, b"replaced").unwrap();
        assert_eq!(
            fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read(&key).unwrap(), b"replaced");
    }
}
