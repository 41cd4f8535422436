//! The ledger: state, submission log and block execution.
//!
//! Executing a block is a pure function of the ledger and the block:
//!
//! 1. find the key each transaction must be signed with (carried in the
//!    transaction, or the registered key of the submitting operator) and
//!    verify all signatures in parallel;
//! 2. apply the transactions in order to an overlay of the touched accounts:
//!    each checks its signature, nonce or sequence chain and balance, and
//!    either applies completely or not at all;
//! 3. append the accepted submissions to a copy of the log's right edge and
//!    update a snapshot of the state tree (both cheap, nothing is mutated).
//!
//! The result, an [`Execution`], is committed with [`Ledger::commit`] once
//! the block is final. A proposer executes in [`Mode::Build`], which drops
//! invalid transactions and reports why; every other validator executes the
//! proposed block in [`Mode::Strict`], where one invalid transaction makes
//! the block invalid.
//!
//! Fees move from the payer to the proposer's account. No operation creates
//! or destroys PAN, so the sum of all balances is [`SUPPLY`] after every
//! block ([`Ledger::total_balance`]).

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use serde::Serialize;

use crate::amount::{Amount, AmountError, Height, SUPPLY};
use crate::anchor::{AnchorCommitment, BitcoinParams};
use crate::block::{BLOCK_VERSION, Block, BlockHeader, CommitCertificate, MAX_BLOCK_TXS};
use crate::codec::Encode;
use crate::crypto::{AccountId, KeyCache, OperatorId, PublicKey};
use crate::genesis::{Genesis, Params, ValidatorSet};
use crate::hash::{
    BlockHash, CertificateHash, GenesisHash, Hash256, LogRoot, StateRoot, SubmissionId, TxId,
};
use crate::log::{InclusionProof, LogError, MerkleLog, leaf_hash, root_of};
use crate::smt::{StateProof, StateTree, Update};
use crate::state::{Account, LastSubmission, OperatorState, StateKey, value_hash};
use crate::tx::{AnchorKey, AnchorRecord, SignedTx, TxBody};

/// Why a transaction cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum TxError {
    /// The submitting operator is not registered.
    #[error("operator {0} is not registered")]
    UnknownOperator(OperatorId),
    /// The paying account holds nothing.
    #[error("account {0} does not exist (it has never been funded)")]
    UnknownAccount(AccountId),
    /// The signature does not verify under the signer's key.
    #[error("signature does not verify under the key of {0}")]
    BadSignature(AccountId),
    /// The sequence number was already used.
    #[error("operator {operator}: sequence {got} already used (next is {expected})")]
    SeqReused {
        /// The operator.
        operator: OperatorId,
        /// The next expected sequence.
        expected: u64,
        /// The sequence given.
        got: u64,
    },
    /// The sequence number skips ahead.
    #[error("operator {operator}: sequence {got} leaves a gap (next is {expected})")]
    SeqGap {
        /// The operator.
        operator: OperatorId,
        /// The next expected sequence.
        expected: u64,
        /// The sequence given.
        got: u64,
    },
    /// `prev` is not the id of the operator's latest submission.
    #[error("operator {operator}: prev {got} is not the latest submission {expected}")]
    WrongPrev {
        /// The operator.
        operator: OperatorId,
        /// The latest submission (zero if none).
        expected: SubmissionId,
        /// The prev given.
        got: SubmissionId,
    },
    /// The nonce is not the account's next nonce.
    #[error("account {account}: nonce {got}, expected {expected}")]
    BadNonce {
        /// The account.
        account: AccountId,
        /// The expected nonce.
        expected: u64,
        /// The nonce given.
        got: u64,
    },
    /// The account cannot pay the amount and fee.
    #[error("account {account} holds {available} PAN, needs {needed} PAN")]
    InsufficientFunds {
        /// The account.
        account: AccountId,
        /// Amount plus fee.
        needed: Amount,
        /// Balance.
        available: Amount,
    },
    /// The key is already registered as an operator.
    #[error("operator {0} is already registered")]
    AlreadyRegistered(OperatorId),
    /// A balance would exceed the representable range (cannot happen with a
    /// fixed supply, but is checked).
    #[error("balance overflow in account {0}")]
    Overflow(AccountId),
    /// An anchor record names a validator index outside the genesis set.
    #[error("validator {0} is not in the validator set")]
    UnknownValidator(u16),
    /// An anchor record's height is 0 or not yet final.
    #[error("anchored height {height} is not in 1..={ledger_height}")]
    AnchorHeightOutOfRange {
        /// The record's anchored height.
        height: Height,
        /// The ledger's height (the parent of the block carrying the record).
        ledger_height: Height,
    },
    /// An anchor record's commitment is not the ledger's for its height.
    #[error("anchor commitment for height {height} is {expected}, the record says {got}")]
    WrongAnchorCommitment {
        /// The anchored height.
        height: Height,
        /// The ledger's commitment.
        expected: AnchorCommitment,
        /// The record's.
        got: AnchorCommitment,
    },
    /// An anchor record's Bitcoin part is missing, not allowed, or does
    /// not carry exactly the genesis's confirmations.
    #[error("anchor record: {0}")]
    BadAnchorPart(String),
    /// An anchor record for an (anchored height, Bitcoin block) the chain
    /// already carries: a replay, or a second record of the same anchor.
    #[error("anchor of height {} in Bitcoin block {} is already recorded", .0.height, .0.bitcoin_block)]
    AnchorAlreadyRecorded(AnchorKey),
}

