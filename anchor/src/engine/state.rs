//! The engine's persisted state: one JSON file, rewritten atomically.
//!
//! ```text
//! {
//!   "version": 1, "network": "regtest", "script_pubkey": "0014…",
//!   "waiting": {"height": 42, "commitment": "…"} | null,
//!   "anchors": [ {                       // oldest first
//!       "target": {…},
//!       "inputs": [{"outpoint": "txid:vout", "value_sat": 5000000000}],
//!       "versions": [{"raw_tx": "…", "accepted": true}, …],   // RBF chain
//!       "phase": {"state": "unconfirmed"} | {"state": "in_block", "txid", "block_hash", "block_height"},
//!       "sent_height": 120 | null, "reported": false } ],
//!   "scanned": {"height": 120, "hash": "…"} | null,
//!   "recent": [ {"target", "txid", "block_hash", "block_height"} ]
//! }
//! ```
//!
//! Every version of an anchor spends exactly `inputs`, so at most one of
//! them can ever confirm. A version is appended here, and the file
//! written, before it is first sent to bitcoind.

use std::path::Path;

use bitcoin::consensus::encode;
use bitcoin::{Amount, BlockHash, Network, OutPoint, Transaction, Txid};
use serde::{Deserialize, Serialize};

use super::Target;
use crate::txbuild::{AnchorTx, Coin};

/// The state file format version.
pub const STATE_VERSION: u32 = 1;
/// How many settled anchors the status keeps.
pub const RECENT: usize = 16;

/// The whole persisted state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The network anchored to.
    pub network: Network,
    /// Hex of our output script; a different key refuses the file.
    pub script_pubkey: String,
    /// The newest target not yet in a transaction.
    pub waiting: Option<Target>,
    /// Anchors not yet settled, oldest first.
    pub anchors: Vec<Tracked>,
    /// The last block checked for our unconfirmed transactions.
    pub scanned: Option<BlockRef>,
    /// Anchors deeper than the watch depth, newest last.
    pub recent: Vec<Settled>,
}

impl State {
    /// The state of an engine that never ran.
    #[must_use]
    pub fn new(network: Network, script_pubkey: String) -> Self {
        Self {
            version: STATE_VERSION,
            network,
            script_pubkey,
            waiting: None,
            anchors: Vec::new(),
            scanned: None,
            recent: Vec::new(),
        }
    }

    /// Reads the state file (`None`: there is none yet).
    ///
    /// # Errors
    /// An unreadable or invalid file.
    pub fn load(path: &Path) -> Result<Option<Self>, String> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        Self::from_bytes(&bytes).map(Some)
    }

    /// Reads a state file's contents.
    ///
    /// # Errors
    /// Invalid JSON, another version, an anchor without a transaction.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let state: Self = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if state.version != STATE_VERSION {
            return Err(format!("unsupported state version {}", state.version));
        }
        for anchor in &state.anchors {
            if anchor.versions.is_empty() {
                return Err(format!(
                    "anchor for height {} has no transaction",
                    anchor.target.height.get()
                ));
            }
        }
        Ok(state)
    }

    /// The state file's contents.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes =
            serde_json::to_vec_pretty(self).expect("the state serializes: plain data, string keys");
        bytes.push(b'\n');
        bytes
    }

    /// Every txid of every version of every tracked anchor.
    pub fn own_txids(&self) -> Vec<Txid> {
        self.anchors
            .iter()
            .flat_map(|a| a.versions.iter().map(|v| v.tx.compute_txid()))
            .collect()
    }

    /// Whether an anchor is in no block of the best chain.
    #[must_use]
    pub fn has_unconfirmed(&self) -> bool {
        self.anchors
            .iter()
            .any(|a| matches!(a.phase, Phase::Unconfirmed))
    }

    /// The highest target height anchored or being anchored.
    pub fn last_target_height(&self) -> Option<u64> {
        let tracked = self.anchors.iter().map(|a| a.target.height.get());
        let settled = self.recent.iter().map(|s| s.target.height.get());
        tracked.chain(settled).max()
    }

    /// Moves anchor `index` to the settled history.
    pub fn settle(&mut self, index: usize) {
        let anchor = self.anchors.remove(index);
        if let Phase::InBlock {
            txid,
            block_hash,
            block_height,
        } = anchor.phase
        {
            self.recent.push(Settled {
                target: anchor.target,
                txid,
                block_hash,
                block_height,
            });
            if self.recent.len() > RECENT {
                self.recent.remove(0);
            }
        }
    }
}

/// A block by height and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockRef {
    /// Its height.
    pub height: u64,
    /// Its hash.
    pub hash: BlockHash,
}

