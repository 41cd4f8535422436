//! The authenticated state tree: a binary sparse Merkle tree over 256-bit
//! keys, with single-leaf subtrees collapsed into their leaf.
//!
//! ```text
//!                 root = H(0x11 || L || R)
//!                /                        \
//!     H(0x11 || A || B)              leaf(k3, v3)      <- only key under "1…"
//!       /          \
//!  leaf(k1, v1)   leaf(k2, v2)                         <- keys "00…", "01…"
//!
//!  leaf(k, v) = SHA-256(0x10 || k || v)      v = hash of the value
//!  node(L, R) = SHA-256(0x11 || L || R)
//!  empty      = 32 zero bytes
//! ```
//!
//! A leaf sits at the shallowest depth where no other key shares its path,
//! so the tree's shape, and therefore its root, depends only on the set of
//! (key, value) pairs: the same state always has the same root. Key bits
//! are read from the most significant bit of byte 0; bit 0 goes left.
//!
//! Nodes are immutable and shared (`Arc`), so every version of the tree is a
//! cheap snapshot, and a batch update rebuilds only the paths it touches:
//! about `n * (log2(N) - log2(n))` node hashes for `n` updates of `N` keys,
//! computed in parallel on both halves of large batches. See
//! `docs/adr/0002-state-tree.md` for why this is our own code rather than
//! `jmt`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::hash::{Hash256, StateRoot};

/// Batches smaller than this are updated on one thread.
const PARALLEL_THRESHOLD: usize = 256;

/// `SHA-256(0x10 || key || value_hash)`.
#[must_use]
pub fn leaf_hash(key: &Hash256, value_hash: &Hash256) -> Hash256 {
    Hash256::digest_parts(&[&[0x10], key.as_bytes(), value_hash.as_bytes()])
}

/// `SHA-256(0x11 || left || right)`.
#[must_use]
pub fn node_hash(left: &Hash256, right: &Hash256) -> Hash256 {
    Hash256::digest_parts(&[&[0x11], left.as_bytes(), right.as_bytes()])
}

/// Bit `depth` of `key`, counting from the most significant bit of byte 0.
fn bit(key: &Hash256, depth: usize) -> bool {
    key.as_bytes()[depth / 8] >> (7 - depth % 8) & 1 == 1
}

#[derive(Clone, Debug)]
enum Node {
    Empty,
    Leaf(Arc<Leaf>),
    Internal(Arc<Internal>),
}

#[derive(Debug)]
struct Leaf {
    key: Hash256,
    value_hash: Hash256,
    hash: Hash256,
}

#[derive(Debug)]
struct Internal {
    left: Node,
    right: Node,
    hash: Hash256,
}

impl Node {
    fn hash(&self) -> Hash256 {
        match self {
            Self::Empty => Hash256::ZERO,
            Self::Leaf(l) => l.hash,
            Self::Internal(n) => n.hash,
        }
    }

    fn leaf(key: Hash256, value_hash: Hash256) -> Self {
        Self::Leaf(Arc::new(Leaf {
            key,
            value_hash,
            hash: leaf_hash(&key, &value_hash),
        }))
    }

    /// Joins two children, collapsing a lone leaf upwards.
    fn join(left: Self, right: Self) -> Self {
        match (&left, &right) {
            (Self::Empty, Self::Empty) => Self::Empty,
            (Self::Leaf(_), Self::Empty) => left,
            (Self::Empty, Self::Leaf(_)) => right,
            _ => {
                let hash = node_hash(&left.hash(), &right.hash());
                Self::Internal(Arc::new(Internal { left, right, hash }))
            }
        }
    }
}

/// One change: set `key` to a value whose hash is given, or delete it.
pub type Update = (Hash256, Option<Hash256>);

/// A version of the state tree. Cloning is `O(1)` and shares all nodes.
#[derive(Clone, Debug)]
pub struct StateTree {
    root: Node,
    len: usize,
}

impl Default for StateTree {
    fn default() -> Self {
        Self::new()
    }
}

impl StateTree {
    /// The empty tree (root = 32 zero bytes).
    #[must_use]
    pub fn new() -> Self {
        Self {
            root: Node::Empty,
            len: 0,
        }
    }

    /// The root hash.
    #[must_use]
    pub fn root(&self) -> StateRoot {
        StateRoot::new(self.root.hash())
    }

