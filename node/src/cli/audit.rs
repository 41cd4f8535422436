//! `pantheon audit supply | checkpoint | consistency`: fetch an audit
//! document (FORMATS 28) from a node, check it offline exactly as
//! `pantheon verify FILE` would, and write it only if it verifies.
//!
//! The node is asked for the document with its genesis embedded, so that
//! the check needs nothing else; `--no-genesis` leaves the genesis out of
//! the file written (a verifier then supplies it with `--genesis FILE`).
//! `--genesis FILE` / `--genesis-hash HEX` pin the network here as they do
//! for `pantheon verify`: without them the verdict holds for the network
//! the node names, and says so.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use pantheon_rpc::api::PantheonRpcClient;

use super::verify::{Judged, Refusal, VerifyArgs, judge_bytes};
use super::{ClientArgs, output};
use crate::client::Client;

/// The `pantheon audit` subcommands.
#[derive(Subcommand)]
pub(super) enum AuditCommand {
    /// The supply audit after a block, as a proof against its state root:
    /// every account record, certified (FORMATS 28.2).
    Supply {
        /// The block height (default: the node's head).
        #[arg(long)]
        height: Option<u64>,
        #[command(flatten)]
        save: SaveArgs,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The signed checkpoint (log size and root) after a block (28.3).
    Checkpoint {
        /// The block height (default: the node's head).
        #[arg(long)]
        height: Option<u64>,
        #[command(flatten)]
        save: SaveArgs,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// An RFC 9162 consistency proof between two log sizes, each end
    /// certified (28.4): the log of OLD_SIZE leaves is a prefix of the
    /// log of NEW_SIZE leaves.
    Consistency {
        /// The older log size (e.g. the `log_size` of the last checkpoint
        /// you verified).
        old_size: u64,
        /// The newer log size (default: the log size at the node's head).
        new_size: Option<u64>,
        #[command(flatten)]
        save: SaveArgs,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// Where the document goes and what pins its network.
#[derive(clap::Args)]
pub(super) struct SaveArgs {
    /// Write the document here (default: print it).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Leave the genesis header out of the file written.
    #[arg(long)]
    no_genesis: bool,
    /// The network's genesis file: the document must be for it.
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Pin the network by its genesis hash.
    #[arg(long)]
    genesis_hash: Option<String>,
}

/// Runs `pantheon audit ...`.
///
/// # Errors
/// RPC errors, a document that does not verify (nothing is written), or
/// an unwritable file.
pub(super) async fn run(command: AuditCommand) -> Result<()> {
    let (document, save, client) = match command {
        AuditCommand::Supply {
            height,
            save,
            client,
        } => {
            let c = Client::new(&client.rpc)?;
            let doc = c.answer(c.rpc().get_supply_proof(height, Some(true)).await)?;
            (serde_json::to_value(doc)?, save, client)
        }
        AuditCommand::Checkpoint {
            height,
            save,
            client,
        } => {
            let c = Client::new(&client.rpc)?;
            let doc = c.answer(c.rpc().get_checkpoint(height, Some(true)).await)?;
            (serde_json::to_value(doc)?, save, client)
        }
        AuditCommand::Consistency {
            old_size,
            new_size,
            save,
            client,
        } => {
            let c = Client::new(&client.rpc)?;
            let new_size = match new_size {
                Some(n) => n,
                None => {
                    c.answer(c.rpc().get_checkpoint(None, Some(false)).await)?
                        .log_size
                }
            };
            let doc = c.answer(
                c.rpc()
                    .get_consistency_proof(old_size, new_size, Some(true))
                    .await,
            )?;
            (serde_json::to_value(doc)?, save, client)
        }
    };
    save_verified(document, &save, client.json).await
}

/// Checks `document` as `pantheon verify` does, then writes or prints it.
async fn save_verified(mut document: serde_json::Value, save: &SaveArgs, json: bool) -> Result<()> {
    let bytes = serde_json::to_vec(&document)?;
    let mut args = VerifyArgs::offline(json);
    args.genesis.clone_from(&save.genesis);
    args.genesis_hash.clone_from(&save.genesis_hash);
    let (verdict, human) = match judge_bytes(&bytes, &args).await {
        Ok(Judged::Audit(verdict, human)) => (verdict, human),
        Ok(_) => bail!("the node answered with something other than an audit document"),
        Err(Refusal::Audit(e)) => bail!(
            "the node's answer does not verify ({} link failed: {}); nothing written",
            e.link,
            e.reason
        ),
        Err(Refusal::Link(e)) => bail!("the node's answer does not verify: {e}"),
        Err(Refusal::Input(e)) => return Err(e),
    };
    if save.no_genesis
        && let Some(map) = document.as_object_mut()
    {
        map.remove("genesis");
    }
    let text = serde_json::to_string_pretty(&document)? + "\n";
    match &save.out {
        Some(path) => write(path, &text)?,
        None => print!("{text}"),
    }
    // The verdict goes to stderr when the document is on stdout.
    if save.out.is_some() {
        output(json, &verdict, || human);
    } else if json {
        eprintln!("{verdict}");
    } else {
        eprintln!("{human}");
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    pantheon_anchor::fsio::write_atomic(path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("written to {}", path.display());
    Ok(())
}
