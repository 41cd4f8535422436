//! Operator exports (FORMATS section 25): every submission of one operator
//! in a range of sequence numbers, each with its proof bundle, and the
//! operator's state record proven against the state root of the block
//! holding the last of them, so that an auditor checks offline that the
//! range holds exactly these submissions and nothing else.
//!
//! ```text
//! submissions[0..n]  each a bundle: finalized (and anchored) in some block
//!   seq[i] = seq[0] + i,  prev[i] = id[i-1]  (prev[0] = ZERO when seq[0] = 0)
//! state              the operator's account record and its state proof
//!   against header(submissions[n-1]).state_root:
//!   next_seq = seq[n-1] + 1,  last.id = id[n-1]
//! ```
//!
//! The state record says how many submissions the operator had made when
//! that block was finalized and which was the last, so a withheld
//! submission breaks either the sequence (a gap, caught by `completeness`)
//! or the state (the last one withheld: the record names a later one, or
//! its proof does not match the block the export ends on). What it cannot
//! say is anything after that block: the verdict names the height and
//! time the completeness holds at.
//!
//! This module reads and writes the document and checks the `state` and
//! `completeness` links over bundles already verified (their facts,
//! [`Verified`]); `pantheon-anchor`'s `verify_operator_export` verifies
//! each bundle down to Bitcoin first, then calls [`check_completeness`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::amount::Height;
use crate::codec::{Encode, decode_exact};
use crate::crypto::OperatorId;
use crate::genesis::GenesisHeader;
use crate::hash::{GenesisHash, StateRoot, SubmissionId};
use crate::proof::{Link, ProofBundle, ProofError, ReceivedBundle, Verified};
use crate::smt::StateProof;
use crate::state::{Account, StateKey, value_hash};

/// The version member's value.
pub const EXPORT_VERSION: u32 = 1;

/// Most submissions one export document holds (an auditor asks for
/// longer ranges in several documents, each complete for its own range).
pub const MAX_EXPORT_SUBMISSIONS: usize = 100_000;

/// An operator export as read (the bundles still to be verified).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OperatorExport {
    /// [`EXPORT_VERSION`].
    pub operator_export: u32,
    /// The operator's id, hex.
    pub operator: String,
    /// Base64 of the network's genesis header (FORMATS 11.3), given to
    /// every bundle that does not carry its own.
    #[serde(default)]
    pub genesis: Option<String>,
    /// The bundles, in sequence order.
    pub submissions: Vec<ReceivedBundle>,
    /// The operator's state at the block of the last submission.
    pub state: StateEvidence,
}

/// An account record and its proof in the state tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateEvidence {
    /// Base64 of the account record (FORMATS 6.1).
    pub account: String,
    /// Its state proof (FORMATS 7.4).
    pub proof: StateProof,
}

/// What a complete export establishes, beyond each bundle's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Completeness {
    /// The operator.
    pub operator: OperatorId,
    /// The network.
    pub genesis_hash: GenesisHash,
    /// The first sequence number in the export.
    pub from_seq: u64,
    /// The last.
    pub to_seq: u64,
    /// The block whose state the completeness holds at: the block of the
    /// last submission.
    pub height: Height,
    /// That block's time (proposer's clock), ms since the Unix epoch.
    pub block_time_ms: u64,
    /// Its state root, which the state proof leads to.
    pub state_root: StateRoot,
    /// The operator's next sequence number in that state.
    pub next_seq: u64,
}

fn fail(link: Link, reason: impl std::fmt::Display) -> ProofError {
    ProofError {
        link,
        reason: reason.to_string(),
    }
}

impl OperatorExport {
    /// Whether `bytes` are a JSON object with an `operator_export` member
    /// (to tell an export from a bundle or a record proof).
    #[must_use]
    pub fn is_operator_export(bytes: &[u8]) -> bool {
        #[derive(Deserialize)]
        struct Probe {
            #[serde(default)]
            operator_export: Option<serde::de::IgnoredAny>,
        }
        serde_json::from_slice::<Probe>(bytes).is_ok_and(|p| p.operator_export.is_some())
    }

    /// [`Self::from_json`] for raw bytes.
    ///
    /// # Errors
    /// As [`Self::from_json`]; bytes that are not UTF-8 fail the format link.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ProofError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| fail(Link::Format, format!("not an operator export: {e}")))?;
        Self::from_json(text)
    }

    /// Reads an export's JSON; the bundles' members are decoded when they
    /// are verified.
    ///
    /// # Errors
    /// [`Link::Format`]: not JSON, not an export's structure, an unknown
    /// version, no submissions or more than [`MAX_EXPORT_SUBMISSIONS`].
    pub fn from_json(text: &str) -> Result<Self, ProofError> {
        let export: Self = serde_json::from_str(text)
            .map_err(|e| fail(Link::Format, format!("not an operator export: {e}")))?;
        if export.operator_export != EXPORT_VERSION {
            return Err(fail(
                Link::Format,
                format!("unsupported export version {}", export.operator_export),
            ));
        }
        if export.submissions.is_empty() || export.submissions.len() > MAX_EXPORT_SUBMISSIONS {
            return Err(fail(
                Link::Format,
                format!(
                    "an export holds 1 to {MAX_EXPORT_SUBMISSIONS} submissions, not {}",
                    export.submissions.len()
                ),
            ));
        }
        Ok(export)
    }

    /// The operator id the export names.
    ///
    /// # Errors
    /// [`Link::Format`]: not 64 hex digits.
    pub fn operator_id(&self) -> Result<OperatorId, ProofError> {
        self.operator
            .parse()
            .map_err(|e| fail(Link::Format, format!("operator: {e}")))
    }

    /// The genesis header the export carries, if any.
    ///
    /// # Errors
    /// [`Link::Genesis`]: not base64 of a genesis header.
    pub fn genesis_header(&self) -> Result<Option<GenesisHeader>, ProofError> {
        self.genesis
            .as_ref()
            .map(|g| {
                let bytes = STANDARD
                    .decode(g.as_bytes())
                    .map_err(|e| fail(Link::Genesis, format!("genesis: invalid base64: {e}")))?;
                decode_exact(&bytes).map_err(|e| fail(Link::Genesis, format!("genesis: {e}")))
            })
            .transpose()
    }
}

