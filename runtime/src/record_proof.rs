//! Record proofs (FORMATS section 24): one audit record, or only its hash,
//! with its path to the batch root and the batch's proof bundle, so that a
//! stranger goes from one record to Bitcoin; optionally the record's
//! neighbours in its stream, and for a decision the proof of the manifest
//! it names.
//!
//! This module reads and writes the document and checks the record's part
//! (links `record` to `batch`), returning the batch root that the bundle
//! must prove; `pantheon-anchor`'s `verify_record_proof` checks the bundle
//! after it, with that root required, so the links are reported in the
//! order record, manifest, signature, body, kind, approval, chain, batch,
//! then the bundle's.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::codec::{Encode, decode_exact};
use crate::hash::{AuditRoot, Hash256};
use crate::log::{InclusionProof, leaf_hash};
use crate::proof::{Link, ProofBundle, ProofError, ReceivedBundle};
use crate::record::{Kind, Record, RecordError};
use crate::tx::SignedTx;

/// The version member's value.
pub const RECORD_PROOF_VERSION: u32 = 1;

/// Most hashes in a batch path (a batch of at most 2^32 records).
pub const MAX_BATCH_PATH: usize = 32;

/// How deep manifest proofs may nest (a manifest names none, so 1 is
/// all a valid proof needs).
const MAX_NESTING: usize = 1;

/// A record proof as read (the bundle still to be verified).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordProof {
    /// [`RECORD_PROOF_VERSION`].
    pub record_proof: u32,
    /// Base64 of the sealed record (FORMATS 23.4), when disclosed.
    #[serde(default)]
    pub record: Option<String>,
    /// The record hash, when only the hash is disclosed.
    #[serde(default)]
    pub record_hash: Option<String>,
    /// The record's body (a JSON object), when disclosed.
    #[serde(default)]
    pub body: Option<Value>,
    /// The record's place in its batch.
    pub batch: BatchPath,
    /// Base64 of the previous record of the stream.
    #[serde(default)]
    pub previous: Option<String>,
    /// Base64 of the next record of the stream.
    #[serde(default)]
    pub next: Option<String>,
    /// For a decision: the proof of the manifest it names.
    #[serde(default)]
    pub manifest: Option<Box<RecordProof>>,
    /// The batch's proof bundle (FORMATS 22).
    pub bundle: ReceivedBundle,
}

/// A record's leaf index, the batch's size and the path (base64 of the
/// hashes concatenated, from the leaf up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchPath {
    /// The record's position in its batch, from 0.
    pub leaf_index: u64,
    /// Records in the batch.
    pub tree_size: u64,
    /// The path.
    pub path: String,
}

/// What the record part of a proof established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordFacts {
    /// The record hash.
    pub record_hash: Hash256,
    /// The batch root the bundle must prove.
    pub batch_root: AuditRoot,
    /// The record's position in its batch and the batch's size.
    pub leaf_index: u64,
    /// Records in the batch.
    pub tree_size: u64,
    /// The disclosed record's stream, index, kind and time (absent when
    /// only the hash is disclosed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disclosed: Option<Disclosed>,
}

/// What a disclosed record says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disclosed {
    /// The stream.
    pub stream: String,
    /// The index in the stream.
    pub index: u64,
    /// The kind's name.
    pub kind: &'static str,
    /// The operator's clock at sealing (Unix ms).
    pub time_ms: u64,
    /// Whether the body was disclosed and checked.
    pub body: bool,
    /// Whether neighbours were given and checked (previous, next).
    pub neighbours: (bool, bool),
    /// For a decision, the manifest's record hash (proven by the nested
    /// proof).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Hash256>,
}

fn fail(link: Link, reason: impl std::fmt::Display) -> ProofError {
    ProofError {
        link,
        reason: reason.to_string(),
    }
}

fn record_link(e: &RecordError) -> Link {
    match e {
        RecordError::Codec(_) => Link::Record,
        RecordError::Body(_) | RecordError::BodyHash => Link::Body,
        RecordError::Kind { .. } => Link::Kind,
        RecordError::Manifest(_) => Link::Manifest,
        RecordError::Signature(_) => Link::Signature,
        RecordError::Approval => Link::Approval,
        RecordError::Chain(_) => Link::Chain,
    }
}

fn b64(link: Link, name: &str, text: &str) -> Result<Vec<u8>, ProofError> {
    STANDARD
        .decode(text.as_bytes())
        .map_err(|e| fail(link, format!("{name}: invalid base64: {e}")))
}

