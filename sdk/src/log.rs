//! The record log: one append-only file, `records.log`, in the operator's
//! directory.
//!
//! ```text
//! records.log = "pantheon-records/1\n"  frame*
//! frame       = len:u32 BE  payload  check
//! payload     = record_len:u16 BE  record (FORMATS 23.4)  canonical body (23.2)
//! check       = SHA-256(payload)[0..8]
//! ```
//!
//! This file is the operator's own storage, not a format anyone else
//! hashes: what leaves it (records, their hashes, batch roots) is
//! specified in `docs/FORMATS.md`. The check lets [`RecordLog::open`] tell
//! a frame cut short by a crash (the last one: dropped, the file truncated
//! to the frames before it) from damage in the middle (refused).
//!
//! **Group commit.** An append takes its stream's next index and `prev`
//! under the log's lock, signs outside it (hedged, by AWS-LC: records of
//! different streams are signed in parallel; a stream's records one after
//! another, since each `prev` is the previous record's hash, signature
//! included) and queues its frame. The log's own writer thread takes every queued frame, writes them with
//! one `write` and one `fsync`, and wakes the appenders; each returns once
//! its frame is durable. Under load, one fsync covers many appends, and the
//! thread, asleep in `fsync` rather than signing, runs as soon as the disk
//! answers.
//!
//! **Fail closed.** A failed write or fsync poisons the log: that append
//! and every later one return [`LogError::Poisoned`] until the log is
//! opened again, which re-reads the file. After a failed fsync the kernel
//! may or may not have kept the bytes; a record whose append failed may
//! therefore be found in the log after reopening, sealed but never acted
//! on (the caller was told it failed). No record is ever half in the log.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use pantheon_runtime::codec::{Encode, decode_exact};
use pantheon_runtime::crypto::Keypair;
use pantheon_runtime::hash::{Domain, Hash256};
use pantheon_runtime::record::{self, Envelope, Kind, Record, RecordError};
use serde_json::Value;

use crate::frames;

/// The file's first bytes.
const MAGIC: &[u8] = b"pantheon-records/1\n";
/// The log file's name in the directory.
pub const LOG_FILE: &str = "records.log";
/// The writer's lock file in the directory.
pub const WRITER_LOCK: &str = "records.lock";

/// Errors of the record log.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogError {
    /// The record or its body is refused (nothing was written).
    #[error(transparent)]
    Record(#[from] RecordError),
    /// A decision names a manifest this log has not sealed.
    #[error("manifest {0} is not a manifest sealed in this log; seal the manifest first")]
    UnknownManifest(Hash256),
    /// Reading, writing or syncing the log failed.
    #[error("record log {path}: {reason}")]
    Io {
        /// The log file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The log file is damaged before its last frame, or not a record log.
    #[error("record log {path} is damaged at byte {offset}: {reason}")]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// Where.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The log was written with another key.
    #[error("record log {path} belongs to operator {found}, not to this key's {expected}")]
    WrongKey {
        /// The log file.
        path: PathBuf,
        /// The log's operator.
        found: String,
        /// This key's id.
        expected: String,
    },
    /// Another process holds the log (one writer at a time).
    #[error("record log {path} is in use by another process ({reason})")]
    Locked {
        /// The log file.
        path: PathBuf,
        /// What the lock said.
        reason: String,
    },
    /// This log is followed read-only: it cannot append.
    #[error("record log {path} is open read-only (followed): append through its writer")]
    ReadOnly {
        /// The log file.
        path: PathBuf,
    },
    /// An earlier write failed: no record is accepted until the log is
    /// opened again.
    #[error("record log {path} refuses appends after a failed write ({reason}); open it again")]
    Poisoned {
        /// The log file.
        path: PathBuf,
        /// The failure.
        reason: String,
    },
}

/// What to seal.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The stream (FORMATS 23.1).
    pub stream: String,
    /// The kind.
    pub kind: Kind,
    /// The manifest in force (required for a decision).
    pub manifest: Option<Hash256>,
    /// The operator's clock, Unix milliseconds.
    pub time_ms: u64,
    /// The body, a JSON object.
    pub body: Value,
}

