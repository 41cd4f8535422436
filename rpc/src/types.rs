//! The JSON shapes of requests and responses. Byte strings are lower-case
//! hex; amounts are decimal strings of smallest units (10^-9 PAN) with a
//! `_pan` twin for people.
//!
//! Every type derives [`JsonSchema`] describing exactly what its serde
//! writes (hex and base64 strings with their patterns, optional members as
//! `null` or absent as serde has them); `rpc.discover` and `docs/RPC.md`
//! are generated from these schemas ([`crate::openrpc`]).

use pantheon_runtime::amount::{Amount, Height};
use pantheon_runtime::block::{BlockHeader, CommitCertificate};
use pantheon_runtime::codec::Encode;
use pantheon_runtime::crypto::{AccountId, OperatorId};
use pantheon_runtime::hash::{AuditRoot, BlockHash, GenesisHash, StateRoot, SubmissionId, TxId};
use pantheon_runtime::smt::StateProof;
use pantheon_runtime::state::{Account, LastSubmission};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a submission stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Accepted into the mempool.
    Received,
    /// In a block with a commit certificate.
    Finalized,
    /// Its state is committed to Bitcoin with enough confirmations.
    Anchored,
}

/// The answer to `pantheon_submitRoot`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Receipt {
    /// The submission id (its RFC 9162 leaf hash).
    pub id: SubmissionId,
    /// The operator.
    pub operator: OperatorId,
    /// Its sequence number.
    pub seq: u64,
    /// The audit root.
    pub root: AuditRoot,
    /// Where it stands now.
    pub status: Status,
    /// The block holding it, once finalized.
    pub height: Option<Height>,
    /// A validator's signed receipt (FORMATS 26.2) when the answer is
    /// `received` from a validator: its promise that the submission is
    /// durable and finalized by the receipt's deadline. `null` from a full
    /// node, and when the submission was finalized already.
    #[serde(default)]
    pub receipt: Option<pantheon_runtime::receipt::SignedReceipt>,
}

/// The answer to `pantheon_getSubmission`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubmissionInfo {
    /// The submission id.
    pub id: SubmissionId,
    /// The operator.
    pub operator: OperatorId,
    /// Its sequence number.
    pub seq: u64,
    /// The id of the operator's previous submission.
    pub prev: SubmissionId,
    /// The audit root.
    pub root: AuditRoot,
    /// The label ("" if none).
    pub label: String,
    /// The record count, if given.
    pub record_count: Option<u64>,
    /// Where it stands.
    pub status: Status,
    /// The block holding it.
    pub height: Option<Height>,
    /// That block's hash.
    pub block_hash: Option<BlockHash>,
    /// Its index in the submission log.
    pub log_index: Option<u64>,
    /// The Bitcoin anchor that covers its block, once anchored: the
    /// Bitcoin transaction, block and confirmations (`null` before).
    #[serde(default)]
    pub anchor: Option<AnchorInfo>,
}

/// The answer to `pantheon_getOperatorProof`: an operator's state record
/// after the block holding one of its submissions, proven against that
/// block's state root (FORMATS 7.4, 25).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OperatorProof {
    /// The operator id.
    pub operator: OperatorId,
    /// The block.
    pub height: Height,
    /// Its state root.
    pub state_root: StateRoot,
    /// Base64 of the account record (FORMATS 6.1), the bytes the proof's
    /// value hash is over.
    #[schemars(extend("contentEncoding" = "base64"), regex(pattern = r"^[A-Za-z0-9+/]*={0,2}$"))]
    pub account: String,
    /// The same record, decoded.
    pub record: Account,
    /// The state proof.
    pub proof: StateProof,
}

/// The answer to `pantheon_exportOperator`: one page of an operator export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExportPage {
    /// The export document (FORMATS 25) for this page's range: complete on
    /// its own, as of the block of its last submission.
    #[schemars(with = "ExportDocument")]
    pub export: serde_json::Value,
    /// The sequence number the next page starts at, if more anchored
    /// submissions follow.
    pub next_from: Option<u64>,
    /// The last anchored sequence number (the export's end).
    pub anchored_to: u64,
    /// The operator's next sequence number (finalized submissions beyond
    /// `anchored_to` wait for their anchor).
    pub next_seq: u64,
}

