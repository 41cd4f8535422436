//! The mempool: bounded, checked on entry, fair between tenants.
//!
//! A pure state machine (no I/O, no clock): the node calls
//! [`Mempool::admit`] after the signature has been checked
//! ([`Ledger::check_signature`], outside any lock), [`Mempool::select`] to
//! fill a proposal, and [`Mempool::on_commit`] after each finalized block.
//!
//! Transactions wait in one queue per (signer, lane): an operator's
//! submissions are one lane, ordered by sequence number; its transfers and
//! registration another, ordered by nonce. Entry checks run against the
//! committed ledger *plus the signer's queue*: the next submission must
//! carry the next sequence number and the id of the queued (or last
//! finalized) submission as `prev`, and the account must afford every
//! queued fee. [`Mempool::select`] takes one transaction from each queue in
//! turn (round robin, starting after the queue served first last time), so
//! an operator that floods the pool only lengthens its own queue: any other
//! operator's submission goes into the next block as long as fewer queues
//! are waiting than a block has room for.
//!
//! No set of other keys can shut an operator out: the pool's `capacity`
//! is shared, and beyond it every queue still takes its first `reserved`
//! transactions (default 16). An operator whose queue is short therefore
//! always gets its next submission in, however many keys fill the shared
//! part. What the reserve costs in memory is bounded by money, not by the
//! pool: each queue belongs to a funded signer (a registered operator, or
//! an account that pays its transfers' fees), and every queued transaction
//! must be covered by the signer's balance, so `reserved` × the number of
//! funded signers is the most the reserve can hold.
//!
//! The same submission sent twice is idempotent: the second call gets the
//! first receipt and pays nothing. "The same" means the same signed content
//! (every field of the SubmitRoot, whatever the signature bytes, which
//! differ between two signings when a client signs with hedged ML-DSA, as
//! FIPS 204 recommends); any other
//! submission under a used sequence number is refused as a
//! [`MempoolError::Conflict`] naming the submission that holds it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use pantheon_runtime::amount::Amount;
use pantheon_runtime::crypto::{AccountId, OperatorId};
use pantheon_runtime::hash::{SubmissionId, TxId};
use pantheon_runtime::ledger::{Ledger, TxError};
use pantheon_runtime::tx::{SignedTx, TxBody};

/// Which ordering a queue follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Lane {
    /// Root submissions, by sequence number.
    Submissions,
    /// Transfers and registrations, by account nonce.
    Account,
    /// A validator's anchor records (no nonce, no fee).
    Anchor,
}

type QueueKey = (AccountId, Lane);

/// Why a transaction was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// The transaction is invalid against the ledger and the queue.
    #[error(transparent)]
    Invalid(#[from] TxError),
    /// The pool holds its maximum.
    #[error("mempool full ({0} transactions); retry after the next block")]
    Full(usize),
    /// The signer's queue holds its maximum.
    #[error("queue of {0} full ({1} transactions); retry after the next block")]
    QueueFull(AccountId, usize),
    /// The operator's sequence number is taken by another submission: one
    /// that differs in a signed field (root, prev, label, record count).
    #[error(
        "operator {operator}: sequence {seq} is already taken by submission {recorded}, \
         whose signed content differs from this one"
    )]
    Conflict {
        /// The operator.
        operator: OperatorId,
        /// The sequence number.
        seq: u64,
        /// The submission queued or finalized under it.
        recorded: SubmissionId,
    },
}

/// The outcome of a successful [`Mempool::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// Newly queued.
    New(TxId),
    /// The same submission is already queued under this id.
    Duplicate(TxId),
}

/// The signers [`Mempool::busiest_signers`] does not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rest {
    /// How many.
    pub signers: usize,
    /// Their queued transactions.
    pub queued: usize,
}

/// Capacity limits.
#[derive(Debug, Clone, Copy)]
pub struct MempoolLimits {
    /// Most transactions in the pool.
    pub capacity: usize,
    /// Most transactions queued by one signer in one lane.
    pub per_queue: usize,
    /// Transactions every queue may hold even when the shared `capacity`
    /// is full (the tenant's reserved share).
    pub reserved: usize,
}

