//! The one verification call: a proof bundle, the trust the verifier
//! brings and the checks its user asks for, in; the verdict, out.
//!
//! ```text
//! ReceivedBundle::from_json(text)                  -> ReceivedBundle | ProofError (format)
//! verify_bundle(bundle, &Trust, &Checks, keys)     -> Verdict | ProofError
//!   format -> genesis -> submission -> root -> header -> certificate
//!     -> path -> history -> (anchor_record, version 1) -> bitcoin
//! ```
//!
//! The bundle is read in two stages (FORMATS 22.6): its JSON structure
//! is the `format` link; each member is decoded when the link that uses
//! it is checked, so a malformed member fails that link (an undecodable
//! `header` is `header`, a Bitcoin part that does not decode `bitcoin`).
//!
//! It lives here, not in the runtime, because its last link is Bitcoin's
//! (proof of work, Merkle branch, the live node's answer), which needs the
//! `bitcoin` crate; the runtime checks everything up to the commitment
//! ([`pantheon_runtime::proof::ProofBundle::verify_expecting`]) and this module adds the rest and
//! the rules about what the verdict may rest on. It is pure: the one
//! input that comes from the network, a live Bitcoin node's answer, is
//! fetched by the caller ([`ask_live_node`]) and passed in as
//! [`Trust::live`]. `pantheon verify` only reads files, calls this and
//! prints; a second implementation mirrors this function.
//!
//! Trust is explicit and never weakened by a default (FORMATS 11.7):
//! - the Bitcoin network is the one the bundle's genesis commits (version
//!   2); a network the user states must agree with it; a version-1
//!   genesis pins none, so the user must state one;
//! - the confirmations are at least the genesis's (or the network's
//!   default), and the carried headers must reach them; the user may ask
//!   for more, never fewer, which the headers or a live node must meet;
//! - off regtest, headers alone are refused: a checkpoint the headers
//!   reach, or a live node's best chain, must back them;
//! - the verdict says whether the genesis was pinned by the user
//!   (`--genesis`, `--genesis-hash`) or only carried by the bundle.

use bitcoin::BlockHash;
use pantheon_runtime::anchor::{BitcoinNetwork, BitcoinPart};
use pantheon_runtime::crypto::KeyCache;
use pantheon_runtime::export::{Completeness, OperatorExport, check_completeness};
use pantheon_runtime::genesis::GenesisHeader;
use pantheon_runtime::hash::{AuditRoot, GenesisHash};
use pantheon_runtime::proof::{Link, ProofError, ReceivedBundle, Verified};
use pantheon_runtime::record_proof::{RecordFacts, RecordProof};
use serde::Serialize;

use crate::ids;
use crate::rpc::BitcoinRpc;
use crate::spv::{self, Checkpoint};

/// What the verifier trusts beyond the mathematics.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// The network's genesis (from its genesis file): the bundle must be
    /// for it, and it supplies the validator keys to a bundle that does
    /// not carry them.
    pub genesis: Option<GenesisHeader>,
    /// A genesis hash the bundle must be for.
    pub genesis_hash: Option<GenesisHash>,
    /// A Bitcoin block the carried headers must reach.
    pub checkpoint: Option<Checkpoint>,
    /// What a live Bitcoin node answered about the anchor's block.
    pub live: Option<LiveAnswer>,
}

/// A live Bitcoin node's answer about one block ([`ask_live_node`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveAnswer {
    /// Which node (its URL), for the verdict.
    pub node: String,
    /// Its answer, or why there is none.
    pub answer: Result<LiveBlock, String>,
}

/// What the node said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveBlock {
    /// The chain it runs, as Bitcoin Core names it (`main`, `testnet4`,
    /// `signet`, `regtest`).
    pub chain: String,
    /// The block asked about.
    pub block: BlockHash,
    /// The block's height and its confirmations in the node's best chain
    /// (`-1`: known but not in it); `None`: the node does not know it.
    pub status: Option<(u64, i64)>,
}

