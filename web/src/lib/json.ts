// The strict JSON reader of FORMATS 1.11 and 22.6: RFC 8259 only, no
// duplicate member at any depth, no number beyond a double, no unpaired
// surrogate, at most 16 levels of arrays and objects. JSON.parse keeps the
// last duplicate and loses u64 precision, so we read the text ourselves.

import { DecodeError } from './bytes.js';

export const MAX_JSON_DEPTH = 16;

/** A JSON number, kept as its text so that u64 integers stay exact. */
export class JsonNumber {
  constructor(
    readonly text: string,
    readonly value: number,
  ) {}
  /** Digits only (no sign, fraction or exponent): the integer, else null. */
  integer(): bigint | null {
    return /^(0|[1-9][0-9]*)$/.test(this.text) ? BigInt(this.text) : null;
  }
}

export type Json = null | boolean | string | JsonNumber | Json[] | JsonObject;
export interface JsonObject {
  [name: string]: Json;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);
}

export function has(o: JsonObject, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, name);
}

/** A JSON integer in 0..=max (1.11), else null. */
export function asInt(v: unknown, max = 2n ** 64n - 1n): bigint | null {
  if (!(v instanceof JsonNumber)) return null;
  const n = v.integer();
  return n !== null && n <= max ? n : null;
}

export function parseJson(text: string): Json {
  let i = 0;
  const fail = (why: string): never => {
    throw new DecodeError(`not JSON: ${why} at character ${i}`);
  };
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else return;
    }
  };
  const str = (): string => {
    i++; // the opening quote
    let out = '';
    for (;;) {
      if (i >= text.length) fail('the document ends inside a string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return out;
      }
      if (c < 0x20) fail('a control character in a string');
      if (c === 0x5c) {
        const e = text[i + 1];
        i += 2;
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            const h = text.slice(i, i + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('a bad \\u escape');
            out += String.fromCharCode(parseInt(h, 16));
            i += 4;
            break;
          }
          default:
            fail('a bad escape');
        }
      } else {
        out += text[i];
        i++;
      }
    }
  };
  const num = (): JsonNumber => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0].length === 0 || m[0] === '-') fail('a bad number');
    const t = (m as RegExpExecArray)[0];
    i += t.length;
    const v = Number(t);
    if (!Number.isFinite(v)) fail(`number ${t} is out of range`);
    return new JsonNumber(t, v);
  };
  const value = (depth: number): Json => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      if (depth + 1 > MAX_JSON_DEPTH) throw new DecodeError(`arrays and objects nested more than ${MAX_JSON_DEPTH} deep`);
    }
    if (c === '{') {
      i++;
      const o: JsonObject = Object.create(null) as JsonObject;
      ws();
      if (text[i] === '}') {
        i++;
        return o;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('a member name must be a string');
        const k = str();
        if (has(o, k)) throw new DecodeError(`not JSON: duplicate member ${JSON.stringify(k)}`);
        ws();
        if (text[i] !== ':') fail('expected :');
        i++;
        o[k] = value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return o;
        }
        fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      const a: Json[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return a;
      }
      for (;;) {
        a.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return a;
        }
        fail('expected , or ]');
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    if (c === '-' || (c >= '0' && c <= '9')) return num();
    if (i >= text.length) fail('the document ends early');
    return fail('unexpected character');
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail('trailing characters');
  checkSurrogates(v);
  return v;
}

function checkSurrogates(v: Json): void {
  const str = (s: string) => {
    if (!s.isWellFormed()) throw new DecodeError('a string with an unpaired surrogate');
  };
  if (typeof v === 'string') str(v);
  else if (Array.isArray(v)) v.forEach(checkSurrogates);
  else if (isObject(v)) {
    for (const k of Object.keys(v)) {
      str(k);
      checkSurrogates(v[k]);
    }
  }
}

/** Reads JSON bytes: UTF-8 (no byte-order mark), then parseJson. */
export function parseJsonBytes(bytes: Uint8Array): Json {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new DecodeError('not JSON: not UTF-8');
  }
  return parseJson(text);
}
