//! The append-only submission log: an RFC 9162 Merkle tree.
//!
//! Leaves are the full signed bytes of accepted submissions, in the order
//! they were finalized across all blocks. Hashing is exactly RFC 9162 §2.1:
//!
//! ```text
//! MTH({})       = SHA-256()
//! MTH({d0})     = SHA-256(0x00 || d0)                          leaf hash
//! MTH(D[n])     = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))   k = largest power of 2 < n
//! ```
//!
//! The log keeps the hash of every complete, aligned subtree:
//!
//! ```text
//! level 2:  [0..4)
//! level 1:  [0..2) [2..4) [4..6)
//! level 0:   0  1   2  3   4  5  6      <- leaf hashes, 7 leaves
//! ```
//!
//! so the root, an inclusion proof or a consistency proof for any earlier
//! tree size is `O(log n)` hashes away, and an append costs on average two
//! hashes.

use serde::{Deserialize, Serialize};

use crate::hash::Hash256;

/// `SHA-256(0x00 || data)`.
#[must_use]
pub fn leaf_hash(data: &[u8]) -> Hash256 {
    Hash256::digest_parts(&[&[0x00], data])
}

/// `SHA-256(0x01 || left || right)`.
#[must_use]
pub fn node_hash(left: &Hash256, right: &Hash256) -> Hash256 {
    Hash256::digest_parts(&[&[0x01], left.as_bytes(), right.as_bytes()])
}

/// `MTH({}) = SHA-256()`, the root of the empty tree.
#[must_use]
pub fn empty_root() -> Hash256 {
    Hash256::digest(&[])
}

/// The largest power of two strictly below `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The RFC 9162 root of a list of leaf hashes.
#[must_use]
pub fn root_of(leaves: &[Hash256]) -> Hash256 {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = usize::try_from(split_point(n as u64)).expect("k < n fits in usize");
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// Errors of proof generation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// A leaf index at or beyond the tree size.
    #[error("leaf {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A tree size beyond the log's current size, or an older size larger
    /// than the newer one.
    #[error("tree size {size} is not available (log size {log_size})")]
    SizeOutOfRange {
        /// The requested size.
        size: u64,
        /// The log's size.
        log_size: u64,
    },
}

/// An RFC 9162 inclusion proof: the audit path of one leaf in one tree size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Index of the leaf, from 0.
    pub leaf_index: u64,
    /// Size of the tree the proof is for.
    pub tree_size: u64,
    /// Sibling hashes from the leaf upwards.
    pub path: Vec<Hash256>,
}

impl InclusionProof {
    /// RFC 9162 §2.1.3.2: true if `leaf` is at `leaf_index` in the tree of
    /// `tree_size` leaves whose root is `root`.
    #[must_use]
    pub fn verify(&self, leaf: &Hash256, root: &Hash256) -> bool {
        self.root_from(leaf) == Some(*root)
    }

    /// The root that the path leads to from `leaf` (RFC 9162 §2.1.3.2
    /// without the final comparison); `None` when the path does not have
    /// the shape of a proof of `leaf_index` in `tree_size` leaves.
    #[must_use]
    pub fn root_from(&self, leaf: &Hash256) -> Option<Hash256> {
        if self.leaf_index >= self.tree_size {
            return None;
        }
        let mut f = self.leaf_index;
        let mut s = self.tree_size - 1;
        let mut r = *leaf;
        for p in &self.path {
            if s == 0 {
                return None;
            }
            if f & 1 == 1 || f == s {
                r = node_hash(p, &r);
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            } else {
                r = node_hash(&r, p);
            }
            f >>= 1;
            s >>= 1;
        }
        (s == 0).then_some(r)
    }
}

/// An RFC 9162 consistency proof between two tree sizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The older size.
    pub old_size: u64,
    /// The newer size.
    pub new_size: u64,
    /// The proof hashes.
    pub path: Vec<Hash256>,
}

impl ConsistencyProof {
    /// RFC 9162 §2.1.4.2: true if the tree of `old_size` with root
    /// `old_root` is a prefix of the tree of `new_size` with `new_root`.
    #[must_use]
    pub fn verify(&self, old_root: &Hash256, new_root: &Hash256) -> bool {
        let (m, n) = (self.old_size, self.new_size);
        if m > n {
            return false;
        }
        if m == n {
            return self.path.is_empty() && old_root == new_root;
        }
        if m == 0 {
            return self.path.is_empty() && *old_root == empty_root();
        }
        let mut path = self.path.iter();
        let first = if m.is_power_of_two() {
            *old_root
        } else {
            match path.next() {
                Some(h) => *h,
                None => return false,
            }
        };
        let mut f = m - 1;
        let mut s = n - 1;
        while f & 1 == 1 {
            f >>= 1;
            s >>= 1;
        }
        let mut fr = first;
        let mut sr = first;
        for c in path {
            if s == 0 {
                return false;
            }
            if f & 1 == 1 || f == s {
                fr = node_hash(c, &fr);
                sr = node_hash(c, &sr);
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            } else {
                sr = node_hash(&sr, c);
            }
            f >>= 1;
            s >>= 1;
        }
        fr == *old_root && sr == *new_root && s == 0
    }
}