/// One anchor being made: its target, its coins and every signed version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tracked {
    /// What it anchors.
    pub target: Target,
    /// The coins every version spends.
    pub inputs: Vec<StoredCoin>,
    /// Every signed version, oldest first (replacements after).
    pub versions: Vec<Version>,
    /// Where it stands.
    pub phase: Phase,
    /// Tip height when the newest accepted version was first accepted
    /// (or when a reorg put the anchor back): the replacement clock.
    pub sent_height: Option<u64>,
    /// Whether `Confirmed` was reported for the current block.
    pub reported: bool,
}

impl Tracked {
    /// The inputs as coins.
    #[must_use]
    pub fn coins(&self) -> Vec<Coin> {
        self.inputs
            .iter()
            .map(|c| Coin {
                outpoint: c.outpoint,
                value: Amount::from_sat(c.value_sat),
            })
            .collect()
    }

    /// What the inputs are worth.
    #[must_use]
    pub fn input_total(&self) -> Amount {
        Amount::from_sat(self.inputs.iter().map(|c| c.value_sat).sum())
    }

    /// The newest version.
    #[must_use]
    pub fn latest(&self) -> &Version {
        self.versions
            .last()
            .expect("an anchor has at least one version (checked at load and creation)")
    }

    /// A version with its fee known.
    #[must_use]
    pub fn anchor_tx(&self, version: &Version) -> Option<AnchorTx> {
        AnchorTx::from_parts(version.tx.clone(), self.input_total()).ok()
    }

    /// Every version's txid.
    #[must_use]
    pub fn txids(&self) -> Vec<Txid> {
        self.versions.iter().map(|v| v.tx.compute_txid()).collect()
    }
}

/// A coin spent by an anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredCoin {
    /// The output.
    pub outpoint: OutPoint,
    /// Its value in satoshis.
    pub value_sat: u64,
}

impl From<Coin> for StoredCoin {
    fn from(c: Coin) -> Self {
        Self {
            outpoint: c.outpoint,
            value_sat: c.value.to_sat(),
        }
    }
}

/// One signed version of an anchor transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Version {
    /// The signed transaction.
    #[serde(rename = "raw_tx", with = "tx_hex")]
    pub tx: Transaction,
    /// Whether bitcoind ever accepted it.
    pub accepted: bool,
}

/// Where an anchor stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum Phase {
    /// Signed, maybe broadcast, in no block of the best chain.
    Unconfirmed,
    /// In a block of the best chain.
    InBlock {
        /// The version in the block.
        txid: Txid,
        /// The block.
        block_hash: BlockHash,
        /// Its height.
        block_height: u64,
    },
}

/// An anchor buried deeper than the watch depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settled {
    /// What it anchored.
    pub target: Target,
    /// The transaction that confirmed.
    pub txid: Txid,
    /// Its block.
    pub block_hash: BlockHash,
    /// The block's height.
    pub block_height: u64,
}

mod tx_hex {
    use super::{Transaction, encode};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tx: &Transaction, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(encode::serialize(tx)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Transaction, D::Error> {
        use serde::de::Error;
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bytes = hex::decode(text.as_ref()).map_err(D::Error::custom)?;
        encode::deserialize(&bytes).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::AnchorKey;
    use crate::payload::AnchorPayload;
    use crate::txbuild::build_anchor;
    use bitcoin::hashes::Hash;
    use bitcoin::secp256k1::SecretKey;
    use pantheon_runtime::amount::Height;
    use pantheon_runtime::hash::Hash256;

    #[test]
    fn round_trips_through_json() {
        let key = AnchorKey::from_secret(SecretKey::from_slice(&[3; 32]).unwrap());
        let coin = Coin {
            outpoint: OutPoint::new(Txid::from_byte_array([9; 32]), 1),
            value: Amount::from_sat(50_000),
        };
        let target = Target {
            height: Height::new(7),
            commitment: Hash256::digest(b"c"),
        };
        let tx = build_anchor(
            &key,
            &[coin],
            &AnchorPayload::new(target.commitment),
            bitcoin::FeeRate::from_sat_per_vb_u32(1),
        )
        .unwrap();
        let mut state = State::new(Network::Regtest, key.script_pubkey().to_hex_string());
        state.anchors.push(Tracked {
            target,
            inputs: vec![coin.into()],
            versions: vec![Version {
                tx: tx.tx().clone(),
                accepted: false,
            }],
            phase: Phase::InBlock {
                txid: tx.txid(),
                block_hash: BlockHash::all_zeros(),
                block_height: 5,
            },
            sent_height: Some(4),
            reported: true,
        });
        state.waiting = Some(target);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anchor-state.json");
        crate::fsio::write_atomic(&path, &state.to_bytes()).unwrap();
        assert_eq!(State::load(&path).unwrap(), Some(state.clone()));
        assert_eq!(state.last_target_height(), Some(7));
        assert_eq!(state.own_txids(), vec![tx.txid()]);
        let text = String::from_utf8(state.to_bytes()).unwrap();
        assert!(text.contains("\"state\": \"in_block\""), "{text}");
    }
}
