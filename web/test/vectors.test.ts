// Every file in docs/vectors, checked by the TypeScript verifier
// (node --test). Each vector file is read with the verifier's own strict
// JSON reader, so numbers stay exact.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { bytes, codec, json, merkle, bitcoin, verifyBundle, verifyDocument, verifyRecord, decodeRecord, jcs, bodyHash, LinkError } from '../src/lib/index.js';
import { verifyRecordProof } from '../src/lib/record.js';
import { verifyOperatorExport } from '../src/lib/export.js';
import { genesisHeaderFromFile } from '../src/lib/genesis.js';
import { otsOperations, replay, writeOts } from '../src/lib/ots.js';
import type { Json, JsonObject } from '../src/lib/json.js';

const here = dirname(fileURLToPath(import.meta.url));
const VECTORS = process.env.PANTHEON_VECTORS ?? join(here, '..', '..', '..', 'docs', 'vectors');
const { fromHex, toHex, fromBase64, toBase64, sha256, tagged, concat } = bytes;

function load(name: string): JsonObject {
  return json.parseJson(readFileSync(join(VECTORS, `${name}.json`), 'utf8')) as JsonObject;
}
function loadText(name: string): string {
  return readFileSync(join(VECTORS, `${name}.json`), 'utf8');
}
const o = (v: Json) => v as JsonObject;
const a = (v: Json) => v as Json[];
const s = (v: Json) => v as string;
const n = (v: Json) => Number((v as json.JsonNumber).text);
const big = (v: Json) => BigInt((v as json.JsonNumber).text);
const clone = (v: Json): Json => json.parseJson(serialize(v));

/** Writes a parsed document back as JSON text, numbers exactly as read. */
function serialize(v: Json): string {
  if (v instanceof json.JsonNumber) return v.text;
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(serialize).join(',') + ']';
  return '{' + Object.keys(v).map((k) => JSON.stringify(k) + ':' + serialize(v[k])).join(',') + '}';
}

function failedLink(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof LinkError) return e.link;
    throw e;
  }
}

const genesisV = load('genesis');
const GENESIS = fromHex(genesisV.header_bytes);
const GENESIS_HASH = fromHex(genesisV.genesis_hash);

test('the verifier checks every file in docs/vectors', () => {
  const files = readdirSync(VECTORS).filter((f) => f.endsWith('.json')).sort();
  const covered = ['anchor', 'bitcoin-part', 'block', 'bundle-limits', 'bundle-malformed', 'bundle-pinned', 'bundle-v1', 'bundle', 'genesis', 'keys', 'log', 'operator-export', 'ots', 'receipts', 'record-proof', 'records', 'state', 'transactions'];
  // Node to node only: what a node accepts relayed batches from (FORMATS
  // 27) is nothing a browser holds or verifies; the Python verifier checks it.
  // Audit documents (FORMATS 28): `pantheon verify` and the Python
  // verifier judge them; the page does not yet (it has no full state-tree
  // rebuild), and says so rather than guessing.
  const notForBrowsers = ['relay', 'audit'];
  assert.deepEqual(files, [...covered, ...notForBrowsers].map((f) => `${f}.json`).sort(), 'a vector file this suite does not check');
});

test('keys.json: public keys from seeds, ids, PKCS#8 seed form, signatures with contexts', () => {
  const v = load('keys');
  for (const k of a(v.keys).map(o)) {
    const pk = ml_dsa65.keygen(fromHex(k.seed)).publicKey;
    assert.equal(toHex(pk), k.public_key);
    assert.equal(toHex(codec.keyId(pk)), k.id);
    const der = fromBase64(s(k.pkcs8_pem).split('\n').filter((l) => l && !l.startsWith('-----')).join(''));
    assert.equal(toHex(der), '3034020100300b060960864801650304031204228020' + s(k.seed));
  }
  for (const sig of a(v.signatures).map(o)) {
    const pk = ml_dsa65.keygen(fromHex(sig.seed)).publicKey;
    assert.ok(codec.mldsaVerify(pk, fromHex(sig.message), fromHex(sig.signature), s(sig.context)));
    const other = s(sig.context) === codec.CTX.vote ? codec.CTX.submit : codec.CTX.vote;
    assert.ok(!codec.mldsaVerify(pk, fromHex(sig.message), fromHex(sig.signature), other), 'another context must not verify');
  }
});

