//! `pantheon verify`: reads the bundle and the trust the user gives, asks a
//! live bitcoind if one is named, lets [`pantheon_anchor::verify_bundle`]
//! judge, and prints the verdict and what it rests on.

use anyhow::{Context, Result, bail};
use pantheon_runtime::audit::{AuditError, AuditTrust, Checkpoint, LogConsistency, SupplyProof};
use pantheon_runtime::crypto::KeyCache;
use pantheon_runtime::export::OperatorExport;
use pantheon_runtime::proof::{ProofError, ReceivedBundle};
use pantheon_runtime::record_proof::RecordProof;
use serde_json::json;

use super::output;

/// What `pantheon verify` was given: the bundle, the trust and the checks.
pub struct VerifyArgs {
    /// The bundle file.
    pub file: std::path::PathBuf,
    /// The network's genesis file (`--genesis`).
    pub genesis: Option<std::path::PathBuf>,
    /// A trusted genesis hash (`--genesis-hash`).
    pub genesis_hash: Option<String>,
    /// The Bitcoin network the user expects (`--bitcoin-network`).
    pub bitcoin_network: Option<String>,
    /// Confirmations required, if more than the genesis asks.
    pub confirmations: Option<u32>,
    /// A live bitcoind to ask about the anchor's block.
    pub bitcoin_rpc: Option<pantheon_anchor::BitcoinRpc>,
    /// A trusted Bitcoin block, `HEIGHT:HASH`.
    pub checkpoint: Option<String>,
    /// The audit root the user holds.
    pub root: Option<String>,
    /// Print JSON.
    pub json: bool,
}

impl VerifyArgs {
    /// No trust given beyond what the document carries (a node's bundle,
    /// checked before it is exported).
    pub(super) fn offline(json: bool) -> Self {
        Self {
            file: std::path::PathBuf::new(),
            genesis: None,
            genesis_hash: None,
            bitcoin_network: None,
            confirmations: None,
            bitcoin_rpc: None,
            checkpoint: None,
            root: None,
            json,
        }
    }
}

/// Why `pantheon verify` did not say VALID.
pub(super) enum Refusal {
    /// The bundle fails a link.
    Link(ProofError),
    /// An audit document (FORMATS 28) fails a link.
    Audit(AuditError),
    /// The inputs are unusable (a file that cannot be read, a bad flag).
    Input(anyhow::Error),
}

impl From<anyhow::Error> for Refusal {
    fn from(e: anyhow::Error) -> Self {
        Self::Input(e)
    }
}

/// `pantheon verify`: reads the files, asks the live node if one is
/// given, and lets [`pantheon_anchor::verify_bundle`] judge. Every outcome
/// is printed as JSON with `--json`, failures included.
///
/// # Errors
/// An invalid bundle (the failing link) or unusable inputs.
pub async fn verify(args: &VerifyArgs) -> Result<()> {
    match judge(args).await {
        Ok(Judged::Bundle(verdict)) => {
            output(args.json, &bundle_json(&verdict), || describe(&verdict));
            Ok(())
        }
        Ok(Judged::Audit(value, human)) => {
            output(args.json, &value, || human);
            Ok(())
        }
        Ok(Judged::Receipt(judged)) => {
            let (value, human) = super::receipt::describe(&judged);
            output(args.json, &value, || human);
            Ok(())
        }
        Ok(Judged::Export(verdict)) => {
            output(
                args.json,
                &json!({
                    "valid": true,
                    "completeness": verdict.completeness,
                    "submissions": verdict.submissions,
                    "anchored": verdict.anchored,
                    "last": verdict.last.proof,
                    "trust": {
                        "genesis_pinned": verdict.last.genesis_pinned,
                        "bitcoin": verdict.last.bitcoin,
                    },
                    "links": verdict.links,
                }),
                || describe_export(&verdict),
            );
            Ok(())
        }
        Ok(Judged::Record(verdict)) => {
            output(
                args.json,
                &json!({
                    "valid": true,
                    "record": verdict.record,
                    "manifest": verdict.manifest.as_ref().map(|m| &m.record),
                    "proof": verdict.batch.proof,
                    "trust": {
                        "genesis_pinned": verdict.batch.genesis_pinned,
                        "bitcoin": verdict.batch.bitcoin,
                    },
                    "links": verdict.links,
                }),
                || describe_record(&verdict),
            );
            Ok(())
        }
        Err(Refusal::Audit(e)) => {
            if args.json {
                println!(
                    "{}",
                    json!({ "valid": false, "failed_link": e.link, "reason": e.reason })
                );
            }
            bail!("INVALID: {} link failed: {}", e.link, e.reason)
        }
        Err(Refusal::Link(e)) => {
            if args.json {
                println!(
                    "{}",
                    json!({ "valid": false, "failed_link": e.link, "reason": e.reason })
                );
            }
            bail!("INVALID: {} link failed: {}", e.link, e.reason)
        }
        Err(Refusal::Input(e)) => {
            if args.json {
                println!("{}", json!({ "valid": false, "error": format!("{e:#}") }));
            }
            Err(e)
        }
    }
}