/// Asks `rpc` about the block holding `bundle`'s anchor, for
/// [`Trust::live`]. A bundle without an anchor part, or whose Bitcoin
/// part does not decode, asks nothing. `bundle` is a
/// [`pantheon_runtime::proof::ProofBundle`] or a [`ReceivedBundle`], by
/// value or by reference.
pub async fn ask_live_node(
    rpc: &BitcoinRpc,
    bundle: impl Into<ReceivedBundle>,
) -> Option<LiveAnswer> {
    let block = bundle.into().bitcoin_part()?.block_hash()?;
    let block = ids::block_hash(&block);
    let answer = async {
        let chain = rpc.get_blockchain_info().await?.chain;
        let status = match rpc.get_block_header_info(&block).await {
            Ok(h) => Some((h.height, h.confirmations)),
            Err(e) if e.code() == Some(crate::rpc::codes::INVALID_ADDRESS_OR_KEY) => None,
            Err(e) => return Err(e),
        };
        Ok(LiveBlock {
            chain,
            block,
            status,
        })
    }
    .await
    .map_err(|e: crate::RpcError| e.to_string());
    Some(LiveAnswer {
        node: rpc.url().to_owned(),
        answer,
    })
}

/// What the verifier's user asks for on top of the bundle's own rules.
/// Every member adds a check; none removes one.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    /// The Bitcoin network the user expects: must be the genesis's
    /// (version 2), and is required for an anchored bundle under a
    /// version-1 genesis.
    pub bitcoin_network: Option<BitcoinNetwork>,
    /// Confirmations the Bitcoin part must carry, if more than the
    /// genesis asks.
    pub confirmations: Option<u32>,
    /// The audit root the user holds.
    pub root: Option<AuditRoot>,
}

/// Who pinned the network the verdict is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GenesisPin {
    /// Nobody: the bundle carries its genesis and the verdict holds for
    /// the network that genesis names. Compare its hash with the one you
    /// trust.
    Unpinned,
    /// The user's genesis file.
    File,
    /// The user's genesis hash.
    Hash,
    /// Both.
    FileAndHash,
}

impl GenesisPin {
    /// Whether the user pinned it.
    #[must_use]
    pub const fn pinned(self) -> bool {
        !matches!(self, Self::Unpinned)
    }
}

/// Where the Bitcoin network came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkSource {
    /// The genesis commits it (version 2).
    Genesis,
    /// The user stated it (a version-1 genesis commits none).
    Stated,
}

/// What the headers' proof of work is backed by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum BitcoinBacking {
    /// Nothing: regtest, where headers cost nothing anyway.
    HeadersOnly,
    /// A checkpoint the headers reach.
    Checkpoint {
        /// The checkpoint.
        height: u64,
        /// Its hash.
        hash: String,
        /// The anchor block's height it implies.
        block_height: u64,
    },
    /// A live node's best chain.
    LiveNode {
        /// The node.
        node: String,
        /// The anchor block's height there.
        block_height: u64,
        /// Its confirmations there.
        confirmations: u64,
    },
}

/// The Bitcoin part of a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BitcoinVerdict {
    /// The Bitcoin network.
    pub network: BitcoinNetwork,
    /// Where the network came from.
    pub network_source: NetworkSource,
    /// The anchor transaction.
    pub txid: String,
    /// The block holding it.
    pub block_hash: String,
    /// Its header time, seconds since the Unix epoch: the commitment, and
    /// so the submission, existed no later than about this time.
    pub block_time: u32,
    /// Headers carried (the block's own included).
    pub confirmations: u32,
    /// Confirmations required.
    pub required_confirmations: u32,
    /// What backs the headers.
    pub backed_by: BitcoinBacking,
}

/// A valid bundle's verdict: what it proves and what that rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The facts the runtime's links establish.
    pub proof: Verified,
    /// Who pinned the network.
    pub genesis_pinned: GenesisPin,
    /// The anchor's Bitcoin facts, for an anchored bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitcoin: Option<BitcoinVerdict>,
    /// The links checked, in order.
    pub links: Vec<Link>,
}

fn fail(link: Link, reason: impl std::fmt::Display) -> ProofError {
    ProofError {
        link,
        reason: reason.to_string(),
    }
}

