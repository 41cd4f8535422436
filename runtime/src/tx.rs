//! Signed transactions: register an operator, submit a root, transfer PAN.
//!
//! Wire format (all integers big-endian, see `docs/FORMATS.md`):
//!
//! ```text
//! SignedTx    = version:u8 (=1) || kind:u8 || body || signature:[3309]
//! kind 1  RegisterOperator = public_key:[1952] || nonce:u64
//! kind 2  SubmitRoot       = operator:[32] || seq:u64 || prev:[32] || root:[32]
//!                            || label_len:u8 (<=64) || label:UTF-8
//!                            || has_count:u8 (0|1) || [record_count:u64]
//! kind 3  Transfer         = from_key:[1952] || nonce:u64 || to:[32] || amount:u64
//! kind 4  AnchorRecord     = validator:u16 || height:u64 || commitment:[32]
//!                            || bitcoin_txid:[32] || bitcoin_block:[32] || bitcoin_height:u64
//! kind 5  AnchorRecord with its Bitcoin part
//!                          = validator:u16 || height:u64 || commitment:[32]
//!                            || bitcoin_height:u64 || part_len:u16 || BitcoinPart
//! ```
//!
//! Kind 5 carries the Bitcoin part (transaction, Merkle branch, exactly the
//! genesis's `k` headers) on chain, so that every node, with or without a
//! bitcoind, serves the same anchored proof from its own store (ADR 0013);
//! its txid and block are those of the part. Networks with a version-2
//! genesis record anchors only as kind 5; kind 4 stays valid under a
//! version-1 genesis.
//!
//! The signature is ML-DSA-65 with the kind's context string over
//! `genesis_hash || version || kind || body`, which binds a transaction to
//! one network. A transaction's id is its RFC 9162 leaf hash
//! `SHA-256(0x00 || SignedTx)`; for a submission this id is also its log
//! leaf hash and the `prev` of the operator's next submission.

use serde::Serialize;

use crate::amount::Amount;
use crate::amount::Height;
use crate::anchor::{
    AnchorCommitment, BitcoinBlockHash, BitcoinPart, BitcoinTxid, MAX_ANCHOR_CONFIRMATIONS,
    MAX_BRANCH_DEPTH,
};
use crate::codec::{self, CodecError, Decode, Encode, Reader, put_short_bytes};
use crate::crypto::{
    AccountId, Keypair, OperatorId, PublicKey, SIGNATURE_LEN, SignContext, Signature,
};
use crate::hash::{AuditRoot, GenesisHash, SubmissionId, TxId};
use crate::log::leaf_hash;

/// The transaction format version.
pub const TX_VERSION: u8 = 1;

/// Longest submission label, in bytes.
pub const MAX_LABEL_LEN: usize = 64;

/// The largest Bitcoin transaction an anchor record (kind 5) carries: an
/// anchor transaction is about 235 bytes without witness.
pub const MAX_RECORD_BITCOIN_TX: usize = 1_000;

/// The largest Bitcoin part an anchor record (kind 5) carries: the
/// transaction, a branch of 32 hashes and 100 headers.
pub const MAX_RECORD_PART: usize = 1
    + 4
    + MAX_RECORD_BITCOIN_TX
    + 4
    + 2
    + 32 * MAX_BRANCH_DEPTH
    + 2
    + 80 * MAX_ANCHOR_CONFIRMATIONS as usize;

/// The largest encoded transaction (an anchor record with the largest
/// Bitcoin part: 13,400 bytes).
pub const MAX_TX_SIZE: usize = 2 + 2 + 8 + 32 + 8 + 2 + MAX_RECORD_PART + SIGNATURE_LEN;

/// The size of an encoded [`AnchorRecord`] transaction (fixed): 3,425 bytes.
pub const ANCHOR_RECORD_SIZE: usize = 2 + 2 + 8 + 32 + 32 + 32 + 8 + SIGNATURE_LEN;

/// Optional metadata of a submission.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Metadata {
    label: String,
    record_count: Option<u64>,
}

