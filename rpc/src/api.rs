//! The methods of `PRODUCT.md`, as a jsonrpsee trait, implemented over a
//! [`Backend`] the node provides.
//!
//! The RPC layer parses and validates every parameter (hex, lengths,
//! canonical decoding with size limits) and maps errors to stable codes;
//! the backend sees only typed values. Backend calls may block (storage,
//! signature checks), so each runs on tokio's blocking pool.

use std::sync::Arc;

use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::{PendingSubscriptionSink, SubscriptionMessage};
use pantheon_runtime::amount::Height;
use pantheon_runtime::audit::{Checkpoint, LogConsistency, SupplyProof};
use pantheon_runtime::block::{BlockHeader, CommitCertificate};
use pantheon_runtime::codec::decode_exact;
use pantheon_runtime::crypto::AccountId;
use pantheon_runtime::hash::{AuditRoot, Hash256, SubmissionId};
use pantheon_runtime::proof::ProofBundle;
use pantheon_runtime::tx::{MAX_TX_SIZE, SignedTx};
use tokio::sync::broadcast;

use crate::error::{ApiError, codes};

/// The most transactions one answer carries (a page of
/// `chain_getBlockTransactions`, or a whole block in `chain_getBlock`):
/// 256 transactions are at most ~3.6 MB of hex, so no single read of a
/// block, however large, costs the node more than that.
pub const BLOCK_TXS_PAGE: u32 = 256;
use crate::types::{
    AccountStateInfo, AnchorInfo, BalanceInfo, BlockInfo, BlockTxPage, ExportPage, GenesisInfo,
    HeaderInfo, Health, OperatorInfo, OperatorProof, PeerInfo, Receipt, RelayAuth, RelayReport,
    Status, SubmissionInfo, SupplyInfo, TxReceipt, VersionInfo,
};

/// A finalized header and its commit certificate, as the node announces
/// them: domain types, so that the node's chain needs no wire type.
pub type FinalizedHead = Arc<(BlockHeader, CommitCertificate)>;

