//! Audit records: what an operator seals, one per decision, before it acts
//! (`docs/FORMATS.md` section 23).
//!
//! ```text
//! body (JSON object) --RFC 8785 (JCS)--> canonical bytes
//!   --tagged("pantheon/v1/record-body")--> body_hash
//! envelope = version 1 || operator || stream || index || prev || time_ms
//!            || kind || manifest? || body_hash
//! signature = ML-DSA-65(operator key, envelope, context "pantheon/v1/record")
//! record    = envelope || signature
//! record_hash = tagged("pantheon/v1/record", record)     (the next record's prev)
//! leaf        = SHA-256(0x00 || record_hash)            (RFC 9162, in the batch tree)
//! batch root  = MTH(leaves of the batch, in order)      (a SubmitRoot's root)
//! ```
//!
//! - **Chained per stream:** an operator writes any number of streams (one
//!   per application or model, say); in each, record `index` carries the
//!   hash of record `index - 1` (zeros at 0), so removing, inserting or
//!   reordering a record breaks every hash after it.
//! - **Selective disclosure:** the body is committed by its hash only. A
//!   verifier handed one record's envelope, signature and Merkle path
//!   learns nothing of the other records but their hashes; given the body
//!   too, it checks the body against `body_hash`. Bodies hold hashes and
//!   stable ids, not raw payloads (seed 003).
//! - **Kinds:** `decision` (must name the `manifest` in force), `manifest`
//!   (model, tokenizer, system prompt and data fingerprints), `approval`
//!   (a second ML-DSA-65 signature by another key over `operator ||
//!   subject`, context `pantheon/v1/approval`), `event` (anything else).
//!   Each kind's required body members are checked when the body is known.
//! - The time is the operator's claim; the anchor gives "existed no later
//!   than".
//!
//! Pure: no I/O, no clock. The operator library (`pantheon-sdk`) seals and
//! stores records; verifiers call [`Record::verify`].

use base64::Engine as _;
use serde_json::Value;

use crate::codec::{self, CodecError, Decode, Encode, Reader, put_short_bytes};
use crate::crypto::{AccountId, Keypair, PublicKey, SIGNATURE_LEN, SignContext, Signature};
use crate::hash::{Domain, Hash256};
use crate::log;

/// The record format version.
pub const RECORD_VERSION: u8 = 1;
/// Longest stream name, in bytes.
pub const MAX_STREAM_LEN: usize = 64;
/// Largest canonical body, in bytes.
pub const MAX_BODY_LEN: usize = 1 << 20;
/// Largest integer a body may hold exactly (I-JSON, RFC 7493): larger
/// ones must be strings.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
/// [`MAX_SAFE_INTEGER`] as a double (exact).
const MAX_SAFE_FLOAT: f64 = 9_007_199_254_740_991.0;

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An automated decision: inputs, output, the policy in force, a score.
    Decision,
    /// The model state decisions bind to: model, tokenizer, system prompt,
    /// data fingerprints.
    Manifest,
    /// A governance signature by another key over a record.
    Approval,
    /// Anything else worth sealing (a policy change, a refusal, a deletion).
    Event,
}

impl Kind {
    /// Its byte in the envelope.
    #[must_use]
    pub const fn tag(self) -> u8 {
        match self {
            Self::Decision => 1,
            Self::Manifest => 2,
            Self::Approval => 3,
            Self::Event => 4,
        }
    }

    /// Its name in JSON.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Decision => "decision",
            Self::Manifest => "manifest",
            Self::Approval => "approval",
            Self::Event => "event",
        }
    }

    /// The kind named `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Decision, Self::Manifest, Self::Approval, Self::Event]
            .into_iter()
            .find(|k| k.name() == name)
    }

    fn from_tag(tag: u8) -> codec::Result<Self> {
        match tag {
            1 => Ok(Self::Decision),
            2 => Ok(Self::Manifest),
            3 => Ok(Self::Approval),
            4 => Ok(Self::Event),
            tag => Err(CodecError::InvalidTag { field: "kind", tag }),
        }
    }

    /// The body members this kind requires, and what each must be.
    #[must_use]
    pub const fn required(self) -> &'static [(&'static str, Member)] {
        match self {
            Self::Decision => &[
                ("inputs", Member::Hash),
                ("output", Member::Hash),
                ("policy", Member::Present),
                ("score", Member::Number),
            ],
            Self::Manifest => &[
                ("model", Member::Hash),
                ("tokenizer", Member::Hash),
                ("system_prompt", Member::Hash),
                ("data", Member::Hash),
            ],
            Self::Approval => &[
                ("subject", Member::Hash),
                ("approver", Member::PublicKey),
                ("signature", Member::Signature),
            ],
            Self::Event => &[],
        }
    }
}