/// Checks `bundle` under `trust` and `checks`, naming the first failing
/// link. See the module docs for the rules. `bundle` is what
/// [`ReceivedBundle::from_json`] read (a malformed member is then named by
/// its link), or a [`pantheon_runtime::proof::ProofBundle`], by value or
/// by reference.
///
/// # Errors
/// [`ProofError`]: the first failing link and why.
pub fn verify_bundle(
    bundle: impl Into<ReceivedBundle>,
    trust: &Trust,
    checks: &Checks,
    keys: &KeyCache,
) -> Result<Verdict, ProofError> {
    let mut bundle: ReceivedBundle = bundle.into();
    // Genesis: the user's file supplies a bundle that does not carry one,
    // and pins the hash; a stated hash pins it too.
    let mut trusted = trust.genesis_hash;
    let pin = match (&trust.genesis, trust.genesis_hash) {
        (None, None) => GenesisPin::Unpinned,
        (Some(_), None) => GenesisPin::File,
        (None, Some(_)) => GenesisPin::Hash,
        (Some(_), Some(_)) => GenesisPin::FileAndHash,
    };
    if let Some(file) = &trust.genesis {
        let hash = file.hash();
        if let Some(stated) = trusted.filter(|t| *t != hash) {
            return Err(fail(
                Link::Genesis,
                format!("the genesis file is network {hash}, not the stated {stated}"),
            ));
        }
        trusted = Some(hash);
        bundle.supply_genesis(file);
    }
    let proof = bundle.verify_expecting(trusted, checks.root, keys)?;
    let genesis = bundle
        .genesis_header()
        .ok_or_else(|| fail(Link::Genesis, "the genesis does not decode"))?;

    let mut links = vec![
        Link::Format,
        Link::Genesis,
        Link::Submission,
        Link::Header,
        Link::Certificate,
        Link::Path,
    ];
    if checks.root.is_some() {
        links.insert(3, Link::Root);
    }
    let (Some(part), Some(claim)) = (bundle.bitcoin_part(), &proof.anchor) else {
        return Ok(Verdict {
            proof,
            genesis_pinned: pin,
            bitcoin: None,
            links,
        });
    };
    links.push(Link::History);
    if claim.recorded_by.is_some() {
        links.push(Link::AnchorRecord);
    }
    links.push(Link::Bitcoin);
    let bitcoin = verify_bitcoin(&genesis, part, &claim.commitment.hash(), trust, checks)?;
    Ok(Verdict {
        proof,
        genesis_pinned: pin,
        bitcoin: Some(bitcoin),
        links,
    })
}

/// A valid record proof's verdict: the record's facts, its batch's
/// bundle verdict and, for a decision, the manifest's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordVerdict {
    /// What the record part established.
    pub record: RecordFacts,
    /// The batch's bundle.
    pub batch: Verdict,
    /// For a decision, the manifest's proof.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Box<RecordVerdict>>,
    /// The links checked, in order.
    pub links: Vec<Link>,
}

/// Checks a record proof (FORMATS 24): the record's links, its path to
/// the batch root, then the batch's bundle with that root required
/// ([`verify_bundle`]), and for a decision the manifest's proof likewise,
/// its record sealed no later than the decision's batch.
///
/// # Errors
/// [`ProofError`]: the first failing link and why.
pub fn verify_record_proof(
    proof: &RecordProof,
    trust: &Trust,
    checks: &Checks,
    keys: &KeyCache,
) -> Result<RecordVerdict, ProofError> {
    let facts = proof.check_record()?;
    if let Some(root) = checks.root.filter(|r| *r != facts.batch_root) {
        return Err(fail(
            Link::Root,
            format!(
                "the record's batch root is {}, not the stated {root}",
                facts.batch_root
            ),
        ));
    }
    let batch = verify_bundle(
        &proof.bundle,
        trust,
        &Checks {
            root: Some(facts.batch_root),
            ..checks.clone()
        },
        keys,
    )?;
    let manifest = match &proof.manifest {
        None => None,
        Some(m) => {
            let v = verify_record_proof(
                m,
                trust,
                &Checks {
                    root: None,
                    ..checks.clone()
                },
                keys,
            )
            .map_err(|e| fail(Link::Manifest, format!("the manifest's proof: {e}")))?;
            let (ms, ds) = (v.batch.proof.seq, batch.proof.seq);
            let earlier = ms < ds || (ms == ds && v.record.leaf_index < facts.leaf_index);
            if !earlier || v.batch.proof.genesis_hash != batch.proof.genesis_hash {
                return Err(fail(
                    Link::Manifest,
                    format!(
                        "the manifest is in submission {ms} (leaf {}), not before the decision \
                         (submission {ds}, leaf {}) on the same network",
                        v.record.leaf_index, facts.leaf_index
                    ),
                ));
            }
            Some(Box::new(v))
        }
    };
    let mut links = vec![Link::Record];
    if facts.disclosed.is_some() {
        links.extend([Link::Manifest, Link::Signature]);
        if facts.disclosed.as_ref().is_some_and(|d| d.body) {
            links.extend([Link::Body, Link::Kind, Link::Approval]);
        }
        links.push(Link::Chain);
    }
    links.push(Link::Batch);
    links.extend(batch.links.iter().copied());
    Ok(RecordVerdict {
        record: facts,
        batch,
        manifest,
        links,
    })
}

