// The one call: a document's text and the user's trust in, a verdict out
// (valid or the first failing link, the links checked, the facts the
// verdict rests on and what could not be checked offline).

import { DecodeError, fromHex, toHexReversed } from './bytes.js';
import type { BitcoinNetwork } from './codec.js';
import { LinkError, verifyBundle, type BundleFacts, type Trust } from './bundle.js';
import { verifyOperatorExport, type ExportFacts } from './export.js';
import { genesisHeaderFromFile } from './genesis.js';
import { has, isObject, parseJson, parseJsonBytes, type Json } from './json.js';
import { verifyRecordProof, type RecordFacts } from './record.js';

export type DocumentKind = 'proof bundle' | 'record proof' | 'operator export';

/** What the user states, as text (the page's fields, the CLI's flags). */
export interface Options {
  /** The network's genesis file (JSON text), `pantheon verify --genesis`. */
  genesisFile?: string;
  /** A trusted genesis hash, `--genesis-hash`. */
  genesisHash?: string;
  /** The audit root the user holds, `--root`. */
  root?: string;
  /** `--bitcoin-network`. */
  bitcoinNetwork?: string;
  /** `--confirmations`. */
  confirmations?: number;
  /** `--checkpoint HEIGHT:HASH` (the hash as Bitcoin software displays it). */
  checkpoint?: string;
}

export interface Fact {
  label: string;
  value: string;
}

export interface Verdict {
  /** True iff every link passed. */
  valid: boolean;
  kind: DocumentKind;
  /** The first failing link (`pantheon verify`'s names), null if valid or the input was unusable. */
  failedLink: string | null;
  reason: string | null;
  /** The options were unusable (not a verdict on the document). */
  inputError: string | null;
  /** The links that passed, in order, then the failed one. */
  links: { name: string; ok: boolean }[];
  facts: Fact[];
  /** What the verdict rests on. */
  restsOn: string[];
  /** What a verifier with no network cannot check. */
  notChecked: string[];
  headline: string;
}

const NETWORKS = ['bitcoin', 'testnet4', 'signet', 'regtest'];

function trustFrom(o: Options): Trust {
  const t: Trust = {};
  if (o.genesisFile?.trim()) {
    try {
      t.genesis = genesisHeaderFromFile(o.genesisFile);
    } catch (e) {
      throw new DecodeError(`the genesis file: ${(e as Error).message}`);
    }
  }
  if (o.genesisHash?.trim()) t.genesisHash = fromHex(o.genesisHash.trim(), 32);
  if (o.root?.trim()) t.root = fromHex(o.root.trim(), 32);
  if (o.bitcoinNetwork) {
    if (!NETWORKS.includes(o.bitcoinNetwork)) throw new DecodeError(`unknown Bitcoin network ${o.bitcoinNetwork}`);
    t.bitcoinNetwork = o.bitcoinNetwork as BitcoinNetwork;
  }
  if (o.confirmations !== undefined) {
    if (!Number.isInteger(o.confirmations) || o.confirmations < 1) throw new DecodeError('confirmations must be a positive integer');
    t.confirmations = o.confirmations;
  }
  if (o.checkpoint?.trim()) {
    const m = /^([0-9]+):([0-9a-fA-F]{64})$/.exec(o.checkpoint.trim());
    if (!m) throw new DecodeError('the checkpoint is HEIGHT:HASH');
    t.checkpoint = { height: BigInt(m[1]), hash: fromHex(m[2], 32).reverse() };
  }
  return t;
}

function kindOf(doc: Json): DocumentKind {
  if (isObject(doc) && has(doc, 'operator_export')) return 'operator export';
  if (isObject(doc) && has(doc, 'record_proof')) return 'record proof';
  return 'proof bundle';
}

function utc(ms: bigint | number): string {
  const d = new Date(Number(ms));
  return Number.isNaN(d.getTime()) ? `${ms} ms` : d.toISOString().replace('.000Z', 'Z');
}

