//! The outbox: the signed `SubmitRoot` of every batch, durable before it
//! is first sent, so that a retry after any crash sends the very same
//! bytes.
//!
//! A submission's id is the hash of its signed bytes (FORMATS 5.7) and the
//! next submission's `prev` names it; ML-DSA signing may be hedged, so
//! signing a batch again would make another id and break the chain. The
//! outbox therefore signs each batch once, writes the transaction (fsync)
//! and only then lets it be sent; every later attempt, after a crash, a
//! node restart or a switch to another node, resends those bytes, which
//! the node answers idempotently (the same receipt, or `finalized`).
//!
//! ```text
//! outbox.log = "pantheon-outbox/1\n"  frame*        (frames: see crate::frames)
//! payload    = 0x01 genesis:32 seq:u64 BE prev:32   pin: the network, and where the
//!                                                   operator's chain stood (once, first)
//!            | 0x02 batch:u64 BE  SignedTx (5.4)    the submission of batch `batch`
//!            | 0x03 batch:u64 BE                    every batch below `batch` is anchored
//!                                                   and its proof bundle saved
//! ```
//!
//! Batch `n` is submitted with sequence number `seq + n` and, as `prev`,
//! the pin's `prev` for `n = 0` or the id of batch `n - 1`'s submission;
//! its root is the batch's root and its record count the batch's length.
//! [`Outbox::open`] checks all of that against the batch list and refuses
//! a file that disagrees.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use pantheon_runtime::codec::{Encode, decode_exact};
use pantheon_runtime::crypto::Keypair;
use pantheon_runtime::hash::{AuditRoot, GenesisHash, Hash256, SubmissionId};
use pantheon_runtime::tx::{Metadata, SignedTx, SubmitRoot, TxBody};

use crate::batch::Batch;
use crate::frames;

const MAGIC: &[u8] = b"pantheon-outbox/1\n";
/// The outbox's file name in the operator's directory.
pub const OUTBOX_FILE: &str = "outbox.log";

const PIN: u8 = 0x01;
const SUBMISSION: u8 = 0x02;
const SETTLED: u8 = 0x03;

/// Where the operator's chain stood when this outbox started: its first
/// submission continues from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// The network's genesis hash: every node used must serve it.
    pub genesis: GenesisHash,
    /// The sequence number of batch 0's submission.
    pub seq: u64,
    /// Batch 0's `prev`.
    pub prev: SubmissionId,
}

/// Errors of the outbox.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// Reading or writing the outbox failed.
    #[error("outbox {path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The outbox is damaged or disagrees with the batch list.
    #[error("outbox {path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A misuse: signing out of order, pinning twice, signing unpinned.
    #[error("outbox: {0}")]
    Order(String),
}

/// The durable outbox. See the module docs.
#[derive(Debug)]
pub struct Outbox {
    path: PathBuf,
    /// `None` when opened read-only.
    file: Option<File>,
    pin: Option<Pin>,
    signed: Vec<SignedTx>,
    settled: u64,
}

impl Outbox {
    /// Opens (or creates) the outbox in `dir`, checking every submission
    /// against `batches` and `operator`'s key.
    ///
    /// # Errors
    /// [`OutboxError::Io`], [`OutboxError::Corrupt`].
    pub fn open(dir: &Path, key: &Keypair, batches: &[Batch]) -> Result<Self, OutboxError> {
        Self::load(dir, key, batches, false)
    }

    /// Reads the outbox read-only (while a submitter may be appending).
    ///
    /// # Errors
    /// As [`Outbox::open`].
    pub fn read(dir: &Path, key: &Keypair, batches: &[Batch]) -> Result<Self, OutboxError> {
        Self::load(dir, key, batches, true)
    }

