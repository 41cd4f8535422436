// Proof bundles, versions 1 and 2 (FORMATS 16, 21, 22): the structure
// (the `format` link, 22.6), then each link in order, each member decoded
// by the link that uses it, the first failure named.

import { DecodeError, equal, fromBase64, fromHex, h2, tagged, toHex, toHexReversed } from './bytes.js';
import { PartError, verifyPart } from './bitcoin.js';
import {
  CTX,
  DEFAULT_CONFIRMATIONS,
  KIND_ANCHOR,
  KIND_SUBMIT,
  MAX_BRANCH,
  MAX_BTC_TX,
  MAX_HEADERS,
  PUBLIC_KEY_LEN,
  SIGNATURE_LEN,
  blockHash,
  decodeCertificate,
  decodeGenesis,
  decodeHeader,
  decodePart,
  decodeTx,
  genesisHash,
  isQuorum,
  keyId,
  mldsaVerify,
  precommit,
  txId,
  type BitcoinNetwork,
  type BitcoinPart,
  type GenesisHeader,
  type SubmitRoot,
} from './codec.js';
import { asInt, has, isObject, JsonNumber, type Json, type JsonObject } from './json.js';
import { anchorCommitment, logLeaf, rootFromPath, verifyInclusion } from './merkle.js';

export const MAX_PATH_HASHES = 64;

/** A failed link: its name (the names `pantheon verify` prints) and why. */
export class LinkError extends Error {
  constructor(
    readonly link: string,
    readonly reason: string,
  ) {
    super(`${link}: ${reason}`);
  }
}

/** What the verifier's user trusts and asks for. Options only add checks. */
export interface Trust {
  /** The network's genesis header (from its genesis file): pins the network and supplies a bundle without one. */
  genesis?: Uint8Array;
  /** A trusted genesis hash. */
  genesisHash?: Uint8Array;
  /** The audit root the user holds (`pantheon verify --root`). */
  root?: Uint8Array;
  /** The Bitcoin network the user expects (needed under a version-1 genesis). */
  bitcoinNetwork?: BitcoinNetwork;
  /** Confirmations beyond the genesis's. */
  confirmations?: number;
  /** A Bitcoin block the user trusts; the hash in internal order. */
  checkpoint?: { height: bigint; hash: Uint8Array };
}

export type GenesisPin = 'unpinned' | 'file' | 'hash' | 'file and hash';

export interface BitcoinFacts {
  network: BitcoinNetwork;
  networkSource: 'genesis' | 'stated';
  txid: string;
  blockHash: string;
  blockTime: number;
  confirmations: number;
  required: number;
  /** What backs the headers' work (no live node can be asked offline). */
  backedBy: { kind: 'headers_only' } | { kind: 'checkpoint'; height: bigint; hash: string; blockHeight: bigint };
  /** The block's height as a version-1 AnchorRecord claims it (version 2 carries none). */
  claimedHeight: bigint | null;
}

export interface BundleFacts {
  version: number;
  genesisHash: string;
  chainId: string;
  genesisPin: GenesisPin;
  submissionId: string;
  operator: string;
  seq: bigint;
  prev: Uint8Array;
  root: string;
  label: string;
  recordCount: bigint | null;
  height: bigint;
  blockHash: string;
  blockTimeMs: bigint;
  stateRoot: Uint8Array;
  signers: [number, number];
  leafIndex: bigint;
  anchor: { height: bigint; commitment: string; bitcoin: BitcoinFacts } | null;
  links: string[];
  // raw values the record proofs and exports use
  idBytes: Uint8Array;
  operatorBytes: Uint8Array;
  genesisHashBytes: Uint8Array;
}

function isStrings(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((e) => typeof e === 'string');
}

