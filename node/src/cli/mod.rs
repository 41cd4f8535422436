//! The `pantheon` command line: the clap tree, and the command bodies in
//! one module each. This is the only part of the crate that prints; the
//! rest logs through `tracing`.
//!
//! - [`keys`]: `keys generate`, `keys show`.
//! - [`operator`]: `operator register`, `submit`, `proof`, `balance`,
//!   `transfer` (through [`crate::client`]).
//! - [`verify`]: `verify`, over [`pantheon_anchor::verify_bundle`].
//! - [`ots`]: OpenTimestamps export: `proof --format ots`, `records prove
//!   --format ots`, `verify --ots-out` (FORMATS 13.1).
//! - [`anchor`]: `anchor address`, `anchor status`.
//! - [`audit`]: `audit supply | checkpoint | consistency`: fetch an audit
//!   document (FORMATS 28), verify it offline, write it.
//! - [`dev`]: `dev`, a one-validator network with a managed regtest bitcoind.
//! - [`testnet`]: `testnet init | up | status | stop | start | down`.
//! - [`bench`]: `bench`, a load tool against running nodes.
//! - [`records`]: `records init | append | run | status | prove | verify`,
//!   the operator library (`pantheon-sdk`) for operators without code.
//! - [`progress`]: progress of long work on stderr (a bar on a terminal,
//!   rate-limited plain lines elsewhere).
//! - [`docs`]: `completions` and `man`, generated from the clap tree
//!   below, so they cannot drift from the commands.
//!
//! Logs (`pantheon node`, `pantheon dev`) go to stderr as text or, with
//! `--log-format json` (or `PANTHEON_LOG_FORMAT=json`), one JSON object per
//! line. Text carries ANSI colour only when stderr is a terminal and
//! `NO_COLOR` is unset, so a log written to a file is plain.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a CLI prints its results"
)]

mod anchor;
mod audit;
mod bench;
mod dev;
mod docs;
mod keys;
mod operator;
mod ots;
pub mod progress;
mod receipt;
mod records;
mod testnet;
mod verify;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::{config, service};

/// Parses the command line, runs the command on a multi-threaded tokio
/// runtime and prints a failure on stderr: exit status 0 means success.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints `value` as JSON, or `human` otherwise.
fn output(json: bool, value: &serde_json::Value, human: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", human());
    }
}

