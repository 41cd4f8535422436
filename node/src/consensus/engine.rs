//! Wiring: Malachite configuration, network identity, engine start-up.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytesize::ByteSize;
use eyre::{Result, eyre};
use malachitebft_app_channel::app::config::{
    ConsensusConfig, DiscoveryConfig, NodeConfig, P2pConfig, PubSubProtocol, ValuePayload,
    ValueSyncConfig,
};
use malachitebft_app_channel::app::net::Multiaddr;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::{
    ConsensusContext, EngineBuilder, NetworkContext, NetworkIdentity, NetworkRequest,
    RequestContext, Signer, SyncContext, WalContext,
};
use pantheon_runtime::crypto::{KeyCache, Keypair};

use crate::chain::Chain;
use crate::config::Gossip;
use crate::consensus::app::{self, App, AppConfig};
use crate::consensus::codec::PantheonCodec;
use crate::consensus::context::{PantheonContext, ValidatorIndex};
use crate::consensus::signing::{PantheonSigner, PantheonVerifier};
use crate::consensus::undecided::Undecided;
use crate::health::{self, Peer, SharedStatus};

/// The engine's configuration (what Malachite's `NodeConfig` asks for).
#[derive(Debug, Clone)]
pub struct Config {
    /// Node name in logs and metrics.
    pub moniker: String,
    /// Consensus and p2p.
    pub consensus: ConsensusConfig,
    /// Value sync.
    pub value_sync: ValueSyncConfig,
}

impl NodeConfig for Config {
    fn moniker(&self) -> &str {
        &self.moniker
    }
    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }
    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }
    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }
    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

/// Everything needed to run one validator.
pub struct NodeArgs {
    /// Consensus home (WAL, undecided proposals, p2p key).
    pub home: PathBuf,
    /// The chain consensus drives.
    pub chain: Arc<Chain>,
    /// This validator's key; `None` for a full node, which follows and
    /// serves the chain without voting.
    pub keypair: Option<Arc<Keypair>>,
    /// Peers, sync and evidence for `system_health` / `system_peers`.
    pub network: SharedStatus,
    /// p2p listen address, e.g. `/ip4/127.0.0.1/tcp/27000`.
    pub listen: Multiaddr,
    /// Peers to keep connections to.
    pub peers: Vec<Multiaddr>,
    /// Application settings.
    pub app: AppConfig,
    /// Largest gossip message (proposal parts, votes).
    pub pubsub_max: ByteSize,
    /// How consensus messages spread.
    pub gossip: Gossip,
    /// Largest sync response (must exceed the largest block plus certificate).
    pub rpc_max: ByteSize,
    /// Send the ADR-006 validator proof (rejected by 0.8.2 peers: 1 KiB cap).
    pub validator_proof: bool,
}

/// The Malachite configuration for this node.
#[must_use]
pub fn make_config(moniker: String, args: &NodeArgs) -> Config {
    let p2p = P2pConfig {
        listen_addr: args.listen.clone(),
        persistent_peers: args.peers.clone(),
        discovery: DiscoveryConfig {
            // Loopback demos put every node on one IP.
            max_connections_per_ip: 64,
            ..DiscoveryConfig::default()
        },
        pubsub_max_size: args.pubsub_max,
        protocol: match args.gossip {
            Gossip::Broadcast => PubSubProtocol::Broadcast,
            Gossip::Gossipsub => PubSubProtocol::default(),
        },
        rpc_max_size: args.rpc_max,
        ..P2pConfig::default()
    };
    Config {
        moniker,
        consensus: ConsensusConfig {
            p2p,
            value_payload: ValuePayload::ProposalAndParts,
            ..ConsensusConfig::default()
        },
        value_sync: ValueSyncConfig {
            enabled: true,
            status_update_interval: Duration::from_secs(2),
            max_response_size: args.rpc_max,
            batch_size: 1,
            ..ValueSyncConfig::default()
        },
    }
}

