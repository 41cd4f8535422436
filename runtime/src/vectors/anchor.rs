//! The anchoring vectors: block history log, anchor commitment, an
//! AnchorRecord transaction, a synthetic Bitcoin part and a complete
//! anchored proof bundle (`docs/FORMATS.md`, sections 17 to 21).

use serde_json::{Value, json};

use super::{hx, tx_vector};
use crate::amount::Height;
use crate::anchor::{AnchorCommitment, BitcoinBlockHash, BitcoinPart, commitment_body, sha256d};
use crate::block::{BlockHeader, CommitCertificate};
use crate::codec::Encode;
use crate::crypto::{KeyCache, Keypair};
use crate::genesis::Genesis;
use crate::hash::{Domain, Hash256};
use crate::ledger::Ledger;
use crate::log::leaf_hash;
use crate::proof::{AnchorProof, ProofBundle};
use crate::tx::{AnchorRecord, SignedTx, TxBody};

/// nBits of the synthetic headers: a target of 2^-16 of the hash space,
/// within regtest's limit (`0x207fffff`), hard enough that a flipped bit
/// almost never still meets it.
pub const SYNTHETIC_BITS: u32 = 0x1f00_ffff;

/// The Bitcoin block height the example record claims.
const BITCOIN_HEIGHT: u64 = 101;

/// A synthetic regtest Bitcoin part anchoring `commitment`, built without
/// the `bitcoin` crate: a version-2 transaction spending
/// `sha256d("pantheon vectors funding"):0` (empty scriptSig, sequence
/// `0xfffffffd`) to the anchor output (value 0, `OP_RETURN` push 37
/// `"PNTH" 01 <commitment>`) and a 99,999,684-sat P2WPKH change output;
/// placed at index 2 of a block of three (after `sha256d("coinbase")` and
/// `sha256d("filler")`); the block's header and two more are mined at
/// nBits [`SYNTHETIC_BITS`]. Deterministic.
#[must_use]
pub fn synthetic_bitcoin_part(commitment: &AnchorCommitment) -> BitcoinPart {
    let program: [u8; 20] = Hash256::digest(b"pantheon vectors change key").as_bytes()[..20]
        .try_into()
        .expect("20 of 32 bytes");
    let raw_tx = anchor_tx(b"pantheon vectors funding", commitment.as_bytes(), &program);
    third_of_three(raw_tx, 1_767_225_600)
}

/// The P2WPKH program of the worked example's change output (FORMATS
/// 20.8): HASH160 of the compressed public key of the secret key
/// `0x42` x 32, the anchor crate's test key. The anchor crate rebuilds the
/// example with the `bitcoin` crate and checks it equals these bytes.
const EXAMPLE_CHANGE_PROGRAM: [u8; 20] = [
    0x14, 0xdb, 0x41, 0x38, 0xd5, 0x6a, 0x2e, 0xcf, 0xb1, 0x08, 0x81, 0xa9, 0xbe, 0x39, 0x4d, 0x9f,
    0x32, 0x19, 0x85, 0xb2,
];

/// The worked example of FORMATS 20.8: the anchor transaction of
/// `SHA-256("pantheon example commitment")`, spending `sha256d("funding"):0`,
/// at index 2 of three, under three headers from time 1,700,000,000.
#[must_use]
pub fn worked_example_part() -> (Hash256, BitcoinPart) {
    let commitment = Hash256::digest(b"pantheon example commitment");
    let raw_tx = anchor_tx(b"funding", commitment.as_bytes(), &EXAMPLE_CHANGE_PROGRAM);
    (commitment, third_of_three(raw_tx, 1_700_000_000))
}

