//! Running a node: storage, chain, JSON-RPC and consensus, until a signal.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use bytesize::ByteSize;
use malachitebft_app_channel::app::types::core::LinearTimeouts;
use pantheon_runtime::genesis::Genesis;

use crate::anchoring::{Anchoring, SharedView};
use crate::backend::RpcBackend;
use crate::chain::Chain;
use crate::config::{AnchorConfig, Config};
use crate::consensus::app::AppConfig;
use crate::consensus::engine::{self, NodeArgs};
use crate::health::{NetworkStatus, SharedStatus};
use crate::keyfile;
use crate::mempool::MempoolLimits;
use crate::store::Store;
use pantheon_anchor::{AnchorEngine, AnchorKey, BitcoinRpc};

/// A started node, as announced to the caller of [`run`].
pub struct Serving {
    /// The address JSON-RPC is bound to.
    pub rpc: std::net::SocketAddr,
    /// The address `/metrics` is served on (`None`: `[metrics]` disabled).
    pub metrics: Option<std::net::SocketAddr>,
    /// The network's genesis hash.
    pub genesis: pantheon_runtime::hash::GenesisHash,
    /// The health the node reports, for tasks outside it to add to (the
    /// dev node's bitcoind supervisor).
    pub network: SharedStatus,
}

/// `[anchor]`'s policy under the genesis: a version-2 genesis fixes the
/// network and the confirmations, and the config may only agree.
fn pinned_policy(
    anchor: &AnchorConfig,
    genesis: &pantheon_runtime::genesis::GenesisHeader,
) -> Result<pantheon_anchor::Policy> {
    let mut policy = anchor.policy()?;
    if !genesis.pins_bitcoin() {
        return Ok(policy);
    }
    let Some(pinned) = genesis.bitcoin else {
        anyhow::bail!(
            "[anchor]: the genesis of {} says the network does not anchor to Bitcoin",
            genesis.chain_id
        );
    };
    let network = pantheon_anchor::ids::our_network(policy.network);
    anyhow::ensure!(
        network == Some(pinned.network),
        "[anchor] network is {}, but the genesis anchors to {}",
        policy.network,
        pinned.network
    );
    let k = u32::from(pinned.confirmations);
    anyhow::ensure!(
        anchor.confirmations.is_none_or(|c| c == k),
        "[anchor] confirmations: the genesis fixes them at {k}"
    );
    policy.confirmations = k;
    policy.watch_depth = policy.watch_depth.max(k);
    Ok(policy)
}

/// Opens the anchor engine of `[anchor]` (key created on first use).
fn start_anchoring(
    config: &Config,
    anchor: &AnchorConfig,
    chain: &Arc<Chain>,
    keypair: Option<Arc<pantheon_runtime::crypto::Keypair>>,
    view: &SharedView,
    network: &SharedStatus,
) -> Result<Anchoring> {
    let policy = pinned_policy(anchor, chain.genesis().header())?;
    let key_path = config.resolve(&anchor.key);
    if let Some(dir) = key_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let key = AnchorKey::load_or_create(&key_path)
        .with_context(|| format!("anchor key {}", key_path.display()))?;
    let rpc = BitcoinRpc::new(anchor.bitcoin_rpc.clone(), anchor.auth()?);
    let state = config.home.join("anchor").join("state.json");
    if let Some(dir) = state.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let engine = AnchorEngine::open(&state, key, rpc.clone(), policy)
        .with_context(|| format!("anchor state {}", state.display()))?;
    let validators = &chain.genesis().header().validators;
    let validator = keypair.and_then(|k| {
        (0..u16::try_from(validators.len()).unwrap_or(u16::MAX))
            .find(|&i| {
                validators
                    .get(i)
                    .is_some_and(|v| v.public_key == *k.public())
            })
            .map(|i| (i, k))
    });
    Ok(Anchoring {
        chain: chain.clone(),
        engine,
        rpc,
        policy,
        every: anchor.every_blocks,
        validator,
        view: view.clone(),
        network: network.clone(),
    })
}

