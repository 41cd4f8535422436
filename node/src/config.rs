//! The node's TOML configuration (`pantheon node --config FILE`).
//!
//! ```toml
//! home = "/var/lib/pantheon"          # data directory; relative paths below are inside it
//! genesis = "genesis.json"
//! validator_key = "validator.key"     # omit for a full node that does not vote
//!
//! [rpc]
//! addr = "127.0.0.1:9944"
//! max_request_bytes = 1048576
//! max_connections = 256
//! max_connections_per_address = 64   # IPv6: per /64
//! reserved_connections = 32          # only for addresses holding none
//! header_timeout_ms = 30000          # headers (and keep-alive idle)
//! body_timeout_ms = 30000            # the body, once its headers arrived
//! max_batch = 256
//!
//! [p2p]
//! listen = "/ip4/127.0.0.1/tcp/27000"
//! peers = ["/ip4/127.0.0.1/tcp/27001"]
//! gossip = "broadcast"               # or "gossipsub" when validators are not all peers
//!
//! [relay]
//! peers = ["http://127.0.0.1:9945"]   # other nodes' JSON-RPC: client transactions are relayed there
//!
//! [consensus]
//! block_time_ms = 1000
//!
//! [anchor]                          # omit to run without anchoring
//! network = "testnet4"               # regtest | signet | testnet4 | bitcoin
//! bitcoin_rpc = "http://127.0.0.1:48332"
//! rpc_cookie = "/home/me/.bitcoin/testnet4/.cookie"   # or rpc_user + rpc_password
//! key = "bitcoin.key"                # P2WPKH key, created on first start (mode 0600)
//! every_blocks = 60                  # anchor the latest block every N blocks
//! confirmations = 6                  # default: 1 on regtest, 6 elsewhere
//! fee_rate_sat_vb = 2                # fixed; omit to use estimatesmartfee (1..=50)
//!
//! [mempool]
//! capacity = 100000
//! per_queue = 20000
//!
//! [metrics]                          # Prometheus text at http://<listen>/metrics
//! enabled = true
//! listen = "127.0.0.1:9615"          # loopback unless written otherwise; never the RPC port
//! ```
//!
//! Every section and field has a default except `home`; unknown fields are
//! errors.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Data directory.
    pub home: PathBuf,
    /// Genesis file (relative to `home` unless absolute).
    #[serde(default = "default_genesis")]
    pub genesis: PathBuf,
    /// Validator key file; `None` for a full node.
    #[serde(default)]
    pub validator_key: Option<PathBuf>,
    /// JSON-RPC.
    #[serde(default)]
    pub rpc: RpcConfig,
    /// Peer-to-peer networking.
    #[serde(default)]
    pub p2p: P2pConfig,
    /// Transaction relay to other nodes.
    #[serde(default)]
    pub relay: RelayConfig,
    /// Consensus timing.
    #[serde(default)]
    pub consensus: ConsensusConfig,
    /// Mempool limits.
    #[serde(default)]
    pub mempool: MempoolConfig,
    /// Submission receipts.
    #[serde(default)]
    pub receipts: ReceiptsConfig,
    /// Bitcoin anchoring; `None` to run without.
    #[serde(default)]
    pub anchor: Option<AnchorConfig>,
    /// The Prometheus endpoint.
    #[serde(default)]
    pub metrics: MetricsConfig,
}

/// The Prometheus endpoint (see [`crate::metrics`]).
///
/// On by default: it listens on loopback only, so it shows nothing to the
/// network, costs nothing until scraped, and an operator who runs a
/// validator should not have to find a switch before they can watch it.
/// It has its own listener rather than a path on the JSON-RPC port, which
/// may face the internet: node internals (queue lengths per operator,
/// wallet balance) are for the operator. An address that is not loopback
/// is accepted only because someone wrote it here, and is logged as a
/// warning at start-up. An address that cannot be bound (a second node on
/// the machine with the default port) is logged as a warning and the node
/// runs without `/metrics`: observability never stops a validator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Whether to serve `/metrics`.
    pub enabled: bool,
    /// Listen address (port 0: any free port, announced at start-up).
    pub listen: SocketAddr,
}

/// The default metrics port (the one Prometheus exporters of Substrate
/// nodes use, next to JSON-RPC's 9944).
pub const DEFAULT_METRICS_PORT: u16 = 9615;

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_METRICS_PORT)),
        }
    }
}

