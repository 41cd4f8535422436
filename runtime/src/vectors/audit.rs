//! `audit.json`: audit documents (FORMATS 28) over a five-block chain of
//! the example network, made deterministically:
//!
//! ```text
//! block 1  register operator 0x02; its seq 0, 1                 log 2
//! block 2  seq 2; transfer 1.5 PAN operator -> key 0x03         log 3
//! block 3  seq 3, 4, 5                                          log 6
//! block 4  transfer 0.7 PAN validator -> key 0x03; seq 6, 7     log 8
//! block 5  empty (the head)                                     log 8
//! ```
//!
//! Valid documents: supply proofs after block 2 (an old height: the
//! records as they were then) and block 5, checkpoints after blocks 2 and
//! 4, consistency proofs 3 -> 8, 2 -> 6 and 8 -> 8. Tampered copies each
//! name the first link that must refuse them, and two documents are
//! certified by the validator's key but false: a state whose balances do
//! not sum to the supply (only the `supply` link catches it) and a forked
//! log whose history rewrites an old leaf (only `consistency` does).

use serde_json::{Value, json};

use super::record_proofs::flip;
use super::{certify, key};
use crate::amount::{Amount, Height, SUPPLY};
use crate::audit::{Checkpoint, LogConsistency, SupplyProof};
use crate::block::{BlockHeader, CommitCertificate};
use crate::crypto::{AccountId, KeyCache};
use crate::genesis::Genesis;
use crate::hash::{AuditRoot, Hash256, LogRoot, StateRoot};
use crate::ledger::Ledger;
use crate::log::MerkleLog;
use crate::smt::StateTree;
use crate::state::{Account, StateKey, value_hash};
use crate::tx::{Metadata, SignedTx, SubmitRoot, Transfer, TxBody};

/// The chain the documents are made of.
pub(crate) struct Chain {
    /// The example genesis.
    pub genesis: Genesis,
    /// Headers of blocks 1..=5 (index `h - 1`).
    pub headers: Vec<BlockHeader>,
    /// Their certificates.
    pub certificates: Vec<CommitCertificate>,
    /// Every account record after each block (index `h - 1`).
    pub states: Vec<Vec<(AccountId, Account)>>,
    /// The submission log after the last block.
    pub log: MerkleLog,
    /// The log's leaf hashes (submission ids), in order.
    pub leaves: Vec<Hash256>,
}

impl Chain {
    fn header(&self, height: u64) -> (&BlockHeader, &CommitCertificate) {
        let i = usize::try_from(height - 1).expect("small heights");
        (&self.headers[i], &self.certificates[i])
    }

    /// The supply proof after block `height`, carrying the genesis or not.
    pub fn supply(&self, height: u64, carry: bool) -> SupplyProof {
        let (header, cert) = self.header(height);
        let i = usize::try_from(height - 1).expect("small heights");
        SupplyProof::new(
            self.genesis.hash(),
            carry.then(|| self.genesis.header()),
            header,
            cert,
            self.states[i].iter().copied(),
        )
    }

    /// The checkpoint after block `height`.
    pub fn checkpoint(&self, height: u64) -> Checkpoint {
        let (header, cert) = self.header(height);
        Checkpoint::new(
            self.genesis.hash(),
            Some(self.genesis.header()),
            header,
            cert,
        )
    }

    /// The consistency proof between the logs after blocks `old` and `new`.
    pub fn consistency(&self, old: u64, new: u64) -> LogConsistency {
        let (o, n) = (self.header(old), self.header(new));
        let proof = self
            .log
            .consistency_proof(o.0.log_size, n.0.log_size)
            .expect("both sizes are in the log");
        LogConsistency::new(
            self.genesis.hash(),
            Some(self.genesis.header()),
            o,
            n,
            &proof,
        )
    }
}