/// `raw_tx` at index 2 of a block of three (`sha256d("coinbase")`,
/// `sha256d("filler")`, it), under that block's header and two more, 600
/// seconds apart from `time` (merkle roots `0x01..`, `0x02..`).
fn third_of_three(raw_tx: Vec<u8>, time: u32) -> BitcoinPart {
    let leaves = [sha256d(b"coinbase"), sha256d(b"filler"), sha256d(&raw_tx)];
    // Three leaves: n01 = H2(t0 || t1), n22 = H2(t2 || t2), root = H2(n01 || n22).
    let n01 = sha256d(&[leaves[0], leaves[1]].concat());
    let n22 = sha256d(&[leaves[2], leaves[2]].concat());
    let root = sha256d(&[n01, n22].concat());
    BitcoinPart {
        raw_tx,
        tx_index: 2,
        branch: vec![leaves[2], n01],
        headers: three_headers(root, time),
    }
}

/// The block of `root` and two more on it, mined at [`SYNTHETIC_BITS`].
fn three_headers(root: [u8; 32], time: u32) -> Vec<[u8; 80]> {
    let h0 = mine([0; 32], root, time);
    let h1 = mine(sha256d(&h0), [1; 32], time + 600);
    let h2 = mine(sha256d(&h1), [2; 32], time + 1_200);
    vec![h0, h1, h2]
}

/// A Bitcoin part whose Merkle branch is `branch` (FORMATS 20.6.3) for
/// `raw_tx` at `tx_index`, under three synthetic headers.
pub(super) fn part_with_branch(
    raw_tx: Vec<u8>,
    tx_index: u32,
    branch: Vec<[u8; 32]>,
) -> BitcoinPart {
    let mut node = sha256d(&raw_tx);
    for (i, s) in branch.iter().enumerate() {
        node = if (tx_index >> i) & 1 == 1 {
            sha256d(&[*s, node].concat())
        } else {
            sha256d(&[node, *s].concat())
        };
    }
    BitcoinPart {
        raw_tx,
        tx_index,
        branch,
        headers: three_headers(node, 1_767_225_600),
    }
}

/// The anchor transaction, without witness: version 2, one input
/// spending `sha256d(funding):0` (empty scriptSig, sequence `0xfffffffd`),
/// the anchor output of `commitment` and 99,999,684 sat to the P2WPKH
/// `program`, locktime 0.
pub(super) fn anchor_tx(funding: &[u8], commitment: &[u8; 32], program: &[u8; 20]) -> Vec<u8> {
    let mut tx = Vec::with_capacity(130);
    tx.extend_from_slice(&2u32.to_le_bytes());
    tx.push(1); // one input
    tx.extend_from_slice(&sha256d(funding));
    tx.extend_from_slice(&0u32.to_le_bytes());
    tx.push(0); // empty scriptSig
    tx.extend_from_slice(&0xffff_fffdu32.to_le_bytes());
    tx.push(2); // two outputs
    tx.extend_from_slice(&0u64.to_le_bytes());
    tx.push(39);
    tx.extend_from_slice(&[0x6a, 0x25]);
    tx.extend_from_slice(b"PNTH");
    tx.push(1);
    tx.extend_from_slice(commitment);
    tx.extend_from_slice(&99_999_684u64.to_le_bytes());
    tx.push(22);
    tx.extend_from_slice(&[0x00, 0x14]);
    tx.extend_from_slice(program);
    tx.extend_from_slice(&0u32.to_le_bytes());
    tx
}

/// The 256-bit target of a compact nBits with a positive exponent >= 3
/// (big-endian); enough for the synthetic headers.
fn target(bits: u32) -> [u8; 32] {
    let exponent = usize::try_from(bits >> 24).expect("a u8 fits in usize");
    let mantissa = (bits & 0x007f_ffff).to_be_bytes();
    let mut t = [0u8; 32];
    let start = 32 - exponent;
    t[start..start + 3].copy_from_slice(&mantissa[1..]);
    t
}

