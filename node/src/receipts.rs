//! The receipt log's writer: a node answers `received` only once the
//! transaction is on its disk, and a validator signs that answer.
//!
//! Every client transaction the mempool admits goes through one writer
//! thread ([`Intake`]). The thread takes whatever has queued up while its
//! last write was in flight (a group, at most [`MAX_GROUP`]), signs the
//! group's receipts with one ML-DSA-65 signature
//! ([`pantheon_runtime::receipt::sign_group_hedged`], AWS-LC), writes the transactions and
//! their receipts to the `received` column family in one synced batch
//! ([`Store::put_received`]), and only then answers each caller. Under load
//! a group holds every submission that arrived during one fsync, so the
//! cost of the sync and of the signature is shared: group commit.
//!
//! What the answer promises: the transaction survives kill -9 and
//! restart. At start-up [`crate::chain::Chain::readmit`] puts every logged
//! transaction back into the mempool (and the relay) in the order it was
//! written; [`Store::commit_block`] deletes entries in the batch of the
//! block that finalizes them. Finality stays exactly once because the
//! ledger refuses a second copy of any transaction (sequence chain,
//! nonces).
//!
//! Until its write is done, an admitted transaction is held
//! ([`crate::chain::Chain::admit_held`]): no block takes it (nor anything
//! its signer queued after it) and the relay does not send it; the writer
//! releases the group once it is durable. So no proposal, which consensus
//! keeps and re-proposes across a restart, and no other node ever carries
//! a transaction this node could still lose. An entry the chain makes
//! unfinalizable (its sequence number taken by another submission) leaves
//! the log when the mempool drops it.
//!
//! A write that fails is answered as an error, and from then on so is
//! every submission until the node restarts; the failed group leaves the
//! mempool, so that no block of this node carries a transaction it was
//! never able to write (see `evict`).
//!
//! A validator's receipt names itself, the time, and a deadline: the
//! height by which it promises the submission is finalized (the height at
//! writing plus `[receipts] deadline_blocks`). A full node (no validator
//! key) makes the same durable promise but signs nothing: its answers carry
//! `receipt: null`, since only a validator's promise is evidence against a
//! member of the network; transfers and registrations get no receipt either
//! (the receipt names an operator's sequence number).
//!
//! For tests of the evidence path only, the environment variable
//! `PANTHEON_FAULT_DROP_RECEIVED=1` makes a validator sign receipts and
//! then drop the submissions (neither written nor admitted): the broken
//! promise that `pantheon receipt evidence` proves. The node logs a warning
//! at start-up when it is set.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use pantheon_runtime::amount::Height;
use pantheon_runtime::crypto::Keypair;
use pantheon_runtime::hash::TxId;
use pantheon_runtime::receipt::{ReceiptLeaf, SignedReceipt, sign_group_hedged};
use pantheon_runtime::tx::SignedTx;

use crate::chain::Chain;
use crate::now_ms;
use crate::store::{ReceivedEntry, Store};

/// Most transactions in one group (one synced write, one signature).
pub const MAX_GROUP: usize = 4096;

/// The environment variable of the evidence tests' fault (module docs).
pub const FAULT_DROP: &str = "PANTHEON_FAULT_DROP_RECEIVED";

/// What the writer answers: the signed receipt (`None` on a full node or
/// for a transaction that is not a submission), or why nothing is durable.
pub type Answer = Result<Option<SignedReceipt>, String>;

struct Job {
    tx: SignedTx,
    reply: mpsc::SyncSender<Answer>,
}

/// The handle of the writer thread.
pub struct Intake {
    jobs: mpsc::Sender<Job>,
    drop_fault: bool,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("drop_fault", &self.drop_fault)
            .finish_non_exhaustive()
    }
}

/// The writer's settings.
pub struct IntakeConfig {
    /// The validator key that signs receipts (`None`: a full node).
    pub keypair: Option<Arc<Keypair>>,
    /// Blocks from writing to the promised deadline.
    pub deadline_blocks: u64,
    /// The first order number to write (one past the log's last).
    pub next_order: u64,
}

impl Intake {
    /// Starts the writer thread over `chain`'s store.
    ///
    /// # Errors
    /// The thread cannot be spawned.
    pub fn spawn(chain: Arc<Chain>, config: IntakeConfig) -> std::io::Result<Self> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let drop_fault = std::env::var_os(FAULT_DROP).is_some_and(|v| v == "1");
        if drop_fault {
            tracing::warn!(
                target: "pantheon::receipts",
                "{FAULT_DROP}=1: receipts are signed and the submissions DROPPED (tests only)"
            );
        }
        let order = AtomicU64::new(config.next_order);
        std::thread::Builder::new()
            .name("receipt-log".into())
            .spawn(move || writer(&chain, &config, &order, &rx, drop_fault))?;
        Ok(Self { jobs, drop_fault })
    }

    /// Whether the evidence tests' fault is on (module docs).
    #[must_use]
    pub fn drops(&self) -> bool {
        self.drop_fault
    }

    /// Makes `tx` durable (and signs its receipt): blocks until the group
    /// holding it is on disk.
    ///
    /// # Errors
    /// The write failed (nothing of the group is durable) or the writer
    /// stopped.
    pub fn persist(&self, tx: SignedTx) -> Answer {
        let (reply, answer) = mpsc::sync_channel(1);
        self.jobs
            .send(Job { tx, reply })
            .map_err(|_| "the receipt log writer stopped".to_string())?;
        answer
            .recv()
            .map_err(|_| "the receipt log writer stopped".to_string())?
    }
}

