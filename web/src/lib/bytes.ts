// Bytes, text encodings and hashes (FORMATS 1.3, 1.11, 2, 22.2).

import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

/** A decoding failure: the caller names the link it belongs to. */
export class DecodeError extends Error {}

const utf8 = new TextEncoder();

export function ascii(text: string): Uint8Array {
  return utf8.encode(text);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** Lexicographic comparison of byte strings. */
export function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export const ZERO = new Uint8Array(32);

export function sha256(...parts: Uint8Array[]): Uint8Array {
  return nobleSha256(parts.length === 1 ? parts[0] : concat(...parts));
}

/** Bitcoin's double SHA-256 (FORMATS 20). */
export function h2(data: Uint8Array): Uint8Array {
  return nobleSha256(nobleSha256(data));
}

/** tagged(tag, bytes) = SHA-256(tag || 0x00 || bytes) (FORMATS 2.3). */
export function tagged(tag: string, data: Uint8Array): Uint8Array {
  return sha256(ascii(tag), new Uint8Array([0]), data);
}

const HEX = '0123456789abcdef';

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += HEX[x >> 4] + HEX[x & 15];
  return s;
}

/** Bitcoin's displayed order: the bytes reversed (FORMATS 20). */
export function toHexReversed(b: Uint8Array): string {
  return toHex(Uint8Array.from(b).reverse());
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Hex of either case and nothing else (1.11); `n` is the exact byte length. */
export function fromHex(text: unknown, n?: number): Uint8Array {
  if (typeof text !== 'string' || text.length % 2 !== 0) {
    throw new DecodeError('not hex (digits 0-9, a-f, A-F only, an even number of them)');
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexDigit(text.charCodeAt(2 * i));
    const lo = hexDigit(text.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw new DecodeError('not hex (digits 0-9, a-f, A-F only, an even number of them)');
    out[i] = (hi << 4) | lo;
  }
  if (n !== undefined && out.length !== n) throw new DecodeError(`expected ${n} bytes, got ${out.length}`);
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_VALUE[B64.charCodeAt(i)] = i;

export function toBase64(b: Uint8Array): string {
  let s = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const v = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    s += B64[v >> 18] + B64[(v >> 12) & 63] + B64[(v >> 6) & 63] + B64[v & 63];
  }
  if (i + 1 === b.length) {
    const v = b[i] << 16;
    s += B64[v >> 18] + B64[(v >> 12) & 63] + '==';
  } else if (i + 2 === b.length) {
    const v = (b[i] << 16) | (b[i + 1] << 8);
    s += B64[v >> 18] + B64[(v >> 12) & 63] + B64[(v >> 6) & 63] + '=';
  }
  return s;
}

/** RFC 4648 base64 with padding, canonical only (22.2): re-encoding gives the text back. */
export function fromBase64(text: unknown): Uint8Array {
  if (typeof text !== 'string' || text.length % 4 !== 0) throw new DecodeError('invalid base64: not a multiple of 4 characters');
  let pad = 0;
  if (text.endsWith('==')) pad = 2;
  else if (text.endsWith('=')) pad = 1;
  const n = (text.length / 4) * 3 - pad;
  const out = new Uint8Array(n);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let v = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      const last = i + 4 === text.length;
      let d: number;
      if (c === 61 && last && j >= 4 - pad) d = 0;
      else {
        d = c < 128 ? B64_VALUE[c] : -1;
        if (d < 0) throw new DecodeError('invalid base64: a character outside A-Z a-z 0-9 + /');
      }
      v = (v << 6) | d;
    }
    if (o < n) out[o++] = v >> 16;
    if (o < n) out[o++] = (v >> 8) & 255;
    if (o < n) out[o++] = v & 255;
  }
  if (toBase64(out) !== text) throw new DecodeError('non-canonical base64');
  return out;
}

export function be(n: bigint | number, width: number): Uint8Array {
  let v = BigInt(n);
  const out = new Uint8Array(width);
  for (let i = width - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export function readLE(b: Uint8Array, at: number, width: number): bigint {
  let v = 0n;
  for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i]);
  return v;
}

/** A 32-byte value read as a little-endian 256-bit integer. */
export function leInt(b: Uint8Array): bigint {
  return readLE(b, 0, b.length);
}

/** Strict reader of the canonical encodings (FORMATS 1.8). */
export class Reader {
  pos = 0;
  constructor(readonly data: Uint8Array) {}

  take(n: number): Uint8Array {
    if (this.data.length - this.pos < n) throw new DecodeError(`truncated at offset ${this.pos}: need ${n} bytes`);
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  u8(): number {
    return this.take(1)[0];
  }
  u16(): number {
    const b = this.take(2);
    return (b[0] << 8) | b[1];
  }
  u32(): number {
    const b = this.take(4);
    return ((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3];
  }
  u64(): bigint {
    const b = this.take(8);
    let v = 0n;
    for (const x of b) v = (v << 8n) | BigInt(x);
    return v;
  }
  version(what: string, expected = 1): void {
    const v = this.u8();
    if (v !== expected) throw new DecodeError(`${what}: unsupported version ${v}`);
  }
  count(field: string, width: 2 | 4, maximum: number): number {
    const n = width === 2 ? this.u16() : this.u32();
    if (n > maximum) throw new DecodeError(`${field}: count ${n} > ${maximum}`);
    return n;
  }
  shortBytes(field: string, maximum: number): Uint8Array {
    const n = this.u8();
    if (n > maximum) throw new DecodeError(`${field}: length ${n} > ${maximum}`);
    return this.take(n);
  }
  option(field: string): boolean {
    const t = this.u8();
    if (t !== 0 && t !== 1) throw new DecodeError(`${field}: invalid option tag ${t}`);
    return t === 1;
  }
  finish(): void {
    if (this.pos !== this.data.length) throw new DecodeError(`${this.data.length - this.pos} trailing bytes`);
  }
}

/** Decodes exactly `data` (no oversize input, no trailing bytes). */
export function decodeExact<T>(data: Uint8Array, maxSize: number, body: (r: Reader) => T): T {
  if (data.length > maxSize) throw new DecodeError(`oversize: ${data.length} > ${maxSize}`);
  const r = new Reader(data);
  const v = body(r);
  r.finish();
  return v;
}