impl RecordProof {
    /// Reads a record proof's JSON. Only the structure is checked here;
    /// members are decoded by the links that use them.
    ///
    /// # Errors
    /// [`Link::Format`]: not JSON, not a record proof, a member of the
    /// wrong type, an unknown version.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ProofError> {
        let p: Self = serde_json::from_slice(bytes)
            .map_err(|e| fail(Link::Format, format!("not a record proof: {e}")))?;
        p.check_structure(0)?;
        Ok(p)
    }

    fn check_structure(&self, depth: usize) -> Result<(), ProofError> {
        if self.record_proof != RECORD_PROOF_VERSION {
            return Err(fail(
                Link::Format,
                format!("unsupported record proof version {}", self.record_proof),
            ));
        }
        if self.record.is_some() == self.record_hash.is_some() {
            return Err(fail(
                Link::Format,
                "exactly one of `record` and `record_hash` must be present",
            ));
        }
        if self.record.is_none()
            && (self.body.is_some()
                || self.previous.is_some()
                || self.next.is_some()
                || self.manifest.is_some())
        {
            return Err(fail(
                Link::Format,
                "`body`, `previous`, `next` and `manifest` need the disclosed `record`",
            ));
        }
        if let Some(m) = &self.manifest {
            if depth >= MAX_NESTING {
                return Err(fail(Link::Format, "manifest proofs nest too deep"));
            }
            m.check_structure(depth + 1)?;
        }
        Ok(())
    }

    /// Whether a JSON document is a record proof rather than a bundle (it
    /// has the `record_proof` member).
    #[must_use]
    pub fn is_record_proof(bytes: &[u8]) -> bool {
        #[derive(Deserialize)]
        struct Probe {
            #[serde(default)]
            record_proof: Option<serde::de::IgnoredAny>,
        }
        serde_json::from_slice::<Probe>(bytes).is_ok_and(|p| p.record_proof.is_some())
    }

    /// Checks the record part (links `record` to `batch`) and returns what
    /// it established, the batch root among it. The manifest's nested
    /// proof is checked here only for its record part; its bundle is the
    /// caller's to verify ([`Self::manifest`]).
    ///
    /// # Errors
    /// [`ProofError`] naming the first failing link.
    pub fn check_record(&self) -> Result<RecordFacts, ProofError> {
        let key = self.bundle.operator_key().ok_or_else(|| {
            fail(
                Link::Signature,
                "the bundle's operator_key does not decode, so the record cannot be checked",
            )
        })?;
        let (record_hash, disclosed) = match (&self.record, &self.record_hash) {
            (Some(text), _) => {
                let bytes = b64(Link::Record, "record", text)?;
                let record: Record =
                    decode_exact(&bytes).map_err(|e| fail(Link::Record, format!("record: {e}")))?;
                record
                    .envelope
                    .check()
                    .map_err(|e| fail(record_link(&e), e))?;
                record
                    .verify(key, None)
                    .map_err(|e| fail(record_link(&e), e))?;
                if let Some(body) = &self.body {
                    record
                        .verify(key, Some(body))
                        .map_err(|e| fail(record_link(&e), e))?;
                }
                let e = &record.envelope;
                let manifest = match (e.kind, e.manifest, &self.manifest) {
                    (Kind::Decision, Some(m), Some(proof)) => {
                        let facts = proof.check_record()?;
                        let Some(d) = &facts.disclosed else {
                            return Err(fail(
                                Link::Manifest,
                                "the manifest proof must disclose the manifest record",
                            ));
                        };
                        if facts.record_hash != m || d.kind != Kind::Manifest.name() {
                            return Err(fail(
                                Link::Manifest,
                                format!(
                                    "the decision names manifest {m}; the proof is of another record"
                                ),
                            ));
                        }
                        if proof.bundle.operator_key() != Some(key) {
                            return Err(fail(
                                Link::Manifest,
                                "the manifest proof is for another operator",
                            ));
                        }
                        Some(m)
                    }
                    (Kind::Decision, Some(m), None) => {
                        return Err(fail(
                            Link::Manifest,
                            format!(
                                "the decision names manifest {m} and the proof does not carry it"
                            ),
                        ));
                    }
                    (_, _, Some(_)) => {
                        return Err(fail(
                            Link::Manifest,
                            "a manifest proof given for a record that names none",
                        ));
                    }
                    _ => None,
                };
                let mut neighbours = (false, false);
                if let Some(text) = &self.previous {
                    let prev: Record = decode_exact(&b64(Link::Chain, "previous", text)?)
                        .map_err(|err| fail(Link::Chain, format!("previous: {err}")))?;
                    prev.verify(key, None)
                        .map_err(|err| fail(Link::Chain, format!("previous: {err}")))?;
                    record
                        .follows(Some(&prev))
                        .map_err(|err| fail(Link::Chain, err))?;
                    neighbours.0 = true;
                } else if e.index == 0 {
                    record.follows(None).map_err(|err| fail(Link::Chain, err))?;
                }
                if let Some(text) = &self.next {
                    let next: Record = decode_exact(&b64(Link::Chain, "next", text)?)
                        .map_err(|err| fail(Link::Chain, format!("next: {err}")))?;
                    next.verify(key, None)
                        .map_err(|err| fail(Link::Chain, format!("next: {err}")))?;
                    next.follows(Some(&record))
                        .map_err(|err| fail(Link::Chain, err))?;
                    neighbours.1 = true;
                }
                let d = Disclosed {
                    stream: e.stream.clone(),
                    index: e.index,
                    kind: e.kind.name(),
                    time_ms: e.time_ms,
                    body: self.body.is_some(),
                    neighbours,
                    manifest,
                };
                (record.hash(), Some(d))
            }
            (None, Some(text)) => {
                let hash: Hash256 = text
                    .parse()
                    .map_err(|e| fail(Link::Record, format!("record_hash: {e}")))?;
                (hash, None)
            }
            (None, None) => return Err(fail(Link::Format, "no record and no record_hash")),
        };
        let batch_root = self.batch_root(&record_hash)?;
        Ok(RecordFacts {
            record_hash,
            batch_root,
            leaf_index: self.batch.leaf_index,
            tree_size: self.batch.tree_size,
            disclosed,
        })
    }

    /// The `batch` link: the path from the record's leaf, its shape, the
    /// submission's record count and root.
    fn batch_root(&self, record_hash: &Hash256) -> Result<AuditRoot, ProofError> {
        let bytes = b64(Link::Batch, "batch.path", &self.batch.path)?;
        if bytes.len() % 32 != 0 || bytes.len() / 32 > MAX_BATCH_PATH {
            return Err(fail(
                Link::Batch,
                format!(
                    "batch.path is {} bytes: a multiple of 32, at most {MAX_BATCH_PATH} hashes",
                    bytes.len()
                ),
            ));
        }
        let path = bytes
            .chunks_exact(32)
            .map(|c| {
                let mut a = [0u8; 32];
                a.copy_from_slice(c);
                Hash256::from_bytes(a)
            })
            .collect();
        let proof = InclusionProof {
            leaf_index: self.batch.leaf_index,
            tree_size: self.batch.tree_size,
            path,
        };
        let root = proof
            .root_from(&leaf_hash(record_hash.as_bytes()))
            .ok_or_else(|| {
                fail(
                    Link::Batch,
                    format!(
                        "the path does not have the shape of leaf {} of {}",
                        self.batch.leaf_index, self.batch.tree_size
                    ),
                )
            })?;
        // The submission, if it decodes (else its own link reports it):
        // its root and record count must be this batch's.
        if let Some(tx) = self
            .bundle
            .submission_bytes()
            .and_then(|b| decode_exact::<SignedTx>(b).ok())
            && let Some(s) = tx.as_submission()
        {
            if s.root.hash() != root {
                return Err(fail(
                    Link::Batch,
                    format!(
                        "the record's path leads to root {root}, but the submission carries {}",
                        s.root
                    ),
                ));
            }
            if let Some(count) = s.metadata.record_count()
                && count != self.batch.tree_size
            {
                return Err(fail(
                    Link::Batch,
                    format!(
                        "the submission commits {count} records, the path a batch of {}",
                        self.batch.tree_size
                    ),
                ));
            }
        }
        Ok(AuditRoot::new(root))
    }
}

