//! ML-DSA-65 signing and verification of consensus messages, and the
//! conversion of Malachite commit certificates to Pantheon's.
//!
//! Signed bytes:
//!
//! ```text
//! vote      : block::VoteMessage (context "pantheon/v1/vote")
//!             = version:u8 (=1) || vote_type:u8 (1 prevote, 2 precommit) || genesis_hash:[32]
//!               || height:u64 || round:u32 || value:u8 (0 nil, 1 block) || [block_hash:[32]]
//! proposal  : ProposalMessage (context "pantheon/v1/proposal")
//!             = version:u8 (=1) || genesis_hash:[32] || height:u64 || round:u32
//!               || pol_round:u8 (0 nil, 1 some) || [pol_round:u32] || block_hash:[32]
//! peer proof: Malachite's ValidatorProof preimage
//!             "PoV" || len:u32 || public_key || len:u32 || libp2p peer id
//!             (context "pantheon/v1/validator-proof")
//! ```
//!
//! A precommit signature is therefore exactly a `CommitSignature` of
//! `pantheon_runtime::block::CommitCertificate`: the certificate Malachite
//! hands over on `Decided` converts by re-labelling ([`to_runtime_certificate`]).

use std::sync::Arc;

use async_trait::async_trait;
use malachitebft_app_channel::app::types::core::{
    CommitCertificate as MCommitCertificate, ExtendedCommitCertificate, ExtendedCommitSignature,
    NilOrVal, Round, SignedMessage, ValidatorProof, VoteExtensionScope, VoteType as MVoteType,
};
use malachitebft_app_channel::{Signer, Verifier};
use malachitebft_signing::{Error as SigningError, VerificationResult};
use pantheon_runtime::block::{
    CommitCertificate, CommitSignature, ProposalMessage, VoteMessage, VoteType,
};
use pantheon_runtime::codec::Encode;
use pantheon_runtime::crypto::{KeyCache, Keypair, PublicKey, SignContext};
use pantheon_runtime::hash::{BlockHash, GenesisHash};

use crate::consensus::context::{
    ConsensusHeight, PantheonContext, Proposal, Sig, ValidatorIndex, Vote,
};

/// A consensus message that cannot be signed (an undefined round).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Votes and proposals are always for a defined round.
    #[error("round is nil")]
    NilRound,
    /// Vote extensions are disabled.
    #[error("vote extensions are disabled")]
    Extensions,
}

/// The runtime's vote message for a Malachite vote.
///
/// # Errors
/// [`MessageError::NilRound`].
pub fn vote_message(genesis: GenesisHash, vote: &Vote) -> Result<VoteMessage, MessageError> {
    Ok(VoteMessage {
        vote_type: match vote.vote_type {
            MVoteType::Prevote => VoteType::Prevote,
            MVoteType::Precommit => VoteType::Precommit,
        },
        genesis,
        height: vote.height.0,
        round: vote.round.as_u32().ok_or(MessageError::NilRound)?,
        block: match vote.value {
            NilOrVal::Nil => None,
            NilOrVal::Val(h) => Some(h),
        },
    })
}

/// The bytes a proposer signs (see the module docs).
///
/// # Errors
/// [`MessageError::NilRound`] if `round` is nil.
pub fn proposal_message(
    genesis: GenesisHash,
    height: ConsensusHeight,
    round: Round,
    pol_round: Round,
    block: BlockHash,
) -> Result<Vec<u8>, MessageError> {
    let round = round.as_u32().ok_or(MessageError::NilRound)?;
    Ok(ProposalMessage {
        genesis,
        height: height.0,
        round,
        pol_round: pol_round.as_u32(),
        block,
    }
    .to_bytes())
}

/// Signs with this validator's key.
pub struct PantheonSigner {
    keypair: Arc<Keypair>,
    genesis: GenesisHash,
}

impl PantheonSigner {
    /// A signer for network `genesis`.
    #[must_use]
    pub fn new(keypair: Arc<Keypair>, genesis: GenesisHash) -> Self {
        Self { keypair, genesis }
    }

