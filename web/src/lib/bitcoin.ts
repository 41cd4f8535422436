// The Bitcoin part's checks (FORMATS 20.6): the transaction, the
// commitment in its OP_RETURN, the Merkle branch, each header's proof of
// work and linkage, and the confirmations the headers carry.

import { equal, h2, leInt, readLE } from './bytes.js';
import { MAX_BRANCH, MAX_BTC_TX, MAX_HEADERS, type BitcoinNetwork, type BitcoinPart } from './codec.js';

/** A failed check of the part; the message starts with its own link. */
export class PartError extends Error {}

export const POW_LIMIT: Record<BitcoinNetwork, bigint> = {
  bitcoin: 0xffffn << 208n,
  testnet4: 0xffffn << 208n,
  signet: 0x377aen << 216n,
  regtest: 0x7fffffn << 232n,
};

function parseOutputs(raw: Uint8Array): [bigint, Uint8Array][] {
  let pos = 0;
  const take = (n: number): Uint8Array => {
    if (pos + n > raw.length) throw new PartError('transaction: does not decode (truncated)');
    const out = raw.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const compact = (): number => {
    const first = take(1)[0];
    if (first < 0xfd) return first;
    const [width, minimum] = first === 0xfd ? [2, 0xfdn] : first === 0xfe ? [4, 0x10000n] : [8, 0x100000000n];
    const v = readLE(take(width), 0, width);
    if (v < minimum) throw new PartError('transaction: does not decode (non-minimal CompactSize)');
    if (v > BigInt(raw.length)) throw new PartError('transaction: does not decode (truncated)');
    return Number(v);
  };
  take(4);
  const nIn = compact();
  if (nIn === 0) throw new PartError('transaction: not the canonical serialization without witness');
  for (let i = 0; i < nIn; i++) {
    take(36);
    take(compact());
    take(4);
  }
  const outputs: [bigint, Uint8Array][] = [];
  const nOut = compact();
  for (let i = 0; i < nOut; i++) {
    const value = readLE(take(8), 0, 8);
    outputs.push([value, take(compact())]);
  }
  take(4);
  if (pos !== raw.length) throw new PartError('transaction: does not decode (trailing bytes)');
  return outputs;
}

/** Bitcoin Core's SetCompact (20.6.4 step 2). */
export function targetFromBits(bits: number): bigint {
  const e = bits >>> 24;
  const m = bits & 0x007fffff;
  if (m !== 0 && (bits & 0x00800000) !== 0) throw new Error('negative');
  if (m !== 0 && (e > 34 || (m > 0xff && e > 33) || (m > 0xffff && e > 32))) throw new Error('overflow');
  const t = e <= 3 ? BigInt(m) >> BigInt(8 * (3 - e)) : BigInt(m) << BigInt(8 * (e - 3));
  if (t === 0n) throw new Error('zero');
  return t;
}

export interface Anchored {
  txid: Uint8Array;
  blockHash: Uint8Array;
  blockTime: number;
  confirmations: number;
  headerHashes: Uint8Array[];
}

/** 20.6: proves `commitment` with at least `k` headers on `network`. */
export function verifyPart(part: BitcoinPart, commitment: Uint8Array, network: BitcoinNetwork, k: number): Anchored {
  const raw = part.rawTx;
  if (raw.length > MAX_BTC_TX) throw new PartError('transaction: too large');
  if (raw.length === 64) throw new PartError('transaction: 64-byte transactions are refused');
  const outputs = parseOutputs(raw);
  const txid = h2(raw);
  const opReturns = outputs.filter(([, s]) => s.length > 0 && s[0] === 0x6a);
  if (opReturns.length === 0) throw new PartError('commitment: no OP_RETURN output');
  if (opReturns.length > 1) throw new PartError('commitment: several OP_RETURN outputs');
  const [value, script] = opReturns[0];
  if (script.length !== 39 || script[1] !== 0x25) throw new PartError('commitment: not OP_RETURN followed by one 37-byte push');
  if (!equal(script.subarray(2, 6), new Uint8Array([0x50, 0x4e, 0x54, 0x48]))) throw new PartError('commitment: bad magic');
  if (script[6] !== 1) throw new PartError('commitment: unsupported version');
  if (value !== 0n) throw new PartError('commitment: OP_RETURN output carries a value');
  if (!equal(script.subarray(7), commitment)) throw new PartError('commitment: wrong commitment');
  if (part.headers.length === 0) throw new PartError('confirmations: 0 headers');
  if (part.headers.length > MAX_HEADERS) throw new PartError('headers: too many');
  const { branch, txIndex } = part;
  if (branch.length > MAX_BRANCH || (branch.length < MAX_BRANCH && BigInt(txIndex) >> BigInt(branch.length) !== 0n)) {
    throw new PartError('merkle: index or depth out of range');
  }
  let node = txid;
  branch.forEach((s, i) => {
    if ((txIndex >>> i) & 1) {
      if (equal(s, node)) throw new PartError('merkle: right child equals its sibling');
      node = h2(new Uint8Array([...s, ...node]));
    } else {
      node = h2(new Uint8Array([...node, ...s]));
    }
  });
  if (!equal(node, part.headers[0].subarray(36, 68))) throw new PartError('merkle: root mismatch');
  const hashes: Uint8Array[] = [];
  part.headers.forEach((header, i) => {
    const bits = Number(readLE(header, 72, 4));
    let target: bigint;
    try {
      target = targetFromBits(bits);
    } catch (e) {
      throw new PartError(`header ${i}: invalid nBits (${(e as Error).message})`);
    }
    if (target > POW_LIMIT[network]) throw new PartError(`header ${i}: target above the pow limit`);
    const hash = h2(header);
    if (leInt(hash) > target) throw new PartError(`header ${i}: no proof of work`);
    if (i > 0 && !equal(header.subarray(4, 36), hashes[i - 1])) throw new PartError(`header ${i}: broken link`);
    hashes.push(hash);
  });
  if (part.headers.length < k) throw new PartError(`confirmations: ${part.headers.length} headers, ${k} required`);
  return {
    txid,
    blockHash: hashes[0],
    blockTime: Number(readLE(part.headers[0], 68, 4)),
    confirmations: part.headers.length,
    headerHashes: hashes,
  };
}
