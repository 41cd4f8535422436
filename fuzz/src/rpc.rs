//! The JSON-RPC request path without a socket: raw request text through
//! jsonrpsee's method table (`RpcModule::raw_json_request`) into
//! [`pantheon_rpc::api::Api`], over a backend that finds nothing.
//!
//! What is fuzzed is everything between the request bytes and the
//! backend: JSON-RPC framing, method routing, parameter deserialization
//! (positional and named), and Pantheon's own parameter parsers
//! (`parse_hash`, `parse_tx`, the clamping of page sizes). The server's
//! HTTP layer and its request-size, batch and connection limits
//! (`rpc/src/server.rs`) sit in front of this and are not on this path.
//!
//! [`Unfound`] answers every lookup with "not found" and checks, on each
//! call, what the API promises its backend: a root submission reaches
//! only `submit_root`, any other transaction only `submit_transaction`,
//! and an export page asks for 1 to [`EXPORT_PAGE`] submissions.

use std::sync::Arc;

use jsonrpsee::RpcModule;
use pantheon_rpc::ApiError;
use pantheon_rpc::api::{Api, Backend, EXPORT_PAGE, FinalizedHead, PantheonRpcServer};
use pantheon_rpc::types::{
    AccountStateInfo, AnchorInfo, BalanceInfo, BlockInfo, BlockTxPage, ExportPage, GenesisInfo,
    HeaderInfo, Health, OperatorInfo, OperatorProof, PeerInfo, Receipt, RelayAuth, RelayReport,
    SubmissionInfo, SupplyInfo, TxReceipt, VersionInfo,
};
use pantheon_runtime::amount::Height;
use pantheon_runtime::audit::{Checkpoint, LogConsistency, SupplyProof};
use pantheon_runtime::crypto::AccountId;
use pantheon_runtime::hash::{AuditRoot, BlockHash, GenesisHash, SubmissionId};
use pantheon_runtime::proof::ProofBundle;
use pantheon_runtime::tx::SignedTx;
use tokio::sync::broadcast;

/// A backend with an empty chain: every lookup is "not found", every
/// subscription's source is already closed.
pub struct Unfound;

fn none<T>() -> Result<T, ApiError> {
    Err(ApiError::not_found("anything (fuzzing backend)"))
}