fn mine(prev: [u8; 32], merkle_root: [u8; 32], time: u32) -> [u8; 80] {
    let mut h = [0u8; 80];
    h[..4].copy_from_slice(&0x2000_0000u32.to_le_bytes());
    h[4..36].copy_from_slice(&prev);
    h[36..68].copy_from_slice(&merkle_root);
    h[68..72].copy_from_slice(&time.to_le_bytes());
    h[72..76].copy_from_slice(&SYNTHETIC_BITS.to_le_bytes());
    let target = target(SYNTHETIC_BITS);
    for nonce in 0u32.. {
        h[76..].copy_from_slice(&nonce.to_le_bytes());
        let mut hash = sha256d(&h);
        hash.reverse();
        if hash <= target {
            return h;
        }
    }
    unreachable!("a nonce meets a 2^-16 target")
}

/// The chain the anchoring vectors are built from.
struct Example {
    ledger: Ledger,
    headers: Vec<BlockHeader>,
    submission: SignedTx,
    certificate: CommitCertificate,
    anchored: Height,
    record: SignedTx,
    part: BitcoinPart,
}

/// Block 1: the operator registers and submits seq 0 (the transactions of
/// `transactions.json`); blocks 2 and 3 are empty; the chain is anchored at
/// A = 3; block 4 carries the validator's AnchorRecord.
fn example(genesis: &Genesis, validator: &Keypair, operator: &Keypair) -> Example {
    let g = genesis.hash();
    let keys = KeyCache::default();
    let mut ledger = Ledger::from_genesis(genesis);
    let mut headers = Vec::new();
    // Each block carries the certificate of the one before it (9.4), as
    // a node's chain does.
    let mut last: Option<CommitCertificate> = None;
    let mut commit = |ledger: &mut Ledger, txs: Vec<SignedTx>| {
        let time = genesis.header().time_ms + 1_000 * (ledger.height().get() + 1);
        let (block, exec) = ledger
            .propose(0, time, txs, last.take(), &keys)
            .expect("validator 0 exists");
        assert!(exec.rejected.is_empty(), "example transactions are valid");
        let parent_version = headers.last().map_or(0, BlockHeader::version);
        ledger
            .check_carried(&block, parent_version, &keys)
            .expect("the example carries valid certificates");
        ledger
            .commit(&block.header, exec)
            .expect("a proposed block commits");
        last = Some(super::certify(g, validator, &block.header));
        headers.push(block.header);
    };
    let (register, submission) = super::register_and_first_submission(genesis, operator);
    commit(&mut ledger, vec![register, submission.clone()]);
    commit(&mut ledger, vec![]);
    commit(&mut ledger, vec![]);
    let anchored = ledger.height();
    let commitment = ledger
        .anchor_commitment(anchored)
        .expect("the anchored height is committed");
    let part = synthetic_bitcoin_part(&commitment);
    // Kind 4 under a version-1 genesis; under version 2, kind 5 with the
    // part when the genesis asks as many confirmations as it carries.
    let header = genesis.header();
    let body = if header.pins_bitcoin() {
        AnchorRecord::with_part(0, anchored, commitment, BITCOIN_HEIGHT, part.clone())
            .expect("within the record limits")
    } else {
        AnchorRecord {
            validator: 0,
            height: anchored,
            commitment,
            bitcoin_txid: part.txid(),
            bitcoin_block: part.block_hash().unwrap_or_default(),
            bitcoin_height: BITCOIN_HEIGHT,
            part: None,
        }
    };
    let record = TxBody::AnchorRecord(body).sign(&g, validator);
    let carried = header
        .bitcoin
        .is_none_or(|b| usize::from(b.confirmations) == part.headers.len());
    commit(
        &mut ledger,
        if header.pins_bitcoin() && !carried {
            vec![]
        } else {
            vec![record.clone()]
        },
    );
    let first = &headers[0];
    let certificate = super::certify(g, validator, first);
    Example {
        ledger,
        headers,
        submission,
        certificate,
        anchored,
        record,
        part,
    }
}

fn path(p: &crate::log::InclusionProof) -> Vec<String> {
    p.path.iter().map(ToString::to_string).collect()
}