/// Why a block cannot be executed or committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The block is not the next one.
    #[error("expected height {expected}, got {got}")]
    WrongHeight {
        /// The next height.
        expected: Height,
        /// The block's height.
        got: Height,
    },
    /// The block does not extend the last block.
    #[error("parent {got} is not the last block {expected}")]
    WrongParent {
        /// The last block.
        expected: BlockHash,
        /// The block's parent.
        got: BlockHash,
    },
    /// The proposer index is not in the validator set.
    #[error("proposer {0} is not a validator index")]
    UnknownProposer(u16),
    /// Too many transactions.
    #[error("{count} transactions exceed the block limit {max}")]
    TooManyTxs {
        /// Transactions in the block.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A transaction is invalid (strict mode).
    #[error("transaction {index} ({id}): {error}")]
    InvalidTx {
        /// Position in the block.
        index: usize,
        /// Its id.
        id: TxId,
        /// Why.
        error: Box<TxError>,
    },
    /// A header field does not match the execution.
    #[error("header field {0} does not match the execution")]
    HeaderMismatch(&'static str),
    /// What the block carries of its parent's finality is wrong (FORMATS
    /// 9.4): a version-1 block after a version-2 one, a missing or extra
    /// certificate, one that does not finalize the parent, is not
    /// canonical, or does not hash to the header's `last_certificate`.
    #[error("block {height}: carried certificate: {reason}")]
    CarriedCertificate {
        /// The block's height.
        height: Height,
        /// What is wrong.
        reason: String,
    },
}

/// How [`Ledger::execute`] treats invalid transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Proposer: skip invalid transactions and report them.
    Build,
    /// Validator: any invalid transaction invalidates the block.
    Strict,
    /// A block that arrives with a verified commit certificate (sync, or a
    /// decision on a block we never validated): as [`Mode::Strict`], but
    /// transaction signatures are not checked again. More than two thirds
    /// of the validator power signed a header that commits to these exact
    /// transactions (`tx_root`), which honest validators only do after a
    /// strict execution; state transitions and every header root are still
    /// recomputed, so a node's state never rests on a claim it did not
    /// check. This is what makes catching up much faster than the chain
    /// grows: signature verification is ~98% of a strict execution.
    Certified,
}

/// The outcome of executing a block's transactions on top of the ledger.
#[derive(Debug, Clone)]
pub struct Execution {
    /// Height executed.
    pub height: Height,
    /// Proposer index.
    pub proposer: u16,
    /// The applied transactions, in order.
    pub txs: Vec<SignedTx>,
    /// Transactions dropped in [`Mode::Build`], with the reason.
    pub rejected: Vec<(TxId, TxError)>,
    /// RFC 9162 root of the applied transactions' ids.
    pub tx_root: LogRoot,
    /// Log size after the block.
    pub log_size: u64,
    /// Log root after the block.
    pub log_root: LogRoot,
    /// State root after the block.
    pub state_root: StateRoot,
    /// Every account the block changed, with its new record.
    pub changed_accounts: BTreeMap<AccountId, Account>,
    /// Operators registered by the block, with their keys.
    pub new_operators: BTreeMap<OperatorId, PublicKey>,
    /// The keys of the anchor records the block carries.
    pub new_anchors: BTreeSet<AnchorKey>,
    tree: StateTree,
}

impl Execution {
    /// The header of a block holding this execution, committing to
    /// `last_certificate` (`Some` for version 2, see [`BlockHeader`]).
    #[must_use]
    pub fn header(
        &self,
        parent: BlockHash,
        time_ms: u64,
        last_certificate: Option<CertificateHash>,
    ) -> BlockHeader {
        BlockHeader {
            height: self.height,
            parent,
            time_ms,
            proposer: self.proposer,
            tx_count: u32::try_from(self.txs.len()).expect("blocks hold under 2^32 transactions"),
            tx_root: self.tx_root,
            log_size: self.log_size,
            log_root: self.log_root,
            state_root: self.state_root,
            last_certificate,
        }
    }

    /// A proof of `id`'s record (or its absence) against the state root
    /// after this block, with the record.
    #[must_use]
    pub fn prove_account(&self, id: &AccountId) -> StateProof {
        self.tree.prove(&StateKey::Account(*id).tree_key())
    }