impl MetricsConfig {
    /// Checks the address against the JSON-RPC one.
    ///
    /// # Errors
    /// The same port as JSON-RPC on an overlapping address.
    pub fn validate(&self, rpc: SocketAddr) -> Result<()> {
        if !self.enabled || self.listen.port() == 0 {
            return Ok(());
        }
        let overlaps = self.listen.ip() == rpc.ip()
            || self.listen.ip().is_unspecified()
            || rpc.ip().is_unspecified();
        ensure!(
            !(overlaps && self.listen.port() == rpc.port()),
            "metrics.listen {} is the JSON-RPC address {rpc}: /metrics has its own port",
            self.listen
        );
        Ok(())
    }
}

/// Bitcoin anchoring settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorConfig {
    /// `regtest`, `signet`, `testnet4` or `bitcoin`.
    pub network: String,
    /// bitcoind's JSON-RPC URL.
    pub bitcoin_rpc: String,
    /// Cookie file (`<datadir>/<network>/.cookie`).
    #[serde(default)]
    pub rpc_cookie: Option<PathBuf>,
    /// RPC user (with `rpc_password`), instead of a cookie.
    #[serde(default)]
    pub rpc_user: Option<String>,
    /// RPC password.
    #[serde(default)]
    pub rpc_password: Option<String>,
    /// The P2WPKH key paying for anchors (relative to `home`).
    #[serde(default = "default_anchor_key")]
    pub key: PathBuf,
    /// Anchor the latest block every this many blocks.
    #[serde(default = "default_every")]
    pub every_blocks: u64,
    /// Confirmations before an anchor counts (default 1 on regtest, 6
    /// elsewhere).
    #[serde(default)]
    pub confirmations: Option<u32>,
    /// A fixed fee rate; `None` for `estimatesmartfee` clamped to 1..=50.
    #[serde(default)]
    pub fee_rate_sat_vb: Option<u64>,
}

fn default_anchor_key() -> PathBuf {
    "bitcoin.key".into()
}

const fn default_every() -> u64 {
    10
}

/// A Bitcoin network by the name a user types: `regtest`, `signet`,
/// `testnet4`, `bitcoin` (or `mainnet`).
///
/// # Errors
/// Any other name.
pub fn bitcoin_network(name: &str) -> Result<pantheon_anchor::bitcoin::Network> {
    let network: pantheon_runtime::anchor::BitcoinNetwork = name.parse()?;
    Ok(pantheon_anchor::ids::network(network))
}

impl AnchorConfig {
    /// The Bitcoin network.
    ///
    /// # Errors
    /// An unknown network name.
    pub fn network(&self) -> Result<pantheon_anchor::bitcoin::Network> {
        bitcoin_network(&self.network).context("anchor.network")
    }

    /// The RPC credentials.
    ///
    /// # Errors
    /// Neither a cookie nor a user and password, or both.
    pub fn auth(&self) -> Result<pantheon_anchor::Auth> {
        match (&self.rpc_cookie, &self.rpc_user, &self.rpc_password) {
            (Some(c), None, None) => Ok(pantheon_anchor::Auth::Cookie(c.clone())),
            (None, Some(user), Some(password)) => Ok(pantheon_anchor::Auth::UserPass {
                user: user.clone(),
                password: password.clone(),
            }),
            _ => anyhow::bail!("anchor: give either rpc_cookie, or rpc_user and rpc_password"),
        }
    }

    /// The anchoring policy: the network's defaults with this config's
    /// confirmations and fee rate.
    ///
    /// # Errors
    /// An invalid network or policy.
    pub fn policy(&self) -> Result<pantheon_anchor::Policy> {
        use pantheon_anchor::bitcoin::FeeRate;
        let mut policy = pantheon_anchor::Policy::for_network(self.network()?);
        if let Some(c) = self.confirmations {
            policy.confirmations = c;
            policy.watch_depth = policy.watch_depth.max(c);
        }
        if let Some(rate) = self.fee_rate_sat_vb {
            let rate =
                FeeRate::from_sat_per_vb(rate).context("anchor.fee_rate_sat_vb is too large")?;
            policy.fee = pantheon_anchor::FeePolicy::Fixed(rate);
        }
        policy.validate()?;
        Ok(policy)
    }