/// What a required body member must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// 64 lower-case hex characters (a SHA-256 fingerprint).
    Hash,
    /// A number.
    Number,
    /// Anything but `null`.
    Present,
    /// Standard base64 of a 1,952-byte ML-DSA-65 public key.
    PublicKey,
    /// Standard base64 of a 3,309-byte ML-DSA-65 signature.
    Signature,
}

/// Why a record or body is refused. The variant names the failing link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The bytes do not decode.
    #[error("record: {0}")]
    Codec(#[from] CodecError),
    /// The body is not JSON an implementation in any language hashes alike.
    #[error("body: {0}")]
    Body(String),
    /// The body does not hash to the envelope's `body_hash`.
    #[error("body: does not match the record's body_hash")]
    BodyHash,
    /// A member the kind requires is missing or malformed.
    #[error("kind {kind}: member {member:?} {reason}")]
    Kind {
        /// The kind.
        kind: &'static str,
        /// The member.
        member: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// `manifest` is missing on a decision, or present where not allowed.
    #[error("manifest: {0}")]
    Manifest(&'static str),
    /// The key is not the operator's, or the signature does not verify.
    #[error("signature: {0}")]
    Signature(&'static str),
    /// The approver's signature does not verify.
    #[error("approval: the approver's signature does not verify")]
    Approval,
    /// The record does not follow the previous one of its stream.
    #[error("chain: {0}")]
    Chain(String),
}

/// The signed part of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The operator: the id of the key that signs.
    pub operator: AccountId,
    /// The stream, 1 to 64 bytes of `[a-z0-9._/-]`.
    pub stream: String,
    /// Position in the stream, from 0.
    pub index: u64,
    /// `record_hash` of record `index - 1` of the stream; zeros at 0.
    pub prev: Hash256,
    /// The operator's clock when sealed, in Unix milliseconds (a claim).
    pub time_ms: u64,
    /// The kind.
    pub kind: Kind,
    /// The `record_hash` of the manifest in force: required for a
    /// decision, absent on a manifest or approval, optional on an event.
    pub manifest: Option<Hash256>,
    /// `tagged("pantheon/v1/record-body", JCS(body))`.
    pub body_hash: Hash256,
}

impl Envelope {
    /// Checks the rules that need no body: stream name, manifest presence.
    ///
    /// # Errors
    /// [`RecordError::Codec`] for a bad stream, [`RecordError::Manifest`].
    pub fn check(&self) -> Result<(), RecordError> {
        check_stream(&self.stream)?;
        match (self.kind, self.manifest) {
            (Kind::Decision, None) => Err(RecordError::Manifest(
                "a decision must name the manifest in force",
            )),
            (Kind::Manifest | Kind::Approval, Some(_)) => Err(RecordError::Manifest(
                "only decisions and events name a manifest",
            )),
            _ => Ok(()),
        }
    }
}

fn check_stream(stream: &str) -> Result<(), RecordError> {
    let ok = !stream.is_empty()
        && stream.len() <= MAX_STREAM_LEN
        && stream
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._/-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(CodecError::Invalid {
            field: "stream",
            reason: "1 to 64 bytes of [a-z0-9._/-]",
        }
        .into())
    }
}

impl Encode for Envelope {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(RECORD_VERSION);
        out.extend_from_slice(self.operator.as_bytes());
        put_short_bytes(out, self.stream.as_bytes());
        out.extend_from_slice(&self.index.to_be_bytes());
        out.extend_from_slice(self.prev.as_bytes());
        out.extend_from_slice(&self.time_ms.to_be_bytes());
        out.push(self.kind.tag());
        match &self.manifest {
            None => out.push(0),
            Some(m) => {
                out.push(1);
                out.extend_from_slice(m.as_bytes());
            }
        }
        out.extend_from_slice(self.body_hash.as_bytes());
    }
}