    /// The ids of the submissions this block appends to the log, in order.
    pub fn submissions(&self) -> impl Iterator<Item = SubmissionId> + '_ {
        self.txs
            .iter()
            .filter(|tx| tx.as_submission().is_some())
            .map(SignedTx::submission_id)
    }
}

/// State, submission log, block history and chain position.
#[derive(Debug, Clone)]
pub struct Ledger {
    genesis: GenesisHash,
    params: Params,
    validators: ValidatorSet,
    /// What the genesis says of anchoring: `None` for version 1 (pins
    /// nothing), `Some(None)` for a network that does not anchor.
    bitcoin: Option<Option<BitcoinParams>>,
    height: Height,
    last_block: BlockHash,
    accounts: BTreeMap<AccountId, Account>,
    operator_keys: BTreeMap<OperatorId, PublicKey>,
    tree: StateTree,
    log: MerkleLog,
    /// Leaf `h - 1` is the hash of block `h` (RFC 9162, leaf data = the
    /// 32-byte block hash).
    history: MerkleLog,
    /// Every anchor record the chain carries, by key: none is valid twice.
    /// Not in the state root (like the log's leaves, it is a function of
    /// the blocks every node holds).
    anchors: BTreeSet<AnchorKey>,
}

/// The stored state a ledger is rebuilt from ([`Ledger::restore`]).
#[derive(Debug, Clone, Default)]
pub struct StoredState {
    /// Height of the last committed block.
    pub height: Height,
    /// Hash of that block (the genesis hash's bytes at height 0).
    pub last_block: BlockHash,
    /// Every account record: genesis allocations and the blocks' changes.
    pub accounts: BTreeMap<AccountId, Account>,
    /// Registered operators' keys.
    pub operator_keys: BTreeMap<OperatorId, PublicKey>,
    /// The submission log.
    pub log: MerkleLog,
    /// Hashes of blocks `1..=height`, in order.
    pub block_hashes: Vec<BlockHash>,
    /// The keys of the anchor records the chain carries.
    pub anchors: BTreeSet<AnchorKey>,
}

impl Ledger {
    /// The ledger at height 0.
    #[must_use]
    pub fn from_genesis(genesis: &Genesis) -> Self {
        Self::restore(
            genesis,
            StoredState {
                height: Height::GENESIS,
                last_block: BlockHash::new(genesis.hash().hash()),
                accounts: Self::genesis_accounts(genesis),
                ..StoredState::default()
            },
        )
    }

    /// The accounts of `genesis` before any block: one per allocation,
    /// holding its amount. A store that keeps only the accounts blocks
    /// changed starts from these when it rebuilds the ledger.
    #[must_use]
    pub fn genesis_accounts(genesis: &Genesis) -> BTreeMap<AccountId, Account> {
        genesis
            .allocations()
            .iter()
            .map(|a| {
                let account = Account {
                    balance: a.amount,
                    ..Account::default()
                };
                (a.account, account)
            })
            .collect()
    }

    /// A ledger rebuilt from stored state: the records and keys as of block
    /// `height` with hash `last_block`, the log, the hashes of blocks
    /// `1..=height` in order (the block history log is rebuilt from them)
    /// and the recorded anchors. The state tree is recomputed; compare
    /// [`Ledger::state_root`] with the stored header's, and
    /// [`Ledger::history`]'s size with `height`.
    #[must_use]
    pub fn restore(genesis: &Genesis, stored: StoredState) -> Self {
        let StoredState {
            height,
            last_block,
            accounts,
            operator_keys,
            log,
            block_hashes,
            anchors,
        } = stored;
        let history =
            MerkleLog::from_leaf_hashes(block_hashes.iter().map(|h| leaf_hash(h.as_bytes())));
        let header = genesis.header();
        let mut updates: Vec<Update> = accounts
            .iter()
            .map(|(id, a)| account_update(*id, a))
            .collect();
        updates.push((
            StateKey::Params.tree_key(),
            Some(value_hash(&header.params.to_bytes())),
        ));
        updates.push((
            StateKey::Validators.tree_key(),
            Some(value_hash(&header.validators.to_bytes())),
        ));
        let mut tree = StateTree::new();
        tree.update(updates);
        Self {
            genesis: genesis.hash(),
            params: header.params,
            validators: header.validators.clone(),
            bitcoin: header.pins_bitcoin().then_some(header.bitcoin),
            height,
            last_block,
            accounts,
            operator_keys,
            tree,
            log,
            history,
            anchors,
        }
    }

    /// The network's genesis hash.
    #[must_use]
    pub fn genesis_hash(&self) -> GenesisHash {
        self.genesis
    }

    /// Fees and limits.
    #[must_use]
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The validator set.
    #[must_use]
    pub fn validators(&self) -> &ValidatorSet {
        &self.validators
    }

