//! Audit documents (FORMATS section 28): what an outsider fetches to
//! check, offline and on no node's word, that the supply is whole at some
//! height and that the submission log only ever grew.
//!
//! Every document hangs from a *certified header*: a block header and its
//! commit certificate, checked against the genesis validators exactly as
//! a proof bundle's are (FORMATS 16). The header commits to the state root
//! and to the log's size and root, so:
//!
//! ```text
//! supply proof   every account record of the state after block h;
//!                tree(records + genesis params + genesis validators)
//!                   == header(h).state_root            (link "state")
//!                sum of balances == 5,000,000,000 PAN  (link "supply")
//! checkpoint     (origin, log_size, log_root) of header(h), as the
//!                C2SP tlog-checkpoint body              (link "checkpoint")
//! consistency    two checkpoints of one network, old size <= new size,
//!                RFC 9162 consistency proof old root -> new root
//!                                                       (link "consistency")
//! ```
//!
//! A supply proof carries the whole state: the state tree is a plain
//! sparse Merkle tree with no sums in its nodes, so the only way to prove
//! a sum against its root is to show every leaf. Documents are bounded by
//! [`MAX_SUPPLY_ACCOUNTS`] records (at most about 15 MB of compact JSON,
//! under the 16 MiB a node's JSON-RPC answer may have); a network with
//! more accounts needs a state tree that commits to subtree sums, a new
//! state version (noted in `docs/FORMATS.md` 28.2).
//!
//! The checkpoint is "signed" by the certificate: more than two thirds of
//! the genesis validators' ML-DSA-65 precommits on the header that carries
//! it, which is stronger than one log operator's note signature. The body
//! text is there for tools that read C2SP checkpoints; it has no signature
//! lines of its own, since C2SP defines no ML-DSA note signature.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::amount::{Height, SUPPLY};
use crate::block::{BlockHeader, CommitCertificate};
use crate::codec::{Encode, decode_exact};
use crate::crypto::{AccountId, KeyCache};
use crate::genesis::GenesisHeader;
use crate::hash::{BlockHash, GenesisHash, Hash256, StateRoot};
use crate::log::ConsistencyProof;
use crate::smt::{StateTree, Update};
use crate::state::{Account, StateKey, value_hash};

/// The `supply_proof` member's value.
pub const SUPPLY_PROOF_VERSION: u32 = 1;
/// The `log_checkpoint` member's value.
pub const CHECKPOINT_VERSION: u32 = 1;
/// The `log_consistency` member's value.
pub const CONSISTENCY_VERSION: u32 = 1;
/// Most account records one supply proof holds: 65,536 records of at most
/// 218 bytes of compact JSON each, with a certificate and genesis of 128
/// validators, stay under the 16 MiB a node's JSON-RPC answer may have.
pub const MAX_SUPPLY_ACCOUNTS: usize = 65_536;
/// Most hashes in a consistency path (two per level of a 2^64 tree).
pub const MAX_CONSISTENCY_HASHES: usize = 128;
/// Most bytes of an audit document's JSON: a supply proof of
/// [`MAX_SUPPLY_ACCOUNTS`] records pretty-printed is about 17 MB.
pub const MAX_DOCUMENT_BYTES: usize = 32 << 20;

/// The link of an audit document that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditLink {
    /// The JSON structure.
    Format,
    /// The genesis header and its hash.
    Genesis,
    /// A header, or its claimed height.
    Header,
    /// A commit certificate.
    Certificate,
    /// The account records against the state root.
    State,
    /// The sum of the balances.
    Supply,
    /// A checkpoint's body against its header.
    Checkpoint,
    /// The consistency proof between two checkpoints.
    Consistency,
}

impl std::fmt::Display for AuditLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Format => "format",
            Self::Genesis => "genesis",
            Self::Header => "header",
            Self::Certificate => "certificate",
            Self::State => "state",
            Self::Supply => "supply",
            Self::Checkpoint => "checkpoint",
            Self::Consistency => "consistency",
        })
    }
}