test('transactions.json: decoding, ids, signing messages and signatures', () => {
  const v = load('transactions');
  const pk = ml_dsa65.keygen(fromHex(v.signer_seed)).publicKey;
  const gh = fromHex(v.genesis_hash);
  for (const t of a(v.transactions).map(o)) {
    const b = fromHex(t.bytes);
    const tx = codec.decodeTx(b);
    assert.equal(toHex(codec.txId(b)), t.id, s(t.name));
    assert.equal(toHex(concat(gh, fromHex(t.unsigned_bytes))), t.signing_message);
    assert.equal(toHex(tx.signature), t.signature);
    assert.ok(codec.mldsaVerify(pk, fromHex(t.signing_message), tx.signature, s(t.context)), s(t.name));
    assert.throws(() => codec.decodeTx(b.subarray(0, b.length - 1)), bytes.DecodeError);
    assert.throws(() => codec.decodeTx(concat(b, new Uint8Array([0]))), bytes.DecodeError);
    if (tx.kind === 2) assert.equal(toHex(tx.operator), toHex(codec.keyId(pk)));
  }
});

test('genesis.json: headers from the JSON files and their hashes, both versions', () => {
  const header = genesisHeaderFromFile(serialize(genesisV.genesis));
  assert.equal(toHex(header), genesisV.header_bytes);
  assert.equal(toHex(codec.genesisHash(header)), genesisV.genesis_hash);
  for (const [name, g] of Object.entries(o(genesisV.version_2)).map(([k, x]) => [k, o(x)] as const)) {
    const h = genesisHeaderFromFile(serialize(g.genesis));
    assert.equal(toHex(h), g.header_bytes, name);
    assert.equal(toHex(codec.genesisHash(h)), g.genesis_hash, name);
    const d = codec.decodeGenesis(h);
    assert.equal(d.version, 2);
    assert.equal(d.bitcoin?.network ?? 'none', name === 'no_bitcoin' ? 'none' : name);
  }
  const extra = o(clone(genesisV.genesis));
  extra.extra = 1 as unknown as Json;
  assert.throws(() => genesisHeaderFromFile(serialize(extra)), /members/);
});

test('block.json: headers, block hashes, votes and the commit certificate', () => {
  const v = load('block');
  const hb = fromHex(v.header_bytes);
  const h = codec.decodeHeader(hb);
  const f = o(v.header);
  assert.equal(h.height, big(f.height));
  assert.equal(toHex(h.parent), f.parent);
  assert.equal(h.timeMs, big(f.time_ms));
  assert.equal(h.txCount, n(f.tx_count));
  assert.equal(toHex(h.logRoot), f.log_root);
  assert.equal(toHex(codec.blockHash(hb)), v.block_hash);
  const cert = codec.decodeCertificate(fromHex(v.certificate_bytes));
  const msg = codec.precommit(GENESIS_HASH, cert.height, cert.round, cert.blockHash);
  assert.equal(toHex(msg), v.precommit_bytes);
  const g = codec.decodeGenesis(GENESIS);
  assert.ok(codec.mldsaVerify(g.validators[0].publicKey, msg, cert.signatures[0][1], codec.CTX.vote));
  const v2 = o(v.version_2);
  const h2 = codec.decodeHeader(fromHex(v2.header_bytes));
  assert.equal(h2.version, 2);
  assert.equal(toHex(h2.lastCertificate as Uint8Array), v2.certificate_hash);
  assert.equal(toHex(tagged('pantheon/v1/certificate', fromHex(v.certificate_bytes))), v2.certificate_hash);
  assert.equal(toHex(codec.blockHash(fromHex(v2.header_bytes))), v2.block_hash);
  assert.throws(() => codec.decodeHeader(concat(new Uint8Array([3]), hb.subarray(1))), /version/);
});

