//! The Bitcoin part of a proof bundle, and its offline check.
//!
//! ```text
//! commitment --(verbatim in)--> raw_tx --sha256d--> txid
//!   --(Merkle branch, tx_index)--> headers[0].merkle_root
//!   headers[0] <--prev-- headers[1] <--prev-- ... headers[k-1]   (k confirmations)
//!   each header: sha256d(header) <= target(nBits) <= network limit
//! ```
//!
//! [`BitcoinPart`] is plain bytes, defined in `pantheon_runtime::anchor`
//! (re-exported here) so that the runtime's proof bundle can carry it
//! without depending on the `bitcoin` crate; `docs/FORMATS.md` (section 20)
//! specifies it byte by byte. [`verify`] needs no network.
//!
//! # What headers alone prove
//!
//! The headers prove the work they carry and nothing more: they are not
//! checked against the network's difficulty schedule, which needs the chain
//! before them. On regtest, signet and the testnets a header at the minimum
//! difficulty costs nothing, and even on mainnet a few headers at the
//! network's pow limit are cheap. Outside regtest a caller must therefore
//! also require one of:
//!
//! - a trusted [`Checkpoint`] that the headers reach
//!   ([`VerifiedAnchor::check_checkpoint`]); or
//! - a live Bitcoin node that has the block in its best chain
//!   ([`check_best_chain`], `pantheon verify --bitcoin-rpc URL`).

use bitcoin::block::Header;
use bitcoin::consensus::encode;
use bitcoin::hashes::{Hash, sha256d};
use bitcoin::{Amount, BlockHash, CompactTarget, Network, Target, Transaction, TxMerkleNode, Txid};
use pantheon_runtime::hash::Hash256;
use serde::{Deserialize, Serialize};

use crate::merkle::{self, MerkleError};
use crate::payload::{AnchorPayload, PayloadError};
use crate::rpc::{BitcoinRpc, RpcError};

pub use pantheon_runtime::anchor::{BitcoinPart, MAX_HEADERS, PART_VERSION};

/// The largest raw transaction accepted (a standard transaction's weight
/// limit, 400,000 WU, is at most 100,000 bytes without witness).
pub const MAX_TX_SIZE: usize = pantheon_runtime::anchor::MAX_BITCOIN_TX_SIZE;

const _: () = assert!(merkle::MAX_DEPTH == pantheon_runtime::anchor::MAX_BRANCH_DEPTH);

/// The txid of the part's transaction, as a `bitcoin` type.
#[must_use]
pub fn part_txid(part: &BitcoinPart) -> Txid {
    crate::ids::txid(&part.txid())
}

/// The hash of the part's first header, as a `bitcoin` type.
#[must_use]
pub fn part_block_hash(part: &BitcoinPart) -> Option<BlockHash> {
    part.block_hash().map(|h| crate::ids::block_hash(&h))
}

