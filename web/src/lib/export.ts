// Operator exports (FORMATS 25): every bundle, then the operator's state
// record against the last bundle's state root, then the sequence.

import { ZERO, equal, fromBase64, fromHex, toHex } from './bytes.js';
import { decodeAccount, decodeGenesis, stateKeyAccount, valueHash } from './codec.js';
import { LinkError, checkStructure, sameMembers, verifyBundle, type BundleFacts, type Trust } from './bundle.js';
import { asInt, has, isObject, type Json, type JsonObject } from './json.js';
import { smtVerify, type StateProof } from './merkle.js';

export interface ExportFacts {
  operator: string;
  fromSeq: bigint;
  toSeq: bigint;
  count: number;
  anchored: number;
  height: bigint;
  blockTimeMs: bigint;
  nextSeq: bigint;
  stateRoot: string;
  last: BundleFacts;
  links: string[];
}

function stateProof(j: Json): StateProof {
  if (!isObject(j) || !sameMembers(j, ['siblings', 'leaf'])) throw new Error('the proof holds exactly siblings and leaf');
  const s = j.siblings;
  if (!Array.isArray(s)) throw new Error('siblings is not an array');
  const leaf = j.leaf;
  let l: StateProof['leaf'] = null;
  if (leaf !== null) {
    if (!isObject(leaf) || !sameMembers(leaf, ['key', 'value_hash'])) throw new Error('leaf holds exactly key and value_hash');
    l = { key: fromHex(leaf.key, 32), valueHash: fromHex(leaf.value_hash, 32) };
  }
  return { siblings: s.map((x) => fromHex(x, 32)), leaf: l };
}

export function verifyOperatorExport(x: Json, trust: Trust = {}, trail: string[] = []): ExportFacts {
  const fail = (why: string): never => {
    throw new LinkError('format', why);
  };
  if (!isObject(x) || asInt(x.operator_export) !== 1n) {
    fail('not an operator export of version 1');
  }
  const o = x as JsonObject;
  const subs = o.submissions;
  if (!Array.isArray(subs) || subs.length < 1 || subs.length > 100_000) fail('submissions must be a list of 1 to 100000 bundles');
  const st = o.state;
  if (!isObject(st) || !sameMembers(st, ['account', 'proof'])) fail('state must hold exactly account and proof');
  let operator: Uint8Array = ZERO;
  try {
    operator = fromHex(o.operator, 32);
  } catch (e) {
    fail(`operator: ${(e as Error).message}`);
  }
  if (has(o, 'genesis') && typeof o.genesis !== 'string') fail('genesis is not a string');
  (subs as Json[]).forEach((b) => checkStructure(b));
  let genesis: Uint8Array | undefined;
  if (has(o, 'genesis')) {
    try {
      genesis = fromBase64(o.genesis);
      decodeGenesis(genesis);
    } catch (e) {
      throw new LinkError('genesis', (e as Error).message);
    }
  }
  const outs: BundleFacts[] = (subs as Json[]).map((b, i) => {
    try {
      trail.length = 0;
      return verifyBundle(b, trust, genesis, trail);
    } catch (e) {
      if (e instanceof LinkError) throw new LinkError(e.link, `submissions[${i}]: ${e.reason}`);
      throw e;
    }
  });
  const first = outs[0];
  const last = outs[outs.length - 1];
  outs.forEach((b, i) => {
    if (!equal(b.operatorBytes, operator) || b.genesisHash !== first.genesisHash) {
      throw new LinkError('completeness', `submissions[${i}] is of another operator or network`);
    }
    if (b.seq !== first.seq + BigInt(i)) throw new LinkError('completeness', `submissions[${i}] has seq ${b.seq}, not ${first.seq + BigInt(i)}`);
    if ((i > 0 && !equal(b.prev, outs[i - 1].idBytes)) || (i === 0 && b.seq === 0n && !equal(b.prev, ZERO))) {
      throw new LinkError('completeness', `seq ${b.seq} names the wrong previous submission`);
    }
  });
  const s = st as JsonObject;
  let accountBytes: Uint8Array;
  let account;
  let proof: StateProof;
  try {
    accountBytes = fromBase64(s.account);
    account = decodeAccount(accountBytes);
    proof = stateProof(s.proof);
  } catch (e) {
    throw new LinkError('state', (e as Error).message);
  }
  if (!smtVerify(last.stateRoot, stateKeyAccount(operator), valueHash(accountBytes), proof)) {
    throw new LinkError('state', 'the account\'s proof does not lead to the last block\'s state root');
  }
  trail.push('state');
  const op = account.operator;
  if (!op) throw new LinkError('state', 'not a registered operator\'s record');
  if (op.nextSeq !== last.seq + 1n || !op.last || !equal(op.last.id, last.idBytes)) {
    throw new LinkError('completeness', `the state at block ${last.height} names next seq ${op.nextSeq}, the export ends at ${last.seq}`);
  }
  return {
    operator: toHex(operator),
    fromSeq: first.seq,
    toSeq: last.seq,
    count: outs.length,
    anchored: outs.filter((b) => b.anchor).length,
    height: last.height,
    blockTimeMs: last.blockTimeMs,
    nextSeq: op.nextSeq,
    stateRoot: toHex(last.stateRoot),
    last,
    links: [...trail, 'completeness'],
  };
}
