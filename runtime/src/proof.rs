//! Proof bundles: everything a stranger needs to check, offline and
//! trusting no one, that a submission was finalized.
//!
//! A bundle is one JSON document. Every hashed or signed value travels as
//! the hex of its canonical bytes (never re-encoded as JSON fields), so the
//! checks below follow `docs/FORMATS.md` exactly:
//!
//! ```text
//! genesis     hash(genesis) == genesis_hash     (optionally == a trusted hash)
//! submission  operator_key's id == operator; ML-DSA-65 signature over
//!             genesis_hash || unsigned bytes, context pantheon/v1/submit-root
//! header      hash(header) == certificate.block_hash, same height
//! certificate precommits of > 2/3 of the genesis validators' power
//! path        RFC 9162 inclusion of the submission id at header.log_size
//!             under header.log_root
//! ```
//!
//! An anchored bundle adds an [`AnchorProof`], whose first links are
//! checked here and whose last is Bitcoin's, checked by the caller with
//! `pantheon-anchor`'s `spv::verify` against the commitment returned in
//! [`Verified::anchor`]:
//!
//! ```text
//! history        leaf hash of the block hash at index S-1 of a history of
//!                A >= S blocks --RFC 9162 path--> root; the anchor
//!                commitment of (genesis_hash, A, root) == anchor.commitment
//! anchor_record  a kind-4 transaction signed by a genesis validator
//!                (context pantheon/v1/anchor-record) for height A and that
//!                commitment, naming txid = sha256d(bitcoin.raw_tx) and
//!                block = sha256d(bitcoin.headers[0])
//! bitcoin        (caller) payload, Merkle branch, headers' proof of work
//! ```
//!
//! [`ProofBundle::verify`] checks the links in this order and names the
//! first that fails.

use serde::{Deserialize, Serialize};

use crate::amount::Height;
use crate::anchor::{AnchorCommitment, BitcoinBlockHash, BitcoinPart, BitcoinTxid};
use crate::block::{BlockHeader, CommitCertificate};
use crate::codec::{Encode, decode_exact};
use crate::crypto::{KeyCache, OperatorId, PublicKey};
use crate::genesis::GenesisHeader;
use crate::hash::{AuditRoot, BlockHash, GenesisHash, Hash256, SubmissionId};
use crate::log::{InclusionProof, leaf_hash};
use crate::tx::SignedTx;

/// The bundle format version.
pub const BUNDLE_VERSION: u32 = 1;

/// Bytes carried as lower-case hex in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HexBytes(pub Vec<u8>);

impl Serialize for HexBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        hex::decode(text.as_ref())
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

/// A self-contained proof that a submission is final.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofBundle {
    /// [`BUNDLE_VERSION`].
    pub version: u32,
    /// The network's genesis hash: the pin every other link hangs from.
    pub genesis_hash: GenesisHash,
    /// The encoded genesis header (validator set, params).
    pub genesis: HexBytes,
    /// The encoded signed submission.
    pub submission: HexBytes,
    /// The operator's public key (its id is the submission's operator).
    pub operator_key: PublicKey,
    /// The submission's RFC 9162 inclusion proof in the block's log.
    pub inclusion: InclusionProof,
    /// The encoded header of the block that holds the submission.
    pub header: HexBytes,
    /// The encoded commit certificate of that block.
    pub certificate: HexBytes,
    /// The anchor part; absent in a finality-only bundle (and then not
    /// written, so such bundles are unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<AnchorProof>,
}

/// The anchor part of a bundle: from the bundle's block to a commitment
/// written into Bitcoin, and the Bitcoin proof of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorProof {
    /// The anchored height `A` (at least the bundle block's height `S`).
    pub height: Height,
    /// The RFC 9162 inclusion path of the bundle's block hash (leaf
    /// `S - 1`) in the block history of size `A`.
    pub history_proof: Vec<Hash256>,
    /// The anchor commitment for `A`.
    pub commitment: AnchorCommitment,
    /// The encoded signed AnchorRecord transaction (kind 4) that recorded
    /// the anchor on chain.
    pub record: HexBytes,
    /// The Bitcoin transaction, Merkle branch and headers.
    pub bitcoin: BitcoinPart,
}

