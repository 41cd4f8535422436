//! `operator-export.json`: operator exports (FORMATS 25) over a chain of
//! the example network made to anchor to regtest (3 confirmations): block
//! 1 registers the operator of `keys.json` seed 0x02 and holds its
//! submissions seq 0 and 1, block 2 holds seq 2, block 3 is empty and the
//! chain is anchored at A = 3 with the synthetic Bitcoin part. Valid
//! exports (all three; the prefix 0..1, complete at block 1; the range
//! 2..2) and tampered copies, each with the link that refuses it.

use serde_json::{Value, json};

use super::anchor::synthetic_bitcoin_part;
use super::{certify, key};
use crate::anchor::{BitcoinNetwork, BitcoinParams};
use crate::block::{BlockHeader, CommitCertificate};
use crate::crypto::KeyCache;
use crate::export::{Parts, write};
use crate::genesis::Genesis;
use crate::hash::{AuditRoot, Hash256};
use crate::ledger::Ledger;
use crate::proof::{AnchorProof, ProofBundle};
use crate::smt::StateProof;
use crate::state::Account;
use crate::tx::{Metadata, SignedTx, SubmitRoot, TxBody};

/// The anchored chain and what the exports are made of.
struct Chain {
    genesis: Genesis,
    /// Bundles of seq 0, 1, 2.
    bundles: Vec<ProofBundle>,
    /// The operator's account and its proof after blocks 1 and 2.
    states: Vec<(Account, StateProof)>,
}

fn chain(example: &Genesis) -> Chain {
    let genesis = example
        .clone()
        .with_bitcoin(Some(BitcoinParams {
            network: BitcoinNetwork::Regtest,
            confirmations: 3,
        }))
        .expect("valid Bitcoin params");
    let g = genesis.hash();
    let validator = key(0x01);
    let operator = key(0x02);
    let keys = KeyCache::default();
    let (register, first) = super::register_and_first_submission(&genesis, &operator);
    let next = |prev: &SignedTx, seq: u64| {
        TxBody::SubmitRoot(SubmitRoot {
            operator: operator.id(),
            seq,
            prev: prev.submission_id(),
            root: AuditRoot::new(Hash256::digest(format!("audit batch {seq}").as_bytes())),
            metadata: Metadata::default(),
        })
        .sign(&g, &operator)
    };
    let second = next(&first, 1);
    let third = next(&second, 2);

    let mut ledger = Ledger::from_genesis(&genesis);
    let mut headers: Vec<BlockHeader> = Vec::new();
    let mut certificates: Vec<CommitCertificate> = Vec::new();
    let mut states = Vec::new();
    for txs in [
        vec![register, first.clone(), second.clone()],
        vec![third.clone()],
        vec![],
    ] {
        let time = genesis.header().time_ms + 1_000 * (ledger.height().get() + 1);
        let (block, exec) = ledger
            .propose(0, time, txs, certificates.last().cloned(), &keys)
            .expect("validator 0 exists");
        assert!(exec.rejected.is_empty(), "example transactions are valid");
        ledger
            .commit(&block.header, exec)
            .expect("a proposed block commits");
        let (account, proof) = ledger.prove_account(&operator.id());
        states.push((account.expect("the operator is registered"), proof));
        certificates.push(certify(g, &validator, &block.header));
        headers.push(block.header);
    }
    let anchored = ledger.height();
    let commitment = ledger
        .anchor_commitment(anchored)
        .expect("the anchored height is committed");
    let part = synthetic_bitcoin_part(&commitment);
    let bundles = [(&first, 0u64, 0usize), (&second, 1, 0), (&third, 2, 1)]
        .into_iter()
        .map(|(tx, leaf, block)| {
            let header = &headers[block];
            let inclusion = ledger
                .log()
                .inclusion_proof(leaf, header.log_size)
                .expect("in the log");
            let history = ledger
                .history_proof(header.height, anchored)
                .expect("in range");
            ProofBundle::new(
                g,
                tx,
                operator.public().clone(),
                inclusion,
                header,
                &certificates[block].quorum(&genesis.header().validators),
            )
            .with_anchor(AnchorProof::new(&history, commitment, part.clone()))
        })
        .collect();
    states.truncate(2);
    Chain {
        genesis,
        bundles,
        states,
    }
}

