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
//! private `wire` module holds their two JSON forms and the one reader (ADR
//! 0010, ADR 0014).
//!
//! A verifier reads a bundle in two stages (FORMATS 22.6): the JSON
//! structure first, which is all the `format` link checks
//! ([`ReceivedBundle::from_json`]), then each member's text (hex, base64,
//! a path's length) as the link that uses it is checked, so that a
//! malformed member is reported by that link and not lumped under
//! `format`:
//!
//! ```text
//! link           members it decodes (ADR 0014)
//! format         the JSON: no duplicate member, depth <= 16, version 1 or 2,
//!                the members present with their JSON types
//! genesis        genesis_hash, genesis
//! submission     submission, operator_key
//! header         header
//! certificate    certificate
//! path           inclusion.path (at most 64 hashes)
//! history        anchor.history_proof (at most 64 hashes), anchor.commitment
//! bitcoin        anchor.bitcoin, decoded right after history
//! anchor_record  anchor.record
//! ```

use serde::Serialize;

use crate::amount::Height;
use crate::anchor::{AnchorCommitment, BitcoinBlockHash, BitcoinPart, BitcoinTxid};
use crate::block::{BlockHeader, CommitCertificate};
use crate::codec::{Encode, decode_exact};
use crate::crypto::{KeyCache, OperatorId, PublicKey};
use crate::genesis::GenesisHeader;
use crate::hash::{AuditRoot, BlockHash, GenesisHash, Hash256, StateRoot, SubmissionId};
use crate::log::{InclusionProof, leaf_hash};
use crate::tx::SignedTx;

mod wire;

/// The bundle version nodes write (section 22 of `docs/FORMATS.md`).
pub const BUNDLE_VERSION: u32 = 2;

/// The first bundle version (sections 16 and 21), still read and checked.
pub const BUNDLE_VERSION_1: u32 = 1;

/// The most hashes an inclusion or history path may carry, in both
/// versions: a tree of at most `2^64 - 1` leaves has paths of at most 64.
pub const MAX_PATH_HASHES: usize = 64;

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
    /// The document is not a bundle: not JSON, a duplicate member, an
    /// unknown version, a member missing or of the wrong JSON type
    /// (FORMATS 22.6). A member that is there but does not decode is
    /// reported by the link that uses it.
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
    /// A record proof's record (FORMATS 23.6 and 24): its bytes.
    Record,
    /// The record's `manifest` rule, or the manifest a decision names.
    Manifest,
    /// The record's signature by the operator's key.
    Signature,
    /// The record's body against its `body_hash`.
    Body,
    /// The members the record's kind requires.
    Kind,
    /// An approval's second signature.
    Approval,
    /// The record's place in its stream, against its neighbours.
    Chain,
    /// The record's path to its batch's root, and that root being the
    /// submission's.
    Batch,
    /// An operator export's state record and its proof against the state
    /// root of the block of its last submission (FORMATS 25).
    State,
    /// An operator export's sequence of submissions against each other and
    /// against that state record: nothing missing, repeated or withheld.
    Completeness,
    /// A receipt's signer is a validator of the network (FORMATS 26).
    Validator,
    /// Receipt evidence: the block is at or after the receipt's deadline
    /// and its state shows the submission not finalized (FORMATS 26.4).
    Deadline,
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
            Self::Record => "record",
            Self::Manifest => "manifest",
            Self::Signature => "signature",
            Self::Body => "body",
            Self::Kind => "kind",
            Self::Approval => "approval",
            Self::Chain => "chain",
            Self::Batch => "batch",
            Self::State => "state",
            Self::Completeness => "completeness",
            Self::Validator => "validator",
            Self::Deadline => "deadline",
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
    /// The block's state root (the state after it).
    pub state_root: StateRoot,
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
        ReceivedBundle::from(self).verify_expecting(trusted_genesis, root, keys)
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

/// One member of a received bundle: its value, or why its text does not
/// decode (reported by the link that uses it).
type Member<T> = Result<T, String>;