/// A record as sealed and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Its position in the operator's log, from 0, across streams.
    pub seq: u64,
    /// The record.
    pub record: Record,
    /// Its hash (the next record's `prev`).
    pub hash: Hash256,
    /// Its canonical body.
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct Head {
    next: u64,
    last: Hash256,
}

#[derive(Debug, Default)]
struct State {
    heads: HashMap<String, Head>,
    manifests: HashSet<Hash256>,
    /// Every record's hash and time, by log position (40 bytes each).
    index: Vec<(Hash256, u64)>,
    /// Records in the log, durable or queued.
    count: u64,
    /// Records known durable.
    durable: u64,
    /// Frames sealed, not yet written.
    queued: Vec<u8>,
    /// The log is being dropped: the writer's thread ends once idle.
    closing: bool,
    failed: Option<String>,
    syncs: u64,
    /// The latest manifest.
    last_manifest: Option<Hash256>,
    /// Streams whose next record is being signed.
    sealing: HashSet<String>,
    /// Appends that have reserved their stream, and those that have since
    /// queued their frame (or failed): the writer waits for the ones in
    /// progress.
    started: u64,
    finished: u64,
    /// Each stream's last record (a follower checks the chain with it).
    last: HashMap<String, Record>,
    /// Where the next frame starts in the file (a follower reads on from
    /// there).
    offset: usize,
}

/// The operator's durable record log. See the module docs.
#[derive(Debug)]
pub struct RecordLog {
    path: PathBuf,
    key: Keypair,
    shared: Arc<Shared>,
    /// The writer's thread, which writes and fsyncs what appends queue.
    thread: Option<std::thread::JoinHandle<()>>,
    /// Signalled when a stream's record is sealed (its next may start).
    turn: Condvar,
    /// False for a follower ([`RecordLog::follow`]).
    writer: bool,
    /// The writer's lock on the directory, held while the log is open.
    _lock: Option<File>,
}

/// What the appenders and the writer's thread share.
#[derive(Debug)]
struct Shared {
    file: Mutex<File>,
    state: Mutex<State>,
    /// Signalled when frames become durable (or a write failed).
    written: Condvar,
    /// Signalled when frames are queued (or the log closes).
    work: Condvar,
}

