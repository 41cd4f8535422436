//! Stable JSON-RPC error codes. A code, once published, keeps its meaning.
//!
//! | code | meaning |
//! |---|---|
//! | -32700, -32600, -32601, -32602 | JSON-RPC parse error, invalid request, unknown method, invalid params (jsonrpsee) |
//! | 1001 | a byte string is not hex |
//! | 1002 | a byte string or id has the wrong length |
//! | 1003 | a transaction does not decode (truncated, trailing bytes, bad version or tag, oversize) |
//! | 1004 | the transaction is of the wrong kind for this method |
//! | 1010 | signature does not verify |
//! | 1011 | operator not registered |
//! | 1012 | sequence number already used with another root |
//! | 1013 | sequence number leaves a gap |
//! | 1014 | `prev` is not the operator's latest submission |
//! | 1015 | insufficient funds for amount and fee |
//! | 1016 | wrong account nonce |
//! | 1017 | account does not exist |
//! | 1018 | operator already registered |
//! | 1019 | balance overflow |
//! | 1020 | anchor record from an index outside the validator set |
//! | 1021 | anchor record for a future height or with a wrong commitment |
//! | 1022 | anchor record already recorded: the chain carries one for this (height, Bitcoin block) |
//! | 1023 | the operator's sequence number is taken by a submission with different signed content (`data.recorded` names it) |
//! | 1030 | mempool full |
//! | 1031 | this operator's mempool queue is full |
//! | 1040 | not found |
//! | 1041 | proof not available yet (submission not finalized) |
//! | 1042 | the answer would be too large: ask for it in pages (`data.limit` names the page size) |
//! | 1050 | relay refused: the sender of a `pantheon_relayTransactions` batch is not accepted here, or its signature or time does not hold |
//! | 1099 | internal error |

use jsonrpsee::types::ErrorObjectOwned;
use pantheon_runtime::ledger::TxError;
use serde_json::json;

/// An API error: a stable code, a message naming the problem, optional data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct ApiError {
    /// The stable code.
    pub code: i32,
    /// What went wrong.
    pub message: String,
    /// Structured details.
    pub data: Option<serde_json::Value>,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Not hex.
    pub fn not_hex(field: &str, e: impl std::fmt::Display) -> Self {
        Self::new(codes::NOT_HEX, format!("{field}: not hex: {e}"))
    }

    /// Wrong length.
    pub fn wrong_length(field: &str, expected: usize, got: usize) -> Self {
        Self::new(
            codes::WRONG_LENGTH,
            format!("{field}: expected {expected} bytes, got {got}"),
        )
    }

    /// Not found.
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(codes::NOT_FOUND, format!("{what} not found"))
    }

    /// Internal error.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::new(codes::INTERNAL, format!("internal error: {e}"))
    }
}

/// What each code means, in the words of `rpc.discover`'s `errors` and
/// `docs/RPC.md` (JSON-RPC 2.0's own codes first).
pub const MEANINGS: &[(i32, &str)] = &[
    (-32700, "parse error: the body is not JSON"),
    (-32600, "invalid request: not a JSON-RPC 2.0 call"),
    (-32601, "method not found"),
    (
        -32602,
        "invalid params: a missing, extra, unknown or mistyped parameter",
    ),
    (codes::NOT_HEX, "a byte string is not hex"),
    (
        codes::WRONG_LENGTH,
        "a byte string or id has the wrong length",
    ),
    (
        codes::DECODE,
        "the transaction does not decode (truncated, trailing bytes, bad version or tag, oversize)",
    ),
    (
        codes::WRONG_KIND,
        "the transaction is of the wrong kind for this method",
    ),
    (codes::BAD_SIGNATURE, "the signature does not verify"),
    (codes::UNKNOWN_OPERATOR, "the operator is not registered"),
    (
        codes::SEQ_REUSED,
        "the sequence number is already used with another root",
    ),
    (codes::SEQ_GAP, "the sequence number leaves a gap"),
    (
        codes::WRONG_PREV,
        "prev is not the operator's latest submission",
    ),
    (
        codes::INSUFFICIENT_FUNDS,
        "insufficient funds for amount and fee",
    ),
    (codes::BAD_NONCE, "wrong account nonce"),
    (codes::UNKNOWN_ACCOUNT, "the account does not exist"),
    (
        codes::ALREADY_REGISTERED,
        "the operator is already registered",
    ),
    (codes::OVERFLOW, "balance overflow"),
    (
        codes::UNKNOWN_VALIDATOR,
        "an anchor record from an index outside the validator set",
    ),
    (
        codes::BAD_ANCHOR_RECORD,
        "an anchor record for a future height or with a wrong commitment",
    ),
    (
        codes::ANCHOR_ALREADY_RECORDED,
        "the chain already carries an anchor record for this (height, Bitcoin block)",
    ),
    (
        codes::SUBMISSION_CONFLICT,
        "the sequence number is taken by a submission with different signed content (data.recorded names it)",
    ),
    (codes::MEMPOOL_FULL, "the mempool is full"),
    (
        codes::OPERATOR_QUEUE_FULL,
        "this operator's mempool queue is full",
    ),
    (codes::NOT_FOUND, "not found"),
    (
        codes::NOT_FINALIZED,
        "not available yet: the submission is not finalized",
    ),
    (
        codes::TOO_LARGE,
        "the answer would be too large: ask for it in pages (data.limit names the page size)",
    ),
    (
        codes::RELAY_REFUSED,
        "relay refused: the sender is not accepted here, or its signature or time does not hold",
    ),
    (codes::INTERNAL, "internal error"),
];