/// One submission of a valid export, as the verdict lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportedSubmission {
    /// Its sequence number.
    pub seq: u64,
    /// Its id.
    pub submission_id: pantheon_runtime::hash::SubmissionId,
    /// Its audit root.
    pub root: AuditRoot,
    /// The block that holds it.
    pub height: pantheon_runtime::amount::Height,
    /// The Bitcoin block its anchor is in, if the bundle is anchored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitcoin_block: Option<String>,
}

/// A valid operator export's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportVerdict {
    /// What the `state` and `completeness` links established.
    pub completeness: Completeness,
    /// The submissions, in sequence order.
    pub submissions: Vec<ExportedSubmission>,
    /// How many of them are anchored in Bitcoin (the rest are final by
    /// their certificates only).
    pub anchored: usize,
    /// The verdict of the last submission's bundle: the block whose state
    /// the completeness holds at, and what backs it.
    pub last: Verdict,
    /// The links checked, in order (each bundle's, then `state` and
    /// `completeness`).
    pub links: Vec<Link>,
}

/// Checks an operator export (FORMATS 25): every bundle as
/// [`verify_bundle`] does (the export's genesis supplied to a bundle that
/// does not carry one, which pins nothing), then the state record and the
/// sequence ([`check_completeness`]). `live` holds a live node's answers
/// about the Bitcoin blocks of the bundles' anchors; each bundle gets the
/// answer about its own block as [`Trust::live`].
///
/// # Errors
/// [`ProofError`]: the first failing link and why; a bundle's failure
/// names its index in `submissions`.
pub fn verify_operator_export(
    export: &OperatorExport,
    trust: &Trust,
    checks: &Checks,
    live: &[LiveAnswer],
    keys: &KeyCache,
) -> Result<ExportVerdict, ProofError> {
    let operator = export.operator_id()?;
    let genesis = export.genesis_header()?;
    let mut verdicts = Vec::with_capacity(export.submissions.len());
    for (i, bundle) in export.submissions.iter().enumerate() {
        let mut bundle = bundle.clone();
        if let Some(g) = &genesis {
            bundle.supply_genesis(g);
        }
        let block = bundle
            .bitcoin_part()
            .and_then(BitcoinPart::block_hash)
            .map(|b| ids::block_hash(&b));
        let trust = Trust {
            live: live
                .iter()
                .find(|l| l.answer.as_ref().is_ok_and(|a| Some(a.block) == block))
                .or_else(|| live.first())
                .cloned(),
            ..trust.clone()
        };
        let verdict = verify_bundle(&bundle, &trust, checks, keys).map_err(|e| ProofError {
            link: e.link,
            reason: format!("submissions[{i}]: {}", e.reason),
        })?;
        verdicts.push(verdict);
    }
    let facts: Vec<_> = verdicts.iter().map(|v| v.proof.clone()).collect();
    let completeness = check_completeness(operator, &facts, &export.state)?;
    let submissions = verdicts
        .iter()
        .map(|v| ExportedSubmission {
            seq: v.proof.seq,
            submission_id: v.proof.submission_id,
            root: v.proof.root,
            height: v.proof.height,
            bitcoin_block: v.bitcoin.as_ref().map(|b| b.block_hash.clone()),
        })
        .collect();
    let anchored = verdicts.iter().filter(|v| v.bitcoin.is_some()).count();
    let last = verdicts
        .pop()
        .ok_or_else(|| fail(Link::Completeness, "no submission"))?;
    let mut links = last.links.clone();
    links.extend([Link::State, Link::Completeness]);
    Ok(ExportVerdict {
        completeness,
        submissions,
        anchored,
        last,
        links,
    })
}