test('state.json: state keys, value hashes and proofs of presence and absence', () => {
  const v = load('state');
  for (const r of a(v.records).map(o)) {
    assert.equal(toHex(codec.stateKeyAccount(fromHex(r.account_id))), r.tree_key);
    assert.equal(toHex(codec.valueHash(fromHex(r.value_bytes))), r.value_hash);
    codec.decodeAccount(fromHex(r.value_bytes));
  }
  assert.equal(toHex(tagged('pantheon/v1/state-key', new Uint8Array([2]))), v.params_key);
  const values = new Map(a(v.records).map(o).map((r) => [s(r.tree_key), fromHex(r.value_hash)]));
  for (const p of a(v.proofs).map(o)) {
    const pr = o(p.proof);
    const leaf = pr.leaf === null ? null : { key: fromHex(o(pr.leaf).key), valueHash: fromHex(o(pr.leaf).value_hash) };
    const proof = { siblings: a(pr.siblings).map((x) => fromHex(x)), leaf };
    const key = fromHex(p.tree_key);
    const value = p.present ? (values.get(s(p.tree_key)) as Uint8Array) : null;
    assert.ok(merkle.smtVerify(fromHex(v.root), key, value, proof));
    assert.ok(!merkle.smtVerify(fromHex(v.root), key, p.present ? null : bytes.ZERO, proof), 'the other claim must fail');
  }
});

test('log.json: RFC 9162 roots, inclusion and consistency proofs', () => {
  const v = load('log');
  const leaves = a(v.leaf_hashes).map((x) => fromHex(x));
  a(v.leaves).forEach((l, i) => assert.equal(toHex(merkle.logLeaf(fromHex(l))), toHex(leaves[i])));
  assert.equal(toHex(sha256(new Uint8Array())), v.empty_root);
  for (const r of a(v.roots).map(o)) assert.equal(toHex(merkle.mth(leaves.slice(0, n(r.tree_size)))), r.root);
  for (const p of a(v.inclusion_proofs).map(o)) {
    const size = n(p.tree_size);
    const i = n(p.leaf_index);
    const path = a(p.path).map((x) => fromHex(x));
    const root = merkle.mth(leaves.slice(0, size));
    assert.ok(merkle.verifyInclusion(BigInt(i), BigInt(size), path, leaves[i], root));
    assert.ok(!merkle.verifyInclusion(BigInt(i), BigInt(size), path, leaves[i], sha256(root)));
  }
  for (const p of a(v.consistency_proofs).map(o)) {
    const m = n(p.old_size);
    const nn = n(p.new_size);
    const path = a(p.path).map((x) => fromHex(x));
    const oldRoot = merkle.mth(leaves.slice(0, m));
    const newRoot = merkle.mth(leaves.slice(0, nn));
    assert.ok(merkle.verifyConsistency(BigInt(m), BigInt(nn), path, oldRoot, newRoot), `${m}..${nn}`);
    assert.ok(!merkle.verifyConsistency(BigInt(m), BigInt(nn), path, newRoot, oldRoot) || m === nn, `${m}..${nn} reversed`);
  }
});

test('anchor.json: the history log, the anchor commitment and the AnchorRecord', () => {
  const v = load('anchor');
  const hist = o(v.history);
  const leaves = a(hist.block_hashes).map((x) => merkle.logLeaf(fromHex(x)));
  assert.deepEqual(leaves.map(toHex), a(hist.leaf_hashes));
  for (const r of a(hist.roots).map(o)) {
    const size = n(r.tree_size ?? r.size);
    assert.equal(toHex(merkle.mth(leaves.slice(0, size))), r.root);
  }
  for (const p of a(hist.inclusion_proofs).map(o)) {
    const size = n(p.size);
    const root = merkle.rootFromPath(big(p.leaf_index), BigInt(size), a(p.path).map((x) => fromHex(x)), leaves[n(p.leaf_index)]);
    assert.equal(toHex(root as Uint8Array), toHex(merkle.mth(leaves.slice(0, size))));
  }
  const c = o(v.commitment);
  assert.equal(toHex(merkle.anchorCommitment(fromHex(v.genesis_hash), big(c.height), fromHex(c.history_root))), c.commitment);
  const rec = o(v.anchor_record);
  const rb = fromHex(rec.bytes);
  const tx = codec.decodeTx(rb);
  assert.equal(tx.kind, 4);
  const g = codec.decodeGenesis(GENESIS);
  assert.ok(codec.mldsaVerify(g.validators[0].publicKey, fromHex(rec.signing_message), tx.signature, codec.CTX.anchorRecord));
  assert.equal(toHex(codec.txId(rb)), rec.id);
});