impl Default for MempoolLimits {
    fn default() -> Self {
        // About 7 KB per queued submission: at most ~700 MB.
        Self {
            capacity: 100_000,
            per_queue: 20_000,
            reserved: 16,
        }
    }
}

/// The pool.
#[derive(Debug)]
pub struct Mempool {
    limits: MempoolLimits,
    queues: BTreeMap<QueueKey, VecDeque<SignedTx>>,
    ids: HashMap<TxId, QueueKey>,
    /// What each signer's queued transactions cost in total (fees, amounts).
    costs: HashMap<AccountId, Amount>,
    /// The queue served first by the last [`Mempool::select`].
    cursor: Option<QueueKey>,
    len: usize,
    /// Client transactions admitted but not yet durable in the receipt
    /// log: [`Mempool::select`] stops each queue at the first of them, so
    /// no block carries a transaction this node could still lose.
    held: HashSet<TxId>,
}

fn queue_key(tx: &SignedTx, ledger: &Ledger) -> Result<QueueKey, TxError> {
    let lane = match tx.body() {
        TxBody::SubmitRoot(_) => Lane::Submissions,
        TxBody::Transfer(_) | TxBody::RegisterOperator(_) => Lane::Account,
        TxBody::AnchorRecord(_) => Lane::Anchor,
    };
    Ok((ledger.signer(tx)?, lane))
}

impl Mempool {
    /// An empty pool.
    #[must_use]
    pub fn new(limits: MempoolLimits) -> Self {
        Self {
            limits,
            queues: BTreeMap::new(),
            ids: HashMap::new(),
            costs: HashMap::new(),
            cursor: None,
            len: 0,
            held: HashSet::new(),
        }
    }