/** 22.6 stage 2 (the `format` link): version, members and their JSON types. */
export function checkStructure(b: Json): asserts b is JsonObject {
  const fail = (why: string): never => {
    throw new LinkError('format', why);
  };
  if (!isObject(b)) fail('a bundle is a JSON object');
  const o = b as JsonObject;
  if (!has(o, 'version')) fail('no version');
  const v = asInt(o.version);
  if (v !== 1n && v !== 2n) fail(`unsupported version ${JSON.stringify(show(o.version))}`);
  const v1 = v === 1n;
  const kinds: Record<string, (x: Json) => boolean> = {
    string: (x) => typeof x === 'string',
    integer: (x) => asInt(x) !== null,
    object: (x) => isObject(x),
    strings: (x) => isStrings(x),
  };
  const need = (obj: JsonObject, what: string, name: string, kind: string, optional = false) => {
    if (!has(obj, name)) {
      if (optional) return;
      fail(`${what} has no member ${name}`);
    }
    if (!kinds[kind](obj[name])) fail(`member ${name} of ${what} is not ${kind}`);
  };
  need(o, 'the bundle', 'genesis_hash', 'string');
  need(o, 'the bundle', 'genesis', 'string', !v1);
  for (const name of ['submission', 'operator_key', 'header', 'certificate']) need(o, 'the bundle', name, 'string');
  need(o, 'the bundle', 'inclusion', 'object');
  need(o, 'the bundle', 'anchor', 'object', true);
  const inc = o.inclusion as JsonObject;
  need(inc, 'inclusion', 'leaf_index', 'integer');
  need(inc, 'inclusion', 'tree_size', 'integer');
  need(inc, 'inclusion', 'path', v1 ? 'strings' : 'string');
  if (!sameMembers(inc, ['leaf_index', 'tree_size', 'path'])) fail('an unknown member in inclusion');
  if (has(o, 'anchor')) {
    const an = o.anchor as JsonObject;
    need(an, 'anchor', 'height', 'integer');
    need(an, 'anchor', 'history_proof', v1 ? 'strings' : 'string');
    need(an, 'anchor', 'commitment', 'string');
    need(an, 'anchor', 'bitcoin', v1 ? 'object' : 'string');
    if (v1) need(an, 'anchor', 'record', 'string');
    const members = ['height', 'history_proof', 'commitment', 'bitcoin', ...(v1 ? ['record'] : [])];
    if (!sameMembers(an, members)) fail('an unknown member in anchor');
  }
}

function show(x: Json): unknown {
  return x instanceof JsonNumber ? x.text : x;
}

export function sameMembers(o: JsonObject, names: string[]): boolean {
  const keys = Object.keys(o);
  return keys.length === names.length && names.every((n) => has(o, n));
}

/** A member decoded by its link: any decoding failure names that link. */
function link<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof LinkError) throw e;
    throw new LinkError(name, (e as Error).message);
  }
}

/** 22.2: a path is the base64 of its 32-byte hashes, concatenated. */
export function b64Hashes(text: Json): Uint8Array[] {
  const raw = fromBase64(text);
  if (raw.length % 32 !== 0 || raw.length > MAX_PATH_HASHES * 32) {
    throw new DecodeError(`a path is at most ${MAX_PATH_HASHES} hashes of 32 bytes`);
  }
  const out: Uint8Array[] = [];
  for (let i = 0; i < raw.length; i += 32) out.push(raw.subarray(i, i + 32));
  return out;
}

function hexHashes(items: Json): Uint8Array[] {
  const a = items as string[];
  if (a.length > MAX_PATH_HASHES) throw new DecodeError(`${a.length} hashes, more than ${MAX_PATH_HASHES}`);
  return a.map((x) => fromHex(x, 32));
}