impl Metadata {
    /// Metadata with a label of at most 64 bytes and an optional record count.
    ///
    /// # Errors
    /// [`CodecError::TooLong`] for a longer label.
    pub fn new(label: impl Into<String>, record_count: Option<u64>) -> codec::Result<Self> {
        let label = label.into();
        if label.len() > MAX_LABEL_LEN {
            return Err(CodecError::TooLong {
                field: "label",
                len: label.len(),
                max: MAX_LABEL_LEN,
            });
        }
        Ok(Self {
            label,
            record_count,
        })
    }

    /// The label ("" when absent).
    #[must_use]
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The number of records in the batch, if given.
    #[must_use]
    pub fn record_count(&self) -> Option<u64> {
        self.record_count
    }
}

/// Submit the Merkle root of an audit batch: the next link of an operator's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitRoot {
    /// The submitting operator.
    pub operator: OperatorId,
    /// The operator's sequence number, from 0, without gaps.
    pub seq: u64,
    /// The id of the operator's previous submission (zero for seq 0).
    pub prev: SubmissionId,
    /// The audit batch root.
    pub root: AuditRoot,
    /// Optional label and record count.
    pub metadata: Metadata,
}

/// Register the signing key as an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOperator {
    /// The operator's key; the operator id is its id.
    pub key: PublicKey,
    /// The account's next nonce.
    pub nonce: u64,
}

/// Move PAN from the signer's account to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The sender's key; the debited account is its id.
    pub from_key: PublicKey,
    /// The sender account's next nonce.
    pub nonce: u64,
    /// The credited account.
    pub to: AccountId,
    /// The amount moved (the fee is charged on top).
    pub amount: Amount,
}

/// A validator's record, on chain, of the Bitcoin transaction that anchored
/// the chain up to block `height`. Signed by the validator at index
/// `validator` of the genesis validator set (context
/// `pantheon/v1/anchor-record`); no fee, no nonce, no state change.
///
/// The Bitcoin hashes are in Bitcoin's internal byte order (as serialized in
/// Bitcoin); they display reversed (see [`crate::anchor`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorRecord {
    /// The signing validator's index in the genesis validator set.
    pub validator: u16,
    /// The anchored height `A` (the commitment covers blocks `1..=A`).
    pub height: Height,
    /// The commitment for `A`; must equal the ledger's.
    pub commitment: AnchorCommitment,
    /// The Bitcoin transaction carrying the commitment.
    pub bitcoin_txid: BitcoinTxid,
    /// The Bitcoin block holding that transaction.
    pub bitcoin_block: BitcoinBlockHash,
    /// That block's height in Bitcoin.
    pub bitcoin_height: u64,
    /// Kind 5: the Bitcoin part proving the anchor (its txid and first
    /// header's hash are `bitcoin_txid` and `bitcoin_block`). `None`:
    /// kind 4.
    pub part: Option<BitcoinPart>,
}

impl AnchorRecord {
    /// A kind-5 record carrying `part`; its txid and block are the part's.
    ///
    /// # Errors
    /// [`CodecError::Invalid`] for a part without headers or over the
    /// record limits ([`MAX_RECORD_BITCOIN_TX`], 100 headers).
    pub fn with_part(
        validator: u16,
        height: Height,
        commitment: AnchorCommitment,
        bitcoin_height: u64,
        part: BitcoinPart,
    ) -> codec::Result<Self> {
        check_record_part(&part)?;
        let bitcoin_block = part.block_hash().ok_or(CodecError::Invalid {
            field: "part",
            reason: "no headers",
        })?;
        Ok(Self {
            validator,
            height,
            commitment,
            bitcoin_txid: part.txid(),
            bitcoin_block,
            bitcoin_height,
            part: Some(part),
        })
    }

    /// What makes the record unique on chain: the anchored height and the
    /// Bitcoin block holding the anchor (FORMATS.md 19). A chain carries at
    /// most one record per key.
    #[must_use]
    pub fn key(&self) -> AnchorKey {
        AnchorKey {
            height: self.height,
            bitcoin_block: self.bitcoin_block,
        }
    }
}

