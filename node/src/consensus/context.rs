//! Pantheon's instance of Malachite's `Context`: the consensus data types.
//!
//! | Malachite       | Pantheon                                                        |
//! |-----------------|-----------------------------------------------------------------|
//! | `Height`        | [`ConsensusHeight`], a newtype over `amount::Height` (orphan rule) |
//! | `Address`       | [`ValidatorIndex`]: the validator's position in the genesis set  |
//! | `Value`         | [`BlockValue`]: the proposed block's header; id = `BlockHash`   |
//! | `ProposalPart`  | [`ProposalPart`]: signed `Init` (header) then chunks of txs      |
//! | `Vote`          | [`Vote`], signed as `block::VoteMessage`                        |
//! | `Proposal`      | [`Proposal`], signed as [`crate::signing::proposal_message`]    |
//! | `SigningScheme` | [`MlDsa65`]: `crypto::PublicKey` / [`Sig`] / `Arc<Keypair>`     |
//! | `Extension`     | `()` (vote extensions are disabled)                             |
//! | `Timeouts`      | Malachite's `LinearTimeouts`                                    |
//!
//! Why the header and not the whole block as `Value`: in `ProposalAndParts`
//! mode Malachite gossips the signed `Proposal` *with its value* on the
//! consensus topic and writes every `ProposedValue` to the WAL. A 189-byte
//! header keeps both small, commits to the transactions (`tx_root`) and the
//! resulting state, and its hash is exactly our `BlockHash`, which is what
//! votes and `CommitCertificate`s name. The transactions travel as proposal
//! parts and are kept by the application.
//!
//! Why the validator *index* as `Address`: our `CommitCertificate` and
//! `BlockHeader::proposer` already name validators by their `u16` index in
//! the genesis `ValidatorSet`, so Malachite certificates convert without a
//! lookup, and every vote is 30 bytes smaller than with a key id. The set is
//! fixed at genesis; if sets ever change, an index is only meaningful
//! together with the height's set (which is how certificates are verified
//! anyway).

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use malachitebft_app_channel::app::types::core::{
    self as mc, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType,
};
use pantheon_runtime::amount::Height;
use pantheon_runtime::block::{BlockHeader, CommitCertificate};
use pantheon_runtime::crypto::{Keypair, PUBLIC_KEY_LEN, PublicKey, SIGNATURE_LEN, Signature};
use pantheon_runtime::genesis;
use pantheon_runtime::hash::{BlockHash, GenesisHash, Hash256};
use pantheon_runtime::tx::SignedTx;

// ---------------------------------------------------------------------------
// Height

/// A block height as Malachite sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConsensusHeight(pub Height);

impl ConsensusHeight {
    /// From a number.
    #[must_use]
    pub const fn new(h: u64) -> Self {
        Self(Height::new(h))
    }
}

impl fmt::Display for ConsensusHeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl mc::Height for ConsensusHeight {
    const ZERO: Self = Self(Height::GENESIS);
    const INITIAL: Self = Self(Height::new(1));

    fn increment_by(&self, n: u64) -> Self {
        Self(Height::new(self.0.get().saturating_add(n)))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.get().checked_sub(n).map(|h| Self(Height::new(h)))
    }

    fn as_u64(&self) -> u64 {
        self.0.get()
    }
}

// ---------------------------------------------------------------------------
// Address, validators

/// A validator, named by its index in the genesis validator set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValidatorIndex(pub u16);

impl fmt::Display for ValidatorIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl mc::Address for ValidatorIndex {}

/// One validator of the set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Its index (address).
    pub index: ValidatorIndex,
    /// Its ML-DSA-65 key.
    pub public_key: PublicKey,
    /// Its voting power.
    pub power: u64,
}

impl mc::Validator<PantheonContext> for Validator {
    fn address(&self) -> &ValidatorIndex {
        &self.index
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> mc::VotingPower {
        self.power
    }
}

/// The genesis validator set, ordered by index. Cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Arc<Vec<Validator>>,
    total: u64,
    equal_powers: bool,
}

impl ValidatorSet {
    /// Wraps the genesis set.
    #[must_use]
    pub fn new(set: &genesis::ValidatorSet) -> Self {
        let validators: Vec<Validator> = set
            .validators()
            .iter()
            .enumerate()
            .map(|(i, v)| Validator {
                index: ValidatorIndex(u16::try_from(i).expect("at most 128 validators")),
                public_key: v.public_key.clone(),
                power: v.power,
            })
            .collect();
        let equal_powers = validators.windows(2).all(|w| w[0].power == w[1].power);
        Self {
            total: set.total_power(),
            equal_powers,
            validators: Arc::new(validators),
        }
    }

