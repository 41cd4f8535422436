//! `record-proof.json`: record proofs (FORMATS 24) over the stream of
//! `records.json`: its three records are one batch, submitted as seq 0 of
//! the operator of `keys.json` seed 0x02 and finalized in block 1 of the
//! example network (finality only: no anchor part, the genesis embedded).
//! Valid proofs (a decision with its body, neighbours and its manifest's
//! proof; an approval; a hash alone) and tampered copies, each with the
//! link that refuses it.

use serde_json::{Value, json};

use super::key;
use super::records::{Stream, stream};
use crate::amount::Height;
use crate::block::BlockHeader;
use crate::genesis::Genesis;
use crate::hash::{
    AuditRoot, BlockHash, CertificateHash, Hash256, LogRoot, StateRoot, SubmissionId,
};
use crate::log::{InclusionProof, MerkleLog, leaf_hash};
use crate::proof::ProofBundle;
use crate::record::{Record, batch_root};
use crate::record_proof::{Parts, write};
use crate::tx::{Metadata, SubmitRoot, TxBody};

/// The batch's bundle: block 1 holds only the batch's submission.
pub(super) fn batch_bundle(genesis: &Genesis, records: &[Record]) -> ProofBundle {
    let operator = key(0x02);
    let validator = key(0x01);
    let submission = TxBody::SubmitRoot(SubmitRoot {
        operator: operator.id(),
        seq: 0,
        prev: SubmissionId::default(),
        root: AuditRoot::new(batch_root(records)),
        metadata: Metadata::new("triage batch 0", Some(records.len() as u64)).expect("short"),
    })
    .sign(&genesis.hash(), &operator);
    let id = submission.submission_id().hash();
    let header = BlockHeader {
        height: Height::new(1),
        parent: BlockHash::new(genesis.hash().hash()),
        time_ms: genesis.header().time_ms + 1_000,
        proposer: 0,
        tx_count: 1,
        tx_root: LogRoot::new(leaf_hash(submission.as_bytes())),
        log_size: 1,
        log_root: LogRoot::new(id),
        state_root: StateRoot::new(Hash256::digest(b"record proof vectors: state")),
        last_certificate: Some(CertificateHash::default()),
    };
    let certificate = super::certify(genesis.hash(), &validator, &header);
    ProofBundle::new(
        genesis.hash(),
        &submission,
        operator.public().clone(),
        InclusionProof {
            leaf_index: 0,
            tree_size: 1,
            path: Vec::new(),
        },
        &header,
        &certificate,
    )
    .with_genesis(genesis.header())
}

pub(super) fn flip(v: &Value, at: usize) -> Value {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut bytes = b64.decode(v.as_str().expect("base64")).expect("base64");
    let i = at.min(bytes.len() - 1);
    bytes[i] ^= 1;
    Value::String(b64.encode(bytes))
}

/// The `record-proof.json` document.
pub(super) fn record_proofs(genesis: &Genesis) -> Value {
    let Stream {
        manifest: (manifest, manifest_body),
        decision: (decision, decision_body),
        approval: (approval, approval_body),
    } = stream();
    let records = [manifest.clone(), decision.clone(), approval.clone()];
    let bundle = batch_bundle(genesis, &records);
    let tree = MerkleLog::from_leaf_hashes(records.iter().map(Record::leaf));
    let proof = |i: u64,
                 record: Option<&Record>,
                 body: Option<&Value>,
                 neighbours: (Option<&Record>, Option<&Record>),
                 manifest: Option<Value>| {
        let p = tree.inclusion_proof(i, 3).expect("in the batch");
        write(&Parts {
            record,
            record_hash: records[usize::try_from(i).expect("small")].hash(),
            body,
            leaf_index: i,
            tree_size: 3,
            path: &p.path,
            previous: neighbours.0,
            next: neighbours.1,
            manifest,
            bundle: &bundle,
        })
        .expect("bundles encode")
    };
    let manifest_proof = proof(0, Some(&manifest), Some(&manifest_body), (None, None), None);
    let decision_proof = proof(
        1,
        Some(&decision),
        Some(&decision_body),
        (Some(&manifest), Some(&approval)),
        Some(manifest_proof.clone()),
    );
    let approval_proof = proof(2, Some(&approval), Some(&approval_body), (None, None), None);
    let hash_only = proof(1, None, None, (None, None), None);

    let d = &decision_proof;
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v = d.clone();
        f(&mut v);
        v
    };
    let invalid = vec![
        (
            "a record proof of an unknown version",
            edit(&|v| v["record_proof"] = json!(2)),
            "format",
        ),
        (
            "the decision's body edited",
            edit(&|v| v["body"]["score"] = json!(0.99)),
            "body",
        ),
        (
            "a byte of the record's signature changed",
            edit(&|v| v["record"] = flip(&d["record"], 3_000)),
            "signature",
        ),
        (
            "the manifest's proof withheld",
            edit(&|v| {
                v.as_object_mut().expect("object").remove("manifest");
            }),
            "manifest",
        ),
        (
            "the neighbours swapped",
            edit(&|v| v["previous"] = d["next"].clone()),
            "chain",
        ),
        (
            "the record moved to another place in its batch",
            edit(&|v| v["batch"]["leaf_index"] = json!(2)),
            "batch",
        ),
        (
            "a byte of the batch path changed",
            edit(&|v| v["batch"]["path"] = flip(&d["batch"]["path"], 5)),
            "batch",
        ),
        (
            "the batch claimed larger than the submission's record count",
            edit(&|v| v["batch"]["tree_size"] = json!(4)),
            "batch",
        ),
        (
            "a byte of the block header changed",
            edit(&|v| v["bundle"]["header"] = flip(&d["bundle"]["header"], 40)),
            "header",
        ),
        (
            "a byte of the certificate's signature changed",
            edit(&|v| v["bundle"]["certificate"] = flip(&d["bundle"]["certificate"], 100)),
            "certificate",
        ),
    ];
    json!({
        "description": "FORMATS 24: record proofs. The three records of records.json are one batch (its root in records.json's batch), submitted as seq 0 (label 'triage batch 0', record count 3) by the operator of keys.json seed 0x02 and finalized in block 1 of genesis.json's network, certified by the validator of seed 0x01; the bundles carry that genesis and have no anchor part. `valid`: a decision with its body, both neighbours and its manifest's proof; an approval with its body; the decision's hash alone. `invalid`: the decision's proof tampered with, each refused by the named link.",
        "valid": [
            {"name": "a decision with its body, neighbours and manifest", "proof": decision_proof},
            {"name": "an approval with its body", "proof": approval_proof},
            {"name": "the decision's hash alone", "proof": hash_only},
        ],
        "invalid": invalid.into_iter().map(|(name, proof, link)| json!({"name": name, "proof": proof, "link": link})).collect::<Vec<_>>(),
    })
}