/// The identity of a recorded anchor: (anchored height, Bitcoin block).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct AnchorKey {
    /// The anchored height `A`.
    pub height: Height,
    /// The Bitcoin block holding the anchor transaction (internal order).
    pub bitcoin_block: BitcoinBlockHash,
}

/// The unsigned part of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxBody {
    /// Kind 1.
    RegisterOperator(RegisterOperator),
    /// Kind 2.
    SubmitRoot(SubmitRoot),
    /// Kind 3.
    Transfer(Transfer),
    /// Kind 4.
    AnchorRecord(AnchorRecord),
}

impl TxBody {
    /// The kind byte.
    #[must_use]
    pub fn kind(&self) -> u8 {
        match self {
            Self::RegisterOperator(_) => 1,
            Self::SubmitRoot(_) => 2,
            Self::Transfer(_) => 3,
            Self::AnchorRecord(a) if a.part.is_some() => 5,
            Self::AnchorRecord(_) => 4,
        }
    }

    /// The context string of this kind's signature.
    #[must_use]
    pub fn context(&self) -> SignContext {
        match self {
            Self::RegisterOperator(_) => SignContext::RegisterOperator,
            Self::SubmitRoot(_) => SignContext::SubmitRoot,
            Self::Transfer(_) => SignContext::Transfer,
            Self::AnchorRecord(_) => SignContext::AnchorRecord,
        }
    }

    /// The account that signs and pays for this transaction; `None` for an
    /// [`AnchorRecord`], signed by a validator named by its index (the
    /// ledger resolves it: `Ledger::signer`) and paying nothing.
    #[must_use]
    pub fn signer(&self) -> Option<AccountId> {
        match self {
            Self::RegisterOperator(r) => Some(r.key.id()),
            Self::SubmitRoot(s) => Some(s.operator),
            Self::Transfer(t) => Some(t.from_key.id()),
            Self::AnchorRecord(_) => None,
        }
    }