    /// The validator whose key is `key`.
    #[must_use]
    pub fn index_of(&self, key: &PublicKey) -> Option<ValidatorIndex> {
        self.validators
            .iter()
            .find(|v| &v.public_key == key)
            .map(|v| v.index)
    }

    /// The validator at `index`.
    #[must_use]
    pub fn get(&self, index: ValidatorIndex) -> Option<&Validator> {
        self.validators.get(usize::from(index.0))
    }

    /// The proposer of `(height, round)`.
    ///
    /// Equal powers: plain round robin, `(height + round) mod n`, so each
    /// new round moves to the next validator. Unequal powers: a validator is
    /// picked with probability proportional to its power, by a hash of
    /// `(height, round)` (stateless and deterministic; a CometBFT-style
    /// proposer-priority rotation would be fairer over short spans).
    #[must_use]
    pub fn proposer(&self, height: ConsensusHeight, round: Round) -> &Validator {
        let r32 = round.as_u32().unwrap_or(0);
        let r = u64::from(r32);
        let n = self.validators.len() as u64;
        if self.equal_powers {
            let i = height.0.get().wrapping_add(r) % n;
            return &self.validators[usize::try_from(i).expect("i < n <= 128")];
        }
        let mut seed = Vec::with_capacity(12);
        seed.extend_from_slice(&height.0.get().to_be_bytes());
        seed.extend_from_slice(&r32.to_be_bytes());
        let h = Hash256::digest_parts(&[b"pantheon/v1/proposer", &[0], &seed]);
        let mut x = [0u8; 8];
        x.copy_from_slice(&h.as_bytes()[..8]);
        let mut slot = u64::from_be_bytes(x) % self.total;
        for v in self.validators.iter() {
            if slot < v.power {
                return v;
            }
            slot -= v.power;
        }
        &self.validators[0]
    }
}

impl mc::ValidatorSet<PantheonContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> mc::VotingPower {
        self.total
    }

    fn get_by_address(&self, address: &ValidatorIndex) -> Option<&Validator> {
        self.get(*address)
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

// ---------------------------------------------------------------------------
// Value

/// The value consensus decides on: a block header. Its id is the block hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockValue {
    header: BlockHeader,
    hash: BlockHash,
}

impl BlockValue {
    /// Wraps a header (hashing it once).
    #[must_use]
    pub fn new(header: BlockHeader) -> Self {
        Self {
            hash: header.hash(),
            header,
        }
    }

    /// The header.
    #[must_use]
    pub fn header(&self) -> &BlockHeader {
        &self.header
    }

    /// The block hash.
    #[must_use]
    pub fn hash(&self) -> BlockHash {
        self.hash
    }
}

impl PartialOrd for BlockValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for BlockValue {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.header.height, self.hash).cmp(&(other.header.height, other.hash))
    }
}

impl mc::Value for BlockValue {
    type Id = BlockHash;

    fn id(&self) -> BlockHash {
        self.hash
    }
}

// ---------------------------------------------------------------------------
// Signing scheme

/// An ML-DSA-65 signature with the total order Malachite requires.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Sig(pub Signature);

impl PartialOrd for Sig {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Sig {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.as_bytes().cmp(other.0.as_bytes())
    }
}

/// A key or signature of the wrong length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} bytes, got {got}")]
pub struct LengthError {
    /// Expected length.
    pub expected: usize,
    /// Actual length.
    pub got: usize,
}

/// Pure ML-DSA-65 (FIPS 204) with Pantheon's context strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MlDsa65;

impl mc::SigningScheme for MlDsa65 {
    type DecodingError = LengthError;
    type Signature = Sig;
    type PublicKey = PublicKey;
    type PrivateKey = Arc<Keypair>;

    fn decode_signature(bytes: &[u8]) -> Result<Sig, LengthError> {
        let array: [u8; SIGNATURE_LEN] = bytes.try_into().map_err(|_| LengthError {
            expected: SIGNATURE_LEN,
            got: bytes.len(),
        })?;
        Ok(Sig(Signature::from_bytes(array)))
    }

    fn encode_signature(signature: &Sig) -> Vec<u8> {
        signature.0.as_bytes().to_vec()
    }

    fn decode_public_key(bytes: &[u8]) -> Result<PublicKey, LengthError> {
        PublicKey::from_slice(bytes).ok_or(LengthError {
            expected: PUBLIC_KEY_LEN,
            got: bytes.len(),
        })
    }

