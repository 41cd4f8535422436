//! Proof bundles: everything a stranger needs to check, offline and
//! trusting no one, that a submission was finalized (and anchored).
//!
//! A bundle is one JSON document. Every hashed or signed value travels as
//! its canonical bytes (base64 in version 2, hex in version 1; never
//! re-encoded as JSON fields), so the checks below follow
//! `docs/FORMATS.md` (sections 16, 21 and 22) exactly:
//!
//! ```text
//! genesis     hash(genesis) == genesis_hash     (optionally == a trusted hash);
//!             version 2 may leave the genesis to the verifier
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
//! anchor_record  version 1 only: a kind-4 transaction signed by a genesis
//!                validator (context pantheon/v1/anchor-record) for height A
//!                and that commitment, naming txid = sha256d(bitcoin.raw_tx)
//!                and block = sha256d(bitcoin.headers[0])
//! bitcoin        (caller) payload, Merkle branch, headers' proof of work
//! ```
//!
//! [`ProofBundle::verify`] checks the links in this order and names the
//! first that fails. The value type is the same for both versions; the
//! private `wire` module holds their two JSON forms (ADR 0010).

use serde::Serialize;

use crate::amount::Height;
use crate::anchor::{AnchorCommitment, BitcoinBlockHash, BitcoinPart, BitcoinTxid};
use crate::block::{BlockHeader, CommitCertificate};
use crate::codec::{Encode, decode_exact};
use crate::crypto::{KeyCache, OperatorId, PublicKey};
use crate::genesis::GenesisHeader;
use crate::hash::{AuditRoot, BlockHash, GenesisHash, Hash256, SubmissionId};
use crate::log::{InclusionProof, leaf_hash};
use crate::tx::SignedTx;

/// The bundle version nodes write (section 22 of `docs/FORMATS.md`).
pub const BUNDLE_VERSION: u32 = 2;

/// The first bundle version (sections 16 and 21), still read and checked.
pub const BUNDLE_VERSION_1: u32 = 1;

/// A self-contained proof that a submission is final, and (with its
/// anchor part) anchored in Bitcoin.
///
/// The value is the same for both versions; they differ in their JSON
/// ([`wire`]): version 1 writes bytes as hex and always carries the
/// genesis header and the anchor record, version 2 writes bytes as
/// base64, may leave the genesis to the verifier (it is pinned by
/// `genesis_hash`) and carries no record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofBundle {
    /// [`BUNDLE_VERSION`] or [`BUNDLE_VERSION_1`].
    pub version: u32,
    /// The network's genesis hash: the pin every other link hangs from.
    pub genesis_hash: GenesisHash,
    /// The encoded genesis header (validator set, params). Optional in
    /// version 2: the verifier then supplies it.
    pub genesis: Option<Vec<u8>>,
    /// The encoded signed submission.
    pub submission: Vec<u8>,
    /// The operator's public key (its id is the submission's operator).
    pub operator_key: PublicKey,
    /// The submission's RFC 9162 inclusion proof in the block's log.
    pub inclusion: InclusionProof,
    /// The encoded header of the block that holds the submission.
    pub header: Vec<u8>,
    /// The encoded commit certificate of that block.
    pub certificate: Vec<u8>,
    /// The anchor part; absent in a finality-only bundle.
    pub anchor: Option<AnchorProof>,
}

/// The anchor part of a bundle: from the bundle's block to a commitment
/// written into Bitcoin, and the Bitcoin proof of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorProof {
    /// The anchored height `A` (at least the bundle block's height `S`).
    pub height: Height,
    /// The RFC 9162 inclusion path of the bundle's block hash (leaf
    /// `S - 1`) in the block history of size `A`.
    pub history_proof: Vec<Hash256>,
    /// The anchor commitment for `A`.
    pub commitment: AnchorCommitment,
    /// Version 1 only: the encoded signed AnchorRecord transaction (kind
    /// 4) that recorded the anchor on chain.
    pub record: Option<Vec<u8>>,
    /// The Bitcoin transaction, Merkle branch and headers.
    pub bitcoin: BitcoinPart,
}

