//! `pantheon dev`: a one-command development network.
//!
//! The home directory holds everything the network needs:
//!
//! ```text
//! <home>/genesis.json     one validator, the whole supply to the dev funder
//! <home>/validator.key    the validator's ML-DSA-65 key (mode 0600)
//! <home>/dev-funder.key   the funded development account (mode 0600)
//! ```
//!
//! Initialisation is idempotent: an existing home is reused as it is.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use pantheon_anchor::fsio;
use pantheon_runtime::amount::{Amount, SUPPLY};
use pantheon_runtime::anchor::{BitcoinNetwork, BitcoinParams};
use pantheon_runtime::crypto::Keypair;
use pantheon_runtime::genesis::{Allocation, Genesis, Params, Validator, ValidatorSet};
use pantheon_runtime::ledger::Ledger;
use serde_json::json;

use crate::{config, devbitcoin, keyfile};

/// Paths inside a dev home.
pub struct DevHome {
    /// The directory.
    pub dir: PathBuf,
}

impl DevHome {
    pub fn genesis(&self) -> PathBuf {
        self.dir.join("genesis.json")
    }
    pub fn validator_key(&self) -> PathBuf {
        self.dir.join("validator.key")
    }
    pub fn funder_key(&self) -> PathBuf {
        self.dir.join("dev-funder.key")
    }
}

