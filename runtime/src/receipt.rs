//! Submission receipts (FORMATS section 26): a validator's signed promise
//! that it holds a submission durably and will see it finalized by a
//! height, and the evidence that it broke that promise.
//!
//! A node answers `received` only once the submission is on its disk. It
//! writes what its clients send in groups (one synced write for every
//! submission that arrived while the previous write was in flight), and it
//! signs each group once: the receipts of a group share one ML-DSA-65
//! signature over an RFC 9162 Merkle root of their leaves, as a Certificate
//! Transparency log signs a tree head rather than each entry. A receipt is
//! that signed head plus its own leaf and inclusion path:
//!
//! ```text
//! leaf    = submission:[32] · operator:[32] · seq:u64             (72 bytes)
//! root    = MTH(leaf_0 … leaf_{n-1})                               (RFC 9162)
//! message = 0x01 · genesis:[32] · validator:[32] · received_at_ms:u64
//!           · deadline:u64 · tree_size:u64 · root:[32]            (121 bytes)
//! signature = ML-DSA-65(validator key, message, ctx "pantheon/v1/receipt")
//! ```
//!
//! One signature per group keeps signing off the per-submission cost (an
//! ML-DSA-65 signature costs several verifications), whatever the load.
//!
//! The promise is checkable: [`verify_receipt`] says which validator of
//! which network made it, about which submission (operator, seq), and the
//! deadline. Once the deadline has passed, a certified block at or after
//! it whose state shows the operator's next sequence number still at or
//! below the receipt's `seq` proves that the submission was not finalized
//! in time: [`ReceiptEvidence`], checked by [`verify_evidence`] from the
//! document alone and the genesis the verifier trusts.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::amount::Height;
use crate::block::{BlockHeader, CommitCertificate};
use crate::codec::decode_exact;
use crate::crypto::{AccountId, KeyCache, Keypair, OperatorId, SignContext, Signature};
use crate::genesis::GenesisHeader;
use crate::hash::{GenesisHash, Hash256, SubmissionId};
use crate::log::{InclusionProof, MerkleLog, leaf_hash};
use crate::proof::{Link, ProofError};
use crate::smt::StateProof;
use crate::state::{Account, StateKey, value_hash};

/// The version byte of the signed message and the `receipt` member.
pub const RECEIPT_VERSION: u8 = 1;
/// The `receipt_evidence` member's value.
pub const EVIDENCE_VERSION: u32 = 1;
/// Most hashes in a receipt's path (a group of up to 2^32 leaves).
pub const MAX_PATH: usize = 32;

/// What one receipt is about: the leaf of its group's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptLeaf {
    /// The submission id (FORMATS 5.7).
    pub submission: SubmissionId,
    /// Its operator.
    pub operator: OperatorId,
    /// Its sequence number.
    pub seq: u64,
}

impl ReceiptLeaf {
    /// `submission · operator · seq` (72 bytes).
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 72] {
        let mut out = [0u8; 72];
        out[..32].copy_from_slice(self.submission.as_bytes());
        out[32..64].copy_from_slice(self.operator.as_bytes());
        out[64..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    /// Its RFC 9162 leaf hash, `SHA-256(0x00 || leaf)`.
    #[must_use]
    pub fn hash(&self) -> Hash256 {
        leaf_hash(&self.to_bytes())
    }
}

/// The signed part of a group of receipts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptHead {
    /// The network.
    pub genesis: GenesisHash,
    /// The id of the signing validator's key.
    pub validator: AccountId,
    /// When the node wrote the group, ms since the Unix epoch (its clock).
    pub received_at_ms: u64,
    /// The height by which the submissions are to be finalized.
    pub deadline: Height,
    /// Leaves in the group.
    pub tree_size: u64,
    /// Their RFC 9162 root.
    pub root: Hash256,
}

impl ReceiptHead {
    /// The 121 signed bytes (FORMATS 26.1).
    #[must_use]
    pub fn message(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(121);
        out.push(RECEIPT_VERSION);
        out.extend_from_slice(self.genesis.as_bytes());
        out.extend_from_slice(self.validator.as_bytes());
        out.extend_from_slice(&self.received_at_ms.to_be_bytes());
        out.extend_from_slice(&self.deadline.get().to_be_bytes());
        out.extend_from_slice(&self.tree_size.to_be_bytes());
        out.extend_from_slice(self.root.as_bytes());
        out
    }
}

