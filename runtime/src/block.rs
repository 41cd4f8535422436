//! Blocks, votes and commit certificates.
//!
//! ```text
//! BlockHeader = version:u8 (1 or 2) || height:u64 || parent:[32] || time_ms:u64
//!               || proposer:u16 || tx_count:u32 || tx_root:[32]
//!               || log_size:u64 || log_root:[32] || state_root:[32]
//!               || [last_certificate:[32]]          (version 2 only)
//! block_hash  = SHA-256("pantheon/v1/block-header" || 0x00 || BlockHeader)
//! Block       = BlockHeader || [cert_len:u32 || CommitCertificate]  (version 2)
//!               || count:u32 || (len:u16 || SignedTx)*
//!
//! VoteMessage = version:u8 (=1) || vote_type:u8 (1 prevote, 2 precommit)
//!               || genesis_hash:[32] || height:u64 || round:u32
//!               || value:u8 (0 nil, 1 block) || [block_hash:[32]]
//!
//! CommitCertificate = version:u8 (=1) || height:u64 || round:u32 || block_hash:[32]
//!               || count:u16 || (validator_index:u16 || signature:[3309])*
//! ```
//!
//! The parent of block 1 is the genesis hash. `tx_root` is the RFC 9162 root
//! of the block's transaction ids; `log_size`/`log_root` describe the
//! submission log after the block, `state_root` the state after the block.
//! A block is final when a [`CommitCertificate`] holds precommit signatures
//! (context `pantheon/v1/vote`) of validators with more than two thirds of the
//! voting power, indexes strictly increasing.
//!
//! Every version-2 block carries the canonical certificate of its parent
//! (the first quorum prefix, [`CommitCertificate::quorum`]), committed by
//! the header's `last_certificate`, as CometBFT's last commit: consensus
//! agrees on it with the block, so every node stores and serves the same
//! certificate for every block but the newest.

use serde::{Deserialize, Serialize};

use crate::amount::Height;
use crate::codec::{self, CodecError, Decode, Encode, Reader, put_count16, put_count32};
use crate::crypto::{KeyCache, SIGNATURE_LEN, SignContext, Signature};
use crate::genesis::{MAX_VALIDATORS, ValidatorSet};
use crate::hash::{BlockHash, CertificateHash, Domain, GenesisHash, Hash256, LogRoot, StateRoot};
use crate::tx::{MAX_TX_SIZE, SignedTx};

/// The format version of votes, certificates and version-1 headers.
pub const BLOCK_VERSION: u8 = 1;
/// The header version that commits to the parent's certificate.
pub const HEADER_VERSION_2: u8 = 2;
/// Most transactions a block may hold, whatever the params say.
pub const MAX_BLOCK_TXS: usize = 100_000;
/// Bytes in an encoded version-1 header.
pub const HEADER_LEN_V1: usize = 1 + 8 + 32 + 8 + 2 + 4 + 32 + 8 + 32 + 32;
/// Bytes in an encoded version-2 header, the largest.
pub const HEADER_LEN: usize = HEADER_LEN_V1 + 32;

/// A block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BlockHeader {
    /// Height, from 1.
    pub height: Height,
    /// Hash of the previous block (the genesis hash for block 1).
    pub parent: BlockHash,
    /// Proposer's time, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Index of the proposer in the validator set; it receives the fees.
    pub proposer: u16,
    /// Number of transactions.
    pub tx_count: u32,
    /// RFC 9162 root of the transaction ids.
    pub tx_root: LogRoot,
    /// Submission log size after this block.
    pub log_size: u64,
    /// Submission log root after this block.
    pub log_root: LogRoot,
    /// State root after this block.
    pub state_root: StateRoot,
    /// Version 2: the hash of the parent's certificate, which the block
    /// carries (all zero for block 1, which carries none). `None` for a
    /// version-1 header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_certificate: Option<CertificateHash>,
}

impl BlockHeader {
    /// The header's format version: 2 when it commits to the parent's
    /// certificate, else 1.
    #[must_use]
    pub const fn version(&self) -> u8 {
        if self.last_certificate.is_some() {
            HEADER_VERSION_2
        } else {
            BLOCK_VERSION
        }
    }

    /// The block hash.
    #[must_use]
    pub fn hash(&self) -> BlockHash {
        BlockHash::new(Hash256::tagged(Domain::BlockHeader, &self.to_bytes()))
    }
}