    /// `version || kind || body`: the transaction bytes before the signature.
    #[must_use]
    pub fn unsigned_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAX_TX_SIZE);
        out.push(TX_VERSION);
        out.push(self.kind());
        match self {
            Self::RegisterOperator(r) => {
                r.key.encode(&mut out);
                r.nonce.encode(&mut out);
            }
            Self::SubmitRoot(s) => {
                s.operator.encode(&mut out);
                s.seq.encode(&mut out);
                s.prev.encode(&mut out);
                s.root.encode(&mut out);
                put_short_bytes(&mut out, s.metadata.label.as_bytes());
                match s.metadata.record_count {
                    None => out.push(0),
                    Some(n) => {
                        out.push(1);
                        n.encode(&mut out);
                    }
                }
            }
            Self::Transfer(t) => {
                t.from_key.encode(&mut out);
                t.nonce.encode(&mut out);
                t.to.encode(&mut out);
                t.amount.encode(&mut out);
            }
            Self::AnchorRecord(a) => {
                out.extend_from_slice(&a.validator.to_be_bytes());
                a.height.get().encode(&mut out);
                a.commitment.encode(&mut out);
                match &a.part {
                    None => {
                        a.bitcoin_txid.encode(&mut out);
                        a.bitcoin_block.encode(&mut out);
                        a.bitcoin_height.encode(&mut out);
                    }
                    Some(part) => {
                        a.bitcoin_height.encode(&mut out);
                        let bytes = part.to_bytes();
                        crate::codec::put_count16(&mut out, bytes.len());
                        out.extend_from_slice(&bytes);
                    }
                }
            }
        }
        out
    }

    /// The bytes signed: `genesis_hash || unsigned_bytes`.
    #[must_use]
    pub fn signing_message(&self, genesis: &GenesisHash) -> Vec<u8> {
        let unsigned = self.unsigned_bytes();
        let mut msg = Vec::with_capacity(32 + unsigned.len());
        msg.extend_from_slice(genesis.as_bytes());
        msg.extend_from_slice(&unsigned);
        msg
    }

    /// Signs with `key` for the network `genesis`.
    #[must_use]
    pub fn sign(self, genesis: &GenesisHash, key: &Keypair) -> SignedTx {
        let signature = key.sign(self.context(), &self.signing_message(genesis));
        SignedTx::new(self, &signature)
    }

    fn decode_body(r: &mut Reader<'_>) -> codec::Result<Self> {
        match r.u8()? {
            1 => Ok(Self::RegisterOperator(RegisterOperator {
                key: PublicKey::decode(r)?,
                nonce: r.u64()?,
            })),
            2 => {
                let operator = OperatorId::decode(r)?;
                let seq = r.u64()?;
                let prev = SubmissionId::decode(r)?;
                let root = AuditRoot::decode(r)?;
                let label = r.short_bytes("label", MAX_LABEL_LEN)?;
                let label = std::str::from_utf8(label).map_err(|_| CodecError::Invalid {
                    field: "label",
                    reason: "not UTF-8",
                })?;
                let record_count = if r.option_tag("record_count")? {
                    Some(r.u64()?)
                } else {
                    None
                };
                Ok(Self::SubmitRoot(SubmitRoot {
                    operator,
                    seq,
                    prev,
                    root,
                    metadata: Metadata::new(label, record_count)?,
                }))
            }
            3 => Ok(Self::Transfer(Transfer {
                from_key: PublicKey::decode(r)?,
                nonce: r.u64()?,
                to: AccountId::decode(r)?,
                amount: Amount::decode(r)?,
            })),
            4 => Ok(Self::AnchorRecord(AnchorRecord {
                validator: r.u16()?,
                height: Height::new(r.u64()?),
                commitment: AnchorCommitment::decode(r)?,
                bitcoin_txid: BitcoinTxid::decode(r)?,
                bitcoin_block: BitcoinBlockHash::decode(r)?,
                bitcoin_height: r.u64()?,
                part: None,
            })),
            5 => {
                let validator = r.u16()?;
                let height = Height::new(r.u64()?);
                let commitment = AnchorCommitment::decode(r)?;
                let bitcoin_height = r.u64()?;
                let len = r.count("part", false, MAX_RECORD_PART)?;
                let part = BitcoinPart::from_bytes(r.take(len)?)?;
                Ok(Self::AnchorRecord(AnchorRecord::with_part(
                    validator,
                    height,
                    commitment,
                    bitcoin_height,
                    part,
                )?))
            }
            tag => Err(CodecError::InvalidTag { field: "kind", tag }),
        }
    }
}

/// The limits of a kind-5 record's Bitcoin part beyond the part's own.
fn check_record_part(part: &BitcoinPart) -> codec::Result<()> {
    if part.raw_tx.len() > MAX_RECORD_BITCOIN_TX {
        return Err(CodecError::TooLong {
            field: "part.raw_tx",
            len: part.raw_tx.len(),
            max: MAX_RECORD_BITCOIN_TX,
        });
    }
    let max_headers = usize::from(MAX_ANCHOR_CONFIRMATIONS);
    if part.headers.is_empty() || part.headers.len() > max_headers {
        return Err(CodecError::Invalid {
            field: "part.headers",
            reason: "not 1..=100 headers",
        });
    }
    Ok(())
}

/// A transaction with its signature. Holds its encoding (whose last 3,309
/// bytes are the signature) and its id, computed once, behind an `Arc`:
/// a transaction travels from RPC through the mempool, proposals, execution
/// and storage, and a clone is a reference count, not a copy of ~3.4 KB (a
/// full block holds 20,000 of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTx(std::sync::Arc<SignedTxInner>);

#[derive(Debug, PartialEq, Eq)]
struct SignedTxInner {
    body: TxBody,
    bytes: Vec<u8>,
    id: TxId,
}

impl SignedTx {
    /// Assembles a transaction from a body and a signature (not checked here).
    #[must_use]
    pub fn new(body: TxBody, signature: &Signature) -> Self {
        let mut bytes = body.unsigned_bytes();
        signature.encode(&mut bytes);
        let id = TxId::new(leaf_hash(&bytes));
        Self(std::sync::Arc::new(SignedTxInner { body, bytes, id }))
    }