    /// Number of queued transactions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is queued.
    #[cfg(test)]
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `n` signers with the most queued transactions (all lanes),
    /// longest first (ties by id), and what the others hold: the bounded
    /// per-operator figure of `/metrics`. One pass over the queues.
    #[must_use]
    pub fn busiest_signers(&self, n: usize) -> (Vec<(AccountId, usize)>, Rest) {
        // Queue keys are sorted by signer first: its lanes are adjacent.
        let mut per_signer: Vec<(AccountId, usize)> = Vec::new();
        for ((signer, _), queue) in &self.queues {
            match per_signer.last_mut() {
                Some((last, len)) if last == signer => *len += queue.len(),
                _ => per_signer.push((*signer, queue.len())),
            }
        }
        let order = |a: &(AccountId, usize), b: &(AccountId, usize)| {
            b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0))
        };
        if per_signer.len() > n {
            per_signer.select_nth_unstable_by(n, order);
        }
        let rest = per_signer.split_off(n.min(per_signer.len()));
        per_signer.sort_unstable_by(order);
        (
            per_signer,
            Rest {
                signers: rest.len(),
                queued: rest.iter().map(|(_, len)| len).sum(),
            },
        )
    }

    /// The (seq, prev) of `operator`'s last queued submission.
    #[must_use]
    pub fn last_queued_submission(&self, operator: &AccountId) -> Option<(u64, SubmissionId)> {
        let last = self.queues.get(&(*operator, Lane::Submissions))?.back()?;
        Some((last.as_submission()?.seq, last.submission_id()))
    }

    /// Number of `account`'s transfers and registrations queued.
    #[must_use]
    pub fn queued_account_txs(&self, account: &AccountId) -> usize {
        self.queues
            .get(&(*account, Lane::Account))
            .map_or(0, VecDeque::len)
    }

    /// The queued transaction `id`.
    #[must_use]
    pub fn get(&self, id: &TxId) -> Option<&SignedTx> {
        let key = self.ids.get(id)?;
        self.queues.get(key)?.iter().find(|t| t.id() == *id)
    }

    /// The queued submission of `operator` with sequence `seq`, if any.
    #[must_use]
    pub fn queued_submission(&self, operator: &AccountId, seq: u64) -> Option<&SignedTx> {
        self.queues
            .get(&(*operator, Lane::Submissions))?
            .iter()
            .find(|tx| tx.as_submission().is_some_and(|s| s.seq == seq))
    }

    /// Checks `tx` (whose signature the caller has verified) against the
    /// ledger and the signer's queue, and queues it.
    ///
    /// # Errors
    /// [`MempoolError`] naming the problem; nothing changes.
    pub fn admit(&mut self, tx: SignedTx, ledger: &Ledger) -> Result<Admitted, MempoolError> {
        let key = queue_key(&tx, ledger)?;
        let signer = key.0;
        if self.ids.contains_key(&tx.id()) {
            return Ok(Admitted::Duplicate(tx.id()));
        }
        let queue = self.queues.get(&key);
        let queued = queue.map_or(0, VecDeque::len);
        let account = ledger.account(&signer).copied();
        let queued_costs = self.costs.get(&signer).copied().unwrap_or_default();
        match tx.body() {
            TxBody::SubmitRoot(s) => {
                let op = account
                    .and_then(|a| a.operator)
                    .ok_or(TxError::UnknownOperator(s.operator))?;
                let last_queued = queue.and_then(VecDeque::back);
                let (expected_seq, expected_prev) = match last_queued {
                    Some(last) => {
                        let ls = last.as_submission().expect("submission lane");
                        (ls.seq + 1, last.submission_id())
                    }
                    None => (op.next_seq, op.last.map(|l| l.id).unwrap_or_default()),
                };
                if s.seq < expected_seq {
                    // Idempotent for the same signed content queued under
                    // this seq; any other content conflicts with it.
                    if let Some(existing) = self.queued_submission(&s.operator, s.seq) {
                        if existing.body() == tx.body() {
                            return Ok(Admitted::Duplicate(existing.id()));
                        }
                        return Err(MempoolError::Conflict {
                            operator: s.operator,
                            seq: s.seq,
                            recorded: existing.submission_id(),
                        });
                    }
                    return Err(TxError::SeqReused {
                        operator: s.operator,
                        expected: expected_seq,
                        got: s.seq,
                    }
                    .into());
                }
                if s.seq > expected_seq {
                    return Err(TxError::SeqGap {
                        operator: s.operator,
                        expected: expected_seq,
                        got: s.seq,
                    }
                    .into());
                }
                if s.prev != expected_prev {
                    return Err(TxError::WrongPrev {
                        operator: s.operator,
                        expected: SubmissionId::new(expected_prev.hash()),
                        got: s.prev,
                    }
                    .into());
                }
            }
            TxBody::AnchorRecord(a) => ledger.check_anchor_record(a)?,
            TxBody::Transfer(_) | TxBody::RegisterOperator(_) => {
                let account = account.ok_or(TxError::UnknownAccount(signer))?;
                let nonce = match &tx.body() {
                    TxBody::Transfer(t) => t.nonce,
                    TxBody::RegisterOperator(r) => r.nonce,
                    TxBody::SubmitRoot(_) | TxBody::AnchorRecord(_) => {
                        unreachable!("matched above")
                    }
                };
                let expected = account.nonce + queued as u64;
                if nonce != expected {
                    return Err(TxError::BadNonce {
                        account: signer,
                        expected,
                        got: nonce,
                    }
                    .into());
                }
                if matches!(tx.body(), TxBody::RegisterOperator(_)) {
                    let pending_registration = queue.is_some_and(|q| {
                        q.iter()
                            .any(|t| matches!(t.body(), TxBody::RegisterOperator(_)))
                    });
                    if account.operator.is_some() || pending_registration {
                        return Err(TxError::AlreadyRegistered(signer).into());
                    }
                }
            }
        }
        let needed = cost(&tx, ledger)
            .and_then(|c| queued_costs.checked_add(c).ok())
            .ok_or(TxError::Overflow(signer))?;
        let available = account.map_or(Amount::ZERO, |a| a.balance);
        if needed > available {
            return Err(TxError::InsufficientFunds {
                account: signer,
                needed,
                available,
            }
            .into());
        }
        // The shared part is full: only a queue within its reserve grows.
        if self.len >= self.limits.capacity && queued >= self.limits.reserved {
            return Err(MempoolError::Full(self.len));
        }
        if queued >= self.limits.per_queue {
            return Err(MempoolError::QueueFull(signer, queued));
        }
        let id = tx.id();
        self.queues.entry(key).or_default().push_back(tx);
        self.ids.insert(id, key);
        self.costs.insert(signer, needed);
        self.len += 1;
        Ok(Admitted::New(id))
    }

    /// As [`Mempool::admit`], holding a new transaction back from blocks
    /// until [`Mempool::release`]: for a client's transaction, admitted
    /// (checked, its place in its queue taken) before the receipt log has
    /// made it durable.
    ///
    /// # Errors
    /// As [`Mempool::admit`].
    pub fn admit_held(&mut self, tx: SignedTx, ledger: &Ledger) -> Result<Admitted, MempoolError> {
        let admitted = self.admit(tx, ledger)?;
        if let Admitted::New(id) = admitted {
            self.held.insert(id);
        }
        Ok(admitted)
    }

    /// Lets held transactions into blocks (they are durable now).
    pub fn release(&mut self, ids: &[TxId]) {
        for id in ids {
            self.held.remove(id);
        }
    }

    /// Up to `max` transactions for the next block: one from each queue in
    /// turn, each queue in order, each queue up to its first held
    /// transaction. Nothing is removed.
    pub fn select(&mut self, max: usize) -> Vec<SignedTx> {
        let keys: Vec<QueueKey> = self.queues.keys().copied().collect();
        if keys.is_empty() || max == 0 {
            return Vec::new();
        }
        // Start with the queue after the one served first last time.
        let start = self
            .cursor
            .map_or(0, |c| keys.partition_point(|k| *k <= c) % keys.len());
        self.cursor = Some(keys[start]);
        let mut out = Vec::with_capacity(max.min(self.len));
        let mut stopped: BTreeSet<QueueKey> = BTreeSet::new();
        let mut depth = 0;
        loop {
            let mut took = false;
            for i in 0..keys.len() {
                let key = keys[(start + i) % keys.len()];
                if stopped.contains(&key) {
                    continue;
                }
                if let Some(tx) = self.queues.get(&key).and_then(|q| q.get(depth)) {
                    if self.held.contains(&tx.id()) {
                        stopped.insert(key);
                        continue;
                    }
                    out.push(tx.clone());
                    took = true;
                    if out.len() == max {
                        return out;
                    }
                }
            }
            if !took {
                return out;
            }
            depth += 1;
        }
    }

    /// Removes what a finalized block included, every queued transaction
    /// the new ledger makes stale (used sequence numbers or nonces), and the
    /// transactions the proposer rejected together with those queued after
    /// them by the same signer (which depended on them).
    ///
    /// Returns the ids of what it dropped without inclusion (stale or
    /// rejected), which can no longer be finalized.
    pub fn on_commit(
        &mut self,
        included: &[SignedTx],
        rejected: &[TxId],
        ledger: &Ledger,
    ) -> Vec<TxId> {
        for tx in included {
            self.remove(&tx.id(), false, ledger);
        }
        let mut dropped = Vec::new();
        for id in rejected {
            dropped.extend(self.remove(id, true, ledger));
        }
        let keys: Vec<QueueKey> = self.queues.keys().copied().collect();
        for key in keys {
            let account = ledger.account(&key.0).copied().unwrap_or_default();
            let stale: Vec<TxId> = self.queues[&key]
                .iter()
                .filter(|tx| match tx.body() {
                    TxBody::SubmitRoot(s) => account.operator.is_none_or(|op| s.seq < op.next_seq),
                    TxBody::Transfer(t) => t.nonce < account.nonce,
                    TxBody::RegisterOperator(r) => r.nonce < account.nonce,
                    TxBody::AnchorRecord(a) => ledger.anchor_recorded(&a.key()),
                })
                .map(SignedTx::id)
                .collect();
            for id in stale {
                dropped.extend(self.remove(&id, false, ledger));
            }
        }
        dropped
    }

    /// Removes `id`, and with `cascade` everything queued after it.
    /// Removes `id` (and with `cascade` what its signer queued after it);
    /// returns the ids removed.
    fn remove(&mut self, id: &TxId, cascade: bool, ledger: &Ledger) -> Vec<TxId> {
        let Some(key) = self.ids.get(id).copied() else {
            return Vec::new();
        };
        let Some(queue) = self.queues.get_mut(&key) else {
            return Vec::new();
        };
        let Some(pos) = queue.iter().position(|t| t.id() == *id) else {
            return Vec::new();
        };
        let removed: Vec<SignedTx> = if cascade {
            queue.split_off(pos).into_iter().collect()
        } else {
            queue.remove(pos).into_iter().collect()
        };
        if queue.is_empty() {
            self.queues.remove(&key);
        }
        for tx in &removed {
            self.ids.remove(&tx.id());
            self.held.remove(&tx.id());
            self.len -= 1;
            if let Some(total) = self.costs.get_mut(&key.0) {
                // An admitted transaction's cost was representable.
                let c = cost(tx, ledger).unwrap_or(Amount::ZERO);
                *total = total.checked_sub(c).unwrap_or(Amount::ZERO);
            }
        }
        if !self.queues.contains_key(&(key.0, Lane::Submissions))
            && !self.queues.contains_key(&(key.0, Lane::Account))
        {
            self.costs.remove(&key.0);
        }
        removed.iter().map(SignedTx::id).collect()
    }
}

