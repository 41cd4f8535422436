//! The node's storage: one RocksDB database, one atomic write per block.
//!
//! | column family | key | value |
//! |---|---|---|
//! | `meta` | `height`, `genesis` | last committed height (u64 BE), genesis hash |
//! | `blocks` | height (u64 BE) | block header (docs/FORMATS.md 9.1) |
//! | `txs` | height (u64 BE) · index (u32 BE) | the block's transaction (FORMATS.md 5) |
//! | `certs` | height | commit certificate |
//! | `accounts` | account id | account record (FORMATS.md 6.1) |
//! | `keys` | operator id | operator public key |
//! | `log` | log index (u64 BE) | submission id (the log's leaf hash) |
//! | `submissions` | submission id | height (u64) · index in block (u32) · log index (u64) |
//! | `roots` | audit root · submission id | empty (for `pantheon_findRoot`) |
//! | `opseq` | operator id · seq (u64 BE) | submission id |
//! | `anchors` | anchor id (u64 BE, order of recording) | the signed AnchorRecord transaction |
//! | `anchor_keys` | anchored height (u64 BE) · Bitcoin block (internal order) | anchor id |
//! | `opstate` | operator id · height (u64 BE) | the operator's account record after the block and its state proof |
//! | `account_history` | account id · height (u64 BE) | the account record after that block (every change since `meta/history_from`) |
//! | `received` | transaction id | the receipt log: `order:u64 · tx_len:u32 · tx · receipt` (a transaction a client was told is `received`, and its signed receipt as JSON, empty on a full node) |
//!
//! `opstate` holds, for every block with submissions of an operator, that
//! operator's record and its proof against the block's state root (the
//! tree keeps only the current version, so the proof is taken when the
//! block commits): the evidence of an operator export (FORMATS 25), which
//! then never expires. Its value is `account_len:u8 · account ·
//! siblings:u16 · [32]·siblings · has_leaf:u8 · [key:[32] · value_hash:[32]]`.
//!
//! `account_history` is what a supply proof at an old height is made of
//! (FORMATS 28.2): the state after block `h` is the genesis allocations
//! overlaid, per account, with its latest entry at a height `<= h`, which
//! one backward seek per account finds. `meta/history_from` is the first
//! height it can answer: 0 for a store that kept it from genesis; for a
//! store made before it existed, the height at which its current
//! records were copied in as the baseline, once, at open.
//!
//! `meta/anchors` counts the anchors recorded; the ledger never lets a
//! second record of the same (height, Bitcoin block) into a block.
//!
//! `received` is the receipt log ([`crate::receipts`]): each group of
//! client transactions is written there in one synced batch before any of
//! them is answered, and [`Store::commit_block`] deletes the entries of the
//! transactions its block carries in the same batch as the block, so that
//! an entry outlives its transaction's finality only when the two writes
//! raced (a block committed while the group was being written), which the
//! re-admission at start-up clears.
//!
//! [`Store::commit_block`] writes a block, its certificate, every state
//! change, the log leaves and the indexes in one `WriteBatch` with `sync`,
//! and the new height last in the same batch. A crash at any instant
//! therefore leaves either the whole block or none of it, and a reopen
//! ([`Store::load_ledger`]) rebuilds the in-memory ledger from the records
//! and checks its state root and log root against the last header.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use pantheon_runtime::amount::Height;
use pantheon_runtime::anchor::BitcoinBlockHash;
use pantheon_runtime::block::{Block, BlockHeader, CommitCertificate};
use pantheon_runtime::codec::{CodecError, Encode, decode_exact};
use pantheon_runtime::crypto::{AccountId, OperatorId, PublicKey};
use pantheon_runtime::genesis::Genesis;
use pantheon_runtime::hash::{AuditRoot, GenesisHash, Hash256, SubmissionId, TxId};
use pantheon_runtime::ledger::{Execution, Ledger, StoredState};
use pantheon_runtime::log::MerkleLog;
use pantheon_runtime::smt::{ProofLeaf, StateProof};
use pantheon_runtime::state::Account;
use pantheon_runtime::tx::{AnchorKey, SignedTx, TxBody};
use rocksdb::{ColumnFamily, DB, IteratorMode, Options, WriteBatch, WriteOptions};

/// Values of at least this many bytes (transactions, operator keys, anchor
/// records) are kept in blob files rather than in the LSM tree.
const MIN_BLOB_SIZE: u64 = 1024;

/// Upper bound of the batch bytes a transaction adds besides its encoding
/// (its key and the log, submission, root and sequence index entries).
const BATCH_BYTES_PER_TX: usize = 512;

const CFS: [&str; 15] = [
    "meta",
    "blocks",
    "txs",
    "certs",
    "accounts",
    "keys",
    "log",
    "submissions",
    "roots",
    "opseq",
    "anchors",
    "anchor_keys",
    "opstate",
    "received",
    "account_history",
];

fn history_key(id: &AccountId, height: Height) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..32].copy_from_slice(id.as_bytes());
    key[32..].copy_from_slice(&height.get().to_be_bytes());
    key
}

fn opstate_key(operator: &OperatorId, height: Height) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..32].copy_from_slice(operator.as_bytes());
    key[32..].copy_from_slice(&height.get().to_be_bytes());
    key
}