/// The `operator-export.json` document.
pub(super) fn exports(example: &Genesis) -> Value {
    let c = chain(example);
    let operator = key(0x02).id();
    let export = |range: std::ops::Range<usize>, state: usize| {
        let (account, proof) = &c.states[state];
        write(&Parts {
            operator,
            genesis: Some(c.genesis.header()),
            submissions: &c.bundles[range],
            account,
            proof,
        })
        .expect("bundles encode")
    };
    let all = export(0..3, 1);
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v = all.clone();
        f(&mut v);
        v
    };
    let bundle = |i: usize| all["submissions"][i].clone();
    let case = |name: &str, doc: Value, fails: Option<&str>, why: &str| json!({ "name": name, "export": doc, "fails": fails, "description": why });
    let cases = vec![
        case(
            "all",
            all.clone(),
            None,
            "seq 0..2, complete at block 2 (next seq 3, last submission seq 2)",
        ),
        case(
            "prefix",
            export(0..2, 0),
            None,
            "seq 0..1 with the state after block 1: complete at block 1, which says nothing of block 2",
        ),
        case(
            "range",
            export(2..3, 1),
            None,
            "seq 2 alone: a range need not start at 0 (the prev of its first submission is not checked)",
        ),
        case(
            "withheld_middle",
            edit(&|v| {
                v["submissions"] = json!([bundle(0), bundle(2)]);
            }),
            Some("completeness"),
            "seq 1 withheld: the sequence has a gap",
        ),
        case(
            "withheld_last",
            edit(&|v| {
                v["submissions"] = json!([bundle(0), bundle(1)]);
            }),
            Some("state"),
            "seq 2 withheld, the state of block 2 kept: its proof does not lead to block 1's state root",
        ),
        case(
            "withheld_in_block",
            export(0..1, 0),
            Some("completeness"),
            "seq 1 withheld, the state of block 1 (which holds it too): the state names seq 1 as the last",
        ),
        case(
            "reordered",
            edit(&|v| {
                v["submissions"] = json!([bundle(1), bundle(0), bundle(2)]);
            }),
            Some("completeness"),
            "seq 0 and 1 swapped",
        ),
        case(
            "repeated",
            edit(&|v| {
                v["submissions"] = json!([bundle(0), bundle(1), bundle(1), bundle(2)]);
            }),
            Some("completeness"),
            "seq 1 twice",
        ),
        case(
            "account_edited",
            edit(&|v| {
                let (mut account, _) = c.states[1];
                if let Some(op) = account.operator.as_mut() {
                    op.next_seq = 2;
                }
                v["state"]["account"] = json!(base64(&crate::codec::Encode::to_bytes(&account)));
            }),
            Some("state"),
            "the account record's next seq changed to 2: its value hash no longer matches the proof",
        ),
        case(
            "proof_edited",
            edit(&|v| {
                let s = &mut v["state"]["proof"]["siblings"][0];
                let h: Hash256 = s.as_str().expect("hex").parse().expect("a hash");
                *s = json!(Hash256::digest(h.as_bytes()).to_string());
            }),
            Some("state"),
            "the state proof's first sibling replaced",
        ),
        case(
            "bundle_edited",
            edit(&|v| {
                let cert = &mut v["submissions"][1]["certificate"];
                *cert = super::record_proofs::flip(cert, 100);
            }),
            Some("certificate"),
            "one byte of seq 1's certificate flipped: that bundle's own link fails, reported with its index",
        ),
    ];
    json!({
        "description": "Operator exports (FORMATS 25) of operator seed 0x02 on the example network made to anchor to regtest (3 confirmations; `genesis` carries its header): block 1 registers the operator and holds seq 0 and 1, block 2 holds seq 2, block 3 is empty, and the chain is anchored at A = 3 by the synthetic Bitcoin part. Each case is verified with no trust given; `fails` is the first link that refuses it (null: valid).",
        "genesis_hash": c.genesis.hash().to_string(),
        "operator": operator.to_string(),
        "cases": cases,
    })
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
