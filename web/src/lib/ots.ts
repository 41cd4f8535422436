// OpenTimestamps files (FORMATS 13.1): the operations of a bundle's or a
// record's hash path, written and read, so that the page's path and the
// `.ots` file `pantheon` writes can be compared byte for byte.

import { DecodeError, ascii, be, concat, equal, fromBase64, fromHex, sha256 } from './bytes.js';
import { decodePart } from './codec.js';
import { asInt, has, type JsonObject } from './json.js';
import { b64Hashes } from './bundle.js';

export type Op = { op: 'append' | 'prepend'; arg: Uint8Array } | { op: 'sha256' };

const MAGIC = fromHex('004f70656e54696d657374616d7073000050726f6f6600bf89e2e884e89294');
const BITCOIN_TAG = fromHex('0588960d73d71901');

function varuint(n: number): Uint8Array {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return new Uint8Array(out);
}

/** The steps of 8.3 as operations (FORMATS 13 step 3). */
function pathOps(leafIndex: bigint, treeSize: bigint, path: Uint8Array[]): Op[] {
  const ops: Op[] = [];
  let fn = leafIndex;
  let sn = treeSize - 1n;
  for (const p of path) {
    if ((fn & 1n) === 1n || fn === sn) {
      ops.push({ op: 'prepend', arg: concat(new Uint8Array([1]), p) }, { op: 'sha256' });
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      ops.push({ op: 'prepend', arg: new Uint8Array([1]) }, { op: 'append', arg: p }, { op: 'sha256' });
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return ops;
}

/** The operations from the digest to the Bitcoin Merkle root of a version-2 bundle (and, with `batch`, from a record's hash). */
export function otsOperations(b: JsonObject, batch?: JsonObject): Op[] {
  const ops: Op[] = [];
  const b0 = new Uint8Array([0]);
  if (batch) {
    ops.push({ op: 'prepend', arg: b0 }, { op: 'sha256' });
    ops.push(...pathOps(asInt(batch.leaf_index) as bigint, asInt(batch.tree_size) as bigint, b64Hashes(batch.path)));
  }
  const t = fromBase64(b.submission);
  ops.push({ op: 'prepend', arg: t.subarray(0, 74) }, { op: 'append', arg: t.subarray(106) }, { op: 'prepend', arg: b0 }, { op: 'sha256' });
  const inc = b.inclusion as JsonObject;
  ops.push(...pathOps(asInt(inc.leaf_index) as bigint, asInt(inc.tree_size) as bigint, b64Hashes(inc.path)));
  const h = fromBase64(b.header);
  ops.push({ op: 'prepend', arg: concat(ascii('pantheon/v1/block-header'), b0, h.subarray(0, 95)) }, { op: 'append', arg: h.subarray(127) }, { op: 'sha256' });
  if (!has(b, 'anchor')) throw new DecodeError('not anchored');
  const an = b.anchor as JsonObject;
  const height = new DataView(h.buffer, h.byteOffset + 1, 8).getBigUint64(0);
  const a = asInt(an.height) as bigint;
  ops.push({ op: 'prepend', arg: b0 }, { op: 'sha256' }, ...pathOps(height - 1n, a, b64Hashes(an.history_proof)));
  ops.push({ op: 'prepend', arg: concat(ascii('pantheon/v1/anchor'), b0, fromHex(b.genesis_hash, 32), be(a, 8)) }, { op: 'sha256' });
  const part = decodePart(fromBase64(an.bitcoin));
  const commitment = fromHex(an.commitment, 32);
  const script = concat(new Uint8Array([0x6a, 0x25]), ascii('PNTH'), new Uint8Array([1]), commitment);
  let c = -1;
  for (let i = 0; i + script.length <= part.rawTx.length; i++) {
    if (equal(part.rawTx.subarray(i, i + script.length), script)) {
      c = i + 7;
      break;
    }
  }
  if (c < 0) throw new DecodeError('the transaction carries no anchor output for the commitment');
  ops.push({ op: 'prepend', arg: part.rawTx.subarray(0, c) }, { op: 'append', arg: part.rawTx.subarray(c + 32) }, { op: 'sha256' }, { op: 'sha256' });
  part.branch.forEach((s, i) => {
    ops.push({ op: (part.txIndex >>> i) & 1 ? 'prepend' : 'append', arg: s }, { op: 'sha256' }, { op: 'sha256' });
  });
  return ops.filter((o) => o.op === 'sha256' || o.arg.length > 0);
}

export function writeOts(digest: Uint8Array, ops: Op[], height: number): Uint8Array {
  const parts: Uint8Array[] = [MAGIC, varuint(1), new Uint8Array([0x08]), digest];
  for (const o of ops) {
    if (o.op === 'sha256') parts.push(new Uint8Array([0x08]));
    else parts.push(new Uint8Array([o.op === 'append' ? 0xf0 : 0xf1]), varuint(o.arg.length), o.arg);
  }
  const payload = varuint(height);
  parts.push(new Uint8Array([0]), BITCOIN_TAG, varuint(payload.length), payload);
  return concat(...parts);
}

export function replay(msg: Uint8Array, ops: Op[]): Uint8Array {
  for (const o of ops) msg = o.op === 'sha256' ? sha256(msg) : o.op === 'append' ? concat(msg, o.arg) : concat(o.arg, msg);
  return msg;
}