/// Why an audit document is refused: the first failing link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{link} link failed: {reason}")]
pub struct AuditError {
    /// The link.
    pub link: AuditLink,
    /// What is wrong with it.
    pub reason: String,
}

fn fail(link: AuditLink, reason: impl std::fmt::Display) -> AuditError {
    AuditError {
        link,
        reason: reason.to_string(),
    }
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn unb64(text: &str, link: AuditLink, member: &str) -> Result<Vec<u8>, AuditError> {
    STANDARD
        .decode(text)
        .map_err(|e| fail(link, format!("{member} is not base64: {e}")))
}

/// A block header and its commit certificate, base64 of their encodings
/// (FORMATS 11.1 and 11.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertifiedHeader {
    /// Base64 of the encoded block header.
    pub header: String,
    /// Base64 of the encoded commit certificate.
    pub certificate: String,
}

impl CertifiedHeader {
    /// The pair, encoded.
    #[must_use]
    pub fn new(header: &BlockHeader, certificate: &CommitCertificate) -> Self {
        Self {
            header: b64(&header.to_bytes()),
            certificate: b64(&certificate.to_bytes()),
        }
    }

    /// Decodes both and checks the certificate finalizes the header under
    /// the genesis validators.
    fn check(
        &self,
        genesis: &Pinned,
        keys: &KeyCache,
    ) -> Result<(BlockHeader, CommitCertificate), AuditError> {
        let bytes = unb64(&self.header, AuditLink::Header, "header")?;
        let header: BlockHeader = decode_exact(&bytes).map_err(|e| fail(AuditLink::Header, e))?;
        let bytes = unb64(&self.certificate, AuditLink::Certificate, "certificate")?;
        let cert: CommitCertificate =
            decode_exact(&bytes).map_err(|e| fail(AuditLink::Certificate, e))?;
        cert.verify(genesis.hash, &genesis.header.validators, &header, keys)
            .map_err(|e| fail(AuditLink::Certificate, e))?;
        Ok((header, cert))
    }
}

/// The genesis a document is checked under: its header, and the hash the
/// document pins.
struct Pinned {
    hash: GenesisHash,
    header: GenesisHeader,
}

/// The `genesis` link of every audit document: the pinned hash, the header
/// (carried, or supplied by the verifier) hashing to it, and the trusted
/// hash if the verifier holds one.
fn pin(
    genesis_hash: &str,
    carried: Option<&str>,
    supplied: Option<&GenesisHeader>,
    trusted: Option<GenesisHash>,
) -> Result<Pinned, AuditError> {
    let pinned: GenesisHash = genesis_hash
        .parse()
        .map_err(|e| fail(AuditLink::Genesis, format!("genesis_hash: {e}")))?;
    // The verifier's own genesis pins the network as its hash does: a
    // document for another network fails even if it carries its own.
    if let Some(own) = supplied.map(GenesisHeader::hash).filter(|h| *h != pinned) {
        return Err(fail(
            AuditLink::Genesis,
            format!("the document is for network {pinned}, not that of the genesis given ({own})"),
        ));
    }
    let header = match (carried, supplied) {
        (Some(text), _) => {
            let bytes = unb64(text, AuditLink::Genesis, "genesis")?;
            decode_exact::<GenesisHeader>(&bytes).map_err(|e| fail(AuditLink::Genesis, e))?
        }
        (None, Some(header)) => header.clone(),
        (None, None) => {
            return Err(fail(
                AuditLink::Genesis,
                format!(
                    "the document pins network {pinned} but does not carry its genesis: \
                     supply the network's genesis file (pantheon verify --genesis FILE)"
                ),
            ));
        }
    };
    let hash = header.hash();
    if hash != pinned {
        return Err(fail(
            AuditLink::Genesis,
            format!("genesis header hashes to {hash}, not {pinned}"),
        ));
    }
    if let Some(t) = trusted.filter(|t| *t != hash) {
        return Err(fail(
            AuditLink::Genesis,
            format!("the document is for network {hash}, not the trusted {t}"),
        ));
    }
    Ok(Pinned { hash, header })
}