fn bundle_json(verdict: &pantheon_anchor::Verdict) -> serde_json::Value {
    json!({ "valid": true, "proof": verdict.proof, "trust": {
        "genesis_pinned": verdict.genesis_pinned,
        "bitcoin": verdict.bitcoin,
    }, "links": verdict.links })
}

/// What the file was, and its verdict.
pub(super) enum Judged {
    Bundle(Box<pantheon_anchor::Verdict>),
    Receipt(super::receipt::ReceiptJudged),
    Record(Box<pantheon_anchor::RecordVerdict>),
    Export(Box<pantheon_anchor::ExportVerdict>),
    /// A supply proof, checkpoint or consistency proof: the verdict as
    /// JSON and as text.
    Audit(serde_json::Value, String),
}

async fn judge(args: &VerifyArgs) -> Result<Judged, Refusal> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    judge_bytes(&bytes, args).await
}

/// [`judge`] for a document in hand (`args.file` is not read).
pub(super) async fn judge_bytes(bytes: &[u8], args: &VerifyArgs) -> Result<Judged, Refusal> {
    let bytes = bytes.to_vec();
    let (mut trust, checks) = trust_and_checks(args)?;
    if let Some(judged) = judge_audit(&bytes, &trust)? {
        return Ok(judged);
    }
    if super::receipt::is_receipt_document(&bytes) {
        return super::receipt::judge(&bytes, trust.genesis.as_ref(), trust.genesis_hash)
            .map(Judged::Receipt);
    }
    if OperatorExport::is_operator_export(&bytes) {
        let export = OperatorExport::from_slice(&bytes).map_err(Refusal::Link)?;
        // The live node is asked about each Bitcoin block the anchors are in.
        let mut live: Vec<pantheon_anchor::verify::LiveAnswer> = Vec::new();
        if let Some(rpc) = &args.bitcoin_rpc {
            let mut asked = std::collections::HashSet::new();
            for b in &export.submissions {
                if let Some(block) = b
                    .bitcoin_part()
                    .and_then(pantheon_anchor::BitcoinPart::block_hash)
                    && asked.insert(block)
                    && let Some(answer) = pantheon_anchor::verify::ask_live_node(rpc, b).await
                {
                    live.push(answer);
                }
            }
        }
        return pantheon_anchor::verify_operator_export(
            &export,
            &trust,
            &checks,
            &live,
            &KeyCache::new(64),
        )
        .map(|v| Judged::Export(Box::new(v)))
        .map_err(Refusal::Link);
    }
    if RecordProof::is_record_proof(&bytes) {
        let proof = RecordProof::from_slice(&bytes).map_err(Refusal::Link)?;
        if let Some(rpc) = &args.bitcoin_rpc {
            trust.live = pantheon_anchor::verify::ask_live_node(rpc, &proof.bundle).await;
        }
        return pantheon_anchor::verify_record_proof(&proof, &trust, &checks, &KeyCache::new(64))
            .map(|v| Judged::Record(Box::new(v)))
            .map_err(Refusal::Link);
    }
    // `format` is the JSON structure only; a malformed member fails the
    // link that uses it (FORMATS 22.6).
    let bundle = ReceivedBundle::from_slice(&bytes).map_err(Refusal::Link)?;
    if let Some(rpc) = &args.bitcoin_rpc {
        trust.live = pantheon_anchor::verify::ask_live_node(rpc, &bundle).await;
    }
    pantheon_anchor::verify_bundle(&bundle, &trust, &checks, &KeyCache::new(64))
        .map(|v| Judged::Bundle(Box::new(v)))
        .map_err(Refusal::Link)
}