test('bitcoin-part.json: the part decodes and proves its commitment; tampering is refused at its own link', () => {
  const v = load('bitcoin-part');
  const part = codec.decodePart(fromHex(v.part_bytes));
  const c = fromHex(v.commitment);
  const r = bitcoin.verifyPart(part, c, 'regtest', 3);
  assert.equal(toHex(r.headerHashes[0]), o(a(v.header_hashes)[0]).internal);
  assert.equal(toHex(part.headers[0].subarray(36, 68)), v.merkle_root);
  const refused = (what: string, p: codec.BitcoinPart, prefix: string, network: codec.BitcoinNetwork = 'regtest', k = 1, cm = c) =>
    assert.throws(() => bitcoin.verifyPart(p, cm, network, k), (e: Error) => e.message.startsWith(prefix), what);
  refused('k=4', part, 'confirmations', 'regtest', 4);
  refused('mainnet', part, 'header 0: target above', 'bitcoin');
  refused('the duplicated position', { ...part, txIndex: 3 }, 'merkle: right child');
  refused('another commitment', part, 'commitment: wrong', 'regtest', 1, new Uint8Array(32));
  refused('a 64-byte transaction', { ...part, rawTx: new Uint8Array(64) }, 'transaction: 64-byte');
  part.headers.forEach((_, i) => {
    const hs = part.headers.map((h) => Uint8Array.from(h));
    hs[i][79] ^= 0x80;
    refused(`header ${i}`, { ...part, headers: hs }, 'header');
  });
});

const bundleText = loadText('bundle');
const bundleV1Text = loadText('bundle-v1');

test('bundle.json and bundle-v1.json: every link verifies; each tampered link is named', () => {
  const b2 = verifyBundle(json.parseJson(bundleText), { genesis: GENESIS, bitcoinNetwork: 'regtest', confirmations: 3 });
  assert.deepEqual(b2.links, ['format', 'genesis', 'submission', 'header', 'certificate', 'path', 'history', 'bitcoin']);
  assert.equal(b2.height, 1n);
  const b1 = verifyBundle(json.parseJson(bundleV1Text), { bitcoinNetwork: 'regtest', confirmations: 3 });
  assert.deepEqual(b1.links, ['format', 'genesis', 'submission', 'header', 'certificate', 'path', 'history', 'anchor_record', 'bitcoin']);
  assert.equal(b1.anchor?.bitcoin.txid, b2.anchor?.bitcoin.txid);
  assert.equal(failedLink(() => verifyBundle(json.parseJson(bundleText), {})), 'genesis', 'no genesis supplied');
  assert.equal(failedLink(() => verifyBundle(json.parseJson(bundleV1Text), {})), 'bitcoin', 'a version-1 genesis names no network');
  assert.equal(failedLink(() => verifyBundle(json.parseJson(bundleText), { genesis: GENESIS, confirmations: 4 })), 'bitcoin');
  const flip64 = (t: string, at: number) => {
    const r = fromBase64(t);
    r[at] ^= 1;
    return toBase64(r);
  };
  const cases: [string, string, (b: JsonObject) => void][] = [
    ['submission', 'submission', (b) => (b.submission = flip64(s(b.submission), 40))],
    ['header', 'header', (b) => (b.header = flip64(s(b.header), 20))],
    ['certificate', 'certificate', (b) => (b.certificate = flip64(s(b.certificate), 100))],
    ['path', 'path', (b) => (o(b.inclusion).path = toBase64(new Uint8Array(32)))],
    ['history', 'history', (b) => (o(b.anchor).history_proof = flip64(s(o(b.anchor).history_proof), 0))],
    ['commitment', 'history', (b) => (o(b.anchor).commitment = '00' + s(o(b.anchor).commitment).slice(2))],
    ['raw_tx', 'bitcoin', (b) => (o(b.anchor).bitcoin = flip64(s(o(b.anchor).bitcoin), 5))],
    ['last header', 'bitcoin', (b) => (o(b.anchor).bitcoin = flip64(s(o(b.anchor).bitcoin), fromBase64(o(b.anchor).bitcoin).length - 1))],
    ['genesis hash', 'genesis', (b) => (b.genesis_hash = '00' + s(b.genesis_hash).slice(2))],
  ];
  for (const [what, link, edit] of cases) {
    const b = o(json.parseJson(bundleText));
    edit(b);
    assert.equal(failedLink(() => verifyBundle(b, { genesis: GENESIS })), link, what);
  }
});