    /// Checks every field.
    ///
    /// # Errors
    /// The first invalid one.
    pub fn validate(&self) -> Result<()> {
        self.network()?;
        self.auth()?;
        self.policy()?;
        ensure!(
            self.bitcoin_rpc.starts_with("http://") || self.bitcoin_rpc.starts_with("https://"),
            "anchor.bitcoin_rpc: {} is not an http(s) URL",
            self.bitcoin_rpc
        );
        ensure!(
            self.every_blocks >= 1,
            "anchor.every_blocks must be at least 1"
        );
        Ok(())
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn default_genesis() -> PathBuf {
    "genesis.json".into()
}

/// JSON-RPC settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RpcConfig {
    /// Listen address (HTTP and WebSocket).
    pub addr: SocketAddr,
    /// Largest request body.
    pub max_request_bytes: u32,
    /// Most connections.
    pub max_connections: u32,
    /// Most connections from one address (IPv6: one /64).
    pub max_connections_per_address: u32,
    /// Connections kept for addresses that hold none yet.
    pub reserved_connections: u32,
    /// Longest wait for a request's headers, milliseconds.
    pub header_timeout_ms: u64,
    /// Longest wait for a request's body after its headers, milliseconds.
    pub body_timeout_ms: u64,
    /// Most calls per batch.
    pub max_batch: u32,
}

impl RpcConfig {
    /// The server limits these settings give.
    #[must_use]
    pub fn limits(&self) -> pantheon_rpc::Limits {
        pantheon_rpc::Limits {
            max_request_bytes: self.max_request_bytes,
            max_connections: self.max_connections,
            max_connections_per_address: self.max_connections_per_address,
            reserved_connections: self.reserved_connections,
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            body_timeout: Duration::from_millis(self.body_timeout_ms),
            max_batch: self.max_batch,
            ..pantheon_rpc::Limits::default()
        }
    }
}

impl Default for RpcConfig {
    fn default() -> Self {
        let limits = pantheon_rpc::Limits::default();
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 9944)),
            max_request_bytes: limits.max_request_bytes,
            max_connections: limits.max_connections,
            max_connections_per_address: limits.max_connections_per_address,
            reserved_connections: limits.reserved_connections,
            header_timeout_ms: millis(limits.header_timeout),
            body_timeout_ms: millis(limits.body_timeout),
            max_batch: limits.max_batch,
        }
    }
}

/// Peer-to-peer settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct P2pConfig {
    /// Listen multiaddress.
    pub listen: String,
    /// Peers to dial.
    pub peers: Vec<String>,
    /// How consensus messages (votes, proposal parts) spread.
    pub gossip: Gossip,
}

impl Default for P2pConfig {
    fn default() -> Self {
        Self {
            listen: "/ip4/127.0.0.1/tcp/0".into(),
            peers: Vec::new(),
            gossip: Gossip::Broadcast,
        }
    }
}

/// How consensus messages spread between nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gossip {
    /// Each message goes once, straight to every connected peer, and is not
    /// relayed further. For validators that all dial each other (what
    /// `pantheon testnet` writes). Messages carry no libp2p signature: the
    /// connection is authenticated (Noise) and every vote and proposal is
    /// ML-DSA-65 signed, so a per-message Ed25519 signature over megabytes
    /// of proposal parts would cost CPU and prove nothing more.
    Broadcast,
    /// libp2p GossipSub: messages are relayed through a mesh and signed by
    /// the sender's libp2p key. For networks where validators are not all
    /// directly connected.
    Gossipsub,
}

/// Transaction relay (see [`crate::relay`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayConfig {
    /// JSON-RPC URLs of the nodes that receive this node's client
    /// transactions.
    pub peers: Vec<String>,
    /// libp2p peer ids (`12D3Koo...`) of the nodes whose relayed batches
    /// this node accepts; empty: relayed batches are refused.
    pub accept_from: Vec<String>,
}

impl RelayConfig {
    /// The accepted senders, parsed.
    ///
    /// # Errors
    /// An entry that is not a peer id.
    pub fn accepted(&self) -> Result<std::collections::BTreeSet<libp2p_identity::PeerId>> {
        self.accept_from
            .iter()
            .map(|p| {
                p.parse().map_err(|e| {
                    anyhow::anyhow!("relay.accept_from: {p} is not a libp2p peer id: {e}")
                })
            })
            .collect()
    }
}