    /// Number of keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no keys.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value hash stored under `key`.
    #[must_use]
    pub fn get(&self, key: &Hash256) -> Option<Hash256> {
        let mut node = &self.root;
        let mut depth = 0;
        loop {
            match node {
                Node::Empty => return None,
                Node::Leaf(l) => return (l.key == *key).then_some(l.value_hash),
                Node::Internal(n) => {
                    node = if bit(key, depth) { &n.right } else { &n.left };
                    depth += 1;
                }
            }
        }
    }

    /// Applies a batch of updates. If a key appears more than once, the last
    /// update wins. Deleting an absent key is a no-op.
    pub fn update(&mut self, mut updates: Vec<Update>) {
        // Stable sort keeps the batch order among equal keys; keep the last.
        updates.sort_by_key(|u| u.0);
        let mut deduped: Vec<Update> = Vec::with_capacity(updates.len());
        for u in updates {
            match deduped.last_mut() {
                Some(last) if last.0 == u.0 => *last = u,
                _ => deduped.push(u),
            }
        }
        let (root, delta) = update(&self.root, 0, &deduped);
        self.root = root;
        self.len = self
            .len
            .checked_add_signed(delta)
            .expect("the key count never goes negative");
    }

    /// A proof of the value (or absence) of `key` against [`StateTree::root`].
    #[must_use]
    pub fn prove(&self, key: &Hash256) -> StateProof {
        let mut siblings = Vec::new();
        let mut node = &self.root;
        let mut depth = 0;
        loop {
            match node {
                Node::Empty => {
                    return StateProof {
                        siblings,
                        leaf: None,
                    };
                }
                Node::Leaf(l) => {
                    return StateProof {
                        siblings,
                        leaf: Some(ProofLeaf {
                            key: l.key,
                            value_hash: l.value_hash,
                        }),
                    };
                }
                Node::Internal(n) => {
                    let (next, sibling) = if bit(key, depth) {
                        (&n.right, &n.left)
                    } else {
                        (&n.left, &n.right)
                    };
                    siblings.push(sibling.hash());
                    node = next;
                    depth += 1;
                }
            }
        }
    }
}

/// Returns the new node and the change in the number of keys.
fn update(node: &Node, depth: usize, updates: &[Update]) -> (Node, isize) {
    if updates.is_empty() {
        return (node.clone(), 0);
    }
    match node {
        Node::Empty => {
            let leaves: Vec<(Hash256, Hash256)> = updates
                .iter()
                .filter_map(|(k, v)| v.map(|v| (*k, v)))
                .collect();
            let added = leaves.len().cast_signed();
            (build(depth, &leaves), added)
        }
        Node::Leaf(existing) => {
            let mut leaves: Vec<(Hash256, Hash256)> = Vec::with_capacity(updates.len() + 1);
            let mut existing_pending = !updates.iter().any(|(k, _)| *k == existing.key);
            for (k, v) in updates {
                if existing_pending && existing.key < *k {
                    leaves.push((existing.key, existing.value_hash));
                    existing_pending = false;
                }
                if let Some(v) = v {
                    leaves.push((*k, *v));
                }
            }
            if existing_pending {
                leaves.push((existing.key, existing.value_hash));
            }
            let delta = leaves.len().cast_signed() - 1;
            (build(depth, &leaves), delta)
        }
        Node::Internal(n) => {
            let split = updates.partition_point(|(k, _)| !bit(k, depth));
            let (lu, ru) = updates.split_at(split);
            let ((left, dl), (right, dr)) = if updates.len() >= PARALLEL_THRESHOLD {
                rayon::join(
                    || update(&n.left, depth + 1, lu),
                    || update(&n.right, depth + 1, ru),
                )
            } else {
                (
                    update(&n.left, depth + 1, lu),
                    update(&n.right, depth + 1, ru),
                )
            };
            (Node::join(left, right), dl + dr)
        }
    }
}

/// Builds the subtree at `depth` holding exactly `leaves` (sorted, unique).
fn build(depth: usize, leaves: &[(Hash256, Hash256)]) -> Node {
    match leaves {
        [] => Node::Empty,
        [(k, v)] => Node::leaf(*k, *v),
        _ => {
            let split = leaves.partition_point(|(k, _)| !bit(k, depth));
            let (l, r) = leaves.split_at(split);
            let (left, right) = if leaves.len() >= PARALLEL_THRESHOLD {
                rayon::join(|| build(depth + 1, l), || build(depth + 1, r))
            } else {
                (build(depth + 1, l), build(depth + 1, r))
            };
            Node::join(left, right)
        }
    }
}

/// The leaf a proof ends at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProofLeaf {
    /// The leaf's key.
    pub key: Hash256,
    /// The hash of the leaf's value.
    pub value_hash: Hash256,
}