/// What a transaction costs its signer: fee plus amount; `None` when the
/// sum is not representable (reported as overflow, not as missing funds).
fn cost(tx: &SignedTx, ledger: &Ledger) -> Option<Amount> {
    let p = ledger.params();
    match tx.body() {
        TxBody::SubmitRoot(_) => Some(p.submit_fee),
        TxBody::RegisterOperator(_) => Some(p.register_fee),
        TxBody::AnchorRecord(_) => Some(Amount::ZERO),
        TxBody::Transfer(t) => t.amount.checked_add(p.transfer_fee).ok(),
    }
}

#[cfg(test)]
mod tests {
    use pantheon_runtime::amount::{Amount, SUPPLY};
    use pantheon_runtime::crypto::{KeyCache, Keypair};
    use pantheon_runtime::genesis::{Allocation, Genesis, Params, Validator, ValidatorSet};
    use pantheon_runtime::hash::{AuditRoot, Hash256, SubmissionId};
    use pantheon_runtime::ledger::Ledger;
    use pantheon_runtime::tx::{Metadata, RegisterOperator, SubmitRoot, TxBody};

    use super::*;

    struct Fixture {
        genesis: Genesis,
        ops: Vec<Keypair>,
        ledger: Ledger,
    }

    /// One validator; `n` operators with 10 PAN each, registered.
    fn fixture(n: u8) -> Fixture {
        fixture_funded(n, Amount::from_pan(10).unwrap())
    }

