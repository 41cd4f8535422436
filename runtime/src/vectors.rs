//! The test vectors published in `docs/vectors/`.
//!
//! [`generate`] builds every vector from fixed seeds, deterministically. The
//! example `vectors` writes them out (`cargo run -p pantheon-runtime
//! --example vectors -- docs/vectors`) and the test `tests/vectors.rs` fails
//! when the committed files and the code disagree, so a change to a frozen
//! format cannot pass CI unnoticed. `docs/FORMATS.md` explains each field.

use serde_json::{Value, json};

use crate::amount::{Amount, Height, SUPPLY};
use crate::anchor::{BitcoinNetwork, BitcoinParams};
use crate::block::{
    BlockHeader, CommitCertificate, CommitSignature, ProposalMessage, VoteMessage, VoteType,
};
use crate::codec::Encode;
use crate::crypto::{Keypair, SignContext};
use crate::genesis::{Allocation, Genesis, Params, Validator, ValidatorSet};
use crate::hash::{AuditRoot, BlockHash, GenesisHash, Hash256, LogRoot, StateRoot, SubmissionId};
use crate::log::{self, MerkleLog};
use crate::smt::StateTree;
use crate::state::{Account, LastSubmission, OperatorState, StateKey, value_hash};
use crate::tx::{Metadata, RegisterOperator, SignedTx, SubmitRoot, Transfer, TxBody};

mod anchor;
pub(crate) mod audit;
mod bundles;
mod exports;
mod ots;
mod receipts;
mod record_proofs;
mod records;

pub use anchor::{SYNTHETIC_BITS, synthetic_bitcoin_part, worked_example_part};

/// One vector file: its name (without `.json`) and contents.
pub struct VectorFile {
    /// File stem, e.g. `transactions`.
    pub name: &'static str,
    /// The JSON document.
    pub json: Value,
}