impl Encode for BlockHeader {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.version());
        self.height.encode(out);
        self.parent.encode(out);
        self.time_ms.encode(out);
        out.extend_from_slice(&self.proposer.to_be_bytes());
        out.extend_from_slice(&self.tx_count.to_be_bytes());
        self.tx_root.encode(out);
        self.log_size.encode(out);
        self.log_root.encode(out);
        self.state_root.encode(out);
        if let Some(c) = &self.last_certificate {
            c.encode(out);
        }
    }
}

impl Decode for BlockHeader {
    const MAX_SIZE: usize = HEADER_LEN;
    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        let version = r.u8()?;
        if version != BLOCK_VERSION && version != HEADER_VERSION_2 {
            return Err(CodecError::UnsupportedVersion {
                what: "block header",
                version,
            });
        }
        Ok(Self {
            height: Height::decode(r)?,
            parent: BlockHash::decode(r)?,
            time_ms: r.u64()?,
            proposer: r.u16()?,
            tx_count: r.u32()?,
            tx_root: LogRoot::decode(r)?,
            log_size: r.u64()?,
            log_root: LogRoot::decode(r)?,
            state_root: StateRoot::decode(r)?,
            last_certificate: (version == HEADER_VERSION_2)
                .then(|| CertificateHash::decode(r))
                .transpose()?,
        })
    }
}

/// A block: header, the parent's certificate (version 2) and transactions.
///
/// ```text
/// Block = BlockHeader || [cert_len:u32 || CommitCertificate] || count:u32
///         || (len:u16 || SignedTx)*
/// ```
///
/// The certificate part is present exactly when the header is version 2;
/// `cert_len` 0 means none (block 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// Version 2 from block 2 on: the canonical certificate of the parent.
    pub last_certificate: Option<CommitCertificate>,
    /// The transactions, in execution order.
    pub txs: Vec<SignedTx>,
}

impl Encode for Block {
    fn encode(&self, out: &mut Vec<u8>) {
        self.header.encode(out);
        if self.header.version() == HEADER_VERSION_2 {
            let cert = self
                .last_certificate
                .as_ref()
                .map(Encode::to_bytes)
                .unwrap_or_default();
            put_count32(out, cert.len());
            out.extend_from_slice(&cert);
        }
        put_count32(out, self.txs.len());
        for tx in &self.txs {
            let len = u16::try_from(tx.as_bytes().len()).expect("transactions are under 64 KiB");
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(tx.as_bytes());
        }
    }
}

impl Decode for Block {
    const MAX_SIZE: usize =
        HEADER_LEN + 4 + CommitCertificate::MAX_SIZE + 4 + MAX_BLOCK_TXS * (2 + MAX_TX_SIZE);
    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        let header = BlockHeader::decode(r)?;
        let last_certificate = if header.version() == HEADER_VERSION_2 {
            match r.count("last_certificate", true, CommitCertificate::MAX_SIZE)? {
                0 => None,
                len => Some(codec::decode_exact::<CommitCertificate>(r.take(len)?)?),
            }
        } else {
            None
        };
        let n = r.count("txs", true, MAX_BLOCK_TXS)?;
        if n != header.tx_count as usize {
            return Err(CodecError::Invalid {
                field: "txs",
                reason: "count differs from the header's tx_count",
            });
        }
        let mut txs = Vec::with_capacity(n.min(r.remaining() / 64));
        for _ in 0..n {
            let len = usize::from(r.u16()?);
            let bytes = r.take(len)?;
            txs.push(codec::decode_exact::<SignedTx>(bytes)?);
        }
        Ok(Self {
            header,
            last_certificate,
            txs,
        })
    }
}

/// The two kinds of vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoteType {
    /// First round of voting.
    Prevote,
    /// Second round; 2f+1 precommits finalize a block.
    Precommit,
}

/// A consensus vote, as signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoteMessage {
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// The network.
    pub genesis: GenesisHash,
    /// Height voted on.
    pub height: Height,
    /// Consensus round.
    pub round: u32,
    /// The block voted for, or nil.
    pub block: Option<BlockHash>,
}