/// Consensus timing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsensusConfig {
    /// Target time between blocks.
    pub block_time_ms: u64,
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        Self {
            block_time_ms: 1000,
        }
    }
}

/// Mempool limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MempoolConfig {
    /// Most transactions.
    pub capacity: usize,
    /// Most transactions per signer and lane.
    pub per_queue: usize,
    /// Transactions each signer's queue may hold beyond a full pool (its
    /// reserved share, see [`crate::mempool`]).
    pub reserved: usize,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        let d = crate::mempool::MempoolLimits::default();
        Self {
            capacity: d.capacity,
            per_queue: d.per_queue,
            reserved: d.reserved,
        }
    }
}

/// Submission receipts (see [`crate::receipts`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReceiptsConfig {
    /// Blocks from a receipt's writing to the height by which the
    /// validator promises finality (its deadline).
    pub deadline_blocks: u64,
}

impl Default for ReceiptsConfig {
    fn default() -> Self {
        Self {
            deadline_blocks: 100,
        }
    }
}

impl Config {
    /// Reads and validates a TOML file.
    ///
    /// # Errors
    /// Unreadable file, TOML or validation errors.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        let config: Self =
            toml::from_str(&text).with_context(|| format!("parsing config {}", path.display()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that types alone do not.
    ///
    /// # Errors
    /// The first invalid value.
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.receipts.deadline_blocks >= 1,
            "receipts.deadline_blocks must be at least 1"
        );
        ensure!(
            self.consensus.block_time_ms >= 50,
            "consensus.block_time_ms must be at least 50"
        );
        ensure!(
            self.mempool.capacity > 0,
            "mempool.capacity must be positive"
        );
        ensure!(
            self.mempool.per_queue > 0,
            "mempool.per_queue must be positive"
        );
        ensure!(
            self.rpc.max_request_bytes >= 16 * 1024,
            "rpc.max_request_bytes must be at least 16384"
        );
        ensure!(
            self.rpc.max_connections_per_address >= 1
                && self.rpc.max_connections_per_address <= self.rpc.max_connections,
            "rpc.max_connections_per_address must be in 1..=rpc.max_connections"
        );
        ensure!(
            self.rpc.reserved_connections < self.rpc.max_connections,
            "rpc.reserved_connections must be below rpc.max_connections"
        );
        ensure!(
            self.rpc.header_timeout_ms >= 100 && self.rpc.body_timeout_ms >= 100,
            "rpc.header_timeout_ms and rpc.body_timeout_ms must be at least 100"
        );
        if let Some(anchor) = &self.anchor {
            anchor.validate()?;
        }
        self.metrics.validate(self.rpc.addr)?;
        self.relay.accepted()?;
        for peer in &self.relay.peers {
            ensure!(
                peer.starts_with("http://") || peer.starts_with("https://"),
                "relay.peers: {peer} is not an http(s) URL"
            );
        }
        Ok(())
    }