/// Starts the engine and runs the application loop until it stops.
///
/// # Errors
/// Start-up failures, or the application loop's error.
pub async fn run(args: NodeArgs) -> Result<()> {
    std::fs::create_dir_all(&args.home)?;
    let genesis = args.chain.genesis().clone();
    let genesis_hash = genesis.hash();
    let me = match &args.keypair {
        Some(key) => crate::consensus::context::ValidatorSet::new(&genesis.header().validators)
            .index_of(key.public())
            .ok_or_else(|| eyre!("this key is not in the genesis validator set"))?,
        // Not an index of the set (at most 1,024 validators): never asked
        // to propose or vote.
        None => FULL_NODE,
    };
    let moniker = if args.keypair.is_some() {
        format!("pantheon-{me}")
    } else {
        "pantheon-full".to_owned()
    };
    let config = make_config(moniker.clone(), &args);
    let keys = Arc::new(KeyCache::default());
    let ctx = PantheonContext::new(genesis_hash);

    // Network identity. Malachite's validator-proof protocol (ADR-006) binds
    // the consensus key to the peer id, but arc-malachitebft-network 0.8.2
    // caps a proof at 1 KiB (validator_proof/codec.rs, MAX_MESSAGE_SIZE) and
    // an ML-DSA-65 proof is ~5.3 KB (1,952-byte key + 3,309-byte signature),
    // so peers would reject it and drop the connection. We therefore
    // advertise the consensus address without a proof; only peer
    // classification for GossipSub scoring (off by default) is lost.
    // `PantheonSigner::sign_validator_proof` is ready for when the cap is
    // raised upstream (enable with `--validator-proof`).
    let net_key = crate::netkey::load_or_create(&args.home).map_err(|e| eyre!("{e:#}"))?;
    tracing::info!(
        target: "pantheon::consensus",
        %moniker,
        peer_id = %net_key.public().to_peer_id(),
        listen = %args.listen,
        "starting consensus"
    );
    let identity = if let Some(key) = args.keypair.as_ref().filter(|_| args.validator_proof) {
        let signer = PantheonSigner::new(key.clone(), genesis_hash);
        let proof = signer
            .sign_validator_proof(
                key.public().as_bytes().to_vec(),
                net_key.public().to_peer_id().to_bytes(),
            )
            .await
            .map_err(|e| eyre!("validator proof: {e}"))?;
        let proof_bytes = PantheonCodec.encode(&proof)?;
        NetworkIdentity::new_validator(moniker, net_key, me.to_string(), proof_bytes)
    } else {
        let address = args.keypair.as_ref().map(|_| me.to_string());
        NetworkIdentity::new(moniker, net_key, address)
    };

    let store = Undecided::open(&args.home)?;
    let mut state = App::open(
        args.chain.clone(),
        me,
        args.keypair.clone(),
        store,
        args.app.clone(),
        args.network.clone(),
    )?;
    let verifier = Box::new(PantheonVerifier::new(genesis_hash, keys));
    let consensus = match &args.keypair {
        Some(key) => ConsensusContext::new_validator(
            me,
            verifier,
            Box::new(PantheonSigner::new(key.clone(), genesis_hash)),
        ),
        None => ConsensusContext::new_full_node(me, verifier),
    };

    let (mut channels, engine) = EngineBuilder::new(ctx, config)
        .with_default_wal(WalContext::new(
            args.home.join("wal").join("consensus.wal"),
            PantheonCodec,
        ))
        .with_default_network(NetworkContext::new(identity, PantheonCodec))
        .with_default_sync(SyncContext::new(PantheonCodec))
        .with_default_consensus(consensus)
        .with_default_request(RequestContext::new(100))
        .build()
        .await?;
    let peers = tokio::spawn(watch_peers(
        channels.net_requests.clone(),
        args.network.clone(),
    ));

    let result = app::run(&mut state, &mut channels).await;
    peers.abort();
    engine.actor.stop(None);
    result
}

/// The consensus address a full node uses: outside every validator set.
const FULL_NODE: ValidatorIndex = ValidatorIndex(u16::MAX);

/// Copies the network layer's peer table into `status` every second.
async fn watch_peers(requests: tokio::sync::mpsc::Sender<NetworkRequest>, status: SharedStatus) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let Ok(Some(dump)) = NetworkRequest::dump_state(&requests).await else {
            continue;
        };
        let mut peers: Vec<Peer> = dump
            .peers
            .iter()
            .map(|(id, p)| Peer {
                id: id.to_string(),
                address: p.address.to_string(),
            })
            .collect();
        peers.sort_by(|a, b| a.id.cmp(&b.id));
        health::lock(&status).peers = peers;
    }
}
