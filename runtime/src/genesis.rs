//! Genesis: the validator set, the fee schedule and the allocation of the
//! whole PAN supply, and the hash that names the network.
//!
//! ```text
//! GenesisHeader = version:u8 (=1) || chain_id:u8-len ASCII (<=32) || time_ms:u64
//!                 || Params || ValidatorSet || allocations_hash:[32]
//!               | version:u8 (=2) || chain_id || time_ms || Params
//!                 || bitcoin:Option<network:u8 || confirmations:u16>
//!                 || ValidatorSet || allocations_hash
//! allocations_hash = SHA-256("pantheon/v1/genesis-allocations" || 0x00
//!                    || count:u32 || (account:[32] || amount:u64)*)
//! genesis_hash     = SHA-256("pantheon/v1/genesis" || 0x00 || GenesisHeader)
//! ```
//!
//! The header is small and self-contained, so a proof bundle carries it and
//! a verifier recomputes the genesis hash to learn the validator set.
//! Version 2 also commits the Bitcoin network the chain anchors to (and
//! the confirmations an anchor needs), so that a bundle's trust root pins
//! it: a verifier never has to guess, or default to, a network. Version 1
//! stays readable; it pins no network.

use serde::{Deserialize, Serialize};

use crate::amount::{Amount, SUPPLY};
use crate::anchor::BitcoinParams;
use crate::codec::{self, CodecError, Decode, Encode, Reader, put_count16, put_short_bytes};
use crate::crypto::{AccountId, PublicKey};
use crate::hash::{Domain, GenesisHash, Hash256};

/// The genesis format version new networks are made with: it commits the
/// Bitcoin network.
pub const GENESIS_VERSION: u8 = 2;
/// The first genesis format version, still read (it pins no Bitcoin
/// network).
pub const GENESIS_VERSION_1: u8 = 1;
/// Longest chain id, in bytes.
pub const MAX_CHAIN_ID_LEN: usize = 32;
/// Most validators in a set.
pub const MAX_VALIDATORS: usize = 128;
/// Most genesis allocations.
pub const MAX_ALLOCATIONS: usize = 1 << 20;

/// Errors of genesis validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// Allocations do not add up to exactly the supply.
    #[error("allocations total {total} units; the supply is exactly {} units", SUPPLY.units())]
    SupplyMismatch {
        /// The sum of allocations, in smallest units.
        total: u128,
    },
    /// Allocations are not sorted by account with no duplicates, or one is zero.
    #[error("allocations must be sorted by account, unique and non-zero (at {0})")]
    BadAllocation(AccountId),
    /// The validator set is empty, too large, has a duplicate or zero power.
    #[error("invalid validator set: {0}")]
    BadValidators(&'static str),
    /// The chain id is empty, too long or not printable ASCII.
    #[error("chain id must be 1..=32 printable ASCII bytes")]
    BadChainId,
    /// An unknown version, or version-1 with a Bitcoin member.
    #[error("genesis version: {0}")]
    BadVersion(&'static str),
    /// Bitcoin confirmations outside `1..=100`.
    #[error("bitcoin.confirmations must be between 1 and 100")]
    BadBitcoin,
    /// Encoding error.
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// The fee schedule and block limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Fee per root submission.
    pub submit_fee: Amount,
    /// Fee per transfer.
    pub transfer_fee: Amount,
    /// Fee per operator registration.
    pub register_fee: Amount,
    /// Most transactions in a block.
    pub max_block_txs: u32,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            submit_fee: Amount::from_units(1_000_000),
            transfer_fee: Amount::from_units(1_000_000),
            register_fee: Amount::from_units(100_000_000),
            max_block_txs: 20_000,
        }
    }
}

impl Encode for Params {
    fn encode(&self, out: &mut Vec<u8>) {
        self.submit_fee.encode(out);
        self.transfer_fee.encode(out);
        self.register_fee.encode(out);
        out.extend_from_slice(&self.max_block_txs.to_be_bytes());
    }
}

impl Decode for Params {
    const MAX_SIZE: usize = 28;
    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        Ok(Self {
            submit_fee: Amount::decode(r)?,
            transfer_fee: Amount::decode(r)?,
            register_fee: Amount::decode(r)?,
            max_block_txs: r.u32()?,
        })
    }
}