impl Backend for Unfound {
    fn submit_root(&self, tx: SignedTx) -> Result<Receipt, ApiError> {
        assert!(
            tx.as_submission().is_some(),
            "submit_root got a non-submission"
        );
        none()
    }
    fn submit_transaction(&self, tx: SignedTx) -> Result<TxReceipt, ApiError> {
        assert!(
            tx.as_submission().is_none(),
            "submit_transaction got a root submission"
        );
        none()
    }
    fn relay(&self, _: Vec<Vec<u8>>, _: RelayAuth) -> Result<RelayReport, ApiError> {
        Ok(RelayReport::default())
    }
    fn submission(&self, _: SubmissionId) -> Result<SubmissionInfo, ApiError> {
        none()
    }
    fn submission_at(&self, _: AccountId, _: u64) -> Result<SubmissionInfo, ApiError> {
        none()
    }
    fn submissions_of(
        &self,
        _: AccountId,
        _: u64,
        _: u64,
    ) -> Result<(u64, Vec<SubmissionInfo>), ApiError> {
        none()
    }
    fn operator_proof(&self, _: AccountId, _: Option<u64>) -> Result<OperatorProof, ApiError> {
        none()
    }
    fn export_operator(&self, _: AccountId, _: u64, max: usize) -> Result<ExportPage, ApiError> {
        assert!((1..=EXPORT_PAGE).contains(&max), "export page of {max}");
        none()
    }
    fn proof(&self, _: SubmissionId, _: bool) -> Result<ProofBundle, ApiError> {
        none()
    }
    fn find_root(&self, _: AuditRoot) -> Result<Vec<SubmissionInfo>, ApiError> {
        none()
    }
    fn operator(&self, _: AccountId) -> Result<OperatorInfo, ApiError> {
        none()
    }
    fn head(&self) -> Result<HeaderInfo, ApiError> {
        none()
    }
    fn block_txs(&self, _: Height, _: u32, _: u32) -> Result<BlockTxPage, ApiError> {
        none()
    }
    fn block(&self, _: Height, _: bool) -> Result<BlockInfo, ApiError> {
        none()
    }
    fn balance(&self, _: AccountId) -> Result<BalanceInfo, ApiError> {
        none()
    }
    fn supply(&self) -> Result<SupplyInfo, ApiError> {
        none()
    }
    fn supply_proof(&self, _: Option<Height>, _: bool) -> Result<SupplyProof, ApiError> {
        none()
    }
    fn checkpoint(&self, _: Option<Height>, _: bool) -> Result<Checkpoint, ApiError> {
        none()
    }
    fn consistency(&self, _: u64, _: u64, _: bool) -> Result<LogConsistency, ApiError> {
        none()
    }
    fn anchors(&self, _: u64, _: u64) -> Result<Vec<AnchorInfo>, ApiError> {
        none()
    }
    fn anchor(&self, _: u64) -> Result<AnchorInfo, ApiError> {
        none()
    }
    fn anchor_status(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn health(&self) -> Health {
        Health {
            height: Height::new(0),
            finalized_hash: BlockHash::default(),
            last_block_time_ms: 0,
            syncing: false,
            peers: 0,
            mempool: 0,
            equivocations: Vec::new(),
            warnings: Vec::new(),
            bitcoind: None,
        }
    }
    fn peers(&self) -> Vec<PeerInfo> {
        Vec::new()
    }
    fn version(&self) -> VersionInfo {
        VersionInfo {
            version: "fuzz".into(),
            genesis_hash: GenesisHash::default(),
            chain_id: "fuzz".into(),
        }
    }
    fn genesis(&self) -> GenesisInfo {
        GenesisInfo {
            hash: GenesisHash::default(),
            header: String::new(),
        }
    }
    fn account_state(&self, _: AccountId) -> Result<AccountStateInfo, ApiError> {
        none()
    }
    fn subscribe_finalized(&self) -> broadcast::Receiver<FinalizedHead> {
        // The sender is dropped: a subscription ends at its first receive.
        broadcast::channel(1).1
    }
}

/// One runtime and one method table for the whole fuzzing run.
pub struct RequestPath {
    runtime: tokio::runtime::Runtime,
    module: RpcModule<Api<Unfound>>,
    arity: pantheon_rpc::envelope::Arity,
}

impl RequestPath {
    /// A current-thread runtime (with the blocking pool the API's calls
    /// use) and the API's methods over [`Unfound`].
    ///
    /// # Panics
    /// When the runtime cannot start.
    #[must_use]
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread tokio runtime starts");
        Self {
            runtime,
            module: Api::new(Arc::new(Unfound)).into_rpc(),
            arity: pantheon_rpc::envelope::Arity::from_openrpc(&pantheon_rpc::openrpc::document()),
        }
    }

    /// Sends one request; `None` when it is not a JSON-RPC request object
    /// at all (jsonrpsee refuses it before routing).
    ///
    /// # Panics
    /// When the answer is not a JSON-RPC 2.0 response object with exactly
    /// one of `result` and `error`, or a backend check fails.
    pub fn call(&self, request: &str) -> Option<serde_json::Value> {
        // The server's envelope check first, as the HTTP path runs it: a
        // refusal is a JSON-RPC error object (or, for a batch, one per
        // call), and only what it lets through reaches the method table.
        if let Err(answer) = pantheon_rpc::envelope::check(request.as_bytes(), &self.arity) {
            let calls = answer
                .as_array()
                .cloned()
                .unwrap_or_else(|| vec![answer.clone()]);
            for call in &calls {
                assert_eq!(call["jsonrpc"], "2.0", "{answer}");
                assert!(call["error"]["code"].is_i64(), "an error object: {answer}");
                assert!(call.get("result").is_none(), "{answer}");
            }
            return Some(answer);
        }
        let (answer, subscription) = self
            .runtime
            .block_on(self.module.raw_json_request(request, 16))
            .ok()?;
        drop(subscription);
        let answer: serde_json::Value =
            serde_json::from_str(answer.get()).expect("jsonrpsee answers JSON");
        let object = answer.as_object().expect("a response is an object");
        assert_eq!(object.get("jsonrpc"), Some(&"2.0".into()), "{answer}");
        assert!(
            object.contains_key("result") != object.contains_key("error"),
            "exactly one of result and error: {answer}"
        );
        Some(answer)
    }
}

impl Default for RequestPath {
    fn default() -> Self {
        Self::new()
    }
}