impl Drop for RecordLog {
    fn drop(&mut self) {
        lock(&self.shared.state).closing = true;
        self.shared.work.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Longest a commit waits for appends that are signing to queue.
const COALESCE: std::time::Duration = std::time::Duration::from_millis(1);

/// The writer's thread: takes every queued frame, writes them with one
/// `write` and one `fsync`, wakes the appenders, and again, until the log
/// closes with nothing queued. A thread of its own, mostly asleep in
/// `fsync`, so that appenders busy signing never delay a commit.
fn commit_loop(shared: &Shared) {
    let mut st = lock(&shared.state);
    loop {
        while st.queued.is_empty() && !st.closing {
            st = shared.work.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        if st.queued.is_empty() {
            return;
        }
        // Let the appends already signing join this fsync: wait until those
        // in progress now have queued their frames (at most COALESCE).
        let target = st.started;
        let deadline = std::time::Instant::now() + COALESCE;
        while st.finished < target && !st.closing {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            st = shared
                .work
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let batch = std::mem::take(&mut st.queued);
        let upto = st.count;
        drop(st);
        let result = {
            let mut file = lock(&shared.file);
            file.write_all(&batch).and_then(|()| file.sync_data())
        };
        st = lock(&shared.state);
        match result {
            Ok(()) => {
                st.durable = upto;
                st.syncs += 1;
            }
            Err(e) => {
                st.failed = Some(e.to_string());
                st.queued.clear();
            }
        }
        shared.written.notify_all();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RecordLog {
    /// Opens (or creates) the log in `dir` for `key`, as its one writer:
    /// takes the directory's writer lock, reads every frame, checks each
    /// stream's chain, and drops a last frame cut short by a crash.
    ///
    /// # Errors
    /// [`LogError::Io`], [`LogError::Corrupt`], [`LogError::WrongKey`],
    /// [`LogError::Locked`] while another process writes the log.
    pub fn open(dir: &Path, key: Keypair) -> Result<Self, LogError> {
        let path = dir.join(LOG_FILE);
        std::fs::create_dir_all(dir).map_err(|e| LogError::Io {
            path: path.clone(),
            reason: format!("creating the directory: {e}"),
        })?;
        let lock = frames::lock(dir, WRITER_LOCK).map_err(|reason| LogError::Locked {
            path: path.clone(),
            reason,
        })?;
        let (file, bytes) = frames::open(dir, LOG_FILE, MAGIC).map_err(|e| match e {
            frames::OpenError::Io(reason) => LogError::Io {
                path: path.clone(),
                reason,
            },
            frames::OpenError::Corrupt { offset, reason } => LogError::Corrupt {
                path: path.clone(),
                offset: offset as u64,
                reason,
            },
        })?;
        let mut log = Self::empty(path, key, file, Some(lock), true);
        log.ingest(&bytes, 0)?;
        let shared = Arc::clone(&log.shared);
        log.thread = Some(
            std::thread::Builder::new()
                .name("pantheon-record-log".into())
                .spawn(move || commit_loop(&shared))
                .map_err(|e| LogError::Io {
                    path: log.path.clone(),
                    reason: format!("starting the writer thread: {e}"),
                })?,
        );
        Ok(log)
    }

    /// Opens the log in `dir` read-only, to follow what its writer (another
    /// process, say `pantheon records append`) seals: [`RecordLog::refresh`]
    /// reads the frames added since. A follower never appends, and never
    /// truncates: a frame being written is simply not read yet.
    ///
    /// # Errors
    /// As [`RecordLog::open`], but no lock is taken; a missing log is
    /// [`LogError::Io`].
    pub fn follow(dir: &Path, key: Keypair) -> Result<Self, LogError> {
        let path = dir.join(LOG_FILE);
        let file = File::open(&path).map_err(|e| LogError::Io {
            path: path.clone(),
            reason: format!("opening: {e} (create it with `pantheon records init`)"),
        })?;
        let log = Self::empty(path, key, file, None, false);
        log.refresh()?;
        Ok(log)
    }

    fn empty(path: PathBuf, key: Keypair, file: File, lock: Option<File>, writer: bool) -> Self {
        Self {
            path,
            key,
            shared: Arc::new(Shared {
                file: Mutex::new(file),
                state: Mutex::new(State::default()),
                written: Condvar::new(),
                work: Condvar::new(),
            }),
            thread: None,
            turn: Condvar::new(),
            writer,
            _lock: lock,
        }
    }

    /// A follower: reads the frames its writer added since the last call,
    /// makes them durable (an `fsync` of the file: a follower uses only
    /// records that a crash cannot take back), and returns how many records
    /// it added. A writer has nothing to refresh (0).
    ///
    /// # Errors
    /// [`LogError::Io`], [`LogError::Corrupt`], [`LogError::WrongKey`].
    pub fn refresh(&self) -> Result<u64, LogError> {
        if self.writer {
            return Ok(0);
        }
        let io = |reason: String| LogError::Io {
            path: self.path.clone(),
            reason,
        };
        let offset = lock(&self.shared.state).offset;
        let mut tail = Vec::new();
        {
            let mut file = lock(&self.shared.file);
            file.seek(SeekFrom::Start(offset as u64))
                .and_then(|_| file.read_to_end(&mut tail))
                .map_err(|e| io(format!("reading: {e}")))?;
            // What was read is durable once this returns.
            file.sync_data().map_err(|e| io(format!("syncing: {e}")))?;
        }
        if offset == 0 && tail.len() < MAGIC.len() {
            return Ok(0);
        }
        let before = self.len();
        self.ingest(&tail, offset)?;
        Ok(self.len() - before)
    }

    /// Reads the frames of `bytes` (the file from `base` on; from the
    /// magic when `base` is 0) into the state.
    fn ingest(&self, bytes: &[u8], base: usize) -> Result<(), LogError> {
        let corrupt = |offset: usize, reason: String| LogError::Corrupt {
            path: self.path.clone(),
            offset: offset as u64,
            reason,
        };
        let (payloads, good) = if base == 0 {
            frames::read(bytes, MAGIC)
        } else {
            frames::read_from(bytes, 0)
        }
        .map_err(|(at, why)| corrupt(base + at, why))?;
        let mut st = lock(&self.shared.state);
        let st = &mut *st;
        for (at, payload) in payloads {
            let (record, _) = parse(payload).map_err(|why| corrupt(base + at, why))?;
            let e = &record.envelope;
            if e.operator != self.key.id() {
                return Err(LogError::WrongKey {
                    path: self.path.clone(),
                    found: e.operator.to_string(),
                    expected: self.key.id().to_string(),
                });
            }
            record
                .follows(st.last.get(&e.stream))
                .map_err(|err| corrupt(base + at, err.to_string()))?;
            let hash = record.hash();
            st.heads.insert(
                e.stream.clone(),
                Head {
                    next: e.index + 1,
                    last: hash,
                },
            );
            if e.kind == Kind::Manifest {
                st.manifests.insert(hash);
                st.last_manifest = Some(hash);
            }
            st.index.push((hash, e.time_ms));
            st.last.insert(e.stream.clone(), record);
        }
        st.count = st.index.len() as u64;
        st.durable = st.count;
        st.offset = base + good;
        Ok(())
    }

    /// The key the log is sealed with.
    #[must_use]
    pub const fn key(&self) -> &Keypair {
        &self.key
    }

    /// The log file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records in the log.
    #[must_use]
    pub fn len(&self) -> u64 {
        lock(&self.shared.state).count
    }

    /// True when no record was sealed yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next index and the last record hash of `stream` (`None`: no
    /// record yet).
    #[must_use]
    pub fn head(&self, stream: &str) -> Option<(u64, Hash256)> {
        lock(&self.shared.state)
            .heads
            .get(stream)
            .map(|h| (h.next, h.last))
    }

    /// How many fsyncs the log has made since it was opened (group commit:
    /// fewer than appends under load).
    #[must_use]
    pub fn syncs(&self) -> u64 {
        lock(&self.shared.state).syncs
    }

    /// Seals `entry` and returns once it is durable. See the module docs.
    ///
    /// # Errors
    /// [`LogError::Record`] or [`LogError::UnknownManifest`] (nothing
    /// written), [`LogError::Io`] or [`LogError::Poisoned`] (the log
    /// refuses appends until opened again).
    pub fn append(&self, entry: Entry) -> Result<Sealed, LogError> {
        let mut sealed = self.append_all(vec![entry])?;
        Ok(sealed.remove(0))
    }

    /// Seals `entries` in order and returns once all are durable (one
    /// fsync for all of them, shared with concurrent appends). On an error
    /// the entries before the failing one are sealed (and durable once the
    /// log has written them) and the rest are not.
    ///
    /// # Errors
    /// As [`RecordLog::append`]; for a refused entry, the earlier ones are
    /// written before the error returns.
    pub fn append_all(&self, entries: Vec<Entry>) -> Result<Vec<Sealed>, LogError> {
        if !self.writer {
            return Err(LogError::ReadOnly {
                path: self.path.clone(),
            });
        }
        let mut prepared = Vec::with_capacity(entries.len());
        let mut refused = None;
        for entry in entries {
            match prepare(entry) {
                Ok(p) => prepared.push(p),
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        let mut out = Vec::with_capacity(prepared.len());
        for (entry, body) in prepared {
            match self.seal(entry, body) {
                Ok(s) => out.push(s),
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        if let Some(last) = out.last() {
            drop(self.wait_durable(lock(&self.shared.state), last.seq)?);
        }
        match refused {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// Seals one prepared entry and queues its frame. The stream's next
    /// index and `prev` are taken under the lock, with the stream reserved
    /// (`sealing`) so that its records are signed one after another; the
    /// signature is made outside the lock, so that appends to different
    /// streams sign on different cores.
    fn seal(&self, entry: Entry, body: Vec<u8>) -> Result<Sealed, LogError> {
        let mut st = lock(&self.shared.state);
        loop {
            if let Some(reason) = &st.failed {
                return Err(self.poisoned(reason));
            }
            if !st.sealing.contains(&entry.stream) {
                break;
            }
            st = self.turn.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        if let Some(m) = entry.manifest
            && !st.manifests.contains(&m)
        {
            return Err(LogError::UnknownManifest(m));
        }
        let head = st.heads.get(&entry.stream).copied().unwrap_or(Head {
            next: 0,
            last: Hash256::ZERO,
        });
        st.sealing.insert(entry.stream.clone());
        st.started += 1;
        drop(st);
        let sealed = Record::seal_hedged(
            Envelope {
                operator: self.key.id(),
                stream: entry.stream.clone(),
                index: head.next,
                prev: head.last,
                time_ms: entry.time_ms,
                kind: entry.kind,
                manifest: entry.manifest,
                body_hash: Hash256::tagged(Domain::RecordBody, &body),
            },
            &self.key,
        )
        .map_err(LogError::from)
        .and_then(|record| {
            if entry.kind == Kind::Approval {
                record.verify(self.key.public(), Some(&entry.body))?;
            }
            Ok(record)
        });
        let mut st = lock(&self.shared.state);
        st.sealing.remove(&entry.stream);
        st.finished += 1;
        self.turn.notify_all();
        self.shared.work.notify_one();
        let record = sealed?;
        let hash = record.hash();
        frame(&mut st.queued, &record, &body);
        st.heads.insert(
            entry.stream,
            Head {
                next: head.next + 1,
                last: hash,
            },
        );
        if entry.kind == Kind::Manifest {
            st.manifests.insert(hash);
            st.last_manifest = Some(hash);
        }
        st.index.push((hash, entry.time_ms));
        let seq = st.count;
        st.count += 1;
        Ok(Sealed {
            seq,
            record,
            hash,
            body,
        })
    }

    /// Wakes the writer's thread and waits until record `seq` is durable
    /// (group commit: one fsync for everything queued meanwhile).
    fn wait_durable<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        seq: u64,
    ) -> Result<MutexGuard<'a, State>, LogError> {
        self.shared.work.notify_one();
        loop {
            if st.durable > seq {
                return Ok(st);
            }
            if let Some(reason) = &st.failed {
                return Err(self.poisoned(reason));
            }
            st = self
                .shared
                .written
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The latest manifest sealed in the log (the one in force for a
    /// decision that names none explicitly).
    #[must_use]
    pub fn last_manifest(&self) -> Option<Hash256> {
        lock(&self.shared.state).last_manifest
    }

    /// The hash and `time_ms` of the durable records at positions
    /// `from..to` (fewer if the log is shorter), from memory.
    #[must_use]
    pub fn hashes(&self, from: u64, to: u64) -> Vec<(Hash256, u64)> {
        let st = lock(&self.shared.state);
        let durable = usize::try_from(st.durable).unwrap_or(usize::MAX);
        let end = usize::try_from(to).unwrap_or(usize::MAX).min(durable);
        let start = usize::try_from(from).unwrap_or(usize::MAX).min(end);
        st.index[start..end].to_vec()
    }

    /// Records known durable.
    #[must_use]
    pub fn durable(&self) -> u64 {
        lock(&self.shared.state).durable
    }

    /// Every record in the log, in order, read from disk.
    ///
    /// # Errors
    /// [`LogError::Io`], [`LogError::Corrupt`].
    pub fn stored(&self) -> Result<Vec<Sealed>, LogError> {
        let bytes = std::fs::read(&self.path).map_err(|e| LogError::Io {
            path: self.path.clone(),
            reason: format!("reading: {e}"),
        })?;
        let durable = usize::try_from(lock(&self.shared.state).durable).unwrap_or(usize::MAX);
        let (mut stored, _) = scan(&self.path, &bytes)?;
        stored.truncate(durable);
        Ok(stored)
    }

    fn poisoned(&self, reason: &str) -> LogError {
        LogError::Poisoned {
            path: self.path.clone(),
            reason: reason.to_owned(),
        }
    }
}

/// Checks an entry's body and kind outside the lock: its canonical body.
fn prepare(entry: Entry) -> Result<(Entry, Vec<u8>), LogError> {
    let body = record::canonical_body(&entry.body)?;
    record::check_kind(entry.kind, &entry.body)?;
    Ok((entry, body))
}

fn frame(out: &mut Vec<u8>, record: &Record, body: &[u8]) {
    let record = record.to_bytes();
    let mut payload = Vec::with_capacity(2 + record.len() + body.len());
    let record_len = u16::try_from(record.len()).expect("a record is at most 3,521 bytes");
    payload.extend_from_slice(&record_len.to_be_bytes());
    payload.extend_from_slice(&record);
    payload.extend_from_slice(body);
    frames::put(out, &payload);
}

/// Reads every record: the records and the length of the good prefix
/// (the file length, or where a torn last frame starts).
fn scan(path: &Path, bytes: &[u8]) -> Result<(Vec<Sealed>, usize), LogError> {
    let corrupt = |offset: usize, reason: String| LogError::Corrupt {
        path: path.to_owned(),
        offset: offset as u64,
        reason,
    };
    let (payloads, good) = frames::read(bytes, MAGIC).map_err(|(at, why)| corrupt(at, why))?;
    let mut stored: Vec<Sealed> = Vec::new();
    let mut last: HashMap<String, usize> = HashMap::new();
    for (at, payload) in payloads {
        let (record, body) = parse(payload).map_err(|why| corrupt(at, why))?;
        let prev = last
            .get(&record.envelope.stream)
            .map(|&i| &stored[i].record);
        record
            .follows(prev)
            .map_err(|e| corrupt(at, e.to_string()))?;
        last.insert(record.envelope.stream.clone(), stored.len());
        stored.push(Sealed {
            seq: stored.len() as u64,
            hash: record.hash(),
            record,
            body,
        });
    }
    Ok((stored, good))
}

/// One frame's record and canonical body, the body checked against the
/// record's `body_hash`.
fn parse(payload: &[u8]) -> Result<(Record, Vec<u8>), String> {
    let record_len = payload
        .get(..2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or_else(|| "empty frame".to_owned())?;
    let record_bytes = payload
        .get(2..2 + record_len)
        .ok_or_else(|| "record longer than its frame".to_owned())?;
    let record: Record = decode_exact(record_bytes).map_err(|e| format!("record: {e}"))?;
    let body = payload[2 + record_len..].to_vec();
    if Hash256::tagged(Domain::RecordBody, &body) != record.envelope.body_hash {
        return Err("body does not match its record".to_owned());
    }
    Ok((record, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn key() -> Keypair {
        Keypair::from_seed(&[0x61; 32])
    }

    fn h(s: &str) -> String {
        Hash256::digest(s.as_bytes()).to_string()
    }

    fn manifest() -> Entry {
        Entry {
            stream: "triage".to_owned(),
            kind: Kind::Manifest,
            manifest: None,
            time_ms: 1,
            body: json!({"model": h("m"), "tokenizer": h("t"), "system_prompt": h("p"), "data": h("d")}),
        }
    }

    fn decision(stream: &str, manifest: Hash256, n: u64) -> Entry {
        Entry {
            stream: stream.to_owned(),
            kind: Kind::Decision,
            manifest: Some(manifest),
            time_ms: 2 + n,
            body: json!({"inputs": h(&n.to_string()), "output": h("ok"), "policy": {"t": 0.9}, "score": 0.5}),
        }
    }

    #[test]
    fn appends_survive_reopening_chained_and_signed() {
        let dir = tempfile::tempdir().unwrap();
        let log = RecordLog::open(dir.path(), key()).unwrap();
        let m = log.append(manifest()).unwrap();
        let a = log.append(decision("triage", m.hash, 0)).unwrap();
        let b = log.append(decision("billing", m.hash, 1)).unwrap();
        assert_eq!((m.seq, a.seq, b.seq), (0, 1, 2));
        assert_eq!(a.record.envelope.prev, m.hash);
        assert_eq!(b.record.envelope.index, 0, "another stream starts at 0");
        drop(log);
        let log = RecordLog::open(dir.path(), key()).unwrap();
        assert_eq!(log.len(), 3);
        assert_eq!(log.head("triage"), Some((2, a.hash)));
        let stored = log.stored().unwrap();
        assert_eq!(stored, vec![m.clone(), a, b]);
        for s in &stored {
            s.record.verify(key().public(), None).unwrap();
        }
        let c = log.append(decision("triage", m.hash, 2)).unwrap();
        assert_eq!(c.record.envelope.index, 2);
    }

    #[test]
    fn a_frame_cut_short_by_a_crash_is_dropped_and_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let log = RecordLog::open(dir.path(), key()).unwrap();
        let m = log.append(manifest()).unwrap();
        log.append(decision("triage", m.hash, 0)).unwrap();
        drop(log);
        let path = dir.path().join(LOG_FILE);
        let full = std::fs::read(&path).unwrap();
        // Every cut inside the last frame loses that frame only.
        let first_end = {
            let len = u32::from_be_bytes(full[MAGIC.len()..MAGIC.len() + 4].try_into().unwrap());
            MAGIC.len() + frames::OVERHEAD + len as usize
        };
        for cut in [first_end + 1, first_end + 100, full.len() - 1] {
            std::fs::write(&path, &full[..cut]).unwrap();
            let log = RecordLog::open(dir.path(), key()).unwrap();
            assert_eq!(log.len(), 1, "cut at {cut}");
            assert_eq!(std::fs::metadata(&path).unwrap().len(), first_end as u64);
            let again = log.append(decision("triage", m.hash, 9)).unwrap();
            assert_eq!(again.record.envelope.index, 1);
        }
        // A flipped byte in the first of two frames is damage, not a crash.
        let mut damaged = full.clone();
        damaged[MAGIC.len() + 10] ^= 1;
        std::fs::write(&path, &damaged).unwrap();
        assert!(matches!(
            RecordLog::open(dir.path(), key()),
            Err(LogError::Corrupt { .. })
        ));
        // Another operator's key is refused.
        std::fs::write(&path, &full).unwrap();
        assert!(matches!(
            RecordLog::open(dir.path(), Keypair::from_seed(&[0x62; 32])),
            Err(LogError::WrongKey { .. })
        ));
    }

    #[test]
    fn refused_entries_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let log = RecordLog::open(dir.path(), key()).unwrap();
        let size = std::fs::metadata(log.path()).unwrap().len();
        let unknown = Hash256::digest(b"never sealed");
        assert!(matches!(
            log.append(decision("triage", unknown, 0)),
            Err(LogError::UnknownManifest(_))
        ));
        let mut bad = manifest();
        bad.body = json!([1, 2]);
        assert!(matches!(log.append(bad), Err(LogError::Record(_))));
        let mut missing = manifest();
        missing.body = json!({"model": h("m")});
        assert!(matches!(log.append(missing), Err(LogError::Record(_))));
        assert!(log.is_empty());
        assert_eq!(std::fs::metadata(log.path()).unwrap().len(), size);
        assert_eq!(log.head("triage"), None);
    }

    #[test]
    fn concurrent_appends_share_fsyncs_and_keep_every_chain() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(RecordLog::open(dir.path(), key()).unwrap());
        let m = log.append(manifest()).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    for n in 0..25 {
                        log.append(decision(&format!("s{}", t % 3), m.hash, n))
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(log.len(), 201);
        assert!(log.syncs() <= 201);
        let stored = log.stored().unwrap();
        assert_eq!(stored.len(), 201);
        drop(log);
        let reopened = RecordLog::open(dir.path(), key()).unwrap();
        assert_eq!(reopened.len(), 201);
        for s in 0..3 {
            let n = stored
                .iter()
                .filter(|r| r.record.envelope.stream == format!("s{s}"))
                .count() as u64;
            assert_eq!(reopened.head(&format!("s{s}")).unwrap().0, n);
        }
    }

    #[test]
    fn one_writer_at_a_time_and_a_follower_sees_what_it_seals() {
        let dir = tempfile::tempdir().unwrap();
        let writer = RecordLog::open(dir.path(), key()).unwrap();
        assert!(matches!(
            RecordLog::open(dir.path(), key()),
            Err(LogError::Locked { .. })
        ));
        let follower = RecordLog::follow(dir.path(), key()).unwrap();
        assert_eq!(follower.len(), 0);
        assert!(matches!(
            follower.append(manifest()),
            Err(LogError::ReadOnly { .. })
        ));
        let m = writer.append(manifest()).unwrap();
        let sealed = writer
            .append_all((0..5).map(|n| decision("triage", m.hash, n)).collect())
            .unwrap();
        assert_eq!(follower.refresh().unwrap(), 6);
        assert_eq!(follower.hashes(0, 6)[5].0, sealed[4].hash);
        assert_eq!(follower.last_manifest(), Some(m.hash));
        assert_eq!(follower.refresh().unwrap(), 0);
        // A frame being written (here: cut short) is not read yet, and the
        // follower leaves the file alone.
        let path = dir.path().join(LOG_FILE);
        let len = std::fs::metadata(&path).unwrap().len();
        writer.append(decision("triage", m.hash, 9)).unwrap();
        let full = std::fs::read(&path).unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len + 10).unwrap();
        assert_eq!(follower.refresh().unwrap(), 0);
        std::fs::write(&path, &full).unwrap();
        assert_eq!(follower.refresh().unwrap(), 1);
        drop(writer);
        let key_b = Keypair::from_seed(&[0x62; 32]);
        assert!(matches!(
            RecordLog::follow(dir.path(), key_b),
            Err(LogError::WrongKey { .. })
        ));
    }

    #[test]
    fn append_all_seals_in_order_up_to_a_refused_entry() {
        let dir = tempfile::tempdir().unwrap();
        let log = RecordLog::open(dir.path(), key()).unwrap();
        let m = log.append(manifest()).unwrap();
        let mut entries: Vec<_> = (0..3).map(|n| decision("triage", m.hash, n)).collect();
        entries.push(Entry {
            body: json!({"inputs": "not a hash"}),
            ..decision("triage", m.hash, 3)
        });
        entries.push(decision("triage", m.hash, 4));
        assert!(matches!(log.append_all(entries), Err(LogError::Record(_))));
        assert_eq!(
            log.len(),
            4,
            "the manifest and the three before the refused one"
        );
        assert_eq!(log.durable(), 4);
    }
}
