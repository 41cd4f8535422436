//! `pantheon`: the Pantheon node and command-line tool.
//!
//! One binary for all three users: operators (`keys`, `operator register`,
//! `submit`, `proof`, `transfer`, `balance`), verifiers (`verify`) and
//! validators (`dev`, `node`, `testnet`, `anchor`, `bench`). Commands print
//! a human-readable result, or JSON with `--json`; exit status 0 means
//! success, anything else names the failure on stderr.
#![allow(clippy::print_stdout, reason = "a CLI prints its results")]

mod anchoring;
mod api;
mod bench;
mod chain;
mod client;
mod commands;
mod config;
mod consensus;
mod dev;
mod devbitcoin;
mod keyfile;
mod mempool;
mod relay;
mod service;
mod store;
mod testnet;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use pantheon_runtime::amount::{Amount, SUPPLY};
use pantheon_runtime::ledger::Ledger;
use serde_json::json;

/// mimalloc instead of the system allocator. A node allocates and frees
/// multi-megabyte buffers for every block (proposal parts, encodings, RocksDB
/// batches); glibc serves those with fresh `mmap`s, and under load the
/// page faults and zeroing of new pages took a fifth of a validator's CPU
/// (docs/BENCHMARKS.md, "Testnet"). mimalloc reuses freed memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "pantheon",
    version,
    about = "Pantheon: a public, post-quantum witness for AI audit trails"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate and inspect ML-DSA-65 keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Operator registration.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Sign and send an audit root for the key's operator; prints the receipt.
    Submit {
        /// The operator's key file.
        #[arg(long)]
        key: PathBuf,
        /// The audit batch's Merkle root (64 hex digits).
        #[arg(long)]
        root: String,
        /// Optional label (at most 64 bytes).
        #[arg(long)]
        label: Option<String>,
        /// Optional number of records in the batch.
        #[arg(long)]
        records: Option<u64>,
        /// Wait until the submission reaches this status.
        #[arg(long, value_enum)]
        wait: Option<WaitFor>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Fetch a submission's self-contained proof bundle.
    Proof {
        /// The submission id.
        id: String,
        /// Wait until the submission reaches this status first.
        #[arg(long, value_enum)]
        wait: Option<WaitFor>,
        /// Leave the genesis header (the validator keys, about 10.6 KB of
        /// the bundle with four validators) out, for a verifier who holds
        /// the network's genesis file (`pantheon verify --genesis FILE`).
        /// By default the bundle carries it and verifies alone.
        #[arg(long)]
        no_genesis: bool,
        /// The default since the genesis is embedded by default; kept so
        /// that older scripts run.
        #[arg(long, hide = true)]
        embed_genesis: bool,
        /// Write the bundle here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Check a proof bundle offline; names the first failing link.
    Verify {
        /// The proof bundle (JSON).
        file: PathBuf,
        /// The network's genesis file: pins the network (the bundle must
        /// be for it) and supplies the validator keys to a bundle fetched
        /// with `--no-genesis`.
        #[arg(long)]
        genesis: Option<PathBuf>,
        /// Pin the network by its genesis hash.
        #[arg(long)]
        genesis_hash: Option<String>,
        /// The audit root you hold: the bundle must prove this root.
        #[arg(long)]
        root: Option<String>,
        /// The Bitcoin network you expect the anchor on (regtest, signet,
        /// testnet4, bitcoin). A version-2 genesis commits it and this
        /// must agree; a version-1 genesis commits none and needs it.
        #[arg(long)]
        bitcoin_network: Option<String>,
        /// Confirmations the Bitcoin part must carry, if more than the
        /// genesis asks (1 on regtest, 6 elsewhere by default).
        #[arg(long)]
        confirmations: Option<u32>,
        /// Also check the anchor's block is in this live bitcoind's best chain.
        #[arg(long)]
        bitcoin_rpc: Option<String>,
        /// Cookie file for --bitcoin-rpc (else user:password in the URL's
        /// BITCOIN_RPC_USER / BITCOIN_RPC_PASSWORD environment).
        #[arg(long)]
        bitcoin_cookie: Option<PathBuf>,
        /// A trusted Bitcoin block, HEIGHT:HASH, the carried headers must reach.
        #[arg(long)]
        checkpoint: Option<String>,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
    /// Bitcoin anchoring of a node (its key, address and anchors).
    Anchor {
        #[command(subcommand)]
        command: AnchorCommand,
    },
    /// An account's PAN balance.
    Balance {
        /// Account id (hex) or key file.
        account: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Send PAN.
    Transfer {
        /// The sender's key file.
        #[arg(long)]
        key: PathBuf,
        /// Recipient account id (hex) or key file.
        #[arg(long)]
        to: String,
        /// Amount in PAN (up to 9 decimals).
        #[arg(long)]
        amount: String,
        /// Wait until the transfer is finalized.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Run a one-validator development network (node and JSON-RPC).
    Dev {
        /// The network's home directory.
        #[arg(long, default_value = ".pantheon/dev")]
        home: PathBuf,
        /// JSON-RPC listen address.
        #[arg(long, default_value = "127.0.0.1:9944")]
        rpc_addr: std::net::SocketAddr,
        /// Target block time in milliseconds.
        #[arg(long, default_value_t = 1000)]
        block_time_ms: u64,
        /// Prepare the home and print its summary, without running the node.
        #[arg(long)]
        init_only: bool,
        /// Anchor to the managed regtest bitcoind every this many blocks.
        #[arg(long, default_value_t = 5)]
        anchor_every: u64,
        /// Seconds between the regtest blocks the dev network mines (0: none;
        /// mine them yourself).
        #[arg(long, default_value_t = 2)]
        bitcoin_block_secs: u64,
        /// Run without the managed bitcoind (no anchoring).
        #[arg(long)]
        no_bitcoin: bool,
        /// Longest wait, in milliseconds, for a JSON-RPC request's headers
        /// and for its body (default 30000 each).
        #[arg(long)]
        rpc_timeout_ms: Option<u64>,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
    /// Load a running node with pre-signed submissions; report throughput and latency.
    Bench {
        /// A funded key (for `pantheon dev`: <home>/dev-funder.key).
        #[arg(long)]
        funder: PathBuf,
        /// Operators sending in parallel.
        #[arg(long, default_value_t = 16)]
        operators: u32,
        /// Submissions per operator.
        #[arg(long, default_value_t = 500)]
        per_operator: u32,
        /// Target send rate in submissions/s (0: as fast as possible).
        #[arg(long, default_value_t = 0)]
        rate: u32,
        /// The nodes' JSON-RPC URLs, comma-separated (operators are spread
        /// over them).
        #[arg(long, default_value = "http://127.0.0.1:9944")]
        rpc: String,
        /// Validators in the network (for the per-validator limit).
        #[arg(long, default_value_t = 1)]
        validators: u32,
    },
    /// A local network of validator processes on loopback.
    Testnet {
        #[command(subcommand)]
        command: TestnetCommand,
    },
    /// Run a node from a TOML configuration file.
    Node {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum AnchorCommand {
    /// The P2WPKH address that pays for a node's anchors (fund it).
    Address {
        /// The node's anchor key file (created if missing).
        #[arg(long, default_value = ".pantheon/dev/anchor/bitcoin.key")]
        key: PathBuf,
        /// regtest, signet, testnet4 or bitcoin.
        #[arg(long, default_value = "regtest")]
        network: String,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
    /// A running node's anchoring: address, balance, pending and confirmed anchors.
    Status {
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
enum TestnetCommand {
    /// Write keys, one genesis and a config per node into DIR.
    Init {
        /// Validators.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Full nodes (no validator key) after the validators.
        #[arg(long, default_value_t = 0)]
        full_nodes: usize,
        /// Node i uses port BASE+2i for JSON-RPC and BASE+2i+1 for libp2p.
        #[arg(long, default_value_t = 27100)]
        base_port: u16,
        /// Target block time in milliseconds.
        #[arg(long, default_value_t = 1000)]
        block_time_ms: u64,
        /// Without the shared regtest bitcoind (no anchoring).
        #[arg(long)]
        no_bitcoin: bool,
        /// Anchor every this many blocks.
        #[arg(long, default_value_t = 5)]
        anchor_every: u64,
        #[command(flatten)]
        dir: TestnetDir,
    },
    /// Mine a regtest block every few seconds (run by `up`).
    #[command(hide = true)]
    Mine {
        #[command(flatten)]
        dir: TestnetDir,
    },
    /// Start every node; show progress until all are serving and in step.
    Up {
        #[command(flatten)]
        dir: TestnetDir,
    },
    /// Height, peers and last certificate of every node.
    Status {
        #[command(flatten)]
        dir: TestnetDir,
    },
    /// Stop node I (SIGTERM, then SIGKILL after 15 s).
    Stop {
        /// Node index, from 0.
        index: usize,
        #[command(flatten)]
        dir: TestnetDir,
    },
    /// Start node I; show progress until it has caught up.
    Start {
        /// Node index, from 0.
        index: usize,
        #[command(flatten)]
        dir: TestnetDir,
    },
    /// Stop every node (their data stays in DIR).
    Down {
        #[command(flatten)]
        dir: TestnetDir,
    },
}

#[derive(clap::Args)]
struct TestnetDir {
    /// The testnet directory.
    #[arg(long, default_value = ".pantheon/testnet")]
    dir: PathBuf,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct ClientArgs {
    /// The node's JSON-RPC URL.
    #[arg(long, default_value = "http://127.0.0.1:9944")]
    rpc: String,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum WaitFor {
    Finalized,
    Anchored,
}

impl From<WaitFor> for pantheon_rpc::types::Status {
    fn from(w: WaitFor) -> Self {
        match w {
            WaitFor::Finalized => Self::Finalized,
            WaitFor::Anchored => Self::Anchored,
        }
    }
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Register the key as an operator (paid from its own account).
    Register {
        /// The operator's key file.
        #[arg(long)]
        key: PathBuf,
        /// Wait until the registration is finalized.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Generate a key (FIPS 204 seed, PKCS#8 PEM, mode 0600).
    Generate {
        /// Where to write the key.
        #[arg(long)]
        out: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a key's id and public key.
    Show {
        /// The key file.
        file: PathBuf,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(cli)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Keys { command } => keys(command),
        Command::Operator {
            command: OperatorCommand::Register { key, wait, client },
        } => commands::register(&client.rpc, &key, wait, client.json).await,
        Command::Submit {
            key,
            root,
            label,
            records,
            wait,
            client,
        } => {
            commands::submit(
                &client.rpc,
                &key,
                &root,
                label,
                records,
                wait.map(Into::into),
                client.json,
            )
            .await
        }
        Command::Proof {
            id,
            wait,
            no_genesis,
            embed_genesis: _,
            out,
            client,
        } => {
            commands::proof(
                &client.rpc,
                &id,
                wait.map(Into::into),
                !no_genesis,
                out.as_deref(),
            )
            .await
        }
        Command::Anchor { command } => anchor_command(command).await,
        Command::Verify {
            file,
            bitcoin_network,
            confirmations,
            bitcoin_rpc,
            bitcoin_cookie,
            checkpoint,
            genesis,
            genesis_hash,
            root,
            json,
        } => {
            let bitcoin_rpc = bitcoin_rpc.map(|url| {
                let auth = match bitcoin_cookie {
                    Some(c) => pantheon_anchor::Auth::Cookie(c),
                    None => pantheon_anchor::Auth::UserPass {
                        user: std::env::var("BITCOIN_RPC_USER").unwrap_or_default(),
                        password: std::env::var("BITCOIN_RPC_PASSWORD").unwrap_or_default(),
                    },
                };
                pantheon_anchor::BitcoinRpc::new(url, auth)
            });
            commands::verify(&commands::VerifyArgs {
                file,
                genesis,
                genesis_hash,
                bitcoin_network,
                confirmations,
                bitcoin_rpc,
                checkpoint,
                root,
                json,
            })
            .await
        }
        Command::Balance { account, client } => {
            commands::balance(&client.rpc, &account, client.json).await
        }
        Command::Transfer {
            key,
            to,
            amount,
            wait,
            client,
        } => commands::transfer(&client.rpc, &key, &to, &amount, wait, client.json).await,
        Command::Dev {
            home,
            rpc_addr,
            block_time_ms,
            init_only,
            anchor_every,
            bitcoin_block_secs,
            no_bitcoin,
            rpc_timeout_ms,
            json,
        } => {
            dev_command(&home, json)?;
            if init_only {
                return Ok(());
            }
            // Absolute from here on: the config resolves its paths against
            // the home, so a relative home would be applied twice (the
            // anchor key, funded here, was looked for in <home>/<home>/).
            let home = std::path::absolute(&home)?;
            let mut config = dev::config(&home, rpc_addr, block_time_ms)?;
            if let Some(ms) = rpc_timeout_ms {
                config.rpc.header_timeout_ms = ms;
                config.rpc.body_timeout_ms = ms;
                config.validate()?;
            }
            if no_bitcoin {
                return service::run(config).await;
            }
            let key_path = home.join("anchor").join("bitcoin.key");
            std::fs::create_dir_all(home.join("anchor"))?;
            let key = pantheon_anchor::AnchorKey::load_or_create(&key_path)?;
            let bitcoin = devbitcoin::DevBitcoin::start(&home, &key, bitcoin_block_secs).await?;
            eprintln!(
                "pantheon: regtest bitcoind on {} (data in {}), a block every {bitcoin_block_secs} s; anchoring every {anchor_every} blocks",
                bitcoin.node.rpc_url(),
                bitcoin.node.datadir().display()
            );
            config.anchor = Some(config::AnchorConfig {
                network: "regtest".into(),
                bitcoin_rpc: bitcoin.node.rpc_url().to_owned(),
                rpc_cookie: Some(bitcoin.node.cookie_file()),
                rpc_user: None,
                rpc_password: None,
                key: key_path,
                every_blocks: anchor_every,
                confirmations: None,
                fee_rate_sat_vb: None,
            });
            config.validate()?;
            let outcome = service::run(config).await;
            bitcoin.stop().await;
            outcome
        }
        Command::Bench {
            funder,
            operators,
            per_operator,
            rate,
            rpc,
            validators,
        } => {
            bench::run(bench::BenchArgs {
                rpc,
                validators,
                funder,
                operators,
                per_operator,
                rate,
            })
            .await
        }
        Command::Node { config } => service::run(config::Config::load(&config)?).await,
        Command::Testnet { command } => testnet_command(command).await,
    }
}

async fn anchor_command(command: AnchorCommand) -> Result<()> {
    match command {
        AnchorCommand::Address { key, network, json } => {
            let network = config::bitcoin_network(&network)?;
            if let Some(dir) = key.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let k = pantheon_anchor::AnchorKey::load_or_create(&key)?;
            let address = k.address(network);
            if json {
                println!(
                    "{}",
                    json!({ "address": address.to_string(), "network": network.to_string(), "key": key })
                );
            } else {
                println!("{address}");
            }
            Ok(())
        }
        AnchorCommand::Status { client } => {
            let c = client::Client::new(&client.rpc)?;
            let status: serde_json::Value =
                c.call("anchor_status", jsonrpsee::rpc_params![]).await?;
            let anchors: serde_json::Value = c
                .call("anchor_list", jsonrpsee::rpc_params![0, u64::MAX])
                .await?;
            let out = json!({ "engine": status, "recorded": anchors });
            if client.json {
                println!("{out:#}");
            } else {
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            Ok(())
        }
    }
}

async fn testnet_command(command: TestnetCommand) -> Result<()> {
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
            let net = testnet::init(
                &dir.dir,
                &testnet::InitArgs {
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
                    println!("  node {}: rpc {}, p2p {}", n.index, n.rpc_url(), n.p2p);
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
        TestnetCommand::Mine { dir } => testnet::mine(&dir.dir).await,
        TestnetCommand::Up { dir } => print(&testnet::up(&dir.dir, dir.json).await?, dir.json),
        TestnetCommand::Status { dir } => print(&testnet::status(&dir.dir).await?, dir.json),
        TestnetCommand::Start { index, dir } => {
            print(&testnet::start(&dir.dir, index, dir.json).await?, dir.json)
        }
        TestnetCommand::Stop { index, dir } => {
            let was = testnet::stop(&dir.dir, index)?;
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
            let n = testnet::down(&dir.dir)?;
            if dir.json {
                println!("{}", json!({ "stopped": n }));
            } else {
                println!("{n} nodes stopped");
            }
            Ok(())
        }
    }
}

fn keys(command: KeysCommand) -> Result<()> {
    let (key, json) = match command {
        KeysCommand::Generate { out, force, json } => {
            let key = keyfile::generate()?;
            keyfile::write(&out, &key, force)?;
            (key, json)
        }
        KeysCommand::Show { file, json } => (keyfile::read(&file)?, json),
    };
    let public_key = hex::encode(key.public().as_bytes());
    if json {
        println!("{}", json!({ "id": key.id(), "public_key": public_key }));
    } else {
        println!("id:         {}", key.id());
        println!("public key: {public_key}");
    }
    Ok(())
}

fn dev_command(home: &std::path::Path, json: bool) -> Result<()> {
    let (paths, genesis) = dev::init(home)?;
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
