// RFC 9162 logs (FORMATS 8, 17) and the sparse state tree (7).

import { ZERO, be, concat, equal, sha256, tagged } from './bytes.js';

const B0 = new Uint8Array([0]);
const B1 = new Uint8Array([1]);

export function logLeaf(data: Uint8Array): Uint8Array {
  return sha256(B0, data);
}

export function logNode(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(B1, left, right);
}

/** RFC 9162 2.1.3.2 without the final comparison: the root the path leads to, or null. */
export function rootFromPath(leafIndex: bigint, treeSize: bigint, path: Uint8Array[], leaf: Uint8Array): Uint8Array | null {
  if (leafIndex >= treeSize) return null;
  let fn = leafIndex;
  let sn = treeSize - 1n;
  let r = leaf;
  for (const p of path) {
    if (sn === 0n) return null;
    if ((fn & 1n) === 1n || fn === sn) {
      r = logNode(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = logNode(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n ? r : null;
}

export function verifyInclusion(leafIndex: bigint, treeSize: bigint, path: Uint8Array[], leaf: Uint8Array, root: Uint8Array): boolean {
  const r = rootFromPath(leafIndex, treeSize, path, leaf);
  return r !== null && equal(r, root);
}

/** RFC 9162 2.1.4.2 with the m == n and m == 0 cases of FORMATS 8.4. */
export function verifyConsistency(m: bigint, n: bigint, proof: Uint8Array[], oldRoot: Uint8Array, newRoot: Uint8Array): boolean {
  if (m > n) return false;
  if (m === n) return proof.length === 0 && equal(oldRoot, newRoot);
  if (m === 0n) return proof.length === 0 && equal(oldRoot, sha256(new Uint8Array()));
  let path = proof;
  if ((m & (m - 1n)) === 0n) path = [oldRoot, ...path];
  if (path.length === 0) return false;
  let fn = m - 1n;
  let sn = n - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = logNode(c, fr);
      sr = logNode(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = logNode(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return equal(fr, oldRoot) && equal(sr, newRoot) && sn === 0n;
}

/** MTH over leaf hashes (8.2). */
export function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256(new Uint8Array());
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return logNode(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** FORMATS 18. */
export function anchorCommitment(genesisHash: Uint8Array, height: bigint, historyRoot: Uint8Array): Uint8Array {
  return tagged('pantheon/v1/anchor', concat(genesisHash, be(height, 8), historyRoot));
}

// ---- The state tree (7) ----

export interface StateProof {
  siblings: Uint8Array[];
  leaf: { key: Uint8Array; valueHash: Uint8Array } | null;
}

function bit(k: Uint8Array, d: number): number {
  return (k[d >> 3] >> (7 - (d & 7))) & 1;
}

function smtLeaf(k: Uint8Array, v: Uint8Array): Uint8Array {
  return sha256(new Uint8Array([0x10]), k, v);
}

function smtNode(l: Uint8Array, r: Uint8Array): Uint8Array {
  return sha256(new Uint8Array([0x11]), l, r);
}

/** FORMATS 7.5: `value` null checks absence. */
export function smtVerify(root: Uint8Array, key: Uint8Array, value: Uint8Array | null, proof: StateProof): boolean {
  const n = proof.siblings.length;
  if (n > 256) return false;
  let h: Uint8Array;
  if (value !== null) {
    if (!proof.leaf || !equal(proof.leaf.key, key) || !equal(proof.leaf.valueHash, value)) return false;
    h = smtLeaf(key, value);
  } else if (!proof.leaf) {
    h = ZERO;
  } else {
    if (equal(proof.leaf.key, key)) return false;
    for (let d = 0; d < n; d++) if (bit(proof.leaf.key, d) !== bit(key, d)) return false;
    h = smtLeaf(proof.leaf.key, proof.leaf.valueHash);
  }
  for (let d = n - 1; d >= 0; d--) h = bit(key, d) ? smtNode(proof.siblings[d], h) : smtNode(h, proof.siblings[d]);
  return equal(h, root);
}