impl Decode for Envelope {
    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        r.version("record", RECORD_VERSION)?;
        let operator = AccountId::new(Hash256::from_bytes(r.array()?));
        let stream = std::str::from_utf8(r.short_bytes("stream", MAX_STREAM_LEN)?)
            .map_err(|_| CodecError::Invalid {
                field: "stream",
                reason: "not UTF-8",
            })?
            .to_owned();
        let index = r.u64()?;
        let prev = Hash256::from_bytes(r.array()?);
        let time_ms = r.u64()?;
        let kind = Kind::from_tag(r.u8()?)?;
        let manifest = if r.option_tag("manifest")? {
            Some(Hash256::from_bytes(r.array()?))
        } else {
            None
        };
        let body_hash = Hash256::from_bytes(r.array()?);
        Ok(Self {
            operator,
            stream,
            index,
            prev,
            time_ms,
            kind,
            manifest,
            body_hash,
        })
    }
}

/// A sealed record: the envelope and the operator's signature over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// What was signed.
    pub envelope: Envelope,
    /// ML-DSA-65 over the envelope's encoding, context `pantheon/v1/record`.
    pub signature: Signature,
}

impl Encode for Record {
    fn encode(&self, out: &mut Vec<u8>) {
        self.envelope.encode(out);
        self.signature.encode(out);
    }
}

impl Decode for Record {
    const MAX_SIZE: usize = 1 + 32 + 1 + MAX_STREAM_LEN + 8 + 32 + 8 + 1 + 33 + 32 + SIGNATURE_LEN;

    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        let envelope = Envelope::decode(r)?;
        let signature = Signature::decode(r)?;
        Ok(Self {
            envelope,
            signature,
        })
    }
}

impl Record {
    /// Seals `envelope` with `key`, whose id must be the envelope's
    /// operator.
    ///
    /// # Errors
    /// [`RecordError::Signature`] for another key; the envelope's own
    /// [`Envelope::check`].
    pub fn seal(envelope: Envelope, key: &Keypair) -> Result<Self, RecordError> {
        Self::seal_by(envelope, key, Keypair::sign)
    }

    /// [`Record::seal`] with a hedged signature (AWS-LC, FIPS 204's
    /// default): what the operator library seals with, about 8 times
    /// faster; the record is stored with its signature, so nothing needs
    /// the signature to be reproducible.
    ///
    /// # Errors
    /// As [`Record::seal`].
    pub fn seal_hedged(envelope: Envelope, key: &Keypair) -> Result<Self, RecordError> {
        Self::seal_by(envelope, key, Keypair::sign_hedged)
    }

    fn seal_by(
        envelope: Envelope,
        key: &Keypair,
        sign: fn(&Keypair, SignContext, &[u8]) -> Signature,
    ) -> Result<Self, RecordError> {
        envelope.check()?;
        if key.id() != envelope.operator {
            return Err(RecordError::Signature("the key is not the operator's"));
        }
        let signature = sign(key, SignContext::Record, &envelope.to_bytes());
        Ok(Self {
            envelope,
            signature,
        })
    }

    /// `tagged("pantheon/v1/record", envelope || signature)`: what the
    /// next record's `prev` holds and what the batch tree's leaf hashes.
    #[must_use]
    pub fn hash(&self) -> Hash256 {
        Hash256::tagged(Domain::Record, &self.to_bytes())
    }

    /// The RFC 9162 leaf hash of [`Self::hash`] in a batch tree.
    #[must_use]
    pub fn leaf(&self) -> Hash256 {
        log::leaf_hash(self.hash().as_bytes())
    }

    /// Verifies the record against the operator's public key and, when
    /// known, its body: the envelope's rules, the signature, the body's
    /// hash, the kind's required members and an approval's second
    /// signature.
    ///
    /// # Errors
    /// The first [`RecordError`], which names the failing link.
    pub fn verify(&self, key: &PublicKey, body: Option<&Value>) -> Result<(), RecordError> {
        self.envelope.check()?;
        if key.id() != self.envelope.operator {
            return Err(RecordError::Signature(
                "the public key is not the record's operator",
            ));
        }
        if !key.prepare().verify(
            SignContext::Record,
            &self.envelope.to_bytes(),
            &self.signature,
        ) {
            return Err(RecordError::Signature("does not verify"));
        }
        if let Some(body) = body {
            if body_hash(body)? != self.envelope.body_hash {
                return Err(RecordError::BodyHash);
            }
            check_kind(self.envelope.kind, body)?;
            if self.envelope.kind == Kind::Approval {
                verify_approval(&self.envelope.operator, body)?;
            }
        }
        Ok(())
    }