/// `anchor.json`, `bundle.json` (version 2) and `bundle-v1.json`.
pub(super) fn anchor_vectors(
    genesis: &Genesis,
    validator: &Keypair,
    operator: &Keypair,
) -> (Value, Value, Value) {
    let ex = example(genesis, validator, operator);
    let history = ex.ledger.history();
    let block_hashes: Vec<String> = ex.headers.iter().map(|h| h.hash().to_string()).collect();
    let leaf_hashes: Vec<String> = ex
        .headers
        .iter()
        .map(|h| leaf_hash(h.hash().as_bytes()).to_string())
        .collect();
    let roots: Vec<Value> = (1..=history.size())
        .map(|n| json!({ "size": n, "root": history.root_at(n).expect("n <= size").to_string() }))
        .collect();
    let proofs: Vec<Value> = [(1u64, 3u64), (3, 3), (2, 4), (1, 1), (4, 4)]
        .iter()
        .map(|(h, a)| {
            let p = ex
                .ledger
                .history_proof(Height::new(*h), Height::new(*a))
                .expect("in range");
            json!({ "height": h, "size": a, "leaf_index": p.leaf_index, "path": path(&p) })
        })
        .collect();

    let a = ex.anchored;
    let root = ex
        .ledger
        .history_root(a)
        .expect("anchored height committed");
    let commitment = ex.ledger.anchor_commitment(a).expect("anchored");
    let body = commitment_body(&genesis.hash(), a, &root);
    let mut preimage = Domain::Anchor.tag().as_bytes().to_vec();
    preimage.push(0);
    preimage.extend_from_slice(&body);

    let part = &ex.part;
    let payload_at = 63; // version 4 + count 1 + input 41 + count 1 + value 8 + len 1 + 6a 25
    let header_hashes: Vec<Value> = part
        .headers
        .iter()
        .map(|h| {
            let hash = BitcoinBlockHash::from_bytes(sha256d(h));
            json!({ "internal": hx(hash.as_bytes()), "displayed": hash.to_string() })
        })
        .collect();
    let mut record = tx_vector("anchor_record", &ex.record, genesis);
    if let (Some(r), Some(obj)) = (ex.record.as_anchor_record(), record.as_object_mut()) {
        obj.insert(
            "fields".into(),
            json!({
                "validator": r.validator,
                "height": r.height.get(),
                "commitment": r.commitment.to_string(),
                "bitcoin_txid": hx(r.bitcoin_txid.as_bytes()),
                "bitcoin_txid_displayed": r.bitcoin_txid.to_string(),
                "bitcoin_block": hx(r.bitcoin_block.as_bytes()),
                "bitcoin_block_displayed": r.bitcoin_block.to_string(),
                "bitcoin_height": r.bitcoin_height,
            }),
        );
        obj.insert("signer_seed".into(), json!(hx(&[0x01; 32])));
        obj.insert("included_in_block".into(), json!(a.get() + 1));
    }

    let anchor = json!({
        "description": "Block history log of the example chain (block 1: the operator registers and submits seq 0 of transactions.json; blocks 2, 3 empty; block 4 carries the AnchorRecord), the anchor commitment at A = 3, the AnchorRecord transaction signed by the validator (seed 0x01...), and a synthetic regtest Bitcoin part carrying the commitment",
        "genesis_hash": genesis.hash().to_string(),
        "history": {
            "block_hashes": block_hashes,
            "leaf_hashes": leaf_hashes,
            "roots": roots,
            "inclusion_proofs": proofs,
        },
        "commitment": {
            "height": a.get(),
            "history_root": root.to_string(),
            "body": hx(&body),
            "preimage": hx(&preimage),
            "commitment": commitment.to_string(),
        },
        "anchor_record": record,
        "bitcoin": {
            "network": "regtest",
            "part": serde_json::to_value(part).expect("parts serialize"),
            "part_bytes": hx(&part.to_bytes()),
            "payload": hx(&part.raw_tx[payload_at - 5..payload_at + 32]),
            "commitment_offset": payload_at,
            "txid": hx(part.txid().as_bytes()),
            "txid_displayed": part.txid().to_string(),
            "merkle_root": hx(&part.headers[0][36..68]),
            "header_hashes": header_hashes,
            "bits": SYNTHETIC_BITS,
            "confirmations": part.headers.len(),
        },
    });

    let inclusion = ex
        .ledger
        .log()
        .inclusion_proof(0, ex.headers[0].log_size)
        .expect("the submission is leaf 0");
    let history_proof = ex
        .ledger
        .history_proof(ex.headers[0].height, a)
        .expect("in range");
    let bundle = ProofBundle::new(
        genesis.hash(),
        &ex.submission,
        operator.public().clone(),
        inclusion,
        &ex.headers[0],
        &ex.certificate.quorum(&genesis.header().validators),
    )
    .with_anchor(AnchorProof::new(
        &history_proof,
        commitment,
        ex.part.clone(),
    ));
    let v1 = bundle
        .clone()
        .into_version_1(genesis.header(), Some(&ex.record));
    (
        anchor,
        serde_json::to_value(&bundle).expect("bundles serialize"),
        serde_json::to_value(&v1).expect("bundles serialize"),
    )
}