    /// Height of the last committed block (0 at genesis).
    #[must_use]
    pub fn height(&self) -> Height {
        self.height
    }

    /// Hash of the last committed block (the genesis hash at height 0).
    #[must_use]
    pub fn last_block(&self) -> BlockHash {
        self.last_block
    }

    /// The record of `id`.
    #[must_use]
    pub fn account(&self, id: &AccountId) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// All account records, by id.
    pub fn accounts(&self) -> impl Iterator<Item = (&AccountId, &Account)> {
        self.accounts.iter()
    }

    /// The registered key of operator `id`.
    #[must_use]
    pub fn operator_key(&self, id: &OperatorId) -> Option<&PublicKey> {
        self.operator_keys.get(id)
    }

    /// The current state root.
    #[must_use]
    pub fn state_root(&self) -> StateRoot {
        self.tree.root()
    }

    /// The submission log.
    #[must_use]
    pub fn log(&self) -> &MerkleLog {
        &self.log
    }

    /// The block history log: leaf `h - 1` is `SHA-256(0x00 || hash of
    /// block h)`, one leaf per committed block.
    #[must_use]
    pub fn history(&self) -> &MerkleLog {
        &self.history
    }

    /// The root of the block history of blocks `1..=size`.
    ///
    /// # Errors
    /// [`LogError::SizeOutOfRange`] beyond the ledger's height.
    pub fn history_root(&self, size: Height) -> Result<Hash256, LogError> {
        self.history.root_at(size.get())
    }

    /// The RFC 9162 inclusion proof of block `height` (leaf `height - 1`) in
    /// the block history of size `anchored` (`1 <= height <= anchored <=`
    /// the ledger's height).
    ///
    /// # Errors
    /// [`LogError`] when the heights are out of range.
    pub fn history_proof(
        &self,
        height: Height,
        anchored: Height,
    ) -> Result<InclusionProof, LogError> {
        let index = height
            .get()
            .checked_sub(1)
            .ok_or(LogError::IndexOutOfRange {
                index: 0,
                size: anchored.get(),
            })?;
        self.history.inclusion_proof(index, anchored.get())
    }

    /// The anchor commitment for the chain up to block `height`.
    ///
    /// # Errors
    /// [`LogError::SizeOutOfRange`] beyond the ledger's height.
    pub fn anchor_commitment(&self, height: Height) -> Result<AnchorCommitment, LogError> {
        Ok(AnchorCommitment::compute(
            &self.genesis,
            height,
            &self.history_root(height)?,
        ))
    }

    /// Whether the chain carries an anchor record with `key`.
    #[must_use]
    pub fn anchor_recorded(&self, key: &AnchorKey) -> bool {
        self.anchors.contains(key)
    }

    /// Checks an anchor record against the ledger (all but its signature):
    /// the validator index is in the set, the record's kind fits the
    /// genesis (kind 5 with exactly `k` headers under a version-2 genesis
    /// that anchors, kind 4 under version 1), `1 <= height <=` the
    /// ledger's height, the commitment is the ledger's for that height,
    /// and no record with the same key is on chain. The Bitcoin part's own
    /// checks (proof of work, Merkle branch, payload) need the `bitcoin`
    /// crate: every node applies them before it counts a record
    /// (`pantheon-anchor`'s `spv::verify`, ADR 0013).
    ///
    /// # Errors
    /// [`TxError::UnknownValidator`], [`TxError::BadAnchorPart`],
    /// [`TxError::AnchorHeightOutOfRange`], [`TxError::WrongAnchorCommitment`]
    /// or [`TxError::AnchorAlreadyRecorded`].
    pub fn check_anchor_record(&self, record: &AnchorRecord) -> Result<(), TxError> {
        if self.validators.get(record.validator).is_none() {
            return Err(TxError::UnknownValidator(record.validator));
        }
        let bad = |reason: String| Err(TxError::BadAnchorPart(reason));
        match (self.bitcoin, &record.part) {
            (None, None) => {}
            (None, Some(_)) => {
                return bad("a version-1 genesis commits no Bitcoin network: record without a Bitcoin part (kind 4)".into());
            }
            (Some(None), _) => return bad("this network does not anchor to Bitcoin".into()),
            (Some(Some(_)), None) => {
                return bad("this network records anchors with their Bitcoin part (kind 5)".into());
            }
            (Some(Some(params)), Some(part)) => {
                if part.headers.len() != usize::from(params.confirmations) {
                    return bad(format!(
                        "the Bitcoin part carries {} headers; the genesis asks exactly {}",
                        part.headers.len(),
                        params.confirmations
                    ));
                }
            }
        }
        if self.anchor_recorded(&record.key()) {
            return Err(TxError::AnchorAlreadyRecorded(record.key()));
        }
        let out_of_range = TxError::AnchorHeightOutOfRange {
            height: record.height,
            ledger_height: self.height,
        };
        if record.height == Height::GENESIS || record.height > self.height {
            return Err(out_of_range);
        }
        let expected = self
            .anchor_commitment(record.height)
            .map_err(|_| out_of_range)?;
        if expected != record.commitment {
            return Err(TxError::WrongAnchorCommitment {
                height: record.height,
                expected,
                got: record.commitment,
            });
        }
        Ok(())
    }

