//! `records.json`: audit records (FORMATS 23): RFC 8785 bodies, a
//! manifest, a decision bound to it and an approval of it in one stream,
//! their batch tree, and records that must be refused, each with the link
//! that refuses it.

use serde_json::{Value, json};

use super::{hx, key};
use crate::codec::Encode;
use crate::hash::Hash256;
use crate::log::MerkleLog;
use crate::record::{Envelope, Kind, Record, approval_body, batch_root, body_hash, canonical_body};

/// Body texts whose canonical form exercises RFC 8785: member order by
/// UTF-16 code units, number forms, escapes, nesting.
const JCS_CASES: &[&str] = &[
    r#"{"b":2,"a":1}"#,
    r#"{"numbers":[1.0,-0,0.1,1e-7,1.5e-7,0.000001,5e-324,123.456,-2.5,9007199254740991,-9007199254740991]}"#,
    r#"{"\u20ac":"euro","\r":"cr","1":"one","\u0080":"ctrl","a":"\u000f\"\\\/"}"#,
    r#"{"\ud83d\ude00":"emoji","\ufb33":"hebrew","z":{"y":[{"b":true,"a":null}]}}"#,
    r#"{"string":"caf\u00e9 \u2028 line"}"#,
];

fn hash_of(s: &str) -> String {
    Hash256::digest(s.as_bytes()).to_string()
}

fn record_vector(name: &str, record: &Record, body: &Value) -> Value {
    let e = &record.envelope;
    json!({
        "name": name,
        "fields": {
            "operator": e.operator.to_string(),
            "stream": e.stream,
            "index": e.index,
            "prev": e.prev.to_string(),
            "time_ms": e.time_ms,
            "kind": e.kind.name(),
            "manifest": e.manifest.map(|m| m.to_string()),
            "body_hash": e.body_hash.to_string(),
        },
        "body": body,
        "body_canonical": String::from_utf8(canonical_body(body).expect("valid body")).expect("JCS is UTF-8"),
        "envelope": hx(&e.to_bytes()),
        "signature": hx(record.signature.as_bytes()),
        "record_hash": record.hash().to_string(),
        "leaf": record.leaf().to_string(),
    })
}

fn seal(
    operator: &crate::crypto::Keypair,
    index: u64,
    prev: Hash256,
    kind: Kind,
    manifest: Option<Hash256>,
    body: &Value,
) -> Record {
    Record::seal(
        Envelope {
            operator: operator.id(),
            stream: "triage/ward-7".to_owned(),
            index,
            prev,
            time_ms: 1_798_761_600_000 + index * 1_000,
            kind,
            manifest,
            body_hash: body_hash(body).expect("valid body"),
        },
        operator,
    )
    .expect("the example records are valid")
}

/// The example stream: a manifest, a decision bound to it and an approval
/// of the manifest, each with its body.
pub(super) struct Stream {
    pub manifest: (Record, Value),
    pub decision: (Record, Value),
    pub approval: (Record, Value),
}

/// The example stream (deterministic signatures).
pub(super) fn stream() -> Stream {
    let operator = key(0x02);
    let approver = key(0x03);
    let manifest_body = json!({
        "model": hash_of("chest-xray-classifier 4.2.0 weights"),
        "tokenizer": hash_of("no tokenizer: image model"),
        "system_prompt": hash_of("triage policy prompt v3"),
        "data": hash_of("training manifest 2026-09"),
        "name": "chest-xray-classifier 4.2.0",
    });
    let manifest = seal(
        &operator,
        0,
        Hash256::ZERO,
        Kind::Manifest,
        None,
        &manifest_body,
    );
    let decision_body = json!({
        "inputs": hash_of("study 1.2.840.113619 (tokenized)"),
        "output": hash_of("urgent"),
        "policy": {"name": "urgent-threshold", "threshold": 0.9},
        "score": 0.91,
        "decision_id": "d-000017",
    });
    let decision = seal(
        &operator,
        1,
        manifest.hash(),
        Kind::Decision,
        Some(manifest.hash()),
        &decision_body,
    );
    let approval = approval_body(
        &operator.id(),
        &manifest.hash(),
        &approver,
        json!({"role": "compliance officer"}),
    )
    .expect("an object");
    let approved = seal(
        &operator,
        2,
        decision.hash(),
        Kind::Approval,
        None,
        &approval,
    );
    Stream {
        manifest: (manifest, manifest_body),
        decision: (decision, decision_body),
        approval: (approved, approval),
    }
}