/// One validator: its consensus key and voting power.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validator {
    /// The ML-DSA-65 key that signs votes; fees are paid to its account.
    pub public_key: PublicKey,
    /// Voting power (> 0).
    pub power: u64,
}

/// The ordered validator set. A validator's index is its position.
/// Validated on construction, including from JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Validator>", into = "Vec<Validator>")]
pub struct ValidatorSet(Vec<Validator>);

impl TryFrom<Vec<Validator>> for ValidatorSet {
    type Error = GenesisError;
    fn try_from(validators: Vec<Validator>) -> Result<Self, Self::Error> {
        Self::new(validators)
    }
}

impl From<ValidatorSet> for Vec<Validator> {
    fn from(set: ValidatorSet) -> Self {
        set.0
    }
}

impl ValidatorSet {
    /// A validated set: 1..=128 validators, distinct keys, positive powers.
    ///
    /// # Errors
    /// [`GenesisError::BadValidators`].
    pub fn new(validators: Vec<Validator>) -> Result<Self, GenesisError> {
        if validators.is_empty() || validators.len() > MAX_VALIDATORS {
            return Err(GenesisError::BadValidators("between 1 and 128 validators"));
        }
        let mut ids: Vec<AccountId> = validators.iter().map(|v| v.public_key.id()).collect();
        ids.sort();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(GenesisError::BadValidators("duplicate validator key"));
        }
        if validators.iter().any(|v| v.power == 0) {
            return Err(GenesisError::BadValidators("zero voting power"));
        }
        let total: u128 = validators.iter().map(|v| u128::from(v.power)).sum();
        if total > u128::from(u64::MAX / 3) {
            return Err(GenesisError::BadValidators("total voting power too large"));
        }
        Ok(Self(validators))
    }

    /// The validators in index order.
    #[must_use]
    pub fn validators(&self) -> &[Validator] {
        &self.0
    }

    /// The validator at `index`.
    #[must_use]
    pub fn get(&self, index: u16) -> Option<&Validator> {
        self.0.get(usize::from(index))
    }

    /// Number of validators.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true for a validated set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The sum of voting powers.
    #[must_use]
    pub fn total_power(&self) -> u64 {
        self.0.iter().map(|v| v.power).sum()
    }

    /// True if `power` is more than two thirds of the total.
    #[must_use]
    pub fn is_quorum(&self, power: u64) -> bool {
        u128::from(power) * 3 > u128::from(self.total_power()) * 2
    }
}

impl Encode for ValidatorSet {
    fn encode(&self, out: &mut Vec<u8>) {
        put_count16(out, self.0.len());
        for v in &self.0 {
            v.public_key.encode(out);
            v.power.encode(out);
        }
    }
}

impl Decode for ValidatorSet {
    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        let n = r.count("validators", false, MAX_VALIDATORS)?;
        let mut vs = Vec::with_capacity(n);
        for _ in 0..n {
            vs.push(Validator {
                public_key: PublicKey::decode(r)?,
                power: r.u64()?,
            });
        }
        Self::new(vs).map_err(|_| CodecError::Invalid {
            field: "validators",
            reason: "empty, duplicate key, zero or excessive power",
        })
    }
}

/// The hashed part of genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisHeader {
    /// [`GENESIS_VERSION`] or [`GENESIS_VERSION_1`].
    #[serde(default = "version_1")]
    pub version: u8,
    /// A human-readable network name.
    pub chain_id: String,
    /// Genesis time, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Fees and limits.
    pub params: Params,
    /// Version 2: the Bitcoin network anchors go to and the confirmations
    /// they need (`None`: this network does not anchor). Always `None` in
    /// version 1, which pins no network.
    #[serde(default)]
    pub bitcoin: Option<BitcoinParams>,
    /// The validator set.
    pub validators: ValidatorSet,
    /// The hash of the allocation list.
    pub allocations_hash: Hash256,
}

const fn version_1() -> u8 {
    GENESIS_VERSION_1
}