/// A proof bundle as a verifier receives it: its JSON structure checked
/// (the `format` link, FORMATS 22.6), each member decoded from its text
/// or kept with the reason it does not decode, so that the link that uses
/// the member reports it, in link order.
///
/// ```
/// use pantheon_runtime::proof::{Link, ReceivedBundle};
///
/// // Not JSON, or not a bundle's structure: the format link.
/// let e = ReceivedBundle::from_json("{\"version\": 2").unwrap_err();
/// assert_eq!(e.link, Link::Format);
/// ```
///
/// A [`ProofBundle`] (the typed value nodes build) converts into one;
/// [`ProofBundle`]'s own JSON reader is this one, refusing a bundle with
/// any member that does not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedBundle {
    version: u32,
    genesis_hash: Member<GenesisHash>,
    genesis: Option<Member<Vec<u8>>>,
    submission: Member<Vec<u8>>,
    operator_key: Member<PublicKey>,
    leaf_index: u64,
    tree_size: u64,
    inclusion_path: Member<Vec<Hash256>>,
    header: Member<Vec<u8>>,
    certificate: Member<Vec<u8>>,
    anchor: Option<ReceivedAnchor>,
}

/// The anchor part of a [`ReceivedBundle`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReceivedAnchor {
    height: Height,
    history_proof: Member<Vec<Hash256>>,
    commitment: Member<AnchorCommitment>,
    record: Option<Member<Vec<u8>>>,
    bitcoin: Member<BitcoinPart>,
}

/// A path within [`MAX_PATH_HASHES`].
fn bounded_path(what: &str, path: Vec<Hash256>) -> Member<Vec<Hash256>> {
    if path.len() > MAX_PATH_HASHES {
        return Err(format!(
            "{what} has {} hashes, more than {MAX_PATH_HASHES}",
            path.len()
        ));
    }
    Ok(path)
}

impl From<ProofBundle> for ReceivedBundle {
    fn from(b: ProofBundle) -> Self {
        let version = b.version;
        Self {
            version,
            genesis_hash: Ok(b.genesis_hash),
            genesis: b.genesis.map(Ok),
            submission: Ok(b.submission),
            operator_key: Ok(b.operator_key),
            leaf_index: b.inclusion.leaf_index,
            tree_size: b.inclusion.tree_size,
            inclusion_path: bounded_path("inclusion.path", b.inclusion.path),
            header: Ok(b.header),
            certificate: Ok(b.certificate),
            anchor: b.anchor.map(|a| ReceivedAnchor {
                height: a.height,
                history_proof: bounded_path("anchor.history_proof", a.history_proof),
                commitment: Ok(a.commitment),
                record: match (a.record, version) {
                    (Some(r), _) => Some(Ok(r)),
                    (None, BUNDLE_VERSION_1) => {
                        Some(Err("a version-1 anchor part must carry its record".into()))
                    }
                    (None, _) => None,
                },
                bitcoin: Ok(a.bitcoin),
            }),
        }
    }
}

impl From<&ProofBundle> for ReceivedBundle {
    fn from(b: &ProofBundle) -> Self {
        Self::from(b.clone())
    }
}

impl From<&Self> for ReceivedBundle {
    fn from(b: &Self) -> Self {
        b.clone()
    }
}

/// The member's value, or its link's failure naming the member.
fn member<'a, T>(m: &'a Member<T>, link: Link, name: &str) -> Result<&'a T, ProofError> {
    m.as_ref().map_err(|e| fail(link, format!("{name}: {e}")))
}

impl ReceivedBundle {
    /// Reads a bundle's JSON: only its structure is checked here (FORMATS
    /// 22.6); each member is decoded for the link that uses it.
    ///
    /// # Errors
    /// [`ProofError`] with [`Link::Format`]: not JSON, a duplicate member,
    /// nested too deep, an unknown version, or a member missing or of the
    /// wrong JSON type.
    pub fn from_json(text: &str) -> Result<Self, ProofError> {
        serde_json::from_str(text)
            .map_err(|e| fail(Link::Format, format!("not a proof bundle: {e}")))
    }