/// The right edge of a log: the roots of its complete subtrees, largest
/// first. Enough to append leaves and compute roots without the whole log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash256>,
}

impl Frontier {
    /// Number of leaves.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash.
    pub fn append(&mut self, leaf: Hash256) {
        let mut hash = leaf;
        let mut size = self.size;
        while size & 1 == 1 {
            let left = self.nodes.pop().expect("one node per set bit of the size");
            hash = node_hash(&left, &hash);
            size >>= 1;
        }
        self.nodes.push(hash);
        self.size += 1;
    }

    /// The RFC 9162 root.
    #[must_use]
    pub fn root(&self) -> Hash256 {
        let mut nodes = self.nodes.iter().rev();
        let Some(last) = nodes.next() else {
            return empty_root();
        };
        nodes.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

/// The submission log's Merkle tree, in memory.
#[derive(Debug, Clone, Default)]
pub struct MerkleLog {
    /// `levels[k][i]` is the hash of leaves `[i * 2^k, (i + 1) * 2^k)`.
    levels: Vec<Vec<Hash256>>,
}

impl MerkleLog {
    /// An empty log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a log from its leaf hashes.
    #[must_use]
    pub fn from_leaf_hashes(leaves: impl IntoIterator<Item = Hash256>) -> Self {
        let mut log = Self::new();
        for leaf in leaves {
            log.append_leaf_hash(leaf);
        }
        log
    }

    /// Number of leaves.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends a leaf given its data; returns its leaf hash.
    pub fn append(&mut self, data: &[u8]) -> Hash256 {
        let h = leaf_hash(data);
        self.append_leaf_hash(h);
        h
    }

    /// Appends a leaf given its leaf hash.
    pub fn append_leaf_hash(&mut self, leaf: Hash256) {
        let mut level = 0;
        let mut hash = leaf;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let nodes = &mut self.levels[level];
            nodes.push(hash);
            if nodes.len() % 2 == 1 {
                return;
            }
            hash = node_hash(&nodes[nodes.len() - 2], &nodes[nodes.len() - 1]);
            level += 1;
        }
    }

    /// The right edge of the current tree.
    #[must_use]
    pub fn frontier(&self) -> Frontier {
        let size = self.size();
        let mut nodes = Vec::new();
        let mut offset = 0u64;
        for level in (0..64).rev() {
            if size >> level & 1 == 1 {
                let index = usize::try_from(offset >> level).expect("log index fits in usize");
                nodes.push(self.levels[level][index]);
                offset += 1 << level;
            }
        }
        Frontier { size, nodes }
    }

    /// The leaf hash at `index`.
    #[must_use]
    pub fn leaf(&self, index: u64) -> Option<Hash256> {
        let i = usize::try_from(index).ok()?;
        self.levels.first()?.get(i).copied()
    }

    /// The root of the current tree.
    #[must_use]
    pub fn root(&self) -> Hash256 {
        self.subtree(0, self.size())
    }

    /// The root of the tree of the first `size` leaves.
    ///
    /// # Errors
    /// [`LogError::SizeOutOfRange`] beyond the current size.
    pub fn root_at(&self, size: u64) -> Result<Hash256, LogError> {
        self.check_size(size)?;
        Ok(self.subtree(0, size))
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves.
    ///
    /// # Errors
    /// [`LogError`] if `size` is beyond the log or `index >= size`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<InclusionProof, LogError> {
        self.check_size(size)?;
        if index >= size {
            return Err(LogError::IndexOutOfRange { index, size });
        }
        let mut path = Vec::new();
        self.path(index, 0, size, &mut path);
        Ok(InclusionProof {
            leaf_index: index,
            tree_size: size,
            path,
        })
    }

    /// The consistency proof from the tree of `old_size` leaves to the tree
    /// of `new_size` leaves.
    ///
    /// # Errors
    /// [`LogError::SizeOutOfRange`] if a size is beyond the log or
    /// `old_size > new_size`.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, LogError> {
        self.check_size(new_size)?;
        if old_size > new_size {
            return Err(LogError::SizeOutOfRange {
                size: old_size,
                log_size: new_size,
            });
        }
        let mut path = Vec::new();
        if old_size > 0 && old_size < new_size {
            self.subproof(old_size, 0, new_size, true, &mut path);
        }
        Ok(ConsistencyProof {
            old_size,
            new_size,
            path,
        })
    }

