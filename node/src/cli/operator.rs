//! Client commands: `submit`, `proof`, `balance`, `transfer`, `operator
//! register`. Each prints a human-readable result or, with `--json`, one
//! JSON document.

use std::path::Path;

use anyhow::{Context, Result, bail};
use pantheon_rpc::types::Status;
use pantheon_runtime::amount::Amount;
use pantheon_runtime::crypto::AccountId;
use pantheon_runtime::hash::AuditRoot;
use pantheon_runtime::tx::Metadata;

use super::output;
use crate::client::{self, Client};

/// `pantheon submit`.
#[allow(
    clippy::too_many_arguments,
    reason = "one per flag of `pantheon submit`, passed straight from clap"
)]
pub async fn submit(
    rpc: &str,
    key: &Path,
    root: &str,
    label: Option<String>,
    records: Option<u64>,
    seq: Option<u64>,
    wait: Option<Status>,
    receipt_out: Option<&Path>,
) -> Result<()> {
    let key = client::key(key)?;
    let root: AuditRoot = root
        .parse()
        .with_context(|| format!("--root must be 64 hex digits, got {root:?}"))?;
    let metadata = Metadata::new(label.unwrap_or_default(), records)?;
    let client = Client::new(rpc)?;
    let receipt = client.submit(&key, root, metadata, seq).await?;
    if let Some(path) = receipt_out {
        super::receipt::save(&client, receipt.receipt.as_ref(), path).await?;
    }
    let mut value = serde_json::to_value(&receipt)?;
    if let Some(status) = wait {
        let info = client.wait_for(&receipt.id.to_string(), status).await?;
        value = serde_json::to_value(&info)?;
    }
    // The receipt is always JSON (`--json` or not): operators' scripts parse it.
    println!("{value}");
    Ok(())
}

/// `pantheon proof`.
pub async fn proof(
    rpc: &str,
    id: &str,
    wait: Option<Status>,
    embed_genesis: bool,
    out: Option<&Path>,
) -> Result<()> {
    let client = Client::new(rpc)?;
    if let Some(status) = wait {
        client.wait_for(id, status).await?;
    }
    let bundle = client.proof(id, embed_genesis).await?;
    let text = serde_json::to_string_pretty(&bundle)? + "\n";
    match out {
        Some(path) => {
            pantheon_anchor::fsio::write_atomic(path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("proof bundle written to {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// `pantheon balance`.
pub async fn balance(rpc: &str, account: &str, json: bool) -> Result<()> {
    let id: AccountId = resolve_account(account)?;
    let client = Client::new(rpc)?;
    let b = client.balance(&id).await?;
    output(json, &serde_json::to_value(&b)?, || {
        format!(
            "{} PAN (account {}, nonce {}, height {})",
            b.balance_pan, b.account, b.nonce, b.height
        )
    });
    Ok(())
}

/// An account id in hex, or the id of a key file.
fn resolve_account(text: &str) -> Result<AccountId> {
    if let Ok(id) = text.parse() {
        return Ok(id);
    }
    let path = Path::new(text);
    if path.exists() {
        return Ok(client::key(path)?.id());
    }
    bail!("{text:?} is neither a 64-hex-digit account id nor a key file")
}

/// `pantheon transfer`.
pub async fn transfer(
    rpc: &str,
    key: &Path,
    to: &str,
    amount: &str,
    wait: bool,
    json: bool,
) -> Result<()> {
    let key = client::key(key)?;
    let to = resolve_account(to)?;
    let amount: Amount = amount.parse()?;
    let client = Client::new(rpc)?;
    let (receipt, nonce) = client.transfer(&key, to, amount).await?;
    if wait {
        client.wait_nonce(&key.id(), nonce).await?;
    }
    output(json, &serde_json::to_value(&receipt)?, || {
        format!("transfer of {amount} PAN to {to} accepted ({})", receipt.id)
    });
    Ok(())
}

/// `pantheon operator register`.
pub async fn register(rpc: &str, key: &Path, wait: bool, json: bool) -> Result<()> {
    let key = client::key(key)?;
    let client = Client::new(rpc)?;
    let (receipt, nonce) = client.register(&key).await?;
    if wait {
        client.wait_nonce(&key.id(), nonce).await?;
    }
    output(json, &serde_json::to_value(&receipt)?, || {
        format!(
            "operator {} registration accepted ({})",
            key.id(),
            receipt.id
        )
    });
    Ok(())
}