    fn load(
        dir: &Path,
        key: &Keypair,
        batches: &[Batch],
        read_only: bool,
    ) -> Result<Self, OutboxError> {
        let path = dir.join(OUTBOX_FILE);
        let corrupt = |reason: String| OutboxError::Corrupt {
            path: path.clone(),
            reason,
        };
        let (file, bytes) =
            frames::load(dir, OUTBOX_FILE, MAGIC, read_only).map_err(|e| match e {
                frames::LoadError::Io(reason) => OutboxError::Io {
                    path: path.clone(),
                    reason,
                },
                frames::LoadError::Corrupt(reason) => corrupt(reason),
            })?;
        let (payloads, _) = frames::read(&bytes, MAGIC)
            .map_err(|(at, why)| corrupt(format!("at byte {at}: {why}")))?;
        let mut out = Self {
            path: path.clone(),
            file,
            pin: None,
            signed: Vec::new(),
            settled: 0,
        };
        for (at, p) in payloads {
            let bad = |why: &str| corrupt(format!("frame at byte {at}: {why}"));
            let (&tag, rest) = p.split_first().ok_or_else(|| bad("empty"))?;
            match tag {
                PIN => {
                    if out.pin.is_some() || rest.len() != 72 {
                        return Err(bad("a second pin, or a pin of the wrong length"));
                    }
                    out.pin = Some(Pin {
                        genesis: GenesisHash::new(hash_at(rest, 0)),
                        seq: u64_at(rest, 32),
                        prev: SubmissionId::new(hash_at(rest, 40)),
                    });
                }
                SUBMISSION => {
                    let number = rest.get(..8).map(|_| u64_at(rest, 0));
                    if number != Some(out.signed.len() as u64) {
                        return Err(bad("submission out of order"));
                    }
                    let tx: SignedTx =
                        decode_exact(&rest[8..]).map_err(|e| bad(&format!("transaction: {e}")))?;
                    let index = out.signed.len();
                    let batch = batches
                        .get(index)
                        .ok_or_else(|| bad("a submission for a batch the batch list lacks"))?;
                    let expected = out.body_for(key, batch).map_err(|e| bad(&e.to_string()))?;
                    if *tx.body() != expected {
                        return Err(bad(&format!(
                            "batch {index}'s submission does not match the batch or the chain"
                        )));
                    }
                    out.signed.push(tx);
                }
                SETTLED => {
                    let upto = rest.get(..8).map(|_| u64_at(rest, 0));
                    match upto {
                        Some(n) if rest.len() == 8 && n >= out.settled && n <= out.len() => {
                            out.settled = n;
                        }
                        _ => return Err(bad("a settled mark out of range")),
                    }
                }
                other => return Err(bad(&format!("unknown tag {other}"))),
            }
        }
        Ok(out)
    }

    /// The pin, once the outbox has talked to a node.
    #[must_use]
    pub const fn pin(&self) -> Option<&Pin> {
        self.pin.as_ref()
    }

    /// The submissions signed so far, batch `n` at index `n`.
    #[must_use]
    pub fn signed(&self) -> &[SignedTx] {
        &self.signed
    }

    /// How many batches have a signed submission.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.signed.len() as u64
    }

    /// True before the first batch is signed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.signed.is_empty()
    }

    /// Every batch below this one is anchored with its bundle saved.
    #[must_use]
    pub const fn settled(&self) -> u64 {
        self.settled
    }

    /// Records the pin, durably.
    ///
    /// # Errors
    /// [`OutboxError::Order`] if pinned already; [`OutboxError::Io`].
    pub fn set_pin(&mut self, pin: Pin) -> Result<(), OutboxError> {
        if self.pin.is_some() {
            return Err(OutboxError::Order("the outbox is pinned already".into()));
        }
        let mut p = vec![PIN];
        p.extend_from_slice(pin.genesis.hash().as_bytes());
        p.extend_from_slice(&pin.seq.to_be_bytes());
        p.extend_from_slice(pin.prev.hash().as_bytes());
        self.write(&p, "the pin")?;
        self.pin = Some(pin);
        Ok(())
    }

    /// Signs the submission of `batch` (the next unsigned one) and writes
    /// it, durably, before returning it: only then may it be sent.
    ///
    /// # Errors
    /// [`OutboxError::Order`] unpinned or out of order; [`OutboxError::Io`]
    /// (then nothing was signed as far as this outbox is concerned: open
    /// it again before going on).
    pub fn sign(&mut self, key: &Keypair, batch: &Batch) -> Result<&SignedTx, OutboxError> {
        if batch.number != self.len() {
            return Err(OutboxError::Order(format!(
                "batch {} signed while batch {} is next",
                batch.number,
                self.len()
            )));
        }
        let body = self.body_for(key, batch)?;
        let genesis = self
            .pin
            .map(|p| p.genesis)
            .ok_or_else(|| OutboxError::Order("signing before the pin".into()))?;
        let tx = body.sign(&genesis, key);
        let mut p = vec![SUBMISSION];
        p.extend_from_slice(&batch.number.to_be_bytes());
        tx.encode(&mut p);
        self.write(&p, &format!("batch {}'s submission", batch.number))?;
        self.signed.push(tx);
        Ok(self.signed.last().expect("just pushed"))
    }

    /// Marks every batch below `upto` settled (anchored, bundle saved).
    ///
    /// # Errors
    /// [`OutboxError::Order`] for a mark that goes back or past the signed
    /// batches; [`OutboxError::Io`].
    pub fn settle(&mut self, upto: u64) -> Result<(), OutboxError> {
        if upto < self.settled || upto > self.len() {
            return Err(OutboxError::Order(format!(
                "settling up to {upto} with {} settled of {}",
                self.settled,
                self.len()
            )));
        }
        if upto == self.settled {
            return Ok(());
        }
        let mut p = vec![SETTLED];
        p.extend_from_slice(&upto.to_be_bytes());
        self.write(&p, "the settled mark")?;
        self.settled = upto;
        Ok(())
    }

    /// What batch `batch`'s submission must say.
    fn body_for(&self, key: &Keypair, batch: &Batch) -> Result<TxBody, OutboxError> {
        let pin = self
            .pin
            .ok_or_else(|| OutboxError::Order("a submission before the pin".into()))?;
        let prev = match batch.number.checked_sub(1) {
            None => pin.prev,
            Some(i) => self
                .signed
                .get(usize::try_from(i).unwrap_or(usize::MAX))
                .map(SignedTx::submission_id)
                .ok_or_else(|| OutboxError::Order(format!("batch {i} is not signed")))?,
        };
        let metadata = Metadata::new("", Some(batch.len()))
            .map_err(|e| OutboxError::Order(format!("metadata: {e}")))?;
        Ok(TxBody::SubmitRoot(SubmitRoot {
            operator: key.id(),
            seq: pin.seq + batch.number,
            prev,
            root: AuditRoot::new(batch.root),
            metadata,
        }))
    }

    fn write(&mut self, payload: &[u8], what: &str) -> Result<(), OutboxError> {
        let mut frame = Vec::with_capacity(payload.len() + frames::OVERHEAD);
        frames::put(&mut frame, payload);
        let file = self.file.as_mut().ok_or_else(|| OutboxError::Io {
            path: self.path.clone(),
            reason: "opened read-only".into(),
        })?;
        file.write_all(&frame)
            .and_then(|()| file.sync_data())
            .map_err(|e| OutboxError::Io {
                path: self.path.clone(),
                reason: format!("writing {what}: {e}"),
            })
    }
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_be_bytes(a)
}

