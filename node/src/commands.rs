//! Client and verifier commands: `submit`, `proof`, `verify`, `balance`,
//! `transfer`, `operator register`. Each prints a human-readable result or,
//! with `--json`, one JSON document.

use std::path::Path;

use anyhow::{Context, Result, bail};
use jsonrpsee::rpc_params;
use pantheon_rpc::types::{BalanceInfo, Status};
use pantheon_runtime::amount::Amount;
use pantheon_runtime::crypto::{AccountId, KeyCache};
use pantheon_runtime::hash::{AuditRoot, GenesisHash};
use pantheon_runtime::proof::ProofBundle;
use pantheon_runtime::tx::Metadata;
use serde_json::json;

use crate::client::{self, Client};

/// Prints `value` as JSON, or `human` otherwise.
fn output(json: bool, value: &serde_json::Value, human: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", human());
    }
}

/// `pantheon submit`.
pub async fn submit(
    rpc: &str,
    key: &Path,
    root: &str,
    label: Option<String>,
    records: Option<u64>,
    wait: Option<Status>,
    json: bool,
) -> Result<()> {
    let key = client::key(key)?;
    let root: AuditRoot = root
        .parse()
        .with_context(|| format!("--root must be 64 hex digits, got {root:?}"))?;
    let metadata = Metadata::new(label.unwrap_or_default(), records)?;
    let client = Client::new(rpc)?;
    let receipt = client.submit(&key, root, metadata).await?;
    let mut value = serde_json::to_value(&receipt)?;
    if let Some(status) = wait {
        let info = client.wait_for(&receipt.id.to_string(), status).await?;
        value = serde_json::to_value(&info)?;
    }
    // The receipt is always JSON: operators' scripts parse it.
    let _ = json;
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
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("proof bundle written to {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// How `pantheon verify` checks a bundle's Bitcoin part.
pub struct BitcoinCheck {
    /// The Bitcoin network the anchor is on.
    pub network: pantheon_anchor::bitcoin::Network,
    /// Confirmations required (default 1 on regtest, 6 elsewhere).
    pub confirmations: Option<u32>,
    /// A live bitcoind to check the block is in the best chain.
    pub rpc: Option<pantheon_anchor::BitcoinRpc>,
    /// A trusted Bitcoin block the headers must reach.
    pub checkpoint: Option<pantheon_anchor::Checkpoint>,
}

/// Which network `pantheon verify` trusts.
pub struct GenesisTrust {
    /// The network's genesis file (`--genesis`): supplies the validator
    /// set to a bundle that does not embed it, and pins its hash.
    pub file: Option<std::path::PathBuf>,
    /// A trusted genesis hash (`--genesis-hash`).
    pub hash: Option<String>,
}

impl GenesisTrust {
    /// The trusted hash, after giving `bundle` the genesis file's header.
    fn apply(&self, bundle: &mut ProofBundle) -> Result<Option<GenesisHash>> {
        let mut trusted: Option<GenesisHash> = self
            .hash
            .as_deref()
            .map(str::parse)
            .transpose()
            .context("--genesis-hash must be 64 hex digits")?;
        if let Some(path) = &self.file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let genesis: pantheon_runtime::genesis::Genesis = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a genesis file", path.display()))?;
            if let Some(t) = trusted.filter(|t| *t != genesis.hash()) {
                bail!(
                    "{} has genesis hash {}, not the --genesis-hash {t}",
                    path.display(),
                    genesis.hash()
                );
            }
            trusted = Some(genesis.hash());
            bundle.supply_genesis(genesis.header());
        }
        Ok(trusted)
    }
}

/// `pantheon verify`: checks a bundle offline (and, with `--bitcoin-rpc`,
/// its Bitcoin block against a live node), naming the first failing link.
///
/// # Errors
/// An unreadable file, or an invalid bundle (the failing link).
pub async fn verify(
    file: &Path,
    genesis: &GenesisTrust,
    json: bool,
    bitcoin: &BitcoinCheck,
) -> Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut bundle: ProofBundle = serde_json::from_str(&text)
        .with_context(|| format!("{}: format link failed: not a proof bundle", file.display()))?;
    let trusted = genesis.apply(&mut bundle)?;
    let fail = |link: &str, reason: String| -> Result<()> {
        if json {
            println!(
                "{}",
                json!({ "valid": false, "failed_link": link, "reason": reason })
            );
        }
        bail!("INVALID: {link} link failed: {reason}")
    };
    let v = match bundle.verify(trusted, &KeyCache::new(64)) {
        Ok(v) => v,
        Err(e) => {
            return fail(&e.link.to_string(), e.reason.clone());
        }
    };
    let mut links = "genesis, submission signature, header, certificate, log path".to_owned();
    let mut bitcoin_summary = None;
    if let (Some(claim), Some(part)) = (&v.anchor, bundle.anchor.as_ref().map(|a| &a.bitcoin)) {
        let network = bitcoin.network;
        let regtest = network == pantheon_anchor::bitcoin::Network::Regtest;
        let k = bitcoin.confirmations.unwrap_or(if regtest { 1 } else { 6 });
        if !regtest && bitcoin.rpc.is_none() && bitcoin.checkpoint.is_none() {
            return fail(
                "bitcoin",
                format!(
                    "headers alone are cheap to forge on {network}: give --bitcoin-rpc URL or --checkpoint HEIGHT:HASH"
                ),
            );
        }
        let anchored =
            match pantheon_anchor::spv::verify(part, &claim.commitment.hash(), network, k) {
                Ok(a) => a,
                Err(e) => return fail("bitcoin", e.to_string()),
            };
        if let Some(cp) = &bitcoin.checkpoint
            && let Err(e) = anchored.check_checkpoint(cp)
        {
            return fail("bitcoin", e.to_string());
        }
        let mut live = String::new();
        if let Some(rpc) = &bitcoin.rpc {
            match pantheon_anchor::spv::check_best_chain(rpc, part, network, k).await {
                Ok(status) => live = format!(", in the best chain of {} ({status:?})", rpc.url()),
                Err(e) => return fail("bitcoin", e.to_string()),
            }
        }
        links.push_str(if claim.recorded_by.is_some() {
            ", history, anchor record, bitcoin"
        } else {
            ", history, bitcoin"
        });
        bitcoin_summary = Some(format!(
            "\n  anchored     block {} (commitment {})\n  bitcoin      tx {} in block {} on {network}, {} confirmations carried{live}",
            claim.height,
            claim.commitment,
            anchored.txid,
            anchored.block_hash,
            anchored.confirmations
        ));
    }
    output(json, &json!({ "valid": true, "proof": v }), || {
        format!(
            "VALID\n  root         {}\n  submission   {}\n  operator     {} (seq {})\n  block        {} at height {} ({} of {} validators signed)\n  network      {} ({}){}\n  links        {links}",
            v.root,
            v.submission_id,
            v.operator,
            v.seq,
            v.block_hash,
            v.height,
            v.signers.0,
            v.signers.1,
            v.chain_id,
            v.genesis_hash,
            bitcoin_summary.clone().unwrap_or_default(),
        )
    });
    Ok(())
}

/// `pantheon balance`.
pub async fn balance(rpc: &str, account: &str, json: bool) -> Result<()> {
    let id: AccountId = resolve_account(account)?;
    let client = Client::new(rpc)?;
    let b: BalanceInfo = client
        .call("pan_getBalance", rpc_params![id.to_string()])
        .await?;
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