/// A receipt's place in its group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptPath {
    /// The leaf's index, from 0.
    pub leaf_index: u64,
    /// Leaves in the group.
    pub tree_size: u64,
    /// The inclusion path, its hashes concatenated from the leaf up, base64.
    pub path: String,
}

/// A signed receipt, the JSON document of FORMATS 26.2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedReceipt {
    /// [`RECEIPT_VERSION`].
    pub receipt: u32,
    /// The network's genesis hash.
    pub genesis_hash: GenesisHash,
    /// Base64 of the genesis header (FORMATS 11.3), when the document
    /// carries it (it pins nothing: the verifier's trust does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis: Option<String>,
    /// The id of the validator's key.
    pub validator: AccountId,
    /// The node's clock when it wrote the group, ms since the Unix epoch.
    pub received_at_ms: u64,
    /// The height by which the submission is to be finalized.
    pub deadline: Height,
    /// The submission id.
    pub submission: SubmissionId,
    /// Its operator.
    pub operator: OperatorId,
    /// Its sequence number.
    pub seq: u64,
    /// Its place in the signed group.
    pub batch: ReceiptPath,
    /// Base64 of the ML-DSA-65 signature over the group's head.
    pub signature: String,
}

impl SignedReceipt {
    /// Whether `bytes` are a JSON object with a `receipt` member.
    #[must_use]
    pub fn is_receipt(bytes: &[u8]) -> bool {
        probe(bytes, "receipt")
    }

    /// Reads a receipt document.
    ///
    /// # Errors
    /// [`Link::Format`]: not JSON, an unknown or missing member, a
    /// duplicate, an unknown version.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ProofError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| fail(Link::Format, format!("not a receipt: {e}")))?;
        let r: Self = serde_json::from_str(text)
            .map_err(|e| fail(Link::Format, format!("not a receipt: {e}")))?;
        if r.receipt != u32::from(RECEIPT_VERSION) {
            return Err(fail(
                Link::Format,
                format!("unsupported receipt version {}", r.receipt),
            ));
        }
        Ok(r)
    }

    /// The leaf this receipt is about.
    #[must_use]
    pub fn leaf(&self) -> ReceiptLeaf {
        ReceiptLeaf {
            submission: self.submission,
            operator: self.operator,
            seq: self.seq,
        }
    }

    /// The same receipt carrying `genesis` (so that it verifies from the
    /// file alone, under the trust the verifier states).
    #[must_use]
    pub fn with_genesis(mut self, genesis: &GenesisHeader) -> Self {
        self.genesis = Some(STANDARD.encode(crate::codec::Encode::to_bytes(genesis)));
        self
    }
}

fn probe(bytes: &[u8], member: &str) -> bool {
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes)
        .is_ok_and(|m| m.contains_key(member))
}

fn fail(link: Link, reason: impl std::fmt::Display) -> ProofError {
    ProofError {
        link,
        reason: reason.to_string(),
    }
}

/// Signs one group of receipts: one signature over the root of `leaves`.
/// Returns one receipt per leaf, in order (none for no leaves). The
/// signature is deterministic (the published vectors); a node signs with
/// [`sign_group_hedged`].
#[must_use]
pub fn sign_group(
    keypair: &Keypair,
    genesis: GenesisHash,
    received_at_ms: u64,
    deadline: Height,
    leaves: &[ReceiptLeaf],
) -> Vec<SignedReceipt> {
    group(keypair, genesis, received_at_ms, deadline, leaves, |m| {
        keypair.sign(SignContext::Receipt, m)
    })
}

/// As [`sign_group`], with a hedged signature made by AWS-LC
/// ([`Keypair::sign_hedged`], about 8 times faster than the deterministic
/// one): a receipt is stored once made and no id covers its signature, so
/// nothing needs the signature reproducible. Verifies the same way.
#[must_use]
pub fn sign_group_hedged(
    keypair: &Keypair,
    genesis: GenesisHash,
    received_at_ms: u64,
    deadline: Height,
    leaves: &[ReceiptLeaf],
) -> Vec<SignedReceipt> {
    group(keypair, genesis, received_at_ms, deadline, leaves, |m| {
        keypair.sign_hedged(SignContext::Receipt, m)
    })
}