/// What the node provides to the RPC layer.
pub trait Backend: Send + Sync + 'static {
    /// Accepts a signed submission (idempotent on (operator, seq, root)).
    ///
    /// # Errors
    /// [`ApiError`] naming why it was refused.
    fn submit_root(&self, tx: SignedTx) -> Result<Receipt, ApiError>;
    /// Accepts a transfer or an operator registration.
    ///
    /// # Errors
    /// [`ApiError`] naming why it was refused.
    fn submit_transaction(&self, tx: SignedTx) -> Result<TxReceipt, ApiError>;

    /// Queues transactions relayed by another node: `raw` as sent (each
    /// decoded from hex), signed by the sender as `auth` says. The backend
    /// checks `auth` over `raw` before anything is decoded.
    ///
    /// # Errors
    /// [`codes::RELAY_REFUSED`] when the sender is not one this node
    /// accepts relays from, or its signature or time does not hold.
    fn relay(&self, raw: Vec<Vec<u8>>, auth: RelayAuth) -> Result<RelayReport, ApiError>;
    /// A submission's status and place.
    ///
    /// # Errors
    /// Not found.
    fn submission(&self, id: SubmissionId) -> Result<SubmissionInfo, ApiError>;
    /// An operator's submission with sequence number `seq`: finalized, or
    /// waiting in this node's mempool.
    ///
    /// # Errors
    /// Not found.
    fn submission_at(&self, operator: AccountId, seq: u64) -> Result<SubmissionInfo, ApiError>;
    /// An operator's finalized submissions with sequence numbers in
    /// `from..to` (at most [`OPERATOR_WINDOW`]), with their statuses, and
    /// the operator's next sequence number.
    ///
    /// # Errors
    /// Unknown operator.
    fn submissions_of(
        &self,
        operator: AccountId,
        from: u64,
        to: u64,
    ) -> Result<(u64, Vec<SubmissionInfo>), ApiError>;
    /// `operator`'s state record after the block of its finalized
    /// submission `seq` (default: its latest), with the record's proof.
    ///
    /// # Errors
    /// Unknown operator, no such submission, or no proof kept for the
    /// block (committed by a node before it kept them).
    fn operator_proof(
        &self,
        operator: AccountId,
        seq: Option<u64>,
    ) -> Result<OperatorProof, ApiError>;
    /// One page of `operator`'s export from `from` (at most `max`
    /// submissions, more only to end the page at the last of a block):
    /// anchored submissions only.
    ///
    /// # Errors
    /// Unknown operator, or nothing anchored from `from` on.
    fn export_operator(
        &self,
        operator: AccountId,
        from: u64,
        max: usize,
    ) -> Result<ExportPage, ApiError>;
    /// A finalized submission's proof bundle (version 2), carrying the
    /// genesis header if `embed_genesis` (the RPC's default).
    ///
    /// # Errors
    /// Not found or not finalized.
    fn proof(&self, id: SubmissionId, embed_genesis: bool) -> Result<ProofBundle, ApiError>;
    /// The submissions carrying `root`.
    ///
    /// # Errors
    /// Internal errors only.
    fn find_root(&self, root: AuditRoot) -> Result<Vec<SubmissionInfo>, ApiError>;
    /// A registered operator.
    ///
    /// # Errors
    /// Not found.
    fn operator(&self, id: AccountId) -> Result<OperatorInfo, ApiError>;
    /// The latest finalized header.
    ///
    /// # Errors
    /// Not found before the first block.
    fn head(&self) -> Result<HeaderInfo, ApiError>;
    /// A finalized block, with its transactions when `include_txs`.
    ///
    /// # Errors
    /// Not found; [`codes::TOO_LARGE`] when `include_txs` and the block
    /// holds more than [`BLOCK_TXS_PAGE`] transactions.
    fn block(&self, height: Height, include_txs: bool) -> Result<BlockInfo, ApiError>;
    /// Transactions `offset..offset + limit` of a finalized block
    /// (`limit` at most [`BLOCK_TXS_PAGE`], checked by the caller).
    ///
    /// # Errors
    /// Not found (the block, or an offset beyond its last transaction).
    fn block_txs(&self, height: Height, offset: u32, limit: u32) -> Result<BlockTxPage, ApiError>;
    /// An account's balance.
    ///
    /// # Errors
    /// Internal errors only (an unknown account has balance 0).
    fn balance(&self, account: AccountId) -> Result<BalanceInfo, ApiError>;
    /// The supply audit.
    ///
    /// # Errors
    /// Internal errors only.
    fn supply(&self) -> Result<SupplyInfo, ApiError>;
    /// Every account record of the state after block `height` (default:
    /// the latest), certified by that block (FORMATS 28.2).
    ///
    /// # Errors
    /// Not found (a height beyond the head, or before the node's account
    /// history begins); [`codes::TOO_LARGE`] beyond
    /// [`pantheon_runtime::audit::MAX_SUPPLY_ACCOUNTS`] accounts.
    fn supply_proof(
        &self,
        height: Option<Height>,
        embed_genesis: bool,
    ) -> Result<SupplyProof, ApiError>;
    /// The log's size and root after block `height` (default: the
    /// latest), certified by that block (FORMATS 28.3).
    ///
    /// # Errors
    /// Not found.
    fn checkpoint(
        &self,
        height: Option<Height>,
        embed_genesis: bool,
    ) -> Result<Checkpoint, ApiError>;
    /// The RFC 9162 consistency proof between the log of `old_size` and of
    /// `new_size` leaves, each certified by the first block whose log has
    /// that size (FORMATS 28.4).
    ///
    /// # Errors
    /// Not found: a size no block's log ends at.
    fn consistency(
        &self,
        old_size: u64,
        new_size: u64,
        embed_genesis: bool,
    ) -> Result<LogConsistency, ApiError>;
    /// Anchors with ids in `from..=to`.
    ///
    /// # Errors
    /// Internal errors only.
    fn anchors(&self, from: u64, to: u64) -> Result<Vec<AnchorInfo>, ApiError>;
    /// One anchor.
    ///
    /// # Errors
    /// Not found.
    fn anchor(&self, id: u64) -> Result<AnchorInfo, ApiError>;
    /// The anchor engine's status (`null` when the node does not anchor).
    fn anchor_status(&self) -> serde_json::Value;
    /// Node health.
    fn health(&self) -> Health;
    /// Connected peers.
    fn peers(&self) -> Vec<PeerInfo>;
    /// Version and network.
    fn version(&self) -> VersionInfo;
    /// The genesis hash and header.
    fn genesis(&self) -> GenesisInfo;
    /// An account's state at the newest block, proven (receipt evidence).
    ///
    /// # Errors
    /// Internal errors only (an absent account is proven absent).
    fn account_state(&self, account: AccountId) -> Result<AccountStateInfo, ApiError>;
    /// A stream of finalized headers with their certificates (encoded
    /// for each subscriber as a [`HeaderInfo`]).
    fn subscribe_finalized(&self) -> broadcast::Receiver<FinalizedHead>;
}