fn writer(
    chain: &Chain,
    config: &IntakeConfig,
    order: &AtomicU64,
    rx: &mpsc::Receiver<Job>,
    drop_fault: bool,
) {
    // Once a write failed, the mempool may hold transactions that are not
    // durable, and a later submission could chain on one: the log makes no
    // further promise until a restart (RocksDB itself refuses writes after
    // a failed WAL write; this does not rely on it).
    let mut failed: Option<String> = None;
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let answers = match &failed {
            Some(e) => group
                .iter()
                .map(|_| {
                    Err(format!(
                        "the submission could not be made durable: the receipt log failed earlier ({e}); restart the node"
                    ))
                })
                .collect(),
            None => write_group(chain.store(), chain, config, order, &group, drop_fault),
        };
        match answers.first() {
            Some(Err(e)) if !drop_fault => {
                failed.get_or_insert_with(|| e.clone());
                evict(chain, &group);
            }
            // Durable now: into blocks and to the relay.
            Some(Ok(_)) if !drop_fault => {
                let txs: Vec<SignedTx> = group.iter().map(|job| job.tx.clone()).collect();
                chain.release(&txs);
            }
            _ => {}
        }
        for (job, answer) in group.into_iter().zip(answers) {
            let _ = job.reply.send(answer);
        }
    }
}

/// Takes a group that could not be made durable out of the mempool (with
/// what its signers queued after it), so that no block this node proposes
/// carries a transaction it never wrote: a proposal is kept across
/// restarts (consensus re-proposes it) while the mempool is not, and a
/// client told of the failure may sign another transaction for the same
/// sequence number, which a later `received` would then promise in vain
/// (found by `node/tests/storage_faults.rs`). Whatever the log did promise
/// comes back from it at the restart.
fn evict(chain: &Chain, group: &[Job]) {
    let ids: Vec<TxId> = group.iter().map(|job| job.tx.id()).collect();
    chain.with_ledger(|ledger| chain.with_mempool(|pool| pool.on_commit(&[], &ids, ledger)));
    tracing::warn!(
        target: "pantheon::receipts",
        count = ids.len(),
        "transactions that could not be made durable left the mempool; the receipt log refuses writes until a restart"
    );
}

/// Signs and writes one group; one answer per job, in order.
fn write_group(
    store: &Store,
    chain: &Chain,
    config: &IntakeConfig,
    order: &AtomicU64,
    group: &[Job],
    drop_fault: bool,
) -> Vec<Answer> {
    let leaves: Vec<(usize, ReceiptLeaf)> = group
        .iter()
        .enumerate()
        .filter_map(|(i, job)| {
            job.tx.as_submission().map(|s| {
                (
                    i,
                    ReceiptLeaf {
                        submission: job.tx.submission_id(),
                        operator: s.operator,
                        seq: s.seq,
                    },
                )
            })
        })
        .collect();
    let mut receipts: Vec<Option<SignedReceipt>> = vec![None; group.len()];
    if let Some(key) = &config.keypair {
        let deadline = Height::new(chain.height().get().saturating_add(config.deadline_blocks));
        let only: Vec<ReceiptLeaf> = leaves.iter().map(|(_, l)| *l).collect();
        let signed = sign_group_hedged(key, chain.genesis().hash(), now_ms(), deadline, &only);
        for ((i, _), r) in leaves.iter().zip(signed) {
            receipts[*i] = Some(r);
        }
    }
    if drop_fault {
        return receipts.into_iter().map(Ok).collect();
    }
    let first = order.fetch_add(group.len() as u64, Ordering::Relaxed);
    let entries: Vec<ReceivedEntry> = group
        .iter()
        .zip(&receipts)
        .zip(first..)
        .map(|((job, receipt), order)| ReceivedEntry {
            order,
            tx: job.tx.clone(),
            receipt: receipt
                .as_ref()
                .and_then(|r| serde_json::to_vec(r).ok())
                .unwrap_or_default(),
        })
        .collect();
    match store.put_received(&entries) {
        Ok(()) => receipts.into_iter().map(Ok).collect(),
        Err(e) => {
            tracing::error!(target: "pantheon::receipts", "receipt log write failed: {e}");
            group
                .iter()
                .map(|_| Err(format!("the submission could not be made durable: {e}")))
                .collect()
        }
    }
}

/// The receipt stored for `tx`, if the log holds one.
///
/// # Errors
/// Database errors.
pub fn stored(store: &Store, tx: &SignedTx) -> Result<Option<ReceivedEntry>, String> {
    store.received_entry(&tx.id()).map_err(|e| e.to_string())
}