/// How the node writes its logs (`--log-format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (coloured only on a terminal).
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`,
    /// `fields` (with `message`) and the current span.
    Json,
}

/// The environment variable that chooses the log format when
/// `--log-format` is not given.
pub const LOG_FORMAT_ENV: &str = "PANTHEON_LOG_FORMAT";

/// The format chosen for this process (set once by [`run`]).
static LOG_FORMAT: OnceLock<LogFormat> = OnceLock::new();

fn log_format() -> LogFormat {
    LOG_FORMAT.get().copied().unwrap_or_default()
}

/// The log format from the flag, else from [`LOG_FORMAT_ENV`], else text.
///
/// # Errors
/// A value of the environment variable that names no format.
fn resolve_log_format(flag: Option<LogFormat>) -> Result<LogFormat> {
    if let Some(f) = flag {
        return Ok(f);
    }
    match std::env::var(LOG_FORMAT_ENV) {
        Ok(v) if v.is_empty() => Ok(LogFormat::Text),
        Ok(v) => <LogFormat as clap::ValueEnum>::from_str(&v, true)
            .map_err(|_| anyhow::anyhow!("{LOG_FORMAT_ENV}={v:?}: expected text or json")),
        Err(_) => Ok(LogFormat::Text),
    }
}

/// Whether text written to stderr may carry ANSI colour: only on a
/// terminal, and only if `NO_COLOR` is unset or empty (no-color.org).
fn stderr_colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the log subscriber (`RUST_LOG` overrides the default filter)
/// in the chosen format; a second call changes nothing.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "warn,pantheon=info,arc_malachitebft_network=off".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match log_format() {
        LogFormat::Text => builder.with_ansi(stderr_colour()).try_init(),
        LogFormat::Json => builder
            .json()
            .with_ansi(false)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// Tells the user running a node something on stderr: a plain line, or
/// with `--log-format json` a log event (so that every line of the log
/// stays one JSON object).
fn announce(line: &str) {
    match log_format() {
        LogFormat::Text => eprintln!("{line}"),
        LogFormat::Json => {
            init_tracing();
            tracing::info!(target: "pantheon::cli", "{line}");
        }
    }
}

/// Runs a node from `config`, announcing its JSON-RPC address on stderr.
async fn run_node(config: config::Config) -> Result<()> {
    run_node_with(config, |_| {}).await
}

/// As [`run_node`], handing what the node serves to `also` once it serves.
async fn run_node_with(config: config::Config, also: impl FnOnce(&service::Serving)) -> Result<()> {
    init_tracing();
    service::run(config, |serving| {
        announce(&format!(
            "pantheon: JSON-RPC on http://{} (HTTP and WebSocket), chain {}",
            serving.rpc, serving.genesis
        ));
        if let Some(addr) = serving.metrics {
            announce(&format!(
                "pantheon: metrics on http://{addr}/metrics (Prometheus)"
            ));
        }
        also(serving);
    })
    .await
}

/// The command line.
#[derive(Parser)]
#[command(
    name = "pantheon",
    version,
    about = "Pantheon: a public, post-quantum witness for AI audit trails",
    // A flag given twice takes its last value, as Unix tools do (so a
    // wrapper's defaults can be overridden by appending).
    args_override_self = true
)]
pub struct Cli {
    /// Log format of `pantheon node` and `pantheon dev`: `text` (colour
    /// only on a terminal, never with NO_COLOR) or `json` (one object per
    /// line). Default: $PANTHEON_LOG_FORMAT, else text.
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    log_format: Option<LogFormat>,
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
        /// The sequence number to submit under (default: the operator's
        /// next). Sending the same root under the same number again is
        /// idempotent: the node answers with the first receipt.
        #[arg(long)]
        seq: Option<u64>,
        /// Wait until the submission reaches this status.
        #[arg(long, value_enum)]
        wait: Option<WaitFor>,
        /// Write the validator's signed receipt here, with the network's
        /// genesis header, so that `pantheon verify FILE` checks it alone
        /// and `pantheon receipt evidence FILE` can hold the validator to it.
        #[arg(long)]
        receipt_out: Option<PathBuf>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Fetch an audit document (supply proof, checkpoint, consistency
    /// proof: FORMATS 28), verify it offline and write it.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Validators' signed receipts: whether a promise was kept.
    Receipt {
        #[command(subcommand)]
        command: ReceiptCommand,
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
        #[arg(long, required_if_eq("format", "ots"))]
        out: Option<PathBuf>,
        /// `json`: the proof bundle; `ots`: an OpenTimestamps file of its
        /// hash path, from the audit root to Bitcoin (FORMATS 13.1),
        /// written only for an anchored bundle that verifies.
        #[arg(
            long,
            value_enum,
            default_value = "json",
            conflicts_with = "no_genesis"
        )]
        format: ots::Format,
        /// With `--format ots`: the Bitcoin block's height (default: the
        /// height the node's anchor record names).
        #[arg(long)]
        bitcoin_height: Option<u64>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Check a proof bundle, record proof, export, receipt or audit
    /// document offline; names the first failing link.
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
        /// Also write, if the bundle or record proof is valid and
        /// anchored, its OpenTimestamps file (FORMATS 13.1) here.
        #[arg(long)]
        ots_out: Option<PathBuf>,
        /// With `--ots-out`: the Bitcoin block's height, when neither the
        /// bundle (version 1 records it) nor `--bitcoin-rpc` gives it.
        #[arg(long, requires = "ots_out")]
        bitcoin_height: Option<u64>,
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
    Dev(dev::DevArgs),
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
    /// An operator's audit records: seal, batch, submit, prove.
    Records {
        #[command(subcommand)]
        command: records::RecordsCommand,
    },
    /// Run a node from a TOML configuration file.
    Node {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Print a shell completion script (generated from this command line).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages: pantheon.1 and one per subcommand (pantheon-submit.1, ...).
    Man {
        /// The directory to write them into (created if missing).
        #[arg(long)]
        out: PathBuf,
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
pub(crate) enum WaitFor {
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
enum ReceiptCommand {
    /// Ask a node whether a receipt's promise was kept; once its deadline
    /// has passed without the submission being finalized, write the
    /// evidence against the validator (checked offline before it is
    /// written; `pantheon verify FILE` checks it again anywhere).
    Evidence {
        /// The receipt (from `pantheon submit --receipt-out`, or a node's
        /// `pantheon_submitRoot` answer).
        file: PathBuf,
        /// Write the evidence here (default: print it).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        client: ClientArgs,
    },
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

/// Runs the command `cli` names.
///
/// # Errors
/// The command's failure, for `main` to print.
pub async fn run(cli: Cli) -> Result<()> {
    let format = resolve_log_format(cli.log_format)?;
    // Set once per process: a second `run` (in tests) keeps the first.
    let _ = LOG_FORMAT.set(format);
    match cli.command {
        Command::Keys { command } => keys::run(command),
        Command::Operator {
            command: OperatorCommand::Register { key, wait, client },
        } => operator::register(&client.rpc, &key, wait, client.json).await,
        Command::Submit {
            key,
            root,
            label,
            records,
            seq,
            wait,
            receipt_out,
            client,
        } => {
            operator::submit(
                &client.rpc,
                &key,
                &root,
                label,
                records,
                seq,
                wait.map(Into::into),
                receipt_out.as_deref(),
            )
            .await
        }
        Command::Audit { command } => audit::run(command).await,
        Command::Receipt {
            command: ReceiptCommand::Evidence { file, out, client },
        } => receipt::evidence(&client.rpc, &file, out.as_deref(), client.json).await,
        Command::Proof {
            id,
            wait,
            no_genesis: _,
            embed_genesis: _,
            out,
            format: ots::Format::Ots,
            bitcoin_height,
            client,
        } => {
            let ots = ots::OtsArgs {
                out: out.context("--format ots needs --out FILE")?,
                bitcoin_height,
                node_claim: None,
            };
            ots::proof(&client.rpc, &id, wait.map(Into::into), ots, client.json).await
        }
        Command::Proof {
            id,
            wait,
            no_genesis,
            embed_genesis: _,
            out,
            format: ots::Format::Json,
            bitcoin_height: _,
            client,
        } => {
            operator::proof(
                &client.rpc,
                &id,
                wait.map(Into::into),
                !no_genesis,
                out.as_deref(),
            )
            .await
        }
        Command::Anchor { command } => anchor::run(command).await,
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
            ots_out,
            bitcoin_height,
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
            let args = verify::VerifyArgs {
                file,
                genesis,
                genesis_hash,
                bitcoin_network,
                confirmations,
                bitcoin_rpc,
                checkpoint,
                root,
                json,
            };
            match ots_out {
                None => verify::verify(&args).await,
                Some(out) => {
                    let bytes = std::fs::read(&args.file)
                        .with_context(|| format!("reading {}", args.file.display()))?;
                    let ots = ots::OtsArgs {
                        out,
                        bitcoin_height,
                        node_claim: None,
                    };
                    ots::export(&bytes, &args, &ots).await
                }
            }
        }
        Command::Balance { account, client } => {
            operator::balance(&client.rpc, &account, client.json).await
        }
        Command::Transfer {
            key,
            to,
            amount,
            wait,
            client,
        } => operator::transfer(&client.rpc, &key, &to, &amount, wait, client.json).await,
        Command::Dev(args) => dev::run(&args).await,
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
        Command::Node { config } => run_node(config::Config::load(&config)?).await,
        Command::Testnet { command } => testnet::run(command).await,
        Command::Records { command } => records::run(command).await,
        Command::Completions { shell } => {
            docs::completions(shell, &mut std::io::stdout().lock())?;
            Ok(())
        }
        Command::Man { out } => {
            let written = docs::man_pages(&out)?;
            eprintln!("{} man pages written to {}", written.len(), out.display());
            Ok(())
        }
    }
}
