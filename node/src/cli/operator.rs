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
use super::progress::{Mode, Progress};
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
        let info = wait_status(&client, &receipt.id.to_string(), status).await?;
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
        wait_status(&client, id, status).await?;
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
        wait_final(&client, &key.id(), nonce, "transfer").await?;
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
        wait_final(&client, &key.id(), nonce, "registration").await?;
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

/// A status's name as the JSON answers spell it.
fn status_name(status: Status) -> &'static str {
    match status {
        Status::Received => "received",
        Status::Finalized => "finalized",
        Status::Anchored => "anchored",
    }
}

/// `--wait STATUS` of a submission, showing its status and the time
/// waited on stderr.
async fn wait_status(
    client: &Client,
    id: &str,
    status: Status,
) -> Result<pantheon_rpc::types::SubmissionInfo> {
    let mut progress = Progress::waiting(
        &format!("waiting for {}", status_name(status)),
        Mode::detect(false),
    );
    let result = client
        .wait_for_with(id, status, |info| {
            let at = info
                .height
                .map(|h| format!(" at height {h}"))
                .unwrap_or_default();
            progress.set_state(format!("status {}{at}", status_name(info.status)));
        })
        .await;
    match &result {
        Ok(info) => progress.finish(&format!("status {}", status_name(info.status))),
        Err(_) => progress.abandon(),
    }
    result
}

/// `--wait` of an account transaction (`what`): until the account's
/// nonce passes `nonce`, showing the chain's height and the time waited.
async fn wait_final(client: &Client, account: &AccountId, nonce: u64, what: &str) -> Result<()> {
    let mut progress = Progress::waiting(
        &format!("waiting for the {what} to be finalized"),
        Mode::detect(false),
    );
    let result = client
        .wait_nonce_with(account, nonce, |b| {
            progress.set_state(format!("chain at height {}", b.height));
        })
        .await;
    match &result {
        Ok(()) => progress.finish("finalized"),
        Err(_) => progress.abandon(),
    }
    result
}
