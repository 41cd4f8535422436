// The canonical binary encodings a verifier decodes (FORMATS 3, 5, 6, 9,
// 10, 11, 19, 20.5), each with the rules of 1.8, and the hashes over them.

import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { DecodeError, Reader, ascii, be, concat, decodeExact, h2, sha256, tagged } from './bytes.js';

export const PUBLIC_KEY_LEN = 1952;
export const SIGNATURE_LEN = 3309;
export const MAX_LABEL_LEN = 64;
export const MAX_CHAIN_ID_LEN = 32;
export const MAX_VALIDATORS = 128;
export const MAX_BTC_TX = 100_000;
export const MAX_BRANCH = 32;
export const MAX_HEADERS = 2016;
export const MAX_RECORD_BITCOIN_TX = 1000;
export const MAX_RECORD_PART = 1 + 4 + MAX_RECORD_BITCOIN_TX + 4 + 2 + 32 * 32 + 2 + 80 * 100;
export const MAX_TX_SIZE = 2 + 2 + 8 + 32 + 8 + 2 + MAX_RECORD_PART + SIGNATURE_LEN;
export const PART_MAX = 1 + 4 + MAX_BTC_TX + 4 + 2 + 32 * MAX_BRANCH + 2 + 80 * MAX_HEADERS;
export const HEADER_LEN_V2 = 191;
export const CERT_MAX = 47 + MAX_VALIDATORS * (2 + SIGNATURE_LEN);
export const GENESIS_HEADER_MAX = 1 + 1 + MAX_CHAIN_ID_LEN + 8 + 28 + 4 + 2 + MAX_VALIDATORS * (PUBLIC_KEY_LEN + 8) + 32;
export const ACCOUNT_MAX = 99;
export const U64_MAX = 2n ** 64n - 1n;
export const MAX_TOTAL_POWER = U64_MAX / 3n;

export const KIND_SUBMIT = 2;
export const KIND_ANCHOR = 4;
export const KIND_ANCHOR_WITH_PART = 5;

export const CTX = {
  submit: 'pantheon/v1/submit-root',
  vote: 'pantheon/v1/vote',
  anchorRecord: 'pantheon/v1/anchor-record',
  record: 'pantheon/v1/record',
  approval: 'pantheon/v1/approval',
} as const;

export const BITCOIN_NETWORKS: Record<number, BitcoinNetwork> = { 1: 'bitcoin', 2: 'testnet4', 3: 'signet', 4: 'regtest' };
export type BitcoinNetwork = 'bitcoin' | 'testnet4' | 'signet' | 'regtest';
export const DEFAULT_CONFIRMATIONS: Record<BitcoinNetwork, number> = { bitcoin: 6, testnet4: 6, signet: 6, regtest: 1 };

/** Pure ML-DSA-65 verification with a context string (FIPS 204, FORMATS 3.5). */
export function mldsaVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, context: string): boolean {
  if (publicKey.length !== PUBLIC_KEY_LEN || signature.length !== SIGNATURE_LEN) return false;
  try {
    return ml_dsa65.verify(signature, message, publicKey, { context: ascii(context) });
  } catch {
    return false;
  }
}

export function keyId(publicKey: Uint8Array): Uint8Array {
  return tagged('pantheon/v1/key-id', publicKey);
}

export function txId(txBytes: Uint8Array): Uint8Array {
  return sha256(new Uint8Array([0]), txBytes);
}

// ---- Bitcoin part (20.5.1) ----

export interface BitcoinPart {
  rawTx: Uint8Array;
  txIndex: number;
  branch: Uint8Array[];
  headers: Uint8Array[];
}

function partBody(r: Reader): BitcoinPart {
  r.version('bitcoin part');
  const rawTx = r.take(r.count('raw_tx', 4, MAX_BTC_TX));
  const txIndex = r.u32();
  const nb = r.count('branch', 2, MAX_BRANCH);
  const branch = Array.from({ length: nb }, () => r.take(32));
  const nh = r.count('headers', 2, MAX_HEADERS);
  const headers = Array.from({ length: nh }, () => r.take(80));
  return { rawTx, txIndex, branch, headers };
}

export function decodePart(b: Uint8Array): BitcoinPart {
  return decodeExact(b, PART_MAX, partBody);
}

// ---- Transactions (5, 19) ----

