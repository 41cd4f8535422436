//! Client commands: talk to a node's JSON-RPC (`--rpc URL`), sign locally.
//!
//! Keys never leave the machine: the client asks the node for the network's
//! genesis hash and the signer's next sequence number or nonce, signs the
//! transaction itself and sends the bytes.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use pantheon_rpc::types::{
    BalanceInfo, OperatorInfo, Receipt, Status, SubmissionInfo, TxReceipt, VersionInfo,
};
use pantheon_runtime::amount::Amount;
use pantheon_runtime::crypto::{AccountId, Keypair};
use pantheon_runtime::hash::{AuditRoot, GenesisHash};
use pantheon_runtime::proof::ProofBundle;
use pantheon_runtime::tx::{Metadata, RegisterOperator, SignedTx, SubmitRoot, Transfer, TxBody};
use serde::de::DeserializeOwned;

use crate::keyfile;

/// How long `--wait` waits before giving up.
const WAIT_LIMIT: Duration = Duration::from_secs(120);

/// A JSON-RPC connection to a node.
pub struct Client {
    http: HttpClient,
    url: String,
}

impl Client {
    /// Connects to `url`.
    ///
    /// # Errors
    /// An invalid URL.
    pub fn new(url: &str) -> Result<Self> {
        let http = HttpClientBuilder::default()
            .max_request_size(16 << 20)
            .max_response_size(512 << 20)
            .request_timeout(Duration::from_secs(60))
            .build(url)
            .with_context(|| format!("RPC URL {url}"))?;
        Ok(Self {
            http,
            url: url.to_owned(),
        })
    }

    /// Calls `method` with `params`.
    ///
    /// # Errors
    /// Transport errors, or the node's error (code and message).
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: jsonrpsee::core::params::ArrayParams,
    ) -> Result<T> {
        self.http
            .request(method, params)
            .await
            .map_err(|e| match e {
                jsonrpsee::core::ClientError::Call(err) => {
                    anyhow::anyhow!("{} (code {})", err.message(), err.code())
                }
                other => anyhow::anyhow!("{method} at {}: {other}", self.url),
            })
    }

    async fn genesis(&self) -> Result<GenesisHash> {
        let v: VersionInfo = self.call("system_version", rpc_params![]).await?;
        Ok(v.genesis_hash)
    }

    /// Signs and sends a root submission for `key`'s operator.
    ///
    /// # Errors
    /// RPC errors or a refusal by the node.
    pub async fn submit(
        &self,
        key: &Keypair,
        root: AuditRoot,
        metadata: Metadata,
    ) -> Result<Receipt> {
        let genesis = self.genesis().await?;
        let op: OperatorInfo = self
            .call("pantheon_getOperator", rpc_params![key.id().to_string()])
            .await?;
        let tx = TxBody::SubmitRoot(SubmitRoot {
            operator: key.id(),
            seq: op.pending_next_seq,
            prev: op.pending_prev,
            root,
            metadata,
        })
        .sign(&genesis, key);
        self.call(
            "pantheon_submitRoot",
            rpc_params![hex::encode(tx.as_bytes())],
        )
        .await
    }

    /// Signs `body(nonce)` with the account's next nonce and sends it;
    /// returns the receipt and the nonce used.
    async fn send_account_tx(
        &self,
        key: &Keypair,
        body: impl FnOnce(u64) -> TxBody,
    ) -> Result<(TxReceipt, u64)> {
        let genesis = self.genesis().await?;
        let bal: BalanceInfo = self
            .call("pan_getBalance", rpc_params![key.id().to_string()])
            .await?;
        let nonce = bal.pending_nonce;
        let tx: SignedTx = body(nonce).sign(&genesis, key);
        let receipt = self
            .call(
                "pantheon_submitTransaction",
                rpc_params![hex::encode(tx.as_bytes())],
            )
            .await?;
        Ok((receipt, nonce))
    }

    /// Registers `key` as an operator.
    ///
    /// # Errors
    /// RPC errors or a refusal by the node.
    pub async fn register(&self, key: &Keypair) -> Result<(TxReceipt, u64)> {
        let public = key.public().clone();
        self.send_account_tx(key, |nonce| {
            TxBody::RegisterOperator(RegisterOperator { key: public, nonce })
        })
        .await
    }

    /// Transfers `amount` from `key`'s account to `to`.
    ///
    /// # Errors
    /// RPC errors or a refusal by the node.
    pub async fn transfer(
        &self,
        key: &Keypair,
        to: AccountId,
        amount: Amount,
    ) -> Result<(TxReceipt, u64)> {
        let public = key.public().clone();
        self.send_account_tx(key, |nonce| {
            TxBody::Transfer(Transfer {
                from_key: public,
                nonce,
                to,
                amount,
            })
        })
        .await
    }

    /// Polls a submission until it reaches `status`.
    ///
    /// # Errors
    /// RPC errors or timeout.
    pub async fn wait_for(&self, id: &str, status: Status) -> Result<SubmissionInfo> {
        let start = Instant::now();
        loop {
            let info: SubmissionInfo = self.call("pantheon_getSubmission", rpc_params![id]).await?;
            let reached = match status {
                Status::Received => true,
                Status::Finalized => matches!(info.status, Status::Finalized | Status::Anchored),
                Status::Anchored => info.status == Status::Anchored,
            };
            if reached {
                return Ok(info);
            }
            if start.elapsed() > WAIT_LIMIT {
                bail!("submission {id} did not reach {status:?} within {WAIT_LIMIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the account's transaction with nonce `past` is
    /// finalized (its on-chain nonce moves beyond it).
    ///
    /// # Errors
    /// RPC errors or timeout.
    pub async fn wait_nonce(&self, account: &AccountId, past: u64) -> Result<()> {
        let start = Instant::now();
        loop {
            let bal: BalanceInfo = self
                .call("pan_getBalance", rpc_params![account.to_string()])
                .await?;
            if bal.nonce > past {
                return Ok(());
            }
            if start.elapsed() > WAIT_LIMIT {
                bail!("transaction of {account} not finalized within {WAIT_LIMIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Fetches a proof bundle.
    ///
    /// # Errors
    /// RPC errors (not found, not finalized).
    pub async fn proof(&self, id: &str, embed_genesis: bool) -> Result<ProofBundle> {
        self.call("pantheon_getProof", rpc_params![id, embed_genesis])
            .await
    }
}

/// Reads a key file.
///
/// # Errors
/// Unreadable or invalid file.
pub fn key(path: &Path) -> Result<Keypair> {
    keyfile::read(path)
}