/// Judges `bytes` if it is an audit document (FORMATS 28): a supply proof,
/// a log checkpoint or a consistency proof. Each rests on the genesis
/// validators' certificates only: no Bitcoin part, no live node.
fn judge_audit(bytes: &[u8], trust: &pantheon_anchor::Trust) -> Result<Option<Judged>, Refusal> {
    let keys = KeyCache::new(16);
    let audit_trust = AuditTrust {
        genesis: trust.genesis.as_ref(),
        genesis_hash: trust.genesis_hash,
    };
    let pinned = trust.genesis.is_some() || trust.genesis_hash.is_some();
    let rests_on = |genesis_hash: &dyn std::fmt::Display| {
        json!({
            "genesis_pinned": pinned,
            "network": genesis_hash.to_string(),
            "rests_on": if pinned {
                "the genesis you gave and its validators' ML-DSA-65 certificates"
            } else {
                "the genesis the document carries (no trusted genesis given: pin one with \
                 --genesis or --genesis-hash) and its validators' ML-DSA-65 certificates"
            },
        })
    };
    let network = |genesis_hash: &dyn std::fmt::Display| {
        format!(
            "\n  network      genesis {genesis_hash} ({})",
            match (trust.genesis.is_some(), trust.genesis_hash.is_some()) {
                (true, true) => "pinned by --genesis and --genesis-hash",
                (true, false) => "pinned by --genesis",
                (false, true) => "pinned by --genesis-hash",
                (false, false) =>
                    "NOT pinned: the document carries this genesis; check the hash is the network \
                     you trust, or pass --genesis FILE / --genesis-hash HEX",
            }
        )
    };
    let accounts = |n: u64| {
        if n == 1 {
            "1 account holds".to_owned()
        } else {
            format!("{n} accounts hold")
        }
    };
    if SupplyProof::is_supply_proof(bytes) {
        let v = SupplyProof::from_slice(bytes)
            .and_then(|p| p.verify(audit_trust, &keys))
            .map_err(Refusal::Audit)?;
        let human = format!(
            "VALID supply proof: after block {} ({}) the {} {} units, exactly the \
             fixed supply of 5,000,000,000 PAN; the records rebuild the certified state root {} \
             ({} of {} validators signed){}",
            v.height,
            v.block_hash,
            accounts(v.accounts),
            v.sum_of_balances,
            v.state_root,
            v.signers.0,
            v.signers.1,
            network(&v.genesis_hash)
        );
        let value = json!({ "valid": true, "supply_proof": v, "trust": rests_on(&v.genesis_hash),
                            "links": ["format", "genesis", "header", "certificate", "state", "supply"] });
        return Ok(Some(Judged::Audit(value, human)));
    }
    if Checkpoint::is_checkpoint(bytes) {
        let v = Checkpoint::from_slice(bytes)
            .and_then(|c| c.verify(audit_trust, &keys))
            .map_err(Refusal::Audit)?;
        let human = format!(
            "VALID checkpoint: after block {} the submission log holds {} leaves with root {} \
             ({} of {} validators signed){}",
            v.height,
            v.log_size,
            v.log_root,
            v.signers.0,
            v.signers.1,
            network(&v.genesis_hash)
        );
        let value = json!({ "valid": true, "checkpoint": v, "trust": rests_on(&v.genesis_hash),
                            "links": ["format", "genesis", "header", "certificate", "checkpoint"] });
        return Ok(Some(Judged::Audit(value, human)));
    }
    if LogConsistency::is_consistency(bytes) {
        let v = LogConsistency::from_slice(bytes)
            .and_then(|c| c.verify(audit_trust, &keys))
            .map_err(Refusal::Audit)?;
        let human = format!(
            "VALID consistency proof: the log of {} leaves after block {} is a prefix of the \
             log of {} leaves after block {} (both certified){}",
            v.old.log_size,
            v.old.height,
            v.new.log_size,
            v.new.height,
            network(&v.old.genesis_hash)
        );
        let value = json!({ "valid": true, "consistency": v, "trust": rests_on(&v.old.genesis_hash),
                            "links": ["format", "genesis", "header", "certificate", "consistency"] });
        return Ok(Some(Judged::Audit(value, human)));
    }
    Ok(None)
}