    /// The account that signs `tx`: [`TxBody::signer`], or for an anchor
    /// record the id of the validator's key.
    ///
    /// # Errors
    /// [`TxError::UnknownValidator`] for an anchor record naming no validator.
    pub fn signer(&self, tx: &SignedTx) -> Result<AccountId, TxError> {
        match tx.body() {
            TxBody::AnchorRecord(a) => self
                .validators
                .get(a.validator)
                .map(|v| v.public_key.id())
                .ok_or(TxError::UnknownValidator(a.validator)),
            body => Ok(body
                .signer()
                .expect("every kind but the anchor record names its signer")),
        }
    }

    /// A proof of `id`'s record (or its absence) against the state root.
    #[must_use]
    pub fn prove_account(&self, id: &AccountId) -> (Option<Account>, StateProof) {
        let proof = self.tree.prove(&StateKey::Account(*id).tree_key());
        (self.accounts.get(id).copied(), proof)
    }

    /// The sum of all balances; always [`SUPPLY`].
    #[must_use]
    pub fn total_balance(&self) -> u128 {
        self.accounts
            .values()
            .map(|a| u128::from(a.balance.units()))
            .sum()
    }

    /// Executes `txs` as the next block proposed by validator `proposer`,
    /// without changing the ledger.
    ///
    /// # Errors
    /// [`BlockError`] for an unknown proposer, too many transactions, or (in
    /// [`Mode::Strict`]) the first invalid transaction.
    pub fn execute(
        &self,
        proposer: u16,
        txs: Vec<SignedTx>,
        mode: Mode,
        keys: &KeyCache,
    ) -> Result<Execution, BlockError> {
        let fee_recipient = self
            .validators
            .get(proposer)
            .ok_or(BlockError::UnknownProposer(proposer))?
            .public_key
            .id();
        let max = usize::try_from(self.params.max_block_txs)
            .unwrap_or(MAX_BLOCK_TXS)
            .min(MAX_BLOCK_TXS);
        if mode != Mode::Build && txs.len() > max {
            return Err(BlockError::TooManyTxs {
                count: txs.len(),
                max,
            });
        }
        let height = self.height.next();
        let signature_ok = if mode == Mode::Certified {
            self.signers(&txs).iter().map(Option::is_some).collect()
        } else {
            self.verify_signatures(&txs, keys)
        };
        let mut overlay = Overlay {
            base: self,
            accounts: BTreeMap::new(),
            new_operators: BTreeMap::new(),
            new_anchors: BTreeSet::new(),
        };
        let mut applied = Vec::with_capacity(txs.len().min(max));
        let mut rejected = Vec::new();
        let mut log = self.log.frontier();
        for (index, (tx, sig_ok)) in txs.into_iter().zip(signature_ok).enumerate() {
            if applied.len() == max {
                break; // Build mode only: the rest waits for the next block.
            }
            match overlay.apply(&tx, sig_ok, height, fee_recipient) {
                Ok(()) => {
                    if tx.as_submission().is_some() {
                        log.append(tx.id().hash());
                    }
                    applied.push(tx);
                }
                Err(error) => match mode {
                    Mode::Strict | Mode::Certified => {
                        return Err(BlockError::InvalidTx {
                            index,
                            id: tx.id(),
                            error: Box::new(error),
                        });
                    }
                    Mode::Build => rejected.push((tx.id(), error)),
                },
            }
        }
        let Overlay {
            accounts,
            new_operators,
            new_anchors,
            ..
        } = overlay;
        let mut tree = self.tree.clone();
        tree.update(
            accounts
                .iter()
                .map(|(id, a)| account_update(*id, a))
                .collect(),
        );
        let tx_ids: Vec<_> = applied.iter().map(|tx| tx.id().hash()).collect();
        Ok(Execution {
            height,
            proposer,
            tx_root: LogRoot::new(root_of(&tx_ids)),
            log_size: log.size(),
            log_root: LogRoot::new(log.root()),
            state_root: tree.root(),
            txs: applied,
            rejected,
            changed_accounts: accounts,
            new_operators,
            new_anchors,
            tree,
        })
    }

