//! Anchoring to Bitcoin: the commitment Pantheon writes into Bitcoin, and
//! the plain-bytes Bitcoin part of a proof bundle.
//!
//! ```text
//! block hash of height h          (leaf h-1 of the block history log)
//!   --RFC 9162 path-->  history_root(A)                (covers blocks 1..=A)
//!   --tagged("pantheon/v1/anchor", genesis || A || history_root)-->  commitment
//!   --verbatim in the OP_RETURN payload "PNTH" 01 <commitment>-->  raw_tx
//!   --sha256d-->  txid  --Bitcoin Merkle branch-->  headers[0].merkle_root
//!   headers[0] <--prev-- headers[1] <--prev-- ... (proof of work)
//! ```
//!
//! Every arrow is SHA-256 (or Bitcoin's double SHA-256) over bytes in which
//! the previous value appears verbatim, so the whole path is also an
//! OpenTimestamps path (`docs/FORMATS.md`, section 13).
//!
//! This module has no dependency on the `bitcoin` crate: [`BitcoinPart`] is
//! plain bytes with its codec and JSON form. The Bitcoin checks (transaction
//! parsing, payload, Merkle branch, proof of work) are in
//! `pantheon-anchor`'s `spv::verify`.
//!
//! # Byte order of Bitcoin hashes
//!
//! [`BitcoinTxid`] and [`BitcoinBlockHash`] hold the 32 bytes in Bitcoin's
//! **internal** order, the order double SHA-256 outputs them and Bitcoin
//! serializes them. Their text form (Display, FromStr, JSON) is Bitcoin's
//! **displayed** order, the reverse, as `bitcoin-cli` and block explorers
//! print them. Pantheon's own hashes are never reversed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::amount::Height;
use crate::codec::{self, CodecError, Decode, Encode, Reader, put_count16, put_count32};
use crate::hash::{Domain, GenesisHash, Hash256, HexError, decode_hex_array, hash_newtype};

hash_newtype!(
    /// What Pantheon writes into Bitcoin:
    /// `SHA-256("pantheon/v1/anchor" || 0x00 || genesis_hash || height:u64 BE || history_root)`,
    /// where `history_root` is the root of the block history log of size
    /// `height` (blocks `1..=height`).
    AnchorCommitment
);

impl AnchorCommitment {
    /// The commitment to the chain of `genesis` up to block `height`, whose
    /// block history log (of `height` leaves) has root `history_root`.
    #[must_use]
    pub fn compute(genesis: &GenesisHash, height: Height, history_root: &Hash256) -> Self {
        Self::new(Hash256::tagged(
            Domain::Anchor,
            &commitment_body(genesis, height, history_root),
        ))
    }
}

/// `genesis_hash || height:u64 BE || history_root`: the 72 bytes hashed
/// (after the tag and `0x00`) into an [`AnchorCommitment`].
#[must_use]
pub fn commitment_body(genesis: &GenesisHash, height: Height, history_root: &Hash256) -> Vec<u8> {
    let mut out = Vec::with_capacity(72);
    out.extend_from_slice(genesis.as_bytes());
    out.extend_from_slice(&height.get().to_be_bytes());
    out.extend_from_slice(history_root.as_bytes());
    out
}

/// Bitcoin's double SHA-256, `SHA-256(SHA-256(data))`, in internal order.
#[must_use]
pub fn sha256d(data: &[u8]) -> [u8; 32] {
    *Hash256::digest(Hash256::digest(data).as_bytes()).as_bytes()
}

/// Defines a Bitcoin hash newtype: internal byte order inside, displayed
/// (reversed) order in text.
macro_rules! bitcoin_hash_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, schemars::JsonSchema)]
        pub struct $name(#[schemars(with = "crate::hash::Hash256")] [u8; 32]);

        impl $name {
            /// Wraps 32 bytes in internal order (as hashed and serialized).
            #[must_use]
            pub const fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }
            /// The 32 bytes in internal order.
            #[must_use]
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
            /// The 32 bytes in displayed order (reversed).
            #[must_use]
            pub fn to_display_bytes(&self) -> [u8; 32] {
                let mut b = self.0;
                b.reverse();
                b
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.to_display_bytes()))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl FromStr for $name {
            type Err = HexError;
            /// Parses the displayed (reversed) hex form.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let mut b: [u8; 32] = decode_hex_array(s)?;
                b.reverse();
                Ok(Self(b))
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl Encode for $name {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.0);
            }
        }

        impl Decode for $name {
            fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
                r.array::<32>().map(Self)
            }
        }
    };
}