/** 20.5.2: the JSON form of the Bitcoin part (version 1). */
function partFromJson(j: Json): BitcoinPart {
  if (!isObject(j) || !sameMembers(j, ['raw_tx', 'tx_index', 'branch', 'headers'])) {
    throw new DecodeError('bitcoin part JSON: exactly raw_tx, tx_index, branch, headers');
  }
  const { raw_tx: rawTx, tx_index: txIndex, branch, headers } = j;
  if (typeof rawTx !== 'string' || !(txIndex instanceof JsonNumber) || !isStrings(branch) || !isStrings(headers)) {
    throw new DecodeError('bitcoin part JSON: member types');
  }
  if (txIndex.integer() === null && !/^-?(0|[1-9][0-9]*)$/.test(txIndex.text)) throw new DecodeError('bitcoin part JSON: member types');
  if (branch.length > MAX_BRANCH || headers.length > MAX_HEADERS || rawTx.length > 2 * MAX_BTC_TX) {
    throw new DecodeError('bitcoin part JSON over its maxima');
  }
  const idx = txIndex.integer();
  if (idx === null || idx >= 2n ** 32n) throw new DecodeError('tx_index');
  return {
    rawTx: fromHex(rawTx),
    txIndex: Number(idx),
    branch: branch.map((x) => fromHex(x, 32)),
    headers: headers.map((x) => fromHex(x, 80)),
  };
}

/** The certificate's signatures and quorum (10.3); null if valid, else why. */
function certificateProblem(
  cert: ReturnType<typeof decodeCertificate>,
  gh: Uint8Array,
  g: GenesisHeader,
): string | null {
  const msg = precommit(gh, cert.height, cert.round, cert.blockHash);
  let power = 0n;
  let last = -1;
  for (const [idx, sig] of cert.signatures) {
    if (idx <= last || idx >= g.validators.length) return `bad signer index ${idx}`;
    last = idx;
    if (!mldsaVerify(g.validators[idx].publicKey, msg, sig, CTX.vote)) return `signature of validator ${idx} does not verify`;
    power += g.validators[idx].power;
  }
  const total = g.validators.reduce((s, v) => s + v.power, 0n);
  if (!isQuorum(power, total)) return `no quorum: ${power} of ${total}`;
  return null;
}

/**
 * Verifies a bundle already read as JSON (stage 1 of 22.6 done by the
 * caller), under `trust`. `supplied` is a genesis header for a bundle that
 * carries none (an export's). Throws LinkError naming the first failing link.
 */