fn encode_opstate(account: &Account, proof: &StateProof) -> Vec<u8> {
    let account = account.to_bytes();
    let mut out = Vec::with_capacity(1 + account.len() + 3 + 32 * proof.siblings.len() + 64);
    out.push(u8::try_from(account.len()).expect("account records are under 256 bytes"));
    out.extend_from_slice(&account);
    let n = u16::try_from(proof.siblings.len()).expect("at most 256 siblings");
    out.extend_from_slice(&n.to_be_bytes());
    for s in &proof.siblings {
        out.extend_from_slice(s.as_bytes());
    }
    match &proof.leaf {
        None => out.push(0),
        Some(leaf) => {
            out.push(1);
            out.extend_from_slice(leaf.key.as_bytes());
            out.extend_from_slice(leaf.value_hash.as_bytes());
        }
    }
    out
}

fn decode_opstate(b: &[u8]) -> Option<(Account, StateProof)> {
    let hash = |b: &[u8]| <[u8; 32]>::try_from(b).ok().map(Hash256::from_bytes);
    let (&len, rest) = b.split_first()?;
    let (account, rest) = rest.split_at_checked(usize::from(len))?;
    let account = decode_exact(account).ok()?;
    let (n, mut rest) = rest.split_at_checked(2)?;
    let n = u16::from_be_bytes(n.try_into().ok()?);
    let mut siblings = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let (s, r) = rest.split_at_checked(32)?;
        siblings.push(hash(s)?);
        rest = r;
    }
    let leaf = match rest {
        [0] => None,
        [1, kv @ ..] if kv.len() == 64 => Some(ProofLeaf {
            key: hash(&kv[..32])?,
            value_hash: hash(&kv[32..])?,
        }),
        _ => return None,
    };
    Some((account, StateProof { siblings, leaf }))
}

fn tx_key(height: Height, index: u32) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&height.get().to_be_bytes());
    key[8..].copy_from_slice(&index.to_be_bytes());
    key
}

fn anchor_key(key: &AnchorKey) -> [u8; 40] {
    let mut bytes = [0u8; 40];
    bytes[..8].copy_from_slice(&key.height.get().to_be_bytes());
    bytes[8..].copy_from_slice(key.bitcoin_block.as_bytes());
    bytes
}

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB failed.
    #[error("database: {0}")]
    Db(#[from] rocksdb::Error),
    /// A stored record does not decode: the database is corrupt.
    #[error("corrupt record in {cf}: {error}")]
    Corrupt {
        /// Column family.
        cf: &'static str,
        /// Decoding error.
        error: CodecError,
    },
    /// The database belongs to another network.
    #[error("database is for network {found}, not {expected}")]
    WrongNetwork {
        /// Genesis of the database.
        found: GenesisHash,
        /// Genesis configured.
        expected: GenesisHash,
    },
    /// The rebuilt state does not match the last header.
    #[error("state at height {height} does not match its header ({what})")]
    Inconsistent {
        /// Height.
        height: Height,
        /// What differs.
        what: &'static str,
    },
}

/// Result alias.
pub type Result<T> = std::result::Result<T, StoreError>;

/// One entry of the receipt log: a transaction a client was answered
/// `received` for, in the order of writing, with its signed receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedEntry {
    /// Position in the order of writing (increasing across restarts).
    pub order: u64,
    /// The transaction.
    pub tx: SignedTx,
    /// The receipt's JSON (FORMATS 26.2); empty when the node has no
    /// validator key, or the transaction is not a submission.
    pub receipt: Vec<u8>,
}

impl ReceivedEntry {
    fn to_bytes(&self) -> Vec<u8> {
        let tx = self.tx.as_bytes();
        let mut out = Vec::with_capacity(12 + tx.len() + self.receipt.len());
        out.extend_from_slice(&self.order.to_be_bytes());
        out.extend_from_slice(
            &u32::try_from(tx.len())
                .expect("transactions are under 4 GiB")
                .to_be_bytes(),
        );
        out.extend_from_slice(tx);
        out.extend_from_slice(&self.receipt);
        out
    }

    fn from_bytes(b: &[u8]) -> Result<Self> {
        let bad = |reason| StoreError::Corrupt {
            cf: "received",
            error: CodecError::Invalid {
                field: "entry",
                reason,
            },
        };
        let (order, rest) = b.split_at_checked(8).ok_or_else(|| bad("short"))?;
        let (len, rest) = rest.split_at_checked(4).ok_or_else(|| bad("short"))?;
        let len = u32::from_be_bytes(len.try_into().map_err(|_| bad("short"))?);
        let (tx, receipt) = rest
            .split_at_checked(usize::try_from(len).map_err(|_| bad("length"))?)
            .ok_or_else(|| bad("short"))?;
        Ok(Self {
            order: u64::from_be_bytes(order.try_into().map_err(|_| bad("short"))?),
            tx: decode_exact(tx).map_err(corrupt("received"))?,
            receipt: receipt.to_vec(),
        })
    }
}

/// Where a finalized submission sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Block height.
    pub height: Height,
    /// Index of the transaction in the block.
    pub tx_index: u32,
    /// Index in the submission log.
    pub log_index: u64,
}

impl Location {
    fn to_bytes(self) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[..8].copy_from_slice(&self.height.get().to_be_bytes());
        b[8..12].copy_from_slice(&self.tx_index.to_be_bytes());
        b[12..].copy_from_slice(&self.log_index.to_be_bytes());
        b
    }

    fn from_bytes(b: &[u8]) -> Option<Self> {
        let b: [u8; 20] = b.try_into().ok()?;
        Some(Self {
            height: Height::new(u64::from_be_bytes(b[..8].try_into().ok()?)),
            tx_index: u32::from_be_bytes(b[8..12].try_into().ok()?),
            log_index: u64::from_be_bytes(b[12..].try_into().ok()?),
        })
    }
}