/// What the verifier brings: a genesis header for documents that carry
/// none, and a trusted genesis hash. Neither is needed for a document that
/// carries its genesis, but without either the verdict holds for whatever
/// network the document names (the verdict says which). A genesis header
/// given pins its network too: a document naming another fails the
/// `genesis` link, whatever it carries.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditTrust<'a> {
    /// The network's genesis header.
    pub genesis: Option<&'a GenesisHeader>,
    /// The genesis hash the verifier trusts.
    pub genesis_hash: Option<GenesisHash>,
}

/// One account record of a supply proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    /// The account id, hex.
    pub id: String,
    /// Base64 of the account record (FORMATS 6.1).
    pub record: String,
}

/// A supply proof (FORMATS 28.2): every account record of the state after
/// one block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplyProof {
    /// [`SUPPLY_PROOF_VERSION`].
    pub supply_proof: u32,
    /// The network's genesis hash, hex.
    pub genesis_hash: String,
    /// Base64 of the genesis header, if carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis: Option<String>,
    /// The block height the state is after (the header's, repeated for
    /// readers; checked).
    pub height: u64,
    /// The block and its certificate.
    pub block: CertifiedHeader,
    /// Every account record, in increasing id order.
    pub accounts: Vec<AccountEntry>,
}

/// What a valid supply proof establishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SupplyVerified {
    /// The network.
    pub genesis_hash: GenesisHash,
    /// The block the state is after.
    pub height: Height,
    /// Its hash.
    pub block_hash: BlockHash,
    /// Its time, ms since the Unix epoch.
    pub block_time_ms: u64,
    /// The state root all records were checked against.
    pub state_root: StateRoot,
    /// How many accounts the state holds.
    pub accounts: u64,
    /// The sum of their balances, in smallest units (decimal).
    pub sum_of_balances: String,
    /// The fixed supply, in smallest units (decimal).
    pub supply: String,
    /// Signatures in the certificate, and validators in the genesis.
    pub signers: (usize, usize),
}

impl SupplyProof {
    /// The proof of the state after `header`: `accounts` must be every
    /// record of that state.
    #[must_use]
    pub fn new(
        genesis_hash: GenesisHash,
        genesis: Option<&GenesisHeader>,
        header: &BlockHeader,
        certificate: &CommitCertificate,
        accounts: impl IntoIterator<Item = (AccountId, Account)>,
    ) -> Self {
        let mut accounts: Vec<(AccountId, Account)> = accounts.into_iter().collect();
        accounts.sort_by_key(|(id, _)| *id.as_bytes());
        Self {
            supply_proof: SUPPLY_PROOF_VERSION,
            genesis_hash: genesis_hash.to_string(),
            genesis: genesis.map(|g| b64(&g.to_bytes())),
            height: header.height.get(),
            block: CertifiedHeader::new(header, certificate),
            accounts: accounts
                .iter()
                .map(|(id, a)| AccountEntry {
                    id: id.to_string(),
                    record: b64(&a.to_bytes()),
                })
                .collect(),
        }
    }

    /// Whether `bytes` is a JSON object with a `supply_proof` member.
    #[must_use]
    pub fn is_supply_proof(bytes: &[u8]) -> bool {
        has_member(bytes, "supply_proof")
    }

