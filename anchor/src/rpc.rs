//! A thin Bitcoin Core JSON-RPC client: the calls anchoring needs, typed.
//!
//! JSON-RPC 2.0 over HTTP with jsonrpsee's client (Bitcoin Core 28 and later
//! answer 2.0 requests with HTTP 200 and a proper error object). Auth is a
//! cookie file, re-read whenever a call fails at the transport level (Bitcoin
//! Core writes a new cookie at each start), or a fixed user and password.
//!
//! Errors keep "bitcoind is not there" ([`RpcError::Unreachable`],
//! [`RpcError::Timeout`]) apart from "bitcoind answered with an error"
//! ([`RpcError::Rpc`] with Bitcoin Core's code), so callers can wait for the
//! first and act on the second.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bitcoin::block::Header;
use bitcoin::consensus::encode;
use bitcoin::{Address, Amount, Block, BlockHash, FeeRate, Network, Transaction, Txid};
use jsonrpsee_core::client::{ClientT, Error as ClientError};
use jsonrpsee_http_client::{HeaderMap, HeaderValue, HttpClient, HttpClientBuilder};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tracing::Instrument;

/// Bitcoin Core RPC error codes this crate reacts to.
pub mod codes {
    /// Still starting (loading blocks, verifying).
    pub const IN_WARMUP: i32 = -28;
    /// No such mempool or blockchain transaction / block.
    pub const INVALID_ADDRESS_OR_KEY: i32 = -5;
    /// Invalid parameter (also "scan already in progress").
    pub const INVALID_PARAMETER: i32 = -8;
    /// General error during transaction submission (e.g. missing inputs).
    pub const VERIFY_ERROR: i32 = -25;
    /// Transaction rejected by network rules.
    pub const VERIFY_REJECTED: i32 = -26;
    /// Transaction already in the UTXO set (already confirmed).
    pub const VERIFY_ALREADY_IN_UTXO_SET: i32 = -27;
}

/// The default time limit of one call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The time limit of `scantxoutset`, which reads the whole UTXO set (about
/// a minute on mainnet).
pub const SCAN_TIMEOUT: Duration = Duration::from_secs(600);
/// The largest response accepted (a raw 4 MB block is 8 MB of hex).
const MAX_RESPONSE_SIZE: u32 = 64 * 1024 * 1024;

/// RPC errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// Nothing answered (connection refused, reset, HTTP error, no cookie).
    #[error("bitcoind at {url} is unreachable: {reason}")]
    Unreachable {
        /// The RPC URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The call took longer than its time limit.
    #[error("bitcoind RPC {method} timed out after {secs} s")]
    Timeout {
        /// The method called.
        method: String,
        /// The limit in seconds.
        secs: u64,
    },
    /// Bitcoin Core answered with an error.
    #[error("bitcoind RPC {method} failed with code {code}: {message}")]
    Rpc {
        /// The method called.
        method: String,
        /// Bitcoin Core's error code (see [`codes`]).
        code: i32,
        /// Its message.
        message: String,
    },
    /// The answer did not have the expected shape.
    #[error("bitcoind RPC {method}: unexpected answer: {reason}")]
    Decode {
        /// The method called.
        method: String,
        /// What is wrong.
        reason: String,
    },
}

impl RpcError {
    /// True when bitcoind could not be reached or did not answer in time.
    #[must_use]
    pub const fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::Timeout { .. })
    }

    /// Bitcoin Core's error code, if bitcoind answered with an error.
    #[must_use]
    pub const fn code(&self) -> Option<i32> {
        match self {
            Self::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Bitcoin Core's error message, if bitcoind answered with an error.
    #[must_use]
    pub fn message(&self) -> Option<&str> {
        match self {
            Self::Rpc { message, .. } => Some(message),
            _ => None,
        }
    }
}

/// RPC result.
pub type Result<T> = std::result::Result<T, RpcError>;

/// How to authenticate to Bitcoin Core. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// The cookie file Bitcoin Core writes at start (`<datadir>/<chain>/.cookie`
    /// by default), read again after each transport failure.
    Cookie(PathBuf),
    /// `-rpcuser`/`-rpcpassword` or an `-rpcauth` entry.
    UserPass {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cookie(path) => f.debug_tuple("Cookie").field(path).finish(),
            Self::UserPass { user, .. } => f
                .debug_struct("UserPass")
                .field("user", user)
                .field("password", &"<hidden>")
                .finish(),
        }
    }
}

