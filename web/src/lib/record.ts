// Audit records (FORMATS 23) and record proofs (24).

import { DecodeError, Reader, ZERO, concat, equal, fromBase64, fromHex, tagged, toHex } from './bytes.js';
import { CTX, PUBLIC_KEY_LEN, SIGNATURE_LEN, keyId, mldsaVerify } from './codec.js';
import { LinkError, b64Hashes, bundleSubmission, checkStructure, sameMembers, verifyBundle, type BundleFacts, type Trust } from './bundle.js';
import { asInt, has, isObject, JsonNumber, type Json, type JsonObject } from './json.js';
import { logLeaf, rootFromPath } from './merkle.js';

export const RECORD_KINDS: Record<number, RecordKind> = { 1: 'decision', 2: 'manifest', 3: 'approval', 4: 'event' };
export type RecordKind = 'decision' | 'manifest' | 'approval' | 'event';
const MAX_BODY_LEN = 1 << 20;

const KIND_MEMBERS: Record<RecordKind, [string, 'hash' | 'number' | 'present' | 'public_key' | 'signature'][]> = {
  decision: [['inputs', 'hash'], ['output', 'hash'], ['policy', 'present'], ['score', 'number']],
  manifest: [['model', 'hash'], ['tokenizer', 'hash'], ['system_prompt', 'hash'], ['data', 'hash']],
  approval: [['subject', 'hash'], ['approver', 'public_key'], ['signature', 'signature']],
  event: [],
};

/** RFC 8785 (JCS) of a parsed value, with the 2^53 rule of 23.2. */
export function jcs(v: Json): string {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (v instanceof JsonNumber) {
    if (Number.isInteger(v.value) && Math.abs(v.value) > Number.MAX_SAFE_INTEGER) {
      throw new LinkError('body', `integer ${v.text} beyond 2^53 - 1`);
    }
    return String(v.value); // ECMAScript Number::toString, as RFC 8785 requires
  }
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(jcs).join(',') + ']';
  const keys = Object.keys(v).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + jcs(v[k])).join(',') + '}';
}

export function bodyHash(body: Json): Uint8Array {
  if (!isObject(body)) throw new LinkError('body', 'must be a JSON object');
  const bytes = new TextEncoder().encode(jcs(body));
  if (bytes.length > MAX_BODY_LEN) throw new LinkError('body', 'too large');
  return tagged('pantheon/v1/record-body', bytes);
}

export interface Envelope {
  operator: Uint8Array;
  stream: string;
  index: bigint;
  prev: Uint8Array;
  timeMs: bigint;
  kind: RecordKind;
  manifest: Uint8Array | null;
  bodyHash: Uint8Array;
  hash: Uint8Array;
}