    /// Reads a supply proof (the `format` link).
    ///
    /// # Errors
    /// The `format` link: not the JSON of a supply proof.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, AuditError> {
        let proof: Self = read(bytes)?;
        if proof.supply_proof != SUPPLY_PROOF_VERSION {
            return Err(fail(
                AuditLink::Format,
                format!("unsupported supply_proof version {}", proof.supply_proof),
            ));
        }
        if proof.accounts.len() > MAX_SUPPLY_ACCOUNTS {
            return Err(fail(
                AuditLink::Format,
                format!("more than {MAX_SUPPLY_ACCOUNTS} account records"),
            ));
        }
        Ok(proof)
    }

    /// Checks every link in order: genesis, header, certificate, state,
    /// supply.
    ///
    /// # Errors
    /// The first link that fails.
    pub fn verify(
        &self,
        trust: AuditTrust<'_>,
        keys: &KeyCache,
    ) -> Result<SupplyVerified, AuditError> {
        let genesis = pin(
            &self.genesis_hash,
            self.genesis.as_deref(),
            trust.genesis,
            trust.genesis_hash,
        )?;
        let (header, cert) = self.block.check(&genesis, keys)?;
        if header.height.get() != self.height {
            return Err(fail(
                AuditLink::Header,
                format!(
                    "the document says height {}, its header is at {}",
                    self.height, header.height
                ),
            ));
        }
        let mut updates: Vec<Update> = Vec::with_capacity(self.accounts.len() + 2);
        let mut sum: u128 = 0;
        let mut last: Option<[u8; 32]> = None;
        for (i, entry) in self.accounts.iter().enumerate() {
            let id: AccountId = entry
                .id
                .parse()
                .map_err(|e| fail(AuditLink::State, format!("accounts[{i}].id: {e}")))?;
            if last.is_some_and(|l| l >= *id.as_bytes()) {
                return Err(fail(
                    AuditLink::State,
                    format!("accounts[{i}]: ids are not in strictly increasing order"),
                ));
            }
            last = Some(*id.as_bytes());
            let bytes = unb64(&entry.record, AuditLink::State, "record")?;
            let account: Account = decode_exact(&bytes)
                .map_err(|e| fail(AuditLink::State, format!("accounts[{i}].record: {e}")))?;
            sum = sum
                .checked_add(u128::from(account.balance.units()))
                .expect("at most 65,536 balances of under 2^64 each sum below 2^128");
            updates.push((StateKey::Account(id).tree_key(), Some(value_hash(&bytes))));
        }
        updates.push((
            StateKey::Params.tree_key(),
            Some(value_hash(&genesis.header.params.to_bytes())),
        ));
        updates.push((
            StateKey::Validators.tree_key(),
            Some(value_hash(&genesis.header.validators.to_bytes())),
        ));
        let mut tree = StateTree::new();
        tree.update(updates);
        if tree.root() != header.state_root {
            return Err(fail(
                AuditLink::State,
                format!(
                    "the records give state root {}, the header's is {}: \
                     a record is missing, extra or changed",
                    tree.root(),
                    header.state_root
                ),
            ));
        }
        let supply = u128::from(SUPPLY.units());
        if sum != supply {
            return Err(fail(
                AuditLink::Supply,
                format!("balances sum to {sum} units, the supply is {supply}"),
            ));
        }
        Ok(SupplyVerified {
            genesis_hash: genesis.hash,
            height: header.height,
            block_hash: header.hash(),
            block_time_ms: header.time_ms,
            state_root: header.state_root,
            accounts: self.accounts.len() as u64,
            sum_of_balances: sum.to_string(),
            supply: supply.to_string(),
            signers: (cert.signatures.len(), genesis.header.validators.len()),
        })
    }
}

/// The C2SP tlog-checkpoint origin line of a network's submission log.
#[must_use]
pub fn origin(genesis: &GenesisHash) -> String {
    format!("pantheon/v1/log/{genesis}")
}

/// The C2SP tlog-checkpoint body: origin, size and base64 root, one per
/// line, each ending in a newline.
#[must_use]
pub fn checkpoint_body(genesis: &GenesisHash, size: u64, root: &Hash256) -> String {
    format!("{}\n{size}\n{}\n", origin(genesis), b64(root.as_bytes()))
}

