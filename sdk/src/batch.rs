//! Cutting the record log into batches: every `max_records` records, or
//! once the oldest record not yet in a batch is `max_wait_ms` old,
//! whichever comes first. A batch is a range of the log's positions; its
//! root is the RFC 9162 tree over those records' leaves (FORMATS 23.4),
//! the root its `SubmitRoot` will carry. Batch `n` is the operator's `n`-th
//! batch; the outbox ([`crate::outbox`]) submits them.
//!
//! ```text
//! batches.log = "pantheon-batches/1\n"  frame*        (frames: see crate::frames)
//! payload     = first:u64 BE  end:u64 BE  root:32  cut_ms:u64 BE      (56 bytes)
//! ```
//!
//! The batches cover the log from position 0 without gap or overlap, so
//! every record is in exactly one batch. A batch is written (fsynced)
//! before anything uses it; [`Batches::open`] recomputes every root from
//! the record log and refuses a list that disagrees with it. Roots are
//! computed from the log's in-memory index of record hashes
//! ([`RecordLog::hashes`]), never by re-reading the log.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use pantheon_runtime::hash::Hash256;
use pantheon_runtime::log;

use crate::frames;
use crate::log::{LogError, RecordLog};

const MAGIC: &[u8] = b"pantheon-batches/1\n";
/// The batch list's file name in the operator's directory.
pub const BATCH_FILE: &str = "batches.log";
const PAYLOAD_LEN: usize = 8 + 8 + 32 + 8;

/// When to cut a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Cut once this many records wait (at least 1).
    pub max_records: u64,
    /// Cut once the oldest waiting record is this old (its `time_ms`).
    pub max_wait_ms: u64,
}

impl Default for BatchPolicy {
    /// 1,000 records or 5 seconds.
    fn default() -> Self {
        Self {
            max_records: 1_000,
            max_wait_ms: 5_000,
        }
    }
}

/// One batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// Its number: the operator's `number`-th batch, from 0.
    pub number: u64,
    /// The log position of its first record.
    pub first: u64,
    /// One past the log position of its last record.
    pub end: u64,
    /// The root of its records' tree.
    pub root: Hash256,
    /// When it was cut (Unix ms).
    pub cut_ms: u64,
}

impl Batch {
    /// How many records it holds.
    #[must_use]
    pub const fn len(&self) -> u64 {
        self.end - self.first
    }

    /// Never true: a batch holds at least one record.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.end == self.first
    }
}

/// Errors of the batch list.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The record log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Reading or writing the batch list failed.
    #[error("batch list {path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The batch list is damaged or disagrees with the record log.
    #[error("batch list {path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Where the next batch ends, if one is due: pure.
///
/// `batched` is the end of the last batch, `len` the log's length,
/// `oldest_ms` the `time_ms` of the record at `batched` (the oldest
/// waiting one), `now_ms` the clock.
#[must_use]
pub fn due(
    policy: &BatchPolicy,
    batched: u64,
    len: u64,
    oldest_ms: Option<u64>,
    now_ms: u64,
) -> Option<u64> {
    let waiting = len.saturating_sub(batched);
    if waiting == 0 {
        return None;
    }
    let max = policy.max_records.max(1);
    if waiting >= max {
        return Some(batched + max);
    }
    let old = oldest_ms.is_some_and(|t| now_ms.saturating_sub(t) >= policy.max_wait_ms);
    old.then_some(len)
}

/// The root of the batch tree over records with these hashes (and
/// times, unused here).
#[must_use]
pub fn root_of(hashes: &[(Hash256, u64)]) -> Hash256 {
    let leaves: Vec<Hash256> = hashes
        .iter()
        .map(|(h, _)| log::leaf_hash(h.as_bytes()))
        .collect();
    log::root_of(&leaves)
}

/// The durable batch list. See the module docs.
#[derive(Debug)]
pub struct Batches {
    path: PathBuf,
    /// `None` when opened read-only.
    file: Option<File>,
    list: Vec<Batch>,
}