/// Most submissions one `pantheon_exportOperator` page holds unless a
/// block's last one needs more (each bundle is about 10 KB of JSON).
pub const EXPORT_PAGE: usize = 64;

/// How many of an operator's latest submissions `pantheon_subscribeOperator`
/// watches (older ones have settled; ask `pantheon_getSubmission`).
pub const OPERATOR_WINDOW: u64 = 256;

/// How often a status subscription looks again without a new block (a
/// Bitcoin confirmation or reorg changes an anchor without one).
const STATUS_TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// The name of `pantheon_relayTransactions`, for the node's relay, which
/// sends one pre-encoded parameter text to every peer instead of going
/// through the generated client (which would encode the batch, about 1 MB
/// of hex, once per peer). A test checks it names a method of the trait.
pub const RELAY_TRANSACTIONS: &str = "pantheon_relayTransactions";

/// The JSON-RPC methods. `#[rpc(server, client)]` also generates
/// `PantheonRpcClient`, the typed client every caller uses (`pantheon`'s
/// commands, the testnet tool), so method names and parameter order are
/// spelled once, here.
#[rpc(server, client)]
pub trait PantheonRpc {
    /// Accepts a signed submission; returns its receipt.
    #[method(name = "pantheon_submitRoot")]
    async fn submit_root(&self, submission_hex: String) -> RpcResult<Receipt>;
    /// An account's record and state proof at the newest block, with that
    /// block's header and certificate.
    #[method(name = "pantheon_getAccountState")]
    async fn get_account_state(&self, account: String) -> RpcResult<AccountStateInfo>;
    /// The network's genesis hash and header.
    #[method(name = "chain_getGenesis")]
    async fn get_genesis(&self) -> RpcResult<GenesisInfo>;
    /// A submission's status and where it sits.
    #[method(name = "pantheon_getSubmission")]
    async fn get_submission(&self, id: String) -> RpcResult<SubmissionInfo>;
    /// An operator's submission by sequence number (finalized or waiting).
    #[method(name = "pantheon_getSubmissionAt")]
    async fn get_submission_at(&self, operator_id: String, seq: u64) -> RpcResult<SubmissionInfo>;
    /// The proof bundle of a finalized submission.
    #[method(name = "pantheon_getProof")]
    async fn get_proof(&self, id: String, embed_genesis: Option<bool>) -> RpcResult<ProofBundle>;
    /// An operator's state record at the block of one of its submissions,
    /// with its proof against that block's state root.
    #[method(name = "pantheon_getOperatorProof")]
    async fn get_operator_proof(
        &self,
        operator_id: String,
        seq: Option<u64>,
    ) -> RpcResult<OperatorProof>;
    /// One page of an operator export (FORMATS 25): anchored submissions
    /// from `from_seq` (default 0), at most `max` (default and limit
    /// [`EXPORT_PAGE`]) unless a block's last one needs more.
    #[method(name = "pantheon_exportOperator")]
    async fn export_operator(
        &self,
        operator_id: String,
        from_seq: Option<u64>,
        max: Option<u64>,
    ) -> RpcResult<ExportPage>;
    /// The submissions that carry a root.
    #[method(name = "pantheon_findRoot")]
    async fn find_root(&self, root: String) -> RpcResult<Vec<SubmissionInfo>>;
    /// A registered operator.
    #[method(name = "pantheon_getOperator")]
    async fn get_operator(&self, operator_id: String) -> RpcResult<OperatorInfo>;
    /// Accepts a transfer or operator registration.
    #[method(name = "pantheon_submitTransaction")]
    async fn submit_transaction(&self, tx_hex: String) -> RpcResult<TxReceipt>;
    /// Node to node: transactions another node's clients submitted, with
    /// the sending node's signature (FORMATS.md section 27).
    #[method(name = "pantheon_relayTransactions")]
    async fn relay_transactions(
        &self,
        txs_hex: Vec<String>,
        auth: Option<RelayAuth>,
    ) -> RpcResult<RelayReport>;
    /// The latest finalized header and its certificate.
    #[method(name = "chain_getHead")]
    async fn get_head(&self) -> RpcResult<HeaderInfo>;
    /// A finalized block: header, certificate and transaction ids; with
    /// `include_txs`, its transactions too if it holds at most
    /// [`BLOCK_TXS_PAGE`] of them.
    #[method(name = "chain_getBlock")]
    async fn get_block(&self, height: u64, include_txs: Option<bool>) -> RpcResult<BlockInfo>;
    /// One page of a finalized block's transactions.
    #[method(name = "chain_getBlockTransactions")]
    async fn get_block_transactions(
        &self,
        height: u64,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> RpcResult<BlockTxPage>;
    /// Finalized headers as they happen.
    #[subscription(name = "chain_subscribeFinalized" => "chain_finalized", unsubscribe = "chain_unsubscribeFinalized", item = HeaderInfo)]
    async fn subscribe_finalized(&self) -> SubscriptionResult;
    /// A submission's status changes, the current status first: received,
    /// finalized, anchored, back to finalized if a Bitcoin reorg takes the
    /// anchor away, anchored again.
    #[subscription(name = "pantheon_subscribeSubmission" => "pantheon_submission", unsubscribe = "pantheon_unsubscribeSubmission", item = SubmissionInfo)]
    async fn subscribe_submission(&self, id: String) -> SubscriptionResult;
    /// Status changes of an operator's finalized submissions with sequence
    /// numbers from `from_seq` (default: the next one) on, among its latest
    /// 256; each as a `SubmissionInfo`, the current ones first.
    #[subscription(name = "pantheon_subscribeOperator" => "pantheon_operator", unsubscribe = "pantheon_unsubscribeOperator", item = SubmissionInfo)]
    async fn subscribe_operator(
        &self,
        operator_id: String,
        from_seq: Option<u64>,
    ) -> SubscriptionResult;
    /// An account's balance.
    #[method(name = "pan_getBalance")]
    async fn get_balance(&self, account: String) -> RpcResult<BalanceInfo>;
    /// The supply audit.
    #[method(name = "pan_getSupply")]
    async fn get_supply(&self) -> RpcResult<SupplyInfo>;
    /// The supply audit at a height, as a proof against that height's
    /// state root (every account record, certified).
    #[method(name = "pan_getSupplyProof")]
    async fn get_supply_proof(
        &self,
        height: Option<u64>,
        embed_genesis: Option<bool>,
    ) -> RpcResult<SupplyProof>;
    /// The signed checkpoint (log size and root) after a block.
    #[method(name = "log_getCheckpoint")]
    async fn get_checkpoint(
        &self,
        height: Option<u64>,
        embed_genesis: Option<bool>,
    ) -> RpcResult<Checkpoint>;
    /// An RFC 9162 consistency proof between two log sizes, each certified.
    #[method(name = "log_getConsistencyProof")]
    async fn get_consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
        embed_genesis: Option<bool>,
    ) -> RpcResult<LogConsistency>;
    /// Bitcoin anchors with ids in `from..=to`.
    #[method(name = "anchor_list")]
    async fn anchor_list(&self, from: u64, to: u64) -> RpcResult<Vec<AnchorInfo>>;
    /// One Bitcoin anchor.
    #[method(name = "anchor_get")]
    async fn anchor_get(&self, id: u64) -> RpcResult<AnchorInfo>;
    /// The node's anchoring: address, balance, pending and confirmed anchors.
    #[method(name = "anchor_status")]
    async fn anchor_status(&self) -> RpcResult<serde_json::Value>;
    /// Node health.
    #[method(name = "system_health")]
    async fn system_health(&self) -> RpcResult<Health>;
    /// Connected peers.
    #[method(name = "system_peers")]
    async fn system_peers(&self) -> RpcResult<Vec<PeerInfo>>;
    /// Version and network.
    #[method(name = "system_version")]
    async fn system_version(&self) -> RpcResult<VersionInfo>;
    /// The OpenRPC description of this API.
    #[method(name = "rpc.discover")]
    async fn discover(&self) -> RpcResult<serde_json::Value>;
}