    /// [`Self::from_json`] for raw bytes (which must be UTF-8).
    ///
    /// # Errors
    /// As [`Self::from_json`]; bytes that are not UTF-8 fail the format
    /// link too.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ProofError> {
        serde_json::from_slice(bytes)
            .map_err(|e| fail(Link::Format, format!("not a proof bundle: {e}")))
    }

    /// The operator's public key, if the member decodes.
    #[must_use]
    pub fn operator_key(&self) -> Option<&PublicKey> {
        self.operator_key.as_ref().ok()
    }

    /// The submission's bytes, if the member decodes.
    #[must_use]
    pub fn submission_bytes(&self) -> Option<&[u8]> {
        self.submission.as_ref().ok().map(Vec::as_slice)
    }

    /// The bundle version (1 or 2: the reader refuses any other).
    #[must_use]
    pub const fn version(&self) -> u32 {
        self.version
    }

    /// Whether the bundle carries a genesis header (decodable or not).
    #[must_use]
    pub const fn carries_genesis(&self) -> bool {
        self.genesis.is_some()
    }

    /// Gives a bundle that does not carry its genesis the verifier's copy;
    /// as [`ProofBundle::supply_genesis`].
    pub fn supply_genesis(&mut self, genesis: &GenesisHeader) {
        if self.genesis.is_none() {
            self.genesis = Some(Ok(genesis.to_bytes()));
        }
    }

    /// The genesis header the bundle carries (or was supplied), if it
    /// decodes.
    #[must_use]
    pub fn genesis_header(&self) -> Option<GenesisHeader> {
        let bytes = self.genesis.as_ref()?.as_ref().ok()?;
        decode_exact(bytes).ok()
    }

    /// The Bitcoin part of the anchor part, if there is one and it
    /// decodes.
    #[must_use]
    pub fn bitcoin_part(&self) -> Option<&BitcoinPart> {
        self.anchor.as_ref()?.bitcoin.as_ref().ok()
    }

    /// The typed bundle, if every member decodes.
    ///
    /// # Errors
    /// The first member, in link order, that does not decode, with the
    /// link that reports it.
    pub fn into_bundle(self) -> Result<ProofBundle, ProofError> {
        let take = |m: Member<Vec<u8>>, link, name: &str| {
            m.map_err(|e| fail(link, format!("{name}: {e}")))
        };
        let genesis_hash = self
            .genesis_hash
            .map_err(|e| fail(Link::Genesis, format!("genesis_hash: {e}")))?;
        let genesis = self
            .genesis
            .map(|g| take(g, Link::Genesis, "genesis"))
            .transpose()?;
        let submission = take(self.submission, Link::Submission, "submission")?;
        let operator_key = self
            .operator_key
            .map_err(|e| fail(Link::Submission, format!("operator_key: {e}")))?;
        let header = take(self.header, Link::Header, "header")?;
        let certificate = take(self.certificate, Link::Certificate, "certificate")?;
        let path = self
            .inclusion_path
            .map_err(|e| fail(Link::Path, format!("inclusion.path: {e}")))?;
        let anchor = match self.anchor {
            None => None,
            Some(a) => {
                let history_proof = a
                    .history_proof
                    .map_err(|e| fail(Link::History, format!("anchor.history_proof: {e}")))?;
                let commitment = a
                    .commitment
                    .map_err(|e| fail(Link::History, format!("anchor.commitment: {e}")))?;
                let bitcoin = a
                    .bitcoin
                    .map_err(|e| fail(Link::Bitcoin, format!("anchor.bitcoin: {e}")))?;
                let record = a
                    .record
                    .map(|r| take(r, Link::AnchorRecord, "anchor.record"))
                    .transpose()?;
                Some(AnchorProof {
                    height: a.height,
                    history_proof,
                    commitment,
                    record,
                    bitcoin,
                })
            }
        };
        Ok(ProofBundle {
            version: self.version,
            genesis_hash,
            genesis,
            submission,
            operator_key,
            inclusion: InclusionProof {
                leaf_index: self.leaf_index,
                tree_size: self.tree_size,
                path,
            },
            header,
            certificate,
            anchor,
        })
    }

    /// Checks every link; as [`ProofBundle::verify`].
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

    /// Checks every link, and the `root` link if `root` is given; as
    /// [`ProofBundle::verify_expecting`]. Each member is decoded when its
    /// link is checked, so a member that does not decode fails that link.
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

        let bundle_genesis = *member(&self.genesis_hash, Link::Genesis, "genesis_hash")?;
        let Some(genesis_bytes) = &self.genesis else {
            return Err(fail(
                Link::Genesis,
                format!(
                    "the bundle pins network {bundle_genesis} but does not carry its genesis: \
                     supply the network's genesis file (pantheon verify --genesis FILE)"
                ),
            ));
        };
        let genesis_bytes = member(genesis_bytes, Link::Genesis, "genesis")?;
        let genesis: GenesisHeader =
            decode_exact(genesis_bytes).map_err(|e| fail(Link::Genesis, e))?;
        let genesis_hash = genesis.hash();
        if genesis_hash != bundle_genesis {
            return Err(fail(
                Link::Genesis,
                format!("genesis header hashes to {genesis_hash}, not {bundle_genesis}"),
            ));
        }
        if let Some(trusted) = trusted_genesis.filter(|t| *t != genesis_hash) {
            return Err(fail(
                Link::Genesis,
                format!("bundle is for network {genesis_hash}, not the trusted {trusted}"),
            ));
        }

        let submission_bytes = member(&self.submission, Link::Submission, "submission")?;
        let tx: SignedTx = decode_exact(submission_bytes).map_err(|e| fail(Link::Submission, e))?;
        let Some(submission) = tx.as_submission() else {
            return Err(fail(Link::Submission, "not a root submission"));
        };
        let operator_key = member(&self.operator_key, Link::Submission, "operator_key")?;
        if operator_key.id() != submission.operator {
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
            .get(operator_key)
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

        let header_bytes = member(&self.header, Link::Header, "header")?;
        let header: BlockHeader = decode_exact(header_bytes).map_err(|e| fail(Link::Header, e))?;
        let cert_bytes = member(&self.certificate, Link::Certificate, "certificate")?;
        let cert: CommitCertificate =
            decode_exact(cert_bytes).map_err(|e| fail(Link::Certificate, e))?;
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

        let path = member(&self.inclusion_path, Link::Path, "inclusion.path")?;
        let id = tx.submission_id();
        if self.tree_size != header.log_size {
            return Err(fail(
                Link::Path,
                format!(
                    "proof is for a log of {} leaves, the header's log has {}",
                    self.tree_size, header.log_size
                ),
            ));
        }
        let inclusion = InclusionProof {
            leaf_index: self.leaf_index,
            tree_size: self.tree_size,
            path: path.clone(),
        };
        if !inclusion.verify(&id.hash(), &header.log_root.hash()) {
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
            state_root: header.state_root,
            signers: (cert.signatures.len(), genesis.validators.len()),
            anchor,
        })
    }
}

