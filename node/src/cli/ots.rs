//! OpenTimestamps export (FORMATS 13.1): `pantheon proof ID --format ots`,
//! `pantheon records prove ... --format ots` and, offline, `pantheon
//! verify FILE --ots-out X`. Each verifies the bundle or record proof first
//! (as `pantheon verify` would, with the trust given) and writes the `.ots`
//! only for one that verified, then prints the digest to pass to `ots
//! verify -d`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use pantheon_runtime::hash::Hash256;
use pantheon_runtime::log::InclusionProof;
use pantheon_runtime::ots::Timestamp;
use pantheon_runtime::proof::ReceivedBundle;
use pantheon_runtime::record_proof::RecordProof;
use serde_json::json;

use super::output;
use super::verify::{Judged, Refusal, VerifyArgs, judge_bytes};

/// Where to write the `.ots` and how to name the Bitcoin block.
pub struct OtsArgs {
    /// The file to write.
    pub out: PathBuf,
    /// The Bitcoin block's height as the user states it.
    pub bitcoin_height: Option<u64>,
    /// The height a Pantheon node names (its anchor record's claim).
    pub node_claim: Option<u64>,
}

/// The `.ots` form of `--format`.
#[derive(Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The JSON document (a proof bundle or record proof).
    #[default]
    Json,
    /// An OpenTimestamps detached timestamp file (FORMATS 13.1).
    Ots,
}