impl Encode for VoteMessage {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(BLOCK_VERSION);
        out.push(match self.vote_type {
            VoteType::Prevote => 1,
            VoteType::Precommit => 2,
        });
        self.genesis.encode(out);
        self.height.encode(out);
        out.extend_from_slice(&self.round.to_be_bytes());
        match &self.block {
            None => out.push(0),
            Some(h) => {
                out.push(1);
                h.encode(out);
            }
        }
    }
}

impl Decode for VoteMessage {
    const MAX_SIZE: usize = 1 + 1 + 32 + 8 + 4 + 1 + 32;
    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        r.version("vote", BLOCK_VERSION)?;
        let vote_type = match r.u8()? {
            1 => VoteType::Prevote,
            2 => VoteType::Precommit,
            tag => {
                return Err(CodecError::InvalidTag {
                    field: "vote_type",
                    tag,
                });
            }
        };
        Ok(Self {
            vote_type,
            genesis: GenesisHash::decode(r)?,
            height: Height::decode(r)?,
            round: r.u32()?,
            block: if r.option_tag("value")? {
                Some(BlockHash::decode(r)?)
            } else {
                None
            },
        })
    }
}

/// A consensus proposal, as signed by its proposer (context
/// `pantheon/v1/proposal`):
///
/// ```text
/// ProposalMessage = version:u8 (=1) || genesis_hash:[32] || height:u64 || round:u32
///                   || pol_round:u8 (0 none, 1 some) || [pol_round:u32] || block_hash:[32]
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProposalMessage {
    /// The network.
    pub genesis: GenesisHash,
    /// Height proposed for.
    pub height: Height,
    /// Consensus round.
    pub round: u32,
    /// The round of the proof of lock this proposal re-proposes, if any.
    pub pol_round: Option<u32>,
    /// The proposed block.
    pub block: BlockHash,
}

impl Encode for ProposalMessage {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(BLOCK_VERSION);
        self.genesis.encode(out);
        self.height.encode(out);
        out.extend_from_slice(&self.round.to_be_bytes());
        match self.pol_round {
            None => out.push(0),
            Some(r) => {
                out.push(1);
                out.extend_from_slice(&r.to_be_bytes());
            }
        }
        self.block.encode(out);
    }
}

impl Decode for ProposalMessage {
    const MAX_SIZE: usize = 1 + 32 + 8 + 4 + 1 + 4 + 32;
    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        r.version("proposal", BLOCK_VERSION)?;
        Ok(Self {
            genesis: GenesisHash::decode(r)?,
            height: Height::decode(r)?,
            round: r.u32()?,
            pol_round: if r.option_tag("pol_round")? {
                Some(r.u32()?)
            } else {
                None
            },
            block: BlockHash::decode(r)?,
        })
    }
}

/// One validator's precommit signature in a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSignature {
    /// Index of the validator in the set.
    pub validator: u16,
    /// Its precommit signature.
    pub signature: Signature,
}

/// Why a commit certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// The certificate is for another block or height.
    #[error("certificate is for block {cert} at height {cert_height}, not {block} at {height}")]
    WrongBlock {
        /// Block in the certificate.
        cert: BlockHash,
        /// Height in the certificate.
        cert_height: Height,
        /// Expected block.
        block: BlockHash,
        /// Expected height.
        height: Height,
    },
    /// Validator indexes are not strictly increasing or out of range.
    #[error("signer index {0} is out of range or not strictly increasing")]
    BadSigner(u16),
    /// A signature does not verify.
    #[error("signature of validator {0} does not verify")]
    BadSignature(u16),
    /// The signers hold too little power.
    #[error("signers hold {power} of {total} voting power; more than two thirds is needed")]
    NoQuorum {
        /// Power of valid signers.
        power: u64,
        /// Total power.
        total: u64,
    },
}

/// 2f+1 precommit signatures over one block: proof that it is final.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitCertificate {
    /// Height of the block.
    pub height: Height,
    /// Round in which it was committed.
    pub round: u32,
    /// The block.
    pub block_hash: BlockHash,
    /// Signatures, strictly increasing by validator index.
    pub signatures: Vec<CommitSignature>,
}

impl CommitCertificate {
    /// The precommit message every signature covers.
    #[must_use]
    pub fn vote_message(&self, genesis: GenesisHash) -> VoteMessage {
        VoteMessage {
            vote_type: VoteType::Precommit,
            genesis,
            height: self.height,
            round: self.round,
            block: Some(self.block_hash),
        }
    }