export interface SubmitRoot {
  kind: 2;
  operator: Uint8Array;
  seq: bigint;
  prev: Uint8Array;
  root: Uint8Array;
  label: string;
  recordCount: bigint | null;
  signature: Uint8Array;
}
export interface AnchorRecordTx {
  kind: 4 | 5;
  validator: number;
  height: bigint;
  commitment: Uint8Array;
  bitcoinTxid: Uint8Array;
  bitcoinBlock: Uint8Array;
  bitcoinHeight: bigint;
  signature: Uint8Array;
}
export interface OtherTx {
  kind: 1 | 3;
  signature: Uint8Array;
}
export type Tx = SubmitRoot | AnchorRecordTx | OtherTx;

export function decodeTx(data: Uint8Array): Tx {
  return decodeExact(data, MAX_TX_SIZE, (r) => {
    r.version('transaction');
    const kind = r.u8();
    let tx: Tx;
    if (kind === 1) {
      r.take(PUBLIC_KEY_LEN);
      r.u64();
      tx = { kind: 1, signature: new Uint8Array() };
    } else if (kind === 2) {
      const operator = r.take(32);
      const seq = r.u64();
      const prev = r.take(32);
      const root = r.take(32);
      const labelBytes = r.shortBytes('label', MAX_LABEL_LEN);
      let label: string;
      try {
        label = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(labelBytes);
      } catch {
        throw new DecodeError('label: not UTF-8');
      }
      const recordCount = r.option('record_count') ? r.u64() : null;
      tx = { kind: 2, operator, seq, prev, root, label, recordCount, signature: new Uint8Array() };
    } else if (kind === 3) {
      r.take(PUBLIC_KEY_LEN);
      r.u64();
      r.take(32);
      r.u64();
      tx = { kind: 3, signature: new Uint8Array() };
    } else if (kind === 4) {
      tx = {
        kind: 4,
        validator: r.u16(),
        height: r.u64(),
        commitment: r.take(32),
        bitcoinTxid: r.take(32),
        bitcoinBlock: r.take(32),
        bitcoinHeight: r.u64(),
        signature: new Uint8Array(),
      };
    } else if (kind === 5) {
      const validator = r.u16();
      const height = r.u64();
      const commitment = r.take(32);
      const bitcoinHeight = r.u64();
      const n = r.count('part', 2, MAX_RECORD_PART);
      const part = decodePart(r.take(n));
      if (part.rawTx.length > MAX_RECORD_BITCOIN_TX || part.headers.length < 1 || part.headers.length > 100) {
        throw new DecodeError('part: over the record limits');
      }
      tx = { kind: 5, validator, height, commitment, bitcoinHeight, bitcoinTxid: h2(part.rawTx), bitcoinBlock: h2(part.headers[0]), signature: new Uint8Array() };
    } else {
      throw new DecodeError(`kind: invalid tag ${kind}`);
    }
    tx.signature = r.take(SIGNATURE_LEN);
    return tx;
  });
}

// ---- Block header, votes, certificates (9, 10) ----

export interface Header {
  version: number;
  height: bigint;
  parent: Uint8Array;
  timeMs: bigint;
  proposer: number;
  txCount: number;
  txRoot: Uint8Array;
  logSize: bigint;
  logRoot: Uint8Array;
  stateRoot: Uint8Array;
  lastCertificate: Uint8Array | null;
}

export function decodeHeader(data: Uint8Array): Header {
  return decodeExact(data, HEADER_LEN_V2, (r) => {
    const version = r.u8();
    if (version !== 1 && version !== 2) throw new DecodeError(`block header version ${version}`);
    return {
      version,
      height: r.u64(),
      parent: r.take(32),
      timeMs: r.u64(),
      proposer: r.u16(),
      txCount: r.u32(),
      txRoot: r.take(32),
      logSize: r.u64(),
      logRoot: r.take(32),
      stateRoot: r.take(32),
      lastCertificate: version === 2 ? r.take(32) : null,
    };
  });
}

export function blockHash(headerBytes: Uint8Array): Uint8Array {
  return tagged('pantheon/v1/block-header', headerBytes);
}

export interface Certificate {
  height: bigint;
  round: number;
  blockHash: Uint8Array;
  signatures: [number, Uint8Array][];
}