    /// Checks that this record follows `prev` in its stream (`None`: it is
    /// the first record of the stream).
    ///
    /// # Errors
    /// [`RecordError::Chain`].
    pub fn follows(&self, prev: Option<&Self>) -> Result<(), RecordError> {
        let e = &self.envelope;
        match prev {
            None if e.index == 0 && e.prev == Hash256::default() => Ok(()),
            None => Err(RecordError::Chain(format!(
                "record {} of stream {:?} has no predecessor",
                e.index, e.stream
            ))),
            Some(p) => {
                let pe = &p.envelope;
                if pe.operator != e.operator || pe.stream != e.stream {
                    return Err(RecordError::Chain("another operator or stream".to_owned()));
                }
                if pe.index.checked_add(1) != Some(e.index) {
                    return Err(RecordError::Chain(format!(
                        "index {} follows {} in stream {:?}",
                        e.index, pe.index, e.stream
                    )));
                }
                if p.hash() != e.prev {
                    return Err(RecordError::Chain(format!(
                        "record {} does not carry the hash of record {}",
                        e.index, pe.index
                    )));
                }
                Ok(())
            }
        }
    }
}

/// The message an approver signs: `operator || subject`, context
/// `pantheon/v1/approval`.
#[must_use]
pub fn approval_message(operator: &AccountId, subject: &Hash256) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(operator.as_bytes());
    m.extend_from_slice(subject.as_bytes());
    m
}