/// Why a Bitcoin part does not prove the expected commitment. Each
/// variant names the failing link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpvError {
    /// `raw_tx` is larger than [`MAX_TX_SIZE`].
    #[error("transaction: {0} bytes, more than {MAX_TX_SIZE}")]
    TxTooLarge(usize),
    /// `raw_tx` is 64 bytes: it could be an inner Merkle node.
    #[error("transaction: 64-byte transactions are refused (Merkle ambiguity)")]
    SixtyFourByteTx,
    /// `raw_tx` does not decode.
    #[error("transaction: does not decode: {0}")]
    TxDecode(String),
    /// `raw_tx` decodes but is not the canonical serialization without
    /// witness.
    #[error("transaction: not the canonical serialization without witness")]
    TxNotCanonical,
    /// No output starts with `OP_RETURN`.
    #[error("commitment: the transaction has no OP_RETURN output")]
    NoAnchorOutput,
    /// More than one output starts with `OP_RETURN`.
    #[error("commitment: the transaction has {0} OP_RETURN outputs, expected one")]
    SeveralOpReturns(usize),
    /// The OP_RETURN output is not a Pantheon payload.
    #[error("commitment: {0}")]
    Payload(PayloadError),
    /// The OP_RETURN output carries a value.
    #[error("commitment: the OP_RETURN output carries {0}, expected 0")]
    AnchorValue(Amount),
    /// The payload commits to something else.
    #[error("commitment: the transaction commits to {found}, expected {expected}")]
    WrongCommitment {
        /// The commitment expected by the caller.
        expected: Hash256,
        /// The one in the transaction.
        found: Hash256,
    },
    /// The branch is malformed.
    #[error("merkle: {0}")]
    Merkle(MerkleError),
    /// The branch leads to another root.
    #[error("merkle: branch gives root {computed}, header 0 has {header}")]
    MerkleRootMismatch {
        /// The root computed from the txid and branch.
        computed: TxMerkleNode,
        /// The root in `headers[0]`.
        header: TxMerkleNode,
    },
    /// Fewer headers than confirmations asked for.
    #[error("confirmations: {have} headers, {need} confirmations required")]
    NotEnoughConfirmations {
        /// Headers present.
        have: usize,
        /// Confirmations required.
        need: u32,
    },
    /// More headers than [`MAX_HEADERS`].
    #[error("headers: {0} headers, more than {MAX_HEADERS}")]
    TooManyHeaders(usize),
    /// A header's nBits is not a valid target.
    #[error("header {index}: nBits {bits:#010x} is not a valid target ({reason})")]
    BadBits {
        /// The header's position.
        index: usize,
        /// Its nBits.
        bits: u32,
        /// Negative, overflowing or zero.
        reason: &'static str,
    },
    /// A header's target is easier than the network allows.
    #[error("header {index}: target of nBits {bits:#010x} is above the {network} pow limit")]
    TargetAboveLimit {
        /// The header's position.
        index: usize,
        /// Its nBits.
        bits: u32,
        /// The network.
        network: Network,
    },
    /// A header's hash is above its target.
    #[error("header {index}: hash {hash} does not meet its target (no proof of work)")]
    InsufficientWork {
        /// The header's position.
        index: usize,
        /// Its hash.
        hash: BlockHash,
    },
    /// A header does not build on the one before it.
    #[error(
        "header {index}: previous block is {found}, expected header {prev_index}'s hash {expected}"
    )]
    BrokenLink {
        /// The header's position.
        index: usize,
        /// `index - 1`.
        prev_index: usize,
        /// The hash of the header before.
        expected: BlockHash,
        /// The previous-block field found.
        found: BlockHash,
    },
    /// The headers do not include the trusted checkpoint.
    #[error("checkpoint: the headers do not reach block {hash} at height {height}")]
    CheckpointNotReached {
        /// The checkpoint's block.
        hash: BlockHash,
        /// Its height.
        height: u64,
    },
}

/// What a valid Bitcoin part proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAnchor {
    /// The anchor transaction.
    pub txid: Txid,
    /// The commitment it carries.
    pub commitment: Hash256,
    /// The block holding it.
    pub block_hash: BlockHash,
    /// The number of headers, the block's own included.
    pub confirmations: u32,
    /// The block's header time (seconds since the Unix epoch): the
    /// commitment existed no later than about this time (Bitcoin allows a
    /// block's time up to two hours ahead of the network's).
    pub block_time: u32,
    /// The hash of every header, in order.
    pub header_hashes: Vec<BlockHash>,
}

/// A block trusted to be in the network's best chain, e.g. from a block
/// explorer or the operator's own node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Its height.
    pub height: u64,
    /// Its hash.
    pub hash: BlockHash,
}

impl VerifiedAnchor {
    /// Checks that the headers reach `checkpoint` (one of them is the
    /// checkpoint block), which makes every earlier header, and so the
    /// anchor's block, an ancestor of a trusted block. Returns the anchor
    /// block's height.
    ///
    /// # Errors
    /// [`SpvError::CheckpointNotReached`].
    pub fn check_checkpoint(&self, checkpoint: &Checkpoint) -> Result<u64, SpvError> {
        let not_reached = SpvError::CheckpointNotReached {
            hash: checkpoint.hash,
            height: checkpoint.height,
        };
        let position = self
            .header_hashes
            .iter()
            .position(|h| *h == checkpoint.hash)
            .ok_or_else(|| not_reached.clone())?;
        checkpoint
            .height
            .checked_sub(position as u64)
            .ok_or(not_reached)
    }
}