/// A Bitcoin Core JSON-RPC client. Cheap to clone (clones share one HTTP
/// connection pool).
#[derive(Debug, Clone)]
pub struct BitcoinRpc {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    url: String,
    auth: Auth,
    timeout: Duration,
    client: Mutex<Option<Arc<HttpClient>>>,
}

impl BitcoinRpc {
    /// A client for `url` (e.g. `http://127.0.0.1:18443`).
    #[must_use]
    pub fn new(url: impl Into<String>, auth: Auth) -> Self {
        Self::with_timeout(url, auth, DEFAULT_TIMEOUT)
    }

    /// A client whose calls give up after `timeout` (except `scantxoutset`,
    /// which gets [`SCAN_TIMEOUT`]).
    #[must_use]
    pub fn with_timeout(url: impl Into<String>, auth: Auth, timeout: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                url: url.into(),
                auth,
                timeout,
                client: Mutex::new(None),
            }),
        }
    }

    /// The RPC URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The authentication.
    #[must_use]
    pub fn auth(&self) -> &Auth {
        &self.inner.auth
    }

    fn unreachable(&self, reason: impl Into<String>) -> RpcError {
        RpcError::Unreachable {
            url: self.inner.url.clone(),
            reason: reason.into(),
        }
    }

    fn client(&self) -> Result<Arc<HttpClient>> {
        let mut slot = self
            .inner
            .client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let (user, password) = match &self.inner.auth {
            Auth::Cookie(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    self.unreachable(format!("cannot read cookie file {}: {e}", path.display()))
                })?;
                let text = text.trim();
                let (user, password) = text.split_once(':').ok_or_else(|| {
                    self.unreachable(format!(
                        "cookie file {} is not user:password",
                        path.display()
                    ))
                })?;
                (user.to_owned(), password.to_owned())
            }
            Auth::UserPass { user, password } => (user.clone(), password.clone()),
        };
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|e| self.unreachable(format!("bad credentials: {e}")))?;
        headers.insert("authorization", value);
        let client = HttpClientBuilder::default()
            .set_headers(headers)
            .max_response_size(MAX_RESPONSE_SIZE)
            // Each call has its own limit (see `call`); this one only bounds
            // the slowest.
            .request_timeout(SCAN_TIMEOUT + Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(5))
            .build(&self.inner.url)
            .map_err(|e| self.unreachable(format!("bad RPC URL: {e}")))?;
        let client = Arc::new(client);
        *slot = Some(client.clone());
        Ok(client)
    }

    fn forget_client(&self) {
        let mut slot = self
            .inner
            .client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = None;
    }

    /// Calls `method` with positional `params` and decodes the result.
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn call<T: DeserializeOwned>(&self, method: &str, params: Vec<Value>) -> Result<T> {
        let timeout = if method == "scantxoutset" {
            SCAN_TIMEOUT
        } else {
            self.inner.timeout
        };
        self.call_with_timeout(method, params, timeout).await
    }

    async fn call_with_timeout<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Vec<Value>,
        timeout: Duration,
    ) -> Result<T> {
        let client = self.client()?;
        let span = tracing::debug_span!(target: "pantheon::anchor", "bitcoin_rpc", method);
        let call = client.request::<T, _>(method, params);
        let outcome = tokio::time::timeout(timeout, call).instrument(span).await;
        match outcome {
            Err(_) => {
                self.forget_client();
                Err(RpcError::Timeout {
                    method: method.to_owned(),
                    secs: timeout.as_secs(),
                })
            }
            Ok(Ok(value)) => Ok(value),
            Ok(Err(ClientError::Call(obj))) => Err(RpcError::Rpc {
                method: method.to_owned(),
                code: obj.code(),
                message: obj.message().to_owned(),
            }),
            Ok(Err(ClientError::RequestTimeout)) => {
                self.forget_client();
                Err(RpcError::Timeout {
                    method: method.to_owned(),
                    secs: timeout.as_secs(),
                })
            }
            Ok(Err(ClientError::ParseError(e))) => Err(RpcError::Decode {
                method: method.to_owned(),
                reason: e.to_string(),
            }),
            Ok(Err(e)) => {
                // Transport errors: connection refused or reset, HTTP 401
                // after a restart wrote a new cookie, ... Start afresh.
                self.forget_client();
                Err(self.unreachable(format!("{method}: {e}")))
            }
        }
    }

    fn decode_err(method: &str, reason: impl std::fmt::Display) -> RpcError {
        RpcError::Decode {
            method: method.to_owned(),
            reason: reason.to_string(),
        }
    }

    async fn call_hex<T: encode::Decodable>(&self, method: &str, params: Vec<Value>) -> Result<T> {
        let text: String = self.call(method, params).await?;
        let bytes = hex::decode(&text).map_err(|e| Self::decode_err(method, e))?;
        encode::deserialize(&bytes).map_err(|e| Self::decode_err(method, e))
    }

    /// `getblockchaininfo`.
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn get_blockchain_info(&self) -> Result<BlockchainInfo> {
        self.call("getblockchaininfo", vec![]).await
    }

    /// `getblockcount`: the height of the best block.
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn get_block_count(&self) -> Result<u64> {
        self.call("getblockcount", vec![]).await
    }

    /// `getbestblockhash`.
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn get_best_block_hash(&self) -> Result<BlockHash> {
        self.call("getbestblockhash", vec![]).await
    }

    /// `getblockhash height`: the active chain's block at `height`.
    ///
    /// # Errors
    /// [`RpcError`] (code -8 when `height` is above the tip).
    pub async fn get_block_hash(&self, height: u64) -> Result<BlockHash> {
        self.call("getblockhash", vec![json!(height)]).await
    }

    /// `getblockheader hash true`. `confirmations` is -1 when the block is
    /// not in the active chain.
    ///
    /// # Errors
    /// [`RpcError`] (code -5 for an unknown block).
    pub async fn get_block_header_info(&self, hash: &BlockHash) -> Result<BlockHeaderInfo> {
        self.call("getblockheader", vec![json!(hash), json!(true)])
            .await
    }

    /// `getblockheader hash false`: the 80-byte header.
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn get_block_header(&self, hash: &BlockHash) -> Result<Header> {
        self.call_hex("getblockheader", vec![json!(hash), json!(false)])
            .await
    }

    /// `getblock hash 1`: the block's txids and position.
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn get_block_info(&self, hash: &BlockHash) -> Result<BlockInfo> {
        self.call("getblock", vec![json!(hash), json!(1)]).await
    }

    /// `getblock hash 0`: the whole block.
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn get_block(&self, hash: &BlockHash) -> Result<Block> {
        self.call_hex("getblock", vec![json!(hash), json!(0)]).await
    }

    /// `getrawtransaction txid false [blockhash]`. Without `-txindex`, a
    /// confirmed transaction is found only with its block hash.
    ///
    /// # Errors
    /// [`RpcError`] (code -5 when not found).
    pub async fn get_raw_transaction(
        &self,
        txid: &Txid,
        block: Option<&BlockHash>,
    ) -> Result<Transaction> {
        let mut params = vec![json!(txid), json!(false)];
        if let Some(block) = block {
            params.push(json!(block));
        }
        self.call_hex("getrawtransaction", params).await
    }

    /// `getmempoolentry txid`, `None` when the transaction is not in the
    /// mempool.
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn get_mempool_entry(&self, txid: &Txid) -> Result<Option<MempoolEntry>> {
        match self.call("getmempoolentry", vec![json!(txid)]).await {
            Ok(entry) => Ok(Some(entry)),
            Err(e) if e.code() == Some(codes::INVALID_ADDRESS_OR_KEY) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `getmempoolinfo`: the relay fee floors.
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn get_mempool_info(&self) -> Result<MempoolInfo> {
        let raw: RawMempoolInfo = self.call("getmempoolinfo", vec![]).await?;
        Ok(MempoolInfo {
            min_relay_fee: btc_per_kvb_to_rate(raw.minrelaytxfee),
            incremental_relay_fee: btc_per_kvb_to_rate(raw.incrementalrelayfee),
            mempool_min_fee: btc_per_kvb_to_rate(raw.mempoolminfee),
        })
    }

    /// `gettxout txid vout include_mempool`: `None` when the output is spent
    /// or does not exist.
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn get_tx_out(
        &self,
        txid: &Txid,
        vout: u32,
        include_mempool: bool,
    ) -> Result<Option<TxOutInfo>> {
        self.call(
            "gettxout",
            vec![json!(txid), json!(vout), json!(include_mempool)],
        )
        .await
    }

    /// `scantxoutset start [descriptors]`: the confirmed outputs matching the
    /// descriptors (e.g. `addr(<address>)`).
    ///
    /// # Errors
    /// [`RpcError`] (code -8 while another scan runs).
    pub async fn scan_tx_out_set(&self, descriptors: &[String]) -> Result<ScanResult> {
        let raw: RawScanResult = self
            .call("scantxoutset", vec![json!("start"), json!(descriptors)])
            .await?;
        if !raw.success {
            return Err(Self::decode_err("scantxoutset", "scan did not complete"));
        }
        let mut unspents = Vec::with_capacity(raw.unspents.len());
        for u in raw.unspents {
            unspents.push(Unspent {
                txid: u.txid,
                vout: u.vout,
                value: btc_to_amount("scantxoutset", u.amount)?,
                coinbase: u.coinbase,
                height: u.height,
            });
        }
        Ok(ScanResult {
            height: raw.height,
            best_block: raw.bestblock,
            unspents,
        })
    }

    /// `testmempoolaccept [raw]`.
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn test_mempool_accept(&self, tx: &Transaction) -> Result<MempoolAccept> {
        let raw = hex::encode(encode::serialize(tx));
        let mut results: Vec<MempoolAccept> =
            self.call("testmempoolaccept", vec![json!([raw])]).await?;
        results
            .pop()
            .ok_or_else(|| Self::decode_err("testmempoolaccept", "empty result"))
    }

    /// `sendrawtransaction raw`.
    ///
    /// # Errors
    /// [`RpcError`]: -25 missing or spent inputs, -26 rejected by policy
    /// (the message says why), -27 already confirmed.
    pub async fn send_raw_transaction(&self, tx: &Transaction) -> Result<Txid> {
        let raw = hex::encode(encode::serialize(tx));
        self.call("sendrawtransaction", vec![json!(raw)]).await
    }

    /// `estimatesmartfee target`, `None` when bitcoind has too little data
    /// (always on regtest).
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn estimate_smart_fee(&self, target_blocks: u16) -> Result<Option<FeeRate>> {
        let raw: RawFeeEstimate = self
            .call("estimatesmartfee", vec![json!(target_blocks)])
            .await?;
        Ok(raw.feerate.map(btc_per_kvb_to_rate))
    }

    /// `generatetoaddress n address` (regtest): mines `n` blocks.
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn generate_to_address(&self, n: u64, address: &Address) -> Result<Vec<BlockHash>> {
        self.call_with_timeout(
            "generatetoaddress",
            vec![json!(n), json!(address.to_string())],
            self.inner.timeout.max(Duration::from_secs(120)),
        )
        .await
    }

    /// `generateblock address [txids]` (regtest): mines one block holding
    /// exactly `txids` (from the mempool), in order; an empty list mines a
    /// block without any mempool transaction.
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn generate_block(&self, address: &Address, txids: &[Txid]) -> Result<BlockHash> {
        #[derive(Deserialize)]
        struct Generated {
            hash: BlockHash,
        }
        let generated: Generated = self
            .call_with_timeout(
                "generateblock",
                vec![json!(address.to_string()), json!(txids)],
                self.inner.timeout.max(Duration::from_secs(120)),
            )
            .await?;
        Ok(generated.hash)
    }

    /// `invalidateblock hash` (tests: forces a reorg).
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn invalidate_block(&self, hash: &BlockHash) -> Result<()> {
        let _: Value = self.call("invalidateblock", vec![json!(hash)]).await?;
        Ok(())
    }

    /// `reconsiderblock hash`.
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn reconsider_block(&self, hash: &BlockHash) -> Result<()> {
        let _: Value = self.call("reconsiderblock", vec![json!(hash)]).await?;
        Ok(())
    }

    /// `prioritisetransaction txid 0 delta`: changes the fee the miner sees
    /// by `fee_delta` satoshis (tests: a large negative delta keeps a
    /// transaction out of blocks).
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn prioritise_transaction(&self, txid: &Txid, fee_delta: i64) -> Result<()> {
        let _: Value = self
            .call(
                "prioritisetransaction",
                vec![json!(txid), json!(0), json!(fee_delta)],
            )
            .await?;
        Ok(())
    }

    /// `stop`: asks bitcoind to shut down.
    ///
    /// # Errors
    /// [`RpcError`].
    pub async fn stop(&self) -> Result<()> {
        let _: Value = self.call("stop", vec![]).await?;
        Ok(())
    }

    /// Checks that bitcoind runs the chain of `network`.
    ///
    /// # Errors
    /// [`RpcError::Decode`] naming both chains when they differ, or the
    /// error of `getblockchaininfo`.
    pub async fn check_network(&self, network: Network) -> Result<BlockchainInfo> {
        let info = self.get_blockchain_info().await?;
        if info.chain != network.to_core_arg() {
            return Err(Self::decode_err(
                "getblockchaininfo",
                format!(
                    "bitcoind runs chain {:?}, expected {:?}",
                    info.chain,
                    network.to_core_arg()
                ),
            ));
        }
        Ok(info)
    }
}

fn btc_to_amount(method: &str, btc: f64) -> Result<Amount> {
    Amount::from_btc(btc).map_err(|e| BitcoinRpc::decode_err(method, e))
}

/// Converts Bitcoin Core's BTC/kvB to a fee rate, rounding up to whole
/// sat/kWU.
fn btc_per_kvb_to_rate(btc_per_kvb: f64) -> FeeRate {
    let sat_per_kvb = Amount::from_btc(btc_per_kvb).map_or(0, Amount::to_sat);
    FeeRate::from_sat_per_kwu(sat_per_kvb.div_ceil(4))
}

/// `getblockchaininfo`, the fields used.
#[derive(Debug, Clone, Deserialize)]
pub struct BlockchainInfo {
    /// `main`, `test`, `testnet4`, `signet` or `regtest`.
    pub chain: String,
    /// Height of the best block.
    pub blocks: u64,
    /// Height of the best known header.
    pub headers: u64,
    /// Hash of the best block.
    pub bestblockhash: BlockHash,
    /// Whether bitcoind is still catching up.
    pub initialblockdownload: bool,
}

/// `getblockheader hash true`, the fields used.
#[derive(Debug, Clone, Deserialize)]
pub struct BlockHeaderInfo {
    /// The block hash.
    pub hash: BlockHash,
    /// Confirmations; -1 when not in the active chain.
    pub confirmations: i64,
    /// The block height.
    pub height: u64,
    /// The parent, absent for genesis.
    pub previousblockhash: Option<BlockHash>,
}

/// `getblock hash 1`, the fields used.
#[derive(Debug, Clone, Deserialize)]
pub struct BlockInfo {
    /// The block hash.
    pub hash: BlockHash,
    /// Confirmations; -1 when not in the active chain.
    pub confirmations: i64,
    /// The block height.
    pub height: u64,
    /// The parent, absent for genesis.
    pub previousblockhash: Option<BlockHash>,
    /// The txids, in block order.
    pub tx: Vec<Txid>,
}

/// `getmempoolentry`, the fields used.
#[derive(Debug, Clone, Deserialize)]
pub struct MempoolEntry {
    /// Virtual size.
    pub vsize: u64,
    /// Block height when the transaction entered the mempool.
    pub height: u64,
}

/// The relay fee floors of `getmempoolinfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MempoolInfo {
    /// `-minrelaytxfee`.
    pub min_relay_fee: FeeRate,
    /// `-incrementalrelayfee`: the least a replacement must add per vB.
    pub incremental_relay_fee: FeeRate,
    /// The current floor for entering the mempool.
    pub mempool_min_fee: FeeRate,
}