/// What a status subscription reports a change of: the status and which
/// anchor (transaction and block) covers the submission.
type StatusKey = (Status, Option<(u64, Option<String>, Option<String>)>);

fn status_key(info: &SubmissionInfo) -> StatusKey {
    (
        info.status,
        info.anchor
            .as_ref()
            .map(|a| (a.id, a.txid.clone(), a.bitcoin_block.clone())),
    )
}

/// The RPC methods over a backend.
pub struct Api<B> {
    backend: Arc<B>,
}

impl<B: Backend> Api<B> {
    /// Serves `backend`.
    pub fn new(backend: Arc<B>) -> Self {
        Self { backend }
    }

    async fn call<T, F>(&self, f: F) -> RpcResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&B) -> Result<T, ApiError> + Send + 'static,
    {
        let backend = Arc::clone(&self.backend);
        tokio::task::spawn_blocking(move || f(&backend))
            .await
            .map_err(ApiError::internal)?
            .map_err(Into::into)
    }
}

/// Parses 32 bytes of hex.
///
/// # Errors
/// [`codes::NOT_HEX`] or [`codes::WRONG_LENGTH`].
pub fn parse_hash(field: &str, text: &str) -> Result<Hash256, ApiError> {
    let bytes = hex::decode(text).map_err(|e| ApiError::not_hex(field, e))?;
    let got = bytes.len();
    let array: [u8; 32] = bytes
        .try_into()
        .map_err(|_| ApiError::wrong_length(field, 32, got))?;
    Ok(Hash256::from_bytes(array))
}