/// A proof of a key's value, or of its absence, in the state tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StateProof {
    /// Sibling hashes from the root downwards.
    pub siblings: Vec<Hash256>,
    /// The leaf at the end of the key's path: the key itself, another key
    /// that shares the path (absence), or none (an empty subtree, absence).
    pub leaf: Option<ProofLeaf>,
}

impl StateProof {
    /// True if, in the tree with `root`, `key` has a value with hash
    /// `value_hash` (`Some`) or no value (`None`).
    #[must_use]
    pub fn verify(&self, root: &StateRoot, key: &Hash256, value_hash: Option<&Hash256>) -> bool {
        let depth = self.siblings.len();
        if depth > 256 {
            return false;
        }
        let start = match (value_hash, &self.leaf) {
            (Some(v), Some(leaf)) if leaf.key == *key && leaf.value_hash == *v => leaf_hash(key, v),
            (None, None) => Hash256::ZERO,
            (None, Some(leaf)) if leaf.key != *key && shares_prefix(&leaf.key, key, depth) => {
                leaf_hash(&leaf.key, &leaf.value_hash)
            }
            _ => return false,
        };
        let mut h = start;
        for (d, sibling) in self.siblings.iter().enumerate().rev() {
            h = if bit(key, d) {
                node_hash(sibling, &h)
            } else {
                node_hash(&h, sibling)
            };
        }
        h == root.hash()
    }
}

fn shares_prefix(a: &Hash256, b: &Hash256, bits: usize) -> bool {
    (0..bits).all(|d| bit(a, d) == bit(b, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u64) -> Hash256 {
        Hash256::digest(&i.to_be_bytes())
    }

    fn val(i: u64) -> Hash256 {
        Hash256::digest(&(i + 1_000_000).to_be_bytes())
    }

    #[test]
    fn empty_tree_root_is_zero() {
        assert_eq!(StateTree::new().root().hash(), Hash256::ZERO);
    }

    #[test]
    fn single_leaf_root_is_its_leaf_hash() {
        let mut t = StateTree::new();
        t.update(vec![(key(1), Some(val(1)))]);
        assert_eq!(t.root().hash(), leaf_hash(&key(1), &val(1)));
    }

    #[test]
    fn root_depends_only_on_contents() {
        let mut a = StateTree::new();
        a.update((0..500).map(|i| (key(i), Some(val(i)))).collect());
        let mut b = StateTree::new();
        for chunk in (0..500).collect::<Vec<_>>().chunks(37).rev() {
            b.update(chunk.iter().map(|i| (key(*i), Some(val(*i)))).collect());
        }
        b.update(vec![(key(900), Some(val(900)))]);
        b.update(vec![(key(900), None)]);
        assert_eq!(a.root(), b.root());
        assert_eq!(a.len(), 500);
        assert_eq!(b.len(), 500);
    }

    #[test]
    fn deleting_everything_gives_the_empty_root() {
        let mut t = StateTree::new();
        t.update((0..300).map(|i| (key(i), Some(val(i)))).collect());
        t.update((0..300).map(|i| (key(i), None)).collect());
        assert_eq!(t.root().hash(), Hash256::ZERO);
        assert!(t.is_empty());
    }

    #[test]
    fn proofs_of_presence_and_absence() {
        let mut t = StateTree::new();
        t.update((0..200).map(|i| (key(i), Some(val(i)))).collect());
        let root = t.root();
        for i in 0..200 {
            let p = t.prove(&key(i));
            assert!(p.verify(&root, &key(i), Some(&val(i))));
            assert!(!p.verify(&root, &key(i), Some(&val(i + 1))));
            assert!(!p.verify(&root, &key(i), None));
        }
        for i in 200..400 {
            let p = t.prove(&key(i));
            assert!(p.verify(&root, &key(i), None));
            assert!(!p.verify(&root, &key(i), Some(&val(i))));
        }
        let mut p = t.prove(&key(3));
        p.siblings[0] = Hash256::digest(b"tampered");
        assert!(!p.verify(&root, &key(3), Some(&val(3))));
    }

    #[test]
    fn snapshots_are_unaffected_by_later_updates() {
        let mut t = StateTree::new();
        t.update(vec![(key(1), Some(val(1)))]);
        let snap = t.clone();
        t.update(vec![(key(1), Some(val(2))), (key(2), Some(val(2)))]);
        assert_eq!(snap.get(&key(1)), Some(val(1)));
        assert_eq!(snap.get(&key(2)), None);
        assert_eq!(t.get(&key(1)), Some(val(2)));
    }
}
