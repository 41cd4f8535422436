//! Shared fixtures: a small network with one validator and funded users.
#![allow(dead_code, clippy::unwrap_used, reason = "test fixtures")]

use pantheon_runtime::amount::{Amount, SUPPLY};
use pantheon_runtime::crypto::{AccountId, KeyCache, Keypair};
use pantheon_runtime::genesis::{Allocation, Genesis, Params, Validator, ValidatorSet};
use pantheon_runtime::hash::{AuditRoot, GenesisHash, Hash256, SubmissionId};
use pantheon_runtime::ledger::Ledger;
use pantheon_runtime::tx::{Metadata, RegisterOperator, SignedTx, SubmitRoot, Transfer, TxBody};

pub struct Net {
    pub genesis: Genesis,
    pub validator: Keypair,
    pub users: Vec<Keypair>,
    pub keys: KeyCache,
}

pub fn pan(n: u64) -> Amount {
    Amount::from_pan(n).unwrap()
}

/// One validator; `funded` users with 1,000 PAN each; the rest of the supply
/// to a reserve account; `unfunded` further users with nothing.
pub fn net(funded: usize, unfunded: usize) -> Net {
    let validator = Keypair::from_seed(&[0xaa; 32]);
    let users: Vec<Keypair> = (0..funded + unfunded)
        .map(|i| Keypair::from_seed(&[u8::try_from(i + 1).unwrap(); 32]))
        .collect();
    let reserve = AccountId::from_bytes([0xee; 32]);
    let each = pan(1_000);
    let mut allocations: Vec<Allocation> = users[..funded]
        .iter()
        .map(|u| Allocation {
            account: u.id(),
            amount: each,
        })
        .collect();
    let rest = SUPPLY.units() - each.units() * funded as u64;
    allocations.push(Allocation {
        account: reserve,
        amount: Amount::from_units(rest),
    });
    allocations.sort_by_key(|a| a.account);
    let validators = ValidatorSet::new(vec![Validator {
        public_key: validator.public().clone(),
        power: 1,
    }])
    .unwrap();
    let genesis = Genesis::new(
        "pantheon-test".into(),
        1_700_000_000_000,
        Params::default(),
        validators,
        allocations,
    )
    .unwrap();
    Net {
        genesis,
        validator,
        users,
        keys: KeyCache::default(),
    }
}

impl Net {
    /// The same network with four validators of equal power (key seeds
    /// `seed..seed + 4`) instead of one; they are returned.
    pub fn with_four_validators(&mut self, seed: u8) -> Vec<Keypair> {
        let vals: Vec<Keypair> = (0..4u8)
            .map(|i| Keypair::from_seed(&[seed + i; 32]))
            .collect();
        let set = ValidatorSet::new(
            vals.iter()
                .map(|k| Validator {
                    public_key: k.public().clone(),
                    power: 1,
                })
                .collect(),
        )
        .unwrap();
        self.genesis = Genesis::new(
            "pantheon-test".into(),
            1_700_000_000_000,
            Params::default(),
            set,
            self.genesis.allocations().to_vec(),
        )
        .unwrap();
        vals
    }

    pub fn hash(&self) -> GenesisHash {
        self.genesis.hash()
    }

    pub fn register(&self, user: &Keypair, nonce: u64) -> SignedTx {
        TxBody::RegisterOperator(RegisterOperator {
            key: user.public().clone(),
            nonce,
        })
        .sign(&self.hash(), user)
    }

    pub fn transfer(&self, from: &Keypair, nonce: u64, to: AccountId, amount: Amount) -> SignedTx {
        TxBody::Transfer(Transfer {
            from_key: from.public().clone(),
            nonce,
            to,
            amount,
        })
        .sign(&self.hash(), from)
    }

    pub fn submit_as(
        &self,
        signer: &Keypair,
        operator: AccountId,
        seq: u64,
        prev: SubmissionId,
        root: &[u8],
    ) -> SignedTx {
        TxBody::SubmitRoot(SubmitRoot {
            operator,
            seq,
            prev,
            root: AuditRoot::new(Hash256::digest(root)),
            metadata: Metadata::new("test", Some(1)).unwrap(),
        })
        .sign(&self.hash(), signer)
    }

    pub fn submit(&self, op: &Keypair, seq: u64, prev: SubmissionId, root: &[u8]) -> SignedTx {
        self.submit_as(op, op.id(), seq, prev, root)
    }

    /// Proposes and commits a block; returns the execution's rejections.
    pub fn block(
        &self,
        ledger: &mut Ledger,
        txs: Vec<SignedTx>,
    ) -> Vec<(
        pantheon_runtime::hash::TxId,
        pantheon_runtime::ledger::TxError,
    )> {
        let time = 1_700_000_000_000 + ledger.height().get() * 1000;
        let (block, exec) = ledger.propose(0, time, txs, None, &self.keys).unwrap();
        let rejected = exec.rejected.clone();
        ledger.commit(&block.header, exec).unwrap();
        rejected
    }

    /// A commit certificate of `header` signed by `signers` (validator i is
    /// `signers[i]`), precommits of round 0.
    pub fn certify(
        &self,
        header: &pantheon_runtime::block::BlockHeader,
        signers: &[&Keypair],
    ) -> pantheon_runtime::block::CommitCertificate {
        use pantheon_runtime::block::{CommitCertificate, CommitSignature, VoteMessage, VoteType};
        use pantheon_runtime::codec::Encode;
        let vote = VoteMessage {
            vote_type: VoteType::Precommit,
            genesis: self.hash(),
            height: header.height,
            round: 0,
            block: Some(header.hash()),
        };
        CommitCertificate {
            height: header.height,
            round: 0,
            block_hash: header.hash(),
            signatures: signers
                .iter()
                .enumerate()
                .map(|(i, k)| CommitSignature {
                    validator: u16::try_from(i).unwrap(),
                    signature: k.sign(
                        pantheon_runtime::crypto::SignContext::Vote,
                        &vote.to_bytes(),
                    ),
                })
                .collect(),
        }
    }
}