function bundleFacts(f: BundleFacts, out: Fact[], rests: string[], notChecked: string[]): void {
  const pinned =
    f.genesisPin === 'unpinned'
      ? 'NOT pinned: the document carries this genesis; check the hash is the network you trust, or give its genesis file or hash'
      : `pinned by the ${f.genesisPin === 'file' ? 'genesis file' : f.genesisPin === 'hash' ? 'genesis hash' : 'genesis file and hash'} you gave`;
  out.push(
    { label: 'audit root', value: f.root },
    { label: 'submission', value: f.submissionId },
    { label: 'operator', value: `${f.operator} (seq ${f.seq})` },
    { label: 'block', value: `${f.blockHash} at height ${f.height}` },
    { label: 'block time', value: utc(f.blockTimeMs) },
    { label: 'signed by', value: `${f.signers[0]} of ${f.signers[1]} validators` },
    { label: 'network', value: `${f.chainId}, genesis ${f.genesisHash}` },
    { label: 'genesis', value: pinned },
  );
  rests.push(
    f.genesisPin === 'unpinned' ? `the genesis the document carries (${f.genesisHash}): anyone can make a network, so compare it with the one you trust` : `the genesis you gave (${f.genesisHash})`,
    'ML-DSA-65 (FIPS 204) signatures of the operator and of validators holding more than two thirds of the power',
  );
  const a = f.anchor;
  if (!a) {
    out.push({ label: 'anchored', value: 'no: this proof shows finality only (no anchor part)' });
    return;
  }
  const b = a.bitcoin;
  out.push(
    { label: 'anchored', value: `block ${a.height} (commitment ${a.commitment})` },
    { label: 'bitcoin network', value: `${b.network} (${b.networkSource === 'genesis' ? 'committed in the genesis' : 'as you stated: a version-1 genesis commits none'})` },
    { label: 'bitcoin tx', value: b.txid },
    { label: 'bitcoin block', value: b.blockHash },
    {
      label: 'bitcoin height',
      value:
        b.backedBy.kind === 'checkpoint'
          ? `${b.backedBy.blockHeight} (from your checkpoint)`
          : b.claimedHeight !== null
            ? `${b.claimedHeight} (as the validator's anchor record claims it)`
            : 'not in the proof (version 2 carries headers only): a Bitcoin node or explorer tells it from the block hash',
    },
    { label: 'existed by', value: `${utc(b.blockTime * 1000)} (Bitcoin block time)` },
    { label: 'confirmations', value: `${b.confirmations} carried, ${b.required} required` },
  );
  rests.push(
    b.backedBy.kind === 'checkpoint'
      ? `the Bitcoin block you trust, ${b.backedBy.height}:${b.backedBy.hash}, which the carried headers reach`
      : `the proof of work of the ${b.confirmations} carried Bitcoin headers alone (${b.network}: headers cost nothing to mine there)`,
  );
  notChecked.push(
    `that Bitcoin block ${b.blockHash} is in the best chain today: that needs a live Bitcoin node (pantheon verify --bitcoin-rpc URL) or a checkpoint you trust`,
  );
}

/** Verifies a proof bundle, record proof or operator export, as `pantheon verify` does. */
export function verifyDocument(input: string | Uint8Array, options: Options = {}): Verdict {
  const trail: string[] = [];
  let kind: DocumentKind = 'proof bundle';
  const base = { failedLink: null, reason: null, inputError: null, facts: [] as Fact[], restsOn: [] as string[], notChecked: [] as string[] };
  let trust: Trust;
  try {
    trust = trustFrom(options);
  } catch (e) {
    return { ...base, valid: false, kind, inputError: (e as Error).message, links: [], headline: `NOT CHECKED: ${(e as Error).message}` };
  }
  try {
    let doc: Json;
    try {
      doc = typeof input === 'string' ? parseJson(input) : parseJsonBytes(input);
    } catch (e) {
      throw new LinkError('format', (e as Error).message);
    }
    kind = kindOf(doc);
    const facts: Fact[] = [];
    const rests: string[] = [];
    const notChecked: string[] = [];
    let links: string[];
    let headline: string;
    if (kind === 'operator export') {
      const x: ExportFacts = verifyOperatorExport(doc, trust, trail);
      links = x.links;
      headline = 'VALID operator export: COMPLETE';
      facts.push(
        { label: 'operator', value: x.operator },
        { label: 'submissions', value: `seq ${x.fromSeq}..=${x.toSeq} (${x.count}, ${x.anchored} anchored in Bitcoin): nothing missing, repeated or withheld` },
        { label: 'complete at', value: `block ${x.height} (${utc(x.blockTimeMs)}): the operator's state there says next seq ${x.nextSeq}, state root ${x.stateRoot}` },
        { label: 'not shown', value: 'submissions after that block (a later export shows them)' },
      );
      bundleFacts(x.last, facts, rests, notChecked);
    } else if (kind === 'record proof') {
      const r: RecordFacts = verifyRecordProof(doc, trust, 0, trail);
      links = r.links;
      headline = 'VALID record proof';
      const d = r.disclosed;
      if (d) {
        facts.push(
          { label: 'record', value: `${r.recordHash} (${d.kind} ${d.index} of stream "${d.stream}")` },
          { label: 'sealed', value: `${utc(d.timeMs)} by the operator's clock (a claim; the anchor gives "existed by")` },
          {
            label: 'disclosed',
            value: `the record${d.body ? ' and its body' : ' (its body not disclosed: its hash only)'}${d.previous && d.next ? ', with both neighbours in its stream' : d.previous ? ', with the previous record of its stream' : d.next ? ', with the next record of its stream' : ''}`,
          },
        );
        if (d.manifest && r.manifest) facts.push({ label: 'manifest', value: `${d.manifest} (in submission ${r.manifest.bundle.seq}, before this decision)` });
      } else {
        facts.push({ label: 'record hash', value: `${r.recordHash} (only the hash disclosed)` });
      }
      facts.push({ label: 'batch', value: `leaf ${r.leafIndex} of ${r.treeSize} records, root ${r.batchRoot}` });
      bundleFacts(r.bundle, facts, rests, notChecked);
      rests.push('the operator\'s ML-DSA-65 signature on the record');
    } else {
      const f = verifyBundle(doc, trust, undefined, trail);
      links = f.links;
      headline = 'VALID proof bundle';
      bundleFacts(f, facts, rests, notChecked);
    }
    return { ...base, valid: true, kind, links: links.map((name) => ({ name, ok: true })), facts, restsOn: rests, notChecked, headline };
  } catch (e) {
    if (!(e instanceof LinkError)) throw e;
    return {
      ...base,
      valid: false,
      kind,
      failedLink: e.link,
      reason: e.reason,
      links: [...trail.map((name) => ({ name, ok: true })), { name: e.link, ok: false }],
      headline: `INVALID: ${e.link} link failed: ${e.reason}`,
    };
  }
}

export { toHexReversed };
