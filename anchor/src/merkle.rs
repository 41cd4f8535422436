//! Bitcoin's transaction Merkle tree: branches and roots.
//!
//! ```text
//!            root = H(n01 || n22)
//!           /                   \
//!   n01 = H(t0 || t1)     n22 = H(t2 || t2)    <- odd level: the last
//!     /        \            /                     node is paired with itself
//!    t0        t1          t2
//! ```
//!
//! `H` is double SHA-256 and every hash is in internal byte order (as
//! hashed; the reverse of how txids are displayed). A branch lists the
//! siblings from the leaf up; bit `i` of the index says whether the node at
//! level `i` is a right child (1: `H(sibling || node)`) or a left child (0:
//! `H(node || sibling)`).
//!
//! Pairing the last node with itself lets two different transaction lists
//! share a root (CVE-2012-2459: `[t0 t1 t2]` and `[t0 t1 t2 t2]`). A valid
//! block never holds two equal txids, so a right child equal to its left
//! sibling only arises from that duplication; [`root_from_branch`] refuses it.
//! A 64-byte transaction could pass for an inner node; the SPV check refuses
//! those ([`crate::spv`]).

use bitcoin::hashes::{Hash, sha256d};

/// The deepest branch accepted: 2^32 transactions.
pub const MAX_DEPTH: usize = 32;

/// Branch errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// More levels than any block can have.
    #[error("Merkle branch has {0} levels, more than {MAX_DEPTH}")]
    TooDeep(usize),
    /// The index has bits above the branch's depth.
    #[error("transaction index {index} does not fit a branch of {depth} levels")]
    IndexOutOfRange {
        /// The index.
        index: u32,
        /// The branch length.
        depth: usize,
    },
    /// A right child equals its left sibling (CVE-2012-2459 duplication).
    #[error("Merkle branch level {level}: right child equals its sibling (duplicated node)")]
    DuplicatedRightChild {
        /// The level, 0 at the leaves.
        level: usize,
    },
    /// The index is not in the list of txids.
    #[error("index {index} is outside a block of {count} transactions")]
    NoSuchLeaf {
        /// The index.
        index: usize,
        /// The number of transactions.
        count: usize,
    },
}

/// Double SHA-256 of `left || right`.
#[must_use]
pub fn parent(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut data = [0u8; 64];
    data[..32].copy_from_slice(left);
    data[32..].copy_from_slice(right);
    sha256d::Hash::hash(&data).to_byte_array()
}

/// The root of `leaves` (Bitcoin's rule; `None` for no leaves).
#[must_use]
pub fn root(leaves: &[[u8; 32]]) -> Option<[u8; 32]> {
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| parent(&pair[0], pair.get(1).unwrap_or(&pair[0])))
            .collect();
    }
    level.first().copied()
}

/// The branch proving `leaves[index]`, siblings from the leaf up.
///
/// # Errors
/// [`MerkleError::NoSuchLeaf`].
pub fn branch(leaves: &[[u8; 32]], index: usize) -> Result<Vec<[u8; 32]>, MerkleError> {
    if index >= leaves.len() {
        return Err(MerkleError::NoSuchLeaf {
            index,
            count: leaves.len(),
        });
    }
    let mut out = Vec::new();
    let mut level = leaves.to_vec();
    let mut i = index;
    while level.len() > 1 {
        let sibling = level.get(i ^ 1).unwrap_or(&level[i]);
        out.push(*sibling);
        level = level
            .chunks(2)
            .map(|pair| parent(&pair[0], pair.get(1).unwrap_or(&pair[0])))
            .collect();
        i /= 2;
    }
    Ok(out)
}

/// The root reached from `leaf` at `index` through `branch`.
///
/// # Errors
/// [`MerkleError`] for a branch deeper than 32, an index with bits beyond
/// the branch, or a duplicated right child.
pub fn root_from_branch(
    leaf: &[u8; 32],
    index: u32,
    branch: &[[u8; 32]],
) -> Result<[u8; 32], MerkleError> {
    if branch.len() > MAX_DEPTH {
        return Err(MerkleError::TooDeep(branch.len()));
    }
    if branch.len() < 32 && u64::from(index) >> branch.len() != 0 {
        return Err(MerkleError::IndexOutOfRange {
            index,
            depth: branch.len(),
        });
    }
    let mut node = *leaf;
    for (level, sibling) in branch.iter().enumerate() {
        if (index >> level) & 1 == 1 {
            if *sibling == node {
                return Err(MerkleError::DuplicatedRightChild { level });
            }
            node = parent(sibling, &node);
        } else {
            node = parent(&node, sibling);
        }
    }
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u8) -> Vec<[u8; 32]> {
        (0..n)
            .map(|i| sha256d::Hash::hash(&[i]).to_byte_array())
            .collect()
    }

    #[test]
    fn every_branch_reaches_the_root() {
        for n in 1..=17u8 {
            let l = leaves(n);
            let r = root(&l).unwrap();
            for (i, leaf) in l.iter().enumerate() {
                let b = branch(&l, i).unwrap();
                let index = u32::try_from(i).unwrap();
                assert_eq!(root_from_branch(leaf, index, &b), Ok(r), "n={n} i={i}");
            }
        }
    }

    #[test]
    fn single_transaction_root_is_the_txid() {
        let l = leaves(1);
        assert_eq!(root(&l), Some(l[0]));
        assert!(branch(&l, 0).unwrap().is_empty());
    }

    #[test]
    fn refuses_the_duplicated_position() {
        // [t0 t1 t2] has the same root as [t0 t1 t2 t2]; t2 "at index 3" is
        // the mutation and must not verify.
        let l = leaves(3);
        let r = root(&l).unwrap();
        let b = branch(&l, 2).unwrap();
        assert_eq!(root_from_branch(&l[2], 2, &b), Ok(r));
        assert_eq!(
            root_from_branch(&l[2], 3, &b),
            Err(MerkleError::DuplicatedRightChild { level: 0 })
        );
    }

    #[test]
    fn refuses_index_beyond_depth() {
        let l = leaves(4);
        let b = branch(&l, 1).unwrap();
        assert!(matches!(
            root_from_branch(&l[1], 1 + 4, &b),
            Err(MerkleError::IndexOutOfRange { .. })
        ));
        assert!(matches!(
            root_from_branch(&l[1], 0, &[[0; 32]; 33]),
            Err(MerkleError::TooDeep(33))
        ));
    }
}