impl AnchorProof {
    /// Assembles the anchor part from the history proof of the bundle's
    /// block in the history of size `proof.tree_size` (= the anchored
    /// height), the commitment, the record and the Bitcoin part.
    #[must_use]
    pub fn new(
        history: &InclusionProof,
        commitment: AnchorCommitment,
        record: &SignedTx,
        bitcoin: BitcoinPart,
    ) -> Self {
        Self {
            height: Height::new(history.tree_size),
            history_proof: history.path.clone(),
            commitment,
            record: HexBytes(record.as_bytes().to_vec()),
            bitcoin,
        }
    }
}

/// The links of a proof, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// The bundle is not a version-1 bundle.
    Format,
    /// The genesis header and its hash.
    Genesis,
    /// The operator's signed submission.
    Submission,
    /// The block header and its hash.
    Header,
    /// The commit certificate.
    Certificate,
    /// The Merkle path from the submission to the header's log root.
    Path,
    /// The block history path from the block to the anchor commitment.
    History,
    /// The validator's signed record of the Bitcoin anchor.
    AnchorRecord,
    /// The Bitcoin part (checked by the caller: `pantheon-anchor`'s
    /// `spv::verify`).
    Bitcoin,
}

impl std::fmt::Display for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Format => "format",
            Self::Genesis => "genesis",
            Self::Submission => "submission",
            Self::Header => "header",
            Self::Certificate => "certificate",
            Self::Path => "path",
            Self::History => "history",
            Self::AnchorRecord => "anchor_record",
            Self::Bitcoin => "bitcoin",
        })
    }
}

/// The first link that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{link} link failed: {reason}")]
pub struct ProofError {
    /// The failed link.
    pub link: Link,
    /// What is wrong.
    pub reason: String,
}

fn fail(link: Link, reason: impl std::fmt::Display) -> ProofError {
    ProofError {
        link,
        reason: reason.to_string(),
    }
}

/// What a valid bundle proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// The network.
    pub genesis_hash: GenesisHash,
    /// The network's name.
    pub chain_id: String,
    /// The submission.
    pub submission_id: SubmissionId,
    /// Its operator.
    pub operator: OperatorId,
    /// Its sequence number in the operator's chain.
    pub seq: u64,
    /// The id of the operator's previous submission.
    pub prev: SubmissionId,
    /// The audit root.
    pub root: AuditRoot,
    /// Its label.
    pub label: String,
    /// The block that holds it.
    pub height: Height,
    /// That block's hash.
    pub block_hash: BlockHash,
    /// The block's time (proposer's clock), ms since the Unix epoch.
    pub block_time_ms: u64,
    /// Validators that signed the certificate, and the set's size.
    pub signers: (usize, usize),
    /// For an anchored bundle, what the caller must still find in Bitcoin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor: Option<VerifiedAnchorClaim>,
}

/// What the anchor part proves up to Bitcoin: the commitment, and the
/// Bitcoin transaction and block a validator recorded on chain for it. The
/// caller checks the Bitcoin part proves `commitment` (`spv::verify`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedAnchorClaim {
    /// The anchored height `A`.
    pub height: Height,
    /// The commitment to find in the Bitcoin transaction's OP_RETURN.
    pub commitment: AnchorCommitment,
    /// The validator that signed the record.
    pub validator: u16,
    /// The recorded Bitcoin transaction (= sha256d of the part's `raw_tx`).
    pub bitcoin_txid: BitcoinTxid,
    /// The recorded Bitcoin block.
    pub bitcoin_block: BitcoinBlockHash,
    /// The recorded Bitcoin block height (claimed by the validator; check
    /// it against a checkpoint or a live node).
    pub bitcoin_height: u64,
}