    fn check_size(&self, size: u64) -> Result<(), LogError> {
        if size > self.size() {
            return Err(LogError::SizeOutOfRange {
                size,
                log_size: self.size(),
            });
        }
        Ok(())
    }

    /// MTH of leaves `[start, start + len)`, where `start` is a multiple of
    /// the largest power of two not above `len` (true of every subtree the
    /// RFC 9162 recursion visits).
    fn subtree(&self, start: u64, len: u64) -> Hash256 {
        if len == 0 {
            return empty_root();
        }
        if len.is_power_of_two() {
            let level = len.trailing_zeros() as usize;
            let index = usize::try_from(start >> level).expect("log index fits in usize");
            return self.levels[level][index];
        }
        let k = split_point(len);
        node_hash(&self.subtree(start, k), &self.subtree(start + k, len - k))
    }

    /// RFC 9162 `PATH(m, D[start:start+n])`.
    fn path(&self, m: u64, start: u64, n: u64, out: &mut Vec<Hash256>) {
        if n <= 1 {
            return;
        }
        let k = split_point(n);
        if m < k {
            self.path(m, start, k, out);
            out.push(self.subtree(start + k, n - k));
        } else {
            self.path(m - k, start + k, n - k, out);
            out.push(self.subtree(start, k));
        }
    }

    /// RFC 9162 `SUBPROOF(m, D[start:start+n], b)`.
    fn subproof(&self, m: u64, start: u64, n: u64, complete: bool, out: &mut Vec<Hash256>) {
        if m == n {
            if !complete {
                out.push(self.subtree(start, n));
            }
            return;
        }
        let k = split_point(n);
        if m <= k {
            self.subproof(m, start, k, complete, out);
            out.push(self.subtree(start + k, n - k));
        } else {
            self.subproof(m - k, start + k, n - k, false, out);
            out.push(self.subtree(start, k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(n: u64) -> (MerkleLog, Vec<Hash256>) {
        let mut log = MerkleLog::new();
        let leaves = (0..n)
            .map(|i| log.append(&i.to_be_bytes()))
            .collect::<Vec<_>>();
        (log, leaves)
    }

    #[test]
    fn roots_match_the_recursive_definition() {
        let (log, leaves) = log_of(70);
        for size in 0..=70 {
            assert_eq!(
                log.root_at(size).unwrap(),
                root_of(&leaves[..usize::try_from(size).unwrap()])
            );
        }
    }

    #[test]
    fn every_inclusion_proof_verifies_and_tampering_fails() {
        let (log, leaves) = log_of(33);
        for size in 1..=33 {
            let root = log.root_at(size).unwrap();
            for index in 0..size {
                let proof = log.inclusion_proof(index, size).unwrap();
                assert!(proof.verify(&leaves[usize::try_from(index).unwrap()], &root));
                let other = leaves[((index + 1) % 33) as usize];
                assert!(!proof.verify(&other, &root) || size == 1 && other == leaves[0]);
                for i in 0..proof.path.len() {
                    let mut bad = proof.clone();
                    bad.path[i] = Hash256::digest(b"x");
                    assert!(!bad.verify(&leaves[usize::try_from(index).unwrap()], &root));
                }
                let mut longer = proof.clone();
                longer.path.push(root);
                assert!(!longer.verify(&leaves[usize::try_from(index).unwrap()], &root));
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_tampering_fails() {
        let (log, _) = log_of(33);
        for new in 0..=33 {
            for old in 0..=new {
                let proof = log.consistency_proof(old, new).unwrap();
                let (r1, r2) = (log.root_at(old).unwrap(), log.root_at(new).unwrap());
                assert!(proof.verify(&r1, &r2), "{old} -> {new}");
                for i in 0..proof.path.len() {
                    let mut bad = proof.clone();
                    bad.path[i] = Hash256::digest(b"x");
                    assert!(!bad.verify(&r1, &r2), "{old} -> {new} at {i}");
                }
                if old < new {
                    assert!(!proof.verify(&Hash256::digest(b"y"), &r2));
                }
            }
        }
    }

    #[test]
    fn frontier_appends_match_the_log() {
        let (log, leaves) = log_of(40);
        for split in 0..=40 {
            let mut f = MerkleLog::from_leaf_hashes(leaves[..split].iter().copied()).frontier();
            assert_eq!(f.root(), log.root_at(split as u64).unwrap());
            for leaf in &leaves[split..] {
                f.append(*leaf);
            }
            assert_eq!((f.size(), f.root()), (40, log.root()));
        }
    }

    #[test]
    fn out_of_range_requests_are_errors() {
        let (log, _) = log_of(4);
        assert_eq!(
            log.inclusion_proof(4, 4),
            Err(LogError::IndexOutOfRange { index: 4, size: 4 })
        );
        assert!(log.inclusion_proof(0, 5).is_err());
        assert!(log.consistency_proof(3, 2).is_err());
        assert!(log.root_at(5).is_err());
    }
}