impl GenesisHeader {
    /// The genesis hash, which names the network.
    #[must_use]
    pub fn hash(&self) -> GenesisHash {
        GenesisHash::new(Hash256::tagged(Domain::Genesis, &self.to_bytes()))
    }

    /// Whether this genesis commits its Bitcoin network (version 2).
    #[must_use]
    pub const fn pins_bitcoin(&self) -> bool {
        self.version >= GENESIS_VERSION
    }
}

impl Encode for GenesisHeader {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.version);
        put_short_bytes(out, self.chain_id.as_bytes());
        self.time_ms.encode(out);
        self.params.encode(out);
        if self.version >= GENESIS_VERSION {
            match &self.bitcoin {
                None => out.push(0),
                Some(b) => {
                    out.push(1);
                    b.encode(out);
                }
            }
        }
        self.validators.encode(out);
        out.extend_from_slice(self.allocations_hash.as_bytes());
    }
}

impl Decode for GenesisHeader {
    const MAX_SIZE: usize =
        1 + 1 + MAX_CHAIN_ID_LEN + 8 + 28 + 4 + 2 + MAX_VALIDATORS * (1952 + 8) + 32;
    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        let version = r.u8()?;
        if version != GENESIS_VERSION && version != GENESIS_VERSION_1 {
            return Err(CodecError::UnsupportedVersion {
                what: "genesis",
                version,
            });
        }
        let chain_id = r.short_bytes("chain_id", MAX_CHAIN_ID_LEN)?;
        let chain_id = parse_chain_id(chain_id).ok_or(CodecError::Invalid {
            field: "chain_id",
            reason: "not 1..=32 printable ASCII bytes",
        })?;
        let time_ms = r.u64()?;
        let params = Params::decode(r)?;
        let bitcoin = if version == GENESIS_VERSION && r.option_tag("bitcoin")? {
            Some(BitcoinParams::decode(r)?)
        } else {
            None
        };
        Ok(Self {
            version,
            chain_id,
            time_ms,
            params,
            bitcoin,
            validators: ValidatorSet::decode(r)?,
            allocations_hash: Hash256::from_bytes(r.array()?),
        })
    }
}

fn parse_chain_id(bytes: &[u8]) -> Option<String> {
    let ok = !bytes.is_empty()
        && bytes.len() <= MAX_CHAIN_ID_LEN
        && bytes.iter().all(|b| (0x21..=0x7e).contains(b));
    ok.then(|| String::from_utf8_lossy(bytes).into_owned())
}

/// One genesis allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allocation {
    /// The funded account.
    pub account: AccountId,
    /// Its initial balance.
    pub amount: Amount,
}

/// A complete, validated genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "GenesisFile", into = "GenesisFile")]
pub struct Genesis {
    header: GenesisHeader,
    allocations: Vec<Allocation>,
    hash: GenesisHash,
}

/// The JSON form of a genesis file. Version 1 files have neither
/// `version` nor `bitcoin`; version 2 files have `"version": 2` and a
/// `bitcoin` member (an object, or `null` for a network that does not
/// anchor).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenesisFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<u8>,
    chain_id: String,
    time_ms: u64,
    params: Params,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    bitcoin: Option<Option<BitcoinParams>>,
    validators: ValidatorSet,
    allocations: Vec<Allocation>,
}

/// A member that is present, possibly `null` (absent is `None`, by
/// `#[serde(default)]`).
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<BitcoinParams>>, D::Error> {
    Option::<BitcoinParams>::deserialize(d).map(Some)
}

impl TryFrom<GenesisFile> for Genesis {
    type Error = GenesisError;
    fn try_from(f: GenesisFile) -> Result<Self, Self::Error> {
        let v1 = Self::new(f.chain_id, f.time_ms, f.params, f.validators, f.allocations)?;
        match (f.version, f.bitcoin) {
            (None | Some(GENESIS_VERSION_1), None) => Ok(v1),
            (None | Some(GENESIS_VERSION_1), Some(_)) => Err(GenesisError::BadVersion(
                "a `bitcoin` member needs \"version\": 2",
            )),
            (Some(GENESIS_VERSION), Some(bitcoin)) => v1.with_bitcoin(bitcoin),
            (Some(GENESIS_VERSION), None) => Err(GenesisError::BadVersion(
                "version 2 needs a `bitcoin` member (an object, or null)",
            )),
            (Some(_), _) => Err(GenesisError::BadVersion(
                "this reader knows versions 1 and 2",
            )),
        }
    }
}