    fn encode_public_key(public_key: &PublicKey) -> Vec<u8> {
        public_key.as_bytes().to_vec()
    }
}

// ---------------------------------------------------------------------------
// Proposal and vote

/// A proposal: "at (height, round), I propose this block; it had a polka at `pol_round`".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// Height.
    pub height: ConsensusHeight,
    /// Round.
    pub round: Round,
    /// The proposed block header.
    pub value: BlockValue,
    /// Proof-of-lock round, `Round::Nil` for a fresh block.
    pub pol_round: Round,
    /// The proposer.
    pub proposer: ValidatorIndex,
}

impl mc::Proposal<PantheonContext> for Proposal {
    fn height(&self) -> ConsensusHeight {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockValue {
        &self.value
    }

    fn take_value(self) -> BlockValue {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &ValidatorIndex {
        &self.proposer
    }
}

/// A prevote or precommit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// Height.
    pub height: ConsensusHeight,
    /// Round (always defined for votes).
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockHash>,
    /// The voter.
    pub validator: ValidatorIndex,
    /// Always `None` (extensions are disabled); kept for the trait.
    pub extension: Option<SignedExtension<PantheonContext>>,
}

impl mc::Vote<PantheonContext> for Vote {
    fn height(&self) -> ConsensusHeight {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockHash> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockHash> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    fn validator_address(&self) -> &ValidatorIndex {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<PantheonContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<PantheonContext>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<PantheonContext>) -> Self {
        Self {
            extension: Some(extension),
            ..self
        }
    }
}

// ---------------------------------------------------------------------------
// Proposal parts

/// The first part of a proposal stream: who proposes what, signed.
///
/// `signature` is the proposer's signature over
/// [`crate::signing::proposal_message`]`(height, round, pol_round, hash(header))`,
/// the very bytes (and, ML-DSA signing being deterministic, the very
/// signature) of the consensus `Proposal`. Receivers check it before
/// buffering megabytes of transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposalInit {
    /// Height.
    pub height: ConsensusHeight,
    /// Round the stream belongs to.
    pub round: Round,
    /// Proof-of-lock round of the proposal (`Nil` for a fresh block).
    pub pol_round: Round,
    /// The round's proposer (who signed).
    pub proposer: ValidatorIndex,
    /// The block header; the block hash is its hash.
    pub header: BlockHeader,
    /// The parent's canonical certificate the block carries (version 2,
    /// from block 2 on); bound to the block by the header's
    /// `last_certificate` hash, so the proposer's signature covers it.
    pub last_certificate: Option<Box<CommitCertificate>>,
    /// Proposer's signature (context `pantheon/v1/proposal`).
    pub signature: Sig,
}

/// A proposal part.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one Init (a header, 240 bytes) per stream, next to Txs parts of up to 1 MiB each"
)]
pub enum ProposalPart {
    /// Sequence 0: the signed header.
    Init(ProposalInit),
    /// The next transactions of the block, in order.
    Txs(Vec<SignedTx>),
}

impl mc::ProposalPart<PantheonContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, Self::Init(_))
    }

    fn is_last(&self) -> bool {
        // The end of a stream is the stream layer's `StreamContent::Fin`.
        false
    }
}

// ---------------------------------------------------------------------------
// The context

/// Pantheon's consensus context: the network it runs on.
#[derive(Clone, Debug)]
pub struct PantheonContext {
    /// The genesis hash, part of every signed vote and proposal.
    #[allow(dead_code, reason = "names the network in the context's Debug output")]
    pub genesis: GenesisHash,
}

impl PantheonContext {
    /// The context of the network `genesis`.
    #[must_use]
    pub fn new(genesis: GenesisHash) -> Self {
        Self { genesis }
    }
}

impl mc::Context for PantheonContext {
    type Address = ValidatorIndex;
    type Height = ConsensusHeight;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockValue;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = MlDsa65;

    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: ConsensusHeight,
        round: Round,
    ) -> &'a Validator {
        validator_set.proposer(height, round)
    }

    fn new_proposal(
        &self,
        height: ConsensusHeight,
        round: Round,
        value: BlockValue,
        pol_round: Round,
        address: ValidatorIndex,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: ConsensusHeight,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: ValidatorIndex,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Prevote,
            height,
            round,
            value: value_id,
            validator: address,
            extension: None,
        }
    }

    fn new_precommit(
        &self,
        height: ConsensusHeight,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: ValidatorIndex,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Precommit,
            height,
            round,
            value: value_id,
            validator: address,
            extension: None,
        }
    }
}