/// The node's database.
/// One column family's sizes (see [`Store::column_family_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnFamilyStats {
    /// Its name.
    pub name: &'static str,
    /// Bytes of live SST files.
    pub live_sst_bytes: u64,
    /// Bytes in memtables.
    pub memtable_bytes: u64,
    /// RocksDB's estimate of its keys.
    pub estimated_keys: u64,
}

pub struct Store {
    db: DB,
    sync: WriteOptions,
}

fn corrupt(cf: &'static str) -> impl FnOnce(CodecError) -> StoreError {
    move |error| StoreError::Corrupt { cf, error }
}

impl Store {
    /// Opens (or creates) the database at `path` for the network `genesis`.
    ///
    /// # Errors
    /// Database errors, or a database of another network.
    pub fn open(path: &Path, genesis: GenesisHash) -> Result<Self> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(2);
        // With several column families, a write-ahead log file lives until
        // every family's memtable that saw it is flushed; the small families
        // (meta, anchors) would keep every log alive and double the disk.
        // Capping the total forces those flushes.
        opts.set_max_total_wal_size(64 << 20);
        // Column-family options (`open_cf` would give every family the
        // defaults, whatever `opts` says).
        let mut cf_opts = Options::default();
        cf_opts.set_compression_type(rocksdb::DBCompressionType::None);
        // Transactions (about 5.3 KB each, never rewritten) go to blob
        // files when memtables flush: written once, sequentially, and never
        // copied again by compaction, which then moves only small keys.
        cf_opts.set_enable_blob_files(true);
        cf_opts.set_min_blob_size(MIN_BLOB_SIZE);
        // The receipt log's entries live for a few blocks: kept in the LSM
        // tree, where a delete soon after the write is cheap, not in blob
        // files that would need garbage collection.
        let mut short_lived = Options::default();
        short_lived.set_compression_type(rocksdb::DBCompressionType::None);
        let db = DB::open_cf_with_opts(
            &opts,
            path,
            CFS.map(|cf| {
                let o = if cf == "received" {
                    short_lived.clone()
                } else {
                    cf_opts.clone()
                };
                (cf, o)
            }),
        )?;
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        let store = Self { db, sync };
        match store.db.get_cf(store.cf("meta"), b"genesis")? {
            Some(found) => {
                let found = GenesisHash::from_bytes(found.as_slice().try_into().map_err(|_| {
                    StoreError::Corrupt {
                        cf: "meta",
                        error: CodecError::Invalid {
                            field: "genesis",
                            reason: "not 32 bytes",
                        },
                    }
                })?);
                if found != genesis {
                    return Err(StoreError::WrongNetwork {
                        found,
                        expected: genesis,
                    });
                }
            }
            None => {
                store.db.put_cf_opt(
                    store.cf("meta"),
                    b"genesis",
                    genesis.as_bytes(),
                    &store.sync,
                )?;
            }
        }
        store.ensure_history_baseline()?;
        Ok(store)
    }

    /// Sets `meta/history_from` on a store that has none: 0 for an empty
    /// store, else the current height, with every current record copied
    /// into `account_history` at that height, in one synced batch.
    fn ensure_history_baseline(&self) -> Result<()> {
        if self.db.get_cf(self.cf("meta"), b"history_from")?.is_some() {
            return Ok(());
        }
        let height = self.height()?;
        let mut batch = WriteBatch::default();
        if height != Height::GENESIS {
            for item in self
                .db
                .iterator_cf(self.cf("accounts"), IteratorMode::Start)
            {
                let (k, v) = item?;
                let id = AccountId::from_bytes(k.as_ref().try_into().map_err(|_| {
                    corrupt("accounts")(CodecError::Invalid {
                        field: "account id",
                        reason: "not 32 bytes",
                    })
                })?);
                batch.put_cf(self.cf("account_history"), history_key(&id, height), v);
            }
            tracing::info!(
                target: "pantheon::store",
                %height,
                "account history starts at the current height (this store predates it): \
                 supply proofs are available from here on"
            );
        }
        batch.put_cf(self.cf("meta"), b"history_from", height.get().to_be_bytes());
        self.db.write_opt(batch, &self.sync)?;
        Ok(())
    }

    /// The first height whose state [`Self::accounts_at`] can rebuild.
    ///
    /// # Errors
    /// Database errors.
    pub fn history_from(&self) -> Result<Height> {
        Ok(self
            .db
            .get_cf(self.cf("meta"), b"history_from")?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map_or(Height::GENESIS, |b| Height::new(u64::from_be_bytes(b))))
    }

    /// Every account record of the state after block `height`: the
    /// genesis allocations overlaid with each account's latest history
    /// entry at or below `height` (one backward seek per account).
    /// `None` if `height` is below [`Self::history_from`] or above the last
    /// committed block.
    ///
    /// # Errors
    /// Database errors or corrupt records.
    pub fn accounts_at(
        &self,
        genesis: &Genesis,
        height: Height,
    ) -> Result<Option<BTreeMap<AccountId, Account>>> {
        if height < self.history_from()? || height > self.height()? {
            return Ok(None);
        }
        let mut accounts = Ledger::genesis_accounts(genesis);
        let mut it = self.db.raw_iterator_cf(self.cf("account_history"));
        it.seek_to_first();
        while let Some(key) = it.key() {
            let id: [u8; 32] = key
                .get(..32)
                .and_then(|k| k.try_into().ok())
                .ok_or_else(|| {
                    corrupt("account_history")(CodecError::Invalid {
                        field: "history key",
                        reason: "not 40 bytes",
                    })
                })?;
            let id = AccountId::from_bytes(id);
            it.seek_for_prev(history_key(&id, height));
            if let (Some(k), Some(v)) = (it.key(), it.value())
                && k.starts_with(id.as_bytes())
            {
                let account: Account = decode_exact(v).map_err(corrupt("account_history"))?;
                accounts.insert(id, account);
            }
            // On to the first entry of the next account.
            it.seek(history_key(&id, Height::new(u64::MAX)));
            if it.key().is_some_and(|k| k.starts_with(id.as_bytes())) {
                it.next();
            }
        }
        it.status()?;
        Ok(Some(accounts))
    }

    /// RocksDB's size figures of every column family, for `/metrics`
    /// (in-memory properties: no disk read). A property RocksDB does not
    /// answer counts as 0.
    #[must_use]
    pub fn column_family_stats(&self) -> Vec<ColumnFamilyStats> {
        let int = |cf: &ColumnFamily, property: &str| {
            self.db
                .property_int_value_cf(cf, property)
                .ok()
                .flatten()
                .unwrap_or(0)
        };
        CFS.iter()
            .map(|&name| {
                let cf = self.cf(name);
                ColumnFamilyStats {
                    name,
                    live_sst_bytes: int(cf, "rocksdb.live-sst-files-size"),
                    memtable_bytes: int(cf, "rocksdb.cur-size-all-mem-tables"),
                    estimated_keys: int(cf, "rocksdb.estimate-num-keys"),
                }
            })
            .collect()
    }

    fn cf(&self, name: &str) -> &ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is created at open")
    }

    /// The last committed height (0 before the first block).
    ///
    /// # Errors
    /// Database errors.
    pub fn height(&self) -> Result<Height> {
        Ok(self
            .db
            .get_cf(self.cf("meta"), b"height")?
            .and_then(|b| b.as_slice().try_into().ok().map(u64::from_be_bytes))
            .map_or(Height::GENESIS, Height::new))
    }

    /// Commits a finalized block atomically.
    ///
    /// # Errors
    /// Database errors; then nothing was written.
    pub fn commit_block(
        &self,
        block: &Block,
        cert: &CommitCertificate,
        exec: &Execution,
        first_log_index: u64,
    ) -> Result<()> {
        let h = block.header.height.get().to_be_bytes();
        // Sized up front: a full block's batch is tens of megabytes, and
        // growing it by doubling copies it and faults in fresh pages.
        let tx_bytes: usize = block.txs.iter().map(|tx| tx.as_bytes().len()).sum();
        let mut batch =
            WriteBatch::with_capacity_bytes(tx_bytes + block.txs.len() * BATCH_BYTES_PER_TX + 4096);
        // The header and each transaction under its own key: status and
        // proof queries read one transaction, not a block of up to ~70 MB.
        batch.put_cf(self.cf("blocks"), h, block.header.to_bytes());
        for (i, tx) in block.txs.iter().enumerate() {
            let i = u32::try_from(i).expect("blocks hold under 2^32 transactions");
            batch.delete_cf(self.cf("received"), tx.id().as_bytes());
            batch.put_cf(
                self.cf("txs"),
                tx_key(block.header.height, i),
                tx.as_bytes(),
            );
        }
        batch.put_cf(self.cf("certs"), h, cert.to_bytes());
        // The parent's certificate becomes the one consensus fixed with this
        // block (header version 2): every node then stores the same bytes.
        if let Some(carried) = &block.last_certificate {
            batch.put_cf(
                self.cf("certs"),
                carried.height.get().to_be_bytes(),
                carried.to_bytes(),
            );
        }
        for (id, account) in &exec.changed_accounts {
            let record = account.to_bytes();
            batch.put_cf(
                self.cf("account_history"),
                history_key(id, block.header.height),
                &record,
            );
            batch.put_cf(self.cf("accounts"), id.as_bytes(), record);
        }
        for (id, key) in &exec.new_operators {
            batch.put_cf(self.cf("keys"), id.as_bytes(), key.as_bytes());
        }
        let mut log_index = first_log_index;
        for (tx_index, tx) in block.txs.iter().enumerate() {
            let Some(sub) = tx.as_submission() else {
                continue;
            };
            let id = tx.submission_id();
            let loc = Location {
                height: block.header.height,
                tx_index: u32::try_from(tx_index).expect("blocks hold under 2^32 transactions"),
                log_index,
            };
            batch.put_cf(self.cf("log"), log_index.to_be_bytes(), id.as_bytes());
            batch.put_cf(self.cf("submissions"), id.as_bytes(), loc.to_bytes());
            let mut root_key = [0u8; 64];
            root_key[..32].copy_from_slice(sub.root.as_bytes());
            root_key[32..].copy_from_slice(id.as_bytes());
            batch.put_cf(self.cf("roots"), root_key, []);
            let mut opseq = [0u8; 40];
            opseq[..32].copy_from_slice(sub.operator.as_bytes());
            opseq[32..].copy_from_slice(&sub.seq.to_be_bytes());
            batch.put_cf(self.cf("opseq"), opseq, id.as_bytes());
            log_index += 1;
        }
        let operators: BTreeSet<OperatorId> = block
            .txs
            .iter()
            .filter_map(|tx| tx.as_submission().map(|s| s.operator))
            .collect();
        for operator in operators {
            let Some(account) = exec.changed_accounts.get(&operator) else {
                continue; // a submission always changes its operator's record
            };
            batch.put_cf(
                self.cf("opstate"),
                opstate_key(&operator, block.header.height),
                encode_opstate(account, &exec.prove_account(&operator)),
            );
        }
        // The ledger refused any record whose key the chain carries, so each
        // record here is new (FORMATS.md 19).
        let mut anchors = self.anchor_count()?;
        for tx in &block.txs {
            let TxBody::AnchorRecord(r) = tx.body() else {
                continue;
            };
            batch.put_cf(self.cf("anchors"), anchors.to_be_bytes(), tx.as_bytes());
            batch.put_cf(
                self.cf("anchor_keys"),
                anchor_key(&r.key()),
                anchors.to_be_bytes(),
            );
            anchors += 1;
        }
        batch.put_cf(self.cf("meta"), b"anchors", anchors.to_be_bytes());
        batch.put_cf(self.cf("meta"), b"height", h);
        self.db.write_opt(batch, &self.sync)?;
        Ok(())
    }

    /// Writes a group of received transactions to the receipt log in one
    /// synced batch: when this returns `Ok`, every one of them survives a
    /// crash.
    ///
    /// # Errors
    /// Database errors; then none of them is durable.
    pub fn put_received(&self, entries: &[ReceivedEntry]) -> Result<()> {
        let bytes: usize = entries
            .iter()
            .map(|e| 12 + e.tx.as_bytes().len() + e.receipt.len() + 64)
            .sum();
        let mut batch = WriteBatch::with_capacity_bytes(bytes);
        for e in entries {
            batch.put_cf(self.cf("received"), e.tx.id().as_bytes(), e.to_bytes());
        }
        self.db.write_opt(batch, &self.sync)?;
        Ok(())
    }

    /// The receipt log's entry of transaction `id`, if any.
    ///
    /// # Errors
    /// Database errors; a corrupt entry.
    pub fn received_entry(&self, id: &TxId) -> Result<Option<ReceivedEntry>> {
        self.db
            .get_cf(self.cf("received"), id.as_bytes())?
            .map(|b| ReceivedEntry::from_bytes(&b))
            .transpose()
    }

    /// Every entry of the receipt log, in the order they were written.
    ///
    /// # Errors
    /// Database errors; a corrupt entry.
    pub fn received(&self) -> Result<Vec<ReceivedEntry>> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf("received"), IteratorMode::Start)
        {
            let (_, value) = item?;
            out.push(ReceivedEntry::from_bytes(&value)?);
        }
        out.sort_by_key(|e| e.order);
        Ok(out)
    }

    /// Removes entries from the receipt log (finalized, or refused at
    /// re-admission), in one synced batch.
    ///
    /// # Errors
    /// Database errors.
    pub fn forget_received(&self, ids: &[TxId]) -> Result<()> {
        let mut batch = WriteBatch::default();
        for id in ids {
            batch.delete_cf(self.cf("received"), id.as_bytes());
        }
        self.db.write_opt(batch, &self.sync)?;
        Ok(())
    }

    /// How many anchors are recorded.
    ///
    /// # Errors
    /// Database errors.
    pub fn anchor_count(&self) -> Result<u64> {
        Ok(self
            .db
            .get_cf(self.cf("meta"), b"anchors")?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map_or(0, u64::from_be_bytes))
    }

    /// The keys of every recorded anchor.
    fn anchor_keys(&self) -> Result<BTreeSet<AnchorKey>> {
        let mut out = BTreeSet::new();
        for item in self
            .db
            .iterator_cf(self.cf("anchor_keys"), IteratorMode::Start)
        {
            let (k, _) = item?;
            let bytes: [u8; 40] = k.as_ref().try_into().map_err(|_| {
                corrupt("anchor_keys")(CodecError::Invalid {
                    field: "anchor key",
                    reason: "not 40 bytes",
                })
            })?;
            let (height, block) = bytes.split_at(8);
            out.insert(AnchorKey {
                height: Height::new(u64::from_be_bytes(height.try_into().expect("split at 8"))),
                bitcoin_block: BitcoinBlockHash::from_bytes(
                    block.try_into().expect("40 - 8 bytes"),
                ),
            });
        }
        Ok(out)
    }

    /// The recorded anchor `id` (its AnchorRecord transaction).
    ///
    /// # Errors
    /// Database errors or a corrupt record.
    pub fn anchor(&self, id: u64) -> Result<Option<SignedTx>> {
        self.db
            .get_cf(self.cf("anchors"), id.to_be_bytes())?
            .map(|b| decode_exact(&b).map_err(corrupt("anchors")))
            .transpose()
    }

    /// The newest `n` recorded anchors, oldest first, with their ids.
    ///
    /// # Errors
    /// Database errors or a corrupt record.
    pub fn recent_anchors(&self, n: usize) -> Result<Vec<(u64, SignedTx)>> {
        let count = self.anchor_count()?;
        let from = count.saturating_sub(u64::try_from(n).unwrap_or(u64::MAX));
        let mut out = Vec::new();
        for id in from..count {
            if let Some(tx) = self.anchor(id)? {
                out.push((id, tx));
            }
        }
        Ok(out)
    }

    /// Replaces the certificate of a committed height.
    ///
    /// # Errors
    /// Database errors.
    pub fn put_certificate(&self, cert: &CommitCertificate) -> Result<()> {
        self.db.put_cf_opt(
            self.cf("certs"),
            cert.height.get().to_be_bytes(),
            cert.to_bytes(),
            &self.sync,
        )?;
        Ok(())
    }

    /// The block at `height`.
    ///
    /// # Errors
    /// Database errors or a corrupt record.
    pub fn block(&self, height: Height) -> Result<Option<Block>> {
        let Some(header) = self.header(height)? else {
            return Ok(None);
        };
        let mut txs = Vec::with_capacity(header.tx_count as usize);
        for value in self.tx_bytes(height)? {
            txs.push(decode_exact(&value).map_err(corrupt("txs"))?);
        }
        if txs.len() != header.tx_count as usize {
            return Err(StoreError::Inconsistent {
                height,
                what: "transaction count differs from the header",
            });
        }
        // What a version-2 block carries is its parent's certificate as
        // stored since the block's commit (see `commit_block`).
        let last_certificate = match header.last_certificate {
            Some(committed) if height.get() > 1 => {
                let parent = Height::new(height.get() - 1);
                let cert = self.certificate(parent)?.ok_or(StoreError::Inconsistent {
                    height,
                    what: "the parent's certificate is missing",
                })?;
                if cert.hash() != committed {
                    return Err(StoreError::Inconsistent {
                        height,
                        what: "the parent's certificate is not the one the block carried",
                    });
                }
                Some(cert)
            }
            _ => None,
        };
        Ok(Some(Block {
            header,
            last_certificate,
            txs,
        }))
    }

    /// Transaction `index` of the block at `height`.
    ///
    /// # Errors
    /// Database errors or a corrupt record.
    pub fn tx(&self, height: Height, index: u32) -> Result<Option<SignedTx>> {
        self.db
            .get_cf(self.cf("txs"), tx_key(height, index))?
            .map(|b| decode_exact(&b).map_err(corrupt("txs")))
            .transpose()
    }

    /// The ids of the transactions of the block at `height`, in order.
    ///
    /// # Errors
    /// Database errors or a corrupt record.
    pub fn tx_ids(&self, height: Height) -> Result<Vec<TxId>> {
        Ok(self
            .tx_bytes(height)?
            .iter()
            .map(|value| TxId::new(pantheon_runtime::log::leaf_hash(value)))
            .collect())
    }

    /// The encoded transactions of the block at `height`, in order.
    fn tx_bytes(&self, height: Height) -> Result<Vec<Box<[u8]>>> {
        let prefix = height.get().to_be_bytes();
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf("txs"),
            IteratorMode::From(&tx_key(height, 0), rocksdb::Direction::Forward),
        );
        for item in iter {
            let (key, value) = item?;
            if !key.starts_with(&prefix) {
                break;
            }
            out.push(value);
        }
        Ok(out)
    }

    /// The header at `height`.
    ///
    /// # Errors
    /// Database errors or a corrupt record.
    pub fn header(&self, height: Height) -> Result<Option<BlockHeader>> {
        let Some(bytes) = self
            .db
            .get_cf(self.cf("blocks"), height.get().to_be_bytes())?
        else {
            return Ok(None);
        };
        decode_exact(&bytes).map(Some).map_err(corrupt("blocks"))
    }

    /// The commit certificate at `height`.
    ///
    /// # Errors
    /// Database errors or a corrupt record.
    pub fn certificate(&self, height: Height) -> Result<Option<CommitCertificate>> {
        self.db
            .get_cf(self.cf("certs"), height.get().to_be_bytes())?
            .map(|b| decode_exact(&b).map_err(corrupt("certs")))
            .transpose()
    }

    /// Where a finalized submission sits.
    ///
    /// # Errors
    /// Database errors.
    pub fn location(&self, id: &SubmissionId) -> Result<Option<Location>> {
        Ok(self
            .db
            .get_cf(self.cf("submissions"), id.as_bytes())?
            .and_then(|b| Location::from_bytes(&b)))
    }

    /// The finalized submission of `operator` with sequence number `seq`.
    ///
    /// # Errors
    /// Database errors.
    pub fn submission_at(&self, operator: &OperatorId, seq: u64) -> Result<Option<SubmissionId>> {
        let mut key = [0u8; 40];
        key[..32].copy_from_slice(operator.as_bytes());
        key[32..].copy_from_slice(&seq.to_be_bytes());
        Ok(self
            .db
            .get_cf(self.cf("opseq"), key)?
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .map(SubmissionId::from_bytes))
    }

    /// `operator`'s account record after block `height` and its proof
    /// against that block's state root, kept for every block that holds
    /// one of its submissions (`None` for other blocks).
    ///
    /// # Errors
    /// Database errors, or a record that does not decode.
    pub fn operator_state(
        &self,
        operator: &OperatorId,
        height: Height,
    ) -> Result<Option<(Account, StateProof)>> {
        self.db
            .get_cf(self.cf("opstate"), opstate_key(operator, height))?
            .map(|b| {
                decode_opstate(&b).ok_or(StoreError::Corrupt {
                    cf: "opstate",
                    error: CodecError::Invalid {
                        field: "opstate",
                        reason: "not an account record and its proof",
                    },
                })
            })
            .transpose()
    }

    /// The finalized submissions that carry `root`.
    ///
    /// # Errors
    /// Database errors.
    pub fn submissions_with_root(&self, root: &AuditRoot) -> Result<Vec<SubmissionId>> {
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf("roots"),
            IteratorMode::From(root.as_bytes(), rocksdb::Direction::Forward),
        );
        for item in iter {
            let (key, _) = item?;
            if !key.starts_with(root.as_bytes()) || key.len() != 64 {
                break;
            }
            let id: [u8; 32] = key[32..].try_into().expect("checked length");
            out.push(SubmissionId::from_bytes(id));
        }
        Ok(out)
    }

    /// Rebuilds the ledger as of the last committed block and checks it
    /// against that block's header.
    ///
    /// # Errors
    /// Database errors, corrupt records, or a state that does not match.
    pub fn load_ledger(&self, genesis: &Genesis) -> Result<Ledger> {
        let height = self.height()?;
        if height == Height::GENESIS {
            return Ok(Ledger::from_genesis(genesis));
        }
        // Only accounts a block changed are stored: the genesis allocations
        // that no block has touched yet come from the genesis itself.
        let mut accounts = Ledger::genesis_accounts(genesis);
        for item in self
            .db
            .iterator_cf(self.cf("accounts"), IteratorMode::Start)
        {
            let (k, v) = item?;
            let id = AccountId::from_bytes(k.as_ref().try_into().map_err(|_| {
                corrupt("accounts")(CodecError::Invalid {
                    field: "account id",
                    reason: "not 32 bytes",
                })
            })?);
            let account: Account = decode_exact(&v).map_err(corrupt("accounts"))?;
            accounts.insert(id, account);
        }
        let mut keys: BTreeMap<OperatorId, PublicKey> = BTreeMap::new();
        for item in self.db.iterator_cf(self.cf("keys"), IteratorMode::Start) {
            let (k, v) = item?;
            let key: PublicKey = decode_exact(&v).map_err(corrupt("keys"))?;
            let id = key.id();
            if id.as_bytes()[..] != k[..] {
                return Err(StoreError::Inconsistent {
                    height,
                    what: "operator key under another id",
                });
            }
            keys.insert(id, key);
        }
        let mut log = MerkleLog::new();
        for item in self.db.iterator_cf(self.cf("log"), IteratorMode::Start) {
            let (_, v) = item?;
            let leaf: [u8; 32] = v.as_ref().try_into().map_err(|_| {
                corrupt("log")(CodecError::Invalid {
                    field: "log leaf",
                    reason: "not 32 bytes",
                })
            })?;
            log.append_leaf_hash(Hash256::from_bytes(leaf));
        }
        let header = self.header(height)?.ok_or(StoreError::Inconsistent {
            height,
            what: "missing block",
        })?;
        let mut block_hashes = Vec::with_capacity(usize::try_from(height.get()).unwrap_or(0));
        for h in 1..=height.get() {
            let header = self
                .header(Height::new(h))?
                .ok_or(StoreError::Inconsistent {
                    height: Height::new(h),
                    what: "missing block",
                })?;
            block_hashes.push(header.hash());
        }
        let ledger = Ledger::restore(
            genesis,
            StoredState {
                height,
                last_block: header.hash(),
                accounts,
                operator_keys: keys,
                log,
                block_hashes,
                anchors: self.anchor_keys()?,
            },
        );
        if ledger.state_root() != header.state_root {
            return Err(StoreError::Inconsistent {
                height,
                what: "state root",
            });
        }
        if ledger.log().size() != header.log_size || ledger.log().root() != header.log_root.hash() {
            return Err(StoreError::Inconsistent {
                height,
                what: "submission log",
            });
        }
        Ok(ledger)
    }
}