    /// Commits `exec` as the block with `header`, which must agree with it.
    ///
    /// # Errors
    /// [`BlockError`] if the header does not extend the ledger or does not
    /// match the execution; the ledger is then unchanged.
    pub fn commit(&mut self, header: &BlockHeader, exec: Execution) -> Result<(), BlockError> {
        if header.height != self.height.next() || exec.height != header.height {
            return Err(BlockError::WrongHeight {
                expected: self.height.next(),
                got: header.height,
            });
        }
        if header.parent != self.last_block {
            return Err(BlockError::WrongParent {
                expected: self.last_block,
                got: header.parent,
            });
        }
        let expected = exec.header(header.parent, header.time_ms, header.last_certificate);
        let mismatch = [
            ("proposer", expected.proposer == header.proposer),
            ("tx_count", expected.tx_count == header.tx_count),
            ("tx_root", expected.tx_root == header.tx_root),
            ("log_size", expected.log_size == header.log_size),
            ("log_root", expected.log_root == header.log_root),
            ("state_root", expected.state_root == header.state_root),
        ]
        .into_iter()
        .find(|(_, ok)| !ok);
        if let Some((field, _)) = mismatch {
            return Err(BlockError::HeaderMismatch(field));
        }
        for tx in exec.txs.iter().filter(|tx| tx.as_submission().is_some()) {
            self.log.append_leaf_hash(tx.id().hash());
        }
        self.accounts.extend(exec.changed_accounts);
        self.operator_keys.extend(exec.new_operators);
        self.anchors.extend(exec.new_anchors);
        self.tree = exec.tree;
        self.height = header.height;
        self.last_block = header.hash();
        self.history
            .append_leaf_hash(leaf_hash(self.last_block.as_bytes()));
        Ok(())
    }

    /// Executes `block` strictly and commits it.
    ///
    /// # Errors
    /// [`BlockError`]; the ledger is then unchanged.
    pub fn apply_block(&mut self, block: &Block, keys: &KeyCache) -> Result<(), BlockError> {
        if block.header.height != self.height.next() {
            return Err(BlockError::WrongHeight {
                expected: self.height.next(),
                got: block.header.height,
            });
        }
        let exec = self.execute(block.header.proposer, block.txs.clone(), Mode::Strict, keys)?;
        self.commit(&block.header, exec)
    }

    /// Builds the next block (header version 2) from `candidates` (invalid
    /// ones are dropped and reported in the execution), carrying
    /// `last_certificate`: the canonical quorum of the parent's
    /// certificate, `None` for block 1 (or in tests that build chains
    /// without certificates; [`Ledger::check_carried`] refuses such a
    /// block after block 1).
    ///
    /// # Errors
    /// [`BlockError::UnknownProposer`].
    pub fn propose(
        &self,
        proposer: u16,
        time_ms: u64,
        candidates: Vec<SignedTx>,
        last_certificate: Option<CommitCertificate>,
        keys: &KeyCache,
    ) -> Result<(Block, Execution), BlockError> {
        let exec = self.execute(proposer, candidates, Mode::Build, keys)?;
        let committed = last_certificate
            .as_ref()
            .map_or_else(CertificateHash::default, CommitCertificate::hash);
        let header = exec.header(self.last_block, time_ms, Some(committed));
        let block = Block {
            header,
            last_certificate,
            txs: exec.txs.clone(),
        };
        Ok((block, exec))
    }

    /// Checks what `block`, the next block, carries of its parent's
    /// finality (FORMATS 9.4). A version-2 block 1 carries nothing and
    /// commits to 32 zero bytes; a later version-2 block carries the
    /// canonical quorum of a certificate that finalizes the parent on this
    /// network, and commits to its hash. A version-1 block carries nothing
    /// and may only follow a version-1 block (`parent_version` is the
    /// parent header's version, 0 for the genesis): chains made before
    /// version 2 stay readable, and no proposer can go back to version 1.
    ///
    /// # Errors
    /// [`BlockError::CarriedCertificate`].
    pub fn check_carried(
        &self,
        block: &Block,
        parent_version: u8,
        keys: &KeyCache,
    ) -> Result<(), BlockError> {
        let height = block.header.height;
        let refuse = |reason: String| Err(BlockError::CarriedCertificate { height, reason });
        let Some(committed) = block.header.last_certificate else {
            if parent_version > BLOCK_VERSION {
                return refuse("a version-1 block cannot follow a version-2 block".into());
            }
            return Ok(());
        };
        match (&block.last_certificate, self.height == Height::GENESIS) {
            (None, true) if committed == CertificateHash::default() => Ok(()),
            (None, true) => refuse("block 1 must commit to 32 zero bytes".into()),
            (Some(_), true) => refuse("block 1 has no parent certificate to carry".into()),
            (None, false) => refuse("missing: every block after block 1 carries one".into()),
            (Some(cert), false) => {
                if cert.hash() != committed {
                    return refuse(format!(
                        "hashes to {}, the header commits to {committed}",
                        cert.hash()
                    ));
                }
                if !cert.is_canonical(&self.validators) {
                    return refuse(
                        "not canonical: signatures beyond the first quorum prefix".into(),
                    );
                }
                cert.verify_block(
                    self.genesis,
                    &self.validators,
                    self.height,
                    self.last_block,
                    keys,
                )
                .or_else(|e| refuse(e.to_string()))
            }
        }
    }