export function verifyBundle(b: Json, trust: Trust = {}, supplied?: Uint8Array, trail: string[] = []): BundleFacts {
  checkStructure(b);
  const links = trail;
  links.push('format');
  const v1 = asInt(b.version) === 1n;
  const raw = v1 ? (t: Json) => fromHex(t) : (t: Json) => fromBase64(t);

  // genesis
  let trusted = trust.genesisHash;
  const pin: GenesisPin = trust.genesis ? (trust.genesisHash ? 'file and hash' : 'file') : trust.genesisHash ? 'hash' : 'unpinned';
  if (trust.genesis) {
    const fileHash = genesisHash(trust.genesis);
    if (trusted && !equal(trusted, fileHash)) {
      throw new LinkError('genesis', `the genesis file is network ${toHex(fileHash)}, not the stated ${toHex(trusted)}`);
    }
    trusted = fileHash;
  }
  const bundleGh = link('genesis', () => fromHex(b.genesis_hash, 32));
  let gb: Uint8Array;
  if (has(b, 'genesis')) gb = link('genesis', () => raw(b.genesis));
  else if (trust.genesis) gb = trust.genesis;
  else if (supplied) gb = supplied;
  else throw new LinkError('genesis', 'the bundle does not carry its genesis: supply the network\'s genesis file');
  const g = link('genesis', () => decodeGenesis(gb));
  const gh = genesisHash(gb);
  if (!equal(gh, bundleGh)) throw new LinkError('genesis', `the genesis hashes to ${toHex(gh)}, not the bundle's genesis_hash`);
  if (trusted && !equal(gh, trusted)) throw new LinkError('genesis', `the bundle is for network ${toHex(gh)}, not the trusted ${toHex(trusted)}`);
  links.push('genesis');

  // submission
  const subBytes = link('submission', () => raw(b.submission));
  const tx = link('submission', () => decodeTx(subBytes));
  if (tx.kind !== KIND_SUBMIT) throw new LinkError('submission', 'not a root submission');
  const sub = tx as SubmitRoot;
  const opKey = link('submission', () => raw(b.operator_key));
  if (opKey.length !== PUBLIC_KEY_LEN) throw new LinkError('submission', `operator_key is ${opKey.length} bytes, not ${PUBLIC_KEY_LEN}`);
  if (!equal(keyId(opKey), sub.operator)) throw new LinkError('submission', 'operator_key is not the key of the submission\'s operator');
  if (!mldsaVerify(opKey, new Uint8Array([...gh, ...subBytes.subarray(0, subBytes.length - SIGNATURE_LEN)]), sub.signature, CTX.submit)) {
    throw new LinkError('submission', 'the operator\'s signature does not verify');
  }
  links.push('submission');

  // root (only if the user states the root they hold)
  if (trust.root) {
    if (!equal(sub.root, trust.root)) throw new LinkError('root', `the bundle proves root ${toHex(sub.root)}, not ${toHex(trust.root)}`);
    links.push('root');
  }

  // header, certificate
  const hb = link('header', () => raw(b.header));
  const header = link('header', () => decodeHeader(hb));
  const cert = link('certificate', () => decodeCertificate(raw(b.certificate)));
  const bh = blockHash(hb);
  if (!equal(cert.blockHash, bh) || cert.height !== header.height) throw new LinkError('header', 'the header is not the certified block');
  links.push('header');
  const why = certificateProblem(cert, gh, g);
  if (why) throw new LinkError('certificate', why);
  links.push('certificate');

  // path
  const inc = b.inclusion as JsonObject;
  const path = link('path', () => (v1 ? hexHashes(inc.path) : b64Hashes(inc.path)));
  const leafIndex = asInt(inc.leaf_index) as bigint;
  const treeSize = asInt(inc.tree_size) as bigint;
  const id = txId(subBytes);
  if (treeSize !== header.logSize) throw new LinkError('path', `tree_size ${treeSize} is not the header's log size ${header.logSize}`);
  if (!verifyInclusion(leafIndex, treeSize, path, id, header.logRoot)) throw new LinkError('path', 'the submission is not in the header\'s log');
  links.push('path');

  const facts: BundleFacts = {
    version: v1 ? 1 : 2,
    genesisHash: toHex(gh),
    chainId: g.chainId,
    genesisPin: pin,
    submissionId: toHex(id),
    operator: toHex(sub.operator),
    seq: sub.seq,
    prev: sub.prev,
    root: toHex(sub.root),
    label: sub.label,
    recordCount: sub.recordCount,
    height: header.height,
    blockHash: toHex(bh),
    blockTimeMs: header.timeMs,
    stateRoot: header.stateRoot,
    signers: [cert.signatures.length, g.validators.length],
    leafIndex,
    anchor: null,
    links: links.slice(),
    idBytes: id,
    operatorBytes: sub.operator,
    genesisHashBytes: gh,
  };
  if (!has(b, 'anchor')) return facts;

  // history
  const an = b.anchor as JsonObject;
  const s = header.height;
  const a = asInt(an.height) as bigint;
  if (!(1n <= s && s <= a)) throw new LinkError('history', `anchored height ${a} is below the block's ${s}`);
  const hist = link('history', () => (v1 ? hexHashes(an.history_proof) : b64Hashes(an.history_proof)));
  const root = rootFromPath(s - 1n, a, hist, logLeaf(bh));
  if (!root) throw new LinkError('history', 'not a path for the block in the anchored history');
  const commitment = link('history', () => fromHex(an.commitment, 32));
  if (!equal(anchorCommitment(gh, a, root), commitment)) throw new LinkError('history', 'the path does not lead to the commitment');
  links.push('history');

  // the Bitcoin part is decoded here, before the record (whose checks use it)
  const part = link('bitcoin', () => (v1 ? partFromJson(an.bitcoin) : decodePart(fromBase64(an.bitcoin))));
  let claimedHeight: bigint | null = null;
  if (v1) {
    const rb = link('anchor_record', () => fromHex(an.record));
    const rec = link('anchor_record', () => decodeTx(rb));
    if (rec.kind !== KIND_ANCHOR || rec.validator >= g.validators.length) throw new LinkError('anchor_record', 'not a record of a genesis validator');
    if (!mldsaVerify(g.validators[rec.validator].publicKey, new Uint8Array([...gh, ...rb.subarray(0, rb.length - SIGNATURE_LEN)]), rec.signature, CTX.anchorRecord)) {
      throw new LinkError('anchor_record', 'the validator\'s signature does not verify');
    }
    if (
      rec.height !== a ||
      !equal(rec.commitment, commitment) ||
      !equal(rec.bitcoinTxid, h2(part.rawTx)) ||
      (part.headers.length > 0 && !equal(rec.bitcoinBlock, h2(part.headers[0])))
    ) {
      throw new LinkError('anchor_record', 'the record does not match the bundle');
    }
    claimedHeight = rec.bitcoinHeight;
    links.push('anchor_record');
  }

  // bitcoin: the network, the part's own checks, what backs the headers
  let network: BitcoinNetwork;
  let need: number;
  let source: 'genesis' | 'stated';
  if (g.version === 2) {
    if (!g.bitcoin) throw new LinkError('bitcoin', `network ${g.chainId} does not anchor to Bitcoin (its genesis says so), yet the bundle has an anchor part`);
    if (trust.bitcoinNetwork && trust.bitcoinNetwork !== g.bitcoin.network) {
      throw new LinkError('bitcoin', `the genesis anchors to ${g.bitcoin.network}, not the stated ${trust.bitcoinNetwork}`);
    }
    network = g.bitcoin.network;
    need = g.bitcoin.confirmations;
    source = 'genesis';
  } else {
    if (!trust.bitcoinNetwork) {
      throw new LinkError('bitcoin', 'this network\'s genesis (version 1) does not commit a Bitcoin network: state the one its anchors are on');
    }
    network = trust.bitcoinNetwork;
    need = DEFAULT_CONFIRMATIONS[network];
    source = 'stated';
  }
  const required = Math.max(need, trust.confirmations ?? 0);
  if (network !== 'regtest' && !trust.checkpoint) {
    throw new LinkError('bitcoin', `headers alone are cheap to forge on ${network}: give a Bitcoin block you trust (a checkpoint, HEIGHT:HASH); a browser cannot ask a live node`);
  }
  let anchored;
  try {
    anchored = verifyPart(part, commitment, network, required);
  } catch (e) {
    if (e instanceof PartError) throw new LinkError('bitcoin', e.message);
    throw e;
  }
  let backedBy: BitcoinFacts['backedBy'] = { kind: 'headers_only' };
  if (trust.checkpoint) {
    const cp = trust.checkpoint;
    const j = anchored.headerHashes.findIndex((x) => equal(x, cp.hash));
    if (j < 0) throw new LinkError('bitcoin', `the carried headers do not reach the checkpoint ${toHexReversed(cp.hash)}`);
    if (cp.height < BigInt(j)) throw new LinkError('bitcoin', 'the checkpoint height is below the headers it reaches');
    backedBy = { kind: 'checkpoint', height: cp.height, hash: toHexReversed(cp.hash), blockHeight: cp.height - BigInt(j) };
  }
  links.push('bitcoin');
  facts.links = links.slice();
  facts.anchor = {
    height: a,
    commitment: toHex(commitment),
    bitcoin: {
      network,
      networkSource: source,
      txid: toHexReversed(anchored.txid),
      blockHash: toHexReversed(anchored.blockHash),
      blockTime: anchored.blockTime,
      confirmations: anchored.confirmations,
      required,
      backedBy,
      claimedHeight,
    },
  };
  return facts;
}

/** The submission a bundle carries, if it decodes (record proofs check the batch against it first). */
export function bundleSubmission(b: JsonObject): SubmitRoot | null {
  try {
    const bytes = asInt(b.version) === 1n ? fromHex(b.submission) : fromBase64(b.submission);
    const tx = decodeTx(bytes);
    return tx.kind === KIND_SUBMIT ? (tx as SubmitRoot) : null;
  } catch {
    return null;
  }
}

export { tagged };