/// A signed checkpoint (FORMATS 28.3): the log's size and root after one
/// block, certified by that block's commit certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// [`CHECKPOINT_VERSION`].
    pub log_checkpoint: u32,
    /// The network's genesis hash, hex.
    pub genesis_hash: String,
    /// Base64 of the genesis header, if carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis: Option<String>,
    /// The block height (the header's; checked).
    pub height: u64,
    /// The log's size after the block (the header's; checked).
    pub log_size: u64,
    /// The log's root after the block, hex (the header's; checked).
    pub log_root: String,
    /// The C2SP tlog-checkpoint body (checked).
    pub checkpoint: String,
    /// The block and its certificate.
    pub block: CertifiedHeader,
}

/// What a valid checkpoint establishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointVerified {
    /// The network.
    pub genesis_hash: GenesisHash,
    /// The block.
    pub height: Height,
    /// Its hash.
    pub block_hash: BlockHash,
    /// Its time, ms since the Unix epoch.
    pub block_time_ms: u64,
    /// The log's size after it.
    pub log_size: u64,
    /// The log's root after it.
    pub log_root: Hash256,
    /// Signatures in the certificate, and validators in the genesis.
    pub signers: (usize, usize),
}

impl Checkpoint {
    /// The checkpoint of `header`.
    #[must_use]
    pub fn new(
        genesis_hash: GenesisHash,
        genesis: Option<&GenesisHeader>,
        header: &BlockHeader,
        certificate: &CommitCertificate,
    ) -> Self {
        let root = header.log_root.hash();
        Self {
            log_checkpoint: CHECKPOINT_VERSION,
            genesis_hash: genesis_hash.to_string(),
            genesis: genesis.map(|g| b64(&g.to_bytes())),
            height: header.height.get(),
            log_size: header.log_size,
            log_root: root.to_string(),
            checkpoint: checkpoint_body(&genesis_hash, header.log_size, &root),
            block: CertifiedHeader::new(header, certificate),
        }
    }

    /// Whether `bytes` is a JSON object with a `log_checkpoint` member.
    #[must_use]
    pub fn is_checkpoint(bytes: &[u8]) -> bool {
        has_member(bytes, "log_checkpoint")
    }

    /// Reads a checkpoint (the `format` link).
    ///
    /// # Errors
    /// The `format` link.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, AuditError> {
        let c: Self = read(bytes)?;
        if c.log_checkpoint != CHECKPOINT_VERSION {
            return Err(fail(
                AuditLink::Format,
                format!("unsupported log_checkpoint version {}", c.log_checkpoint),
            ));
        }
        Ok(c)
    }

    /// Checks genesis, header, certificate and checkpoint.
    ///
    /// # Errors
    /// The first link that fails.
    pub fn verify(
        &self,
        trust: AuditTrust<'_>,
        keys: &KeyCache,
    ) -> Result<CheckpointVerified, AuditError> {
        let genesis = pin(
            &self.genesis_hash,
            self.genesis.as_deref(),
            trust.genesis,
            trust.genesis_hash,
        )?;
        check_checkpoint(
            &genesis,
            &self.block,
            Some((self.height, self.log_size, &self.log_root, &self.checkpoint)),
            keys,
        )
    }
}

/// The header, certificate and checkpoint links of one certified header,
/// and the claims a checkpoint document repeats (height, size, root, body).
fn check_checkpoint(
    genesis: &Pinned,
    block: &CertifiedHeader,
    claims: Option<(u64, u64, &str, &str)>,
    keys: &KeyCache,
) -> Result<CheckpointVerified, AuditError> {
    let (header, cert) = block.check(genesis, keys)?;
    let root = header.log_root.hash();
    if let Some((height, size, claimed_root, body)) = claims {
        if height != header.height.get() {
            return Err(fail(
                AuditLink::Header,
                format!(
                    "the document says height {height}, its header is at {}",
                    header.height
                ),
            ));
        }
        let expected = checkpoint_body(&genesis.hash, header.log_size, &root);
        if size != header.log_size || claimed_root != root.to_string() || body != expected {
            return Err(fail(
                AuditLink::Checkpoint,
                format!(
                    "the checkpoint does not match its header (log of {} leaves, root {root})",
                    header.log_size
                ),
            ));
        }
    }
    Ok(CheckpointVerified {
        genesis_hash: genesis.hash,
        height: header.height,
        block_hash: header.hash(),
        block_time_ms: header.time_ms,
        log_size: header.log_size,
        log_root: root,
        signers: (cert.signatures.len(), genesis.header.validators.len()),
    })
}