    /// Checks `tx`'s signature against the key that must sign it (the key in
    /// the transaction, or the registered key of the submitting operator),
    /// using and filling `keys`' cache of verified transactions. Used by the
    /// mempool, so that execution does not verify the same signature twice.
    ///
    /// # Errors
    /// [`TxError::UnknownOperator`] or [`TxError::BadSignature`].
    pub fn check_signature(&self, tx: &SignedTx, keys: &KeyCache) -> Result<(), TxError> {
        let (id, key) = match tx.body() {
            TxBody::RegisterOperator(r) => (r.key.id(), &r.key),
            TxBody::Transfer(t) => (t.from_key.id(), &t.from_key),
            TxBody::SubmitRoot(s) => (
                s.operator,
                self.operator_keys
                    .get(&s.operator)
                    .ok_or(TxError::UnknownOperator(s.operator))?,
            ),
            TxBody::AnchorRecord(a) => {
                let key = &self
                    .validators
                    .get(a.validator)
                    .ok_or(TxError::UnknownValidator(a.validator))?
                    .public_key;
                (key.id(), key)
            }
        };
        if keys.is_verified(&tx.id()) {
            return Ok(());
        }
        let message = tx.signing_message(&self.genesis);
        if !keys
            .get_by_id(id, key)
            .verify(tx.body().context(), &message, &tx.signature())
        {
            return Err(TxError::BadSignature(id));
        }
        keys.mark_verified(tx.id());
        Ok(())
    }

    /// The key each transaction must be signed with, then every signature
    /// not already known to verify checked in parallel. `false` where no key
    /// is known.
    fn verify_signatures(&self, txs: &[SignedTx], keys: &KeyCache) -> Vec<bool> {
        let signers = self.signers(txs);
        txs.par_iter()
            .zip(signers)
            .map(|(tx, signer)| {
                signer.is_some_and(|(id, key)| {
                    if keys.is_verified(&tx.id()) {
                        return true;
                    }
                    let ok = keys.get_by_id(id, key).verify(
                        tx.body().context(),
                        &tx.signing_message(&self.genesis),
                        &tx.signature(),
                    );
                    if ok {
                        keys.mark_verified(tx.id());
                    }
                    ok
                })
            })
            .collect()
    }

    /// The account id and key that must sign each transaction: the key in
    /// the transaction, or the operator's registered key (registered before
    /// or earlier in this block); `None` for an unknown operator.
    fn signers<'a>(&'a self, txs: &'a [SignedTx]) -> Vec<Option<(AccountId, &'a PublicKey)>> {
        let mut registered_here: BTreeMap<OperatorId, &PublicKey> = BTreeMap::new();
        txs.iter()
            .map(|tx| match tx.body() {
                TxBody::RegisterOperator(r) => {
                    let id = r.key.id();
                    registered_here.entry(id).or_insert(&r.key);
                    Some((id, &r.key))
                }
                TxBody::Transfer(t) => Some((t.from_key.id(), &t.from_key)),
                TxBody::SubmitRoot(s) => self
                    .operator_keys
                    .get(&s.operator)
                    .or_else(|| registered_here.get(&s.operator).copied())
                    .map(|k| (s.operator, k)),
                TxBody::AnchorRecord(a) => self
                    .validators
                    .get(a.validator)
                    .map(|v| (v.public_key.id(), &v.public_key)),
            })
            .collect()
    }
}

fn account_update(id: AccountId, account: &Account) -> Update {
    (
        StateKey::Account(id).tree_key(),
        Some(value_hash(&account.to_bytes())),
    )
}

/// The accounts touched by the block so far, over the committed ledger.
struct Overlay<'a> {
    base: &'a Ledger,
    accounts: BTreeMap<AccountId, Account>,
    new_operators: BTreeMap<OperatorId, PublicKey>,
    new_anchors: BTreeSet<AnchorKey>,
}

