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
use pantheon_runtime::amount::SUPPLY;
use pantheon_runtime::anchor::{BitcoinNetwork, BitcoinParams};
use pantheon_runtime::crypto::Keypair;
use pantheon_runtime::genesis::{Allocation, Genesis, Params, Validator, ValidatorSet};

use crate::keyfile;

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
        std::fs::write(home.genesis(), text + "\n")?;
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
        anchor: None,
    };
    config.validate()?;
    Ok(config)
}