/// The `records.json` document.
pub(super) fn records() -> Value {
    let operator = key(0x02);
    let approver = key(0x03);
    let Stream {
        manifest: (manifest, manifest_body),
        decision: (decision, decision_body),
        approval: (approved, approval),
    } = stream();
    let jcs: Vec<Value> = JCS_CASES
        .iter()
        .map(|text| {
            let v: Value = serde_json::from_str(text).expect("the JCS cases are JSON");
            json!({
                "input": text,
                "canonical": String::from_utf8(canonical_body(&v).expect("valid")).expect("UTF-8"),
                "body_hash": body_hash(&v).expect("valid").to_string(),
            })
        })
        .collect();
    let records = [&manifest, &decision, &approved];
    let mut tree = MerkleLog::new();
    for r in records {
        tree.append_leaf_hash(r.leaf());
    }
    let paths: Vec<Value> = (0..3u64)
        .map(|i| {
            let p = tree.inclusion_proof(i, 3).expect("in the tree");
            json!({"index": i, "path": p.path.iter().map(ToString::to_string).collect::<Vec<_>>()})
        })
        .collect();
    let batch: Vec<Record> = records.iter().map(|r| (*r).clone()).collect();

    // Refused, each naming its link.
    let mut edited = decision_body.clone();
    edited["score"] = json!(0.99);
    let mut forged = approval.clone();
    forged["subject"] = json!(decision.hash().to_string());
    let forged_record = seal(&operator, 2, decision.hash(), Kind::Approval, None, &forged);
    let mut unbound = decision.envelope.clone();
    unbound.manifest = None;
    let mut skipped = decision.envelope.clone();
    skipped.index = 2;
    let skipped = Record::seal(skipped, &operator).expect("valid on its own");
    let mut missing = decision_body.clone();
    missing.as_object_mut().expect("object").remove("output");
    let missing_record = seal(
        &operator,
        1,
        manifest.hash(),
        Kind::Decision,
        Some(manifest.hash()),
        &missing,
    );
    let mut resigned = decision.clone();
    resigned.envelope.time_ms += 1;
    json!({
        "description": "FORMATS 23: audit records. `jcs`: body texts, their RFC 8785 canonical form and body_hash = SHA-256(\"pantheon/v1/record-body\" || 0x00 || canonical). `records`: one stream of the operator of keys.json seed 0x02 (a manifest, a decision bound to it, an approval of the manifest by the key of seed 0x03), each with its envelope encoding, ML-DSA-65 signature (context pantheon/v1/record, deterministic), record_hash = SHA-256(\"pantheon/v1/record\" || 0x00 || envelope || signature) and RFC 9162 leaf. `batch`: the tree over the three leaves. `invalid`: records or bodies that must be refused, with the link that refuses them.",
        "operator_seed": hx(&[0x02; 32]),
        "operator": operator.id().to_string(),
        "approver_seed": hx(&[0x03; 32]),
        "approver": approver.id().to_string(),
        "jcs": jcs,
        "records": [
            record_vector("manifest", &manifest, &manifest_body),
            record_vector("decision", &decision, &decision_body),
            record_vector("approval", &approved, &approval),
        ],
        "batch": {"size": 3, "root": batch_root(&batch).to_string(), "paths": paths},
        "invalid": [
            {"name": "a decision's body edited after sealing", "record": hx(&decision.to_bytes()), "body": edited, "link": "body"},
            {"name": "an approval whose subject was changed", "record": hx(&forged_record.to_bytes()), "body": forged, "link": "approval"},
            {"name": "a decision that names no manifest", "envelope": hx(&unbound.to_bytes()), "link": "manifest"},
            {"name": "a decision whose output is missing", "record": hx(&missing_record.to_bytes()), "body": missing, "link": "kind"},
            {"name": "a record whose envelope changed after signing", "record": hx(&resigned.to_bytes()), "link": "signature"},
            {"name": "index 2 after index 0: a record dropped", "record": hx(&skipped.to_bytes()), "follows": 0, "link": "chain"},
            {"name": "an integer beyond 2^53 - 1", "body_text": "{\"n\":9007199254740993}", "link": "body"},
            {"name": "an integer beyond 2^53 - 1 in exponent form", "body_text": "{\"n\":1e21}", "link": "body"},
            {"name": "a body that is not an object", "body_text": "[1,2]", "link": "body"},
        ],
    })
}
