//! `pantheon receipt evidence` and the receipt side of `pantheon verify`:
//! a validator's signed receipt (FORMATS 26) checked offline, and, once
//! its deadline has passed without the submission being finalized, the
//! evidence that proves it (assembled from a node's answers, then checked
//! here exactly as a stranger's verifier would before it is written).

use std::path::Path;

use anyhow::{Context, Result, bail};
use pantheon_rpc::api::PantheonRpcClient;
use pantheon_rpc::types::Status;
use pantheon_runtime::crypto::KeyCache;
use pantheon_runtime::genesis::GenesisHeader;
use pantheon_runtime::hash::GenesisHash;
use pantheon_runtime::receipt::{
    Breach, EVIDENCE_VERSION, ReceiptEvidence, ReceiptFacts, SignedReceipt, carried_genesis,
    verify_evidence, verify_receipt,
};
use serde_json::{Value, json};

use super::output;
use super::verify::Refusal;
use crate::client::Client;

/// Reads a receipt: the document of FORMATS 26.2, or a node's answer to
/// `pantheon_submitRoot` (`pantheon submit`'s output) holding one.
///
/// # Errors
/// Not JSON, no receipt in it, or a malformed receipt (the `format` link).
pub fn read_receipt(bytes: &[u8]) -> Result<SignedReceipt, Refusal> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Refusal::Input(anyhow::anyhow!("not JSON: {e}")))?;
    let inner = match value.get("receipt") {
        Some(Value::Object(_)) => value.get("receipt").cloned(),
        Some(Value::Null) => {
            return Err(Refusal::Input(anyhow::anyhow!(
                "this answer carries no receipt (`receipt: null`): the node is a full node, or \
                 the submission was finalized already"
            )));
        }
        _ => None,
    };
    let doc = match inner {
        Some(v) => serde_json::to_vec(&v).map_err(|e| Refusal::Input(e.into()))?,
        None => bytes.to_vec(),
    };
    SignedReceipt::from_slice(&doc).map_err(Refusal::Link)
}

/// Whether `bytes` hold a receipt or receipt evidence (for `pantheon
/// verify`'s dispatch).
#[must_use]
pub fn is_receipt_document(bytes: &[u8]) -> bool {
    ReceiptEvidence::is_evidence(bytes) || SignedReceipt::is_receipt(bytes)
}

/// What `pantheon verify` found in a receipt document.
pub enum ReceiptJudged {
    /// A valid receipt, and whether the network was pinned.
    Receipt(Box<ReceiptFacts>, bool),
    /// Valid evidence of a broken receipt, and whether pinned.
    Evidence(Box<Breach>, bool),
}

/// The genesis a receipt is checked under: the verifier's `--genesis`
/// (which pins), else the one the receipt carries, held to `pinned`.
fn receipt_genesis(
    receipt: &SignedReceipt,
    given: Option<&GenesisHeader>,
    pinned: Option<GenesisHash>,
) -> Result<(GenesisHeader, bool), Refusal> {
    let carried = carried_genesis(receipt.genesis.as_deref()).map_err(Refusal::Link)?;
    let (genesis, by_file) = match (given, carried) {
        (Some(g), _) => (g.clone(), true),
        (None, Some(c)) => (c, false),
        (None, None) => {
            return Err(Refusal::Input(anyhow::anyhow!(
                "a receipt names its validator by key id: give the network's genesis \
                 (--genesis FILE), or a receipt that carries it (pantheon submit --receipt-out)"
            )));
        }
    };
    if let Some(p) = pinned
        && p != genesis.hash()
    {
        return Err(Refusal::Link(pantheon_runtime::proof::ProofError {
            link: pantheon_runtime::proof::Link::Genesis,
            reason: format!("the genesis is {}, the pinned one {p}", genesis.hash()),
        }));
    }
    Ok((genesis, by_file || pinned.is_some()))
}