bitcoin_hash_newtype!(
    /// A Bitcoin transaction id: double SHA-256 of the transaction serialized
    /// without witness. Internal byte order inside; displayed reversed.
    BitcoinTxid
);
bitcoin_hash_newtype!(
    /// A Bitcoin block hash: double SHA-256 of the 80-byte header. Internal
    /// byte order inside; displayed reversed.
    BitcoinBlockHash
);

/// The encoding version of [`BitcoinPart`].
pub const PART_VERSION: u8 = 1;
/// The largest raw transaction accepted (a standard transaction's weight
/// limit, 400,000 WU, is at most 100,000 bytes without witness).
pub const MAX_BITCOIN_TX_SIZE: usize = 100_000;
/// The deepest Merkle branch accepted: 2^32 transactions.
pub const MAX_BRANCH_DEPTH: usize = 32;
/// The most headers accepted: two weeks of blocks.
pub const MAX_HEADERS: usize = 2016;

/// The Bitcoin part of a proof bundle: the anchor transaction, its Merkle
/// branch in its block, and the block's header followed by the headers of
/// the blocks built on it. Plain bytes; checked by `pantheon-anchor`'s
/// `spv::verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitcoinPart {
    /// The transaction serialized without witness (the bytes its txid
    /// hashes).
    pub raw_tx: Vec<u8>,
    /// Its position in the block.
    pub tx_index: u32,
    /// Merkle siblings from the leaf up, in internal byte order.
    pub branch: Vec<[u8; 32]>,
    /// `headers[0]` holds the transaction; `headers[i + 1]` builds on
    /// `headers[i]`. Their count is the number of confirmations proven.
    pub headers: Vec<[u8; 80]>,
}

impl Encode for BitcoinPart {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(PART_VERSION);
        put_count32(out, self.raw_tx.len());
        out.extend_from_slice(&self.raw_tx);
        out.extend_from_slice(&self.tx_index.to_be_bytes());
        put_count16(out, self.branch.len());
        for hash in &self.branch {
            out.extend_from_slice(hash);
        }
        put_count16(out, self.headers.len());
        for header in &self.headers {
            out.extend_from_slice(header);
        }
    }
}

impl Decode for BitcoinPart {
    const MAX_SIZE: usize =
        1 + 4 + MAX_BITCOIN_TX_SIZE + 4 + 2 + 32 * MAX_BRANCH_DEPTH + 2 + 80 * MAX_HEADERS;

    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        r.version("bitcoin part", PART_VERSION)?;
        let len = r.count("raw_tx", true, MAX_BITCOIN_TX_SIZE)?;
        let raw_tx = r.take(len)?.to_vec();
        let tx_index = r.u32()?;
        let n = r.count("branch", false, MAX_BRANCH_DEPTH)?;
        let mut branch = Vec::with_capacity(n);
        for _ in 0..n {
            branch.push(r.array()?);
        }
        let n = r.count("headers", false, MAX_HEADERS)?;
        let mut headers = Vec::with_capacity(n);
        for _ in 0..n {
            headers.push(r.array()?);
        }
        Ok(Self {
            raw_tx,
            tx_index,
            branch,
            headers,
        })
    }
}

impl BitcoinPart {
    /// Decodes the binary encoding (whole input, size-limited).
    ///
    /// # Errors
    /// [`CodecError`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CodecError> {
        codec::decode_exact(bytes)
    }

    /// The hash of `headers[0]`, the block holding the transaction.
    #[must_use]
    pub fn block_hash(&self) -> Option<BitcoinBlockHash> {
        self.headers
            .first()
            .map(|h| BitcoinBlockHash::from_bytes(sha256d(h)))
    }

    /// The txid: double SHA-256 of `raw_tx`.
    #[must_use]
    pub fn txid(&self) -> BitcoinTxid {
        BitcoinTxid::from_bytes(sha256d(&self.raw_tx))
    }
}