#[cfg(test)]
mod tests {
    use pantheon_runtime::amount::{Amount, SUPPLY};
    use pantheon_runtime::crypto::{KeyCache, Keypair};
    use pantheon_runtime::genesis::{Allocation, Params, Validator, ValidatorSet};
    use pantheon_runtime::tx::Transfer;

    use super::*;

    /// Two funded accounts (the validator and `alice`), one validator.
    fn genesis(validator: &Keypair, alice: &Keypair) -> Genesis {
        let mut allocations = vec![
            Allocation {
                account: validator.id(),
                amount: Amount::from_units(SUPPLY.units() - 10_000_000),
            },
            Allocation {
                account: alice.id(),
                amount: Amount::from_units(10_000_000),
            },
        ];
        allocations.sort_by_key(|a| a.account);
        let validators = ValidatorSet::new(vec![Validator {
            public_key: validator.public().clone(),
            power: 1,
        }])
        .unwrap();
        Genesis::new(
            "store-test".into(),
            0,
            Params::default(),
            validators,
            allocations,
        )
        .unwrap()
    }

    /// Proposes, stores and commits one block of `txs`.
    fn commit(store: &Store, ledger: &mut Ledger, txs: Vec<SignedTx>) {
        let (block, exec) = ledger
            .propose(
                0,
                ledger.height().get() + 1,
                txs,
                None,
                &KeyCache::default(),
            )
            .unwrap();
        assert!(exec.rejected.is_empty(), "{:?}", exec.rejected);
        let cert = CommitCertificate {
            height: block.header.height,
            round: 0,
            block_hash: block.header.hash(),
            signatures: Vec::new(),
        };
        store
            .commit_block(&block, &cert, &exec, ledger.log().size())
            .unwrap();
        ledger.commit(&block.header, exec).unwrap();
    }