/// Checks, offline, that `part` proves `expected` was committed in a
/// Bitcoin block with at least `min_confirmations` headers of proof of
/// work on `network`. See the module docs for what this does not prove.
///
/// # Errors
/// The first failing link, as [`SpvError`].
pub fn verify(
    part: &BitcoinPart,
    expected: &Hash256,
    network: Network,
    min_confirmations: u32,
) -> Result<VerifiedAnchor, SpvError> {
    // Transaction.
    let tx = decode_tx(&part.raw_tx)?;
    let txid = part_txid(part);
    // Commitment.
    let commitment = anchor_commitment(&tx)?;
    if commitment != *expected {
        return Err(SpvError::WrongCommitment {
            expected: *expected,
            found: commitment,
        });
    }
    // Merkle branch to header 0.
    let Some(first) = part.headers.first() else {
        return Err(SpvError::NotEnoughConfirmations {
            have: 0,
            need: min_confirmations.max(1),
        });
    };
    if part.headers.len() > MAX_HEADERS {
        return Err(SpvError::TooManyHeaders(part.headers.len()));
    }
    let root = merkle::root_from_branch(&txid.to_byte_array(), part.tx_index, &part.branch)
        .map_err(SpvError::Merkle)?;
    let header0 = decode_header(first);
    if root != header0.merkle_root.to_byte_array() {
        return Err(SpvError::MerkleRootMismatch {
            computed: TxMerkleNode::from_byte_array(root),
            header: header0.merkle_root,
        });
    }
    // Headers: proof of work and linkage.
    let limit = pow_limit(network);
    let mut header_hashes = Vec::with_capacity(part.headers.len());
    for (index, bytes) in part.headers.iter().enumerate() {
        let header = decode_header(bytes);
        let bits = header.bits.to_consensus();
        let target = target_from_bits(bits).map_err(|reason| SpvError::BadBits {
            index,
            bits,
            reason,
        })?;
        if target > limit {
            return Err(SpvError::TargetAboveLimit {
                index,
                bits,
                network,
            });
        }
        let hash = header_hash(bytes);
        if !target.is_met_by(hash) {
            return Err(SpvError::InsufficientWork { index, hash });
        }
        if let Some(prev) = header_hashes.last()
            && header.prev_blockhash != *prev
        {
            return Err(SpvError::BrokenLink {
                index,
                prev_index: index - 1,
                expected: *prev,
                found: header.prev_blockhash,
            });
        }
        header_hashes.push(hash);
    }
    // Confirmations.
    let confirmations = u32::try_from(part.headers.len()).unwrap_or(u32::MAX);
    if confirmations < min_confirmations {
        return Err(SpvError::NotEnoughConfirmations {
            have: part.headers.len(),
            need: min_confirmations,
        });
    }
    Ok(VerifiedAnchor {
        txid,
        commitment,
        block_hash: header_hashes[0],
        confirmations,
        block_time: header0.time,
        header_hashes,
    })
}

fn decode_tx(raw: &[u8]) -> Result<Transaction, SpvError> {
    if raw.len() > MAX_TX_SIZE {
        return Err(SpvError::TxTooLarge(raw.len()));
    }
    if raw.len() == 64 {
        return Err(SpvError::SixtyFourByteTx);
    }
    let tx: Transaction =
        encode::deserialize(raw).map_err(|e| SpvError::TxDecode(e.to_string()))?;
    // No witness, at least one input (a zero-input serialization is
    // ambiguous with the segwit marker), and byte-identical re-encoding.
    if tx.input.is_empty()
        || tx.input.iter().any(|i| !i.witness.is_empty())
        || encode::serialize(&tx) != raw
    {
        return Err(SpvError::TxNotCanonical);
    }
    Ok(tx)
}

