//! `pantheon testnet`: a local network of N validator processes (and
//! optional full nodes) on loopback.
//!
//! `init` writes the keys, the one genesis and each node's config (formats
//! this crate owns), then the manifest of `pantheon-testnet`, which runs the
//! processes and reports their status. Every node dials every other over
//! libp2p (`p2p.peers`) and relays its clients' transactions to the
//! validators' JSON-RPC (`relay.peers`), accepting relayed batches from
//! the other nodes' peer ids (`relay.accept_from`, from the `p2p.key` that
//! `init` creates in each home).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use pantheon_anchor::fsio;
use pantheon_testnet::status::{self, NodeStatus};
use pantheon_testnet::{Manifest, Role, process};
use serde_json::json;

use super::TestnetCommand;
use super::progress::{Mode, Progress};
use crate::config::{
    AnchorConfig, Config, ConsensusConfig, Gossip, P2pConfig, RelayConfig, RpcConfig,
};
use crate::keyfile;

/// How long `up` and `start` wait for nodes to be serving and in step.
const WAIT: Duration = Duration::from_secs(120);

/// What `init` builds.
pub struct InitArgs {
    /// Validators.
    pub validators: usize,
    /// Full nodes after them.
    pub full_nodes: usize,
    /// Node i listens on `base_port + 2i` (RPC) and `+ 1` (libp2p).
    pub base_port: u16,
    /// Target block time.
    pub block_time_ms: u64,
    /// Share one regtest bitcoind (ports after the nodes') and anchor to it.
    pub bitcoin: bool,
    /// Anchor every this many blocks.
    pub anchor_every: u64,
}

/// `testnet init`: keys, genesis, configs and manifest in `dir`.
///
/// # Errors
/// An existing testnet in `dir`, or I/O errors.
pub fn init(dir: &Path, args: &InitArgs) -> Result<Manifest> {
    ensure!(
        (1..=100).contains(&args.validators),
        "--validators must be between 1 and 100"
    );
    ensure!(
        !dir.join(pantheon_testnet::manifest::FILE).exists(),
        "{} already holds a testnet; remove it (after `pantheon testnet down`) to start over",
        dir.display()
    );
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;
    let funder = keyfile::generate()?;
    keyfile::write(&dir.join("funder.key"), &funder, false)?;
    let keys = (0..args.validators)
        .map(|_| keyfile::generate())
        .collect::<Result<Vec<_>>>()?;
    let genesis = super::dev::genesis(
        "pantheon-testnet",
        &keys.iter().collect::<Vec<_>>(),
        &funder,
        args.bitcoin.then(|| {
            pantheon_runtime::anchor::BitcoinParams::for_network(
                pantheon_runtime::anchor::BitcoinNetwork::Regtest,
            )
        }),
    )?;
    fsio::write_atomic(
        &dir.join("genesis.json"),
        (serde_json::to_string_pretty(&genesis)? + "\n").as_bytes(),
    )?;
    let mut manifest = Manifest::layout(
        &dir,
        genesis.header().chain_id.clone(),
        genesis.hash().to_string(),
        args.block_time_ms,
        args.validators,
        args.full_nodes,
        args.base_port,
    );
    if args.bitcoin {
        let after = u16::try_from(2 * manifest.nodes.len()).unwrap_or(u16::MAX);
        let rpc_port = args.base_port.saturating_add(after);
        manifest.bitcoin = Some(pantheon_testnet::manifest::BitcoinEntry {
            rpc_port,
            p2p_port: rpc_port.saturating_add(1),
            block_secs: 2,
        });
    }
    // Every node's libp2p key now, so each config can name the others'
    // peer ids as the senders of relay batches it accepts.
    let mut peer_ids = Vec::with_capacity(manifest.nodes.len());
    for node in &manifest.nodes {
        let home = manifest.home(node.index)?;
        std::fs::create_dir_all(&home)?;
        peer_ids.push(crate::netkey::peer_id(&home)?.to_string());
    }
    for node in &manifest.nodes {
        let home = manifest.home(node.index)?;
        let validator_key = match node.role {
            Role::Validator => {
                keyfile::write(&home.join("validator.key"), &keys[node.index], false)?;
                Some(PathBuf::from("validator.key"))
            }
            Role::Full => None,
        };
        let others = manifest.nodes.iter().filter(|n| n.index != node.index);
        let config = Config {
            home: home.clone(),
            genesis: dir.join("genesis.json"),
            validator_key,
            rpc: RpcConfig {
                addr: node.rpc,
                ..RpcConfig::default()
            },
            p2p: P2pConfig {
                listen: node.p2p.clone(),
                peers: others.clone().map(|n| n.p2p.clone()).collect(),
                // Every node dials every other, so nothing needs relaying.
                gossip: Gossip::Broadcast,
            },
            relay: RelayConfig {
                peers: others
                    .clone()
                    .filter(|n| n.role == Role::Validator)
                    .map(pantheon_testnet::NodeEntry::rpc_url)
                    .collect(),
                accept_from: others.map(|n| peer_ids[n.index].clone()).collect(),
            },
            consensus: ConsensusConfig {
                block_time_ms: args.block_time_ms,
            },
            mempool: crate::config::MempoolConfig::default(),
            receipts: crate::config::ReceiptsConfig::default(),
            metrics: crate::config::MetricsConfig {
                enabled: true,
                listen: metrics_addr(args.base_port, manifest.nodes.len(), node.index),
            },
            anchor: manifest.bitcoin.as_ref().map(|b| AnchorConfig {
                network: "regtest".into(),
                bitcoin_rpc: b.rpc_url(),
                rpc_cookie: Some(manifest.bitcoin_cookie()),
                rpc_user: None,
                rpc_password: None,
                key: "bitcoin.key".into(),
                every_blocks: args.anchor_every,
                confirmations: None,
                fee_rate_sat_vb: None,
            }),
        };
        if config.anchor.is_some() {
            pantheon_anchor::AnchorKey::load_or_create(&home.join("bitcoin.key"))?;
        }
        config.validate()?;
        fsio::write_atomic(
            &manifest.config(node.index)?,
            toml::to_string(&config)?.as_bytes(),
        )?;
    }
    manifest.save()?;
    Ok(manifest)
}

