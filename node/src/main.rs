//! `pantheon`: the Pantheon node and command-line tool.
//!
//! One binary for all three users: operators (`keys`, later `submit`,
//! `proof`), verifiers (later `verify`) and validators (`dev`, later `node`,
//! `testnet`). Commands print a human-readable result, or JSON with
//! `--json`; exit status 0 means success, anything else names the failure
//! on stderr.
#![allow(clippy::print_stdout, reason = "a CLI prints its results")]

mod api;
mod chain;
mod client;
mod config;
mod dev;
mod keyfile;
mod mempool;
mod store;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use pantheon_runtime::amount::{Amount, SUPPLY};
use pantheon_runtime::ledger::Ledger;
use serde_json::json;

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
    /// Prepare a one-validator development network in a home directory.
    Dev {
        /// The network's home directory.
        #[arg(long, default_value = ".pantheon/dev")]
        home: PathBuf,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
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
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Keys { command } => keys(command),
        Command::Dev { home, json } => dev_command(&home, json),
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
        println!("Block production and JSON-RPC arrive with the node (issue #3).");
    }
    Ok(())
}