/// The commitment in `tx`'s one OP_RETURN output.
fn anchor_commitment(tx: &Transaction) -> Result<Hash256, SpvError> {
    let mut op_returns = tx
        .output
        .iter()
        .filter(|o| o.script_pubkey.as_bytes().first() == Some(&0x6a));
    let Some(output) = op_returns.next() else {
        return Err(SpvError::NoAnchorOutput);
    };
    let extra = op_returns.count();
    if extra > 0 {
        return Err(SpvError::SeveralOpReturns(extra + 1));
    }
    let payload =
        AnchorPayload::from_script(output.script_pubkey.as_bytes()).map_err(SpvError::Payload)?;
    if output.value != Amount::ZERO {
        return Err(SpvError::AnchorValue(output.value));
    }
    Ok(payload.commitment())
}

fn decode_header(bytes: &[u8; 80]) -> Header {
    encode::deserialize(bytes).expect("every 80-byte string decodes as a block header")
}

/// The block hash of an 80-byte header.
#[must_use]
pub fn header_hash(bytes: &[u8; 80]) -> BlockHash {
    BlockHash::from_byte_array(sha256d::Hash::hash(bytes).to_byte_array())
}

/// The target of the compact `bits`, as Bitcoin Core's `CheckProofOfWork`
/// accepts it. rust-bitcoin decodes it (`Target::from_compact`); what it
/// does not report, Core's negative and overflow flags, is refused here
/// first (rust-bitcoin would read a negative mantissa of size <= 3 as a
/// positive target, and wrap an overflowing shift), and so is the zero
/// target.
fn target_from_bits(bits: u32) -> Result<Target, &'static str> {
    let size = bits >> 24;
    let word = bits & 0x007f_ffff;
    let shifted = if size <= 3 {
        word >> (8 * (3 - size))
    } else {
        word
    };
    if bits & 0x0080_0000 != 0 {
        return Err(if shifted == 0 { "zero" } else { "negative" });
    }
    if word != 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32)) {
        return Err("overflow");
    }
    let target = Target::from_compact(CompactTarget::from_consensus(bits));
    if target == Target::ZERO {
        return Err("zero");
    }
    Ok(target)
}

/// The easiest target a network allows (rust-bitcoin's constants, from
/// Bitcoin Core's chain parameters).
fn pow_limit(network: Network) -> Target {
    match network {
        Network::Bitcoin => Target::MAX_ATTAINABLE_MAINNET,
        Network::Testnet | Network::Testnet4 => Target::MAX_ATTAINABLE_TESTNET,
        Network::Signet => Target::MAX_ATTAINABLE_SIGNET,
        Network::Regtest => Target::MAX_ATTAINABLE_REGTEST,
    }
}

/// Errors fetching a Bitcoin part or checking it against a live node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The node could not answer.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The node runs another chain.
    #[error("the Bitcoin node runs chain {node:?}, the proof is for {expected}")]
    WrongNetwork {
        /// The network the proof is for.
        expected: Network,
        /// The node's `chain`.
        node: String,
    },
    /// The block is not in the node's best chain.
    #[error("block {0} is not in the Bitcoin node's best chain")]
    NotInBestChain(BlockHash),
    /// The block has fewer confirmations than required.
    #[error("block {block} has {have} confirmations, {need} required")]
    NotEnoughConfirmations {
        /// The block.
        block: BlockHash,
        /// Its confirmations.
        have: i64,
        /// Confirmations required.
        need: u32,
    },
    /// The transaction is not in the block.
    #[error("transaction {txid} is not in block {block}")]
    TxNotInBlock {
        /// The transaction.
        txid: Txid,
        /// The block.
        block: BlockHash,
    },
    /// The part has no headers.
    #[error("the Bitcoin part has no headers")]
    NoHeaders,
    /// The chain changed while the headers were fetched.
    #[error("the best chain changed while fetching headers after block {0}")]
    ChainMoved(BlockHash),
}