/// A consistency proof between two checkpoints (FORMATS 28.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogConsistency {
    /// [`CONSISTENCY_VERSION`].
    pub log_consistency: u32,
    /// The network's genesis hash, hex.
    pub genesis_hash: String,
    /// Base64 of the genesis header, if carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis: Option<String>,
    /// The older log size (the old header's; checked).
    pub old_size: u64,
    /// The newer log size (the new header's; checked).
    pub new_size: u64,
    /// The first block whose log has `old_size` leaves.
    pub old: CertifiedHeader,
    /// The first block whose log has `new_size` leaves.
    pub new: CertifiedHeader,
    /// The RFC 9162 consistency path, hex hashes.
    pub path: Vec<String>,
}

/// What a valid consistency proof establishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsistencyVerified {
    /// The older checkpoint.
    pub old: CheckpointVerified,
    /// The newer checkpoint.
    pub new: CheckpointVerified,
}

impl LogConsistency {
    /// The proof that the log after `old` is a prefix of the log after
    /// `new`; `proof` is the log's consistency proof between their sizes.
    #[must_use]
    pub fn new(
        genesis_hash: GenesisHash,
        genesis: Option<&GenesisHeader>,
        old: (&BlockHeader, &CommitCertificate),
        new: (&BlockHeader, &CommitCertificate),
        proof: &ConsistencyProof,
    ) -> Self {
        Self {
            log_consistency: CONSISTENCY_VERSION,
            genesis_hash: genesis_hash.to_string(),
            genesis: genesis.map(|g| b64(&g.to_bytes())),
            old_size: old.0.log_size,
            new_size: new.0.log_size,
            old: CertifiedHeader::new(old.0, old.1),
            new: CertifiedHeader::new(new.0, new.1),
            path: proof.path.iter().map(ToString::to_string).collect(),
        }
    }

    /// Whether `bytes` is a JSON object with a `log_consistency` member.
    #[must_use]
    pub fn is_consistency(bytes: &[u8]) -> bool {
        has_member(bytes, "log_consistency")
    }