test('bundle-limits.json: a bundle at every path limit verifies', () => {
  const v = load('bundle-limits');
  const f = verifyBundle(v.bundle);
  assert.ok(f.anchor);
  assert.equal(f.height > 0n, true);
});

test('bundle-pinned.json: the network from a version-2 genesis; headers alone refused off regtest', () => {
  const v = load('bundle-pinned');
  const reg = verifyBundle(v.regtest);
  assert.equal(reg.anchor?.bitcoin.network, 'regtest');
  assert.equal(reg.anchor?.bitcoin.required, 3);
  assert.equal(failedLink(() => verifyBundle(v.regtest, { bitcoinNetwork: 'testnet4' })), 'bitcoin');
  assert.equal(failedLink(() => verifyBundle(v.testnet4)), 'bitcoin');
  const rec = o(v.record_kind5);
  const tx = codec.decodeTx(fromHex(rec.bytes));
  assert.equal(tx.kind, 5);
  assert.equal(toHex(codec.txId(fromHex(rec.bytes))), rec.id);
});

test('bundle-malformed.json: every case is refused at its link, or verifies', () => {
  const v = load('bundle-malformed');
  const bases: Record<string, string | null> = { bundle: bundleText, 'bundle-v1': bundleV1Text, limits: serialize(load('bundle-limits').bundle), none: null };
  const trust: Record<string, object> = { bundle: { genesis: GENESIS, bitcoinNetwork: 'regtest' }, 'bundle-v1': { bitcoinNetwork: 'regtest' }, limits: {}, none: {} };
  for (const c of a(v.cases).map(o)) {
    let text: string;
    if (json.has(c, 'text')) text = s(c.text);
    else {
      const doc = json.parseJson(bases[s(c.base)] as string);
      for (const e of a(c.edits ?? []).map(o)) {
        const at = a(e.at).map((x) => (x instanceof json.JsonNumber ? Number(x.text) : s(x)));
        let obj = doc as unknown as Record<string | number, Json>;
        for (const p of at.slice(0, -1)) obj = obj[p] as unknown as Record<string | number, Json>;
        const last = at[at.length - 1];
        if (e.remove === true) delete obj[last];
        else obj[last] = e.value;
      }
      text = serialize(doc);
      if (json.has(c, 'insert')) text = '{' + s(c.insert) + text.slice(1);
    }
    let got: string | null;
    try {
      got = failedLink(() => verifyBundle(json.parseJson(text), trust[s(c.base)]));
    } catch (e) {
      if (!(e instanceof bytes.DecodeError)) throw e;
      got = 'format';
    }
    assert.equal(got, c.failed_link, `${c.base}: ${c.name}`);
    const d = verifyDocument(text, c.base === 'bundle' ? { genesisFile: serialize(genesisV.genesis), bitcoinNetwork: 'regtest' } : c.base === 'bundle-v1' ? { bitcoinNetwork: 'regtest' } : {});
    assert.equal(d.failedLink, c.failed_link, `verifyDocument ${c.base}: ${c.name}`);
  }
});