/// Fetches the Bitcoin part for `txid` in `block` with `confirmations`
/// headers (the block's own and `confirmations - 1` after it), from a node
/// without `-txindex`.
///
/// # Errors
/// [`ChainError`].
pub async fn build(
    rpc: &BitcoinRpc,
    txid: &Txid,
    block: &BlockHash,
    confirmations: u32,
) -> Result<BitcoinPart, ChainError> {
    let confirmations = confirmations.max(1);
    let info = rpc.get_block_info(block).await?;
    if info.confirmations < 0 {
        return Err(ChainError::NotInBestChain(*block));
    }
    if info.confirmations < i64::from(confirmations) {
        return Err(ChainError::NotEnoughConfirmations {
            block: *block,
            have: info.confirmations,
            need: confirmations,
        });
    }
    let leaves: Vec<[u8; 32]> = info.tx.iter().map(|t| t.to_byte_array()).collect();
    let index = info
        .tx
        .iter()
        .position(|t| t == txid)
        .ok_or(ChainError::TxNotInBlock {
            txid: *txid,
            block: *block,
        })?;
    let branch = merkle::branch(&leaves, index).map_err(|_| ChainError::TxNotInBlock {
        txid: *txid,
        block: *block,
    })?;
    let mut tx = rpc.get_raw_transaction(txid, Some(block)).await?;
    for input in &mut tx.input {
        input.witness.clear();
    }
    let raw_tx = encode::serialize(&tx);
    let mut headers = Vec::with_capacity(confirmations as usize);
    let mut prev = *block;
    headers.push(header_bytes(&rpc.get_block_header(block).await?));
    for i in 1..u64::from(confirmations) {
        let hash = rpc.get_block_hash(info.height + i).await?;
        let header = rpc.get_block_header(&hash).await?;
        if header.prev_blockhash != prev {
            return Err(ChainError::ChainMoved(prev));
        }
        headers.push(header_bytes(&header));
        prev = hash;
    }
    Ok(BitcoinPart {
        raw_tx,
        tx_index: u32::try_from(index).map_err(|_| ChainError::TxNotInBlock {
            txid: *txid,
            block: *block,
        })?,
        branch,
        headers,
    })
}

fn header_bytes(header: &Header) -> [u8; 80] {
    let bytes = encode::serialize(header);
    let mut out = [0u8; 80];
    out.copy_from_slice(&bytes);
    out
}

/// What a live node says about an anchor's block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainStatus {
    /// The block holding the anchor.
    pub block_hash: BlockHash,
    /// Its height.
    pub height: u64,
    /// Its confirmations in the node's best chain.
    pub confirmations: u64,
}

/// Checks `part` against a live node: the node runs `network`, and the
/// anchor's block is in its best chain with at least `min_confirmations`.
/// Run [`verify`] first; this checks only what headers cannot prove.
///
/// # Errors
/// [`ChainError`].
pub async fn check_best_chain(
    rpc: &BitcoinRpc,
    part: &BitcoinPart,
    network: Network,
    min_confirmations: u32,
) -> Result<ChainStatus, ChainError> {
    let block_hash = part_block_hash(part).ok_or(ChainError::NoHeaders)?;
    let info = rpc.get_blockchain_info().await?;
    if info.chain != network.to_core_arg() {
        return Err(ChainError::WrongNetwork {
            expected: network,
            node: info.chain,
        });
    }
    let header = match rpc.get_block_header_info(&block_hash).await {
        Ok(h) => h,
        Err(e) if e.code() == Some(crate::rpc::codes::INVALID_ADDRESS_OR_KEY) => {
            return Err(ChainError::NotInBestChain(block_hash));
        }
        Err(e) => return Err(e.into()),
    };
    let Ok(confirmations) = u64::try_from(header.confirmations) else {
        return Err(ChainError::NotInBestChain(block_hash));
    };
    if confirmations < u64::from(min_confirmations) {
        return Err(ChainError::NotEnoughConfirmations {
            block: block_hash,
            have: header.confirmations,
            need: min_confirmations,
        });
    }
    Ok(ChainStatus {
        block_hash,
        height: header.height,
        confirmations,
    })
}

#[cfg(test)]
mod tests;