/// The `completeness` and `state` links over the export's bundles, each
/// already verified (`verified[i]` is `submissions[i]`'s facts).
///
/// # Errors
/// [`Link::Completeness`]: a bundle of another operator or network, a
/// sequence number out of place, a broken prev link, or a state that
/// names submissions the export does not hold; [`Link::State`]: the
/// account record does not decode, is not an operator's, or its proof does
/// not lead to the last block's state root.
pub fn check_completeness(
    operator: OperatorId,
    verified: &[Verified],
    state: &StateEvidence,
) -> Result<Completeness, ProofError> {
    let (Some(first), Some(last)) = (verified.first(), verified.last()) else {
        return Err(fail(Link::Completeness, "the export holds no submission"));
    };
    let gap = |reason: String| fail(Link::Completeness, reason);
    let mut previous: Option<&Verified> = None;
    for (i, v) in verified.iter().enumerate() {
        if v.operator != operator {
            return Err(gap(format!(
                "submissions[{i}] is operator {}'s, not {operator}'s",
                v.operator
            )));
        }
        if v.genesis_hash != first.genesis_hash {
            return Err(gap(format!(
                "submissions[{i}] is on network {}, submissions[0] on {}",
                v.genesis_hash, first.genesis_hash
            )));
        }
        let expected = first.seq.checked_add(i as u64);
        if Some(v.seq) != expected {
            return Err(gap(format!(
                "submissions[{i}] has seq {}, the export's sequence needs {}: a submission is \
                 missing, repeated or out of order",
                v.seq,
                first.seq.saturating_add(i as u64)
            )));
        }
        let prev = previous.map_or(SubmissionId::default(), |p| p.submission_id);
        if (previous.is_some() || v.seq == 0) && v.prev != prev {
            return Err(gap(format!(
                "submission seq {} names previous {}, not {prev}",
                v.seq, v.prev
            )));
        }
        previous = Some(v);
    }

    let bad_state = |reason: String| fail(Link::State, reason);
    let bytes = STANDARD
        .decode(state.account.as_bytes())
        .map_err(|e| bad_state(format!("account: invalid base64: {e}")))?;
    let account: Account = decode_exact(&bytes).map_err(|e| bad_state(format!("account: {e}")))?;
    let key = StateKey::Account(operator).tree_key();
    if !state
        .proof
        .verify(&last.state_root, &key, Some(&value_hash(&bytes)))
    {
        return Err(bad_state(format!(
            "the account record's proof does not lead to state root {} of block {}",
            last.state_root, last.height
        )));
    }
    let Some(op) = account.operator else {
        return Err(bad_state(format!(
            "the account record at block {} is not a registered operator's",
            last.height
        )));
    };
    let named = op.last.map(|l| l.id);
    if op.next_seq != last.seq.saturating_add(1) || named != Some(last.submission_id) {
        return Err(gap(format!(
            "at block {} the operator's next seq is {} (last submission {}), but the export ends \
             at seq {} ({}): submissions are withheld",
            last.height,
            op.next_seq,
            named.map_or_else(|| "none".to_owned(), |id| id.to_string()),
            last.seq,
            last.submission_id
        )));
    }
    Ok(Completeness {
        operator,
        genesis_hash: first.genesis_hash,
        from_seq: first.seq,
        to_seq: last.seq,
        height: last.height,
        block_time_ms: last.block_time_ms,
        state_root: last.state_root,
        next_seq: op.next_seq,
    })
}

/// The parts of an export document ([`write`]).
#[derive(Debug, Clone, Copy)]
pub struct Parts<'a> {
    /// The operator.
    pub operator: OperatorId,
    /// The genesis header, carried once for every bundle.
    pub genesis: Option<&'a GenesisHeader>,
    /// The bundles, in sequence order.
    pub submissions: &'a [ProofBundle],
    /// The account record at the last submission's block.
    pub account: &'a Account,
    /// Its state proof.
    pub proof: &'a StateProof,
}

/// An export document.
///
/// # Errors
/// A bundle does not encode as JSON (it always does).
pub fn write(parts: &Parts<'_>) -> Result<Value, serde_json::Error> {
    let mut doc = serde_json::Map::new();
    doc.insert("operator_export".into(), EXPORT_VERSION.into());
    doc.insert("operator".into(), parts.operator.to_string().into());
    if let Some(g) = parts.genesis {
        doc.insert("genesis".into(), STANDARD.encode(g.to_bytes()).into());
    }
    doc.insert(
        "submissions".into(),
        serde_json::to_value(parts.submissions)?,
    );
    doc.insert(
        "state".into(),
        serde_json::to_value(StateEvidence {
            account: STANDARD.encode(parts.account.to_bytes()),
            proof: parts.proof.clone(),
        })?,
    );
    Ok(Value::Object(doc))
}