export function decodeCertificate(data: Uint8Array): Certificate {
  return decodeExact(data, CERT_MAX, (r) => {
    r.version('commit certificate');
    const height = r.u64();
    const round = r.u32();
    const bh = r.take(32);
    const n = r.count('signatures', 2, MAX_VALIDATORS);
    const signatures: [number, Uint8Array][] = [];
    for (let i = 0; i < n; i++) signatures.push([r.u16(), r.take(SIGNATURE_LEN)]);
    return { height, round, blockHash: bh, signatures };
  });
}

export function precommit(genesisHash: Uint8Array, height: bigint, round: number, block: Uint8Array): Uint8Array {
  return concat(new Uint8Array([1, 2]), genesisHash, be(height, 8), be(round, 4), new Uint8Array([1]), block);
}

export function isQuorum(power: bigint, total: bigint): boolean {
  return 3n * power > 2n * total;
}

// ---- Genesis (11) ----

export interface Validator {
  publicKey: Uint8Array;
  power: bigint;
}
export interface GenesisHeader {
  version: number;
  chainId: string;
  timeMs: bigint;
  bitcoin: { network: BitcoinNetwork; confirmations: number } | null;
  validators: Validator[];
}

export function decodeGenesis(data: Uint8Array): GenesisHeader {
  return decodeExact(data, GENESIS_HEADER_MAX, (r) => {
    const version = r.u8();
    if (version !== 1 && version !== 2) throw new DecodeError(`genesis: unsupported version ${version}`);
    const cid = r.shortBytes('chain_id', MAX_CHAIN_ID_LEN);
    if (cid.length < 1 || cid.some((c) => c < 0x21 || c > 0x7e)) {
      throw new DecodeError('chain_id: not 1..=32 printable ASCII bytes (0x21..0x7e)');
    }
    const timeMs = r.u64();
    r.take(28); // params (11.1): fees and the block limit, not used by a verifier
    let bitcoin: GenesisHeader['bitcoin'] = null;
    if (version === 2 && r.option('bitcoin')) {
      const code = r.u8();
      const network = BITCOIN_NETWORKS[code];
      if (!network) throw new DecodeError(`genesis: unknown Bitcoin network code ${code}`);
      const confirmations = r.u16();
      if (confirmations < 1 || confirmations > 100) throw new DecodeError('genesis: confirmations not in 1..=100');
      bitcoin = { network, confirmations };
    }
    const n = r.count('validators', 2, MAX_VALIDATORS);
    const validators: Validator[] = [];
    for (let i = 0; i < n; i++) validators.push({ publicKey: r.take(PUBLIC_KEY_LEN), power: r.u64() });
    checkValidatorSet(validators);
    r.take(32); // allocations hash (11.4)
    return { version, chainId: String.fromCharCode(...cid), timeMs, bitcoin, validators };
  });
}

function checkValidatorSet(vs: Validator[]): void {
  if (vs.length < 1 || vs.length > MAX_VALIDATORS) throw new DecodeError('validators: need 1..=128');
  const ids = new Set(vs.map((v) => keyIdHex(v.publicKey)));
  if (ids.size !== vs.length) throw new DecodeError('validators: duplicate key');
  if (vs.some((v) => v.power === 0n)) throw new DecodeError('validators: zero power');
  if (vs.reduce((s, v) => s + v.power, 0n) > MAX_TOTAL_POWER) throw new DecodeError('validators: total power too large');
}

function keyIdHex(pk: Uint8Array): string {
  return Array.from(keyId(pk)).join(',');
}

export function genesisHash(headerBytes: Uint8Array): Uint8Array {
  return tagged('pantheon/v1/genesis', headerBytes);
}

// ---- State (6) ----

export interface Account {
  balance: bigint;
  nonce: bigint;
  operator: { nextSeq: bigint; last: { id: Uint8Array; root: Uint8Array; height: bigint } | null } | null;
}

export function decodeAccount(data: Uint8Array): Account {
  return decodeExact(data, ACCOUNT_MAX, (r) => {
    r.version('account');
    const a: Account = { balance: r.u64(), nonce: r.u64(), operator: null };
    if (r.option('operator')) {
      const nextSeq = r.u64();
      const last = r.option('last') ? { id: r.take(32), root: r.take(32), height: r.u64() } : null;
      a.operator = { nextSeq, last };
    }
    return a;
  });
}

export function stateKeyAccount(id: Uint8Array): Uint8Array {
  return tagged('pantheon/v1/state-key', concat(new Uint8Array([1]), id));
}

export function valueHash(value: Uint8Array): Uint8Array {
  return tagged('pantheon/v1/state-value', value);
}