    /// The canonical quorum of this certificate: its signatures in
    /// validator order, up to the first prefix holding more than two
    /// thirds of `validators`' power (all of them if none does). Still a
    /// valid certificate if this one is, and the same on every node that
    /// holds those signatures, however many late precommits each has seen:
    /// what proof bundles carry (FORMATS 22).
    #[must_use]
    pub fn quorum(&self, validators: &ValidatorSet) -> Self {
        let mut power = 0u64;
        let mut keep = self.signatures.len();
        for (i, s) in self.signatures.iter().enumerate() {
            power = power.saturating_add(validators.get(s.validator).map_or(0, |v| v.power));
            if validators.is_quorum(power) {
                keep = i + 1;
                break;
            }
        }
        Self {
            signatures: self.signatures[..keep].to_vec(),
            ..self.clone()
        }
    }

    /// The tagged hash of the encoding (what a version-2 header commits
    /// to as its `last_certificate`).
    #[must_use]
    pub fn hash(&self) -> CertificateHash {
        CertificateHash::new(Hash256::tagged(Domain::Certificate, &self.to_bytes()))
    }

    /// Whether this is its own canonical quorum ([`Self::quorum`]): no
    /// signature beyond the first prefix that holds a quorum.
    #[must_use]
    pub fn is_canonical(&self, validators: &ValidatorSet) -> bool {
        self.quorum(validators).signatures.len() == self.signatures.len()
    }

    /// Checks the certificate finalizes `header` on the network `genesis`
    /// with validator set `validators`.
    ///
    /// # Errors
    /// [`CertificateError`] naming the first problem.
    pub fn verify(
        &self,
        genesis: GenesisHash,
        validators: &ValidatorSet,
        header: &BlockHeader,
        keys: &KeyCache,
    ) -> Result<(), CertificateError> {
        self.verify_block(genesis, validators, header.height, header.hash(), keys)
    }

    /// Checks the certificate finalizes block `block` at `height`.
    ///
    /// # Errors
    /// [`CertificateError`] naming the first problem.
    pub fn verify_block(
        &self,
        genesis: GenesisHash,
        validators: &ValidatorSet,
        height: Height,
        block: BlockHash,
        keys: &KeyCache,
    ) -> Result<(), CertificateError> {
        if self.block_hash != block || self.height != height {
            return Err(CertificateError::WrongBlock {
                cert: self.block_hash,
                cert_height: self.height,
                block,
                height,
            });
        }
        let message = self.vote_message(genesis).to_bytes();
        let mut power = 0u64;
        let mut last: Option<u16> = None;
        for s in &self.signatures {
            if last.is_some_and(|l| l >= s.validator) {
                return Err(CertificateError::BadSigner(s.validator));
            }
            last = Some(s.validator);
            let v = validators
                .get(s.validator)
                .ok_or(CertificateError::BadSigner(s.validator))?;
            if !keys
                .get(&v.public_key)
                .verify(SignContext::Vote, &message, &s.signature)
            {
                return Err(CertificateError::BadSignature(s.validator));
            }
            power = power.saturating_add(v.power);
        }
        if !validators.is_quorum(power) {
            return Err(CertificateError::NoQuorum {
                power,
                total: validators.total_power(),
            });
        }
        Ok(())
    }
}

impl Encode for CommitCertificate {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(BLOCK_VERSION);
        self.height.encode(out);
        out.extend_from_slice(&self.round.to_be_bytes());
        self.block_hash.encode(out);
        put_count16(out, self.signatures.len());
        for s in &self.signatures {
            out.extend_from_slice(&s.validator.to_be_bytes());
            s.signature.encode(out);
        }
    }
}

impl Decode for CommitCertificate {
    const MAX_SIZE: usize = 1 + 8 + 4 + 32 + 2 + MAX_VALIDATORS * (2 + SIGNATURE_LEN);
    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        r.version("commit certificate", BLOCK_VERSION)?;
        let height = Height::decode(r)?;
        let round = r.u32()?;
        let block_hash = BlockHash::decode(r)?;
        let n = r.count("signatures", false, MAX_VALIDATORS)?;
        let mut signatures = Vec::with_capacity(n);
        for _ in 0..n {
            signatures.push(CommitSignature {
                validator: r.u16()?,
                signature: Signature::decode(r)?,
            });
        }
        Ok(Self {
            height,
            round,
            block_hash,
            signatures,
        })
    }
}