/// Runs a node until SIGINT or SIGTERM; calls `serving` once JSON-RPC is
/// bound.
///
/// # Errors
/// Start-up failures (config, store, ports) or a consensus failure.
pub async fn run(config: Config, serving: impl FnOnce(&Serving)) -> Result<()> {
    let genesis_path = config.resolve(&config.genesis);
    let genesis: Genesis = serde_json::from_str(
        &std::fs::read_to_string(&genesis_path)
            .with_context(|| format!("reading {}", genesis_path.display()))?,
    )
    .with_context(|| format!("parsing {}", genesis_path.display()))?;
    // Without a validator key the node is a full node: it follows
    // consensus, checks every certificate and serves RPC, without voting.
    let keypair = match &config.validator_key {
        Some(path) => Some(Arc::new(keyfile::read(&config.resolve(path))?)),
        None => None,
    };

    let store = Store::open(&config.home.join("db"), genesis.hash())
        .with_context(|| format!("opening the database in {}", config.home.display()))?;
    let limits = MempoolLimits {
        capacity: config.mempool.capacity,
        per_queue: config.mempool.per_queue,
        reserved: config.mempool.reserved,
    };
    let chain = Arc::new(Chain::open(genesis, store, limits)?);
    tracing::info!(
        target: "pantheon::node",
        height = %chain.height(),
        genesis = %chain.genesis().hash(),
        "chain restored"
    );

    let sender = crate::relay::Sender {
        key: crate::netkey::load_or_create(&config.home)?,
        genesis: chain.genesis().hash(),
    };
    if let Some(relay) = crate::relay::spawn(&config.relay.peers, sender) {
        chain.set_relay(relay);
    }
    // What was answered `received` before a stop comes back first.
    let readmitted = chain.readmit()?;
    tracing::info!(
        target: "pantheon::receipts",
        admitted = readmitted.admitted,
        finalized = readmitted.finalized,
        refused = readmitted.refused,
        "receipt log replayed"
    );
    let intake = crate::receipts::Intake::spawn(
        chain.clone(),
        crate::receipts::IntakeConfig {
            keypair: keypair.clone(),
            deadline_blocks: config.receipts.deadline_blocks,
            next_order: readmitted.next_order,
        },
    )
    .context("starting the receipt log writer")?;
    let network = Arc::new(Mutex::new(NetworkStatus::default()));
    let anchors = SharedView::default();
    let anchoring = match &config.anchor {
        Some(anchor) => Some(tokio::spawn(
            start_anchoring(&config, anchor, &chain, keypair.clone(), &anchors, &network)?.run(),
        )),
        None => None,
    };
    let backend = Arc::new(RpcBackend::new(
        chain.clone(),
        network.clone(),
        anchors.clone(),
        intake,
        config.relay.accepted()?,
    ));
    let (bound, rpc, rpc_metrics) =
        pantheon_rpc::start_timed(config.rpc.addr, backend, config.rpc.limits())
            .await
            .with_context(|| format!("binding JSON-RPC to {}", config.rpc.addr))?;
    let metrics = if config.metrics.enabled {
        let registry = crate::metrics::registry(crate::metrics::Sources {
            chain: chain.clone(),
            network: network.clone(),
            anchors,
            rpc: rpc_metrics,
        });
        // Not fatal: a validator keeps validating when its metrics port
        // is taken (another node on the machine with the default port).
        match crate::metrics::serve(config.metrics.listen, registry).await {
            Ok(bound) => Some(bound),
            Err(e) => {
                tracing::warn!(
                    target: "pantheon::metrics",
                    listen = %config.metrics.listen,
                    "/metrics not served: cannot bind {}: {e}",
                    config.metrics.listen
                );
                None
            }
        }
    } else {
        None
    };
    serving(&Serving {
        rpc: bound,
        metrics,
        genesis: chain.genesis().hash(),
        network: network.clone(),
    });

    let block_time = Duration::from_millis(config.consensus.block_time_ms);
    let timeouts = LinearTimeouts {
        propose: Duration::from_millis(3000).max(block_time * 3),
        prevote: Duration::from_millis(1000),
        precommit: Duration::from_millis(1000),
        rebroadcast: Duration::from_millis(5000),
        ..LinearTimeouts::default()
    };
    let args = NodeArgs {
        home: config.home.join("consensus"),
        chain: chain.clone(),
        keypair,
        network,
        listen: config
            .p2p
            .listen
            .parse()
            .context("p2p.listen is not a multiaddress")?,
        peers: config
            .p2p
            .peers
            .iter()
            .map(|p| p.parse())
            .collect::<Result<_, _>>()
            .context("p2p.peers: not a multiaddress")?,
        app: AppConfig {
            timeouts,
            target_time: Some(block_time),
            part_bytes: 1 << 20,
        },
        pubsub_max: ByteSize::mib(4),
        gossip: config.p2p.gossip,
        rpc_max: ByteSize::mib(96),
        validator_proof: false,
    };
    let consensus = tokio::spawn(async move { engine::run(args).await });

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let outcome = tokio::select! {
        _ = tokio::signal::ctrl_c() => Ok(()),
        _ = term.recv() => Ok(()),
        result = consensus => match result {
            Ok(Ok(())) => Err(anyhow::anyhow!("consensus stopped")),
            Ok(Err(e)) => Err(anyhow::anyhow!("consensus failed: {e:#}")),
            Err(e) => Err(anyhow::anyhow!("consensus task panicked: {e}")),
        },
    };
    if let Some(task) = anchoring {
        task.abort();
    }
    tracing::info!(target: "pantheon::node", "shutting down");
    let _ = rpc.stop();
    outcome
}