impl ReceivedAnchor {
    /// The `history` and (version 1) `anchor_record` links, for the block
    /// `header` (already verified final) on the network of `genesis`. The
    /// Bitcoin part is decoded between the two (the record names its
    /// transaction and block); its own checks are the caller's.
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
        let path = member(&self.history_proof, Link::History, "anchor.history_proof")?;
        let proof = InclusionProof {
            leaf_index: block.get().saturating_sub(1),
            tree_size: self.height.get(),
            path: path.clone(),
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
        let claimed = *member(&self.commitment, Link::History, "anchor.commitment")?;
        let commitment = AnchorCommitment::compute(&genesis_hash, self.height, &root);
        if commitment != claimed {
            return Err(fail(
                Link::History,
                format!(
                    "the history path leads to commitment {commitment}, the bundle says {claimed}"
                ),
            ));
        }

        let bitcoin = member(&self.bitcoin, Link::Bitcoin, "anchor.bitcoin")?;
        let mut claim = VerifiedAnchorClaim {
            height: self.height,
            commitment,
            bitcoin_txid: bitcoin.txid(),
            bitcoin_block: bitcoin.block_hash(),
            recorded_by: None,
            bitcoin_height: None,
        };
        match (&self.record, version) {
            (Some(record), _) => {
                let record = member(record, Link::AnchorRecord, "anchor.record")?;
                verify_record(self.height, record, genesis, keys, &mut claim)?;
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
}

/// The version-1 `anchor_record` link: a validator signed, on chain, the
/// Bitcoin transaction and block the anchor part carries.
fn verify_record(
    height: Height,
    record: &[u8],
    genesis: &GenesisHeader,
    keys: &KeyCache,
    claim: &mut VerifiedAnchorClaim,
) -> Result<(), ProofError> {
    let bad = |reason: String| fail(Link::AnchorRecord, reason);
    let genesis_hash = genesis.hash();
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
        &tx.signing_message(&genesis_hash),
        &tx.signature(),
    ) {
        return Err(bad(format!(
            "signature of validator {} does not verify",
            record.validator
        )));
    }
    if record.height != height || record.commitment != claim.commitment {
        return Err(bad(format!(
            "the record is for height {} and commitment {}, the bundle for {height} and {}",
            record.height, record.commitment, claim.commitment
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