/// The trust and checks the flags give (the live node is asked later,
/// about the bundle in hand).
fn trust_and_checks(
    args: &VerifyArgs,
) -> Result<(pantheon_anchor::Trust, pantheon_anchor::Checks), Refusal> {
    let mut trust = pantheon_anchor::Trust {
        genesis_hash: args
            .genesis_hash
            .as_deref()
            .map(str::parse)
            .transpose()
            .context("--genesis-hash must be 64 hex digits")?,
        ..pantheon_anchor::Trust::default()
    };
    if let Some(path) = &args.genesis {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let genesis: pantheon_runtime::genesis::Genesis = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a genesis file", path.display()))?;
        trust.genesis = Some(genesis.header().clone());
    }
    if let Some(c) = &args.checkpoint {
        let (h, hash) = c.split_once(':').context("--checkpoint is HEIGHT:HASH")?;
        trust.checkpoint = Some(pantheon_anchor::Checkpoint {
            height: h.parse().context("--checkpoint height")?,
            hash: hash.parse().context("--checkpoint hash")?,
        });
    }
    let checks = pantheon_anchor::Checks {
        bitcoin_network: args
            .bitcoin_network
            .as_deref()
            .map(str::parse)
            .transpose()
            .context("--bitcoin-network")?,
        confirmations: args.confirmations,
        root: args
            .root
            .as_deref()
            .map(str::parse)
            .transpose()
            .context("--root must be 64 hex digits")?,
    };
    Ok((trust, checks))
}

/// The human-readable verdict of a record proof: the record, then its
/// batch's bundle.
fn describe_export(v: &pantheon_anchor::ExportVerdict) -> String {
    let c = &v.completeness;
    let mut out = format!(
        "VALID operator export: COMPLETE\n  operator     {}\n  submissions  seq {}..={} ({} of them, {} anchored in Bitcoin), nothing missing, repeated or withheld\n  complete at  block {} ({}): the operator's state there says next seq {}, state root {}",
        c.operator,
        c.from_seq,
        c.to_seq,
        v.submissions.len(),
        v.anchored,
        c.height,
        utc(c.block_time_ms / 1000),
        c.next_seq,
        c.state_root,
    );
    out.push_str(
        "\n  not shown    submissions after that block (a later export shows them)\n  the last submission's bundle:",
    );
    let last = describe(&v.last);
    out.push_str(last.trim_start_matches("VALID"));
    let links: Vec<String> = v.links.iter().map(ToString::to_string).collect();
    if let Some(i) = out.rfind("\n  links") {
        out.truncate(i);
    }
    out.push_str(&format!("\n  links        {}", links.join(", ")));
    out
}