impl From<Genesis> for GenesisFile {
    fn from(g: Genesis) -> Self {
        let v2 = g.header.pins_bitcoin();
        Self {
            version: v2.then_some(g.header.version),
            chain_id: g.header.chain_id,
            time_ms: g.header.time_ms,
            params: g.header.params,
            bitcoin: v2.then_some(g.header.bitcoin),
            validators: g.header.validators,
            allocations: g.allocations,
        }
    }
}

impl Genesis {
    /// A validated version-1 genesis (it pins no Bitcoin network: new
    /// networks add one with [`Self::with_bitcoin`]). Allocations must be
    /// sorted by account, unique, non-zero, and add up to exactly
    /// [`SUPPLY`].
    ///
    /// # Errors
    /// [`GenesisError`].
    pub fn new(
        chain_id: String,
        time_ms: u64,
        params: Params,
        validators: ValidatorSet,
        allocations: Vec<Allocation>,
    ) -> Result<Self, GenesisError> {
        if parse_chain_id(chain_id.as_bytes()).is_none() {
            return Err(GenesisError::BadChainId);
        }
        if allocations.len() > MAX_ALLOCATIONS {
            return Err(CodecError::TooLong {
                field: "allocations",
                len: allocations.len(),
                max: MAX_ALLOCATIONS,
            }
            .into());
        }
        for (i, a) in allocations.iter().enumerate() {
            let sorted = i == 0 || allocations[i - 1].account < a.account;
            if !sorted || a.amount == Amount::ZERO {
                return Err(GenesisError::BadAllocation(a.account));
            }
        }
        let total: u128 = allocations
            .iter()
            .map(|a| u128::from(a.amount.units()))
            .sum();
        if total != u128::from(SUPPLY.units()) {
            return Err(GenesisError::SupplyMismatch { total });
        }
        let header = GenesisHeader {
            version: GENESIS_VERSION_1,
            chain_id,
            time_ms,
            params,
            bitcoin: None,
            validators,
            allocations_hash: allocations_hash(&allocations),
        };
        let hash = header.hash();
        Ok(Self {
            header,
            allocations,
            hash,
        })
    }

    /// The same genesis as version 2, committing the Bitcoin network its
    /// anchors go to (`None`: the network does not anchor). The hash
    /// changes: this is another network.
    ///
    /// # Errors
    /// [`GenesisError::BadBitcoin`] for confirmations outside `1..=100`.
    pub fn with_bitcoin(mut self, bitcoin: Option<BitcoinParams>) -> Result<Self, GenesisError> {
        if bitcoin.is_some_and(|b| !b.is_valid()) {
            return Err(GenesisError::BadBitcoin);
        }
        self.header.version = GENESIS_VERSION;
        self.header.bitcoin = bitcoin;
        self.hash = self.header.hash();
        Ok(self)
    }

    /// The hashed header.
    #[must_use]
    pub fn header(&self) -> &GenesisHeader {
        &self.header
    }

    /// The allocations, sorted by account.
    #[must_use]
    pub fn allocations(&self) -> &[Allocation] {
        &self.allocations
    }

    /// The genesis hash.
    #[must_use]
    pub fn hash(&self) -> GenesisHash {
        self.hash
    }
}

/// `SHA-256("pantheon/v1/genesis-allocations" || 0x00 || count:u32 || (account || amount)*)`.
#[must_use]
pub fn allocations_hash(allocations: &[Allocation]) -> Hash256 {
    let mut bytes = Vec::with_capacity(4 + allocations.len() * 40);
    codec::put_count32(&mut bytes, allocations.len());
    for a in allocations {
        a.account.encode(&mut bytes);
        a.amount.encode(&mut bytes);
    }
    Hash256::tagged(Domain::GenesisAllocations, &bytes)
}
