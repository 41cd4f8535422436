//! Client commands: talk to a node's JSON-RPC (`--rpc URL`), sign locally.
//!
//! Keys never leave the machine: the client asks the node for the network's
//! genesis hash and the signer's next sequence number or nonce, signs the
//! transaction itself and sends the bytes.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use pantheon_rpc::api::PantheonRpcClient;
use pantheon_rpc::types::{BalanceInfo, ExportPage, Receipt, Status, SubmissionInfo, TxReceipt};
use pantheon_runtime::amount::Amount;
use pantheon_runtime::crypto::{AccountId, Keypair};
use pantheon_runtime::hash::{AuditRoot, GenesisHash, SubmissionId};
use pantheon_runtime::proof::ProofBundle;
use pantheon_runtime::tx::{Metadata, RegisterOperator, SignedTx, SubmitRoot, Transfer, TxBody};

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

    /// The typed methods of the node's API (generated from the same trait
    /// as the server, so no method name is spelled here). Wrap each call's
    /// result in [`Client::answer`] for a readable error.
    #[must_use]
    pub fn rpc(&self) -> &HttpClient {
        &self.http
    }

    /// A call's result with the node's error (message and code) or the
    /// transport failure spelled out.
    ///
    /// # Errors
    /// The call's error, as text.
    pub fn answer<T>(&self, result: Result<T, jsonrpsee::core::ClientError>) -> Result<T> {
        result.map_err(|e| match e {
            jsonrpsee::core::ClientError::Call(err) => {
                anyhow::anyhow!("{} (code {})", err.message(), err.code())
            }
            other => anyhow::anyhow!("JSON-RPC at {}: {other}", self.url),
        })
    }

    async fn genesis(&self) -> Result<GenesisHash> {
        Ok(self.answer(self.http.system_version().await)?.genesis_hash)
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
        seq: Option<u64>,
    ) -> Result<Receipt> {
        let genesis = self.genesis().await?;
        let op = self.answer(self.http.get_operator(key.id().to_string()).await)?;
        // With `seq`, the same (seq, root) sent again is the same
        // submission: the node answers with its receipt, or refuses a
        // different root under that seq.
        let (seq, prev) = match seq {
            None => (op.pending_next_seq, op.pending_prev),
            Some(s) if s == op.pending_next_seq => (s, op.pending_prev),
            Some(0) => (0, SubmissionId::default()),
            Some(s) if s < op.pending_next_seq => {
                let before = self.answer(
                    self.http
                        .get_submission_at(key.id().to_string(), s - 1)
                        .await,
                )?;
                (s, before.id)
            }
            Some(s) => bail!(
                "--seq {s} would leave a gap: operator {}'s next sequence number is {}",
                key.id(),
                op.pending_next_seq
            ),
        };
        let tx = TxBody::SubmitRoot(SubmitRoot {
            operator: key.id(),
            seq,
            prev,
            root,
            metadata,
        })
        .sign(&genesis, key);
        self.answer(self.http.submit_root(hex::encode(tx.as_bytes())).await)
    }

    /// Signs `body(nonce)` with the account's next nonce and sends it;
    /// returns the receipt and the nonce used.
    async fn send_account_tx(
        &self,
        key: &Keypair,
        body: impl FnOnce(u64) -> TxBody,
    ) -> Result<(TxReceipt, u64)> {
        let genesis = self.genesis().await?;
        let bal = self.balance(&key.id()).await?;
        let nonce = bal.pending_nonce;
        let tx: SignedTx = body(nonce).sign(&genesis, key);
        let receipt = self.answer(
            self.http
                .submit_transaction(hex::encode(tx.as_bytes()))
                .await,
        )?;
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
        self.wait_for_with(id, status, |_| {}).await
    }

    /// As [`Client::wait_for`], handing every answer to `seen` (for the
    /// caller's progress display).
    ///
    /// # Errors
    /// RPC errors or timeout.
    pub async fn wait_for_with(
        &self,
        id: &str,
        status: Status,
        mut seen: impl FnMut(&SubmissionInfo),
    ) -> Result<SubmissionInfo> {
        let start = Instant::now();
        loop {
            let info = self.answer(self.http.get_submission(id.to_owned()).await)?;
            seen(&info);
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
        self.wait_nonce_with(account, past, |_| {}).await
    }

    /// As [`Client::wait_nonce`], handing every answer to `seen`.
    ///
    /// # Errors
    /// RPC errors or timeout.
    pub async fn wait_nonce_with(
        &self,
        account: &AccountId,
        past: u64,
        mut seen: impl FnMut(&BalanceInfo),
    ) -> Result<()> {
        let start = Instant::now();
        loop {
            let bal = self.balance(account).await?;
            seen(&bal);
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
        self.answer(
            self.http
                .get_proof(id.to_owned(), Some(embed_genesis))
                .await,
        )
    }

    /// One page of an operator export (`pantheon_exportOperator`).
    ///
    /// # Errors
    /// RPC errors (unknown operator, nothing anchored from `from`).
    pub async fn export_page(
        &self,
        operator: &AccountId,
        from: u64,
        max: u64,
    ) -> Result<ExportPage> {
        self.answer(
            self.http
                .export_operator(operator.to_string(), Some(from), Some(max))
                .await,
        )
    }

    /// An account's balance and nonces.
    ///
    /// # Errors
    /// RPC errors.
    pub async fn balance(&self, account: &AccountId) -> Result<BalanceInfo> {
        self.answer(self.http.get_balance(account.to_string()).await)
    }
}

/// Reads a key file.
///
/// # Errors
/// Unreadable or invalid file.
pub fn key(path: &Path) -> Result<Keypair> {
    keyfile::read(path)
}
