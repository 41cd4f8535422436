//! The operator: what an application links and calls. One record log
//! (this process its only writer) and, given endpoints, the submitter that
//! takes its records to the chain in the background.

use std::path::Path;
use std::sync::Arc;

use pantheon_runtime::crypto::Keypair;

use crate::log::{Entry, LogError, RecordLog, Sealed};
use crate::submit::{Config, Report, SubmitError, Submitter};

/// Errors opening an [`Operator`].
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The record log.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The submitter.
    #[error(transparent)]
    Submit(#[from] SubmitError),
}

/// An operator's record log with its submitter.
#[derive(Debug)]
pub struct Operator {
    log: Arc<RecordLog>,
    submitter: Option<Submitter>,
}

impl Operator {
    /// Opens the log in `dir` as its writer and, if `config` names
    /// endpoints, starts the submitter.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub fn open(dir: &Path, key: Keypair, config: Config) -> Result<Self, OperatorError> {
        let log = Arc::new(RecordLog::open(dir, key)?);
        let submitter = if config.endpoints.is_empty() {
            None
        } else {
            Some(Submitter::start(dir, Arc::clone(&log), config)?)
        };
        Ok(Self { log, submitter })
    }

    /// Seals `entry`; returns once it is durable: act only after this.
    /// Never waits for the network.
    ///
    /// # Errors
    /// See [`RecordLog::append`].
    pub fn append(&self, entry: Entry) -> Result<Sealed, LogError> {
        self.log.append(entry)
    }

    /// The record log.
    #[must_use]
    pub const fn log(&self) -> &Arc<RecordLog> {
        &self.log
    }

    /// The submitter's latest report (`None` without endpoints).
    #[must_use]
    pub fn report(&self) -> Option<Report> {
        self.submitter.as_ref().map(Submitter::report)
    }

    /// Stops the submitter (after its current cycle). Appended records are
    /// durable already; the next [`Operator::open`] goes on submitting.
    pub fn close(self) {
        if let Some(s) = self.submitter {
            s.stop();
        }
    }
}