    /// A reopened store rebuilds the ledger it was closed with: on a chain
    /// of empty blocks (no account ever written, the defect of issue 11),
    /// and after a transfer that changes one of two genesis accounts.
    #[test]
    fn reopened_store_rebuilds_the_ledger_of_empty_and_transfer_chains() {
        let (validator, alice) = (
            Keypair::from_seed(&[0xaa; 32]),
            Keypair::from_seed(&[0x01; 32]),
        );
        let genesis = genesis(&validator, &alice);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut ledger = Ledger::from_genesis(&genesis);
        {
            let store = Store::open(&path, genesis.hash()).unwrap();
            for _ in 0..3 {
                commit(&store, &mut ledger, Vec::new());
            }
        }
        let store = Store::open(&path, genesis.hash()).unwrap();
        let reopened = store.load_ledger(&genesis).unwrap();
        assert_eq!(reopened.height(), Height::new(3));
        assert_eq!(reopened.state_root(), ledger.state_root());

        let transfer = TxBody::Transfer(Transfer {
            from_key: alice.public().clone(),
            to: validator.id(),
            amount: Amount::from_units(1),
            nonce: 0,
        })
        .sign(&genesis.hash(), &alice);
        commit(&store, &mut ledger, vec![transfer]);
        drop(store);
        let store = Store::open(&path, genesis.hash()).unwrap();
        let reopened = store.load_ledger(&genesis).unwrap();
        assert_eq!(reopened.height(), Height::new(4));
        assert_eq!(reopened.state_root(), ledger.state_root());
        assert_eq!(reopened.total_balance(), u128::from(SUPPLY.units()));
    }
    /// `accounts_at(h)` is the state after block `h`, for every `h`: new
    /// accounts appear at the block that made them, changed ones keep
    /// their old records below it, and the records rebuild each block's
    /// state root. A store from before the history answers from the
    /// height it was opened at.
    #[test]
    fn account_history_gives_the_state_after_every_block() {
        let (validator, alice) = (
            Keypair::from_seed(&[0xaa; 32]),
            Keypair::from_seed(&[0x01; 32]),
        );
        let (bob, carol) = (
            Keypair::from_seed(&[0x02; 32]).id(),
            Keypair::from_seed(&[0x03; 32]).id(),
        );
        let genesis = genesis(&validator, &alice);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut ledger = Ledger::from_genesis(&genesis);
        let pay = |nonce: u64, to: AccountId| {
            TxBody::Transfer(Transfer {
                from_key: alice.public().clone(),
                to,
                amount: Amount::from_units(1_000 + nonce),
                nonce,
            })
            .sign(&genesis.hash(), &alice)
        };
        let store = Store::open(&path, genesis.hash()).unwrap();
        assert_eq!(store.history_from().unwrap(), Height::GENESIS);
        let mut states = vec![ledger.accounts().map(|(i, a)| (*i, *a)).collect()];
        for txs in [vec![pay(0, bob)], vec![], vec![pay(1, carol), pay(2, bob)]] {
            commit(&store, &mut ledger, txs);
            states.push(ledger.accounts().map(|(i, a)| (*i, *a)).collect());
        }
        for (h, state) in states.iter().enumerate() {
            let h = Height::new(u64::try_from(h).unwrap());
            let got = store.accounts_at(&genesis, h).unwrap().unwrap();
            assert_eq!(&got, state, "height {h}");
            if h != Height::GENESIS {
                let header = store.header(h).unwrap().unwrap();
                let restored = Ledger::restore(
                    &genesis,
                    StoredState {
                        accounts: got,
                        ..StoredState::default()
                    },
                );
                assert_eq!(restored.state_root(), header.state_root, "height {h}");
            }
        }
        assert!(
            store
                .accounts_at(&genesis, Height::new(4))
                .unwrap()
                .is_none()
        );

        // A store made before the history: no entries, no history_from.
        let history: Vec<Box<[u8]>> = store
            .db
            .iterator_cf(store.cf("account_history"), IteratorMode::Start)
            .map(|kv| kv.unwrap().0)
            .collect();
        for k in history {
            store.db.delete_cf(store.cf("account_history"), k).unwrap();
        }
        store
            .db
            .delete_cf(store.cf("meta"), b"history_from")
            .unwrap();
        drop(store);
        let store = Store::open(&path, genesis.hash()).unwrap();
        assert_eq!(store.history_from().unwrap(), Height::new(3));
        assert!(
            store
                .accounts_at(&genesis, Height::new(2))
                .unwrap()
                .is_none()
        );
        assert_eq!(
            store
                .accounts_at(&genesis, Height::new(3))
                .unwrap()
                .unwrap(),
            states[3]
        );
        commit(&store, &mut ledger, vec![pay(3, carol)]);
        let after: BTreeMap<_, _> = ledger.accounts().map(|(i, a)| (*i, *a)).collect();
        assert_eq!(
            store
                .accounts_at(&genesis, Height::new(3))
                .unwrap()
                .unwrap(),
            states[3]
        );
        assert_eq!(
            store
                .accounts_at(&genesis, Height::new(4))
                .unwrap()
                .unwrap(),
            after
        );
    }
}
