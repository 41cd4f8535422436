// The JSON genesis file (FORMATS 11.6) turned into its binary header, so
// that a verifier can pin the network with the file it was given.

import { DecodeError, ascii, be, compare, concat, fromHex, tagged } from './bytes.js';
import { PUBLIC_KEY_LEN, decodeGenesis } from './codec.js';
import { asInt, has, isObject, parseJson, type Json, type JsonObject } from './json.js';

const SUPPLY = 5_000_000_000n * 1_000_000_000n;
const NETWORK_CODES: Record<string, number> = { bitcoin: 1, testnet4: 2, signet: 3, regtest: 4 };

function units(v: Json): bigint {
  if (typeof v !== 'string' || !/^(0|[1-9][0-9]*)$/.test(v)) throw new DecodeError(`not a decimal amount string: ${JSON.stringify(v)}`);
  const n = BigInt(v);
  if (n >= 2n ** 64n) throw new DecodeError(`amount exceeds u64: ${v}`);
  return n;
}

function exactly(o: Json, names: string[], what: string): JsonObject {
  if (!isObject(o)) throw new DecodeError(`${what} is not an object`);
  const keys = Object.keys(o);
  if (keys.length !== names.length || !names.every((n) => has(o, n))) {
    throw new DecodeError(`${what} has members ${keys.sort().join(', ')}, not ${names.slice().sort().join(', ')}`);
  }
  return o;
}

/** The genesis header of a genesis file's text; throws DecodeError. */
export function genesisHeaderFromFile(text: string): Uint8Array {
  const j = parseJson(text);
  if (!isObject(j)) throw new DecodeError('a genesis file is a JSON object');
  const version = has(j, 'version') ? asInt(j.version) : 1n;
  if (version !== 1n && version !== 2n) throw new DecodeError('genesis version: this reader knows 1 and 2');
  const top = ['chain_id', 'time_ms', 'params', 'validators', 'allocations'];
  if (has(j, 'version')) top.push('version');
  if (version === 2n) top.push('bitcoin');
  exactly(j, top, 'the genesis');
  const p = exactly(j.params, ['submit_fee', 'transfer_fee', 'register_fee', 'max_block_txs'], 'params');
  if (typeof j.chain_id !== 'string') throw new DecodeError('chain_id is not a string');
  const cid = ascii(j.chain_id);
  const time = asInt(j.time_ms);
  const maxTxs = asInt(p.max_block_txs, 2n ** 32n - 1n);
  if (time === null || maxTxs === null) throw new DecodeError('time_ms and max_block_txs are integers');
  const params = concat(be(units(p.submit_fee), 8), be(units(p.transfer_fee), 8), be(units(p.register_fee), 8), be(maxTxs, 4));
  if (!Array.isArray(j.validators)) throw new DecodeError('validators is not an array');
  const vs = j.validators.map((v) => {
    const o = exactly(v, ['public_key', 'power'], 'a validator');
    const power = asInt(o.power);
    if (power === null) throw new DecodeError('a validator power is not an integer');
    return concat(fromHex(o.public_key, PUBLIC_KEY_LEN), be(power, 8));
  });
  if (!Array.isArray(j.allocations)) throw new DecodeError('allocations is not an array');
  const allocs = j.allocations.map((a) => {
    const o = exactly(a, ['account', 'amount'], 'an allocation');
    return { account: fromHex(o.account, 32), amount: units(o.amount) };
  });
  if (allocs.length > 1 << 20) throw new DecodeError('too many allocations');
  let sum = 0n;
  allocs.forEach((a, i) => {
    if (a.amount === 0n || (i > 0 && compare(allocs[i - 1].account, a.account) >= 0)) {
      throw new DecodeError('allocations must be sorted, unique and non-zero');
    }
    sum += a.amount;
  });
  if (sum !== SUPPLY) throw new DecodeError('allocations do not sum to the supply');
  const allocBytes = concat(be(allocs.length, 4), ...allocs.map((a) => concat(a.account, be(a.amount, 8))));
  let bitcoin: Uint8Array = new Uint8Array();
  if (version === 2n) {
    if (j.bitcoin === null) bitcoin = new Uint8Array([0]);
    else {
      const b = exactly(j.bitcoin, ['network', 'confirmations'], 'bitcoin');
      const code = typeof b.network === 'string' ? NETWORK_CODES[b.network] : undefined;
      const k = asInt(b.confirmations, 100n);
      if (!code || k === null || k < 1n) throw new DecodeError('bitcoin is {network, confirmations} with a known network and 1..=100');
      bitcoin = concat(new Uint8Array([1, code]), be(k, 2));
    }
  }
  const header = concat(
    new Uint8Array([Number(version), cid.length]),
    cid,
    be(time, 8),
    params,
    bitcoin,
    be(vs.length, 2),
    ...vs,
    tagged('pantheon/v1/genesis-allocations', allocBytes),
  );
  decodeGenesis(header); // the chain id and validator set rules
  return header;
}