/// Parses a hex transaction, refusing oversize input before decoding.
///
/// # Errors
/// [`codes::DECODE`] or [`codes::NOT_HEX`].
pub fn parse_tx(field: &str, text: &str) -> Result<SignedTx, ApiError> {
    if text.len() > 2 * MAX_TX_SIZE {
        return Err(ApiError::new(
            codes::DECODE,
            format!(
                "{field}: {} hex digits exceed the largest transaction ({MAX_TX_SIZE} bytes)",
                text.len()
            ),
        ));
    }
    Ok(decode_exact(&decode_hex(field, text)?)?)
}

/// Hex to bytes: the SIMD decoder of `faster-hex` (a submission is ~7 KB
/// of hex, decoded on every request), with `hex`'s precise message when the
/// input is not hex.
fn decode_hex(field: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    let mut bytes = vec![0u8; text.len() / 2];
    if text.len().is_multiple_of(2) && faster_hex::hex_decode(text.as_bytes(), &mut bytes).is_ok() {
        return Ok(bytes);
    }
    hex::decode(text).map_err(|e| ApiError::not_hex(field, e))
}

#[jsonrpsee::core::async_trait]
impl<B: Backend> PantheonRpcServer for Api<B> {
    async fn submit_root(&self, submission_hex: String) -> RpcResult<Receipt> {
        let tx = parse_tx("submission", &submission_hex)?;
        if tx.as_submission().is_none() {
            return Err(ApiError::new(
                codes::WRONG_KIND,
                "not a root submission; use pantheon_submitTransaction",
            )
            .into());
        }
        self.call(move |b| b.submit_root(tx)).await
    }

    async fn get_submission(&self, id: String) -> RpcResult<SubmissionInfo> {
        let id = SubmissionId::new(parse_hash("id", &id)?);
        self.call(move |b| b.submission(id)).await
    }

    async fn get_proof(&self, id: String, embed_genesis: Option<bool>) -> RpcResult<ProofBundle> {
        let id = SubmissionId::new(parse_hash("id", &id)?);
        // Self-contained by default: the bundle verifies with no other file.
        let embed = embed_genesis.unwrap_or(true);
        self.call(move |b| b.proof(id, embed)).await
    }

    async fn find_root(&self, root: String) -> RpcResult<Vec<SubmissionInfo>> {
        let root = AuditRoot::new(parse_hash("root", &root)?);
        self.call(move |b| b.find_root(root)).await
    }

    async fn get_operator(&self, operator_id: String) -> RpcResult<OperatorInfo> {
        let id = AccountId::new(parse_hash("operator_id", &operator_id)?);
        self.call(move |b| b.operator(id)).await
    }

    async fn submit_transaction(&self, tx_hex: String) -> RpcResult<TxReceipt> {
        let tx = parse_tx("tx", &tx_hex)?;
        if tx.as_submission().is_some() {
            return Err(ApiError::new(
                codes::WRONG_KIND,
                "a root submission; use pantheon_submitRoot",
            )
            .into());
        }
        self.call(move |b| b.submit_transaction(tx)).await
    }

    async fn relay_transactions(
        &self,
        txs_hex: Vec<String>,
        auth: Option<RelayAuth>,
    ) -> RpcResult<RelayReport> {
        let Some(auth) = auth else {
            return Err(ApiError::new(
                codes::RELAY_REFUSED,
                "relay refused: the batch carries no sender signature (auth)",
            )
            .into());
        };
        let raw = txs_hex
            .iter()
            .map(|t| decode_hex("txs_hex", t))
            .collect::<Result<Vec<_>, _>>()?;
        self.call(move |b| b.relay(raw, auth)).await
    }