    /// One validator; `n` operators with `each`, registered.
    fn fixture_funded(n: u8, each: Amount) -> Fixture {
        let validator = Keypair::from_seed(&[0xaa; 32]);
        let ops: Vec<Keypair> = (1..=n).map(|i| Keypair::from_seed(&[i; 32])).collect();
        let mut allocations: Vec<Allocation> = ops
            .iter()
            .map(|o| Allocation {
                account: o.id(),
                amount: each,
            })
            .collect();
        allocations.push(Allocation {
            account: validator.id(),
            amount: Amount::from_units(SUPPLY.units() - each.units() * u64::from(n)),
        });
        allocations.sort_by_key(|a| a.account);
        let validators = ValidatorSet::new(vec![Validator {
            public_key: validator.public().clone(),
            power: 1,
        }])
        .unwrap();
        let genesis = Genesis::new(
            "mempool-test".into(),
            0,
            Params::default(),
            validators,
            allocations,
        )
        .unwrap();
        let mut ledger = Ledger::from_genesis(&genesis);
        let regs = ops
            .iter()
            .map(|o| {
                TxBody::RegisterOperator(RegisterOperator {
                    key: o.public().clone(),
                    nonce: 0,
                })
                .sign(&genesis.hash(), o)
            })
            .collect();
        let (block, exec) = ledger
            .propose(0, 1, regs, None, &KeyCache::default())
            .unwrap();
        ledger.commit(&block.header, exec).unwrap();
        Fixture {
            genesis,
            ops,
            ledger,
        }
    }