/// Builds the chain of the module docs.
pub(crate) fn chain(genesis: &Genesis) -> Chain {
    let g = genesis.hash();
    let validator = key(0x01);
    let operator = key(0x02);
    let recipient = key(0x03).id();
    let keys = KeyCache::default();
    let (register, first) = super::register_and_first_submission(genesis, &operator);
    let mut last = first.clone();
    let mut seq = 0;
    let mut next = || {
        seq += 1;
        let tx = TxBody::SubmitRoot(SubmitRoot {
            operator: operator.id(),
            seq,
            prev: last.submission_id(),
            root: AuditRoot::new(Hash256::digest(format!("audit batch {seq}").as_bytes())),
            metadata: Metadata::default(),
        })
        .sign(&g, &operator);
        last = tx.clone();
        tx
    };
    let transfer = |from: &crate::crypto::Keypair, nonce: u64, units: u64| -> SignedTx {
        TxBody::Transfer(Transfer {
            from_key: from.public().clone(),
            nonce,
            to: recipient,
            amount: Amount::from_units(units),
        })
        .sign(&g, from)
    };
    let blocks: Vec<Vec<SignedTx>> = vec![
        vec![register, first, next()],
        vec![next(), transfer(&operator, 1, 1_500_000_000)],
        vec![next(), next(), next()],
        vec![transfer(&validator, 0, 700_000_000), next(), next()],
        vec![],
    ];
    let mut ledger = Ledger::from_genesis(genesis);
    let mut chain = Chain {
        genesis: genesis.clone(),
        headers: Vec::new(),
        certificates: Vec::new(),
        states: Vec::new(),
        log: MerkleLog::new(),
        leaves: Vec::new(),
    };
    for txs in blocks {
        let time = genesis.header().time_ms + 1_000 * (ledger.height().get() + 1);
        let (block, exec) = ledger
            .propose(0, time, txs, chain.certificates.last().cloned(), &keys)
            .expect("validator 0 exists");
        assert!(exec.rejected.is_empty(), "example transactions are valid");
        chain.leaves.extend(exec.submissions().map(|s| s.hash()));
        ledger
            .commit(&block.header, exec)
            .expect("a proposed block commits");
        chain
            .states
            .push(ledger.accounts().map(|(id, a)| (*id, *a)).collect());
        chain
            .certificates
            .push(certify(g, &validator, &block.header));
        chain.headers.push(block.header);
    }
    chain.log = ledger.log().clone();
    chain
}

/// A header like `header` with other roots, certified by the validator.
fn forge(
    chain: &Chain,
    header: &BlockHeader,
    edit: impl FnOnce(&mut BlockHeader),
) -> (BlockHeader, CommitCertificate) {
    let mut forged = *header;
    edit(&mut forged);
    let cert = certify(chain.genesis.hash(), &key(0x01), &forged);
    (forged, cert)
}

fn value<T: serde::Serialize>(doc: &T) -> Value {
    serde_json::to_value(doc).expect("audit documents serialize")
}

fn edit(doc: &Value, f: impl FnOnce(&mut Value)) -> Value {
    let mut v = doc.clone();
    f(&mut v);
    v
}

/// A record of `v`'s `accounts[i]` with its balance changed by `delta`.
fn rebalance(v: &mut Value, i: usize, delta: i64) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let record = &mut v["accounts"][i]["record"];
    let bytes = b64
        .decode(record.as_str().expect("base64"))
        .expect("base64");
    let mut account: Account = crate::codec::decode_exact(&bytes).expect("a record");
    let units = account
        .balance
        .units()
        .checked_add_signed(delta)
        .expect("small changes");
    account.balance = Amount::from_units(units);
    *record = json!(b64.encode(crate::codec::Encode::to_bytes(&account)));
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The state root of `accounts` under the example genesis.
fn state_root(genesis: &Genesis, accounts: &[(AccountId, Account)]) -> StateRoot {
    let header = genesis.header();
    let mut updates: Vec<crate::smt::Update> = accounts
        .iter()
        .map(|(id, a)| {
            (
                StateKey::Account(*id).tree_key(),
                Some(value_hash(&crate::codec::Encode::to_bytes(a))),
            )
        })
        .collect();
    updates.push((
        StateKey::Params.tree_key(),
        Some(value_hash(&crate::codec::Encode::to_bytes(&header.params))),
    ));
    updates.push((
        StateKey::Validators.tree_key(),
        Some(value_hash(&crate::codec::Encode::to_bytes(
            &header.validators,
        ))),
    ));
    let mut tree = StateTree::new();
    tree.update(updates);
    tree.root()
}