impl ProofBundle {
    /// Checks every link; `trusted_genesis` additionally pins the network.
    ///
    /// # Errors
    /// [`ProofError`] naming the first link that fails.
    pub fn verify(
        &self,
        trusted_genesis: Option<GenesisHash>,
        keys: &KeyCache,
    ) -> Result<Verified, ProofError> {
        if self.version != BUNDLE_VERSION {
            return Err(fail(
                Link::Format,
                format!("unsupported bundle version {}", self.version),
            ));
        }

        let genesis: GenesisHeader =
            decode_exact(&self.genesis.0).map_err(|e| fail(Link::Genesis, e))?;
        let genesis_hash = genesis.hash();
        if genesis_hash != self.genesis_hash {
            return Err(fail(
                Link::Genesis,
                format!(
                    "genesis header hashes to {genesis_hash}, not {}",
                    self.genesis_hash
                ),
            ));
        }
        if let Some(trusted) = trusted_genesis.filter(|t| *t != genesis_hash) {
            return Err(fail(
                Link::Genesis,
                format!("bundle is for network {genesis_hash}, not the trusted {trusted}"),
            ));
        }

        let tx: SignedTx =
            decode_exact(&self.submission.0).map_err(|e| fail(Link::Submission, e))?;
        let Some(submission) = tx.as_submission() else {
            return Err(fail(Link::Submission, "not a root submission"));
        };
        if self.operator_key.id() != submission.operator {
            return Err(fail(
                Link::Submission,
                format!(
                    "operator key is not the key of operator {}",
                    submission.operator
                ),
            ));
        }
        let message = tx.signing_message(&genesis_hash);
        if !keys
            .get(&self.operator_key)
            .verify(tx.body().context(), &message, &tx.signature())
        {
            return Err(fail(Link::Submission, "operator signature does not verify"));
        }

        let header: BlockHeader =
            decode_exact(&self.header.0).map_err(|e| fail(Link::Header, e))?;
        let cert: CommitCertificate =
            decode_exact(&self.certificate.0).map_err(|e| fail(Link::Certificate, e))?;
        let block_hash = header.hash();
        if block_hash != cert.block_hash || header.height != cert.height {
            return Err(fail(
                Link::Header,
                format!(
                    "header {block_hash} at height {} is not the certified block {} at {}",
                    header.height, cert.block_hash, cert.height
                ),
            ));
        }
        cert.verify(genesis_hash, &genesis.validators, &header, keys)
            .map_err(|e| fail(Link::Certificate, e))?;

        let id = tx.submission_id();
        if self.inclusion.tree_size != header.log_size {
            return Err(fail(
                Link::Path,
                format!(
                    "proof is for a log of {} leaves, the header's log has {}",
                    self.inclusion.tree_size, header.log_size
                ),
            ));
        }
        if !self.inclusion.verify(&id.hash(), &header.log_root.hash()) {
            return Err(fail(
                Link::Path,
                "the submission is not in the header's log root",
            ));
        }

        let anchor = self
            .anchor
            .as_ref()
            .map(|a| a.verify(&genesis, &header, keys))
            .transpose()?;

        Ok(Verified {
            genesis_hash,
            chain_id: genesis.chain_id.clone(),
            submission_id: id,
            operator: submission.operator,
            seq: submission.seq,
            prev: submission.prev,
            root: submission.root,
            label: submission.metadata.label().to_owned(),
            height: header.height,
            block_hash,
            block_time_ms: header.time_ms,
            signers: (cert.signatures.len(), genesis.validators.len()),
            anchor,
        })
    }

    /// The same bundle with an anchor part.
    #[must_use]
    pub fn with_anchor(self, anchor: AnchorProof) -> Self {
        Self {
            anchor: Some(anchor),
            ..self
        }
    }