impl Overlay<'_> {
    fn get(&self, id: &AccountId) -> Option<Account> {
        self.accounts
            .get(id)
            .or_else(|| self.base.accounts.get(id))
            .copied()
    }

    /// Checks `tx` completely, then applies it; on error nothing changes.
    fn apply(
        &mut self,
        tx: &SignedTx,
        signature_ok: bool,
        height: Height,
        fee_recipient: AccountId,
    ) -> Result<(), TxError> {
        let params = self.base.params;
        let signer = match tx.body() {
            // No fee, no nonce, no state change: only checked.
            TxBody::AnchorRecord(a) => {
                let validator = self
                    .base
                    .validators
                    .get(a.validator)
                    .ok_or(TxError::UnknownValidator(a.validator))?;
                if !signature_ok {
                    return Err(TxError::BadSignature(validator.public_key.id()));
                }
                self.base.check_anchor_record(a)?;
                // Once per chain: also not twice in one block.
                if !self.new_anchors.insert(a.key()) {
                    return Err(TxError::AnchorAlreadyRecorded(a.key()));
                }
                return Ok(());
            }
            body => body
                .signer()
                .expect("every kind but the anchor record names its signer"),
        };
        let (payer, fee) = match tx.body() {
            TxBody::SubmitRoot(s) => {
                let account = self
                    .get(&s.operator)
                    .filter(|a| a.operator.is_some())
                    .ok_or(TxError::UnknownOperator(s.operator))?;
                if !signature_ok {
                    return Err(TxError::BadSignature(signer));
                }
                let op = account.operator.unwrap_or_default();
                check_seq(s.operator, &op, s.seq, s.prev)?;
                let mut account = debit(account, signer, params.submit_fee)?;
                account.operator = Some(OperatorState {
                    next_seq: op.next_seq + 1,
                    last: Some(LastSubmission {
                        id: tx.submission_id(),
                        root: s.root,
                        height,
                    }),
                });
                (account, params.submit_fee)
            }
            TxBody::RegisterOperator(r) => {
                let account = self.get(&signer).ok_or(TxError::UnknownAccount(signer))?;
                if !signature_ok {
                    return Err(TxError::BadSignature(signer));
                }
                if account.operator.is_some() {
                    return Err(TxError::AlreadyRegistered(signer));
                }
                check_nonce(signer, &account, r.nonce)?;
                let mut account = debit(account, signer, params.register_fee)?;
                account.nonce += 1;
                account.operator = Some(OperatorState::default());
                (account, params.register_fee)
            }
            TxBody::Transfer(t) => {
                let account = self.get(&signer).ok_or(TxError::UnknownAccount(signer))?;
                if !signature_ok {
                    return Err(TxError::BadSignature(signer));
                }
                check_nonce(signer, &account, t.nonce)?;
                let total = t
                    .amount
                    .checked_add(params.transfer_fee)
                    .map_err(|_| TxError::Overflow(signer))?;
                let mut account = debit(account, signer, total)?;
                account.nonce += 1;
                (account, params.transfer_fee)
            }
            TxBody::AnchorRecord(_) => unreachable!("returned above"),
        };
        // Credits: the transfer's recipient, then the fee to the proposer.
        // All checks are done on copies before anything is written.
        let mut credits: Vec<(AccountId, Amount)> = Vec::with_capacity(2);
        if let TxBody::Transfer(t) = tx.body() {
            credits.push((t.to, t.amount));
        }
        credits.push((fee_recipient, fee));
        let mut writes: BTreeMap<AccountId, Account> = BTreeMap::new();
        writes.insert(signer, payer);
        for (to, amount) in credits.into_iter().filter(|(_, a)| *a != Amount::ZERO) {
            let current = writes
                .get(&to)
                .copied()
                .or_else(|| self.get(&to))
                .unwrap_or_default();
            let balance = current
                .balance
                .checked_add(amount)
                .map_err(|_| TxError::Overflow(to))?;
            writes.insert(to, Account { balance, ..current });
        }
        debug_assert!(writes.values().all(|a| a.balance <= SUPPLY));
        if let TxBody::RegisterOperator(r) = tx.body() {
            self.new_operators.insert(signer, r.key.clone());
        }
        self.accounts.extend(writes);
        Ok(())
    }
}

fn check_seq(
    operator: OperatorId,
    op: &OperatorState,
    seq: u64,
    prev: SubmissionId,
) -> Result<(), TxError> {
    if seq < op.next_seq {
        return Err(TxError::SeqReused {
            operator,
            expected: op.next_seq,
            got: seq,
        });
    }
    if seq > op.next_seq {
        return Err(TxError::SeqGap {
            operator,
            expected: op.next_seq,
            got: seq,
        });
    }
    let expected = op.last.map(|l| l.id).unwrap_or_default();
    if prev != expected {
        return Err(TxError::WrongPrev {
            operator,
            expected,
            got: prev,
        });
    }
    Ok(())
}

fn check_nonce(account: AccountId, a: &Account, nonce: u64) -> Result<(), TxError> {
    if a.nonce != nonce {
        return Err(TxError::BadNonce {
            account,
            expected: a.nonce,
            got: nonce,
        });
    }
    Ok(())
}

fn debit(mut account: Account, id: AccountId, amount: Amount) -> Result<Account, TxError> {
    account.balance = account
        .balance
        .checked_sub(amount)
        .map_err(|_: AmountError| TxError::InsufficientFunds {
            account: id,
            needed: amount,
            available: account.balance,
        })?;
    Ok(account)
}
