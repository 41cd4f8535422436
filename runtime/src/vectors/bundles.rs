//! The bundle vectors about reading (FORMATS 22.6, 22.7): a bundle at
//! every path limit (`bundle-limits.json`) and malformed bundles, each with
//! the link that must report it (`bundle-malformed.json`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::anchor::{anchor_tx, part_with_branch};
use super::hx;
use crate::amount::Height;
use crate::anchor::{AnchorCommitment, BitcoinNetwork, BitcoinParams, BitcoinPart, sha256d};
use crate::block::BlockHeader;
use crate::codec::Encode;
use crate::crypto::Keypair;
use crate::genesis::Genesis;
use crate::hash::{BlockHash, Hash256, LogRoot, StateRoot};
use crate::log::{InclusionProof, leaf_hash};
use crate::proof::{AnchorProof, MAX_PATH_HASHES, ProofBundle};

/// The anchored height and log size of the limits bundle: `2^64 - 1`, the
/// largest tree, whose first leaf has a path of exactly 64 hashes.
const LIMIT_SIZE: u64 = u64::MAX;

/// The transaction index of the limits bundle's Bitcoin part: alternating
/// left and right children up its 32 levels.
const LIMIT_TX_INDEX: u32 = 0xaaaa_aaaa;

fn hashes(label: &str, n: usize) -> Vec<Hash256> {
    (0..n)
        .map(|i| Hash256::digest(format!("{label} {i}").as_bytes()))
        .collect()
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn path_b64(path: &[Hash256]) -> String {
    b64(&path.iter().flat_map(|h| *h.as_bytes()).collect::<Vec<_>>())
}

/// The limits bundle: block 1 of a chain whose header claims a log of
/// `2^64 - 1` submissions, the submission its first leaf (a path of 64
/// hashes), anchored at height `2^64 - 1` (a history path of 64 hashes) by
/// a Bitcoin part with a 32-level branch; on the version-2 regtest genesis
/// of `bundle-pinned.json` (3 confirmations), embedded. Returns the bundle
/// and its Bitcoin part.
fn limits_bundle(
    genesis: &Genesis,
    validator: &Keypair,
    operator: &Keypair,
) -> (ProofBundle, BitcoinPart) {
    let g = genesis
        .clone()
        .with_bitcoin(Some(BitcoinParams {
            network: BitcoinNetwork::Regtest,
            confirmations: 3,
        }))
        .expect("valid Bitcoin params");
    let (_, submission) = super::register_and_first_submission(&g, operator);
    let inclusion = InclusionProof {
        leaf_index: 0,
        tree_size: LIMIT_SIZE,
        path: hashes("limit log path", MAX_PATH_HASHES),
    };
    let log_root = inclusion
        .root_from(&submission.submission_id().hash())
        .expect("64 hashes are the path of leaf 0 in 2^64 - 1 leaves");
    let header = BlockHeader {
        height: Height::new(1),
        parent: BlockHash::new(g.hash().hash()),
        time_ms: g.header().time_ms + 1_000,
        proposer: 0,
        tx_count: 1,
        tx_root: LogRoot::new(Hash256::digest(b"limit tx root")),
        log_size: LIMIT_SIZE,
        log_root: LogRoot::new(log_root),
        state_root: StateRoot::new(Hash256::digest(b"limit state root")),
        // Block 1, header version 2: it carries no certificate (9.4).
        last_certificate: Some(crate::hash::CertificateHash::default()),
    };
    let certificate = super::certify(g.hash(), validator, &header);
    let history = InclusionProof {
        leaf_index: 0,
        tree_size: LIMIT_SIZE,
        path: hashes("limit history path", MAX_PATH_HASHES),
    };
    let history_root = history
        .root_from(&leaf_hash(header.hash().as_bytes()))
        .expect("64 hashes are the path of block 1 in 2^64 - 1 blocks");
    let commitment = AnchorCommitment::compute(&g.hash(), Height::new(LIMIT_SIZE), &history_root);
    let program: [u8; 20] = Hash256::digest(b"pantheon vectors change key").as_bytes()[..20]
        .try_into()
        .expect("20 of 32 bytes");
    let branch = (0..crate::anchor::MAX_BRANCH_DEPTH)
        .map(|i| sha256d(format!("limit branch {i}").as_bytes()))
        .collect();
    let part = part_with_branch(
        anchor_tx(b"pantheon vectors funding", commitment.as_bytes(), &program),
        LIMIT_TX_INDEX,
        branch,
    );
    let bundle = ProofBundle::new(
        g.hash(),
        &submission,
        operator.public().clone(),
        inclusion,
        &header,
        &certificate,
    )
    .with_genesis(g.header())
    .with_anchor(AnchorProof::new(&history, commitment, part.clone()));
    (bundle, part)
}

/// `bundle-limits.json`.
pub(super) fn limits(genesis: &Genesis, validator: &Keypair, operator: &Keypair) -> Value {
    let (bundle, part) = limits_bundle(genesis, validator, operator);
    json!({
        "description": "A version-2 bundle at every path limit of FORMATS 22.7, valid with nothing supplied or stated (its version-2 genesis, embedded, commits regtest with 3 confirmations): the header of block 1 claims a log of 2^64 - 1 submissions and the submission is its leaf 0 (an inclusion path of 64 hashes, SHA-256('limit log path i')); the anchored height is 2^64 - 1 (a history path of 64 hashes, SHA-256('limit history path i')); the Bitcoin part's branch has 32 levels (H2('limit branch i')) at tx_index 0xaaaaaaaa, under 3 headers. One hash more in any of the three is refused (bundle-malformed.json, base `limits`). The header count limit (2,016) is checked on the binary part alone.",
        "inclusion_path_hashes": bundle.inclusion.path.len(),
        "history_path_hashes": MAX_PATH_HASHES,
        "branch_hashes": part.branch.len(),
        "headers": part.headers.len(),
        "bundle": serde_json::to_value(&bundle).expect("bundles serialize"),
    })
}

/// One malformed case: a name, what it is made from, and the link that
/// must report it (`None`: the bundle is valid).
fn case(name: &str, base: &str, make: Value, link: Option<&str>) -> Value {
    let mut c = json!({ "name": name, "base": base, "failed_link": link });
    if let (Some(obj), Value::Object(m)) = (c.as_object_mut(), make) {
        obj.extend(m);
    }
    c
}

fn set(at: Value, value: Value) -> Value {
    let mut edit = serde_json::Map::new();
    edit.insert("at".into(), at);
    edit.insert("value".into(), value);
    json!({ "edits": [Value::Object(edit)] })
}

fn remove(at: Value) -> Value {
    let mut edit = serde_json::Map::new();
    edit.insert("at".into(), at);
    edit.insert("remove".into(), Value::Bool(true));
    json!({ "edits": [Value::Object(edit)] })
}

fn insert(text: &str) -> Value {
    json!({ "insert": text })
}

fn edits(list: &[Value]) -> Value {
    let all: Vec<Value> = list
        .iter()
        .flat_map(|e| e["edits"].as_array().cloned().unwrap_or_default())
        .collect();
    json!({ "edits": all })
}

fn text(doc: &str) -> Value {
    json!({ "text": doc })
}

/// `bundle-malformed.json`.
#[allow(clippy::too_many_lines, reason = "one table of cases")]
pub(super) fn malformed(
    bundle: &Value,
    bundle_v1: &Value,
    limits: &Value,
    other_network: &str,
) -> Value {
    let b2: ProofBundle = serde_json::from_value(bundle.clone()).expect("bundle.json reads");
    let b1: ProofBundle = serde_json::from_value(bundle_v1.clone()).expect("bundle-v1.json reads");
    let bl: ProofBundle =
        serde_json::from_value(limits["bundle"].clone()).expect("bundle-limits.json reads");
    let part = b2.anchor.as_ref().expect("anchored").bitcoin.clone();
    let part_bytes = part.to_bytes();
    let key = b1.operator_key.as_bytes();
    let key_hex = hex::encode(key);
    let str_of = |v: &Value| v.as_str().unwrap_or_default().to_owned();

    let mut cases = vec![
        // The format link: the JSON and the structure.
        case(
            "not JSON: the document ends early",
            "none",
            text("{\"version\": 2"),
            Some("format"),
        ),
        case("not an object", "none", text("[]"), Some("format")),
        case(
            "version 3",
            "bundle",
            set(json!(["version"]), json!(3)),
            Some("format"),
        ),
        case(
            "version as a string",
            "bundle",
            set(json!(["version"]), json!("2")),
            Some("format"),
        ),
        case(
            "version 2.0 (a fraction)",
            "bundle",
            set(json!(["version"]), json!(2.0)),
            Some("format"),
        ),
        case(
            "version as a boolean",
            "bundle",
            set(json!(["version"]), json!(true)),
            Some("format"),
        ),
        case(
            "no version",
            "bundle",
            remove(json!(["version"])),
            Some("format"),
        ),
        case(
            "no submission",
            "bundle",
            remove(json!(["submission"])),
            Some("format"),
        ),
        case(
            "submission as a number",
            "bundle",
            set(json!(["submission"]), json!(12)),
            Some("format"),
        ),
        case(
            "genesis null",
            "bundle",
            set(json!(["genesis"]), Value::Null),
            Some("format"),
        ),
        case(
            "anchor null",
            "bundle",
            set(json!(["anchor"]), Value::Null),
            Some("format"),
        ),
        case(
            "an unknown member in inclusion",
            "bundle",
            set(json!(["inclusion", "extra"]), json!(1)),
            Some("format"),
        ),
        case(
            "a version-2 path as an array",
            "bundle",
            set(json!(["inclusion", "path"]), json!([])),
            Some("format"),
        ),
        case(
            "a negative leaf index",
            "bundle",
            set(json!(["inclusion", "leaf_index"]), json!(-1)),
            Some("format"),
        ),
        case(
            "a tree size with a fraction",
            "bundle",
            set(json!(["inclusion", "tree_size"]), json!(1.5)),
            Some("format"),
        ),
        case(
            "a record in a version-2 anchor part",
            "bundle",
            set(json!(["anchor", "record"]), json!("00")),
            Some("format"),
        ),
        case(
            "a version-2 Bitcoin part in its JSON form",
            "bundle",
            set(
                json!(["anchor", "bitcoin"]),
                bundle_v1["anchor"]["bitcoin"].clone(),
            ),
            Some("format"),
        ),
        case(
            "a duplicate member",
            "bundle",
            insert("\"submission\":\"AAAA\","),
            Some("format"),
        ),
        case(
            "NaN (not JSON) in an unknown member",
            "bundle",
            insert("\"note\":NaN,"),
            Some("format"),
        ),
        case(
            "a number with a leading zero (not JSON) in an unknown member",
            "bundle",
            insert("\"note\":01,"),
            Some("format"),
        ),
        case(
            "an unpaired surrogate escape in an unknown member",
            "bundle",
            insert("\"note\":\"\\ud800\","),
            Some("format"),
        ),
        case(
            "arrays nested 17 deep in an unknown member",
            "bundle",
            insert(&format!("\"note\":{}{},", "[".repeat(16), "]".repeat(16))),
            Some("format"),
        ),
        // What readers accept.
        case(
            "an unknown top-level member (ignored)",
            "bundle",
            insert("\"note\":{\"any\":[1,\"x\",null,-0,1e3]},"),
            None,
        ),
        case(
            "whitespace between tokens",
            "bundle",
            insert(" \t\r\n\"note\" :\n 1 ,\r\n"),
            None,
        ),
        case(
            "genesis_hash and commitment in upper-case hex",
            "bundle",
            edits(&[
                set(
                    json!(["genesis_hash"]),
                    json!(str_of(&bundle["genesis_hash"]).to_uppercase()),
                ),
                set(
                    json!(["anchor", "commitment"]),
                    json!(str_of(&bundle["anchor"]["commitment"]).to_uppercase()),
                ),
            ]),
            None,
        ),
        // Each member's own link.
        case(
            "genesis_hash not hex",
            "bundle",
            set(json!(["genesis_hash"]), json!("z".repeat(64))),
            Some("genesis"),
        ),
        case(
            "genesis_hash of 31 bytes",
            "bundle",
            set(
                json!(["genesis_hash"]),
                json!(str_of(&bundle["genesis_hash"])[..62]),
            ),
            Some("genesis"),
        ),
        case(
            "genesis_hash with a 0x prefix",
            "bundle",
            set(
                json!(["genesis_hash"]),
                json!(format!("0x{}", &str_of(&bundle["genesis_hash"])[..62])),
            ),
            Some("genesis"),
        ),
        case(
            "genesis_hash of another network",
            "bundle",
            set(json!(["genesis_hash"]), json!(other_network)),
            Some("genesis"),
        ),
        case(
            "genesis not base64",
            "bundle",
            set(json!(["genesis"]), json!("####")),
            Some("genesis"),
        ),
        case(
            "genesis that does not decode",
            "bundle",
            set(json!(["genesis"]), json!(b64(&[1, 2, 3]))),
            Some("genesis"),
        ),
        case(
            "submission with non-zero padding bits",
            "bundle",
            set(json!(["submission"]), json!("AB==")),
            Some("submission"),
        ),
        case(
            "submission that does not decode",
            "bundle",
            set(json!(["submission"]), json!(b64(&[0; 10]))),
            Some("submission"),
        ),
        case(
            "submission in hex (version 1's encoding)",
            "bundle",
            set(json!(["submission"]), bundle_v1["submission"].clone()),
            Some("submission"),
        ),
        case(
            "operator_key of 1,951 bytes",
            "bundle",
            set(json!(["operator_key"]), json!(b64(&key[..key.len() - 1]))),
            Some("submission"),
        ),
        case(
            "operator_key with a line break",
            "bundle",
            set(json!(["operator_key"]), {
                let k = b64(key);
                json!(format!("{}\n{}", &k[..76], &k[76..]))
            }),
            Some("submission"),
        ),
        case(
            "header of 158 bytes",
            "bundle",
            set(json!(["header"]), json!(b64(&b2.header[..158]))),
            Some("header"),
        ),
        case(
            "header not base64",
            "bundle",
            set(json!(["header"]), json!("####")),
            Some("header"),
        ),
        case(
            "certificate that does not decode",
            "bundle",
            set(json!(["certificate"]), json!(b64(&[1]))),
            Some("certificate"),
        ),
        case(
            "inclusion path of 31 bytes",
            "bundle",
            set(json!(["inclusion", "path"]), json!(b64(&[0; 31]))),
            Some("path"),
        ),
        case(
            "leaf index equal to the tree size",
            "bundle",
            set(json!(["inclusion", "leaf_index"]), json!(1)),
            Some("path"),
        ),
        case(
            "history path of 33 bytes",
            "bundle",
            set(json!(["anchor", "history_proof"]), json!(b64(&[0; 33]))),
            Some("history"),
        ),
        case(
            "commitment of 63 hex digits",
            "bundle",
            set(
                json!(["anchor", "commitment"]),
                json!(str_of(&bundle["anchor"]["commitment"])[..63]),
            ),
            Some("history"),
        ),
        case(
            "anchored height 0",
            "bundle",
            set(json!(["anchor", "height"]), json!(0)),
            Some("history"),
        ),
        case(
            "Bitcoin part not base64",
            "bundle",
            set(json!(["anchor", "bitcoin"]), json!("!!!!")),
            Some("bitcoin"),
        ),
        case(
            "Bitcoin part of version 2",
            "bundle",
            set(json!(["anchor", "bitcoin"]), {
                let mut p = part_bytes.clone();
                p[0] = 2;
                json!(b64(&p))
            }),
            Some("bitcoin"),
        ),
        case(
            "Bitcoin part with a trailing byte",
            "bundle",
            set(json!(["anchor", "bitcoin"]), {
                let mut p = part_bytes.clone();
                p.push(0);
                json!(b64(&p))
            }),
            Some("bitcoin"),
        ),
        case(
            "Bitcoin part declaring a raw_tx of 100,001 bytes",
            "bundle",
            set(json!(["anchor", "bitcoin"]), {
                let mut p = part_bytes.clone();
                p[1..5].copy_from_slice(&100_001u32.to_be_bytes());
                json!(b64(&p))
            }),
            Some("bitcoin"),
        ),
        // The first failing link wins.
        case(
            "submission and header both malformed",
            "bundle",
            edits(&[
                set(json!(["submission"]), json!("AB==")),
                set(json!(["header"]), json!("####")),
            ]),
            Some("submission"),
        ),
        case(
            "another network's genesis_hash and a malformed submission",
            "bundle",
            edits(&[
                set(json!(["genesis_hash"]), json!(other_network)),
                set(json!(["submission"]), json!("AB==")),
            ]),
            Some("genesis"),
        ),
        case(
            "header and certificate both malformed",
            "bundle",
            edits(&[
                set(json!(["header"]), json!("####")),
                set(json!(["certificate"]), json!(b64(&[1]))),
            ]),
            Some("header"),
        ),
        case(
            "history path and Bitcoin part both malformed",
            "bundle",
            edits(&[
                set(json!(["anchor", "history_proof"]), json!(b64(&[0; 33]))),
                set(json!(["anchor", "bitcoin"]), json!("!!!!")),
            ]),
            Some("history"),
        ),
        // Version 1.
        case(
            "version 1 without its record",
            "bundle-v1",
            remove(json!(["anchor", "record"])),
            Some("format"),
        ),
        case(
            "version 1 without its genesis",
            "bundle-v1",
            remove(json!(["genesis"])),
            Some("format"),
        ),
        case(
            "a version-1 path as a string",
            "bundle-v1",
            set(json!(["inclusion", "path"]), json!("")),
            Some("format"),
        ),
        case(
            "a version-1 Bitcoin part as a string",
            "bundle-v1",
            set(json!(["anchor", "bitcoin"]), json!(b64(&part_bytes))),
            Some("format"),
        ),
        case(
            "header in upper-case hex",
            "bundle-v1",
            set(
                json!(["header"]),
                json!(str_of(&bundle_v1["header"]).to_uppercase()),
            ),
            None,
        ),
        case(
            "operator_key of 2 bytes",
            "bundle-v1",
            set(json!(["operator_key"]), json!(key_hex[..4])),
            Some("submission"),
        ),
        case(
            "operator_key of an odd number of hex digits",
            "bundle-v1",
            set(json!(["operator_key"]), json!(key_hex[..3])),
            Some("submission"),
        ),
        case(
            "genesis_hash with spaces between bytes",
            "bundle-v1",
            set(
                json!(["genesis_hash"]),
                json!(
                    hex::decode(str_of(&bundle_v1["genesis_hash"]))
                        .unwrap_or_default()
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            ),
            Some("genesis"),
        ),
        case(
            "a path hash that is not hex",
            "bundle-v1",
            set(json!(["inclusion", "path"]), json!(["z".repeat(64)])),
            Some("path"),
        ),
        case(
            "a path of 65 hashes",
            "bundle-v1",
            set(
                json!(["inclusion", "path"]),
                json!(
                    hashes("over", MAX_PATH_HASHES + 1)
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                ),
            ),
            Some("path"),
        ),
        case(
            "a history hash of 63 hex digits",
            "bundle-v1",
            set(
                json!(["anchor", "history_proof", 0]),
                json!(str_of(&bundle_v1["anchor"]["history_proof"][0])[..63]),
            ),
            Some("history"),
        ),
        case(
            "record not hex",
            "bundle-v1",
            set(json!(["anchor", "record"]), json!("zz")),
            Some("anchor_record"),
        ),
        case(
            "record that does not decode",
            "bundle-v1",
            set(json!(["anchor", "record"]), json!(hx(&[0; 100]))),
            Some("anchor_record"),
        ),
        case(
            "Bitcoin part without raw_tx",
            "bundle-v1",
            remove(json!(["anchor", "bitcoin", "raw_tx"])),
            Some("bitcoin"),
        ),
        case(
            "Bitcoin part with an unknown member",
            "bundle-v1",
            set(json!(["anchor", "bitcoin", "extra"]), json!(1)),
            Some("bitcoin"),
        ),
        case(
            "Bitcoin raw_tx not hex",
            "bundle-v1",
            set(json!(["anchor", "bitcoin", "raw_tx"]), json!("zz")),
            Some("bitcoin"),
        ),
        case(
            "Bitcoin branch of 33 hashes",
            "bundle-v1",
            set(
                json!(["anchor", "bitcoin", "branch"]),
                json!(vec![hx(&[0; 32]); 33]),
            ),
            Some("bitcoin"),
        ),
        case(
            "Bitcoin tx_index of 2^32",
            "bundle-v1",
            set(json!(["anchor", "bitcoin", "tx_index"]), json!(1u64 << 32)),
            Some("bitcoin"),
        ),
        case(
            "a Bitcoin header of 79 bytes",
            "bundle-v1",
            set(
                json!(["anchor", "bitcoin", "headers", 0]),
                json!(str_of(&bundle_v1["anchor"]["bitcoin"]["headers"][0])[..158]),
            ),
            Some("bitcoin"),
        ),
        case(
            "record and Bitcoin part both malformed (the part is decoded first)",
            "bundle-v1",
            edits(&[
                set(json!(["anchor", "record"]), json!("zz")),
                set(json!(["anchor", "bitcoin", "raw_tx"]), json!("zz")),
            ]),
            Some("bitcoin"),
        ),
        // The limits.
        case("every path at its limit", "limits", json!({}), None),
    ];
    let over = |path: &[Hash256]| {
        let mut p = path.to_vec();
        p.push(Hash256::digest(b"one hash too many"));
        json!(path_b64(&p))
    };
    let bl_anchor = bl.anchor.as_ref().expect("anchored");
    let mut long_branch = bl_anchor.bitcoin.clone();
    long_branch.branch.push(sha256d(b"one hash too many"));
    cases.extend([
        case(
            "an inclusion path of 65 hashes",
            "limits",
            set(json!(["inclusion", "path"]), over(&bl.inclusion.path)),
            Some("path"),
        ),
        case(
            "a history path of 65 hashes",
            "limits",
            set(
                json!(["anchor", "history_proof"]),
                over(&bl_anchor.history_proof),
            ),
            Some("history"),
        ),
        case(
            "a Bitcoin branch of 33 hashes",
            "limits",
            set(
                json!(["anchor", "bitcoin"]),
                json!(b64(&long_branch.to_bytes())),
            ),
            Some("bitcoin"),
        ),
    ]);
    json!({
        "description": "Malformed bundles and the link that must report each (failed_link; null: the bundle is valid), FORMATS 22.6. A case is made from a base document: `text` is the whole document; `insert` is text placed right after the opening `{` of the base's JSON text (any serialization of it); `edits` replace (`value`) or delete (`remove`) the member at the path `at` (member names and array indexes) of the parsed base, in order. Bases and what the verifier is given: `bundle` = bundle.json with genesis.json's `genesis` supplied and the Bitcoin network stated as regtest; `bundle-v1` = bundle-v1.json with the network stated as regtest; `limits` = bundle-limits.json's `bundle` with nothing supplied or stated; `none` = no base (the case is a `text`).",
        "cases": cases,
    })
}