fn group(
    keypair: &Keypair,
    genesis: GenesisHash,
    received_at_ms: u64,
    deadline: Height,
    leaves: &[ReceiptLeaf],
    sign: impl FnOnce(&[u8]) -> crate::crypto::Signature,
) -> Vec<SignedReceipt> {
    if leaves.is_empty() {
        return Vec::new();
    }
    let log = MerkleLog::from_leaf_hashes(leaves.iter().map(ReceiptLeaf::hash));
    let head = ReceiptHead {
        genesis,
        validator: keypair.id(),
        received_at_ms,
        deadline,
        tree_size: log.size(),
        root: log.root(),
    };
    let signature = STANDARD.encode(sign(&head.message()).as_bytes());
    leaves
        .iter()
        .zip(0u64..)
        .map(|(leaf, i)| {
            let path = log
                .inclusion_proof(i, head.tree_size)
                .map(|p| p.path)
                .unwrap_or_default();
            let mut bytes = Vec::with_capacity(32 * path.len());
            for h in &path {
                bytes.extend_from_slice(h.as_bytes());
            }
            SignedReceipt {
                receipt: u32::from(RECEIPT_VERSION),
                genesis_hash: genesis,
                genesis: None,
                validator: head.validator,
                received_at_ms,
                deadline,
                submission: leaf.submission,
                operator: leaf.operator,
                seq: leaf.seq,
                batch: ReceiptPath {
                    leaf_index: i,
                    tree_size: head.tree_size,
                    path: STANDARD.encode(bytes),
                },
                signature: signature.clone(),
            }
        })
        .collect()
}

/// What a valid receipt establishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptFacts {
    /// The network.
    pub genesis_hash: GenesisHash,
    /// The promising validator's index in the genesis validator set.
    pub validator_index: u16,
    /// Its key id.
    pub validator: AccountId,
    /// The submission.
    pub submission: SubmissionId,
    /// Its operator.
    pub operator: OperatorId,
    /// Its sequence number.
    pub seq: u64,
    /// When the validator says it wrote the submission (its clock).
    pub received_at_ms: u64,
    /// The height by which it promised finality.
    pub deadline: Height,
}

fn decode_b64(link: Link, what: &str, text: &str) -> Result<Vec<u8>, ProofError> {
    let bytes = STANDARD
        .decode(text.as_bytes())
        .map_err(|e| fail(link, format!("{what}: invalid base64: {e}")))?;
    // Canonical only (FORMATS 22.2): re-encoding gives the same text.
    if STANDARD.encode(&bytes) != text {
        return Err(fail(link, format!("{what}: not canonical base64")));
    }
    Ok(bytes)
}

/// The genesis header a document carries, if any.
///
/// # Errors
/// [`Link::Genesis`]: not base64 of a genesis header.
pub fn carried_genesis(text: Option<&str>) -> Result<Option<GenesisHeader>, ProofError> {
    text.map(|g| {
        let bytes = decode_b64(Link::Genesis, "genesis", g)?;
        decode_exact(&bytes).map_err(|e| fail(Link::Genesis, format!("genesis: {e}")))
    })
    .transpose()
}