#[derive(Debug, Deserialize)]
struct RawMempoolInfo {
    minrelaytxfee: f64,
    incrementalrelayfee: f64,
    mempoolminfee: f64,
}

/// `gettxout`, the fields used.
#[derive(Debug, Clone, Deserialize)]
pub struct TxOutInfo {
    /// Confirmations (0 in the mempool).
    pub confirmations: u64,
    /// The best block when the answer was given.
    pub bestblock: BlockHash,
}

/// A confirmed output found by `scantxoutset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unspent {
    /// The transaction.
    pub txid: Txid,
    /// The output index.
    pub vout: u32,
    /// Its value.
    pub value: Amount,
    /// Whether it is a coinbase output (spendable after 100 blocks).
    pub coinbase: bool,
    /// The height of the block that created it.
    pub height: u64,
}

/// `scantxoutset start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanResult {
    /// The height at which the scan was done.
    pub height: u64,
    /// The tip at which the scan was done.
    pub best_block: BlockHash,
    /// The outputs found.
    pub unspents: Vec<Unspent>,
}

#[derive(Debug, Deserialize)]
struct RawScanResult {
    success: bool,
    height: u64,
    bestblock: BlockHash,
    unspents: Vec<RawUnspent>,
}

#[derive(Debug, Deserialize)]
struct RawUnspent {
    txid: Txid,
    vout: u32,
    amount: f64,
    #[serde(default)]
    coinbase: bool,
    height: u64,
}