test('records.json: RFC 8785, envelopes, signatures, the chain and the batch; refused records at their links', () => {
  const v = load('records');
  for (const c of a(v.jcs).map(o)) {
    const body = json.parseJson(s(c.input));
    assert.equal(jcs(body), c.canonical);
    assert.equal(toHex(bodyHash(body)), c.body_hash);
  }
  const pk = ml_dsa65.keygen(fromHex(v.operator_seed)).publicKey;
  assert.equal(toHex(codec.keyId(pk)), v.operator);
  const leaves: Uint8Array[] = [];
  let prev: ReturnType<typeof verifyRecord> | null = null;
  for (const r of a(v.records).map(o)) {
    const data = concat(fromHex(r.envelope), fromHex(r.signature));
    assert.equal(jcs(r.body), r.body_canonical);
    const e = verifyRecord(data, pk, r.body);
    assert.equal(toHex(e.hash), r.record_hash);
    assert.equal(toHex(merkle.logLeaf(e.hash)), r.leaf);
    assert.equal(e.index, prev ? prev.index + 1n : 0n);
    assert.equal(toHex(e.prev), prev ? toHex(prev.hash) : toHex(bytes.ZERO));
    const f = o(r.fields);
    assert.equal(e.stream, f.stream);
    assert.equal(e.kind, f.kind);
    leaves.push(merkle.logLeaf(e.hash));
    prev = e;
  }
  const batch = o(v.batch);
  const root = merkle.mth(leaves);
  assert.equal(toHex(root), batch.root);
  for (const p of a(batch.paths).map(o)) {
    assert.ok(merkle.verifyInclusion(big(p.index), big(batch.size), a(p.path).map((x) => fromHex(x)), leaves[n(p.index)], root));
  }
  const first = decodeRecord(concat(fromHex(o(a(v.records)[0]).envelope), fromHex(o(a(v.records)[0]).signature))).e;
  for (const bad of a(v.invalid).map(o)) {
    const got = failedLink(() => {
      if (json.has(bad, 'body_text')) return bodyHash(json.parseJson(s(bad.body_text)));
      if (json.has(bad, 'envelope')) {
        // an envelope alone, judged by its manifest rule (23.3)
        const env = fromHex(bad.envelope);
        const { e } = decodeRecord(concat(env, new Uint8Array(codec.SIGNATURE_LEN)));
        if (e.kind === 'decision' && !e.manifest) throw new LinkError('manifest', 'a decision names no manifest');
        if ((e.kind === 'manifest' || e.kind === 'approval') && e.manifest) throw new LinkError('manifest', 'names a manifest');
        return;
      }
      const e = verifyRecord(fromHex(bad.record), pk, json.has(bad, 'body') ? bad.body : undefined);
      if (json.has(bad, 'follows') && !(e.index === first.index + 1n && bytes.equal(e.prev, first.hash))) throw new LinkError('chain', 'does not follow');
    });
    assert.equal(got, bad.link, s(bad.name));
  }
});

test('record-proof.json: the valid proofs verify; each tampered one is refused at its link', () => {
  const v = load('record-proof');
  for (const c of a(v.valid).map(o)) {
    const r = verifyRecordProof(c.proof);
    assert.equal(r.bundle.height, 1n, s(c.name));
    assert.equal(verifyDocument(serialize(c.proof)).valid, true, s(c.name));
  }
  for (const c of a(v.invalid).map(o)) {
    assert.equal(failedLink(() => verifyRecordProof(c.proof)), c.link, s(c.name));
    assert.equal(verifyDocument(serialize(c.proof)).failedLink, c.link, s(c.name));
  }
});

test('operator-export.json: complete exports verify; withheld, reordered or edited ones are refused', () => {
  const v = load('operator-export');
  let valid = 0;
  for (const c of a(v.cases).map(o)) {
    if (c.fails === null) {
      const x = verifyOperatorExport(c.export);
      assert.equal(x.operator, v.operator, s(c.name));
      assert.equal(x.anchored, x.count);
      valid++;
    } else {
      assert.equal(failedLink(() => verifyOperatorExport(c.export)), c.fails, s(c.name));
    }
    assert.equal(verifyDocument(serialize(c.export)).failedLink, c.fails, `verifyDocument ${c.name}`);
  }
  assert.equal(valid, 3);
});