/// Checks a receipt (FORMATS 26.3) under `genesis`, the network the
/// verifier trusts (given, or carried and pinned by the caller).
///
/// # Errors
/// The first failing link: `genesis` (another network), `validator` (not
/// a validator of it), `batch` (a path of the wrong shape), `signature`.
pub fn verify_receipt(
    receipt: &SignedReceipt,
    genesis: &GenesisHeader,
    keys: &KeyCache,
) -> Result<ReceiptFacts, ProofError> {
    if genesis.hash() != receipt.genesis_hash {
        return Err(fail(
            Link::Genesis,
            format!(
                "the receipt is of network {}, the genesis given is {}",
                receipt.genesis_hash,
                genesis.hash()
            ),
        ));
    }
    let validators = &genesis.validators;
    let index = (0..u16::try_from(validators.len()).unwrap_or(u16::MAX))
        .find(|&i| {
            validators
                .get(i)
                .is_some_and(|v| v.public_key.id() == receipt.validator)
        })
        .ok_or_else(|| {
            fail(
                Link::Validator,
                format!(
                    "{} is not a validator of network {}",
                    receipt.validator, receipt.genesis_hash
                ),
            )
        })?;
    let key = validators
        .get(index)
        .map(|v| v.public_key.clone())
        .ok_or_else(|| fail(Link::Validator, "validator index out of range"))?;
    let path = decode_b64(Link::Batch, "batch.path", &receipt.batch.path)?;
    if path.len() % 32 != 0 || path.len() / 32 > MAX_PATH {
        return Err(fail(
            Link::Batch,
            format!(
                "batch.path is {} bytes: a path is whole 32-byte hashes, at most {MAX_PATH}",
                path.len()
            ),
        ));
    }
    let proof = InclusionProof {
        leaf_index: receipt.batch.leaf_index,
        tree_size: receipt.batch.tree_size,
        path: path
            .chunks_exact(32)
            .map(|c| Hash256::from_bytes(c.try_into().unwrap_or([0; 32])))
            .collect(),
    };
    let root = proof.root_from(&receipt.leaf().hash()).ok_or_else(|| {
        fail(
            Link::Batch,
            format!(
                "the path does not have the shape of leaf {} of {}",
                proof.leaf_index, proof.tree_size
            ),
        )
    })?;
    let head = ReceiptHead {
        genesis: receipt.genesis_hash,
        validator: receipt.validator,
        received_at_ms: receipt.received_at_ms,
        deadline: receipt.deadline,
        tree_size: receipt.batch.tree_size,
        root,
    };
    let sig = decode_b64(Link::Signature, "signature", &receipt.signature)?;
    let sig: Signature =
        decode_exact(&sig).map_err(|e| fail(Link::Signature, format!("signature: {e}")))?;
    if !keys
        .get(&key)
        .verify(SignContext::Receipt, &head.message(), &sig)
    {
        return Err(fail(
            Link::Signature,
            format!(
                "the signature does not verify under validator {index}'s key over this receipt"
            ),
        ));
    }
    Ok(ReceiptFacts {
        genesis_hash: receipt.genesis_hash,
        validator_index: index,
        validator: receipt.validator,
        submission: receipt.submission,
        operator: receipt.operator,
        seq: receipt.seq,
        received_at_ms: receipt.received_at_ms,
        deadline: receipt.deadline,
    })
}

/// An account record (absent if the proof shows none) and its state proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountState {
    /// Base64 of the account record (FORMATS 6.1), or `null` if the state
    /// holds none.
    pub account: Option<String>,
    /// Its state proof (FORMATS 7.4).
    pub proof: StateProof,
}

/// Evidence that a receipt's promise was broken (FORMATS 26.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptEvidence {
    /// [`EVIDENCE_VERSION`].
    pub receipt_evidence: u32,
    /// The receipt.
    pub receipt: SignedReceipt,
    /// Base64 of the genesis header (FORMATS 11.3).
    pub genesis: String,
    /// Base64 of a block header (FORMATS 9.1) at or after the deadline.
    pub header: String,
    /// Base64 of a commit certificate of that block (FORMATS 10.3).
    pub certificate: String,
    /// The operator's account in that block's state.
    pub state: AccountState,
}

impl ReceiptEvidence {
    /// Whether `bytes` are a JSON object with a `receipt_evidence` member.
    #[must_use]
    pub fn is_evidence(bytes: &[u8]) -> bool {
        probe(bytes, "receipt_evidence")
    }

    /// Reads an evidence document.
    ///
    /// # Errors
    /// [`Link::Format`], as [`SignedReceipt::from_slice`].
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ProofError> {
        // serde_json does not check UTF-8 inside members it keeps raw.
        let text = std::str::from_utf8(bytes)
            .map_err(|e| fail(Link::Format, format!("not receipt evidence: {e}")))?;
        let e: Self = serde_json::from_str(text)
            .map_err(|e| fail(Link::Format, format!("not receipt evidence: {e}")))?;
        if e.receipt_evidence != EVIDENCE_VERSION {
            return Err(fail(
                Link::Format,
                format!("unsupported evidence version {}", e.receipt_evidence),
            ));
        }
        if e.receipt.receipt != u32::from(RECEIPT_VERSION) {
            return Err(fail(
                Link::Format,
                format!("unsupported receipt version {}", e.receipt.receipt),
            ));
        }
        Ok(e)
    }
}