/// Node `index`'s `/metrics` address: loopback, on the ports after the
/// nodes' (`base + 2i`, `+ 1`) and the shared bitcoind's two, one per node.
#[must_use]
pub fn metrics_addr(base_port: u16, nodes: usize, index: usize) -> std::net::SocketAddr {
    let after = u16::try_from(2 * nodes + 2 + index).unwrap_or(u16::MAX);
    std::net::SocketAddr::from(([127, 0, 0, 1], base_port.saturating_add(after)))
}

fn exe() -> Result<PathBuf> {
    std::env::current_exe().context("locating the pantheon executable")
}

/// `testnet up`: starts every node that is not running, then shows progress
/// until all serve RPC and stand at the same height.
///
/// # Errors
/// A node that cannot start, or no agreement within the wait.
pub async fn up(dir: &Path, quiet: bool) -> Result<Vec<NodeStatus>> {
    let net = Manifest::load(dir)?;
    let exe = exe()?;
    start_bitcoin(&net, &exe, quiet).await?;
    for node in &net.nodes {
        process::start(&net, node.index, &exe)?;
    }
    let all: Vec<usize> = (0..net.nodes.len()).collect();
    wait_in_step(&net, &all, true, quiet).await
}

/// `testnet start <i>`: starts node `index` (and the shared bitcoind if it
/// is not running) and shows progress until it has caught up.
///
/// # Errors
/// As [`up`].
pub async fn start(dir: &Path, index: usize, quiet: bool) -> Result<Vec<NodeStatus>> {
    let net = Manifest::load(dir)?;
    let exe = exe()?;
    start_bitcoin(&net, &exe, quiet).await?;
    process::start(&net, index, &exe)?;
    // Alone, or among too few validators, there may be no block to reach.
    wait_in_step(&net, &[index], false, quiet).await
}

/// `testnet stop <i>`.
///
/// # Errors
/// Unknown node or a signal failure.
pub fn stop(dir: &Path, index: usize) -> Result<bool> {
    let net = Manifest::load(dir)?;
    Ok(process::stop(&net, index)?)
}

/// `testnet down`: stops every node, the miner and bitcoind (data is kept).
///
/// # Errors
/// A signal failure.
pub fn down(dir: &Path) -> Result<usize> {
    let net = Manifest::load(dir)?;
    let mut stopped = 0;
    for node in &net.nodes {
        if process::stop(&net, node.index)? {
            stopped += 1;
        }
    }
    let exe = exe()?;
    process::miner(&net, &exe).stop()?;
    if let Some(bitcoind) = process::bitcoind(&net, Path::new("bitcoind")) {
        bitcoind.stop()?;
    }
    Ok(stopped)
}

/// The coinbase maturity: a block's reward is spendable 100 blocks later.
const MATURITY: u64 = 100;

fn bitcoin_rpc(net: &Manifest) -> Option<pantheon_anchor::BitcoinRpc> {
    let b = net.bitcoin.as_ref()?;
    Some(pantheon_anchor::BitcoinRpc::new(
        b.rpc_url(),
        pantheon_anchor::Auth::Cookie(net.bitcoin_cookie()),
    ))
}

