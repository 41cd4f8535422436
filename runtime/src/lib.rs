//! Pantheon's runtime: the pure, deterministic core every other crate uses.
//!
//! Pantheon is a public witness for AI audit trails: operators submit the
//! Merkle roots of their audit batches, validators order them into blocks
//! finalized by BFT consensus, and the chain's state is anchored to Bitcoin.
//! This crate holds everything whose bytes or results must be identical on
//! every node and in every independent verifier:
//!
//! | module | what |
//! |---|---|
//! | [`hash`] | SHA-256, domain tags, 32-byte id newtypes |
//! | [`codec`] | the canonical binary encoding and its size-limited decoder |
//! | [`amount`] | PAN amounts (fixed supply of 5,000,000,000 PAN) and heights |
//! | [`anchor`] | the anchor commitment and the plain-bytes Bitcoin part of proofs |
//! | [`crypto`] | ML-DSA-65 keys, context strings, the verifying-key cache |
//! | [`tx`] | signed transactions: register operator, submit root, transfer |
//! | [`state`] | state records and their keys in the state tree |
//! | [`smt`] | the authenticated state tree (sparse Merkle tree) |
//! | [`log`] | the RFC 9162 submission log, inclusion and consistency proofs |
//! | [`block`] | block header, block, votes, commit certificates |
//! | [`genesis`] | validator set, fee schedule, allocations, genesis hash |
//! | [`proof`] | self-contained proof bundles and their offline verification |
//! | [`record`] | operators' audit records: envelope, JCS body, signature, chain, batch tree |
//! | [`record_proof`] | one record's proof: its batch path and the batch's bundle |
//! | [`ots`] | a bundle's or record's hash path as an OpenTimestamps `.ots` file |
//! | [`export`] | an operator's submissions with the state record that proves them complete |
//! | [`audit`] | supply proofs at any height, signed log checkpoints and consistency proofs |
//! | [`ledger`] | block execution: the state machine |
//! | [`vectors`] | the test vectors published in `docs/vectors` |
//!
//! # Invariants
//!
//! - Determinism: no clock, randomness, I/O or hash-map iteration order.
//!   The same genesis and the same blocks give the same state root. Rayon is
//!   used only to verify signatures and hash disjoint subtrees in parallel,
//!   which cannot change a result.
//! - Conservation: the sum of all balances is exactly
//!   [`amount::SUPPLY`] after every block; fees move PAN, nothing mints or burns.
//! - Canonical bytes: every hashed or signed value has exactly one encoding,
//!   specified in `docs/FORMATS.md`; decoders enforce size limits and reject
//!   trailing bytes.
//!
//! # Example
//!
//! ```
//! use pantheon_runtime::{amount::*, crypto::*, genesis::*, hash::*, ledger::*, tx::*};
//!
//! let validator = Keypair::from_seed(&[1; 32]);
//! let operator = Keypair::from_seed(&[2; 32]);
//! let validators = ValidatorSet::new(vec![Validator {
//!     public_key: validator.public().clone(),
//!     power: 1,
//! }])?;
//! let mut allocations = vec![Allocation { account: operator.id(), amount: SUPPLY }];
//! allocations.sort_by_key(|a| a.account);
//! let genesis = Genesis::new("example".into(), 0, Params::default(), validators, allocations)?;
//! let mut ledger = Ledger::from_genesis(&genesis);
//! let keys = KeyCache::default();
//!
//! let register = TxBody::RegisterOperator(RegisterOperator {
//!     key: operator.public().clone(),
//!     nonce: 0,
//! })
//! .sign(&genesis.hash(), &operator);
//! let submit = TxBody::SubmitRoot(SubmitRoot {
//!     operator: operator.id(),
//!     seq: 0,
//!     prev: SubmissionId::default(),
//!     root: AuditRoot::new(Hash256::digest(b"batch 0")),
//!     metadata: Metadata::default(),
//! })
//! .sign(&genesis.hash(), &operator);
//!
//! let (block, exec) = ledger.propose(0, 1_000, vec![register, submit], None, &keys)?;
//! assert!(exec.rejected.is_empty());
//! ledger.commit(&block.header, exec)?;
//! assert_eq!(ledger.log().size(), 1);
//! assert_eq!(ledger.total_balance(), u128::from(SUPPLY.units()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// `deny`, not `forbid`: `crypto::aws_lc` (FFI to AWS-LC) is the one module
// that allows unsafe code.
#![deny(unsafe_code)]

pub mod amount;
pub mod anchor;
pub mod audit;
pub mod block;
pub mod codec;
pub mod crypto;
pub mod export;
pub mod genesis;
pub mod hash;
pub mod ledger;
pub mod log;
pub mod ots;
pub mod proof;
pub mod receipt;
pub mod record;
pub mod record_proof;
pub mod smt;
pub mod state;
pub mod tx;
pub mod vectors;