/// Verifies `bytes` (a bundle or record proof) under `verify`'s trust
/// and, if valid, writes its `.ots` to `ots.out` and prints the digest.
///
/// # Errors
/// A document that does not verify (the failing link), one without an
/// anchor part, no known Bitcoin height, or a file that cannot be written.
pub async fn export(bytes: &[u8], verify: &VerifyArgs, ots: &OtsArgs) -> Result<()> {
    let judged = match judge_bytes(bytes, verify).await {
        Ok(j) => j,
        Err(Refusal::Link(e)) => bail!(
            "INVALID: {} link failed: {}; no OpenTimestamps file written",
            e.link,
            e.reason
        ),
        Err(Refusal::Audit(e)) => bail!(
            "INVALID: {} link failed: {}; no OpenTimestamps file written",
            e.link,
            e.reason
        ),
        Err(Refusal::Input(e)) => return Err(e),
    };
    let (timestamp, verdict, of) = match judged {
        Judged::Bundle(verdict) => {
            let bundle = ReceivedBundle::from_slice(bytes)
                .and_then(ReceivedBundle::into_bundle)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let height = bitcoin_height(&verdict, ots)?;
            let t = Timestamp::for_bundle(&bundle, height)?;
            (t, verdict, "the audit root")
        }
        Judged::Record(verdict) => {
            let proof = RecordProof::from_slice(bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
            let path = base64::engine::general_purpose::STANDARD
                .decode(proof.batch.path.as_bytes())
                .context("batch.path")?;
            let batch = InclusionProof {
                leaf_index: proof.batch.leaf_index,
                tree_size: proof.batch.tree_size,
                path: path
                    .chunks_exact(32)
                    .map(|c| {
                        let mut a = [0u8; 32];
                        a.copy_from_slice(c);
                        Hash256::from_bytes(a)
                    })
                    .collect(),
            };
            let bundle = proof
                .bundle
                .clone()
                .into_bundle()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let height = bitcoin_height(&verdict.batch, ots)?;
            let t = Timestamp::for_record(&verdict.record.record_hash, &batch, &bundle, height)?;
            (t, Box::new(verdict.batch), "the record's hash")
        }
        Judged::Receipt(_) => bail!(
            "a receipt is a validator's promise, not a proof in Bitcoin: nothing to timestamp"
        ),
        Judged::Export(_) => bail!(
            "an operator export holds many submissions: export the .ots of one bundle or record proof"
        ),
        Judged::Audit(..) => bail!(
            "an audit document rests on validator certificates, not on a Bitcoin anchor: \
             nothing to timestamp"
        ),
    };
    pantheon_anchor::fsio::write_atomic(&ots.out, &timestamp.to_bytes())
        .with_context(|| format!("writing {}", ots.out.display()))?;
    let network = verdict
        .bitcoin
        .as_ref()
        .map(|b| b.network)
        .context("a verified anchored bundle has a Bitcoin verdict")?;
    // The client knows mainnet (its default) and regtest; testnet4 and
    // signet headers are checked the same way by a node of that chain.
    let flag = if network.name() == "regtest" {
        "--btc-regtest "
    } else {
        ""
    };
    let digest = timestamp.digest().to_string();
    let mut root = timestamp.replay();
    root.reverse();
    output(
        verify.json,
        &json!({
            "ots": ots.out,
            "digest": digest,
            "digest_is": of,
            "bitcoin_network": network,
            "bitcoin_height": timestamp.bitcoin_height(),
            "merkle_root": hex::encode(&root),
            "operations": timestamp.ops().len(),
        }),
        || {
            format!(
                "OpenTimestamps proof written to {}\n  digest       {digest} ({of})\n  attests      Bitcoin ({network}) block {} has Merkle root {}\n  check it     ots {flag}--bitcoin-node URL verify -d {digest} {}",
                ots.out.display(),
                timestamp.bitcoin_height(),
                hex::encode(&root),
                ots.out.display(),
            )
        },
    );
    Ok(())
}

/// The Bitcoin block's height: what a live node or a checkpoint proved,
/// else what the user states, else the anchor record's or the node's
/// claim (a reader checks the Merkle root there, so a wrong claim makes
/// the `.ots` fail, never pass).
fn bitcoin_height(verdict: &pantheon_anchor::Verdict, ots: &OtsArgs) -> Result<u64> {
    use pantheon_anchor::verify::BitcoinBacking;
    let Some(b) = &verdict.bitcoin else {
        bail!(
            "the bundle is not anchored (no anchor part): an OpenTimestamps proof needs the Bitcoin part; fetch it once the submission is anchored (--wait anchored)"
        );
    };
    let proven = match &b.backed_by {
        BitcoinBacking::LiveNode { block_height, .. }
        | BitcoinBacking::Checkpoint { block_height, .. } => Some(*block_height),
        BitcoinBacking::HeadersOnly => None,
    };
    if let (Some(p), Some(s)) = (proven, ots.bitcoin_height)
        && p != s
    {
        bail!(
            "--bitcoin-height {s}, but the anchor's block {} is at height {p}",
            b.block_hash
        );
    }
    let recorded = verdict.proof.anchor.as_ref().and_then(|a| a.bitcoin_height);
    proven
        .or(ots.bitcoin_height)
        .or(recorded)
        .or(ots.node_claim)
        .with_context(|| {
            format!(
                "the bundle does not name the height of Bitcoin block {}: give --bitcoin-height N, or --bitcoin-rpc URL to ask a Bitcoin node",
                b.block_hash
            )
        })
}

/// `pantheon proof ID --format ots`: fetches the bundle (with its
/// genesis), verifies it and writes its `.ots`; the Bitcoin height is the
/// node's anchor record's claim unless `--bitcoin-height` states one.
///
/// # Errors
/// As [`export`], and RPC errors.
pub async fn proof(
    rpc: &str,
    id: &str,
    wait: Option<pantheon_rpc::types::Status>,
    mut ots: OtsArgs,
    json: bool,
) -> Result<()> {
    let client = crate::client::Client::new(rpc)?;
    if let Some(status) = wait {
        client.wait_for(id, status).await?;
    }
    let bundle = client.proof(id, true).await?;
    let info = client
        .wait_for(id, pantheon_rpc::types::Status::Received)
        .await?;
    ots.node_claim = info.anchor.and_then(|a| a.bitcoin_height);
    let bytes = serde_json::to_vec(&bundle)?;
    export(&bytes, &VerifyArgs::offline(json), &ots).await
}

/// `pantheon records prove ... --format ots`: verifies the record proof
/// just made and writes its `.ots`; the Bitcoin height is stated, or the
/// claim of the node of `rpc`.
///
/// # Errors
/// As [`export`], and RPC errors.
pub async fn record(
    doc: &serde_json::Value,
    rpc: Option<&str>,
    mut ots: OtsArgs,
    json: bool,
) -> Result<()> {
    let bytes = serde_json::to_vec(doc)?;
    if let (Some(rpc), None) = (rpc, ots.bitcoin_height) {
        let proof = RecordProof::from_slice(&bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
        let tx: Option<pantheon_runtime::tx::SignedTx> = proof
            .bundle
            .submission_bytes()
            .and_then(|b| pantheon_runtime::codec::decode_exact(b).ok());
        if let Some(tx) = tx {
            let client = crate::client::Client::new(rpc)?;
            let info = client
                .wait_for(
                    &tx.submission_id().to_string(),
                    pantheon_rpc::types::Status::Received,
                )
                .await?;
            ots.node_claim = info.anchor.and_then(|a| a.bitcoin_height);
        }
    }
    export(&bytes, &VerifyArgs::offline(json), &ots).await
}