/// Starts the shared bitcoind (if the testnet has one), funds every
/// validator's anchor key once, and starts the miner.
async fn start_bitcoin(net: &Manifest, exe: &Path, quiet: bool) -> Result<()> {
    let Some(rpc) = bitcoin_rpc(net) else {
        return Ok(());
    };
    let bitcoind_exe = pantheon_anchor::find_bitcoind()?;
    let Some(bitcoind) = process::bitcoind(net, &bitcoind_exe) else {
        return Ok(());
    };
    bitcoind.start()?;
    let started = Instant::now();
    while rpc.get_block_count().await.is_err() {
        // (Right after the fork the child still shows our command line.)
        let gone = started.elapsed() > Duration::from_secs(3) && bitcoind.pid().is_none();
        ensure!(
            !gone && started.elapsed() < WAIT,
            "bitcoind did not start; see {}",
            bitcoind.log_file.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let burn =
        pantheon_anchor::AnchorKey::generate()?.address(pantheon_anchor::bitcoin::Network::Regtest);
    if rpc.get_block_count().await? < MATURITY {
        for node in net.nodes.iter().filter(|n| n.role == Role::Validator) {
            let key = pantheon_anchor::AnchorKey::load(&net.home(node.index)?.join("bitcoin.key"))?;
            rpc.generate_to_address(1, &key.address(pantheon_anchor::bitcoin::Network::Regtest))
                .await?;
        }
        rpc.generate_to_address(MATURITY, &burn).await?;
        if !quiet {
            eprintln!(
                "  bitcoind {}: anchor keys of the validators funded",
                rpc.url()
            );
        }
    }
    process::miner(net, exe).start()?;
    Ok(())
}

/// `testnet mine`: mines a regtest block every `block_secs` until stopped
/// (started detached by `up`).
///
/// # Errors
/// A missing manifest or a testnet without bitcoind.
pub async fn mine(dir: &Path) -> Result<()> {
    let net = Manifest::load(dir)?;
    let (Some(rpc), Some(b)) = (bitcoin_rpc(&net), net.bitcoin.as_ref()) else {
        bail!("this testnet has no bitcoind");
    };
    let to =
        pantheon_anchor::AnchorKey::generate()?.address(pantheon_anchor::bitcoin::Network::Regtest);
    let bitcoind = process::bitcoind(&net, &pantheon_anchor::find_bitcoind()?);
    let mut tick = tokio::time::interval(Duration::from_secs(b.block_secs.max(1)));
    let mut backoff = Duration::from_secs(1);
    let mut next_start = Instant::now();
    loop {
        tick.tick().await;
        reap_children();
        // The miner supervises the shared bitcoind: one that exited is
        // started again, with back-off while starting fails.
        if let Some(bitcoind) = bitcoind.as_ref().filter(|b| b.pid().is_none()) {
            if Instant::now() >= next_start {
                match bitcoind.start() {
                    Ok(pid) => {
                        eprintln!("mining: bitcoind was not running; started it again (pid {pid})");
                        backoff = Duration::from_secs(1);
                    }
                    Err(e) => {
                        eprintln!(
                            "mining: restarting bitcoind: {e}; next try in {} s",
                            backoff.as_secs()
                        );
                        backoff = (backoff * 2).min(crate::devbitcoin::MAX_BACKOFF);
                    }
                }
                next_start = Instant::now() + backoff;
            }
            continue;
        }
        if let Err(e) = rpc.generate_to_address(1, &to).await {
            eprintln!("mining: {e}");
        }
    }
}

/// Reaps every child that exited (a bitcoind this miner restarted), so
/// none stays a zombie.
fn reap_children() {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
        eprintln!("mining: child exited: {status:?}");
    }
}

/// `testnet status`.
///
/// # Errors
/// A missing manifest.
pub async fn status(dir: &Path) -> Result<Vec<NodeStatus>> {
    let net = Manifest::load(dir)?;
    Ok(status::collect(&net).await)
}

/// Waits until each node of `watch` serves RPC and is in step with the
/// highest node (and past genesis if `blocks`), showing progress on stderr
/// (see [`super::progress`]) and each node's line when its phase changes
/// (stopped, starting, serving). In step: within one block for a
/// validator, and within two seconds of blocks for a full node, which
/// learns each block only after the validators finalize it (at 400 ms
/// blocks on two busy cores it trails by two or three blocks for good).
///
/// Progress: for `up`, nodes ready of the watched ones; for `start` of one
/// node, its height of the highest node's (a node catching up).
async fn wait_in_step(
    net: &Manifest,
    watch: &[usize],
    blocks: bool,
    quiet: bool,
) -> Result<Vec<NodeStatus>> {
    let started = Instant::now();
    let mode = Mode::detect(quiet);
    let catching_up = watch.len() == 1;
    let mut progress = if let [one] = watch {
        Progress::counter(&format!("node {one} catching up"), "blocks", 0, mode)
    } else {
        Progress::counter("testnet up", "nodes ready", watch.len() as u64, mode)
    };
    let mut shown: Vec<&'static str> = vec![""; net.nodes.len()];
    loop {
        let report = status::collect(net).await;
        for s in &report {
            let phase = if !s.running {
                "stopped"
            } else if !s.reachable {
                "starting"
            } else {
                "serving"
            };
            if watch.contains(&s.index) && shown[s.index] != phase {
                progress.println(&format!("  {}", status::line(s)));
                shown[s.index] = phase;
            }
        }
        let top = report.iter().map(|s| s.height).max().unwrap_or(0);
        let follower_lag = (2_000 / net.block_time_ms.max(1)).max(1);
        let in_step = |i: usize| {
            let lag = if net.nodes.get(i).is_some_and(|n| n.role == Role::Full) {
                follower_lag
            } else {
                1
            };
            report
                .get(i)
                .is_some_and(|s| s.reachable && (s.height >= 1 || !blocks) && s.height + lag >= top)
        };
        let ready = watch.iter().filter(|&&i| in_step(i)).count() as u64;
        if catching_up {
            let height = watch
                .first()
                .and_then(|&i| report.get(i))
                .map_or(0, |s| s.height);
            progress.show(height, Some(top), "");
        } else {
            progress.show(ready, None, format!("height {top}"));
        }
        if ready == watch.len() as u64 {
            progress.finish(&if catching_up {
                String::new()
            } else {
                format!("height {top}")
            });
            return Ok(report);
        }
        if let Some(dead) = watch
            .iter()
            .find(|&&i| report.get(i).is_some_and(|s| !s.running))
        {
            progress.abandon();
            let log = process::log_file(net, *dead)?;
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            bail!(
                "node {dead} exited; see {}; its last lines:\n{tail}",
                log.display()
            );
        }
        if started.elapsed() > WAIT {
            progress.abandon();
            bail!(
                "nodes {watch:?} not serving and in step after {}s (see their node.log)",
                WAIT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `pantheon testnet`.
///
/// # Errors
/// The subcommand's failure.
pub async fn run(command: TestnetCommand) -> Result<()> {
    let print = |report: &[pantheon_testnet::status::NodeStatus], json: bool| -> Result<()> {
        if json {
            println!("{}", serde_json::to_string_pretty(report)?);
        } else {
            for s in report {
                println!("{}", pantheon_testnet::status::line(s));
            }
        }
        Ok(())
    };
    match command {
        TestnetCommand::Init {
            validators,
            full_nodes,
            base_port,
            block_time_ms,
            no_bitcoin,
            anchor_every,
            dir,
        } => {
            let net = init(
                &dir.dir,
                &InitArgs {
                    validators,
                    full_nodes,
                    base_port,
                    block_time_ms,
                    bitcoin: !no_bitcoin,
                    anchor_every,
                },
            )?;
            if dir.json {
                println!("{}", serde_json::to_string_pretty(&net)?);
            } else {
                println!(
                    "testnet of {validators} validators and {full_nodes} full nodes in {}",
                    net.dir.display()
                );
                println!("  genesis hash {}", net.genesis_hash);
                println!("  funder key   {}", net.dir.join("funder.key").display());
                for n in &net.nodes {
                    println!(
                        "  node {}: rpc {}, p2p {}, metrics http://{}/metrics",
                        n.index,
                        n.rpc_url(),
                        n.p2p,
                        metrics_addr(base_port, net.nodes.len(), n.index)
                    );
                }
                if let Some(b) = &net.bitcoin {
                    println!(
                        "  bitcoind     {} (regtest, shared; a block every {} s)",
                        b.rpc_url(),
                        b.block_secs
                    );
                }
                println!(
                    "start it with: pantheon testnet up --dir {}",
                    dir.dir.display()
                );
            }
            Ok(())
        }
        TestnetCommand::Mine { dir } => mine(&dir.dir).await,
        TestnetCommand::Up { dir } => print(&up(&dir.dir, dir.json).await?, dir.json),
        TestnetCommand::Status { dir } => print(&status(&dir.dir).await?, dir.json),
        TestnetCommand::Start { index, dir } => {
            print(&start(&dir.dir, index, dir.json).await?, dir.json)
        }
        TestnetCommand::Stop { index, dir } => {
            let was = stop(&dir.dir, index)?;
            if dir.json {
                println!("{}", json!({ "index": index, "was_running": was }));
            } else if was {
                println!("node {index} stopped");
            } else {
                println!("node {index} was not running");
            }
            Ok(())
        }
        TestnetCommand::Down { dir } => {
            let n = down(&dir.dir)?;
            if dir.json {
                println!("{}", json!({ "stopped": n }));
            } else {
                println!("{n} nodes stopped");
            }
            Ok(())
        }
    }
}