/// The answer to `pantheon_getOperator`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OperatorInfo {
    /// The operator id.
    pub id: OperatorId,
    /// Its ML-DSA-65 public key (hex).
    #[schemars(regex(pattern = r"^[0-9a-f]{3904}$"))]
    pub public_key: String,
    /// The sequence number of its next submission.
    pub next_seq: u64,
    /// Its latest finalized submission.
    pub last_submission: Option<LastSubmission>,
    /// The sequence number its next submission must carry, counting the
    /// submissions waiting in this node's mempool.
    pub pending_next_seq: u64,
    /// The `prev` its next submission must carry, counting the mempool.
    pub pending_prev: SubmissionId,
    /// Its account balance, in smallest units.
    pub balance: Amount,
    /// The same in PAN.
    #[schemars(regex(pattern = r"^(0|[1-9][0-9]*)(\.[0-9]{0,8}[1-9])?$"))]
    pub balance_pan: String,
    /// Its account nonce.
    pub nonce: u64,
}

/// The answer to `chain_getGenesis`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GenesisInfo {
    /// The genesis hash.
    pub hash: GenesisHash,
    /// Base64 of the genesis header (FORMATS 11.3), which hashes to it.
    #[schemars(extend("contentEncoding" = "base64"), regex(pattern = r"^[A-Za-z0-9+/]*={0,2}$"))]
    pub header: String,
}

/// The answer to `pantheon_getAccountState`: an account's record in the
/// newest block's state with its proof, and that block's header and
/// certificate (what receipt evidence, FORMATS 26.4, is built from).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccountStateInfo {
    /// The block.
    pub height: Height,
    /// Base64 of its header (FORMATS 9.1).
    #[schemars(extend("contentEncoding" = "base64"), regex(pattern = r"^[A-Za-z0-9+/]*={0,2}$"))]
    pub header: String,
    /// Base64 of its commit certificate (FORMATS 10.3).
    #[schemars(extend("contentEncoding" = "base64"), regex(pattern = r"^[A-Za-z0-9+/]*={0,2}$"))]
    pub certificate: String,
    /// The record (`null` if none) and its state proof.
    pub state: pantheon_runtime::receipt::AccountState,
}

/// Who sends a `pantheon_relayTransactions` batch (FORMATS.md section 27):
/// the sending node's libp2p identity key (Ed25519) and its signature over
/// the network, the time and the batch's transactions. The receiving node
/// accepts batches only from the peer ids in its `[relay] accept_from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RelayAuth {
    /// The sender's Ed25519 public key, 32 bytes (hex).
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub key: String,
    /// When the batch was signed, ms since the Unix epoch.
    pub time_ms: u64,
    /// The Ed25519 signature, 64 bytes (hex).
    #[schemars(regex(pattern = r"^[0-9a-f]{128}$"))]
    pub signature: String,
}

/// The answer to `pantheon_relayTransactions` (node to node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct RelayReport {
    /// Newly queued.
    pub accepted: u32,
    /// Already queued here.
    pub known: u32,
    /// Malformed or invalid here (bad signature, seq gap, mempool full...).
    pub rejected: u32,
}

/// The answer to `pantheon_submitTransaction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TxReceipt {
    /// The transaction id.
    pub id: TxId,
    /// `register_operator`, `submit_root` or `transfer`.
    #[schemars(extend("enum" = ["register_operator", "submit_root", "transfer", "anchor_record"]))]
    pub kind: String,
    /// Where it stands.
    pub status: Status,
    /// The block holding it, once finalized.
    pub height: Option<Height>,
}

/// The answer to `pan_getBalance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BalanceInfo {
    /// The account.
    pub account: AccountId,
    /// Balance in smallest units.
    pub balance: Amount,
    /// The same in PAN.
    #[schemars(regex(pattern = r"^(0|[1-9][0-9]*)(\.[0-9]{0,8}[1-9])?$"))]
    pub balance_pan: String,
    /// Next nonce.
    pub nonce: u64,
    /// The nonce its next transaction must carry, counting this node's mempool.
    pub pending_nonce: u64,
    /// The height this answer is for.
    pub height: Height,
}