impl AnchorProof {
    /// Assembles the anchor part from the history proof of the bundle's
    /// block in the history of size `proof.tree_size` (= the anchored
    /// height), the commitment and the Bitcoin part.
    #[must_use]
    pub fn new(
        history: &InclusionProof,
        commitment: AnchorCommitment,
        bitcoin: BitcoinPart,
    ) -> Self {
        Self {
            height: Height::new(history.tree_size),
            history_proof: history.path.clone(),
            commitment,
            record: None,
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
    /// The audit root the verifier's user holds (`pantheon verify
    /// --root`), if they stated one.
    Root,
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
            Self::Root => "root",
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
/// Bitcoin transaction and block the part carries for it. The caller
/// checks the Bitcoin part proves `commitment` (`spv::verify`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedAnchorClaim {
    /// The anchored height `A`.
    pub height: Height,
    /// The commitment to find in the Bitcoin transaction's OP_RETURN.
    pub commitment: AnchorCommitment,
    /// The Bitcoin transaction (sha256d of the part's `raw_tx`).
    pub bitcoin_txid: BitcoinTxid,
    /// The Bitcoin block holding it (sha256d of the first header), if the
    /// part carries headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitcoin_block: Option<BitcoinBlockHash>,
    /// Version 1: the validator that signed the anchor record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded_by: Option<u16>,
    /// Version 1: the Bitcoin block height the record claims (check it
    /// against a checkpoint or a live node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitcoin_height: Option<u64>,
}

impl ProofBundle {
    /// Checks every link; `trusted_genesis` additionally pins the network.
    /// A bundle that does not carry its genesis header fails the genesis
    /// link: the verifier supplies it first (see [`Self::supply_genesis`]).
    ///
    /// # Errors
    /// [`ProofError`] naming the first link that fails.
    pub fn verify(
        &self,
        trusted_genesis: Option<GenesisHash>,
        keys: &KeyCache,
    ) -> Result<Verified, ProofError> {
        self.verify_expecting(trusted_genesis, None, keys)
    }

    /// [`Self::verify`], and if `root` is given, the `root` link after the
    /// submission: the submission's audit root must be the one the
    /// verifier's user holds.
    ///
    /// # Errors
    /// [`ProofError`] naming the first link that fails.
    pub fn verify_expecting(
        &self,
        trusted_genesis: Option<GenesisHash>,
        root: Option<AuditRoot>,
        keys: &KeyCache,
    ) -> Result<Verified, ProofError> {
        if self.version != BUNDLE_VERSION && self.version != BUNDLE_VERSION_1 {
            return Err(fail(
                Link::Format,
                format!("unsupported bundle version {}", self.version),
            ));
        }

        let Some(genesis_bytes) = &self.genesis else {
            return Err(fail(
                Link::Genesis,
                format!(
                    "the bundle pins network {} but does not carry its genesis: supply the \
                     network's genesis file (pantheon verify --genesis FILE)",
                    self.genesis_hash
                ),
            ));
        };
        let genesis: GenesisHeader =
            decode_exact(genesis_bytes).map_err(|e| fail(Link::Genesis, e))?;
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

        let tx: SignedTx = decode_exact(&self.submission).map_err(|e| fail(Link::Submission, e))?;
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
        if let Some(root) = root.filter(|r| *r != submission.root) {
            return Err(fail(
                Link::Root,
                format!(
                    "the submission commits to root {}, not the root {root} you hold",
                    submission.root
                ),
            ));
        }

        let header: BlockHeader = decode_exact(&self.header).map_err(|e| fail(Link::Header, e))?;
        let cert: CommitCertificate =
            decode_exact(&self.certificate).map_err(|e| fail(Link::Certificate, e))?;
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
            .map(|a| a.verify(self.version, &genesis, &header, keys))
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

    /// Gives a bundle that does not carry its genesis the verifier's copy
    /// (from the network's genesis file). A bundle that carries one keeps
    /// it; either way, pass `genesis.hash()` to [`Self::verify`] as the
    /// trusted hash so that the two must agree.
    pub fn supply_genesis(&mut self, genesis: &GenesisHeader) {
        if self.genesis.is_none() {
            self.genesis = Some(genesis.to_bytes());
        }
    }

    /// The same bundle with an anchor part.
    #[must_use]
    pub fn with_anchor(self, anchor: AnchorProof) -> Self {
        Self {
            anchor: Some(anchor),
            ..self
        }
    }

    /// The same bundle carrying the genesis header, for a verifier that
    /// will not have the network's genesis file.
    #[must_use]
    pub fn with_genesis(self, genesis: &GenesisHeader) -> Self {
        Self {
            genesis: Some(genesis.to_bytes()),
            ..self
        }
    }

    /// The same bundle in version 1: the genesis header embedded and, for
    /// an anchored bundle, the on-chain `record` of the anchor. Nodes write
    /// version 2; this exists for the version-1 test vectors and tests.
    #[must_use]
    pub fn into_version_1(self, genesis: &GenesisHeader, record: Option<&SignedTx>) -> Self {
        let anchor = self.anchor.map(|a| AnchorProof {
            record: record.map(|r| r.as_bytes().to_vec()),
            ..a
        });
        Self {
            version: BUNDLE_VERSION_1,
            genesis: Some(genesis.to_bytes()),
            anchor,
            ..self
        }
    }

    /// Assembles a version-2 bundle without its genesis header (pinned by
    /// `genesis_hash`). `certificate` is written as given: pass
    /// [`CommitCertificate::quorum`] so that every node writes the same.
    #[must_use]
    pub fn new(
        genesis_hash: GenesisHash,
        submission: &SignedTx,
        operator_key: PublicKey,
        inclusion: InclusionProof,
        header: &BlockHeader,
        certificate: &CommitCertificate,
    ) -> Self {
        Self {
            version: BUNDLE_VERSION,
            genesis_hash,
            genesis: None,
            submission: submission.as_bytes().to_vec(),
            operator_key,
            inclusion,
            header: header.to_bytes(),
            certificate: certificate.to_bytes(),
            anchor: None,
        }
    }
}

impl AnchorProof {
    /// The `history` and (version 1) `anchor_record` links, for the block
    /// `header` (already verified final) on the network of `genesis`.
    fn verify(
        &self,
        version: u32,
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

        let mut claim = VerifiedAnchorClaim {
            height: self.height,
            commitment: self.commitment,
            bitcoin_txid: self.bitcoin.txid(),
            bitcoin_block: self.bitcoin.block_hash(),
            recorded_by: None,
            bitcoin_height: None,
        };
        match (&self.record, version) {
            (Some(record), _) => {
                self.verify_record(record, &genesis_hash, genesis, keys, &mut claim)?;
            }
            (None, BUNDLE_VERSION_1) => {
                return Err(fail(
                    Link::AnchorRecord,
                    "a version-1 anchor part must carry its record",
                ));
            }
            (None, _) => {}
        }
        Ok(claim)
    }

    /// The version-1 `anchor_record` link: a validator signed, on chain,
    /// the Bitcoin transaction and block this part carries.
    fn verify_record(
        &self,
        record: &[u8],
        genesis_hash: &GenesisHash,
        genesis: &GenesisHeader,
        keys: &KeyCache,
        claim: &mut VerifiedAnchorClaim,
    ) -> Result<(), ProofError> {
        let bad = |reason: String| fail(Link::AnchorRecord, reason);
        let tx: SignedTx = decode_exact(record).map_err(|e| bad(e.to_string()))?;
        let Some(record) = tx.as_anchor_record() else {
            return Err(bad("not an anchor record".into()));
        };
        let validator = genesis
            .validators
            .get(record.validator)
            .ok_or_else(|| bad(format!("validator {} is not in the set", record.validator)))?;
        if !keys.get(&validator.public_key).verify(
            tx.body().context(),
            &tx.signing_message(genesis_hash),
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
        if record.bitcoin_txid != claim.bitcoin_txid {
            return Err(bad(format!(
                "the record names Bitcoin transaction {}, the Bitcoin part holds {}",
                record.bitcoin_txid, claim.bitcoin_txid
            )));
        }
        if let Some(block) = claim.bitcoin_block
            && record.bitcoin_block != block
        {
            return Err(bad(format!(
                "the record names Bitcoin block {}, the Bitcoin part's first header is {block}",
                record.bitcoin_block
            )));
        }
        claim.recorded_by = Some(record.validator);
        claim.bitcoin_height = Some(record.bitcoin_height);
        Ok(())
    }
}

/// The JSON forms of the two versions. A bundle is read by its `version`
/// member first, then as that version's document; it is written in the
/// version it holds.
mod wire {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Serialize};

    use super::{AnchorProof, ProofBundle};
    use crate::amount::Height;
    use crate::anchor::{AnchorCommitment, BitcoinPart};
    use crate::codec::Encode;
    use crate::crypto::{PUBLIC_KEY_LEN, PublicKey};
    use crate::hash::{GenesisHash, Hash256};
    use crate::log::InclusionProof;

    /// Version 1 (sections 16 and 21): bytes as hex.
    #[derive(Serialize, Deserialize)]
    struct V1 {
        version: u32,
        genesis_hash: GenesisHash,
        genesis: Hex,
        submission: Hex,
        operator_key: PublicKey,
        inclusion: InclusionProof,
        header: Hex,
        certificate: Hex,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        anchor: Option<AnchorV1>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct AnchorV1 {
        height: Height,
        history_proof: Vec<Hash256>,
        commitment: AnchorCommitment,
        record: Hex,
        bitcoin: BitcoinPart,
    }

    /// Version 2 (section 22): bytes as base64, paths as one byte string.
    #[derive(Serialize, Deserialize)]
    struct V2 {
        version: u32,
        genesis_hash: GenesisHash,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        genesis: Option<B64>,
        submission: B64,
        operator_key: B64,
        inclusion: InclusionV2,
        header: B64,
        certificate: B64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        anchor: Option<AnchorV2>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct InclusionV2 {
        leaf_index: u64,
        tree_size: u64,
        path: B64,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct AnchorV2 {
        height: Height,
        history_proof: B64,
        commitment: AnchorCommitment,
        bitcoin: B64,
    }

    /// Bytes as lower-case hex (readers accept either case).
    struct Hex(Vec<u8>);

    impl Serialize for Hex {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&hex::encode(&self.0))
        }
    }

    impl<'de> Deserialize<'de> for Hex {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            hex::decode(text.as_ref())
                .map(Self)
                .map_err(serde::de::Error::custom)
        }
    }

    /// Bytes as RFC 4648 base64 with padding; readers refuse any other
    /// alphabet, missing padding and non-zero trailing bits.
    struct B64(Vec<u8>);

    impl Serialize for B64 {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&STANDARD.encode(&self.0))
        }
    }

    impl<'de> Deserialize<'de> for B64 {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            STANDARD
                .decode(text.as_bytes())
                .map(Self)
                .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
        }
    }