/// What valid evidence establishes: the receipt, and the certified block
/// at or after its deadline whose state shows the submission missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breach {
    /// The broken promise.
    pub receipt: ReceiptFacts,
    /// The certified block.
    pub height: Height,
    /// Its time (proposer's clock), ms since the Unix epoch.
    pub block_time_ms: u64,
    /// The operator's next sequence number there (0 if not registered).
    pub next_seq: u64,
}

/// Checks evidence (FORMATS 26.4) from the document alone, under `pinned`
/// if the verifier pins a genesis hash (the document's genesis is used
/// either way, and must hash to the receipt's network).
///
/// # Errors
/// The first failing link: `genesis`, the receipt's links, `header`,
/// `deadline` (the block is before the deadline), `certificate`, `state`,
/// or `deadline` again (the state shows the sequence number used: no
/// breach).
pub fn verify_evidence(
    evidence: &ReceiptEvidence,
    pinned: Option<GenesisHash>,
    keys: &KeyCache,
) -> Result<Breach, ProofError> {
    let genesis = carried_genesis(Some(&evidence.genesis))?
        .ok_or_else(|| fail(Link::Genesis, "genesis missing"))?;
    if let Some(pinned) = pinned
        && pinned != genesis.hash()
    {
        return Err(fail(
            Link::Genesis,
            format!(
                "the evidence's genesis is {}, the pinned one {pinned}",
                genesis.hash()
            ),
        ));
    }
    let receipt = verify_receipt(&evidence.receipt, &genesis, keys)?;
    let header: BlockHeader = decode_exact(&decode_b64(Link::Header, "header", &evidence.header)?)
        .map_err(|e| fail(Link::Header, format!("header: {e}")))?;
    if header.height < receipt.deadline {
        return Err(fail(
            Link::Deadline,
            format!(
                "the block is at height {}, before the deadline {}",
                header.height, receipt.deadline
            ),
        ));
    }
    let cert: CommitCertificate = decode_exact(&decode_b64(
        Link::Certificate,
        "certificate",
        &evidence.certificate,
    )?)
    .map_err(|e| fail(Link::Certificate, format!("certificate: {e}")))?;
    cert.verify(genesis.hash(), &genesis.validators, &header, keys)
        .map_err(|e| fail(Link::Certificate, e))?;
    let account: Option<Account> = evidence
        .state
        .account
        .as_deref()
        .map(|a| {
            let bytes = decode_b64(Link::State, "state.account", a)?;
            decode_exact(&bytes)
                .map(|acc| (acc, bytes))
                .map_err(|e| fail(Link::State, format!("state.account: {e}")))
        })
        .transpose()?
        .map(|(acc, bytes)| {
            let key = StateKey::Account(receipt.operator).tree_key();
            if evidence
                .state
                .proof
                .verify(&header.state_root, &key, Some(&value_hash(&bytes)))
            {
                Ok(acc)
            } else {
                Err(fail(
                    Link::State,
                    "the account record's proof does not lead to the block's state root",
                ))
            }
        })
        .transpose()?;
    if account.is_none() {
        let key = StateKey::Account(receipt.operator).tree_key();
        if !evidence.state.proof.verify(&header.state_root, &key, None) {
            return Err(fail(
                Link::State,
                "the proof of absence does not lead to the block's state root",
            ));
        }
    }
    let next_seq = account.and_then(|a| a.operator).map_or(0, |o| o.next_seq);
    if next_seq > receipt.seq {
        return Err(fail(
            Link::Deadline,
            format!(
                "at height {} the operator's next seq is {next_seq}: a submission under seq {} \
                 was finalized, so this is no evidence of a breach",
                header.height, receipt.seq
            ),
        ));
    }
    Ok(Breach {
        receipt,
        height: header.height,
        block_time_ms: header.time_ms,
        next_seq,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn leaf_and_message_sizes() {
        let leaf = ReceiptLeaf {
            submission: SubmissionId::new(Hash256::from_bytes([1; 32])),
            operator: AccountId::new(Hash256::from_bytes([2; 32])),
            seq: 3,
        };
        assert_eq!(leaf.to_bytes().len(), 72);
        let head = ReceiptHead {
            genesis: GenesisHash::new(Hash256::from_bytes([4; 32])),
            validator: AccountId::new(Hash256::from_bytes([5; 32])),
            received_at_ms: 6,
            deadline: Height::new(7),
            tree_size: 1,
            root: leaf.hash(),
        };
        assert_eq!(head.message().len(), 121);
    }
}
