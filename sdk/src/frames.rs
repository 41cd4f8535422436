//! The framing shared by the operator's append-only files (the record log,
//! the batch list): a magic line, then frames.
//!
//! ```text
//! file  = magic  frame*
//! frame = len:u32 BE  payload  check      check = SHA-256(payload)[0..8]
//! ```
//!
//! A last frame cut short by a crash (too short, or failing its check at
//! the very end of the file) is dropped on open and the file truncated
//! before it; a bad frame with more bytes after it is damage, refused.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use pantheon_runtime::hash::Hash256;

/// Bytes of a frame beyond its payload.
pub const OVERHEAD: usize = 4 + 8;

/// Appends one frame holding `payload` to `out`.
///
/// # Panics
/// For a payload over 4 GiB (callers bound theirs far below).
pub fn put(out: &mut Vec<u8>, payload: &[u8]) {
    let len = u32::try_from(payload.len()).expect("frames are far below 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&Hash256::digest(payload).as_bytes()[..8]);
}

/// The frames read from a file: each payload with its offset, and the
/// length of the good prefix.
pub type Frames<'a> = (Vec<(usize, &'a [u8])>, usize);

/// The payloads of the frames of `bytes` after `magic`, each with its
/// offset, and the length of the good prefix (shorter than `bytes` when
/// the last frame is torn).
///
/// # Errors
/// `(offset, reason)` for a file without the magic or damaged before its
/// last frame.
pub fn read<'a>(bytes: &'a [u8], magic: &[u8]) -> Result<Frames<'a>, (usize, String)> {
    if !bytes.starts_with(magic) {
        return Err((0, "not a Pantheon operator file (wrong magic)".to_owned()));
    }
    read_from(bytes, magic.len())
}

/// [`read`] from offset `start` of `bytes`, a frame boundary, on.
///
/// # Errors
/// As [`read`].
pub fn read_from(bytes: &[u8], start: usize) -> Result<Frames<'_>, (usize, String)> {
    let mut at = start;
    let mut out = Vec::new();
    while at < bytes.len() {
        let rest = &bytes[at..];
        let Some(len) = rest
            .get(..4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        else {
            return Ok((out, at));
        };
        let end = len + OVERHEAD;
        if rest.len() < end {
            return Ok((out, at));
        }
        let payload = &rest[4..4 + len];
        if Hash256::digest(payload).as_bytes()[..8] != rest[4 + len..end] {
            if at + end == bytes.len() {
                return Ok((out, at));
            }
            return Err((at, "checksum mismatch before the last frame".to_owned()));
        }
        out.push((at, payload));
        at += end;
    }
    Ok((out, at))
}

/// Opens (or creates, with `magic`, durably) an append-only file and
/// returns it positioned at its end with its contents, a torn last frame
/// already cut off.
///
/// # Errors
/// I/O errors, or `(offset, reason)` damage as [`read`] reports it.
pub fn open(dir: &Path, name: &str, magic: &[u8]) -> Result<(File, Vec<u8>), OpenError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| OpenError::Io(format!("creating the directory: {e}")))?;
    let path = dir.join(name);
    let io = |what: &str, e: std::io::Error| OpenError::Io(format!("{what}: {e}"));
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|e| io("opening", e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| io("reading", e))?;
    if bytes.is_empty() {
        file.write_all(magic)
            .map_err(|e| io("writing the header", e))?;
        file.sync_all().map_err(|e| io("syncing", e))?;
        sync_dir(dir).map_err(|e| io("syncing the directory", e))?;
        bytes = magic.to_vec();
    }
    let (_, good) =
        read(&bytes, magic).map_err(|(offset, reason)| OpenError::Corrupt { offset, reason })?;
    if good < bytes.len() {
        // A frame cut short by a crash: it never happened.
        file.set_len(good as u64)
            .map_err(|e| io("dropping a torn frame", e))?;
        file.sync_all().map_err(|e| io("syncing", e))?;
        bytes.truncate(good);
    }
    file.seek(SeekFrom::End(0)).map_err(|e| io("seeking", e))?;
    Ok((file, bytes))
}

/// Takes the exclusive lock `name` in `dir` (created if missing), held
/// until the returned file is dropped or the process ends, however it
/// ends: one process at a time writes a given file.
///
/// # Errors
/// The lock is held by another process, or the file cannot be made.
pub fn lock(dir: &Path, name: &str) -> Result<File, String> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(name))
        .map_err(|e| format!("creating {name}: {e}"))?;
    file.try_lock().map_err(|e| match e {
        std::fs::TryLockError::WouldBlock => {
            format!("{name} is held by another process")
        }
        std::fs::TryLockError::Error(e) => format!("locking {name}: {e}"),
    })?;
    Ok(file)
}

/// Writes `bytes` as `dir/name` atomically and durably: a temporary
/// file, fsync, rename, fsync of the directory (which is created if
/// missing).
///
/// # Errors
/// The I/O error, described.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let io = |what: &str, e: std::io::Error| format!("{what} {}: {e}", dir.join(name).display());
    let mut f = File::create(&tmp).map_err(|e| io("creating", e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io("writing", e))?;
    std::fs::rename(&tmp, dir.join(name)).map_err(|e| io("renaming", e))?;
    sync_dir(dir).map_err(|e| io("syncing the directory of", e))
}

/// Reads a file [`open`] made, read-only, without creating or repairing
/// it (a missing file reads as the bare magic; a torn last frame is left
/// for its writer and skipped by [`read`]).
///
/// # Errors
/// I/O errors other than a missing file.
pub fn read_only(dir: &Path, name: &str, magic: &[u8]) -> Result<Vec<u8>, OpenError> {
    match std::fs::read(dir.join(name)) {
        Ok(bytes) if bytes.is_empty() => Ok(magic.to_vec()),
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(magic.to_vec()),
        Err(e) => Err(OpenError::Io(format!("reading: {e}"))),
    }
}

/// [`open`] or, if `read_only`, [`read_only`], with damage described as
/// text (`at byte N: reason`): the one way the operator's files are opened.
///
/// # Errors
/// [`LoadError`].
pub fn load(
    dir: &Path,
    name: &str,
    magic: &[u8],
    read_only: bool,
) -> Result<(Option<File>, Vec<u8>), LoadError> {
    let opened = if read_only {
        self::read_only(dir, name, magic).map(|b| (None, b))
    } else {
        open(dir, name, magic).map(|(f, b)| (Some(f), b))
    };
    opened.map_err(|e| match e {
        OpenError::Io(reason) => LoadError::Io(reason),
        OpenError::Corrupt { offset, reason } => {
            LoadError::Corrupt(format!("at byte {offset}: {reason}"))
        }
    })
}

/// Why [`load`] failed.
#[derive(Debug)]
pub enum LoadError {
    /// An I/O error, described.
    Io(String),
    /// Damage, described with its offset.
    Corrupt(String),
}

/// Why [`open`] failed.
#[derive(Debug)]
pub enum OpenError {
    /// An I/O error, described.
    Io(String),
    /// Damage at `offset`.
    Corrupt {
        /// Where.
        offset: usize,
        /// What.
        reason: String,
    },
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}