    /// The body.
    #[must_use]
    pub fn body(&self) -> &TxBody {
        &self.0.body
    }

    /// The bytes its signature covers, `genesis_hash || unsigned bytes`,
    /// taken from the stored encoding (no re-encoding).
    #[must_use]
    pub fn signing_message(&self, genesis: &GenesisHash) -> Vec<u8> {
        let unsigned = &self.0.bytes[..self.0.bytes.len() - SIGNATURE_LEN];
        let mut msg = Vec::with_capacity(32 + unsigned.len());
        msg.extend_from_slice(genesis.as_bytes());
        msg.extend_from_slice(unsigned);
        msg
    }

    /// The signature (a copy of the encoding's last 3,309 bytes).
    #[must_use]
    pub fn signature(&self) -> Signature {
        let tail = &self.0.bytes[self.0.bytes.len() - SIGNATURE_LEN..];
        Signature::from_bytes(
            tail.try_into()
                .expect("every encoding ends with a signature"),
        )
    }

    /// The canonical encoding.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    /// The id: `SHA-256(0x00 || bytes)`.
    #[must_use]
    pub fn id(&self) -> TxId {
        self.0.id
    }

    /// For a submission, its id (the same value as [`SignedTx::id`]).
    #[must_use]
    pub fn submission_id(&self) -> SubmissionId {
        SubmissionId::new(self.0.id.hash())
    }

    /// The anchor record, if this is one.
    #[must_use]
    pub fn as_anchor_record(&self) -> Option<&AnchorRecord> {
        match &self.0.body {
            TxBody::AnchorRecord(a) => Some(a),
            _ => None,
        }
    }

    /// The submission, if this is one.
    #[must_use]
    pub fn as_submission(&self) -> Option<&SubmitRoot> {
        match &self.0.body {
            TxBody::SubmitRoot(s) => Some(s),
            _ => None,
        }
    }
}

impl Encode for SignedTx {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.bytes);
    }
}

impl Decode for SignedTx {
    const MAX_SIZE: usize = MAX_TX_SIZE;
    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        let start = r.position();
        r.version("transaction", TX_VERSION)?;
        let body = TxBody::decode_body(r)?;
        let signature = Signature::decode(r)?;
        let tx = Self::new(body, &signature);
        debug_assert_eq!(tx.0.bytes.len(), r.position() - start);
        Ok(tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::decode_exact;
    use crate::hash::Hash256;

    fn sample() -> SignedTx {
        let key = Keypair::from_seed(&[1; 32]);
        TxBody::SubmitRoot(SubmitRoot {
            operator: key.id(),
            seq: 0,
            prev: SubmissionId::default(),
            root: AuditRoot::new(Hash256::digest(b"batch")),
            metadata: Metadata::new("ward-7", Some(12)).unwrap(),
        })
        .sign(&GenesisHash::default(), &key)
    }

    #[test]
    fn round_trip() {
        let tx = sample();
        assert_eq!(decode_exact::<SignedTx>(tx.as_bytes()).unwrap(), tx);
    }

    #[test]
    fn rejects_bad_version_kind_and_label() {
        let tx = sample();
        let mut b = tx.as_bytes().to_vec();
        b[0] = 2;
        assert!(matches!(
            decode_exact::<SignedTx>(&b),
            Err(CodecError::UnsupportedVersion { version: 2, .. })
        ));
        let mut b = tx.as_bytes().to_vec();
        b[1] = 9;
        assert!(matches!(
            decode_exact::<SignedTx>(&b),
            Err(CodecError::InvalidTag { tag: 9, .. })
        ));
        let mut b = tx.as_bytes().to_vec();
        b[2 + 32 + 8 + 32 + 32 + 1] = 0xff; // first label byte
        assert!(matches!(
            decode_exact::<SignedTx>(&b),
            Err(CodecError::Invalid { field: "label", .. })
        ));
        assert!(Metadata::new("x".repeat(65), None).is_err());
    }
}
