//! State records and their place in the state tree.
//!
//! The state is one record per key id (account and operator share the id),
//! plus two singletons:
//!
//! ```text
//! state key                                                  value
//! SHA-256("pantheon/v1/state-key" || 0x00 || 0x01 || id)     Account
//! SHA-256("pantheon/v1/state-key" || 0x00 || 0x02)           Params
//! SHA-256("pantheon/v1/state-key" || 0x00 || 0x03)           ValidatorSet
//! value hash = SHA-256("pantheon/v1/state-value" || 0x00 || value)
//!
//! Account = version:u8 (=1) || balance:u64 || nonce:u64 || has_operator:u8
//!           || [next_seq:u64 || has_last:u8 || [id:[32] || root:[32] || height:u64]]
//! ```
//!
//! An operator's public key is not part of its record: the operator id is
//! the hash of the key, so the key is authenticated by the id wherever it is
//! stored.

use serde::{Deserialize, Serialize};

use crate::amount::{Amount, Height};
use crate::codec::{self, Decode, Encode, Reader};
use crate::crypto::AccountId;
use crate::hash::{AuditRoot, Domain, Hash256, SubmissionId};

/// The account record format version.
pub const ACCOUNT_VERSION: u8 = 1;

/// The latest accepted submission of an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LastSubmission {
    /// Its id (the `prev` of the next submission).
    pub id: SubmissionId,
    /// Its audit root.
    pub root: AuditRoot,
    /// The block that holds it.
    pub height: Height,
}

/// The chain state of a registered operator.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct OperatorState {
    /// The sequence number its next submission must carry.
    pub next_seq: u64,
    /// Its latest submission.
    pub last: Option<LastSubmission>,
}

/// The record of one key id: its PAN and, if registered, its operator chain.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Account {
    /// Balance.
    pub balance: Amount,
    /// The nonce its next transfer or registration must carry.
    pub nonce: u64,
    /// Set once the key is registered as an operator.
    pub operator: Option<OperatorState>,
}

impl Encode for Account {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(ACCOUNT_VERSION);
        self.balance.encode(out);
        self.nonce.encode(out);
        match &self.operator {
            None => out.push(0),
            Some(op) => {
                out.push(1);
                op.next_seq.encode(out);
                match &op.last {
                    None => out.push(0),
                    Some(last) => {
                        out.push(1);
                        last.id.encode(out);
                        last.root.encode(out);
                        last.height.encode(out);
                    }
                }
            }
        }
    }
}

impl Decode for Account {
    const MAX_SIZE: usize = 1 + 8 + 8 + 1 + 8 + 1 + 32 + 32 + 8;
    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        r.version("account", ACCOUNT_VERSION)?;
        let balance = Amount::decode(r)?;
        let nonce = r.u64()?;
        let operator = if r.option_tag("operator")? {
            let next_seq = r.u64()?;
            let last = if r.option_tag("last")? {
                Some(LastSubmission {
                    id: SubmissionId::decode(r)?,
                    root: AuditRoot::decode(r)?,
                    height: Height::decode(r)?,
                })
            } else {
                None
            };
            Some(OperatorState { next_seq, last })
        } else {
            None
        };
        Ok(Self {
            balance,
            nonce,
            operator,
        })
    }
}

/// A key of the state tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKey {
    /// The record of a key id.
    Account(AccountId),
    /// The fee schedule and limits.
    Params,
    /// The validator set.
    Validators,
}

impl StateKey {
    /// The 256-bit tree key.
    #[must_use]
    pub fn tree_key(&self) -> Hash256 {
        match self {
            Self::Account(id) => {
                let mut b = [0u8; 33];
                b[0] = 0x01;
                b[1..].copy_from_slice(id.as_bytes());
                Hash256::tagged(Domain::StateKey, &b)
            }
            Self::Params => Hash256::tagged(Domain::StateKey, &[0x02]),
            Self::Validators => Hash256::tagged(Domain::StateKey, &[0x03]),
        }
    }
}

/// The tree's hash of an encoded value.
#[must_use]
pub fn value_hash(value: &[u8]) -> Hash256 {
    Hash256::tagged(Domain::StateValue, value)
}