/// One result of `testmempoolaccept`.
#[derive(Debug, Clone, Deserialize)]
pub struct MempoolAccept {
    /// The txid.
    pub txid: Txid,
    /// Whether the mempool would accept it.
    pub allowed: bool,
    /// Its virtual size, when allowed.
    pub vsize: Option<u64>,
    /// Why not, when refused.
    #[serde(rename = "reject-reason")]
    pub reject_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawFeeEstimate {
    feerate: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_rates_convert_from_btc_per_kvb() {
        assert_eq!(
            btc_per_kvb_to_rate(0.000_010_00),
            FeeRate::from_sat_per_vb_u32(1)
        );
        assert_eq!(btc_per_kvb_to_rate(0.000_001_00).to_sat_per_kwu(), 25);
        assert_eq!(btc_per_kvb_to_rate(0.000_001_01).to_sat_per_kwu(), 26);
    }

    #[tokio::test]
    async fn unreachable_is_not_an_rpc_error() {
        // A port nothing listens on.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let rpc = BitcoinRpc::new(
            format!("http://127.0.0.1:{port}"),
            Auth::UserPass {
                user: "u".into(),
                password: "p".into(),
            },
        );
        let err = rpc.get_block_count().await.unwrap_err();
        assert!(err.is_unreachable(), "{err}");
        let missing = BitcoinRpc::new(
            format!("http://127.0.0.1:{port}"),
            Auth::Cookie("/nonexistent/.cookie".into()),
        );
        let err = missing.get_block_count().await.unwrap_err();
        assert!(err.is_unreachable(), "{err}");
        assert!(err.to_string().contains("cookie"), "{err}");
    }
}