    fn hashes_to_bytes(path: &[Hash256]) -> B64 {
        B64(path.iter().flat_map(|h| *h.as_bytes()).collect())
    }

    fn bytes_to_hashes(what: &str, bytes: &[u8]) -> Result<Vec<Hash256>, String> {
        if !bytes.len().is_multiple_of(32) || bytes.len() > 64 * 32 {
            return Err(format!(
                "{what} is {} bytes, not a path of at most 64 hashes of 32 bytes",
                bytes.len()
            ));
        }
        Ok(bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                Hash256::from_bytes(h)
            })
            .collect())
    }

    impl Serialize for ProofBundle {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let bytes = |b: &[u8]| b.to_vec();
            if self.version == super::BUNDLE_VERSION_1 {
                let anchor = match &self.anchor {
                    Some(a) => Some(AnchorV1 {
                        height: a.height,
                        history_proof: a.history_proof.clone(),
                        commitment: a.commitment,
                        record: Hex(a.record.clone().ok_or_else(|| {
                            serde::ser::Error::custom("a version-1 anchor part needs its record")
                        })?),
                        bitcoin: a.bitcoin.clone(),
                    }),
                    None => None,
                };
                return V1 {
                    version: self.version,
                    genesis_hash: self.genesis_hash,
                    genesis: Hex(self.genesis.clone().ok_or_else(|| {
                        serde::ser::Error::custom("a version-1 bundle needs its genesis")
                    })?),
                    submission: Hex(bytes(&self.submission)),
                    operator_key: self.operator_key.clone(),
                    inclusion: self.inclusion.clone(),
                    header: Hex(bytes(&self.header)),
                    certificate: Hex(bytes(&self.certificate)),
                    anchor,
                }
                .serialize(s);
            }
            V2 {
                version: self.version,
                genesis_hash: self.genesis_hash,
                genesis: self.genesis.clone().map(B64),
                submission: B64(bytes(&self.submission)),
                operator_key: B64(self.operator_key.as_bytes().to_vec()),
                inclusion: InclusionV2 {
                    leaf_index: self.inclusion.leaf_index,
                    tree_size: self.inclusion.tree_size,
                    path: hashes_to_bytes(&self.inclusion.path),
                },
                header: B64(bytes(&self.header)),
                certificate: B64(bytes(&self.certificate)),
                anchor: self.anchor.as_ref().map(|a| AnchorV2 {
                    height: a.height,
                    history_proof: hashes_to_bytes(&a.history_proof),
                    commitment: a.commitment,
                    bitcoin: B64(a.bitcoin.to_bytes()),
                }),
            }
            .serialize(s)
        }
    }

    impl<'de> Deserialize<'de> for ProofBundle {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            use serde::de::Error as _;
            let value = serde_json::Value::deserialize(d)?;
            let version = value
                .get("version")
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| D::Error::custom("missing or non-numeric `version`"))?;
            match u32::try_from(version) {
                Ok(super::BUNDLE_VERSION_1) => {
                    let b: V1 = serde_json::from_value(value).map_err(D::Error::custom)?;
                    Ok(Self {
                        version: b.version,
                        genesis_hash: b.genesis_hash,
                        genesis: Some(b.genesis.0),
                        submission: b.submission.0,
                        operator_key: b.operator_key,
                        inclusion: b.inclusion,
                        header: b.header.0,
                        certificate: b.certificate.0,
                        anchor: b.anchor.map(|a| AnchorProof {
                            height: a.height,
                            history_proof: a.history_proof,
                            commitment: a.commitment,
                            record: Some(a.record.0),
                            bitcoin: a.bitcoin,
                        }),
                    })
                }
                Ok(super::BUNDLE_VERSION) => {
                    let b: V2 = serde_json::from_value(value).map_err(D::Error::custom)?;
                    let key: [u8; PUBLIC_KEY_LEN] =
                        b.operator_key.0.as_slice().try_into().map_err(|_| {
                            D::Error::custom(format!(
                                "operator_key is {} bytes, not {PUBLIC_KEY_LEN}",
                                b.operator_key.0.len()
                            ))
                        })?;
                    let anchor = match b.anchor {
                        Some(a) => Some(AnchorProof {
                            height: a.height,
                            history_proof: bytes_to_hashes(
                                "anchor.history_proof",
                                &a.history_proof.0,
                            )
                            .map_err(D::Error::custom)?,
                            commitment: a.commitment,
                            record: None,
                            bitcoin: BitcoinPart::from_bytes(&a.bitcoin.0)
                                .map_err(|e| D::Error::custom(format!("anchor.bitcoin: {e}")))?,
                        }),
                        None => None,
                    };
                    Ok(Self {
                        version: b.version,
                        genesis_hash: b.genesis_hash,
                        genesis: b.genesis.map(|g| g.0),
                        submission: b.submission.0,
                        operator_key: PublicKey::from_bytes(key),
                        inclusion: InclusionProof {
                            leaf_index: b.inclusion.leaf_index,
                            tree_size: b.inclusion.tree_size,
                            path: bytes_to_hashes("inclusion.path", &b.inclusion.path.0)
                                .map_err(D::Error::custom)?,
                        },
                        header: b.header.0,
                        certificate: b.certificate.0,
                        anchor,
                    })
                }
                _ => Err(D::Error::custom(format!(
                    "unsupported bundle version {version} (this verifier reads 1 and 2)"
                ))),
            }
        }
    }
}