/// What [`write`] puts in a record proof.
#[derive(Debug, Clone)]
pub struct Parts<'a> {
    /// The record, or `None` to disclose only its hash.
    pub record: Option<&'a Record>,
    /// The record hash (used when `record` is `None`).
    pub record_hash: Hash256,
    /// The body, to disclose it.
    pub body: Option<&'a Value>,
    /// The record's position and the batch's size.
    pub leaf_index: u64,
    /// Records in the batch.
    pub tree_size: u64,
    /// The path from the leaf up.
    pub path: &'a [Hash256],
    /// Neighbours to include.
    pub previous: Option<&'a Record>,
    /// Neighbours to include.
    pub next: Option<&'a Record>,
    /// The manifest's proof (a document [`write`] made).
    pub manifest: Option<Value>,
    /// The batch's bundle.
    pub bundle: &'a ProofBundle,
}

/// A record proof document.
///
/// # Errors
/// The bundle does not encode as JSON (it always does).
pub fn write(parts: &Parts<'_>) -> Result<Value, serde_json::Error> {
    let mut doc = serde_json::Map::new();
    doc.insert("record_proof".into(), RECORD_PROOF_VERSION.into());
    match parts.record {
        Some(r) => {
            doc.insert("record".into(), STANDARD.encode(r.to_bytes()).into());
            if let Some(b) = parts.body {
                doc.insert("body".into(), b.clone());
            }
        }
        None => {
            doc.insert("record_hash".into(), parts.record_hash.to_string().into());
        }
    }
    let path: Vec<u8> = parts.path.iter().flat_map(|h| *h.as_bytes()).collect();
    doc.insert(
        "batch".into(),
        serde_json::to_value(BatchPath {
            leaf_index: parts.leaf_index,
            tree_size: parts.tree_size,
            path: STANDARD.encode(path),
        })?,
    );
    if parts.record.is_some() {
        if let Some(p) = parts.previous {
            doc.insert("previous".into(), STANDARD.encode(p.to_bytes()).into());
        }
        if let Some(n) = parts.next {
            doc.insert("next".into(), STANDARD.encode(n.to_bytes()).into());
        }
        if let Some(m) = &parts.manifest {
            doc.insert("manifest".into(), m.clone());
        }
    }
    doc.insert("bundle".into(), serde_json::to_value(parts.bundle)?);
    Ok(Value::Object(doc))
}