fn hx(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn key(seed_byte: u8) -> Keypair {
    Keypair::from_seed(&[seed_byte; 32])
}

/// Every vector file, in a fixed order.
///
/// # Panics
/// Never: all inputs are fixed and valid.
#[must_use]
pub fn generate() -> Vec<VectorFile> {
    let validator = key(0x01);
    let operator = key(0x02);
    let genesis = example_genesis(&validator, &operator);
    let (anchor, bundle, bundle_v1) = anchor::anchor_vectors(&genesis, &validator, &operator);
    let pinned = pinned_bundles(&genesis, &validator, &operator);
    let limits = bundles::limits(&genesis, &validator, &operator);
    let other_network = genesis
        .clone()
        .with_bitcoin(Some(BitcoinParams::for_network(BitcoinNetwork::Regtest)))
        .expect("valid Bitcoin params")
        .hash()
        .to_string();
    let malformed = bundles::malformed(&bundle, &bundle_v1, &limits, &other_network);
    let ots = ots::ots(&genesis, &bundle, &bundle_v1);
    vec![
        VectorFile {
            name: "keys",
            json: keys(),
        },
        VectorFile {
            name: "genesis",
            json: genesis_vectors(&genesis),
        },
        VectorFile {
            name: "transactions",
            json: transactions(&genesis, &operator),
        },
        VectorFile {
            name: "log",
            json: log_vectors(),
        },
        VectorFile {
            name: "state",
            json: state_vectors(),
        },
        VectorFile {
            name: "block",
            json: block_vectors(&genesis, &validator),
        },
        VectorFile {
            name: "anchor",
            json: anchor,
        },
        VectorFile {
            name: "bundle",
            json: bundle,
        },
        VectorFile {
            name: "bundle-v1",
            json: bundle_v1,
        },
        VectorFile {
            name: "bundle-pinned",
            json: pinned,
        },
        VectorFile {
            name: "bundle-limits",
            json: limits,
        },
        VectorFile {
            name: "bundle-malformed",
            json: malformed,
        },
        VectorFile {
            name: "bitcoin-part",
            json: anchor::worked_example(),
        },
        VectorFile {
            name: "records",
            json: records::records(),
        },
        VectorFile {
            name: "record-proof",
            json: record_proofs::record_proofs(&genesis),
        },
        VectorFile {
            name: "operator-export",
            json: exports::exports(&genesis),
        },
        VectorFile {
            name: "ots",
            json: ots,
        },
        VectorFile {
            name: "receipts",
            json: receipts::receipts(&genesis),
        },
        VectorFile {
            name: "audit",
            json: audit::audit(&genesis),
        },
    ]
}

/// `bundle-pinned.json`: the example chain made again under version-2
/// genesis files that commit the Bitcoin network (FORMATS 11.7), each
/// bundle carrying its genesis. The Bitcoin part is the synthetic regtest
/// one in both: valid under `regtest`, refused under `testnet4`.
fn pinned_bundles(genesis: &Genesis, validator: &Keypair, operator: &Keypair) -> Value {
    let bundle = |bitcoin| {
        let g = genesis
            .clone()
            .with_bitcoin(Some(bitcoin))
            .expect("valid Bitcoin params");
        let (_, bundle, _) = anchor::anchor_vectors(&g, validator, operator);
        let mut bundle: crate::proof::ProofBundle =
            serde_json::from_value(bundle).expect("the bundle reads back");
        bundle = bundle.with_genesis(g.header());
        serde_json::to_value(&bundle).expect("bundles serialize")
    };
    // Regtest asking the 3 confirmations the synthetic part carries, so
    // that block 4 carries its kind-5 record.
    let regtest = BitcoinParams {
        network: BitcoinNetwork::Regtest,
        confirmations: 3,
    };
    // The regtest network's record of the same anchor, with its part.
    let g = genesis
        .clone()
        .with_bitcoin(Some(regtest))
        .expect("valid Bitcoin params");
    let (_, b, _) = anchor::anchor_vectors(&g, validator, operator);
    let b: crate::proof::ProofBundle = serde_json::from_value(b).expect("the bundle reads back");
    let a = b.anchor.expect("anchored");
    let record = crate::tx::AnchorRecord::with_part(0, a.height, a.commitment, 101, a.bitcoin)
        .expect("within the record limits");
    let record = TxBody::AnchorRecord(record).sign(&g.hash(), validator);
    json!({
        "record_kind5": tx_vector("anchor_record_kind5", &record, &g),
        "description": "The anchored bundle of bundle.json, made on version-2 genesis files (each embedded) that commit regtest (3 confirmations, as many as the synthetic part carries, so that block 4 of that chain carries the kind-5 record) and testnet4 (6 confirmations); both carry the synthetic regtest Bitcoin part of anchor.json. Expected verdicts: `regtest` is valid with no trust given (genesis unpinned, network from the genesis, 3 confirmations carried against 3 required) and fails the bitcoin link if the verifier states another network; `testnet4` fails the bitcoin link without a checkpoint or live node (headers alone), and with a checkpoint on its first header still fails it (the headers' target is above testnet4's proof-of-work limit). `record_kind5` is the regtest network's AnchorRecord of that anchor with its Bitcoin part (kind 5, FORMATS 19.1), signed by validator 0 (seed 0x01...), Bitcoin height 101: the record block 4 of that chain carries.",
        "regtest": bundle(regtest),
        "testnet4": bundle(BitcoinParams::for_network(BitcoinNetwork::Testnet4)),
    })
}

fn example_genesis(validator: &Keypair, operator: &Keypair) -> Genesis {
    let half = SUPPLY.units() / 2;
    let mut allocations = vec![
        Allocation {
            account: validator.id(),
            amount: Amount::from_units(half),
        },
        Allocation {
            account: operator.id(),
            amount: Amount::from_units(SUPPLY.units() - half),
        },
    ];
    allocations.sort_by_key(|a| a.account);
    let validators = ValidatorSet::new(vec![Validator {
        public_key: validator.public().clone(),
        power: 1,
    }])
    .expect("one validator is a valid set");
    Genesis::new(
        "pantheon-vectors".into(),
        1_767_225_600_000,
        Params::default(),
        validators,
        allocations,
    )
    .expect("the example genesis is valid")
}

fn keys() -> Value {
    let cases: Vec<Value> = [0x01u8, 0x02, 0x03]
        .iter()
        .map(|b| {
            let k = key(*b);
            json!({
                "seed": hx(&[*b; 32]),
                "public_key": hx(k.public().as_bytes()),
                "id": k.id().to_string(),
                "pkcs8_pem": k.to_pkcs8_pem().expect("PEM encoding of a seed key"),
            })
        })
        .collect();
    let k = key(0x01);
    let message = b"pantheon test message";
    let signatures: Vec<Value> = [SignContext::SubmitRoot, SignContext::Vote]
        .iter()
        .map(|ctx| {
            json!({
                "seed": hx(&[0x01; 32]),
                "context": ctx.as_str(),
                "message": hx(message),
                "signature": hx(k.sign(*ctx, message).as_bytes()),
            })
        })
        .collect();
    json!({
        "description": "ML-DSA-65 keys from 32-byte seeds, key ids, PKCS#8 PEM, and deterministic signatures with context strings",
        "keys": cases,
        "signatures": signatures,
    })
}

fn genesis_vectors(g: &Genesis) -> Value {
    let v2 = |bitcoin| {
        let g = g
            .clone()
            .with_bitcoin(bitcoin)
            .expect("valid Bitcoin params");
        json!({
            "genesis": serde_json::to_value(&g).expect("genesis serializes"),
            "header_bytes": hx(&g.header().to_bytes()),
            "genesis_hash": g.hash().to_string(),
        })
    };
    json!({
        "description": "A genesis with one validator and two allocations: header encoding, allocations hash and genesis hash; the same as version 2, anchoring to regtest with 1 confirmation and to testnet4 with 6, and not anchoring",
        "genesis": serde_json::to_value(g).expect("genesis serializes"),
        "allocations_hash": g.header().allocations_hash.to_string(),
        "header_bytes": hx(&g.header().to_bytes()),
        "genesis_hash": g.hash().to_string(),
        "version_2": {
            "regtest": v2(Some(BitcoinParams::for_network(BitcoinNetwork::Regtest))),
            "testnet4": v2(Some(BitcoinParams::for_network(BitcoinNetwork::Testnet4))),
            "no_bitcoin": v2(None),
        },
    })
}

fn tx_vector(name: &str, tx: &SignedTx, genesis: &Genesis) -> Value {
    json!({
        "name": name,
        "context": tx.body().context().as_str(),
        "unsigned_bytes": hx(&tx.body().unsigned_bytes()),
        "signing_message": hx(&tx.body().signing_message(&genesis.hash())),
        "signature": hx(tx.signature().as_bytes()),
        "bytes": hx(tx.as_bytes()),
        "id": tx.id().to_string(),
    })
}

/// The operator's registration (nonce 0) and first submission (seq 0,
/// root `SHA-256("audit batch 0")`, no metadata): the start of
/// `transactions.json`, and of the anchored example chain.
fn register_and_first_submission(genesis: &Genesis, operator: &Keypair) -> (SignedTx, SignedTx) {
    let g = genesis.hash();
    let register = TxBody::RegisterOperator(RegisterOperator {
        key: operator.public().clone(),
        nonce: 0,
    })
    .sign(&g, operator);
    let first = TxBody::SubmitRoot(SubmitRoot {
        operator: operator.id(),
        seq: 0,
        prev: SubmissionId::default(),
        root: AuditRoot::new(Hash256::digest(b"audit batch 0")),
        metadata: Metadata::default(),
    })
    .sign(&g, operator);
    (register, first)
}

fn transactions(genesis: &Genesis, operator: &Keypair) -> Value {
    let g = genesis.hash();
    let (register, first) = register_and_first_submission(genesis, operator);
    let second = TxBody::SubmitRoot(SubmitRoot {
        operator: operator.id(),
        seq: 1,
        prev: first.submission_id(),
        root: AuditRoot::new(Hash256::digest(b"audit batch 1")),
        metadata: Metadata::new("ward-7/2026-01-01", Some(1_024)).expect("short label"),
    })
    .sign(&g, operator);
    let transfer = TxBody::Transfer(Transfer {
        from_key: operator.public().clone(),
        nonce: 1,
        to: key(0x03).id(),
        amount: Amount::from_units(1_500_000_000),
    })
    .sign(&g, operator);
    json!({
        "description": "Signed transactions of the operator key (seed 0x02...) on the network of genesis.json",
        "genesis_hash": g.to_string(),
        "signer_seed": hx(&[0x02; 32]),
        "transactions": [
            tx_vector("register_operator", &register, genesis),
            tx_vector("submit_root_seq0_no_metadata", &first, genesis),
            tx_vector("submit_root_seq1_with_metadata", &second, genesis),
            tx_vector("transfer", &transfer, genesis),
        ],
    })
}

fn log_vectors() -> Value {
    let leaves: Vec<Vec<u8>> = (0u8..7).map(|i| vec![i; usize::from(i)]).collect();
    let mut log = MerkleLog::new();
    let leaf_hashes: Vec<String> = leaves.iter().map(|l| log.append(l).to_string()).collect();
    let roots: Vec<Value> = (0..=7)
        .map(|n| json!({ "tree_size": n, "root": log.root_at(n).expect("n <= 7").to_string() }))
        .collect();
    let inclusion: Vec<Value> = [(0u64, 1u64), (0, 7), (3, 7), (6, 7), (4, 5)]
        .iter()
        .map(|(i, n)| {
            let p = log.inclusion_proof(*i, *n).expect("in range");
            json!({ "leaf_index": i, "tree_size": n, "path": p.path.iter().map(ToString::to_string).collect::<Vec<_>>() })
        })
        .collect();
    let consistency: Vec<Value> = [(1u64, 7u64), (3, 7), (4, 7), (6, 7), (2, 5), (0, 7), (7, 7)]
        .iter()
        .map(|(m, n)| {
            let p = log.consistency_proof(*m, *n).expect("in range");
            json!({ "old_size": m, "new_size": n, "path": p.path.iter().map(ToString::to_string).collect::<Vec<_>>() })
        })
        .collect();
    json!({
        "description": "RFC 9162 Merkle tree: leaf i is i repeated i times (leaf 0 is empty)",
        "leaves": leaves.iter().map(|l| hx(l)).collect::<Vec<_>>(),
        "leaf_hashes": leaf_hashes,
        "empty_root": log::empty_root().to_string(),
        "roots": roots,
        "inclusion_proofs": inclusion,
        "consistency_proofs": consistency,
    })
}

fn state_vectors() -> Value {
    let plain = Account {
        balance: Amount::from_units(2_500_000_000_000_000_000),
        nonce: 0,
        operator: None,
    };
    let operator = Account {
        balance: Amount::from_units(999_000_000),
        nonce: 1,
        operator: Some(OperatorState {
            next_seq: 2,
            last: Some(LastSubmission {
                id: SubmissionId::new(Hash256::digest(b"submission")),
                root: AuditRoot::new(Hash256::digest(b"root")),
                height: Height::new(42),
            }),
        }),
    };
    let registered = Account {
        balance: Amount::from_units(5),
        nonce: 1,
        operator: Some(OperatorState::default()),
    };
    let accounts: Vec<(u8, Account)> = vec![(0x01, plain), (0x02, operator), (0x03, registered)];
    let mut tree = StateTree::new();
    let mut records = Vec::new();
    for (b, acct) in &accounts {
        let id = key(*b).id();
        let k = StateKey::Account(id).tree_key();
        let value = acct.to_bytes();
        let vh = value_hash(&value);
        tree.update(vec![(k, Some(vh))]);
        records.push(json!({
            "account_id": id.to_string(),
            "record": serde_json::to_value(acct).expect("accounts serialize"),
            "value_bytes": hx(&value),
            "tree_key": k.to_string(),
            "value_hash": vh.to_string(),
        }));
    }
    let proofs: Vec<Value> = [0x01u8, 0x02, 0x04]
        .iter()
        .map(|b| {
            let k = StateKey::Account(key(*b).id()).tree_key();
            let p = tree.prove(&k);
            json!({ "tree_key": k.to_string(), "present": tree.get(&k).is_some(), "proof": serde_json::to_value(&p).expect("proofs serialize") })
        })
        .collect();
    json!({
        "description": "State records of the keys with seeds 0x01..03, their tree keys and value hashes, the root of the tree holding them, and proofs (seed 0x04 is absent)",
        "params_key": StateKey::Params.tree_key().to_string(),
        "params_bytes": hx(&Params::default().to_bytes()),
        "validators_key": StateKey::Validators.tree_key().to_string(),
        "records": records,
        "root": tree.root().to_string(),
        "proofs": proofs,
    })
}

fn block_vectors(genesis: &Genesis, validator: &Keypair) -> Value {
    let header = BlockHeader {
        height: Height::new(1),
        parent: BlockHash::new(genesis.hash().hash()),
        time_ms: 1_767_225_601_000,
        proposer: 0,
        tx_count: 2,
        tx_root: LogRoot::new(Hash256::digest(b"tx root")),
        log_size: 1,
        log_root: LogRoot::new(Hash256::digest(b"log root")),
        state_root: StateRoot::new(Hash256::digest(b"state root")),
        last_certificate: None,
    };
    let cert = certify(genesis.hash(), validator, &header);
    let vote = cert.vote_message(genesis.hash());
    let nil_prevote = VoteMessage {
        vote_type: VoteType::Prevote,
        block: None,
        ..vote
    };
    let proposal = ProposalMessage {
        genesis: genesis.hash(),
        height: header.height,
        round: 1,
        pol_round: Some(0),
        block: header.hash(),
    };
    json!({
        "proposal_bytes": hx(&proposal.to_bytes()),
        "proposal_signature": hx(validator.sign(SignContext::Proposal, &proposal.to_bytes()).as_bytes()),
        "description": "A block header, its hash, the precommit it is signed with, a nil prevote, a commit certificate by the validator of genesis.json (seed 0x01...), and a proposal of the block at round 1 re-proposing round 0 with its signature",
        "header": serde_json::to_value(header).expect("headers serialize"),
        "header_bytes": hx(&header.to_bytes()),
        "block_hash": header.hash().to_string(),
        "precommit_bytes": hx(&vote.to_bytes()),
        "nil_prevote_bytes": hx(&nil_prevote.to_bytes()),
        "certificate_bytes": hx(&cert.to_bytes()),
        "version_2": block_v2_vectors(&header, &cert),
    })
}

/// Block 2 of the same network with a version-2 header: it carries the
/// example certificate of block 1 and commits to its hash (FORMATS 9.4).
fn block_v2_vectors(parent: &BlockHeader, cert: &CommitCertificate) -> Value {
    let header = BlockHeader {
        height: Height::new(2),
        parent: parent.hash(),
        time_ms: parent.time_ms + 1_000,
        tx_count: 0,
        last_certificate: Some(cert.hash()),
        ..*parent
    };
    let block = crate::block::Block {
        header,
        last_certificate: Some(cert.clone()),
        txs: Vec::new(),
    };
    json!({
        "description": "Block 2, header version 2, no transactions (placeholder roots as in block 1): it carries the certificate of block 1 above (certificate_bytes) and its header commits to that certificate's hash",
        "header": serde_json::to_value(header).expect("headers serialize"),
        "header_bytes": hx(&header.to_bytes()),
        "block_hash": header.hash().to_string(),
        "certificate_hash": cert.hash().to_string(),
        "block_bytes": hx(&block.to_bytes()),
    })
}

/// The certificate of `header` by validator 0 alone (`validator`), the
/// one validator of the example networks: its precommit at round 0.
fn certify(genesis: GenesisHash, validator: &Keypair, header: &BlockHeader) -> CommitCertificate {
    let vote = VoteMessage {
        vote_type: VoteType::Precommit,
        genesis,
        height: header.height,
        round: 0,
        block: Some(header.hash()),
    };
    CommitCertificate {
        height: header.height,
        round: 0,
        block_hash: header.hash(),
        signatures: vec![CommitSignature {
            validator: 0,
            signature: validator.sign(SignContext::Vote, &vote.to_bytes()),
        }],
    }
}