test('verifyDocument: pins, options and their errors', () => {
  const genesisFile = serialize(genesisV.genesis);
  const ok = verifyDocument(bundleText, { genesisFile, bitcoinNetwork: 'regtest' });
  assert.equal(ok.valid, true, ok.headline);
  assert.ok(ok.facts.some((f) => f.label === 'genesis' && f.value.includes('pinned by the genesis file')));
  assert.ok(ok.notChecked.some((x) => x.includes('best chain')));
  const wrongHash = verifyDocument(bundleText, { genesisFile, genesisHash: '00'.repeat(32) });
  assert.equal(wrongHash.failedLink, 'genesis');
  const root = verifyDocument(bundleText, { genesisFile, root: '11'.repeat(32) });
  assert.equal(root.failedLink, 'root');
  const bad = verifyDocument(bundleText, { genesisHash: 'xyz' });
  assert.equal(bad.valid, false);
  assert.ok(bad.inputError);
  assert.equal(verifyDocument('{"version": 2').failedLink, 'format');
  assert.equal(verifyDocument(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d])).failedLink, 'format');
});

test('ots.json: the .ots files, re-derived from their bundles and record proof, reach the Merkle root', () => {
  const v = load('ots');
  const sources: Record<string, JsonObject> = { 'bundle.json': load('bundle'), 'bundle-v1.json': load('bundle-v1') };
  for (const c of a(v.cases).map(o)) {
    const file = fromHex(c.ots);
    if (c.source === 'bundle-v1.json') {
      // version 1 (hex members): its operations must be those of bundle.json, the same proof in version 2
      assert.equal(toHex(file).length > 0, true);
      assert.equal(c.digest, o(a(v.cases)[0]).digest, s(c.name));
      continue;
    }
    const p = c.source === 'bundle.json' ? null : o(c.record_proof);
    const bundle = p ? o(p.bundle) : sources[s(c.source)];
    const ops = otsOperations(bundle, p ? o(p.batch) : undefined);
    const digest = fromHex(c.digest, 32);
    assert.equal(toHex(writeOts(digest, ops, n(c.bitcoin_height))), c.ots, s(c.name));
    assert.equal(toHex(replay(digest, ops)), c.merkle_root, s(c.name));
    if (p) assert.equal(verifyDocument(serialize(p), { bitcoinNetwork: 'regtest' }).valid, true, 'the record proof verifies');
  }
});

test('receipts.json: leaves, group root, the 121-byte head and its signature; every valid receipt\'s path leads to that root (FORMATS 26.1)', () => {
  const v = load('receipts');
  const g = o(v.group);
  const leaves = a(g.leaves).map((x) => fromHex(s(x)));
  assert.deepEqual(leaves.map((l) => l.length), [72, 72, 72]);
  const hashes = leaves.map((l) => merkle.logLeaf(l));
  assert.deepEqual(hashes.map(toHex), a(g.leaf_hashes).map(s));
  const root = merkle.mth(hashes);
  assert.equal(toHex(root), s(g.root));
  const head = fromHex(s(g.message));
  assert.equal(head.length, 121);
  assert.equal(toHex(head.subarray(89)), s(g.root), 'the head ends with the root');
  const key = fromHex(s(v.validator_public_key));
  for (const c of a(v.receipts).map(o).filter((c) => c.fails === null)) {
    const r = o(c.receipt);
    const b = o(r.batch);
    const be = (n: bigint) => fromHex(n.toString(16).padStart(16, '0'));
    const leaf = concat(fromHex(s(r.submission)), fromHex(s(r.operator)), be(big(r.seq)));
    const path = fromBase64(s(b.path));
    const parts: Uint8Array[] = [];
    for (let i = 0; i < path.length; i += 32) parts.push(path.subarray(i, i + 32));
    const got = merkle.rootFromPath(big(b.leaf_index), big(b.tree_size), parts, merkle.logLeaf(leaf));
    assert.ok(got !== null && toHex(got) === s(g.root), `${s(c.name)}: the path leads to the group root`);
    const message = concat(new Uint8Array([1]), fromHex(s(r.genesis_hash)), fromHex(s(r.validator)),
      be(big(r.received_at_ms)), be(big(r.deadline)), be(big(b.tree_size)), got);
    assert.equal(toHex(message), s(g.message), `${s(c.name)}: the head rebuilt from the receipt`);
    assert.ok(ml_dsa65.verify(fromBase64(s(r.signature)), message, key, { context: bytes.ascii('pantheon/v1/receipt') }), `${s(c.name)}: signature`);
  }
});