/// The JSON form: every byte string as lower-case hex.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartJson {
    raw_tx: String,
    tx_index: u32,
    branch: Vec<String>,
    headers: Vec<String>,
}

impl Serialize for BitcoinPart {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PartJson {
            raw_tx: hex::encode(&self.raw_tx),
            tx_index: self.tx_index,
            branch: self.branch.iter().map(hex::encode).collect(),
            headers: self.headers.iter().map(hex::encode).collect(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for BitcoinPart {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let json = PartJson::deserialize(d)?;
        if json.raw_tx.len() > 2 * MAX_BITCOIN_TX_SIZE {
            return Err(D::Error::custom(format!(
                "raw_tx has {} hex digits, more than {}",
                json.raw_tx.len(),
                2 * MAX_BITCOIN_TX_SIZE
            )));
        }
        if json.branch.len() > MAX_BRANCH_DEPTH || json.headers.len() > MAX_HEADERS {
            return Err(D::Error::custom(format!(
                "{} branch hashes and {} headers, at most {MAX_BRANCH_DEPTH} and {MAX_HEADERS}",
                json.branch.len(),
                json.headers.len()
            )));
        }
        let raw_tx = hex::decode(&json.raw_tx).map_err(D::Error::custom)?;
        let branch = json
            .branch
            .iter()
            .map(|h| decode_hex_array::<32>(h))
            .collect::<Result<_, _>>()
            .map_err(D::Error::custom)?;
        let headers = json
            .headers
            .iter()
            .map(|h| decode_hex_array::<80>(h))
            .collect::<Result<_, _>>()
            .map_err(D::Error::custom)?;
        Ok(Self {
            raw_tx,
            tx_index: json.tx_index,
            branch,
            headers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::decode_exact;

    #[test]
    fn commitment_is_the_tagged_hash_of_its_body() {
        let g = GenesisHash::from_bytes([7; 32]);
        let root = Hash256::digest(b"history");
        let c = AnchorCommitment::compute(&g, Height::new(0x0102), &root);
        let mut pre = b"pantheon/v1/anchor\0".to_vec();
        pre.extend_from_slice(&[7; 32]);
        pre.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 2]);
        pre.extend_from_slice(root.as_bytes());
        assert_eq!(c.hash(), Hash256::digest(&pre));
    }

    #[test]
    fn bitcoin_hashes_display_reversed() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0xab;
        let txid = BitcoinTxid::from_bytes(bytes);
        let text = txid.to_string();
        assert!(text.ends_with("ab") && text.starts_with("00"));
        assert_eq!(text.parse::<BitcoinTxid>(), Ok(txid));
        assert_eq!(txid.to_display_bytes()[31], 0xab);
        let json = serde_json::to_string(&txid).unwrap();
        assert_eq!(serde_json::from_str::<BitcoinTxid>(&json).unwrap(), txid);
    }

    #[test]
    fn part_round_trips_and_rejects_bad_input() {
        let part = BitcoinPart {
            raw_tx: vec![1, 2, 3],
            tx_index: 5,
            branch: vec![[9; 32]],
            headers: vec![[4; 80], [5; 80]],
        };
        let bytes = part.to_bytes();
        assert_eq!(bytes.len(), 13 + 3 + 32 + 160);
        assert_eq!(decode_exact::<BitcoinPart>(&bytes).unwrap(), part);
        let json = serde_json::to_string(&part).unwrap();
        assert_eq!(serde_json::from_str::<BitcoinPart>(&json).unwrap(), part);
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(BitcoinPart::from_bytes(&trailing).is_err());
        let mut bad_version = bytes;
        bad_version[0] = 2;
        assert!(BitcoinPart::from_bytes(&bad_version).is_err());
        assert!(
            serde_json::from_str::<BitcoinPart>(
                r#"{"raw_tx":"00","tx_index":0,"branch":[],"headers":[],"x":1}"#
            )
            .is_err()
        );
        assert_eq!(part.txid().as_bytes(), &sha256d(&[1, 2, 3]));
        assert_eq!(part.block_hash().unwrap().as_bytes(), &sha256d(&[4; 80]));
    }
}

/// The Bitcoin network a Pantheon network anchors to, as its genesis
/// commits it (`docs/FORMATS.md` 11.7). Its text form is the name
/// `bitcoind -chain=` takes, except `bitcoin` for mainnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BitcoinNetwork {
    /// Bitcoin mainnet (code 1).
    Bitcoin,
    /// testnet4, BIP 94 (code 2).
    Testnet4,
    /// The default signet (code 3).
    Signet,
    /// A local regression-test chain (code 4): headers cost nothing.
    Regtest,
}

impl BitcoinNetwork {
    /// Every network, in code order.
    pub const ALL: [Self; 4] = [Self::Bitcoin, Self::Testnet4, Self::Signet, Self::Regtest];

