//! The chain: ledger, store and mempool behind the operations consensus and
//! RPC need.
//!
//! Data flows one way. RPC admits transactions into the mempool; consensus
//! asks [`Chain::propose`] for a block, asks [`Chain::validate`] about
//! blocks proposed by others, and hands each decided block with its commit
//! certificate to [`Chain::commit`], which writes it to RocksDB (one atomic
//! batch), applies it to the in-memory ledger, prunes the mempool and
//! notifies subscribers. Reads (RPC) see only committed state.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, RwLock};

use std::sync::Arc;

use rayon::prelude::*;

use pantheon_runtime::amount::Height;
use pantheon_runtime::block::{Block, BlockHeader, CommitCertificate};
use pantheon_runtime::crypto::KeyCache;
use pantheon_runtime::genesis::Genesis;
use pantheon_runtime::hash::{BlockHash, TxId};
use pantheon_runtime::ledger::{BlockError, Execution, Ledger, Mode};
use pantheon_runtime::tx::SignedTx;
use tokio::sync::broadcast;

use crate::mempool::{Mempool, MempoolLimits};
use crate::store::{Store, StoreError};

/// Errors of committing a block.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The block or certificate is invalid.
    #[error(transparent)]
    Block(#[from] BlockError),
    /// The certificate does not finalize the block.
    #[error("certificate: {0}")]
    Certificate(#[from] pantheon_runtime::block::CertificateError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What became of a relayed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relayed {
    /// Newly queued.
    pub accepted: u32,
    /// Already queued here.
    pub known: u32,
    /// Malformed or invalid here.
    pub rejected: u32,
}

/// What [`Chain::readmit`] did with the receipt log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readmitted {
    /// Back in the mempool.
    pub admitted: u64,
    /// Already finalized (removed from the log).
    pub finalized: u64,
    /// No longer admissible (removed from the log, with a warning).
    pub refused: u64,
    /// The order number the next entry gets.
    pub next_order: u64,
}

/// Proposals executed but not yet decided, by block hash.
type Pending = HashMap<BlockHash, (Block, Execution)>;

/// The node's chain state.
pub struct Chain {
    genesis: Genesis,
    store: Store,
    ledger: RwLock<Ledger>,
    mempool: Mutex<Mempool>,
    keys: KeyCache,
    pending: Mutex<Pending>,
    finalized: broadcast::Sender<Arc<(BlockHeader, CommitCertificate)>>,
    relay: OnceLock<tokio::sync::mpsc::Sender<SignedTx>>,
    counters: crate::metrics::ChainCounters,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Chain {
    /// Opens the chain over `store`, rebuilding the ledger from it.
    ///
    /// # Errors
    /// Storage errors or an inconsistent store.
    pub fn open(genesis: Genesis, store: Store, limits: MempoolLimits) -> Result<Self, ChainError> {
        let ledger = store.load_ledger(&genesis)?;
        let (finalized, _) = broadcast::channel(1024);
        Ok(Self {
            genesis,
            store,
            ledger: RwLock::new(ledger),
            mempool: Mutex::new(Mempool::new(limits)),
            keys: KeyCache::default(),
            pending: Mutex::new(HashMap::new()),
            finalized,
            relay: OnceLock::new(),
            counters: crate::metrics::ChainCounters::default(),
        })
    }

    /// The genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The key and verified-signature cache.
    pub fn keys(&self) -> &KeyCache {
        &self.keys
    }

    /// What `/metrics` counts as it happens (atomics).
    pub fn counters(&self) -> &crate::metrics::ChainCounters {
        &self.counters
    }

    /// Runs `f` with the committed ledger.
    pub fn with_ledger<T>(&self, f: impl FnOnce(&Ledger) -> T) -> T {
        let ledger = self
            .ledger
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&ledger)
    }

    /// Runs `f` with the mempool.
    pub fn with_mempool<T>(&self, f: impl FnOnce(&mut Mempool) -> T) -> T {
        f(&mut lock(&self.mempool))
    }