/// Judges a receipt or evidence document under the verifier's trust.
///
/// # Errors
/// The failing link, or unusable inputs.
pub fn judge(
    bytes: &[u8],
    given: Option<&GenesisHeader>,
    pinned: Option<GenesisHash>,
) -> Result<ReceiptJudged, Refusal> {
    let keys = KeyCache::new(16);
    if ReceiptEvidence::is_evidence(bytes) {
        let evidence = ReceiptEvidence::from_slice(bytes).map_err(Refusal::Link)?;
        let pin = pinned.or(given.map(GenesisHeader::hash));
        let breach = verify_evidence(&evidence, pin, &keys).map_err(Refusal::Link)?;
        return Ok(ReceiptJudged::Evidence(Box::new(breach), pin.is_some()));
    }
    let receipt = read_receipt(bytes)?;
    let (genesis, pinned) = receipt_genesis(&receipt, given, pinned)?;
    let facts = verify_receipt(&receipt, &genesis, &keys).map_err(Refusal::Link)?;
    Ok(ReceiptJudged::Receipt(Box::new(facts), pinned))
}

fn utc_ms(ms: u64) -> String {
    humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
        .to_string()
}

/// The verdict's JSON and its human form.
#[must_use]
pub fn describe(judged: &ReceiptJudged) -> (Value, String) {
    match judged {
        ReceiptJudged::Receipt(f, pinned) => (
            json!({ "valid": true, "receipt": f, "trust": { "genesis_pinned": pinned },
                    "links": ["format", "genesis", "validator", "batch", "signature"] }),
            format!(
                "VALID receipt\n  promise      validator {} ({}) of network {} holds submission {} \
                 durably and will see it finalized by height {}\n  submission   operator {} seq {}\n  received     {} (the validator's clock)\n  rests on     {}\n  not shown    whether the promise was kept: `pantheon receipt evidence` checks with a node",
                f.validator_index,
                f.validator,
                f.genesis_hash,
                f.submission,
                f.deadline,
                f.operator,
                f.seq,
                utc_ms(f.received_at_ms),
                if *pinned {
                    "the genesis you gave (its validator keys)"
                } else {
                    "the genesis the receipt carries, NOT pinned (give --genesis or --genesis-hash)"
                },
            ),
        ),
        ReceiptJudged::Evidence(b, pinned) => (
            json!({ "valid": true, "breach": b, "trust": { "genesis_pinned": pinned },
                    "links": ["format", "genesis", "validator", "batch", "signature", "header",
                              "deadline", "certificate", "state"] }),
            format!(
                "VALID evidence of a broken receipt\n  validator    {} ({}) of network {} promised submission {} (operator {} seq {}) finalized by height {}\n  broken       block {} ({}), certified by the network's validators, is past the deadline and its state gives the operator next seq {}: seq {} was not finalized\n  rests on     {}",
                b.receipt.validator_index,
                b.receipt.validator,
                b.receipt.genesis_hash,
                b.receipt.submission,
                b.receipt.operator,
                b.receipt.seq,
                b.receipt.deadline,
                b.height,
                utc_ms(b.block_time_ms),
                b.next_seq,
                b.receipt.seq,
                if *pinned {
                    "the genesis you pinned"
                } else {
                    "the genesis the evidence carries, NOT pinned (give --genesis or --genesis-hash)"
                },
            ),
        ),
    }
}