    fn submission(f: &Fixture, op: usize, seq: u64, prev: SubmissionId, root: u64) -> SignedTx {
        TxBody::SubmitRoot(SubmitRoot {
            operator: f.ops[op].id(),
            seq,
            prev,
            root: AuditRoot::new(Hash256::digest(&root.to_be_bytes())),
            metadata: Metadata::default(),
        })
        .sign(&f.genesis.hash(), &f.ops[op])
    }

    /// `count` chained submissions of operator `op` starting at its next seq.
    fn chain_of(f: &Fixture, op: usize, count: u64) -> Vec<SignedTx> {
        let mut prev = SubmissionId::default();
        (0..count)
            .map(|seq| {
                let tx = submission(f, op, seq, prev, seq + 1000 * op as u64);
                prev = tx.submission_id();
                tx
            })
            .collect()
    }

    #[test]
    fn busiest_signers_names_the_longest_queues_and_sums_the_rest() {
        let f = fixture(13);
        let mut pool = Mempool::new(MempoolLimits::default());
        // Operator i queues i + 1 submissions (1..=13).
        for op in 0..13 {
            for tx in chain_of(&f, op, op as u64 + 1) {
                pool.admit(tx, &f.ledger).unwrap();
            }
        }
        let (top, rest) = pool.busiest_signers(10);
        let lens: Vec<usize> = top.iter().map(|(_, n)| *n).collect();
        assert_eq!(lens, (4..=13).rev().collect::<Vec<_>>());
        assert_eq!(top[0].0, f.ops[12].id());
        assert_eq!(
            rest,
            Rest {
                signers: 3,
                queued: 1 + 2 + 3
            }
        );
        let (all, none) = pool.busiest_signers(20);
        assert_eq!(all.len(), 13);
        assert_eq!(none, Rest::default());
        assert_eq!(all.iter().map(|(_, n)| n).sum::<usize>(), pool.len());
    }

    #[test]
    fn a_flooding_operator_cannot_delay_another_by_more_than_one_block() {
        let f = fixture(2);
        let mut pool = Mempool::new(MempoolLimits::default());
        for tx in chain_of(&f, 0, 500) {
            pool.admit(tx, &f.ledger).unwrap();
        }
        let late = chain_of(&f, 1, 1).remove(0);
        pool.admit(late.clone(), &f.ledger).unwrap();
        let block = pool.select(10);
        assert_eq!(block.len(), 10);
        assert!(
            block.contains(&late),
            "the other operator's submission is in the next block"
        );
        // Each queue is served in order.
        let flood: Vec<u64> = block
            .iter()
            .filter_map(|t| t.as_submission())
            .filter(|s| s.operator == f.ops[0].id())
            .map(|s| s.seq)
            .collect();
        assert_eq!(flood, (0..9).collect::<Vec<_>>());
    }