    /// Subscribes to finalized headers and their certificates.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<(BlockHeader, CommitCertificate)>> {
        self.finalized.subscribe()
    }

    /// The last committed height.
    pub fn height(&self) -> Height {
        self.with_ledger(Ledger::height)
    }

    /// Builds the next block as validator `proposer` at `time_ms` from the
    /// mempool, fairly across operators.
    ///
    /// # Errors
    /// [`BlockError::UnknownProposer`].
    pub fn propose(&self, proposer: u16, time_ms: u64) -> Result<Block, ChainError> {
        let ledger = self
            .ledger
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let max = usize::try_from(ledger.params().max_block_txs).unwrap_or(usize::MAX);
        let candidates = lock(&self.mempool).select(max);
        let parent_time = self.parent_time(&ledger)?;
        let carried = self.parent_certificate(&ledger)?;
        let (block, exec) = ledger.propose(
            proposer,
            time_ms.max(parent_time),
            candidates,
            carried,
            &self.keys,
        )?;
        let rejected: Vec<_> = exec.rejected.iter().map(|(id, _)| *id).collect();
        if !rejected.is_empty() {
            tracing::warn!(target: "pantheon::chain", count = rejected.len(), "proposer dropped invalid transactions");
            let dropped = lock(&self.mempool).on_commit(&[], &rejected, &ledger);
            self.forget_dropped(&dropped);
        }
        lock(&self.pending).insert(block.header.hash(), (block.clone(), exec));
        Ok(block)
    }

    /// The canonical quorum of the last block's certificate, which the next
    /// block carries (`None` at genesis).
    fn parent_certificate(&self, ledger: &Ledger) -> Result<Option<CommitCertificate>, ChainError> {
        let h = ledger.height();
        if h == Height::GENESIS {
            return Ok(None);
        }
        let cert = self.store.certificate(h)?.ok_or(StoreError::Inconsistent {
            height: h,
            what: "the last block's certificate is missing",
        })?;
        Ok(Some(cert.quorum(&self.genesis.header().validators)))
    }

    /// The header version of the last block (0 at genesis).
    fn parent_version(&self, ledger: &Ledger) -> Result<u8, ChainError> {
        let h = ledger.height();
        if h == Height::GENESIS {
            return Ok(0);
        }
        Ok(self.store.header(h)?.map_or(0, |hd| hd.version()))
    }

    fn parent_time(&self, ledger: &Ledger) -> Result<u64, ChainError> {
        let h = ledger.height();
        if h == Height::GENESIS {
            return Ok(self.genesis.header().time_ms);
        }
        Ok(self.store.header(h)?.map_or(0, |hd| hd.time_ms))
    }

    /// Checks a block proposed by another validator by executing it
    /// strictly; remembers the execution for [`Chain::commit`].
    ///
    /// # Errors
    /// [`ChainError`] naming why the block is invalid.
    pub fn validate(&self, block: &Block) -> Result<(), ChainError> {
        self.execute_checked(block, Mode::Strict)
    }

    /// Executes `block` as the next block in `mode` and checks its header;
    /// remembers the execution for [`Chain::commit`].
    fn execute_checked(&self, block: &Block, mode: Mode) -> Result<(), ChainError> {
        let hash = block.header.hash();
        if lock(&self.pending).contains_key(&hash) {
            return Ok(());
        }
        let ledger = self
            .ledger
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if block.header.height != ledger.height().next() {
            return Err(BlockError::WrongHeight {
                expected: ledger.height().next(),
                got: block.header.height,
            }
            .into());
        }
        if block.header.parent != ledger.last_block() {
            return Err(BlockError::WrongParent {
                expected: ledger.last_block(),
                got: block.header.parent,
            }
            .into());
        }
        if block.header.time_ms < self.parent_time(&ledger)? {
            return Err(BlockError::HeaderMismatch("time_ms").into());
        }
        ledger.check_carried(block, self.parent_version(&ledger)?, &self.keys)?;
        let exec = ledger.execute(block.header.proposer, block.txs.clone(), mode, &self.keys)?;
        let expected = exec.header(
            block.header.parent,
            block.header.time_ms,
            block.header.last_certificate,
        );
        if expected != block.header {
            return Err(BlockError::HeaderMismatch("header").into());
        }
        lock(&self.pending).insert(hash, (block.clone(), exec));
        Ok(())
    }

    /// Commits a decided block with its certificate: checks the certificate,
    /// writes block, state and indexes atomically, then applies them.
    ///
    /// # Errors
    /// [`ChainError`]; then nothing changed.
    pub fn commit(&self, block: &Block, cert: &CommitCertificate) -> Result<(), ChainError> {
        let genesis = self.genesis.header();
        cert.verify(
            self.genesis.hash(),
            &genesis.validators,
            &block.header,
            &self.keys,
        )?;
        let hash = block.header.hash();
        let cached = lock(&self.pending).remove(&hash);
        let exec = match cached {
            Some((_, exec)) => exec,
            None => {
                // Never validated here (e.g. synced): the verified
                // certificate stands for the signatures (`Mode::Certified`).
                self.execute_checked(block, Mode::Certified)?;
                lock(&self.pending)
                    .remove(&hash)
                    .map(|(_, e)| e)
                    .expect("validate stored the execution")
            }
        };
        let mut ledger = self
            .ledger
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let first_log_index = ledger.log().size();
        self.store
            .commit_block(block, cert, &exec, first_log_index)?;
        let rejected: Vec<_> = exec.rejected.iter().map(|(id, _)| *id).collect();
        ledger.commit(&block.header, exec)?;
        let applied = || block.txs.iter().filter(|t| !rejected.contains(&t.id()));
        self.counters.finalized(
            applied().filter(|t| t.as_submission().is_some()).count() as u64,
            applied().count() as u64,
            block.header.time_ms,
        );
        let dropped = lock(&self.mempool).on_commit(&block.txs, &rejected, &ledger);
        self.forget_dropped(&dropped);
        lock(&self.pending).retain(|_, (b, _)| b.header.height > block.header.height);
        drop(ledger);
        tracing::info!(
            target: "pantheon::chain",
            height = %block.header.height,
            hash = %hash,
            txs = block.txs.len(),
            signers = cert.signatures.len(),
            "finalized"
        );
        if self.finalized.receiver_count() > 0 {
            let _ = self.finalized.send(Arc::new((block.header, cert.clone())));
        }
        Ok(())
    }

    /// Replaces the stored certificate of the newest block with `cert` if
    /// it verifies and carries more signatures (late precommits). Older
    /// blocks keep the certificate the next block carried.
    ///
    /// # Errors
    /// An invalid certificate or a storage error.
    pub fn improve_certificate(&self, cert: &CommitCertificate) -> Result<bool, ChainError> {
        if cert.height != self.height() {
            return Ok(false);
        }
        let Some(current) = self.store.certificate(cert.height)? else {
            return Ok(false);
        };
        if cert.signatures.len() <= current.signatures.len() {
            return Ok(false);
        }
        let Some(header) = self.store.header(cert.height)? else {
            return Ok(false);
        };
        cert.verify(
            self.genesis.hash(),
            &self.genesis.header().validators,
            &header,
            &self.keys,
        )?;
        self.store.put_certificate(cert)?;
        Ok(true)
    }

    /// Sends every transaction newly admitted from a client to `relay`
    /// (see [`crate::relay`]). Set once, at start-up.
    pub fn set_relay(&self, relay: tokio::sync::mpsc::Sender<SignedTx>) {
        let _ = self.relay.set(relay);
    }

    /// Takes what the mempool dropped as stale or invalid (its sequence
    /// number or nonce used by another transaction, its chain broken) out
    /// of the receipt log too: it can never be finalized, so the node no
    /// longer reports it `received` (a client that signed two submissions
    /// for one sequence number learns which one the chain holds). A failed
    /// delete is only logged: re-admission at the next start drops the
    /// entry anyway.
    fn forget_dropped(&self, dropped: &[TxId]) {
        if dropped.is_empty() {
            return;
        }
        if let Err(e) = self.store.forget_received(dropped) {
            tracing::warn!(target: "pantheon::receipts", "forgetting dropped transactions: {e}");
        }
    }

    /// Admits a transaction from a client into the mempool after checking
    /// its signature, and hands it to the relay if it is new.
    ///
    /// # Errors
    /// [`crate::mempool::MempoolError`].
    pub fn admit(
        &self,
        tx: SignedTx,
    ) -> Result<crate::mempool::Admitted, crate::mempool::MempoolError> {
        self.admit_as(tx, false)
    }

    /// Admits a client's transaction held back from blocks and from the
    /// relay until [`Self::release`]: the receipt log has not made it
    /// durable yet, and a block (kept and re-proposed across a restart)
    /// or another node must never carry what this node could still lose.
    ///
    /// # Errors
    /// As [`Self::admit`].
    pub fn admit_held(
        &self,
        tx: SignedTx,
    ) -> Result<crate::mempool::Admitted, crate::mempool::MempoolError> {
        self.admit_as(tx, true)
    }

    fn admit_as(
        &self,
        tx: SignedTx,
        held: bool,
    ) -> Result<crate::mempool::Admitted, crate::mempool::MempoolError> {
        let ledger = self
            .ledger
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let checked = ledger.check_signature(&tx, &self.keys);
        self.counters.signature(checked.is_ok());
        checked?;
        if held {
            return lock(&self.mempool).admit_held(tx, &ledger);
        }
        let copy = self.relay.get().map(|_| tx.clone());
        let admitted = lock(&self.mempool).admit(tx, &ledger)?;
        if let (crate::mempool::Admitted::New(_), Some(relay), Some(tx)) =
            (&admitted, self.relay.get(), copy)
            && relay.try_send(tx).is_err()
        {
            tracing::debug!(target: "pantheon::relay", "relay queue full: the transaction stays local");
        }
        Ok(admitted)
    }

    /// Releases transactions admitted with [`Self::admit_held`] once they
    /// are durable: into blocks, and to the relay.
    pub fn release(&self, txs: &[SignedTx]) {
        let ids: Vec<TxId> = txs.iter().map(SignedTx::id).collect();
        lock(&self.mempool).release(&ids);
        if let Some(relay) = self.relay.get() {
            for tx in txs {
                if relay.try_send(tx.clone()).is_err() {
                    tracing::debug!(target: "pantheon::relay", "relay queue full: the transaction stays local");
                    break;
                }
            }
        }
    }

    /// Puts the receipt log's transactions back into the mempool at
    /// start-up, in the order they were written (so each operator's
    /// chain comes back in sequence), and hands them to the relay again
    /// (call after [`Self::set_relay`]). Entries the ledger already holds
    /// (finalized while their write raced the block's) or now refuses are
    /// removed from the log; a refusal is logged, with its reason.
    ///
    /// # Errors
    /// Storage errors.
    pub fn readmit(&self) -> Result<Readmitted, ChainError> {
        let entries = self.store.received()?;
        let mut report = Readmitted {
            next_order: entries.last().map_or(0, |e| e.order + 1),
            ..Readmitted::default()
        };
        let mut forget = Vec::new();
        for entry in entries {
            let id = entry.tx.id();
            let finalized = match entry.tx.as_submission() {
                Some(_) => self.store.location(&entry.tx.submission_id())?.is_some(),
                None => false,
            };
            if finalized {
                report.finalized += 1;
                forget.push(id);
                continue;
            }
            match self.admit(entry.tx) {
                Ok(_) => report.admitted += 1,
                Err(e) => {
                    tracing::warn!(
                        target: "pantheon::receipts",
                        tx = %id,
                        "a received transaction is no longer admissible and leaves the log: {e}"
                    );
                    report.refused += 1;
                    forget.push(id);
                }
            }
        }
        if !forget.is_empty() {
            self.store.forget_received(&forget)?;
        }
        Ok(report)
    }

    /// Admits transactions relayed by another node: signatures checked in
    /// parallel, then admitted in order; never relayed again (every node
    /// relays only what its own clients sent, to all its relay peers).
    pub fn admit_relayed(&self, txs: Vec<SignedTx>, malformed: u32) -> Relayed {
        let ledger = self
            .ledger
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let checked: Vec<bool> = txs
            .par_iter()
            .map(|tx| ledger.check_signature(tx, &self.keys).is_ok())
            .collect();
        for ok in &checked {
            self.counters.signature(*ok);
        }
        let mut report = Relayed {
            accepted: 0,
            known: 0,
            rejected: malformed,
        };
        let mut mempool = lock(&self.mempool);
        for (tx, ok) in txs.into_iter().zip(checked) {
            match (ok, ok.then(|| mempool.admit(tx, &ledger))) {
                (true, Some(Ok(crate::mempool::Admitted::New(_)))) => report.accepted += 1,
                (true, Some(Ok(crate::mempool::Admitted::Duplicate(_)))) => report.known += 1,
                _ => report.rejected += 1,
            }
        }
        report
    }
}