    /// Assembles a bundle from its parts.
    #[must_use]
    pub fn new(
        genesis: &GenesisHeader,
        submission: &SignedTx,
        operator_key: PublicKey,
        inclusion: InclusionProof,
        header: &BlockHeader,
        certificate: &CommitCertificate,
    ) -> Self {
        Self {
            version: BUNDLE_VERSION,
            genesis_hash: genesis.hash(),
            genesis: HexBytes(genesis.to_bytes()),
            submission: HexBytes(submission.as_bytes().to_vec()),
            operator_key,
            inclusion,
            header: HexBytes(header.to_bytes()),
            certificate: HexBytes(certificate.to_bytes()),
            anchor: None,
        }
    }
}

impl AnchorProof {
    /// The `history` and `anchor_record` links, for the block `header`
    /// (already verified final) on the network of `genesis`.
    fn verify(
        &self,
        genesis: &GenesisHeader,
        header: &BlockHeader,
        keys: &KeyCache,
    ) -> Result<VerifiedAnchorClaim, ProofError> {
        let genesis_hash = genesis.hash();
        let block = header.height;
        if self.height < block {
            return Err(fail(
                Link::History,
                format!(
                    "anchored height {} is below the block's height {block}",
                    self.height
                ),
            ));
        }
        let proof = InclusionProof {
            leaf_index: block.get().saturating_sub(1),
            tree_size: self.height.get(),
            path: self.history_proof.clone(),
        };
        let leaf = leaf_hash(header.hash().as_bytes());
        let root = proof
            .root_from(&leaf)
            .filter(|_| block != Height::GENESIS)
            .ok_or_else(|| {
                fail(
                    Link::History,
                    format!(
                        "the history proof is not a path for block {block} in {} blocks",
                        self.height
                    ),
                )
            })?;
        let commitment = AnchorCommitment::compute(&genesis_hash, self.height, &root);
        if commitment != self.commitment {
            return Err(fail(
                Link::History,
                format!(
                    "the history path leads to commitment {commitment}, the bundle says {}",
                    self.commitment
                ),
            ));
        }

        let bad = |reason: String| fail(Link::AnchorRecord, reason);
        let tx: SignedTx = decode_exact(&self.record.0).map_err(|e| bad(e.to_string()))?;
        let Some(record) = tx.as_anchor_record() else {
            return Err(bad("not an anchor record".into()));
        };
        let validator = genesis
            .validators
            .get(record.validator)
            .ok_or_else(|| bad(format!("validator {} is not in the set", record.validator)))?;
        if !keys.get(&validator.public_key).verify(
            tx.body().context(),
            &tx.signing_message(&genesis_hash),
            &tx.signature(),
        ) {
            return Err(bad(format!(
                "signature of validator {} does not verify",
                record.validator
            )));
        }
        if record.height != self.height || record.commitment != self.commitment {
            return Err(bad(format!(
                "the record is for height {} and commitment {}, the bundle for {} and {}",
                record.height, record.commitment, self.height, self.commitment
            )));
        }
        let txid = self.bitcoin.txid();
        if record.bitcoin_txid != txid {
            return Err(bad(format!(
                "the record names Bitcoin transaction {}, the Bitcoin part holds {txid}",
                record.bitcoin_txid
            )));
        }
        if let Some(block) = self.bitcoin.block_hash()
            && record.bitcoin_block != block
        {
            return Err(bad(format!(
                "the record names Bitcoin block {}, the Bitcoin part's first header is {block}",
                record.bitcoin_block
            )));
        }
        Ok(VerifiedAnchorClaim {
            height: self.height,
            commitment: self.commitment,
            validator: record.validator,
            bitcoin_txid: record.bitcoin_txid,
            bitcoin_block: record.bitcoin_block,
            bitcoin_height: record.bitcoin_height,
        })
    }
}