    /// Reads a consistency proof (the `format` link).
    ///
    /// # Errors
    /// The `format` link.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, AuditError> {
        let c: Self = read(bytes)?;
        if c.log_consistency != CONSISTENCY_VERSION {
            return Err(fail(
                AuditLink::Format,
                format!("unsupported log_consistency version {}", c.log_consistency),
            ));
        }
        if c.path.len() > MAX_CONSISTENCY_HASHES {
            return Err(fail(
                AuditLink::Format,
                format!("more than {MAX_CONSISTENCY_HASHES} path hashes"),
            ));
        }
        Ok(c)
    }

    /// Checks genesis, both headers and certificates, and the consistency
    /// path between their log roots.
    ///
    /// # Errors
    /// The first link that fails.
    pub fn verify(
        &self,
        trust: AuditTrust<'_>,
        keys: &KeyCache,
    ) -> Result<ConsistencyVerified, AuditError> {
        let genesis = pin(
            &self.genesis_hash,
            self.genesis.as_deref(),
            trust.genesis,
            trust.genesis_hash,
        )?;
        let old = check_checkpoint(&genesis, &self.old, None, keys)?;
        let new = check_checkpoint(&genesis, &self.new, None, keys)?;
        if old.log_size != self.old_size || new.log_size != self.new_size {
            return Err(fail(
                AuditLink::Header,
                format!(
                    "the document says sizes {} and {}, its headers' logs have {} and {}",
                    self.old_size, self.new_size, old.log_size, new.log_size
                ),
            ));
        }
        if old.height > new.height {
            return Err(fail(
                AuditLink::Consistency,
                format!(
                    "the old checkpoint (height {}) is after the new one (height {})",
                    old.height, new.height
                ),
            ));
        }
        let path = self
            .path
            .iter()
            .enumerate()
            .map(|(i, h)| {
                h.parse::<Hash256>()
                    .map_err(|e| fail(AuditLink::Consistency, format!("path[{i}]: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let proof = ConsistencyProof {
            old_size: old.log_size,
            new_size: new.log_size,
            path,
        };
        if !proof.verify(&old.log_root, &new.log_root) {
            return Err(fail(
                AuditLink::Consistency,
                format!(
                    "the log of {} leaves (root {}) is not a prefix of the log of {} (root {})",
                    old.log_size, old.log_root, new.log_size, new.log_root
                ),
            ));
        }
        Ok(ConsistencyVerified { old, new })
    }
}

/// Reads a document's JSON, at most [`MAX_DOCUMENT_BYTES`] of it.
fn read<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, AuditError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(fail(
            AuditLink::Format,
            format!(
                "{} bytes, more than the {MAX_DOCUMENT_BYTES} an audit document may have",
                bytes.len()
            ),
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| fail(AuditLink::Format, e))
}

/// Whether `bytes` is a JSON object with the top-level member `name`.
fn has_member(bytes: &[u8], name: &str) -> bool {
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes)
        .is_ok_and(|m| m.contains_key(name))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::vectors::audit::chain;

    fn genesis() -> crate::genesis::Genesis {
        let doc = crate::vectors::generate()
            .into_iter()
            .find(|f| f.name == "genesis")
            .unwrap();
        serde_json::from_value(doc.json["genesis"].clone()).unwrap()
    }

    /// The link `bytes` fails at under `trust`, `None` if valid.
    fn judge(bytes: &[u8], trust: AuditTrust<'_>) -> Option<AuditLink> {
        let keys = KeyCache::new(4);
        let r = if SupplyProof::is_supply_proof(bytes) {
            SupplyProof::from_slice(bytes).and_then(|p| p.verify(trust, &keys).map(drop))
        } else if Checkpoint::is_checkpoint(bytes) {
            Checkpoint::from_slice(bytes).and_then(|p| p.verify(trust, &keys).map(drop))
        } else {
            assert!(LogConsistency::is_consistency(bytes));
            LogConsistency::from_slice(bytes).and_then(|p| p.verify(trust, &keys).map(drop))
        };
        r.err().map(|e| e.link)
    }

    #[test]
    fn every_case_of_the_vectors_fails_at_its_link() {
        let g = genesis();
        let doc = crate::vectors::audit::audit(&g);
        let mut valid = 0;
        for case in doc["cases"].as_array().unwrap() {
            let bytes = serde_json::to_vec(&case["document"]).unwrap();
            let trust = AuditTrust {
                genesis: (case["trust"] == "genesis").then(|| g.header()),
                genesis_hash: None,
            };
            let got = judge(&bytes, trust).map(|l| l.to_string());
            assert_eq!(
                got.as_deref(),
                case["fails"].as_str(),
                "case {}",
                case["name"]
            );
            valid += usize::from(got.is_none());
        }
        assert_eq!(
            valid, 8,
            "three supply proofs, two checkpoints, three consistency proofs"
        );
    }

    #[test]
    fn an_old_supply_proof_holds_the_records_of_its_height() {
        let g = genesis();
        let c = chain(&g);
        let keys = KeyCache::new(4);
        let old = c
            .supply(2, true)
            .verify(AuditTrust::default(), &keys)
            .unwrap();
        let head = c
            .supply(5, true)
            .verify(AuditTrust::default(), &keys)
            .unwrap();
        assert_eq!(old.height, Height::new(2));
        assert_eq!(old.sum_of_balances, SUPPLY.units().to_string());
        assert_ne!(old.state_root, head.state_root);
        // The head's records under block 2's certified header: refused.
        let mut mixed = c.supply(2, true);
        mixed.accounts = c.supply(5, true).accounts;
        let e = mixed.verify(AuditTrust::default(), &keys).unwrap_err();
        assert_eq!(e.link, AuditLink::State, "{e}");
    }

    #[test]
    fn the_verifiers_genesis_and_hash_pin_the_network() {
        let g = genesis();
        let c = chain(&g);
        let keys = KeyCache::new(4);
        let proof = c.supply(2, true);
        let trusted = AuditTrust {
            genesis: Some(g.header()),
            genesis_hash: Some(g.hash()),
        };
        assert!(proof.verify(trusted, &keys).is_ok());
        // Another network's genesis given: refused even though the
        // document carries (and hashes to) its own.
        let other = g
            .clone()
            .with_bitcoin(Some(crate::anchor::BitcoinParams::for_network(
                crate::anchor::BitcoinNetwork::Regtest,
            )))
            .unwrap();
        for trust in [
            AuditTrust {
                genesis: Some(other.header()),
                genesis_hash: None,
            },
            AuditTrust {
                genesis: None,
                genesis_hash: Some(other.hash()),
            },
        ] {
            let e = proof.verify(trust, &keys).unwrap_err();
            assert_eq!(e.link, AuditLink::Genesis, "{e}");
            let e = c.consistency(2, 4).verify(trust, &keys).unwrap_err();
            assert_eq!(e.link, AuditLink::Genesis, "{e}");
            let e = c.checkpoint(2).verify(trust, &keys).unwrap_err();
            assert_eq!(e.link, AuditLink::Genesis, "{e}");
        }
    }

    #[test]
    fn checkpoint_body_is_the_c2sp_note_text() {
        let g = genesis();
        let c = chain(&g);
        let cp = c.checkpoint(2);
        let root = c.headers[1].log_root.hash();
        assert_eq!(
            cp.checkpoint,
            format!(
                "pantheon/v1/log/{}\n3\n{}\n",
                g.hash(),
                b64(root.as_bytes())
            )
        );
        let v = cp.verify(AuditTrust::default(), &KeyCache::new(4)).unwrap();
        assert_eq!(
            (v.height, v.log_size, v.log_root),
            (Height::new(2), 3, root)
        );
    }

    #[test]
    fn a_supply_proof_holds_at_most_max_supply_accounts_records() {
        let mut proof = chain(&genesis()).supply(2, true);
        let entry = proof.accounts[0].clone();
        proof.accounts = vec![entry; MAX_SUPPLY_ACCOUNTS + 1];
        let bytes = serde_json::to_vec(&proof).unwrap();
        let e = SupplyProof::from_slice(&bytes).unwrap_err();
        assert_eq!(e.link, AuditLink::Format, "{e}");
        proof.accounts.pop();
        let bytes = serde_json::to_vec(&proof).unwrap();
        let e = SupplyProof::from_slice(&bytes)
            .unwrap()
            .verify(AuditTrust::default(), &KeyCache::new(4))
            .unwrap_err();
        assert_eq!(
            e.link,
            AuditLink::State,
            "read, then refused for its repeated ids: {e}"
        );
    }

    #[test]
    fn oversized_documents_are_refused_before_parsing() {
        let mut bytes = serde_json::to_vec(&chain(&genesis()).checkpoint(2)).unwrap();
        bytes.resize(MAX_DOCUMENT_BYTES + 1, b' ');
        let e = Checkpoint::from_slice(&bytes).unwrap_err();
        assert_eq!(e.link, AuditLink::Format, "{e}");
    }
}