/// The `bitcoin` link: the network, the part's own checks, and what backs
/// its headers.
fn verify_bitcoin(
    genesis: &GenesisHeader,
    part: &BitcoinPart,
    commitment: &pantheon_runtime::hash::Hash256,
    trust: &Trust,
    checks: &Checks,
) -> Result<BitcoinVerdict, ProofError> {
    let bad = |reason: String| fail(Link::Bitcoin, reason);
    let (network, source, genesis_k) = if genesis.pins_bitcoin() {
        let Some(params) = genesis.bitcoin else {
            return Err(bad(format!(
                "network {} does not anchor to Bitcoin (its genesis says so), yet the bundle has an \
                 anchor part",
                genesis.chain_id
            )));
        };
        if let Some(stated) = checks.bitcoin_network.filter(|n| *n != params.network) {
            return Err(bad(format!(
                "the genesis anchors to {}, not the stated {stated}",
                params.network
            )));
        }
        (
            params.network,
            NetworkSource::Genesis,
            u32::from(params.confirmations),
        )
    } else {
        let Some(stated) = checks.bitcoin_network else {
            return Err(bad(
                "this network's genesis (version 1) does not commit a Bitcoin network: state the \
                 one its anchors are on (--bitcoin-network)"
                    .to_owned(),
            ));
        };
        (
            stated,
            NetworkSource::Stated,
            u32::from(stated.default_confirmations()),
        )
    };
    let required = checks.confirmations.unwrap_or(0).max(genesis_k);
    let regtest = network == BitcoinNetwork::Regtest;
    if !regtest && trust.checkpoint.is_none() && trust.live.is_none() {
        return Err(bad(format!(
            "headers alone are cheap to forge on {network}: give a live node of that network \
             (--bitcoin-rpc URL) or a block you trust (--checkpoint HEIGHT:HASH)"
        )));
    }
    let btc_network = ids::network(network);
    // The carried headers must reach the genesis's depth; a deeper
    // requirement is met by them or by a live node's best chain.
    let carried = if trust.live.is_some() {
        genesis_k
    } else {
        required
    };
    let anchored =
        spv::verify(part, commitment, btc_network, carried).map_err(|e| bad(e.to_string()))?;
    let mut backed_by = BitcoinBacking::HeadersOnly;
    if let Some(cp) = &trust.checkpoint {
        let block_height = anchored
            .check_checkpoint(cp)
            .map_err(|e| bad(e.to_string()))?;
        backed_by = BitcoinBacking::Checkpoint {
            height: cp.height,
            hash: cp.hash.to_string(),
            block_height,
        };
    }
    if let Some(live) = &trust.live {
        backed_by = check_live(live, network, &anchored.block_hash, required).map_err(bad)?;
    }
    Ok(BitcoinVerdict {
        network,
        network_source: source,
        txid: anchored.txid.to_string(),
        block_hash: anchored.block_hash.to_string(),
        block_time: anchored.block_time,
        confirmations: anchored.confirmations,
        required_confirmations: required,
        backed_by,
    })
}

fn check_live(
    live: &LiveAnswer,
    network: BitcoinNetwork,
    block: &BlockHash,
    required: u32,
) -> Result<BitcoinBacking, String> {
    let node = &live.node;
    let answer = live
        .answer
        .as_ref()
        .map_err(|e| format!("live node {node}: {e}"))?;
    let expected = ids::network(network).to_core_arg();
    if answer.chain != expected {
        return Err(format!(
            "live node {node} runs chain {:?}, the anchor is on {network}",
            answer.chain
        ));
    }
    if answer.block != *block {
        return Err(format!(
            "live node {node} was asked about block {}, not the anchor's {block}",
            answer.block
        ));
    }
    let Some((height, confirmations)) = answer.status else {
        return Err(format!("live node {node} does not know block {block}"));
    };
    let Ok(confirmations) = u64::try_from(confirmations) else {
        return Err(format!(
            "block {block} is not in the best chain of live node {node}"
        ));
    };
    if confirmations < u64::from(required) {
        return Err(format!(
            "block {block} has {confirmations} confirmations at live node {node}, {required} required"
        ));
    }
    Ok(BitcoinBacking::LiveNode {
        node: node.clone(),
        block_height: height,
        confirmations,
    })
}