export function decodeRecord(data: Uint8Array): { e: Envelope; env: Uint8Array; sig: Uint8Array } {
  const r = new Reader(data);
  r.version('record');
  const operator = r.take(32);
  const stream = r.shortBytes('stream', 64);
  if (stream.length === 0 || stream.some((c) => !((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x5f || c === 0x2f || c === 0x2d))) {
    throw new DecodeError('stream: 1 to 64 bytes of [a-z0-9._/-]');
  }
  const index = r.u64();
  const prev = r.take(32);
  const timeMs = r.u64();
  const k = r.u8();
  const kind = RECORD_KINDS[k];
  if (!kind) throw new DecodeError(`kind: invalid tag ${k}`);
  const manifest = r.option('manifest') ? r.take(32) : null;
  const bh = r.take(32);
  const env = data.subarray(0, r.pos);
  const sig = r.take(SIGNATURE_LEN);
  r.finish();
  return {
    e: { operator, stream: String.fromCharCode(...stream), index, prev, timeMs, kind, manifest, bodyHash: bh, hash: tagged('pantheon/v1/record', data) },
    env,
    sig,
  };
}

function hashMember(v: Json): boolean {
  return typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
}

function b64Len(v: Json, n: number): boolean {
  try {
    return typeof v === 'string' && fromBase64(v).length === n;
  } catch {
    return false;
  }
}

/** 23.6 up to `approval` (the chain is the caller's): throws LinkError. */
export function verifyRecord(data: Uint8Array, publicKey: Uint8Array, body?: Json): Envelope {
  let d;
  try {
    d = decodeRecord(data);
  } catch (err) {
    throw new LinkError('record', (err as Error).message);
  }
  const { e, env, sig } = d;
  if (e.kind === 'decision' && !e.manifest) throw new LinkError('manifest', 'a decision must name the manifest in force');
  if ((e.kind === 'manifest' || e.kind === 'approval') && e.manifest) throw new LinkError('manifest', 'only decisions and events name a manifest');
  if (!equal(keyId(publicKey), e.operator)) throw new LinkError('signature', 'the public key is not the record\'s operator');
  if (!mldsaVerify(publicKey, env, sig, CTX.record)) throw new LinkError('signature', 'the operator\'s signature does not verify');
  if (body !== undefined) {
    if (!equal(bodyHash(body), e.bodyHash)) throw new LinkError('body', 'does not match the record\'s body_hash');
    const b = body as JsonObject;
    for (const [member, what] of KIND_MEMBERS[e.kind]) {
      if (!has(b, member)) throw new LinkError('kind', `${e.kind}: ${member} is missing`);
      const v = b[member];
      const ok =
        what === 'hash' ? hashMember(v) : what === 'number' ? v instanceof JsonNumber : what === 'present' ? v !== null : b64Len(v, what === 'public_key' ? PUBLIC_KEY_LEN : SIGNATURE_LEN);
      if (!ok) throw new LinkError('kind', `${e.kind}: ${member} is malformed`);
    }
    if (e.kind === 'approval') {
      const subject = fromHex(b.subject, 32);
      if (!mldsaVerify(fromBase64(b.approver), concat(e.operator, subject), fromBase64(b.signature), CTX.approval)) {
        throw new LinkError('approval', 'the approver\'s signature does not verify');
      }
    }
  }
  return e;
}

function follows(e: Envelope, prev: Envelope | null): void {
  if (!prev) {
    if (e.index !== 0n || !equal(e.prev, ZERO)) throw new LinkError('chain', 'no predecessor');
    return;
  }
  if (!equal(prev.operator, e.operator) || prev.stream !== e.stream) throw new LinkError('chain', 'another operator or stream');
  if (e.index !== prev.index + 1n) throw new LinkError('chain', `index ${e.index} follows ${prev.index}`);
  if (!equal(e.prev, prev.hash)) throw new LinkError('chain', 'prev is not the previous record\'s hash');
}

export interface RecordFacts {
  recordHash: string;
  disclosed: { kind: RecordKind; stream: string; index: bigint; timeMs: bigint; body: boolean; previous: boolean; next: boolean; manifest: string | null } | null;
  leafIndex: bigint;
  treeSize: bigint;
  batchRoot: string;
  bundle: BundleFacts;
  manifest: RecordFacts | null;
  links: string[];
}

function structure(p: Json, depth: number): asserts p is JsonObject {
  const fail = (why: string): never => {
    throw new LinkError('format', why);
  };
  if (!isObject(p)) fail('a record proof is a JSON object');
  const o = p as JsonObject;
  if (asInt(o.record_proof) !== 1n) fail('not a record proof of version 1');
  if (has(o, 'record') === has(o, 'record_hash')) fail('exactly one of `record` and `record_hash` must be present');
  if (!has(o, 'record') && ['body', 'previous', 'next', 'manifest'].some((k) => has(o, k))) {
    fail('`body`, `previous`, `next` and `manifest` need the disclosed `record`');
  }
  for (const k of ['record', 'record_hash', 'previous', 'next']) if (has(o, k) && typeof o[k] !== 'string') fail(`${k} is not a string`);
  if (has(o, 'manifest') && depth >= 1) fail('manifest proofs nest too deep');
  if (has(o, 'manifest') && !isObject(o.manifest)) fail('manifest is not an object');
  const batch = o.batch;
  if (!isObject(batch) || !sameMembers(batch, ['leaf_index', 'tree_size', 'path'])) fail('batch must hold exactly leaf_index, tree_size and path');
  const bt = batch as JsonObject;
  if (asInt(bt.leaf_index) === null || asInt(bt.tree_size) === null || typeof bt.path !== 'string') fail('batch members: two integers and a string');
  if (!isObject(o.bundle)) fail('bundle is not an object');
  checkStructure(o.bundle);
  if (has(o, 'manifest')) structure(o.manifest, depth + 1);
}

/** 24.2: the record's links, the batch, the bundle (its root required), the manifest's proof. */
export function verifyRecordProof(p: Json, trust: Trust = {}, depth = 0, trail: string[] = []): RecordFacts {
  structure(p, depth);
  const links = trail;
  const b = p.bundle as JsonObject;
  const batch = p.batch as JsonObject;
  let opKey: Uint8Array;
  try {
    opKey = fromBase64(b.operator_key);
  } catch (err) {
    throw new LinkError('signature', `the bundle's operator_key: ${(err as Error).message}`);
  }
  let e: Envelope | null = null;
  let rh: Uint8Array;
  if (has(p, 'record')) {
    const data = (() => {
      try {
        return fromBase64(p.record);
      } catch (err) {
        throw new LinkError('record', (err as Error).message);
      }
    })();
    e = verifyRecord(data, opKey);
    if (has(p, 'body')) e = verifyRecord(data, opKey, p.body);
    if (e.kind === 'decision') {
      if (!has(p, 'manifest')) throw new LinkError('manifest', 'the decision\'s manifest is not carried');
      const m = p.manifest as JsonObject;
      if (!has(m, 'record')) throw new LinkError('manifest', 'the manifest proof must disclose the record');
      let me: Envelope;
      try {
        me = verifyRecord(fromBase64(m.record), opKey);
      } catch (err) {
        throw new LinkError('manifest', err instanceof LinkError ? err.message : (err as Error).message);
      }
      if (!equal(me.hash, e.manifest as Uint8Array) || me.kind !== 'manifest') throw new LinkError('manifest', 'the proof is of another record');
    } else if (has(p, 'manifest')) {
      throw new LinkError('manifest', 'a manifest proof for a record that names none');
    }
    for (const [name, mine] of [['previous', false], ['next', true]] as const) {
      if (!has(p, name)) continue;
      try {
        const n = verifyRecord(fromBase64(p[name]), opKey);
        if (mine) follows(n, e);
        else follows(e, n);
      } catch (err) {
        throw new LinkError('chain', `${name}: ${err instanceof LinkError ? err.message : (err as Error).message}`);
      }
    }
    if (!has(p, 'previous') && e.index === 0n) follows(e, null);
    rh = e.hash;
    links.push('record', 'manifest', 'signature');
    if (has(p, 'body')) links.push('body', 'kind', 'approval');
    links.push('chain');
  } else {
    try {
      rh = fromHex(p.record_hash, 32);
    } catch (err) {
      throw new LinkError('record', `record_hash: ${(err as Error).message}`);
    }
    links.push('record');
  }
  let path: Uint8Array[];
  try {
    path = b64Hashes(batch.path);
  } catch (err) {
    throw new LinkError('batch', `path: ${(err as Error).message}`);
  }
  if (path.length > 32) throw new LinkError('batch', 'more than 32 hashes');
  const leafIndex = asInt(batch.leaf_index) as bigint;
  const treeSize = asInt(batch.tree_size) as bigint;
  const root = rootFromPath(leafIndex, treeSize, path, logLeaf(rh));
  if (!root) throw new LinkError('batch', 'the path does not have the shape of its leaf and size');
  const sub = bundleSubmission(b);
  if (sub) {
    if (!equal(sub.root, root)) throw new LinkError('batch', 'the path does not lead to the submission\'s root');
    if (sub.recordCount !== null && sub.recordCount !== treeSize) throw new LinkError('batch', 'the submission\'s record count is not the batch\'s size');
  }
  links.push('batch');
  const bundle = verifyBundle(b, { ...trust, root }, undefined, links);
  let manifest: RecordFacts | null = null;
  if (e && e.kind === 'decision') {
    try {
      manifest = verifyRecordProof(p.manifest, trust, depth + 1);
    } catch (err) {
      if (err instanceof LinkError) throw new LinkError('manifest', `the manifest's proof: ${err.message}`);
      throw err;
    }
    const mb = manifest.bundle;
    const earlier = mb.seq < bundle.seq || (mb.seq === bundle.seq && manifest.leafIndex < leafIndex);
    if (!earlier || mb.genesisHash !== bundle.genesisHash) throw new LinkError('manifest', 'not sealed before the decision on the same network');
  }
  return {
    recordHash: toHex(rh),
    disclosed: e
      ? { kind: e.kind, stream: e.stream, index: e.index, timeMs: e.timeMs, body: has(p, 'body'), previous: has(p, 'previous'), next: has(p, 'next'), manifest: e.manifest ? toHex(e.manifest) : null }
      : null,
    leafIndex,
    treeSize,
    batchRoot: toHex(root),
    bundle,
    manifest,
    links: links.slice(),
  };
}
