//! `receipts.json`: submission receipts and receipt evidence (FORMATS 26)
//! on the example network. Block 1 registers the operator of `keys.json`
//! seed 0x02 and finalizes its seq 0; the validator (seed 0x01) then signs
//! one group of three receipts at height 1 with deadline 3: the operator's
//! seq 1 and two submissions of other operators. Blocks 2 and 3 are empty,
//! so at height 3 the operator's next seq is still 1: evidence that the
//! promise about seq 1 was broken. Every receipt and evidence case comes
//! with the link that refuses it, or none.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{certify, hx, key};
use crate::amount::Height;
use crate::block::{BlockHeader, CommitCertificate};
use crate::codec::Encode;
use crate::crypto::KeyCache;
use crate::genesis::Genesis;
use crate::hash::{AuditRoot, Hash256, SubmissionId};
use crate::ledger::Ledger;
use crate::log::MerkleLog;
use crate::receipt::{
    AccountState, EVIDENCE_VERSION, ReceiptEvidence, ReceiptHead, ReceiptLeaf, SignedReceipt,
    sign_group,
};
use crate::tx::{Metadata, SubmitRoot, TxBody};

/// The validator's clock when it wrote the group.
const RECEIVED_AT_MS: u64 = 1_767_225_600_000;

/// The `receipts.json` document.
pub(super) fn receipts(genesis: &Genesis) -> Value {
    let g = genesis.hash();
    let validator = key(0x01);
    let operator = key(0x02);
    let keys = KeyCache::default();
    let (register, first) = super::register_and_first_submission(genesis, &operator);
    let second = TxBody::SubmitRoot(SubmitRoot {
        operator: operator.id(),
        seq: 1,
        prev: first.submission_id(),
        root: AuditRoot::new(Hash256::digest(b"audit batch 1")),
        metadata: Metadata::default(),
    })
    .sign(&g, &operator);

    let mut ledger = Ledger::from_genesis(genesis);
    let mut blocks: Vec<(BlockHeader, CommitCertificate)> = Vec::new();
    for txs in [vec![register, first.clone()], vec![], vec![]] {
        let time = genesis.header().time_ms + 1_000 * (ledger.height().get() + 1);
        let last: Option<CommitCertificate> = blocks.last().map(|(_, c)| Clone::clone(c));
        let (block, exec) = ledger
            .propose(0, time, txs, last, &keys)
            .expect("validator 0 exists");
        assert!(exec.rejected.is_empty(), "example transactions are valid");
        ledger
            .commit(&block.header, exec)
            .expect("a proposed block commits");
        let cert = certify(g, &validator, &block.header);
        blocks.push((block.header, cert));
    }
    let state_at_3 = {
        let (account, proof) = ledger.prove_account(&operator.id());
        AccountState {
            account: account.map(|a| STANDARD.encode(a.to_bytes())),
            proof,
        }
    };

    let other = |n: u8| ReceiptLeaf {
        submission: SubmissionId::new(Hash256::digest(&[n; 8])),
        operator: key(n).id(),
        seq: u64::from(n),
    };
    let leaves = [
        ReceiptLeaf {
            submission: first.submission_id(),
            operator: operator.id(),
            seq: 0,
        },
        ReceiptLeaf {
            submission: second.submission_id(),
            operator: operator.id(),
            seq: 1,
        },
        other(0x03),
    ];
    let deadline = Height::new(3);
    let signed = sign_group(&validator, g, RECEIVED_AT_MS, deadline, &leaves);
    let log = MerkleLog::from_leaf_hashes(leaves.iter().map(ReceiptLeaf::hash));
    let head = ReceiptHead {
        genesis: g,
        validator: validator.id(),
        received_at_ms: RECEIVED_AT_MS,
        deadline,
        tree_size: 3,
        root: log.root(),
    };
    let with_genesis = |r: &SignedReceipt| {
        serde_json::to_value(r.clone().with_genesis(genesis.header())).expect("receipts encode")
    };
    let receipt = with_genesis(&signed[1]);
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v = receipt.clone();
        f(&mut v);
        v
    };
    let case = |name: &str, doc: Value, fails: Option<&str>, why: &str| json!({ "name": name, "receipt": doc, "fails": fails, "description": why });
    let receipt_cases = vec![
        case(
            "valid",
            receipt.clone(),
            None,
            "the operator's seq 1, leaf 1 of 3",
        ),
        case(
            "valid-leaf-0",
            with_genesis(&signed[0]),
            None,
            "seq 0, leaf 0 of 3",
        ),
        case(
            "valid-leaf-2",
            with_genesis(&signed[2]),
            None,
            "another operator's, leaf 2 of 3",
        ),
        case(
            "seq-changed",
            edit(&|v| v["seq"] = json!(2)),
            Some("signature"),
            "the leaf differs, so the path leads to another root",
        ),
        case(
            "deadline-changed",
            edit(&|v| v["deadline"] = json!(30)),
            Some("signature"),
            "the signed head differs",
        ),
        case(
            "time-changed",
            edit(&|v| v["received_at_ms"] = json!(RECEIVED_AT_MS + 1)),
            Some("signature"),
            "the signed head differs",
        ),
        case(
            "path-byte-changed",
            edit(&|v| {
                let mut p = STANDARD
                    .decode(v["batch"]["path"].as_str().unwrap_or(""))
                    .unwrap_or_default();
                if let Some(b) = p.first_mut() {
                    *b ^= 1;
                }
                v["batch"]["path"] = json!(STANDARD.encode(p));
            }),
            Some("signature"),
            "one byte of the path changed",
        ),
        case(
            "index-out-of-range",
            edit(&|v| v["batch"]["leaf_index"] = json!(3)),
            Some("batch"),
            "leaf 3 of a group of 3",
        ),
        case(
            "path-not-hashes",
            edit(&|v| v["batch"]["path"] = json!("AAAA")),
            Some("batch"),
            "3 bytes are not whole hashes",
        ),
        case(
            "not-a-validator",
            edit(&|v| v["validator"] = json!(operator.id().to_string())),
            Some("validator"),
            "the operator's key id is not a validator's",
        ),
        case(
            "other-network",
            edit(&|v| v["genesis_hash"] = json!(Hash256::digest(b"another network").to_string())),
            Some("genesis"),
            "the carried genesis is not the receipt's network",
        ),
        case(
            "signature-changed",
            edit(&|v| {
                let mut s = STANDARD
                    .decode(v["signature"].as_str().unwrap_or(""))
                    .unwrap_or_default();
                if let Some(b) = s.get_mut(100) {
                    *b ^= 1;
                }
                v["signature"] = json!(STANDARD.encode(s));
            }),
            Some("signature"),
            "one byte of the signature changed",
        ),
        case(
            "unknown-member",
            edit(&|v| v["extra"] = json!(1)),
            Some("format"),
            "a receipt allows no other member",
        ),
        case(
            "version-2",
            edit(&|v| v["receipt"] = json!(2)),
            Some("format"),
            "an unknown version",
        ),
    ];

    let b64 = |bytes: Vec<u8>| STANDARD.encode(bytes);
    let evidence_for = |r: &SignedReceipt, at: usize, state: &AccountState| {
        serde_json::to_value(ReceiptEvidence {
            receipt_evidence: EVIDENCE_VERSION,
            receipt: r.clone(),
            genesis: b64(genesis.header().to_bytes()),
            header: b64(blocks[at].0.to_bytes()),
            certificate: b64(blocks[at].1.to_bytes()),
            state: state.clone(),
        })
        .expect("evidence encodes")
    };
    let evidence = evidence_for(&signed[1], 2, &state_at_3);
    let edit_e = |f: &dyn Fn(&mut Value)| {
        let mut v = evidence.clone();
        f(&mut v);
        v
    };
    let ecase = |name: &str, doc: Value, fails: Option<&str>, why: &str| json!({ "name": name, "evidence": doc, "fails": fails, "description": why });
    let evidence_cases = vec![
        ecase(
            "breach",
            evidence.clone(),
            None,
            "height 3 >= deadline 3 and the operator's next seq is 1: seq 1 not finalized",
        ),
        ecase(
            "not-a-breach",
            evidence_for(&signed[0], 2, &state_at_3),
            Some("deadline"),
            "seq 0 was finalized (next seq 1 > 0)",
        ),
        ecase(
            "before-deadline",
            edit_e(&|v| {
                v["header"] = json!(b64(blocks[1].0.to_bytes()));
                v["certificate"] = json!(b64(blocks[1].1.to_bytes()));
            }),
            Some("deadline"),
            "block 2 is before the deadline 3",
        ),
        ecase(
            "certificate-of-another-block",
            edit_e(&|v| v["certificate"] = json!(b64(blocks[1].1.to_bytes()))),
            Some("certificate"),
            "the certificate finalizes block 2, not block 3",
        ),
        ecase(
            "state-proof-changed",
            edit_e(&|v| {
                v["state"]["proof"]["siblings"][0] = json!(Hash256::digest(b"x").to_string());
            }),
            Some("state"),
            "one sibling of the state proof changed",
        ),
        ecase(
            "account-absent",
            edit_e(&|v| v["state"]["account"] = Value::Null),
            Some("state"),
            "the proof is of a record, not of absence",
        ),
        ecase(
            "receipt-tampered",
            edit_e(&|v| v["receipt"]["seq"] = json!(5)),
            Some("signature"),
            "the receipt inside no longer verifies",
        ),
    ];

    json!({
        "description": "Submission receipts and receipt evidence (FORMATS 26) on the example network of genesis.json: a group of three receipts signed by the validator of keys.json seed 0x01 at height 1 with deadline 3; evidence at height 3 that the operator's (seed 0x02) seq 1 was not finalized in time.",
        "context": "pantheon/v1/receipt",
        "validator_public_key": hx(validator.public().as_bytes()),
        "group": {
            "leaves": leaves.iter().map(|l| hx(&l.to_bytes())).collect::<Vec<_>>(),
            "leaf_hashes": leaves.iter().map(|l| l.hash().to_string()).collect::<Vec<_>>(),
            "root": head.root.to_string(),
            "message": hx(&head.message()),
        },
        "genesis": b64(genesis.header().to_bytes()),
        "receipts": receipt_cases,
        "evidence": evidence_cases,
    })
}