    /// The one-byte code in a genesis header.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Bitcoin => 1,
            Self::Testnet4 => 2,
            Self::Signet => 3,
            Self::Regtest => 4,
        }
    }

    /// The network of a code.
    #[must_use]
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.code() == code)
    }

    /// Its name: `bitcoin`, `testnet4`, `signet` or `regtest`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Bitcoin => "bitcoin",
            Self::Testnet4 => "testnet4",
            Self::Signet => "signet",
            Self::Regtest => "regtest",
        }
    }

    /// The confirmations an anchor needs by default: 1 on regtest (blocks
    /// are mined on demand), 6 elsewhere.
    #[must_use]
    pub const fn default_confirmations(self) -> u16 {
        match self {
            Self::Regtest => 1,
            _ => 6,
        }
    }
}

impl fmt::Display for BitcoinNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown Bitcoin network name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not one of bitcoin (or mainnet), testnet4, signet, regtest")]
pub struct UnknownNetwork(pub String);

impl FromStr for BitcoinNetwork {
    type Err = UnknownNetwork;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mainnet" => Ok(Self::Bitcoin),
            other => Self::ALL
                .into_iter()
                .find(|n| n.name() == other)
                .ok_or_else(|| UnknownNetwork(other.to_owned())),
        }
    }
}

/// The most confirmations a genesis may ask of an anchor.
pub const MAX_ANCHOR_CONFIRMATIONS: u16 = 100;

/// How a network anchors to Bitcoin, committed in its genesis (version 2):
/// which Bitcoin network, and how many confirmations an anchor needs
/// before the chain records it and verifiers accept it by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BitcoinParams {
    /// The Bitcoin network.
    pub network: BitcoinNetwork,
    /// Confirmations, `1..=100`.
    pub confirmations: u16,
}

impl BitcoinParams {
    /// `network` with its default confirmations.
    #[must_use]
    pub const fn for_network(network: BitcoinNetwork) -> Self {
        Self {
            network,
            confirmations: network.default_confirmations(),
        }
    }

    /// Whether the confirmations are in `1..=100`.
    #[must_use]
    pub const fn is_valid(&self) -> bool {
        self.confirmations >= 1 && self.confirmations <= MAX_ANCHOR_CONFIRMATIONS
    }
}

impl Encode for BitcoinParams {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.network.code());
        out.extend_from_slice(&self.confirmations.to_be_bytes());
    }
}

impl Decode for BitcoinParams {
    const MAX_SIZE: usize = 3;
    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        let code = r.u8()?;
        let network = BitcoinNetwork::from_code(code).ok_or(CodecError::InvalidTag {
            field: "bitcoin.network",
            tag: code,
        })?;
        let params = Self {
            network,
            confirmations: r.u16()?,
        };
        if !params.is_valid() {
            return Err(CodecError::Invalid {
                field: "bitcoin.confirmations",
                reason: "not in 1..=100",
            });
        }
        Ok(params)
    }
}