fn hash_at(b: &[u8], i: usize) -> Hash256 {
    let mut a = [0u8; 32];
    a.copy_from_slice(&b[i..i + 32]);
    Hash256::from_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batches(n: u64) -> Vec<Batch> {
        (0..n)
            .map(|i| Batch {
                number: i,
                first: i * 3,
                end: i * 3 + 3,
                root: Hash256::digest(&i.to_be_bytes()),
                cut_ms: 1_000 + i,
            })
            .collect()
    }

    fn pin() -> Pin {
        Pin {
            genesis: GenesisHash::new(Hash256::digest(b"genesis")),
            seq: 7,
            prev: SubmissionId::new(Hash256::digest(b"earlier")),
        }
    }

    #[test]
    fn submissions_chain_from_the_pin_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let key = Keypair::from_seed(&[0x51; 32]);
        let list = batches(3);
        let mut out = Outbox::open(dir.path(), &key, &list).unwrap();
        assert!(matches!(
            out.sign(&key, &list[0]),
            Err(OutboxError::Order(_))
        ));
        out.set_pin(pin()).unwrap();
        assert!(matches!(out.set_pin(pin()), Err(OutboxError::Order(_))));
        assert!(matches!(
            out.sign(&key, &list[1]),
            Err(OutboxError::Order(_))
        ));
        for b in &list {
            out.sign(&key, b).unwrap();
        }
        out.settle(1).unwrap();
        assert!(matches!(out.settle(0), Err(OutboxError::Order(_))));
        let s: Vec<_> = out
            .signed()
            .iter()
            .map(|tx| tx.as_submission().unwrap().clone())
            .collect();
        assert_eq!((s[0].seq, s[0].prev), (7, pin().prev));
        assert_eq!((s[2].seq, s[2].prev), (9, out.signed()[1].submission_id()));
        assert_eq!(s[1].metadata.record_count(), Some(3));
        let ids: Vec<_> = out.signed().iter().map(SignedTx::submission_id).collect();
        drop(out);
        let again = Outbox::open(dir.path(), &key, &list).unwrap();
        assert_eq!(again.pin(), Some(&pin()));
        assert_eq!(again.settled(), 1);
        let same: Vec<_> = again.signed().iter().map(SignedTx::submission_id).collect();
        assert_eq!(same, ids, "the very bytes signed, not a new signature");
    }

    #[test]
    fn an_outbox_that_disagrees_with_the_batches_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = Keypair::from_seed(&[0x52; 32]);
        let list = batches(2);
        let mut out = Outbox::open(dir.path(), &key, &list).unwrap();
        out.set_pin(pin()).unwrap();
        out.sign(&key, &list[0]).unwrap();
        out.sign(&key, &list[1]).unwrap();
        drop(out);
        let mut other = batches(2);
        other[1].root = Hash256::digest(b"another root");
        assert!(matches!(
            Outbox::open(dir.path(), &key, &other),
            Err(OutboxError::Corrupt { .. })
        ));
        assert!(matches!(
            Outbox::open(dir.path(), &key, &list[..1]),
            Err(OutboxError::Corrupt { .. })
        ));
        let stranger = Keypair::from_seed(&[0x53; 32]);
        assert!(matches!(
            Outbox::open(dir.path(), &stranger, &list),
            Err(OutboxError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_torn_last_frame_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let key = Keypair::from_seed(&[0x54; 32]);
        let list = batches(2);
        let mut out = Outbox::open(dir.path(), &key, &list).unwrap();
        out.set_pin(pin()).unwrap();
        out.sign(&key, &list[0]).unwrap();
        out.sign(&key, &list[1]).unwrap();
        drop(out);
        let path = dir.path().join(OUTBOX_FILE);
        let len = std::fs::metadata(&path).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len - 100).unwrap();
        let again = Outbox::open(dir.path(), &key, &list).unwrap();
        assert_eq!(again.len(), 1, "the torn submission was never sent");
    }
}
