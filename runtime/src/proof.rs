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
//! [`ProofBundle::verify`] checks the links in this order and names the
//! first that fails.

use serde::{Deserialize, Serialize};

use crate::amount::Height;
use crate::block::{BlockHeader, CommitCertificate};
use crate::codec::{Encode, decode_exact};
use crate::crypto::{KeyCache, OperatorId, PublicKey};
use crate::genesis::GenesisHeader;
use crate::hash::{AuditRoot, BlockHash, GenesisHash, SubmissionId};
use crate::log::InclusionProof;
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
        })
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
        }
    }
}
