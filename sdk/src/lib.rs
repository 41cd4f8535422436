//! The operator library: an operator's application links it to seal one
//! audit record per decision, durably, signed and hash-chained, before it
//! acts (it exists so that every operator does not invent its own record
//! log, and so that a record can be followed from the operator's disk to
//! Bitcoin).
//!
//! [`RecordLog::append`] returns only when the record is on the operator's
//! disk (written and fsynced, appends from many threads sharing one fsync:
//! group commit), chained to the previous record of its stream and signed
//! with the operator's ML-DSA-65 key (`docs/FORMATS.md` section 23). The
//! caller may act only after it returns: if the record cannot be written,
//! `append` errors and the log refuses further appends until it is opened
//! again (fail closed). A crash at any moment loses nothing that `append`
//! returned; a record cut short by the crash is dropped when the log is
//! next opened.
//!
//! | module | one idea |
//! |---|---|
//! | [`log`] | the durable, group-committed record log on disk |
//! | [`batch`] | cutting the log into batches (every N records or T ms) and the durable batch list with each batch's root |
//! | [`outbox`] | each batch's signed `SubmitRoot`, durable before it is first sent |
//! | [`submit`] | the background submitter: cut, sign, send, follow to anchored, over several nodes |
//! | [`operator`] | what an application holds: the log and its submitter |
//! | [`frames`] | the framing of the operator's append-only files: torn last frames dropped, damage refused |
//!
//! Data flows one way: records into the log, the log into batches, batches
//! into the outbox, the outbox to the nodes. Each file has one writer
//! (lock files `records.lock` and `outbox.lock`), so the application (or
//! `pantheon records append`) can seal while another process
//! (`pantheon records run`) follows the log read-only and submits.
//!
//! Still to come (issue 13): completeness exports (an operator's state
//! proven at an anchored height). Record proofs are `pantheon records prove`
//! over this library's files (FORMATS 24).

pub mod batch;
pub mod frames;
pub mod log;
pub mod operator;
pub mod outbox;
pub mod submit;

pub use batch::{Batch, BatchError, BatchPolicy, Batches};
pub use log::{Entry, LogError, RecordLog, Sealed};
pub use operator::{Operator, OperatorError};
pub use outbox::{Outbox, OutboxError, Pin};
pub use submit::{Config, Report, SubmitError, Submitter};