/// The meaning of `code`, if it is one of [`MEANINGS`].
#[must_use]
pub fn meaning(code: i32) -> Option<&'static str> {
    MEANINGS.iter().find(|(c, _)| *c == code).map(|(_, m)| *m)
}

/// The numeric codes.
pub mod codes {
    /// Not hex.
    pub const NOT_HEX: i32 = 1001;
    /// Wrong length.
    pub const WRONG_LENGTH: i32 = 1002;
    /// Undecodable transaction.
    pub const DECODE: i32 = 1003;
    /// Wrong transaction kind for the method.
    pub const WRONG_KIND: i32 = 1004;
    /// Bad signature.
    pub const BAD_SIGNATURE: i32 = 1010;
    /// Unknown operator.
    pub const UNKNOWN_OPERATOR: i32 = 1011;
    /// Sequence reused with another root.
    pub const SEQ_REUSED: i32 = 1012;
    /// Sequence gap.
    pub const SEQ_GAP: i32 = 1013;
    /// Wrong prev.
    pub const WRONG_PREV: i32 = 1014;
    /// Insufficient funds.
    pub const INSUFFICIENT_FUNDS: i32 = 1015;
    /// Bad nonce.
    pub const BAD_NONCE: i32 = 1016;
    /// Unknown account.
    pub const UNKNOWN_ACCOUNT: i32 = 1017;
    /// Already registered.
    pub const ALREADY_REGISTERED: i32 = 1018;
    /// Balance overflow.
    pub const OVERFLOW: i32 = 1019;
    /// Mempool full.
    pub const MEMPOOL_FULL: i32 = 1030;
    /// Operator queue full.
    pub const OPERATOR_QUEUE_FULL: i32 = 1031;
    /// An anchor record signed by an index outside the validator set.
    pub const UNKNOWN_VALIDATOR: i32 = 1020;
    /// An anchor record for a future height or with a wrong commitment.
    pub const BAD_ANCHOR_RECORD: i32 = 1021;
    /// An anchor record whose (height, Bitcoin block) the chain carries.
    pub const ANCHOR_ALREADY_RECORDED: i32 = 1022;
    /// A submission under a taken sequence number, differing in a signed
    /// field from the one that holds it.
    pub const SUBMISSION_CONFLICT: i32 = 1023;
    /// Not found.
    pub const NOT_FOUND: i32 = 1040;
    /// Not finalized yet.
    pub const NOT_FINALIZED: i32 = 1041;
    /// The answer would exceed a page: ask for it in pages.
    pub const TOO_LARGE: i32 = 1042;
    /// A relay batch from a sender this node does not accept.
    pub const RELAY_REFUSED: i32 = 1050;
    /// Internal.
    pub const INTERNAL: i32 = 1099;
}

impl From<TxError> for ApiError {
    fn from(e: TxError) -> Self {
        let code = match &e {
            TxError::BadSignature(_) => codes::BAD_SIGNATURE,
            TxError::UnknownOperator(_) => codes::UNKNOWN_OPERATOR,
            TxError::SeqReused { .. } => codes::SEQ_REUSED,
            TxError::SeqGap { .. } => codes::SEQ_GAP,
            TxError::WrongPrev { .. } => codes::WRONG_PREV,
            TxError::InsufficientFunds { .. } => codes::INSUFFICIENT_FUNDS,
            TxError::BadNonce { .. } => codes::BAD_NONCE,
            TxError::UnknownAccount(_) => codes::UNKNOWN_ACCOUNT,
            TxError::AlreadyRegistered(_) => codes::ALREADY_REGISTERED,
            TxError::Overflow(_) => codes::OVERFLOW,
            TxError::UnknownValidator(_) => codes::UNKNOWN_VALIDATOR,
            TxError::AnchorHeightOutOfRange { .. } | TxError::WrongAnchorCommitment { .. } => {
                codes::BAD_ANCHOR_RECORD
            }
            TxError::AnchorAlreadyRecorded(_) => codes::ANCHOR_ALREADY_RECORDED,
            TxError::BadAnchorPart(_) => codes::BAD_ANCHOR_RECORD,
        };
        Self {
            code,
            message: e.to_string(),
            data: serde_json::to_value(&e).ok(),
        }
    }
}

impl From<pantheon_runtime::codec::CodecError> for ApiError {
    fn from(e: pantheon_runtime::codec::CodecError) -> Self {
        Self::new(codes::DECODE, format!("transaction does not decode: {e}"))
    }
}

impl From<ApiError> for ErrorObjectOwned {
    fn from(e: ApiError) -> Self {
        ErrorObjectOwned::owned(
            e.code,
            e.message,
            e.data.or(Some(json!(null))).filter(|d| !d.is_null()),
        )
    }
}