/// Creates the home if needed and returns its genesis.
pub fn init(dir: &Path) -> Result<(DevHome, Genesis)> {
    let home = DevHome {
        dir: dir.to_path_buf(),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let validator = load_or_create(&home.validator_key())?;
    let funder = load_or_create(&home.funder_key())?;
    let genesis = if home.genesis().exists() {
        let text = std::fs::read_to_string(home.genesis())?;
        serde_json::from_str(&text)
            .with_context(|| format!("reading {}", home.genesis().display()))?
    } else {
        let genesis = dev_genesis(&validator, &funder)?;
        let text = serde_json::to_string_pretty(&genesis)?;
        fsio::write_atomic(&home.genesis(), (text + "\n").as_bytes())?;
        genesis
    };
    Ok((home, genesis))
}

fn load_or_create(path: &Path) -> Result<Keypair> {
    if path.exists() {
        return keyfile::read(path);
    }
    let key = keyfile::generate()?;
    keyfile::write(path, &key, false)?;
    Ok(key)
}

fn dev_genesis(validator: &Keypair, funder: &Keypair) -> Result<Genesis> {
    // Anchored to regtest even when run with `--no-bitcoin`: the network
    // is made once, and may anchor on its next start.
    genesis(
        "pantheon-dev",
        &[validator],
        funder,
        Some(BitcoinParams::for_network(BitcoinNetwork::Regtest)),
    )
}

/// A version-2 genesis with `validators` (power 1 each), the whole supply
/// in `funder`'s account and `bitcoin` as its anchoring (`None`: the
/// network does not anchor), timed now.
///
/// # Errors
/// A clock before 1970 or an invalid validator set.
pub fn genesis(
    chain_id: &str,
    validators: &[&Keypair],
    funder: &Keypair,
    bitcoin: Option<BitcoinParams>,
) -> Result<Genesis> {
    let time_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock before 1970")?
        .as_millis();
    let validators = ValidatorSet::new(
        validators
            .iter()
            .map(|v| Validator {
                public_key: v.public().clone(),
                power: 1,
            })
            .collect(),
    )?;
    let allocations = vec![Allocation {
        account: funder.id(),
        amount: SUPPLY,
    }];
    Ok(Genesis::new(
        chain_id.into(),
        u64::try_from(time_ms)?,
        Params::default(),
        validators,
        allocations,
    )?
    .with_bitcoin(bitcoin)?)
}

/// The node configuration of a dev home.
pub fn config(
    dir: &Path,
    rpc_addr: std::net::SocketAddr,
    metrics_addr: std::net::SocketAddr,
    block_time_ms: u64,
) -> Result<crate::config::Config> {
    let config = crate::config::Config {
        home: dir.to_path_buf(),
        genesis: "genesis.json".into(),
        validator_key: Some("validator.key".into()),
        rpc: crate::config::RpcConfig {
            addr: rpc_addr,
            ..crate::config::RpcConfig::default()
        },
        p2p: crate::config::P2pConfig::default(),
        relay: crate::config::RelayConfig::default(),
        consensus: crate::config::ConsensusConfig { block_time_ms },
        mempool: crate::config::MempoolConfig::default(),
        receipts: crate::config::ReceiptsConfig::default(),
        metrics: crate::config::MetricsConfig {
            enabled: true,
            listen: metrics_addr,
        },
        anchor: None,
    };
    config.validate()?;
    Ok(config)
}

/// What `pantheon dev` was given.
#[derive(clap::Args)]
pub struct DevArgs {
    /// The network's home directory.
    #[arg(long, default_value = ".pantheon/dev")]
    pub home: PathBuf,
    /// JSON-RPC listen address.
    #[arg(long, default_value = "127.0.0.1:9944")]
    pub rpc_addr: std::net::SocketAddr,
    /// Prometheus `/metrics` listen address (port 0: a free port, printed
    /// beside the JSON-RPC line).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub metrics_addr: std::net::SocketAddr,
    /// Target block time in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub block_time_ms: u64,
    /// Prepare the home and print its summary, without running the node.
    #[arg(long)]
    pub init_only: bool,
    /// Anchor to the managed regtest bitcoind every this many blocks.
    #[arg(long, default_value_t = 5)]
    pub anchor_every: u64,
    /// Seconds between the regtest blocks the dev network mines (0: none;
    /// mine them yourself).
    #[arg(long, default_value_t = 2)]
    pub bitcoin_block_secs: u64,
    /// Run without the managed bitcoind (no anchoring).
    #[arg(long)]
    pub no_bitcoin: bool,
    /// Longest wait, in milliseconds, for a JSON-RPC request's headers
    /// and for its body (default 30000 each).
    #[arg(long)]
    pub rpc_timeout_ms: Option<u64>,
    /// Blocks from a receipt to the height by which the validator promises
    /// finality (`[receipts] deadline_blocks`).
    #[arg(long, default_value_t = crate::config::ReceiptsConfig::default().deadline_blocks)]
    pub receipt_deadline_blocks: u64,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

/// `pantheon dev`: prepares the home, starts the managed regtest bitcoind
/// (unless `--no-bitcoin`) and runs the node until a signal.
///
/// # Errors
/// Set-up failures or the node's.
pub async fn run(args: &DevArgs) -> Result<()> {
    let DevArgs {
        home,
        rpc_addr,
        metrics_addr,
        block_time_ms,
        init_only,
        anchor_every,
        bitcoin_block_secs,
        no_bitcoin,
        rpc_timeout_ms,
        receipt_deadline_blocks,
        json,
    } = args;
    summary(home, *json)?;
    if *init_only {
        return Ok(());
    }
    // Absolute from here on: the config resolves its paths against
    // the home, so a relative home would be applied twice (the
    // anchor key, funded here, was looked for in <home>/<home>/).
    let home = std::path::absolute(home)?;
    let mut config = config(&home, *rpc_addr, *metrics_addr, *block_time_ms)?;
    config.receipts.deadline_blocks = *receipt_deadline_blocks;
    config.validate()?;
    if let Some(ms) = *rpc_timeout_ms {
        config.rpc.header_timeout_ms = ms;
        config.rpc.body_timeout_ms = ms;
        config.validate()?;
    }
    if *no_bitcoin {
        return super::run_node(config).await;
    }
    let key_path = home.join("anchor").join("bitcoin.key");
    std::fs::create_dir_all(home.join("anchor"))?;
    let key = pantheon_anchor::AnchorKey::load_or_create(&key_path)?;
    let bitcoin = devbitcoin::DevBitcoin::start(&home, &key, *bitcoin_block_secs).await?;
    super::announce(&format!(
        "pantheon: regtest bitcoind on {} (data in {}), a block every {bitcoin_block_secs} s; anchoring every {anchor_every} blocks",
        bitcoin.rpc_url,
        bitcoin.datadir.display()
    ));
    config.anchor = Some(config::AnchorConfig {
        network: "regtest".into(),
        bitcoin_rpc: bitcoin.rpc_url.clone(),
        rpc_cookie: Some(bitcoin.cookie_file.clone()),
        rpc_user: None,
        rpc_password: None,
        key: key_path,
        every_blocks: *anchor_every,
        confirmations: None,
        fee_rate_sat_vb: None,
    });
    config.validate()?;
    let outcome = super::run_node_with(config, |serving| {
        bitcoin.report_to(serving.network.clone());
    })
    .await;
    bitcoin.stop().await;
    outcome
}

fn summary(home: &std::path::Path, json: bool) -> Result<()> {
    let (paths, genesis) = init(home)?;
    let ledger = Ledger::from_genesis(&genesis);
    let total = Amount::from_units(u64::try_from(ledger.total_balance())?);
    anyhow::ensure!(
        total == SUPPLY,
        "genesis allocates {total} PAN, not {SUPPLY}"
    );
    let funder = keyfile::read(&paths.funder_key())?;
    let summary = json!({
        "home": paths.dir,
        "genesis": paths.genesis(),
        "genesis_hash": genesis.hash(),
        "chain_id": genesis.header().chain_id,
        "validators": genesis.header().validators.len(),
        "dev_funder_key": paths.funder_key(),
        "dev_funder": funder.id(),
        "supply": SUPPLY.to_string(),
        "state_root": ledger.state_root(),
    });
    if json {
        println!("{summary}");
    } else {
        println!(
            "Pantheon development network prepared in {}",
            paths.dir.display()
        );
        println!("  genesis hash   {}", genesis.hash());
        println!("  state root     {}", ledger.state_root());
        println!("  supply         {SUPPLY} PAN (sum of all balances, checked)");
        println!(
            "  dev funder     {} ({})",
            funder.id(),
            paths.funder_key().display()
        );
    }
    Ok(())
}