/// `pantheon receipt evidence`: asks a node whether a receipt's promise
/// was kept; if the deadline has passed and it was not, assembles the
/// evidence, verifies it offline and writes it.
///
/// # Errors
/// Unreadable receipt, RPC errors, or evidence that does not verify.
pub async fn evidence(rpc: &str, file: &Path, out: Option<&Path>, json_out: bool) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let receipt = match read_receipt(&bytes) {
        Ok(r) => r,
        Err(Refusal::Input(e)) => return Err(e),
        Err(Refusal::Link(e)) => bail!("INVALID receipt: {} link failed: {}", e.link, e.reason),
        Err(Refusal::Audit(e)) => bail!("INVALID receipt: {} link failed: {}", e.link, e.reason),
    };
    let client = Client::new(rpc)?;
    let genesis = client.answer(client.rpc().get_genesis().await)?;
    if genesis.hash != receipt.genesis_hash {
        bail!(
            "the node at {rpc} is on network {}, the receipt on {}",
            genesis.hash,
            receipt.genesis_hash
        );
    }
    let header: GenesisHeader = carried_genesis(Some(&genesis.header))
        .map_err(|e| anyhow::anyhow!("the node's genesis: {}", e.reason))?
        .context("the node sent no genesis")?;
    if let Err(e) = verify_receipt(&receipt, &header, &KeyCache::new(16)) {
        bail!("INVALID receipt: {} link failed: {}", e.link, e.reason);
    }
    let status = client
        .rpc()
        .get_submission(receipt.submission.to_string())
        .await;
    if let Ok(info) = &status
        && matches!(info.status, Status::Finalized | Status::Anchored)
    {
        let h = info.height.map_or(0, pantheon_runtime::amount::Height::get);
        let kept = h <= receipt.deadline.get();
        let value = json!({ "verdict": if kept { "kept" } else { "late" }, "height": h,
                            "deadline": receipt.deadline, "status": info.status });
        super::output(json_out, &value, || {
            format!(
                "{}: submission {} finalized at height {h} (deadline {})",
                if kept { "KEPT" } else { "KEPT LATE" },
                receipt.submission,
                receipt.deadline
            )
        });
        return Ok(());
    }
    let state = client.answer(
        client
            .rpc()
            .get_account_state(receipt.operator.to_string())
            .await,
    )?;
    if state.height < receipt.deadline {
        let value = json!({ "verdict": "pending", "height": state.height,
                            "deadline": receipt.deadline });
        output(json_out, &value, || {
            format!(
                "PENDING: submission {} not finalized yet; the node is at height {}, the deadline is {}",
                receipt.submission, state.height, receipt.deadline
            )
        });
        return Ok(());
    }
    let evidence = ReceiptEvidence {
        receipt_evidence: EVIDENCE_VERSION,
        receipt: SignedReceipt {
            genesis: None,
            ..receipt
        },
        genesis: genesis.header,
        header: state.header,
        certificate: state.certificate,
        state: state.state,
    };
    let text = serde_json::to_string_pretty(&evidence)? + "\n";
    // Checked as a stranger would, before anyone is shown it.
    let breach = match verify_evidence(&evidence, Some(genesis.hash), &KeyCache::new(16)) {
        Ok(b) => b,
        Err(e) => bail!(
            "no evidence: {} link failed: {} (the node's answer does not prove a breach)",
            e.link,
            e.reason
        ),
    };
    if let Some(path) = out {
        pantheon_anchor::fsio::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("evidence written to {}", path.display());
    }
    let judged = ReceiptJudged::Evidence(Box::new(breach), true);
    let (mut value, human) = describe(&judged);
    value["verdict"] = json!("breach");
    if out.is_none() {
        value["evidence"] = serde_json::to_value(&evidence)?;
    }
    output(json_out, &value, || {
        if out.is_none() {
            format!("BREACH\n{human}\n{text}")
        } else {
            format!("BREACH\n{human}")
        }
    });
    Ok(())
}

/// Writes the receipt of a `pantheon_submitRoot` answer with the network's
/// genesis header embedded, so that it verifies from the file alone.
///
/// # Errors
/// No receipt in the answer, RPC errors, an unwritable file.
pub async fn save(client: &Client, receipt: Option<&SignedReceipt>, path: &Path) -> Result<()> {
    let Some(receipt) = receipt else {
        bail!(
            "the node answered without a signed receipt (a full node, or the submission was \
             finalized already): nothing written to {}",
            path.display()
        );
    };
    let genesis = client.answer(client.rpc().get_genesis().await)?;
    let header = carried_genesis(Some(&genesis.header))
        .map_err(|e| anyhow::anyhow!("the node's genesis: {}", e.reason))?
        .context("the node sent no genesis")?;
    let doc = receipt.clone().with_genesis(&header);
    let text = serde_json::to_string_pretty(&doc)? + "\n";
    pantheon_anchor::fsio::write_atomic(path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("receipt written to {}", path.display());
    Ok(())
}