/// One case: a document, the trust the verifier brings (`"genesis"`: the
/// example genesis header is supplied), the link that must refuse it
/// (`null`: valid) and, for a valid one, what it establishes.
fn case(name: &str, doc: Value, trust: Option<&str>, fails: Option<&str>, why: &str) -> Value {
    let mut c = json!({ "name": name, "trust": trust, "fails": fails, "description": why });
    c["document"] = doc;
    c
}

/// What a valid document establishes, for the verifiers to compare.
fn expect(mut c: Value, facts: Value) -> Value {
    c["expect"] = facts;
    c
}

/// The `audit.json` document.
pub(crate) fn audit(genesis: &Genesis) -> Value {
    let c = chain(genesis);
    let mut cases = Vec::new();

    // Supply proofs.
    let old = value(&c.supply(2, true));
    let facts = |h: u64| {
        let i = usize::try_from(h - 1).expect("small heights");
        json!({
            "height": h,
            "accounts": c.states[i].len(),
            "state_root": c.headers[i].state_root.to_string(),
            "sum_of_balances": SUPPLY.units().to_string(),
        })
    };
    cases.push(expect(
        case(
            "supply_old_height",
            old.clone(),
            None,
            None,
            "after block 2 (not the head): the three accounts as they were then rebuild block 2's state root",
        ),
        facts(2),
    ));
    cases.push(expect(
        case(
            "supply_head",
            value(&c.supply(5, true)),
            None,
            None,
            "after block 5, the head",
        ),
        facts(5),
    ));
    let bare = value(&c.supply(2, false));
    cases.push(expect(
        case(
            "supply_genesis_given",
            bare.clone(),
            Some("genesis"),
            None,
            "after block 2, without the genesis; the verifier supplies genesis.json's header",
        ),
        facts(2),
    ));
    cases.push(case(
        "supply_genesis_missing",
        bare,
        None,
        Some("genesis"),
        "the same without the genesis and none supplied: the validators are unknown",
    ));
    let supply_cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "supply_balance_changed",
            edit(&old, |v| rebalance(v, 0, 1)),
            "state",
            "one unit added to the first record's balance",
        ),
        (
            "supply_balance_moved",
            edit(&old, |v| {
                rebalance(v, 0, 1);
                rebalance(v, 1, -1);
            }),
            "state",
            "one unit moved between two records: the sum is still the supply, the root is not",
        ),
        (
            "supply_record_dropped",
            edit(&old, |v| {
                v["accounts"].as_array_mut().expect("an array").remove(2);
            }),
            "state",
            "the last account record left out",
        ),
        (
            "supply_record_added",
            edit(&old, |v| {
                let extra = json!({
                    "id": Hash256::from_bytes([0xff; 32]).to_string(),
                    "record": b64(&crate::codec::Encode::to_bytes(&Account::default())),
                });
                v["accounts"].as_array_mut().expect("an array").push(extra);
            }),
            "state",
            "an empty account ff..ff added",
        ),
        (
            "supply_records_reordered",
            edit(&old, |v| {
                v["accounts"].as_array_mut().expect("an array").swap(0, 1);
            }),
            "state",
            "the first two records swapped: ids must increase",
        ),
        (
            "supply_height_claim",
            edit(&old, |v| v["height"] = json!(3)),
            "header",
            "the document says height 3, its header is block 2's",
        ),
        (
            "supply_header_edited",
            edit(&old, |v| {
                // Bytes 127..159 are the header's state root (9.1).
                v["block"]["header"] = flip(&v["block"]["header"], 140);
            }),
            "certificate",
            "one byte of the header's state root flipped: the certificate is for another block",
        ),
        (
            "supply_signature_flipped",
            edit(&old, |v| {
                v["block"]["certificate"] = flip(&v["block"]["certificate"], 149);
            }),
            "certificate",
            "one byte of the validator's ML-DSA-65 signature flipped",
        ),
        (
            "supply_other_network",
            edit(&old, |v| {
                v["genesis_hash"] = json!(Hash256::digest(b"another network").to_string());
            }),
            "genesis",
            "genesis_hash names another network: the carried genesis does not hash to it",
        ),
        (
            "supply_version_2",
            edit(&old, |v| v["supply_proof"] = json!(2)),
            "format",
            "supply_proof 2: no such version",
        ),
        (
            "supply_unknown_member",
            edit(&old, |v| v["note"] = json!("trust me")),
            "format",
            "a member the format does not have",
        ),
    ];
    for (name, doc, fails, why) in supply_cases {
        cases.push(case(name, doc, None, Some(fails), why));
    }
    // A state the validator certified whose balances are one unit over the
    // supply: every link but `supply` holds.
    let mut inflated = c.states[1].clone();
    inflated[0].1.balance = Amount::from_units(inflated[0].1.balance.units() + 1);
    let root = state_root(genesis, &inflated);
    let (header, cert) = forge(&c, &c.headers[1], |h| h.state_root = root);
    cases.push(case(
        "supply_forged_inflation",
        value(&SupplyProof::new(
            genesis.hash(),
            Some(genesis.header()),
            &header,
            &cert,
            inflated,
        )),
        None,
        Some("supply"),
        "a block 2 whose state gives one account one unit more, certified by the validator's key: the records rebuild its root, the sum is the supply plus one",
    ));

    // Checkpoints.
    let cp = value(&c.checkpoint(2));
    for h in [2u64, 4] {
        let i = usize::try_from(h - 1).expect("small heights");
        cases.push(expect(
            case(
                &format!("checkpoint_{h}"),
                value(&c.checkpoint(h)),
                None,
                None,
                &format!("the log after block {h}"),
            ),
            json!({
                "height": h,
                "log_size": c.headers[i].log_size,
                "log_root": c.headers[i].log_root.hash().to_string(),
            }),
        ));
    }
    let other_origin = cp["checkpoint"].as_str().expect("a body").replacen(
        "pantheon/v1/log/",
        "pantheon/v1/log/0",
        1,
    );
    let checkpoint_cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "checkpoint_size",
            edit(&cp, |v| v["log_size"] = json!(4)),
            "checkpoint",
            "log_size 4, the header's log has 3",
        ),
        (
            "checkpoint_root",
            edit(&cp, |v| {
                v["log_root"] = json!(c.headers[3].log_root.hash().to_string());
            }),
            "checkpoint",
            "log_root of block 4's log",
        ),
        (
            "checkpoint_body",
            edit(&cp, |v| v["checkpoint"] = json!(other_origin)),
            "checkpoint",
            "the note body's origin line changed",
        ),
        (
            "checkpoint_height",
            edit(&cp, |v| v["height"] = json!(1)),
            "header",
            "height 1, the header is block 2's",
        ),
        (
            "checkpoint_signature_flipped",
            edit(&cp, |v| {
                v["block"]["certificate"] = flip(&v["block"]["certificate"], 149);
            }),
            "certificate",
            "one byte of the signature flipped",
        ),
    ];
    for (name, doc, fails, why) in checkpoint_cases {
        cases.push(case(name, doc, None, Some(fails), why));
    }

    // Consistency proofs.
    let cons = value(&c.consistency(2, 4));
    for (o, n) in [(2u64, 4u64), (1, 3), (4, 4)] {
        let (oi, ni) = (
            usize::try_from(o - 1).expect("small"),
            usize::try_from(n - 1).expect("small"),
        );
        cases.push(expect(
            case(
                &format!("consistency_{}_{}", c.headers[oi].log_size, c.headers[ni].log_size),
                value(&c.consistency(o, n)),
                None,
                None,
                &format!(
                    "the log of {} leaves (after block {o}) is a prefix of the log of {} (after block {n})",
                    c.headers[oi].log_size, c.headers[ni].log_size
                ),
            ),
            json!({
                "old_size": c.headers[oi].log_size,
                "new_size": c.headers[ni].log_size,
                "old_height": o,
                "new_height": n,
            }),
        ));
    }
    let consistency_cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "consistency_path_flipped",
            edit(&cons, |v| {
                let p = &mut v["path"][1];
                let h: Hash256 = p.as_str().expect("hex").parse().expect("a hash");
                let mut b = *h.as_bytes();
                b[0] ^= 1;
                *p = json!(Hash256::from_bytes(b).to_string());
            }),
            "consistency",
            "one bit of the second path hash flipped",
        ),
        (
            "consistency_path_dropped",
            edit(&cons, |v| {
                v["path"].as_array_mut().expect("an array").pop();
            }),
            "consistency",
            "the last path hash left out",
        ),
        (
            "consistency_sizes_swapped",
            edit(&cons, |v| {
                let (o, n) = (v["old_size"].clone(), v["new_size"].clone());
                v["old_size"] = n;
                v["new_size"] = o;
            }),
            "header",
            "old_size and new_size swapped: the headers' logs say otherwise",
        ),
        (
            "consistency_ends_swapped",
            edit(&cons, |v| {
                let (o, n) = (v["old_size"].clone(), v["new_size"].clone());
                v["old_size"] = n;
                v["new_size"] = o;
                let (o, n) = (v["old"].clone(), v["new"].clone());
                v["old"] = n;
                v["new"] = o;
            }),
            "consistency",
            "the two ends swapped with their sizes: the old end is after the new one",
        ),
        (
            "consistency_other_end",
            edit(&cons, |v| {
                v["new"] = value(&c.checkpoint(3))["block"].clone();
            }),
            "header",
            "the new end replaced by block 3, whose log has 6 leaves, not 8",
        ),
        (
            "consistency_signature_flipped",
            edit(&cons, |v| {
                v["old"]["certificate"] = flip(&v["old"]["certificate"], 149);
            }),
            "certificate",
            "one byte of the old end's signature flipped",
        ),
        (
            "consistency_too_long",
            edit(&cons, |v| {
                v["path"] = json!(vec![Hash256::ZERO.to_string(); 129]);
            }),
            "format",
            "129 path hashes: more than 128",
        ),
    ];
    for (name, doc, fails, why) in consistency_cases {
        cases.push(case(name, doc, None, Some(fails), why));
    }
    // A fork the validator certified: block 4 of a log whose leaf 1 was
    // replaced. Its own consistency proof from size 3 does not lead from
    // the real block 2's root.
    let mut leaves = c.leaves.clone();
    leaves[1] = Hash256::digest(b"a rewritten submission");
    let fork = MerkleLog::from_leaf_hashes(leaves);
    let (header, cert) = forge(&c, &c.headers[3], |h| {
        h.log_root = LogRoot::new(fork.root());
    });
    let proof = fork.consistency_proof(3, 8).expect("sizes in the fork");
    let (old_header, old_cert) = c.header(2);
    cases.push(case(
        "consistency_forged_fork",
        value(&LogConsistency::new(
            genesis.hash(),
            Some(genesis.header()),
            (old_header, old_cert),
            (&header, &cert),
            &proof,
        )),
        None,
        Some("consistency"),
        "a block 4 certified by the validator's key whose log rewrote leaf 1, with that log's own path from size 3: the old root is not its prefix",
    ));

    json!({
        "description": "Audit documents (FORMATS 28) over a chain of the example network (genesis.json): block 1 registers operator 0x02 and holds its seq 0 and 1; block 2 seq 2 and a transfer of 1.5 PAN from the operator to key 0x03; block 3 seq 3 to 5; block 4 a transfer of 0.7 PAN from the validator to key 0x03 and seq 6, 7; block 5 is empty. Each case is verified with no trust given, or (trust \"genesis\") with genesis.json's header supplied; `fails` is the first link that refuses it (null: valid, with `expect` what it establishes).",
        "genesis_hash": genesis.hash().to_string(),
        "supply": SUPPLY.units().to_string(),
        "head": Height::new(5).get(),
        "cases": cases,
    })
}
