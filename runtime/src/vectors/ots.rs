//! `ots.json`: OpenTimestamps files (FORMATS 13.1) of the anchored bundles
//! `bundle.json` (version 2) and `bundle-v1.json`, and of an anchored
//! record proof: the approval of `records.json`, in the batch of
//! `record-proof.json`, here anchored (its block 1 is a history of one
//! block, anchored at A = 1 by a synthetic regtest Bitcoin part). Each
//! with its digest, its operations and the Merkle root they reach.

use serde_json::{Value, json};

use super::hx;
use super::records::{Stream, stream};
use crate::amount::Height;
use crate::anchor::AnchorCommitment;
use crate::genesis::Genesis;
use crate::log::{InclusionProof, MerkleLog, leaf_hash};
use crate::ots::{Op, Timestamp};
use crate::proof::{AnchorProof, ProofBundle};
use crate::record::Record;
use crate::record_proof::{Parts, write};

/// The Bitcoin height the attestations name (the example record's claim).
const BITCOIN_HEIGHT: u64 = 101;

fn ops(t: &Timestamp) -> Vec<Value> {
    t.ops()
        .iter()
        .map(|op| match op {
            Op::Append(a) => json!({"op": "append", "arg": hx(a)}),
            Op::Prepend(a) => json!({"op": "prepend", "arg": hx(a)}),
            Op::Sha256 => json!({"op": "sha256"}),
        })
        .collect()
}

fn case(name: &str, source: &str, t: &Timestamp) -> Value {
    json!({
        "name": name,
        "source": source,
        "digest": t.digest().to_string(),
        "bitcoin_height": t.bitcoin_height(),
        "ops": ops(t),
        "merkle_root": hx(&t.replay()),
        "ots": hx(&t.to_bytes()),
    })
}

/// The anchored record proof of the approval (leaf 2 of the batch of 3).
fn anchored_record_proof(genesis: &Genesis) -> (Value, Record, InclusionProof, ProofBundle) {
    let Stream {
        manifest: (manifest, _),
        decision: (decision, _),
        approval: (approval, approval_body),
    } = stream();
    let records = [manifest, decision, approval.clone()];
    let plain = super::record_proofs::batch_bundle(genesis, &records);
    let header: crate::block::BlockHeader =
        crate::codec::decode_exact(&plain.header).expect("the vector header decodes");
    let history = InclusionProof {
        leaf_index: 0,
        tree_size: 1,
        path: Vec::new(),
    };
    let root = leaf_hash(header.hash().as_bytes());
    let commitment = AnchorCommitment::compute(&genesis.hash(), Height::new(1), &root);
    let part = super::synthetic_bitcoin_part(&commitment);
    let bundle = plain.with_anchor(AnchorProof::new(&history, commitment, part));
    let tree = MerkleLog::from_leaf_hashes(records.iter().map(Record::leaf));
    let batch = tree.inclusion_proof(2, 3).expect("in the batch");
    let doc = write(&Parts {
        record: Some(&approval),
        record_hash: approval.hash(),
        body: Some(&approval_body),
        leaf_index: 2,
        tree_size: 3,
        path: &batch.path,
        previous: None,
        next: None,
        manifest: None,
        bundle: &bundle,
    })
    .expect("bundles encode");
    (doc, approval, batch, bundle)
}

/// The `ots.json` document.
pub(super) fn ots(genesis: &Genesis, bundle: &Value, bundle_v1: &Value) -> Value {
    let read = |v: &Value| -> ProofBundle {
        serde_json::from_value(v.clone()).expect("the vector bundles read back")
    };
    let v2 = Timestamp::for_bundle(&read(bundle), BITCOIN_HEIGHT).expect("bundle.json is anchored");
    let v1 = Timestamp::for_bundle(&read(bundle_v1), BITCOIN_HEIGHT)
        .expect("bundle-v1.json is anchored");
    let (proof, record, batch, batch_bundle) = anchored_record_proof(genesis);
    let rec = Timestamp::for_record(&record.hash(), &batch, &batch_bundle, BITCOIN_HEIGHT)
        .expect("the record proof is anchored");
    let mut record_case = case("the approval's record proof", "record_proof below", &rec);
    if let Some(obj) = record_case.as_object_mut() {
        obj.insert("record_proof".into(), proof);
    }
    json!({
        "description": "FORMATS 13.1: OpenTimestamps detached timestamp files (.ots) of the anchored bundles bundle.json and bundle-v1.json (digest: the submission's audit root) and of an anchored record proof (digest: the record's hash; the approval of records.json, leaf 2 of the batch of record-proof.json, whose block 1 is here anchored at A = 1 by a synthetic regtest Bitcoin part; the genesis of genesis.json is embedded). Each names the Bitcoin height 101 (the example record's claim), lists its operations (arguments in hex), the Merkle root they reach (that of the part's first header, internal byte order) and the whole file in hex. `ots verify -d <digest> FILE` against a node whose block 101 has that Merkle root accepts it.",
        "cases": [
            case("bundle.json (version 2)", "bundle.json", &v2),
            case("bundle-v1.json", "bundle-v1.json", &v1),
            record_case,
        ],
    })
}