    /// Signs a proposal message (also used for the `Init` proposal part).
    ///
    /// # Errors
    /// [`MessageError::NilRound`].
    pub fn sign_proposal_message(
        &self,
        height: ConsensusHeight,
        round: Round,
        pol_round: Round,
        block: BlockHash,
    ) -> Result<Sig, MessageError> {
        let msg = proposal_message(self.genesis, height, round, pol_round, block)?;
        Ok(Sig(self.keypair.sign(SignContext::Proposal, &msg)))
    }
}

fn signing_error(e: MessageError) -> SigningError {
    SigningError::from_source(Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
}

#[async_trait]
impl Signer<PantheonContext> for PantheonSigner {
    async fn sign_vote(
        &self,
        vote: Vote,
    ) -> Result<SignedMessage<PantheonContext, Vote>, SigningError> {
        let msg = vote_message(self.genesis, &vote).map_err(signing_error)?;
        let sig = self.keypair.sign(SignContext::Vote, &msg.to_bytes());
        Ok(SignedMessage::new(vote, Sig(sig)))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<PantheonContext, Proposal>, SigningError> {
        let sig = self
            .sign_proposal_message(
                proposal.height,
                proposal.round,
                proposal.pol_round,
                proposal.value.hash(),
            )
            .map_err(signing_error)?;
        Ok(SignedMessage::new(proposal, sig))
    }

    async fn sign_vote_extension(
        &self,
        _scope: VoteExtensionScope<PantheonContext>,
        _extension: (),
    ) -> Result<SignedMessage<PantheonContext, ()>, SigningError> {
        Err(signing_error(MessageError::Extensions))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<PantheonContext>, SigningError> {
        let preimage = ValidatorProof::<PantheonContext>::signing_bytes(&public_key, &peer_id);
        let sig = self.keypair.sign(SignContext::ValidatorProof, &preimage);
        Ok(ValidatorProof::new(public_key, peer_id, Sig(sig)))
    }
}

/// Verifies consensus signatures, caching decoded keys.
#[derive(Clone)]
pub struct PantheonVerifier {
    genesis: GenesisHash,
    keys: Arc<KeyCache>,
}

impl PantheonVerifier {
    /// A verifier for network `genesis`.
    #[must_use]
    pub fn new(genesis: GenesisHash, keys: Arc<KeyCache>) -> Self {
        Self { genesis, keys }
    }

    /// Checks a proposal signature (consensus `Proposal` or `Init` part).
    #[must_use]
    pub fn proposal_ok(
        &self,
        height: ConsensusHeight,
        round: Round,
        pol_round: Round,
        block: BlockHash,
        signature: &Sig,
        key: &PublicKey,
    ) -> bool {
        proposal_message(self.genesis, height, round, pol_round, block).is_ok_and(|msg| {
            self.keys
                .get(key)
                .verify(SignContext::Proposal, &msg, &signature.0)
        })
    }
}

#[async_trait]
impl Verifier<PantheonContext> for PantheonVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Sig,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        let Ok(msg) = vote_message(self.genesis, vote) else {
            return Ok(VerificationResult::Invalid);
        };
        let ok = self
            .keys
            .get(public_key)
            .verify(SignContext::Vote, &msg.to_bytes(), &signature.0);
        Ok(VerificationResult::from_bool(ok))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Sig,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(VerificationResult::from_bool(self.proposal_ok(
            proposal.height,
            proposal.round,
            proposal.pol_round,
            proposal.value.hash(),
            signature,
            public_key,
        )))
    }

    async fn verify_signed_vote_extension(
        &self,
        _scope: &VoteExtensionScope<PantheonContext>,
        _extension: &(),
        _signature: &Sig,
        _public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(VerificationResult::Invalid)
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<PantheonContext>,
    ) -> Result<VerificationResult, SigningError> {
        let Some(key) = PublicKey::from_slice(&proof.public_key) else {
            return Ok(VerificationResult::Invalid);
        };
        let ok = self.keys.get(&key).verify(
            SignContext::ValidatorProof,
            &proof.preimage(),
            &proof.signature.0,
        );
        Ok(VerificationResult::from_bool(ok))
    }
}

/// Converts Malachite's certificate (precommits of 2f+1, by validator index)
/// into the runtime's, sorted by index as `CommitCertificate::verify` requires.
///
/// # Errors
/// [`MessageError::NilRound`].
pub fn to_runtime_certificate(
    cert: &MCommitCertificate<PantheonContext>,
) -> Result<CommitCertificate, MessageError> {
    let mut signatures: Vec<CommitSignature> = cert
        .commit_signatures
        .iter()
        .map(|s| CommitSignature {
            validator: s.address.0,
            signature: s.signature.0.clone(),
        })
        .collect();
    signatures.sort_by_key(|s| s.validator);
    signatures.dedup_by_key(|s| s.validator);
    Ok(CommitCertificate {
        height: cert.height.0,
        round: cert.round.as_u32().ok_or(MessageError::NilRound)?,
        block_hash: cert.value_id,
        signatures,
    })
}

/// The runtime's certificate as Malachite's sync wire wants it.
#[must_use]
pub fn to_malachite_certificate(
    cert: &CommitCertificate,
) -> ExtendedCommitCertificate<PantheonContext> {
    ExtendedCommitCertificate {
        height: ConsensusHeight(cert.height),
        round: Round::new(cert.round),
        value_id: cert.block_hash,
        commit_signatures: cert
            .signatures
            .iter()
            .map(|s| {
                ExtendedCommitSignature::new(
                    ValidatorIndex(s.validator),
                    Sig(s.signature.clone()),
                    None,
                )
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use malachitebft_app_channel::app::types::core::{CommitCertificate as MCert, Context};
    use pantheon_runtime::amount::Height;
    use pantheon_runtime::block::BlockHeader;
    use pantheon_runtime::genesis::{Validator, ValidatorSet};
    use pantheon_runtime::hash::{Hash256, LogRoot, StateRoot};

    #[tokio::test]
    async fn malachite_precommits_make_a_runtime_certificate() {
        let genesis = GenesisHash::new(Hash256::digest(b"net"));
        let keys: Vec<Arc<Keypair>> = (1..=4u8)
            .map(|i| Arc::new(Keypair::from_seed(&[i; 32])))
            .collect();
        let set = ValidatorSet::new(
            keys.iter()
                .map(|k| Validator {
                    public_key: k.public().clone(),
                    power: 1,
                })
                .collect(),
        )
        .unwrap();
        let header = BlockHeader {
            height: Height::new(3),
            parent: BlockHash::default(),
            time_ms: 5,
            proposer: 1,
            tx_count: 0,
            tx_root: LogRoot::default(),
            log_size: 0,
            log_root: LogRoot::default(),
            state_root: StateRoot::default(),
            last_certificate: None,
        };
        let ctx = PantheonContext::new(genesis);
        let cache = Arc::new(KeyCache::default());
        let verifier = PantheonVerifier::new(genesis, cache.clone());
        // Validators 3, 0, 2 precommit (out of order, as Malachite may list them).
        let mut votes = Vec::new();
        for i in [3u16, 0, 2] {
            let vote = ctx.new_precommit(
                ConsensusHeight(header.height),
                Round::new(2),
                NilOrVal::Val(header.hash()),
                ValidatorIndex(i),
            );
            let signed = PantheonSigner::new(keys[usize::from(i)].clone(), genesis)
                .sign_vote(vote)
                .await
                .unwrap();
            let ok = verifier
                .verify_signed_vote(
                    &signed.message,
                    &signed.signature,
                    keys[usize::from(i)].public(),
                )
                .await
                .unwrap();
            assert!(ok.is_valid());
            votes.push(signed);
        }
        let cert = MCert::new(
            ConsensusHeight(header.height),
            Round::new(2),
            header.hash(),
            votes,
        );
        let rc = to_runtime_certificate(&cert).unwrap();
        assert_eq!(
            rc.signatures
                .iter()
                .map(|s| s.validator)
                .collect::<Vec<_>>(),
            vec![0, 2, 3]
        );
        rc.verify(genesis, &set, &header, &cache).unwrap();
        // Two signatures are not a quorum of four.
        let mut short = rc.clone();
        short.signatures.pop();
        assert!(short.verify(genesis, &set, &header, &cache).is_err());
        // And back to Malachite's sync form.
        assert_eq!(to_malachite_certificate(&rc).commit_signatures.len(), 3);
    }
}