    /// A path from the config, inside `home` unless absolute.
    #[must_use]
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.home.join(path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses_and_unknown_fields_are_refused() {
        let text = r#"
home = "/var/lib/pantheon"
validator_key = "validator.key"
[rpc]
addr = "127.0.0.1:9944"
[p2p]
listen = "/ip4/127.0.0.1/tcp/27000"
peers = ["/ip4/127.0.0.1/tcp/27001"]
[relay]
peers = ["http://127.0.0.1:9945"]
[consensus]
block_time_ms = 500
"#;
        let c: Config = toml::from_str(text).unwrap();
        c.validate().unwrap();
        assert_eq!(
            c.resolve(&c.genesis),
            PathBuf::from("/var/lib/pantheon/genesis.json")
        );
        assert_eq!(c.mempool.capacity, MempoolConfig::default().capacity);
        assert!(toml::from_str::<Config>(&format!("{text}\nbogus = 1")).is_err());
        let bad = text.replace("block_time_ms = 500", "block_time_ms = 1");
        assert!(toml::from_str::<Config>(&bad).unwrap().validate().is_err());
        let bad = text.replace("http://127.0.0.1:9945", "127.0.0.1:9945");
        assert!(toml::from_str::<Config>(&bad).unwrap().validate().is_err());
        assert!(c.anchor.is_none());
        assert_eq!(c.p2p.gossip, Gossip::Broadcast);
        let peers = r#"peers = ["/ip4/127.0.0.1/tcp/27001"]"#;
        let gossipsub = text.replace(peers, &format!("{peers}\ngossip = \"gossipsub\""));
        let c: Config = toml::from_str(&gossipsub).unwrap();
        assert_eq!(c.p2p.gossip, Gossip::Gossipsub);
        let bad = gossipsub.replace("\"gossipsub\"", "\"flood\"");
        assert!(toml::from_str::<Config>(&bad).is_err());
    }

    #[test]
    fn metrics_default_to_loopback_and_never_share_the_rpc_port() {
        let c: Config = toml::from_str("home = \"/h\"").unwrap();
        assert!(c.metrics.enabled);
        assert!(c.metrics.listen.ip().is_loopback());
        assert_eq!(c.metrics.listen.port(), DEFAULT_METRICS_PORT);
        c.validate().unwrap();
        let text = "home = \"/h\"\n[metrics]\nlisten = \"0.0.0.0:9100\"\n";
        let c: Config = toml::from_str(text).unwrap();
        c.validate().unwrap();
        assert!(c.metrics.enabled, "enabled keeps its default");
        assert!(!c.metrics.listen.ip().is_loopback(), "written explicitly");
        for bad in [
            "home = \"/h\"\n[metrics]\nlisten = \"127.0.0.1:9944\"\n",
            "home = \"/h\"\n[metrics]\nlisten = \"0.0.0.0:9944\"\n",
        ] {
            let c: Config = toml::from_str(bad).unwrap();
            assert!(c.validate().is_err(), "accepted:\n{bad}");
        }
        let off = "home = \"/h\"\n[metrics]\nenabled = false\nlisten = \"127.0.0.1:9944\"\n";
        toml::from_str::<Config>(off).unwrap().validate().unwrap();
        for bad in [
            "home = \"/h\"\n[metrics]\nport = 1\n",
            "home = \"/h\"\n[metrics]\nlisten = \"localhost\"\n",
        ] {
            assert!(toml::from_str::<Config>(bad).is_err(), "parsed:\n{bad}");
        }
    }

    #[test]
    fn anchor_section_selects_network_credentials_and_policy() {
        let base = r#"
home = "/h"
[anchor]
network = "testnet4"
bitcoin_rpc = "http://127.0.0.1:48332"
rpc_cookie = "/b/testnet4/.cookie"
"#;
        let c: Config = toml::from_str(base).unwrap();
        c.validate().unwrap();
        let a = c.anchor.as_ref().unwrap();
        assert_eq!(
            a.network().unwrap(),
            pantheon_anchor::bitcoin::Network::Testnet4
        );
        let p = a.policy().unwrap();
        assert_eq!(p.confirmations, 6, "six confirmations outside regtest");
        assert!(matches!(p.fee, pantheon_anchor::FeePolicy::Estimate { .. }));
        assert_eq!(a.every_blocks, 10);
        assert_eq!(a.key, PathBuf::from("bitcoin.key"));

        let regtest: Config = toml::from_str(&base.replace("testnet4", "regtest")).unwrap();
        assert_eq!(regtest.anchor.unwrap().policy().unwrap().confirmations, 1);
        let fixed: Config = toml::from_str(&format!(
            "{base}fee_rate_sat_vb = 3
confirmations = 2
"
        ))
        .unwrap();
        let p = fixed.anchor.unwrap().policy().unwrap();
        assert_eq!(p.confirmations, 2);
        assert!(matches!(p.fee, pantheon_anchor::FeePolicy::Fixed(_)));

        for bad in [
            base.replace("\"testnet4\"", "\"testnet9\""),
            base.replace("rpc_cookie = \"/b/testnet4/.cookie\"", ""),
            format!("{base}rpc_user = \"u\"\nrpc_password = \"p\"\n"),
            base.replace("http://127.0.0.1:48332", "127.0.0.1:48332"),
            format!("{base}every_blocks = 0\n"),
            format!("{base}confirmations = 0\n"),
        ] {
            let parsed: Config = toml::from_str(&bad).unwrap();
            assert!(parsed.validate().is_err(), "accepted:\n{bad}");
        }
        let user: Config = toml::from_str(&base.replace(
            "rpc_cookie = \"/b/testnet4/.cookie\"",
            "rpc_user = \"u\"\nrpc_password = \"p\"",
        ))
        .unwrap();
        user.validate().unwrap();
    }
}