    async fn get_head(&self) -> RpcResult<HeaderInfo> {
        self.call(Backend::head).await
    }

    async fn get_account_state(&self, account: String) -> RpcResult<AccountStateInfo> {
        let id = AccountId::new(parse_hash("account", &account)?);
        self.call(move |b| b.account_state(id)).await
    }

    async fn get_genesis(&self) -> RpcResult<GenesisInfo> {
        self.call(|b| Ok(b.genesis())).await
    }

    async fn get_block(&self, height: u64, include_txs: Option<bool>) -> RpcResult<BlockInfo> {
        let full = include_txs.unwrap_or(false);
        self.call(move |b| b.block(Height::new(height), full)).await
    }

    async fn get_block_transactions(
        &self,
        height: u64,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> RpcResult<BlockTxPage> {
        let limit = limit.unwrap_or(BLOCK_TXS_PAGE);
        if limit == 0 || limit > BLOCK_TXS_PAGE {
            return Err(ApiError::new(
                codes::TOO_LARGE,
                format!("limit: from 1 to {BLOCK_TXS_PAGE} transactions per page, got {limit}"),
            )
            .into());
        }
        let offset = offset.unwrap_or(0);
        self.call(move |b| b.block_txs(Height::new(height), offset, limit))
            .await
    }

    async fn subscribe_finalized(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        let mut rx = self.backend.subscribe_finalized();
        let sink = pending.accept().await?;
        loop {
            tokio::select! {
                () = sink.closed() => return Ok(()),
                next = rx.recv() => match next {
                    Ok(head) => {
                        let msg: SubscriptionMessage =
                            serde_json::value::to_raw_value(&HeaderInfo::new(&head.0, &head.1))?.into();
                        if sink.send(msg).await.is_err() {
                            return Ok(());
                        }
                    }
                    // A slow subscriber skips headers rather than stalling the node.
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
            }
        }
    }

    async fn get_submission_at(&self, operator_id: String, seq: u64) -> RpcResult<SubmissionInfo> {
        let id = AccountId::new(parse_hash("operator_id", &operator_id)?);
        self.call(move |b| b.submission_at(id, seq)).await
    }

    async fn get_operator_proof(
        &self,
        operator_id: String,
        seq: Option<u64>,
    ) -> RpcResult<OperatorProof> {
        let id = AccountId::new(parse_hash("operator_id", &operator_id)?);
        self.call(move |b| b.operator_proof(id, seq)).await
    }

    async fn export_operator(
        &self,
        operator_id: String,
        from_seq: Option<u64>,
        max: Option<u64>,
    ) -> RpcResult<ExportPage> {
        let id = AccountId::new(parse_hash("operator_id", &operator_id)?);
        let max = max.map_or(EXPORT_PAGE, |m| {
            usize::try_from(m)
                .unwrap_or(EXPORT_PAGE)
                .clamp(1, EXPORT_PAGE)
        });
        self.call(move |b| b.export_operator(id, from_seq.unwrap_or(0), max))
            .await
    }

    async fn subscribe_submission(
        &self,
        pending: PendingSubscriptionSink,
        id: String,
    ) -> SubscriptionResult {
        let id = match parse_hash("id", &id) {
            Ok(h) => SubmissionId::new(h),
            Err(e) => {
                pending.reject(e).await;
                return Ok(());
            }
        };
        let first = match self.call(move |b| b.submission(id)).await {
            Ok(info) => info,
            Err(e) => {
                pending.reject(e).await;
                return Ok(());
            }
        };
        let mut rx = self.backend.subscribe_finalized();
        let sink = pending.accept().await?;
        let mut last = None;
        let mut next = Some(first);
        let mut tick = tokio::time::interval(STATUS_TICK);
        loop {
            if let Some(info) = next.take() {
                let key = status_key(&info);
                if last.as_ref() != Some(&key) {
                    let msg: SubscriptionMessage = serde_json::value::to_raw_value(&info)?.into();
                    if sink.send(msg).await.is_err() {
                        return Ok(());
                    }
                    last = Some(key);
                }
            }
            tokio::select! {
                () = sink.closed() => return Ok(()),
                r = rx.recv() => if matches!(r, Err(broadcast::error::RecvError::Closed)) {
                    return Ok(());
                },
                _ = tick.tick() => {}
            }
            // Not found any more: dropped from a restarted node's mempool;
            // the subscriber resubmits.
            next = self.call(move |b| b.submission(id)).await.ok();
        }
    }

    async fn subscribe_operator(
        &self,
        pending: PendingSubscriptionSink,
        operator_id: String,
        from_seq: Option<u64>,
    ) -> SubscriptionResult {
        let id = match parse_hash("operator_id", &operator_id) {
            Ok(h) => AccountId::new(h),
            Err(e) => {
                pending.reject(e).await;
                return Ok(());
            }
        };
        let from = match from_seq {
            Some(f) => f,
            None => match self.call(move |b| b.operator(id)).await {
                Ok(op) => op.next_seq,
                Err(e) => {
                    pending.reject(e).await;
                    return Ok(());
                }
            },
        };
        let mut rx = self.backend.subscribe_finalized();
        let sink = pending.accept().await?;
        let mut sent: std::collections::HashMap<u64, StatusKey> = std::collections::HashMap::new();
        let mut tick = tokio::time::interval(STATUS_TICK);
        loop {
            let window = self
                .call(move |b| {
                    let (next, _) = b.submissions_of(id, 0, 0)?;
                    let lo = from.max(next.saturating_sub(OPERATOR_WINDOW));
                    b.submissions_of(id, lo, next)
                })
                .await;
            if let Ok((_, infos)) = window {
                for info in infos {
                    let key = status_key(&info);
                    if sent.get(&info.seq) != Some(&key) {
                        let msg: SubscriptionMessage =
                            serde_json::value::to_raw_value(&info)?.into();
                        if sink.send(msg).await.is_err() {
                            return Ok(());
                        }
                        sent.insert(info.seq, key);
                    }
                }
                if let Some(&top) = sent.keys().max() {
                    sent.retain(|s, _| *s + OPERATOR_WINDOW > top);
                }
            }
            tokio::select! {
                () = sink.closed() => return Ok(()),
                r = rx.recv() => if matches!(r, Err(broadcast::error::RecvError::Closed)) {
                    return Ok(());
                },
                _ = tick.tick() => {}
            }
        }
    }

    async fn get_balance(&self, account: String) -> RpcResult<BalanceInfo> {
        let id = AccountId::new(parse_hash("account", &account)?);
        self.call(move |b| b.balance(id)).await
    }

    async fn get_supply(&self) -> RpcResult<SupplyInfo> {
        self.call(Backend::supply).await
    }

    async fn get_supply_proof(
        &self,
        height: Option<u64>,
        embed_genesis: Option<bool>,
    ) -> RpcResult<SupplyProof> {
        let embed = embed_genesis.unwrap_or(true);
        self.call(move |b| b.supply_proof(height.map(Height::new), embed))
            .await
    }

    async fn get_checkpoint(
        &self,
        height: Option<u64>,
        embed_genesis: Option<bool>,
    ) -> RpcResult<Checkpoint> {
        let embed = embed_genesis.unwrap_or(true);
        self.call(move |b| b.checkpoint(height.map(Height::new), embed))
            .await
    }

    async fn get_consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
        embed_genesis: Option<bool>,
    ) -> RpcResult<LogConsistency> {
        if old_size > new_size {
            return Err(ApiError::new(
                codes::NOT_FOUND,
                format!("old_size {old_size} is larger than new_size {new_size}"),
            )
            .into());
        }
        let embed = embed_genesis.unwrap_or(true);
        self.call(move |b| b.consistency(old_size, new_size, embed))
            .await
    }

    async fn anchor_list(&self, from: u64, to: u64) -> RpcResult<Vec<AnchorInfo>> {
        self.call(move |b| b.anchors(from, to)).await
    }

    async fn anchor_get(&self, id: u64) -> RpcResult<AnchorInfo> {
        self.call(move |b| b.anchor(id)).await
    }

    async fn anchor_status(&self) -> RpcResult<serde_json::Value> {
        self.call(|b| Ok(b.anchor_status())).await
    }

    async fn system_health(&self) -> RpcResult<Health> {
        self.call(|b| Ok(b.health())).await
    }

    async fn system_peers(&self) -> RpcResult<Vec<PeerInfo>> {
        self.call(|b| Ok(b.peers())).await
    }

    async fn system_version(&self) -> RpcResult<VersionInfo> {
        self.call(|b| Ok(b.version())).await
    }

    async fn discover(&self) -> RpcResult<serde_json::Value> {
        Ok(crate::openrpc::document())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend that is never called: the tests only list methods.
    struct Unused;

    impl Backend for Unused {
        fn submit_root(&self, _: SignedTx) -> Result<Receipt, ApiError> {
            unreachable!()
        }
        fn submit_transaction(&self, _: SignedTx) -> Result<TxReceipt, ApiError> {
            unreachable!()
        }
        fn relay(&self, _: Vec<Vec<u8>>, _: RelayAuth) -> Result<RelayReport, ApiError> {
            unreachable!()
        }
        fn submission(&self, _: SubmissionId) -> Result<SubmissionInfo, ApiError> {
            unreachable!()
        }
        fn proof(&self, _: SubmissionId, _: bool) -> Result<ProofBundle, ApiError> {
            unreachable!()
        }
        fn find_root(&self, _: AuditRoot) -> Result<Vec<SubmissionInfo>, ApiError> {
            unreachable!()
        }
        fn operator(&self, _: AccountId) -> Result<OperatorInfo, ApiError> {
            unreachable!()
        }
        fn head(&self) -> Result<HeaderInfo, ApiError> {
            unreachable!()
        }
        fn block(&self, _: Height, _: bool) -> Result<BlockInfo, ApiError> {
            unreachable!()
        }
        fn block_txs(&self, _: Height, _: u32, _: u32) -> Result<BlockTxPage, ApiError> {
            unreachable!()
        }
        fn balance(&self, _: AccountId) -> Result<BalanceInfo, ApiError> {
            unreachable!()
        }
        fn supply(&self) -> Result<SupplyInfo, ApiError> {
            unreachable!()
        }
        fn supply_proof(&self, _: Option<Height>, _: bool) -> Result<SupplyProof, ApiError> {
            unreachable!()
        }
        fn checkpoint(&self, _: Option<Height>, _: bool) -> Result<Checkpoint, ApiError> {
            unreachable!()
        }
        fn consistency(&self, _: u64, _: u64, _: bool) -> Result<LogConsistency, ApiError> {
            unreachable!()
        }
        fn anchors(&self, _: u64, _: u64) -> Result<Vec<AnchorInfo>, ApiError> {
            unreachable!()
        }
        fn anchor(&self, _: u64) -> Result<AnchorInfo, ApiError> {
            unreachable!()
        }
        fn anchor_status(&self) -> serde_json::Value {
            unreachable!()
        }
        fn health(&self) -> Health {
            unreachable!()
        }
        fn peers(&self) -> Vec<PeerInfo> {
            unreachable!()
        }
        fn version(&self) -> VersionInfo {
            unreachable!()
        }
        fn genesis(&self) -> GenesisInfo {
            unreachable!()
        }
        fn account_state(&self, _: AccountId) -> Result<AccountStateInfo, ApiError> {
            unreachable!()
        }
        fn subscribe_finalized(&self) -> broadcast::Receiver<FinalizedHead> {
            unreachable!()
        }
        fn submission_at(&self, _: AccountId, _: u64) -> Result<SubmissionInfo, ApiError> {
            unreachable!()
        }
        fn submissions_of(
            &self,
            _: AccountId,
            _: u64,
            _: u64,
        ) -> Result<(u64, Vec<SubmissionInfo>), ApiError> {
            unreachable!()
        }
        fn operator_proof(&self, _: AccountId, _: Option<u64>) -> Result<OperatorProof, ApiError> {
            unreachable!()
        }
        fn export_operator(&self, _: AccountId, _: u64, _: usize) -> Result<ExportPage, ApiError> {
            unreachable!()
        }
    }

    #[test]
    fn the_relay_constant_and_the_openrpc_document_name_the_served_methods() {
        let served: std::collections::BTreeSet<String> = Api::new(Arc::new(Unused))
            .into_rpc()
            .method_names()
            .map(str::to_owned)
            .collect();
        assert!(served.contains(RELAY_TRANSACTIONS));
        let documented: std::collections::BTreeSet<String> = crate::openrpc::document()["methods"]
            .as_array()
            .expect("a methods array")
            .iter()
            .map(|m| m["name"].as_str().expect("a name").to_owned())
            .collect();
        // Unsubscribe methods are named in their subscription's summary.
        let calls: std::collections::BTreeSet<String> = served
            .iter()
            .filter(|m| !m.contains("nsubscribe"))
            .cloned()
            .collect();
        assert!(
            calls.is_subset(&documented),
            "undocumented: {:?}",
            calls.difference(&documented).collect::<Vec<_>>()
        );
    }
}