/// `bitcoin-part.json`: the worked example of FORMATS 20.8, byte for byte.
pub(super) fn worked_example() -> Value {
    let (commitment, part) = worked_example_part();
    let raw = &part.raw_tx;
    let leaves = [sha256d(b"coinbase"), sha256d(b"filler"), sha256d(raw)];
    let n01 = sha256d(&[leaves[0], leaves[1]].concat());
    let n22 = sha256d(&[leaves[2], leaves[2]].concat());
    let payload_at = 63; // as in the example chain's part: the same layout
    let header_hashes: Vec<Value> = part
        .headers
        .iter()
        .map(|h| {
            let hash = BitcoinBlockHash::from_bytes(sha256d(h));
            json!({ "internal": hx(hash.as_bytes()), "displayed": hash.to_string() })
        })
        .collect();
    let verdict = |network: &str, k: u32, fails: Option<&str>| json!({ "network": network, "confirmations": k, "fails": fails });
    json!({
        "description": "The worked example of FORMATS 20.8: the anchor transaction of commitment SHA-256('pantheon example commitment') (one input spending H2('funding'):0, the anchor output, 99,999,684 sat of change to P2WPKH 14db4138...85b2), at index 2 of a block of three (H2('coinbase'), H2('filler'), it), under three headers mined at nBits 0x1f00ffff from time 1,700,000,000. `verdicts`: the part checked (20.6) for the commitment on a network with k confirmations, and the link of 20.6 that fails (null: valid); `tx_index_3` is the same part claiming index 3, the duplicated position.",
        "network": "regtest",
        "commitment": commitment.to_string(),
        "raw_tx": hx(raw),
        "commitment_offset": payload_at,
        "payload": hx(&raw[payload_at - 5..payload_at + 32]),
        "txid": hx(part.txid().as_bytes()),
        "txid_displayed": part.txid().to_string(),
        "block_transactions": leaves.iter().map(|l| hx(l)).collect::<Vec<_>>(),
        "n01": hx(&n01),
        "n22": hx(&n22),
        "merkle_root": hx(&part.headers[0][36..68]),
        "header_hashes": header_hashes,
        "bits": SYNTHETIC_BITS,
        "part": serde_json::to_value(&part).expect("parts serialize"),
        "part_bytes": hx(&part.to_bytes()),
        "verdicts": [
            verdict("regtest", 1, None),
            verdict("regtest", 2, None),
            verdict("regtest", 3, None),
            verdict("regtest", 4, Some("confirmations")),
            verdict("bitcoin", 1, Some("header 0")),
        ],
        "tx_index_3": { "network": "regtest", "confirmations": 1, "fails": "merkle" },
    })
}