fn describe_record(v: &pantheon_anchor::RecordVerdict) -> String {
    let r = &v.record;
    let mut out = String::from("VALID record proof\n");
    match &r.disclosed {
        Some(d) => {
            out.push_str(&format!(
                "  record       {} ({} {} of stream {:?}, sealed {} by the operator's clock)\n",
                r.record_hash,
                d.kind,
                d.index,
                d.stream,
                humantime::format_rfc3339_millis(
                    std::time::UNIX_EPOCH + std::time::Duration::from_millis(d.time_ms)
                ),
            ));
            out.push_str(&format!(
                "  disclosed    the record{}{}\n",
                if d.body {
                    " and its body"
                } else {
                    " (body not disclosed: its hash only)"
                },
                match d.neighbours {
                    (true, true) => ", with both neighbours in its stream",
                    (true, false) => ", with the previous record of its stream",
                    (false, true) => ", with the next record of its stream",
                    (false, false) => "",
                }
            ));
            if let (Some(m), Some(mv)) = (d.manifest, &v.manifest) {
                out.push_str(&format!(
                    "  manifest     {m} (in submission {}, before this decision)\n",
                    mv.batch.proof.seq
                ));
            }
        }
        None => out.push_str(&format!(
            "  record hash  {} (only the hash disclosed)\n",
            r.record_hash
        )),
    }
    out.push_str(&format!(
        "  batch        leaf {} of {} records, root {}\n",
        r.leaf_index, r.tree_size, r.batch_root
    ));
    let bundle = describe(&v.batch);
    out.push_str(bundle.trim_start_matches("VALID\n"));
    let links: Vec<String> = v.links.iter().map(ToString::to_string).collect();
    if let Some(i) = out.rfind("\n  links") {
        out.truncate(i);
    }
    out.push_str(&format!("\n  links        {}", links.join(", ")));
    out
}

/// The human-readable verdict: what was proven and what it rests on.
fn describe(v: &pantheon_anchor::Verdict) -> String {
    use pantheon_anchor::verify::{BitcoinBacking, GenesisPin, NetworkSource};
    let p = &v.proof;
    let pinned = match v.genesis_pinned {
        GenesisPin::Unpinned => {
            "NOT pinned: the bundle carries this genesis; check the hash is the network you trust, \
             or pass --genesis FILE / --genesis-hash HEX"
        }
        GenesisPin::File => "pinned by --genesis",
        GenesisPin::Hash => "pinned by --genesis-hash",
        GenesisPin::FileAndHash => "pinned by --genesis and --genesis-hash",
    };
    let mut out = format!(
        "VALID\n  root         {}\n  submission   {}\n  operator     {} (seq {})\n  block        {} at height {}, time {} ({} of {} validators signed)\n  network      {}, genesis {} ({pinned})",
        p.root,
        p.submission_id,
        p.operator,
        p.seq,
        p.block_hash,
        p.height,
        utc(p.block_time_ms / 1000),
        p.signers.0,
        p.signers.1,
        p.chain_id,
        p.genesis_hash,
    );
    if let (Some(claim), Some(b)) = (&p.anchor, &v.bitcoin) {
        let source = match b.network_source {
            NetworkSource::Genesis => "committed in the genesis",
            NetworkSource::Stated => "as stated: the version-1 genesis commits none",
        };
        let backing = match &b.backed_by {
            BitcoinBacking::HeadersOnly => "the carried headers alone (regtest)".to_owned(),
            BitcoinBacking::Checkpoint {
                height,
                hash,
                block_height,
            } => {
                format!("checkpoint {height}:{hash} (the anchor block is at height {block_height})")
            }
            BitcoinBacking::LiveNode {
                node,
                block_height,
                confirmations,
            } => format!(
                "the best chain of {node}: height {block_height}, {confirmations} confirmations"
            ),
        };
        out.push_str(&format!(
            "\n  anchored     block {} (commitment {})\n  bitcoin      {} ({source})\n  bitcoin tx   {}\n  bitcoin block {}\n  existed by   {} (Bitcoin block time)\n  confirmations {} carried, {} required; backed by {backing}",
            claim.height,
            claim.commitment,
            b.network,
            b.txid,
            b.block_hash,
            utc(u64::from(b.block_time)),
            b.confirmations,
            b.required_confirmations,
        ));
    }
    let links: Vec<String> = v.links.iter().map(ToString::to_string).collect();
    out.push_str(&format!("\n  links        {}", links.join(", ")));
    out
}

/// Seconds since the Unix epoch as RFC 3339 UTC.
fn utc(secs: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}