/// The answer to `pan_getSupply`: an audit of the fixed supply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SupplyInfo {
    /// The height audited.
    pub height: Height,
    /// The fixed supply, in smallest units.
    pub supply: Amount,
    /// The sum of every balance at that height, in smallest units.
    #[schemars(regex(pattern = r"^(0|[1-9][0-9]*)$"))]
    pub sum_of_balances: String,
    /// Number of accounts summed.
    pub accounts: u64,
    /// `sum_of_balances == supply`.
    pub conserved: bool,
}

/// A finalized block header with its certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HeaderInfo {
    /// The block hash.
    pub hash: BlockHash,
    /// The decoded header.
    pub header: BlockHeader,
    /// The canonical header bytes (hex).
    #[schemars(regex(pattern = r"^([0-9a-f]{2})*$"))]
    pub header_hex: String,
    /// The commit certificate bytes (hex).
    #[schemars(regex(pattern = r"^([0-9a-f]{2})*$"))]
    pub certificate_hex: String,
    /// Number of validators that signed the certificate.
    pub signers: usize,
}

impl HeaderInfo {
    /// From a header and its certificate.
    #[must_use]
    pub fn new(header: &BlockHeader, certificate: &CommitCertificate) -> Self {
        Self {
            hash: header.hash(),
            header: *header,
            header_hex: hex::encode(header.to_bytes()),
            certificate_hex: hex::encode(certificate.to_bytes()),
            signers: certificate.signatures.len(),
        }
    }
}

/// The answer to `chain_getBlock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BlockInfo {
    /// Header and certificate.
    #[serde(flatten)]
    pub head: HeaderInfo,
    /// The transaction ids, in block order.
    pub tx_ids: Vec<TxId>,
    /// The transactions (hex); empty when asked for ids only (the default).
    #[schemars(inner(regex(pattern = r"^([0-9a-f]{2})*$")))]
    pub txs: Vec<String>,
}

/// The answer to `chain_getBlockTransactions`: one page of a block's
/// transactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BlockTxPage {
    /// The block.
    pub height: Height,
    /// Index of the first transaction on this page.
    pub offset: u32,
    /// Transactions in the block.
    pub total: u32,
    /// The transactions (hex), in block order.
    #[schemars(inner(regex(pattern = r"^([0-9a-f]{2})*$")))]
    pub txs: Vec<String>,
    /// The offset of the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u32>,
}

/// The answer to `system_health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    /// Latest finalized height.
    pub height: Height,
    /// Its hash.
    pub finalized_hash: BlockHash,
    /// Time of that block, ms since the Unix epoch.
    pub last_block_time_ms: u64,
    /// True while catching up with peers.
    pub syncing: bool,
    /// Connected peers.
    pub peers: usize,
    /// Transactions waiting in the mempool.
    pub mempool: usize,
    /// Equivocation evidence reported by consensus, newest last.
    pub equivocations: Vec<String>,
    /// Problems worth an operator's attention (empty when healthy).
    pub warnings: Vec<String>,
    /// The regtest bitcoind that `pantheon dev` runs and restarts (absent
    /// on other nodes, whose bitcoind is their operator's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitcoind: Option<ManagedBitcoind>,
}

/// The supervised bitcoind of `pantheon dev`, in `system_health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ManagedBitcoind {
    /// Whether it runs now.
    pub running: bool,
    /// Times it was restarted after it exited (with back-off: 1 s, doubling
    /// to 30 s while it keeps failing).
    pub restarts: u32,
    /// How it last exited (`signal: 9 (SIGKILL)`...), if it ever did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_exit: Option<String>,
}

/// The answer to `system_version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VersionInfo {
    /// The node's version.
    pub version: String,
    /// The network's genesis hash.
    pub genesis_hash: GenesisHash,
    /// The network's name.
    pub chain_id: String,
}

/// One connected peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PeerInfo {
    /// Its libp2p peer id.
    pub peer_id: String,
    /// Its address.
    pub address: String,
}