impl Batches {
    /// Opens (or creates) the batch list in `dir`, checking every batch
    /// against `log`.
    ///
    /// # Errors
    /// [`BatchError`].
    pub fn open(dir: &Path, log: &RecordLog) -> Result<Self, BatchError> {
        Self::load(dir, log, false)
    }

    /// Reads the batch list read-only (while its writer, a running
    /// submitter, may be appending), checking every batch against `log`.
    ///
    /// # Errors
    /// [`BatchError`].
    pub fn read(dir: &Path, log: &RecordLog) -> Result<Self, BatchError> {
        Self::load(dir, log, true)
    }

    fn load(dir: &Path, log: &RecordLog, read_only: bool) -> Result<Self, BatchError> {
        let records = log.hashes(0, log.durable());
        let path = dir.join(BATCH_FILE);
        let corrupt = |reason: String| BatchError::Corrupt {
            path: path.clone(),
            reason,
        };
        let (file, bytes) =
            frames::load(dir, BATCH_FILE, MAGIC, read_only).map_err(|e| match e {
                frames::LoadError::Io(reason) => BatchError::Io {
                    path: path.clone(),
                    reason,
                },
                frames::LoadError::Corrupt(reason) => corrupt(reason),
            })?;
        let (payloads, _) = frames::read(&bytes, MAGIC)
            .map_err(|(at, why)| corrupt(format!("at byte {at}: {why}")))?;
        let mut list = Vec::with_capacity(payloads.len());
        let mut end = 0u64;
        for (number, (_, p)) in (0u64..).zip(payloads) {
            if p.len() != PAYLOAD_LEN {
                return Err(corrupt(format!("batch {number} is {} bytes", p.len())));
            }
            let u64_at = |i: usize| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&p[i..i + 8]);
                u64::from_be_bytes(b)
            };
            let mut root = [0u8; 32];
            root.copy_from_slice(&p[16..48]);
            let batch = Batch {
                number,
                first: u64_at(0),
                end: u64_at(8),
                root: Hash256::from_bytes(root),
                cut_ms: u64_at(48),
            };
            if batch.first != end || batch.end <= batch.first {
                return Err(corrupt(format!(
                    "batch {number} covers {}..{}, after a batch ending at {end}",
                    batch.first, batch.end
                )));
            }
            let range = records
                .get(
                    usize::try_from(batch.first).unwrap_or(usize::MAX)
                        ..usize::try_from(batch.end).unwrap_or(usize::MAX),
                )
                .ok_or_else(|| {
                    corrupt(format!(
                        "batch {number} ends past the record log ({} records)",
                        records.len()
                    ))
                })?;
            if root_of(range) != batch.root {
                return Err(corrupt(format!(
                    "batch {number}'s root does not match its records"
                )));
            }
            end = batch.end;
            list.push(batch);
        }
        Ok(Self { path, file, list })
    }

    /// Every batch, in order.
    #[must_use]
    pub fn list(&self) -> &[Batch] {
        &self.list
    }

    /// The end of the last batch: records before it are batched.
    #[must_use]
    pub fn batched(&self) -> u64 {
        self.list.last().map_or(0, |b| b.end)
    }

    /// Cuts the next batch of `log` if [`due`] says so, writes it durably
    /// and returns it.
    ///
    /// # Errors
    /// [`BatchError`]; then no batch was added.
    pub fn cut_if_due(
        &mut self,
        log: &RecordLog,
        policy: &BatchPolicy,
        now_ms: u64,
    ) -> Result<Option<Batch>, BatchError> {
        let batched = self.batched();
        // Only the oldest waiting record and, once due, the batch itself are
        // read from the index: a large backlog is not copied every cycle.
        let oldest = log.hashes(batched, batched + 1).first().map(|(_, t)| *t);
        let len = log.durable().max(batched);
        let Some(end) = due(policy, batched, len, oldest, now_ms) else {
            return Ok(None);
        };
        let batch = Batch {
            number: self.list.len() as u64,
            first: batched,
            end,
            root: root_of(&log.hashes(batched, end)),
            cut_ms: now_ms,
        };
        let mut payload = Vec::with_capacity(PAYLOAD_LEN);
        payload.extend_from_slice(&batch.first.to_be_bytes());
        payload.extend_from_slice(&batch.end.to_be_bytes());
        payload.extend_from_slice(batch.root.as_bytes());
        payload.extend_from_slice(&batch.cut_ms.to_be_bytes());
        let mut frame = Vec::new();
        frames::put(&mut frame, &payload);
        let file = self.file.as_mut().ok_or_else(|| BatchError::Io {
            path: self.path.clone(),
            reason: "opened read-only".into(),
        })?;
        file.write_all(&frame)
            .and_then(|()| file.sync_data())
            .map_err(|e| BatchError::Io {
                path: self.path.clone(),
                reason: format!("writing batch {}: {e}", batch.number),
            })?;
        self.list.push(batch);
        Ok(Some(batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Entry;
    use pantheon_runtime::crypto::Keypair;
    use pantheon_runtime::record::{Kind, batch_root};
    use serde_json::json;

    fn event(n: u64) -> Entry {
        Entry {
            stream: "s".to_owned(),
            kind: Kind::Event,
            manifest: None,
            time_ms: 1_000 + n,
            body: json!({"n": n}),
        }
    }

    #[test]
    fn due_cuts_by_count_or_by_age() {
        let p = BatchPolicy {
            max_records: 10,
            max_wait_ms: 100,
        };
        assert_eq!(due(&p, 0, 0, None, 0), None);
        assert_eq!(due(&p, 0, 3, Some(1_000), 1_050), None, "young and few");
        assert_eq!(due(&p, 0, 3, Some(1_000), 1_100), Some(3), "old enough");
        assert_eq!(due(&p, 0, 25, Some(1_000), 1_000), Some(10), "full");
        assert_eq!(due(&p, 10, 25, Some(1_000), 1_000), Some(20));
        let zero = BatchPolicy {
            max_records: 0,
            max_wait_ms: 100,
        };
        assert_eq!(
            due(&zero, 0, 2, None, 0),
            Some(1),
            "at least one record per batch"
        );
    }

    #[test]
    fn every_record_is_in_exactly_one_batch_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let log = RecordLog::open(dir.path(), Keypair::from_seed(&[0x63; 32])).unwrap();
        let policy = BatchPolicy {
            max_records: 4,
            max_wait_ms: 50,
        };
        let mut batches = Batches::open(dir.path(), &log).unwrap();
        for n in 0..10 {
            log.append(event(n)).unwrap();
            batches.cut_if_due(&log, &policy, 1_000 + n).unwrap();
        }
        // 10 records: batches of 4, 4, and 2 waiting until they are old.
        assert_eq!(batches.batched(), 8);
        assert!(batches.cut_if_due(&log, &policy, 1_020).unwrap().is_none());
        let last = batches.cut_if_due(&log, &policy, 1_058).unwrap().unwrap();
        assert_eq!((last.number, last.first, last.end), (2, 8, 10));
        let stored = log.stored().unwrap();
        let records: Vec<_> = stored.iter().map(|s| s.record.clone()).collect();
        for b in batches.list() {
            let range =
                &records[usize::try_from(b.first).unwrap()..usize::try_from(b.end).unwrap()];
            assert_eq!(b.root, batch_root(range), "the runtime's batch root");
        }
        drop(batches);
        let reopened = Batches::open(dir.path(), &log).unwrap();
        assert_eq!(reopened.list().len(), 3);
        assert_eq!(reopened.batched(), 10);
        // A batch list that disagrees with the log is refused.
        let other = tempfile::tempdir().unwrap();
        let other_log = RecordLog::open(other.path(), Keypair::from_seed(&[0x63; 32])).unwrap();
        for n in 0..10 {
            other_log.append(event(n + 100)).unwrap();
        }
        std::fs::copy(dir.path().join(BATCH_FILE), other.path().join(BATCH_FILE)).unwrap();
        assert!(matches!(
            Batches::open(other.path(), &other_log),
            Err(BatchError::Corrupt { .. })
        ));
    }
}