    #[test]
    fn entry_checks_follow_the_queued_chain() {
        let f = fixture(1);
        let mut pool = Mempool::new(MempoolLimits::default());
        let txs = chain_of(&f, 0, 3);
        pool.admit(txs[0].clone(), &f.ledger).unwrap();
        // Idempotent: the same submission again.
        assert_eq!(
            pool.admit(txs[0].clone(), &f.ledger),
            Ok(Admitted::Duplicate(txs[0].id()))
        );
        // The same signed content under other signature bytes (a hedged
        // re-signing): the same submission, answered with the queued id.
        let mut sig = *txs[0].signature().as_bytes();
        sig[0] ^= 1;
        let resigned = SignedTx::new(
            txs[0].body().clone(),
            &pantheon_runtime::crypto::Signature::from_bytes(sig),
        );
        assert_ne!(resigned.id(), txs[0].id());
        assert_eq!(
            pool.admit(resigned, &f.ledger),
            Ok(Admitted::Duplicate(txs[0].id()))
        );
        // Seq 0 with another root: a conflict naming the queued submission.
        let other = submission(&f, 0, 0, SubmissionId::default(), 77);
        assert_eq!(
            pool.admit(other, &f.ledger),
            Err(MempoolError::Conflict {
                operator: f.ops[0].id(),
                seq: 0,
                recorded: txs[0].submission_id(),
            })
        );
        // A gap: refused.
        assert!(matches!(
            pool.admit(txs[2].clone(), &f.ledger),
            Err(MempoolError::Invalid(TxError::SeqGap { .. }))
        ));
        // Wrong prev: refused.
        let bad_prev = submission(&f, 0, 1, SubmissionId::default(), 5);
        assert!(matches!(
            pool.admit(bad_prev, &f.ledger),
            Err(MempoolError::Invalid(TxError::WrongPrev { .. }))
        ));
        pool.admit(txs[1].clone(), &f.ledger).unwrap();
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn the_pool_is_bounded_and_funds_cover_every_queued_fee() {
        let f = fixture(2);
        let mut pool = Mempool::new(MempoolLimits {
            capacity: 3,
            per_queue: 2,
            reserved: 0,
        });
        let a = chain_of(&f, 0, 3);
        pool.admit(a[0].clone(), &f.ledger).unwrap();
        pool.admit(a[1].clone(), &f.ledger).unwrap();
        assert!(matches!(
            pool.admit(a[2].clone(), &f.ledger),
            Err(MempoolError::QueueFull(..))
        ));
        let b = chain_of(&f, 1, 2);
        pool.admit(b[0].clone(), &f.ledger).unwrap();
        assert!(matches!(
            pool.admit(b[1].clone(), &f.ledger),
            Err(MempoolError::Full(3))
        ));

        // What is left after registration pays for exactly 5 submission fees.
        let p = Params::default();
        let f = fixture_funded(
            1,
            Amount::from_units(p.register_fee.units() + 5 * p.submit_fee.units()),
        );
        let balance = f.ledger.account(&f.ops[0].id()).unwrap().balance.units();
        let affordable = balance / p.submit_fee.units();
        let mut big = Mempool::new(MempoolLimits::default());
        let txs = chain_of(&f, 0, affordable + 1);
        for tx in &txs[..usize::try_from(affordable).unwrap()] {
            big.admit(tx.clone(), &f.ledger).unwrap();
        }
        assert!(matches!(
            big.admit(txs.last().unwrap().clone(), &f.ledger),
            Err(MempoolError::Invalid(TxError::InsufficientFunds { .. }))
        ));
    }

    #[test]
    fn held_transactions_and_those_after_them_stay_out_of_blocks_until_released() {
        let f = fixture(2);
        let mut pool = Mempool::new(MempoolLimits::default());
        let a = chain_of(&f, 0, 3);
        let b = chain_of(&f, 1, 1);
        pool.admit(a[0].clone(), &f.ledger).unwrap();
        pool.admit_held(a[1].clone(), &f.ledger).unwrap();
        pool.admit(a[2].clone(), &f.ledger).unwrap();
        pool.admit_held(b[0].clone(), &f.ledger).unwrap();
        // Operator 0's queue stops at its held seq 1; operator 1's at once.
        assert_eq!(pool.select(10), vec![a[0].clone()]);
        pool.release(&[a[1].id(), b[0].id()]);
        let all = pool.select(10);
        assert_eq!(all.len(), 4);
        for tx in a.iter().chain(&b) {
            assert!(all.contains(tx));
        }
    }

    #[test]
    fn a_transfer_whose_amount_and_fee_overflow_is_reported_as_overflow() {
        let f = fixture(1);
        let tx = TxBody::Transfer(pantheon_runtime::tx::Transfer {
            from_key: f.ops[0].public().clone(),
            nonce: 1,
            to: f.ops[0].id(),
            amount: Amount::from_units(u64::MAX),
        })
        .sign(&f.genesis.hash(), &f.ops[0]);
        let mut pool = Mempool::new(MempoolLimits::default());
        assert!(matches!(
            pool.admit(tx, &f.ledger),
            Err(MempoolError::Invalid(TxError::Overflow(a))) if a == f.ops[0].id()
        ));
        assert_eq!(pool.len(), 0);
    }

    /// `count` chained submissions of `op` with a placeholder signature
    /// (the pool never checks signatures: the caller does).
    fn unsigned_chain(f: &Fixture, op: usize, count: u64) -> Vec<SignedTx> {
        let sig = pantheon_runtime::crypto::Signature::from_bytes(
            [0u8; pantheon_runtime::crypto::SIGNATURE_LEN],
        );
        let mut prev = SubmissionId::default();
        (0..count)
            .map(|seq| {
                let tx = SignedTx::new(
                    TxBody::SubmitRoot(SubmitRoot {
                        operator: f.ops[op].id(),
                        seq,
                        prev,
                        root: AuditRoot::new(Hash256::digest(&seq.to_be_bytes())),
                        metadata: Metadata::default(),
                    }),
                    &sig,
                );
                prev = tx.submission_id();
                tx
            })
            .collect()
    }

    #[test]
    fn keys_that_fill_the_pool_cannot_refuse_another_operator() {
        // At the default limits: five keys fill all 100,000 shared places
        // (20,000 each, the per-queue limit); a sixth operator still gets
        // its next submissions in, up to its reserve, and so does a
        // seventh; the flooders get nothing more.
        let limits = MempoolLimits::default();
        let f = fixture_funded(7, Amount::from_pan(100).unwrap());
        let mut pool = Mempool::new(limits);
        let per = limits.per_queue as u64;
        for op in 0..5 {
            for tx in unsigned_chain(&f, op, per + 1)
                .into_iter()
                .take(limits.per_queue)
            {
                pool.admit(tx, &f.ledger).unwrap();
            }
        }
        assert_eq!(pool.len(), limits.capacity);
        let extra = unsigned_chain(&f, 0, per + 1).pop().unwrap();
        assert!(matches!(
            pool.admit(extra, &f.ledger),
            Err(MempoolError::Full(_) | MempoolError::QueueFull(..))
        ));
        for op in [5, 6] {
            let honest = unsigned_chain(&f, op, limits.reserved as u64 + 1);
            for tx in &honest[..limits.reserved] {
                assert!(matches!(
                    pool.admit(tx.clone(), &f.ledger),
                    Ok(Admitted::New(_))
                ));
            }
            assert!(matches!(
                pool.admit(honest[limits.reserved].clone(), &f.ledger),
                Err(MempoolError::Full(_))
            ));
        }
        // Selection serves the newcomers in the next block.
        let picked = pool.select(7);
        for op in [5, 6] {
            assert!(picked.iter().any(|tx| {
                tx.as_submission()
                    .is_some_and(|s| s.operator == f.ops[op].id())
            }));
        }
    }

    #[test]
    fn commit_prunes_included_and_stale_transactions() {
        let mut f = fixture(1);
        let mut pool = Mempool::new(MempoolLimits::default());
        let txs = chain_of(&f, 0, 4);
        for tx in &txs {
            pool.admit(tx.clone(), &f.ledger).unwrap();
        }
        let selected = pool.select(2);
        let (block, exec) = f
            .ledger
            .propose(0, 2, selected, None, &KeyCache::default())
            .unwrap();
        f.ledger.commit(&block.header, exec).unwrap();
        pool.on_commit(&block.txs, &[], &f.ledger);
        assert_eq!(pool.len(), 2);
        assert_eq!(pool.select(10), txs[2..].to_vec());
        // A rejected transaction takes its dependents with it.
        pool.on_commit(&[], &[txs[2].id()], &f.ledger);
        assert!(pool.is_empty());
    }
}