/// A Bitcoin anchor recorded on chain (an `AnchorRecord` transaction), with
/// its confirmations as this node's bitcoind sees them (0 when its block is
/// not in the best chain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AnchorInfo {
    /// Anchor id.
    pub id: u64,
    /// The Pantheon block committed to.
    pub height: Height,
    /// Its hash.
    pub block_hash: BlockHash,
    /// The Bitcoin transaction id.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub txid: Option<String>,
    /// The Bitcoin block holding it.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub bitcoin_block: Option<String>,
    /// Confirmations.
    pub confirmations: u64,
    /// The Bitcoin block's height, as the anchor record claims it (a
    /// locator: `pantheon proof --format ots` names the block by it).
    #[serde(default)]
    pub bitcoin_height: Option<u64>,
}

/// The operator export document (FORMATS 25) that a
/// `pantheon_exportOperator` page carries: the typed form of what
/// `pantheon_runtime::export::write` builds, for its JSON Schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportDocument {
    /// The export format version: 1.
    #[schemars(extend("const" = 1))]
    pub operator_export: u32,
    /// The operator.
    pub operator: OperatorId,
    /// Base64 of the network's genesis header (FORMATS 11.3), for every
    /// bundle that does not carry its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("contentEncoding" = "base64"), regex(pattern = r"^[A-Za-z0-9+/]*={0,2}$"))]
    pub genesis: Option<String>,
    /// The bundles (version 2, without their genesis), in sequence order.
    #[schemars(with = "Vec<pantheon_runtime::proof::ProofBundle>")]
    pub submissions: Vec<serde_json::Value>,
    /// The operator's state record at the block of the last submission,
    /// with its proof.
    pub state: pantheon_runtime::export::StateEvidence,
}

/// The Bitcoin network an anchoring node writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BitcoinNetwork {
    /// Mainnet.
    Bitcoin,
    /// Testnet 3.
    Testnet,
    /// Testnet 4.
    Testnet4,
    /// Signet.
    Signet,
    /// Regtest.
    Regtest,
}

/// What an anchor commits to: the Pantheon height and the 32-byte
/// commitment written into the OP_RETURN output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnchorTarget {
    /// The Pantheon height committed to.
    pub height: Height,
    /// The commitment (hex).
    pub commitment: pantheon_runtime::anchor::AnchorCommitment,
}

/// One Bitcoin anchor transaction of this node's anchor engine, in
/// `anchor_status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineAnchor {
    /// What it anchors.
    pub target: AnchorTarget,
    /// The newest version's Bitcoin transaction id, or the one in a block
    /// (hex, displayed order).
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub txid: String,
    /// How many versions were signed (1 + fee replacements).
    pub versions: u64,
    /// Its Bitcoin block, once in one (hex, displayed order).
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub block_hash: Option<String>,
    /// That block's height.
    pub block_height: Option<u64>,
    /// Confirmations at the last tick (0 when unconfirmed).
    pub confirmations: u64,
}

/// The answer to `anchor_status` on a node that anchors (`null` on one
/// that does not): the typed form of the anchor engine's status
/// (`pantheon_anchor::engine::AnchorStatus`), for its JSON Schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnchorEngineStatus {
    /// The Bitcoin network.
    pub network: BitcoinNetwork,
    /// The address to fund.
    pub address: String,
    /// Whether bitcoind answered at the last tick (`null` before the first).
    pub reachable: Option<bool>,
    /// When bitcoind last answered a tick, in Unix seconds.
    pub checked_at: Option<u64>,
    /// Bitcoin's best height at the last tick.
    pub tip_height: Option<u64>,
    /// Spendable confirmed balance at the last coin scan, in satoshis.
    pub balance: Option<u64>,
    /// The target waiting for the current anchor to confirm.
    pub waiting: Option<AnchorTarget>,
    /// Anchors not yet confirmed as deep as the policy asks.
    pub pending: Vec<EngineAnchor>,
    /// Confirmed anchors, still watched or recently settled, oldest first.
    pub confirmed: Vec<EngineAnchor>,
    /// The last problem, cleared by a tick without one.
    pub last_error: Option<String>,
}