/// An approval body for `subject`, signed by `approver` for `operator`'s
/// log, with any `extra` members (role, comment) added.
///
/// # Errors
/// `extra` is not an object.
pub fn approval_body(
    operator: &AccountId,
    subject: &Hash256,
    approver: &Keypair,
    extra: Value,
) -> Result<Value, RecordError> {
    let Value::Object(mut body) = extra else {
        return Err(RecordError::Body(
            "an approval's extra members must be an object".to_owned(),
        ));
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let signature = approver.sign(SignContext::Approval, &approval_message(operator, subject));
    body.insert("subject".to_owned(), Value::String(subject.to_string()));
    body.insert(
        "approver".to_owned(),
        Value::String(b64.encode(approver.public().as_bytes())),
    );
    body.insert(
        "signature".to_owned(),
        Value::String(b64.encode(signature.as_bytes())),
    );
    Ok(Value::Object(body))
}

/// RFC 8785 canonical bytes of a body: a JSON object whose integers are
/// exact in an IEEE double (I-JSON), at most [`MAX_BODY_LEN`] bytes.
///
/// # Errors
/// [`RecordError::Body`].
pub fn canonical_body(body: &Value) -> Result<Vec<u8>, RecordError> {
    if !body.is_object() {
        return Err(RecordError::Body("must be a JSON object".to_owned()));
    }
    check_numbers(body)?;
    let bytes = serde_json_canonicalizer::to_vec(body)
        .map_err(|e| RecordError::Body(format!("cannot canonicalize: {e}")))?;
    if bytes.len() > MAX_BODY_LEN {
        return Err(RecordError::Body(format!(
            "{} canonical bytes exceed the limit of {MAX_BODY_LEN}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// `tagged("pantheon/v1/record-body", JCS(body))`.
///
/// # Errors
/// [`RecordError::Body`].
pub fn body_hash(body: &Value) -> Result<Hash256, RecordError> {
    Ok(Hash256::tagged(Domain::RecordBody, &canonical_body(body)?))
}

fn check_numbers(v: &Value) -> Result<(), RecordError> {
    match v {
        Value::Number(n) => {
            // An integer beyond 2^53 - 1, however written (`1e21` too), is
            // not exact in an IEEE double: implementations would disagree.
            let beyond = if let Some(u) = n.as_u64() {
                u > MAX_SAFE_INTEGER
            } else if let Some(i) = n.as_i64() {
                i.unsigned_abs() > MAX_SAFE_INTEGER
            } else {
                n.as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.abs() > MAX_SAFE_FLOAT)
            };
            if beyond {
                Err(RecordError::Body(format!(
                    "the integer {n} is beyond 2^53 - 1, where doubles are not exact; write it as a string"
                )))
            } else {
                Ok(())
            }
        }
        Value::Array(a) => a.iter().try_for_each(check_numbers),
        Value::Object(o) => o.values().try_for_each(check_numbers),
        _ => Ok(()),
    }
}

/// Checks the members `kind` requires.
///
/// # Errors
/// [`RecordError::Kind`].
pub fn check_kind(kind: Kind, body: &Value) -> Result<(), RecordError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    for (member, what) in kind.required() {
        let fail = |reason| RecordError::Kind {
            kind: kind.name(),
            member,
            reason,
        };
        let v = body.get(member).ok_or_else(|| fail("is missing"))?;
        let ok = match what {
            Member::Hash => v.as_str().is_some_and(|s| {
                s.len() == 64
                    && s.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            }),
            Member::Number => v.is_number(),
            Member::Present => !v.is_null(),
            Member::PublicKey => v
                .as_str()
                .and_then(|s| b64.decode(s).ok())
                .is_some_and(|b| b.len() == crate::crypto::PUBLIC_KEY_LEN),
            Member::Signature => v
                .as_str()
                .and_then(|s| b64.decode(s).ok())
                .is_some_and(|b| b.len() == SIGNATURE_LEN),
        };
        if !ok {
            return Err(fail(match what {
                Member::Hash => "must be 64 lower-case hex characters",
                Member::Number => "must be a number",
                Member::Present => "must not be null",
                Member::PublicKey => "must be base64 of a 1952-byte ML-DSA-65 public key",
                Member::Signature => "must be base64 of a 3309-byte ML-DSA-65 signature",
            }));
        }
    }
    Ok(())
}

fn verify_approval(operator: &AccountId, body: &Value) -> Result<(), RecordError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let text = |m: &str| body.get(m).and_then(Value::as_str).unwrap_or_default();
    let subject: Hash256 = text("subject").parse().map_err(|_| RecordError::Approval)?;
    let key = b64
        .decode(text("approver"))
        .ok()
        .and_then(|b| <[u8; crate::crypto::PUBLIC_KEY_LEN]>::try_from(b).ok())
        .map(PublicKey::from_bytes)
        .ok_or(RecordError::Approval)?;
    let signature = b64
        .decode(text("signature"))
        .ok()
        .and_then(|b| <[u8; SIGNATURE_LEN]>::try_from(b).ok())
        .map(Signature::from_bytes)
        .ok_or(RecordError::Approval)?;
    if key.prepare().verify(
        SignContext::Approval,
        &approval_message(operator, &subject),
        &signature,
    ) {
        Ok(())
    } else {
        Err(RecordError::Approval)
    }
}

/// The root of a batch: the RFC 9162 tree over the records' leaves, in
/// order (what the batch's `SubmitRoot` carries).
#[must_use]
pub fn batch_root(records: &[Record]) -> Hash256 {
    let leaves: Vec<Hash256> = records.iter().map(Record::leaf).collect();
    log::root_of(&leaves)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn operator() -> Keypair {
        Keypair::from_seed(&[0x51; 32])
    }

    fn h(s: &str) -> String {
        Hash256::digest(s.as_bytes()).to_string()
    }

    fn seal(
        key: &Keypair,
        index: u64,
        prev: Hash256,
        kind: Kind,
        manifest: Option<Hash256>,
        body: &Value,
    ) -> Record {
        Record::seal(
            Envelope {
                operator: key.id(),
                stream: "triage".to_owned(),
                index,
                prev,
                time_ms: 1_800_000_000_000 + index,
                kind,
                manifest,
                body_hash: body_hash(body).unwrap(),
            },
            key,
        )
        .unwrap()
    }

    fn first_manifest(key: &Keypair) -> Record {
        seal(
            key,
            0,
            Hash256::ZERO,
            Kind::Manifest,
            None,
            &manifest_body(),
        )
    }

    fn manifest_body() -> Value {
        json!({"model": h("m"), "tokenizer": h("t"), "system_prompt": h("p"), "data": h("d")})
    }

    fn decision_body() -> Value {
        json!({"inputs": h("x-ray 17"), "output": h("urgent"), "policy": {"threshold": 0.9}, "score": 0.91})
    }

    #[test]
    fn a_chain_of_manifest_decision_approval_verifies_and_round_trips() {
        let key = operator();
        let officer = Keypair::from_seed(&[0x52; 32]);
        let m = first_manifest(&key);
        let d = seal(
            &key,
            1,
            m.hash(),
            Kind::Decision,
            Some(m.hash()),
            &decision_body(),
        );
        let ab = approval_body(
            &key.id(),
            &m.hash(),
            &officer,
            json!({"role": "compliance"}),
        )
        .unwrap();
        let a = seal(&key, 2, d.hash(), Kind::Approval, None, &ab);
        for (r, body) in [
            (&m, manifest_body()),
            (&d, decision_body()),
            (&a, ab.clone()),
        ] {
            r.verify(key.public(), Some(&body)).unwrap();
            r.verify(key.public(), None).unwrap();
            assert_eq!(&codec::decode_exact::<Record>(&r.to_bytes()).unwrap(), r);
        }
        m.follows(None).unwrap();
        d.follows(Some(&m)).unwrap();
        a.follows(Some(&d)).unwrap();
        assert!(matches!(a.follows(Some(&m)), Err(RecordError::Chain(_))));
        assert_ne!(batch_root(&[m.clone(), d.clone()]), batch_root(&[d, m]));
    }

    #[test]
    fn tampering_is_named() {
        let key = operator();
        let m = first_manifest(&key);
        let mut edited = manifest_body();
        edited["model"] = json!(h("other model"));
        assert_eq!(
            m.verify(key.public(), Some(&edited)),
            Err(RecordError::BodyHash)
        );
        let mut forged = m.clone();
        forged.envelope.index = 5;
        assert!(matches!(
            forged.verify(key.public(), None),
            Err(RecordError::Signature(_))
        ));
        let other = Keypair::from_seed(&[0x53; 32]);
        assert!(matches!(
            m.verify(other.public(), None),
            Err(RecordError::Signature(_))
        ));
        // A decision with no manifest cannot be sealed.
        let env = Envelope {
            manifest: None,
            kind: Kind::Decision,
            ..m.envelope.clone()
        };
        assert!(matches!(
            Record::seal(env, &key),
            Err(RecordError::Manifest(_))
        ));
        // A forged approval.
        let officer = Keypair::from_seed(&[0x52; 32]);
        let mut ab = approval_body(&key.id(), &m.hash(), &officer, json!({})).unwrap();
        ab["subject"] = json!(h("something else"));
        let a = seal(&key, 1, m.hash(), Kind::Approval, None, &ab);
        assert_eq!(
            a.verify(key.public(), Some(&ab)),
            Err(RecordError::Approval)
        );
        // A decision body missing its score.
        let mut body = decision_body();
        body.as_object_mut().unwrap().remove("score");
        let d = seal(&key, 1, m.hash(), Kind::Decision, Some(m.hash()), &body);
        assert!(matches!(
            d.verify(key.public(), Some(&body)),
            Err(RecordError::Kind {
                member: "score",
                ..
            })
        ));
    }

    #[test]
    fn bodies_are_canonical_and_exact() {
        let a: Value =
            serde_json::from_str(r#"{"b": 1, "a": [1.0, 0.5, 1e-7, -0], "é": "x"}"#).unwrap();
        let bytes = canonical_body(&a).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"a":[1,0.5,1e-7,0],"b":1,"é":"x"}"#
        );
        for big in [
            r#"{"n": 9007199254740993}"#,
            r#"{"n": 1e21}"#,
            r#"{"n": [-9007199254740992]}"#,
        ] {
            let big: Value = serde_json::from_str(big).unwrap();
            assert!(
                matches!(canonical_body(&big), Err(RecordError::Body(_))),
                "{big}"
            );
        }
        assert!(matches!(
            canonical_body(&json!([1])),
            Err(RecordError::Body(_))
        ));
    }

    #[test]
    fn streams_are_named_plainly() {
        assert!(check_stream("triage/ward-7.v2").is_ok());
        for bad in ["", "Triage", "a b", &"x".repeat(65)] {
            assert!(check_stream(bad).is_err(), "{bad:?}");
        }
    }
}
