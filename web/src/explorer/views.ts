// The explorer's views, one per route (./route.ts). Each asks the node
// (./rpc.ts) and builds its part of the page with ./dom.ts, which puts
// every answer in as text. What the page shows is the node's answer,
// decoded here where the web library can (certificates, transactions,
// account records); what a reader should not take on the node's word, a
// submission's proof bundle, goes to the browser verifier (/verify), which
// checks it itself.

import * as bytes from '../lib/bytes.js';
import * as codec from '../lib/codec.js';
import { PRELOAD_KEY, verifierHref } from '../page/preload.js';
import { el, facts, full, link, note, row, section, short, status, table, time, type Child } from './dom.js';
import { chainWindow, pan } from './route.js';
import { NOT_FOUND, RpcError, batch, call, callRaw } from './rpc.js';
import type {
  AnchorEngineStatus, AnchorInfo, BlockInfo, BlockTxPage, GenesisInfo, Header, HeaderInfo, Health, OperatorInfo, SubmissionInfo, SupplyInfo, SupplyProof, VersionInfo,
} from './types.js';

/** What a view gives the page: its title and content, and what to do
 * with a newly finalized head while it is shown. */
export interface View {
  title: string;
  body: HTMLElement;
  onHead?: (h: HeaderInfo) => void;
}

const ZERO = '0'.repeat(64);
const RECENT_BLOCKS = 10;
const RECENT_ANCHORS = 5;
const PAGE = 25;

// ---- the network, read once ----

interface Network {
  version: VersionInfo;
  validators: codec.Validator[];
  totalPower: bigint;
}

let network: Promise<Network> | null = null;

/** The node's version and its genesis validators (decoded from the genesis
 * header, for the certificates' "signed by" columns). */
export function networkInfo(): Promise<Network> {
  network ??= (async () => {
    const [version, genesis] = await Promise.all([call<VersionInfo>('system_version'), call<GenesisInfo>('chain_getGenesis')]);
    const g = codec.decodeGenesis(bytes.fromBase64(genesis.header));
    return { version, validators: g.validators, totalPower: g.validators.reduce((s, v) => s + v.power, 0n) };
  })();
  network.catch(() => {
    network = null;
  });
  return network;
}

// ---- small pieces ----

const heightLink = (h: number | null | undefined): Child => (h === null || h === undefined ? '—' : link(`block/${h}`, `#${h}`, { 'data-height': String(h) }));
const submissionLink = (id: string, text?: string): Child => link(`submission/${id}`, text ?? short(id), { 'data-submission': id });
const operatorLink = (id: string): Child => link(`operator/${id}`, short(id), { 'data-operator': id });
const anchorLink = (id: number): Child => link(`anchor/${id}`, `anchor ${id}`, { 'data-anchor': String(id) });
const btc = (hex: string | null | undefined): Child => (hex ? el('code', { class: 'hash full btc' }, hex) : '—');

/** "1 of 1 validators, power 1 of 1 (more than two thirds)" from a certificate. */
function signedBy(certHex: string, net: Network): { text: string; cert: codec.Certificate | null } {
  try {
    const cert = codec.decodeCertificate(bytes.fromHex(certHex));
    let power = 0n;
    for (const [i] of cert.signatures) power += net.validators[i]?.power ?? 0n;
    const quorum = codec.isQuorum(power, net.totalPower) ? 'more than two thirds' : 'NOT more than two thirds';
    return { text: `${cert.signatures.length} of ${net.validators.length} validators, power ${power} of ${net.totalPower} (${quorum})`, cert };
  } catch (e) {
    return { text: `undecodable certificate: ${String(e)}`, cert: null };
  }
}

function blockRow(h: HeaderInfo, net: Network): HTMLTableRowElement {
  const s = signedBy(h.certificate_hex, net);
  return row([heightLink(h.header.height), short(h.hash), time(h.header.time_ms), h.header.tx_count, `${h.signers}/${net.validators.length}`, s.cert ? s.cert.round : '—'], { 'data-block': String(h.header.height) });
}

function anchorRow(a: AnchorInfo): HTMLTableRowElement {
  return row([anchorLink(a.id), heightLink(a.height), a.txid ? short(a.txid) : '—', a.bitcoin_height ?? '—', a.confirmations], { 'data-anchor-row': String(a.id) });
}

function problem(e: unknown): HTMLElement {
  if (e instanceof RpcError && e.code === NOT_FOUND) return el('p', { class: 'problem', role: 'alert' }, `Not found: ${e.message}`);
  return el('p', { class: 'problem', role: 'alert' }, `The node answered an error: ${e instanceof Error ? e.message : String(e)}`);
}

/** How many anchors the chain holds: anchor ids run from 0 with no gap,
 * so the first missing id is found by doubling, then halving (one batch,
 * then about log2(n) calls). */
export async function anchorCount(): Promise<number> {
  const probes = [0, ...Array.from({ length: 40 }, (_, i) => 2 ** i)];
  const found = await batch<AnchorInfo>(probes.map((id) => ['anchor_get', [id]]));
  const firstMissing = found.findIndex((f) => f instanceof RpcError);
  if (firstMissing === 0) return 0;
  if (firstMissing < 0) throw new RpcError(0, 'more than 2^39 anchors');
  let lo = probes[firstMissing - 1]; // present
  let hi = probes[firstMissing]; // missing
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    try {
      await call<AnchorInfo>('anchor_get', [mid]);
      lo = mid;
    } catch (e) {
      if (!(e instanceof RpcError && e.code === NOT_FOUND)) throw e;
      hi = mid;
    }
  }
  return hi;
}

// ---- home ----

export async function home(): Promise<View> {
  const [net, head, health, supply, count] = await Promise.all([networkInfo(), call<HeaderInfo>('chain_getHead'), call<Health>('system_health'), call<SupplyInfo>('pan_getSupply'), anchorCount()]);
  const top = head.header.height;
  const heights = Array.from({ length: Math.min(RECENT_BLOCKS, top) }, (_, i) => top - i);
  const blocks = (await batch<BlockInfo>(heights.map((h) => ['chain_getBlock', [h]]))).filter((b): b is BlockInfo => !(b instanceof RpcError));
  const tbody = el('tbody', {}, ...blocks.map((b) => blockRow(b, net)));
  const blockTable = el('div', { class: 'scroll' }, el('table', { id: 'recent-blocks' }, el('caption', {}, 'Recent blocks, newest first (new ones appear as they are finalized)'), el('thead', {}, el('tr', {}, ...['Height', 'Hash', 'Time', 'Txs', 'Signed', 'Round'].map((t) => el('th', { scope: 'col' }, t)))), tbody));
  let anchors: AnchorInfo[] = [];
  if (count > 0) anchors = (await call<AnchorInfo[]>('anchor_list', [Math.max(0, count - RECENT_ANCHORS), count - 1])).reverse();
  const body = el(
    'div',
    {},
    section(
      'The network',
      'network',
      facts([
        ['Chain id', net.version.chain_id],
        ['Genesis hash', full(net.version.genesis_hash)],
        ['Node version', net.version.version],
        ['Validators', `${net.validators.length} (total power ${net.totalPower})`],
        ['Head', el('span', {}, heightLink(top), ' ', short(head.hash))],
        ['Peers / mempool', `${health.peers} peers, ${health.mempool} transactions waiting${health.syncing ? ', catching up' : ''}`],
        ['Warnings', health.warnings.length ? health.warnings.join('; ') : null],
      ]),
    ),
    section('Recent blocks', 'blocks', blockTable),
    section('Recent anchors', 'anchors', anchors.length ? table(['Anchor', 'Pantheon block', 'Bitcoin transaction', 'Bitcoin height', 'Confirmations'], anchors.map(anchorRow)) : note('No anchor yet.'), el('p', {}, link('anchors', 'All anchors and the anchoring status'))),
    section(
      'Supply',
      'supply-summary',
      facts([
        ['At height', heightLink(supply.height)],
        ['Accounts', supply.accounts],
        ['Sum of balances', pan(BigInt(supply.sum_of_balances))],
        ['Fixed supply', pan(BigInt(supply.supply))],
        ['Conserved (the node says)', supply.conserved ? 'yes' : 'NO'],
      ]),
      el('p', {}, link('supply', 'Audit the supply from its proof')),
    ),
  );
  return {
    title: 'Pantheon explorer',
    body,
    onHead: (h) => {
      if (tbody.querySelector(`tr[data-block="${h.header.height}"]`)) return;
      const first = tbody.querySelector('tr');
      const firstHeight = Number(first?.getAttribute('data-block') ?? 0);
      if (h.header.height <= firstHeight) return;
      tbody.prepend(blockRow(h, net));
      while (tbody.children.length > RECENT_BLOCKS) tbody.lastElementChild?.remove();
    },
  };
}

// ---- a block ----

function describeTx(hex: string, index: number): HTMLTableRowElement {
  let raw: Uint8Array;
  try {
    raw = bytes.fromHex(hex);
  } catch {
    return row([index, '—', 'not hex', '']);
  }
  const id = bytes.toHex(codec.txId(raw));
  try {
    const tx = codec.decodeTx(raw);
    if (tx.kind === codec.KIND_SUBMIT) {
      const s = tx as codec.SubmitRoot;
      return row(
        [index, submissionLink(id), 'submission', el('span', {}, 'operator ', operatorLink(bytes.toHex(s.operator)), ` seq ${s.seq}, root `, short(bytes.toHex(s.root)), s.label ? `, “${s.label}”` : '', s.recordCount !== null ? `, ${s.recordCount} records` : '')],
        { 'data-tx-submission': id },
      );
    }
    if (tx.kind === codec.KIND_ANCHOR || tx.kind === codec.KIND_ANCHOR_WITH_PART) {
      const a = tx as codec.AnchorRecordTx;
      return row([index, short(id), 'anchor record', el('span', {}, `validator ${a.validator} records Bitcoin transaction `, short(bytes.toHexReversed(a.bitcoinTxid)), ` (Bitcoin height ${a.bitcoinHeight}) anchoring `, heightLink(Number(a.height)))]);
    }
    return row([index, short(id), tx.kind === 1 ? 'operator registration' : 'transfer', '']);
  } catch (e) {
    return row([index, short(id), 'undecodable', String(e)]);
  }
}

export async function block(height: number): Promise<View> {
  const [net, b] = await Promise.all([networkInfo(), call<BlockInfo>('chain_getBlock', [height])]);
  const h: Header = b.header;
  const s = signedBy(b.certificate_hex, net);
  const signers = s.cert
    ? table(
        ['Validator', 'Key id', 'Power'],
        s.cert.signatures.map(([i]) => {
          const v = net.validators[i];
          return row([i, v ? short(bytes.toHex(codec.keyId(v.publicKey))) : 'unknown index', v ? v.power : '—']);
        }),
      )
    : note(s.text);
  const tbody = el('tbody', {});
  const more = el('button', { type: 'button', class: 'secondary', hidden: '' }, 'More transactions');
  let next: number | undefined = 0;
  const load = async () => {
    if (next === undefined) return;
    more.setAttribute('disabled', '');
    const p: BlockTxPage = await call<BlockTxPage>('chain_getBlockTransactions', [height, next, 256]);
    p.txs.forEach((t, i) => tbody.append(describeTx(t, p.offset + i)));
    next = p.next;
    more.removeAttribute('disabled');
    if (next === undefined) more.setAttribute('hidden', '');
    else more.removeAttribute('hidden');
  };
  more.addEventListener('click', () => void load());
  if (h.tx_count > 0) await load();
  const txTable = el('div', { class: 'scroll' }, el('table', { id: 'block-txs' }, el('thead', {}, el('tr', {}, ...['#', 'Id', 'Kind', 'What'].map((t) => el('th', { scope: 'col' }, t)))), tbody));
  const body = el(
    'div',
    { 'data-block-view': String(height) },
    facts([
      ['Hash', full(b.hash)],
      ['Parent', height > 1 ? el('span', {}, heightLink(height - 1), ' ', short(h.parent)) : el('span', {}, 'the genesis ', short(h.parent))],
      ['Time', time(h.time_ms)],
      ['Proposer', `validator ${h.proposer}`],
      ['Transactions', h.tx_count],
      ['Transaction root', full(h.tx_root)],
      ['Submission log', el('span', {}, `${h.log_size} submissions, root `, full(h.log_root))],
      ['State root', full(h.state_root)],
      ['Parent certificate hash', h.last_certificate ? full(h.last_certificate) : null],
    ]),
    el('p', { class: 'nav' }, height > 1 ? link(`block/${height - 1}`, '← previous block') : '', ' ', link(`block/${height + 1}`, 'next block →')),
    section('Commit certificate', 'certificate', facts([['Round', s.cert ? s.cert.round : '—'], ['Signed by', s.text]]), signers, note('Shown as the node answers it: the browser verifier checks the signatures of a submission\'s block.')),
    section('Transactions', 'transactions', h.tx_count ? txTable : note('No transaction in this block.'), el('p', {}, more)),
  );
  return { title: `Block ${height}`, body };
}

// ---- a submission ----

function proofLinks(id: string, text: string): HTMLElement {
  const blob = new Blob([text], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  let anchored = false;
  let bundleVersion = '?';
  try {
    const j = JSON.parse(text) as { version?: number; anchor?: unknown };
    anchored = j.anchor !== undefined && j.anchor !== null;
    bundleVersion = String(j.version);
  } catch {
    /* the verifier says what is wrong with it */
  }
  const verify = el('a', { href: verifierHref(text), id: 'verify-link' }, 'Verify it in this browser');
  verify.addEventListener('click', () => {
    try {
      sessionStorage.setItem(PRELOAD_KEY, text);
    } catch {
      /* the fragment carries it */
    }
  });
  return el(
    'div',
    { id: 'proof', 'data-anchored': String(anchored) },
    facts([
      ['Bundle', `version ${bundleVersion}, ${text.length.toLocaleString('en-US')} bytes, ${anchored ? 'with its Bitcoin anchor' : 'finality only (not anchored yet)'}`],
    ]),
    el('p', { class: 'actions' }, el('a', { href: url, download: `pantheon-proof-${id.slice(0, 16)}.json`, id: 'download-proof' }, 'Download the proof bundle (JSON)'), ' ', verify),
    note('The verifier page checks the bundle itself (ML-DSA signatures, Merkle paths, the Bitcoin transaction and headers) and trusts nothing for having come from this node. Offline: pantheon verify FILE.'),
  );
}

export async function submission(id: string): Promise<View> {
  const s = await call<SubmissionInfo>('pantheon_getSubmission', [id]);
  const a = s.anchor ?? null;
  const anchorPart = a
    ? el(
        'div',
        { id: 'submission-anchor' },
        facts([
          ['Anchor', anchorLink(a.id)],
          ['Anchors Pantheon block', heightLink(a.height)],
          ['Bitcoin transaction', btc(a.txid)],
          ['Bitcoin block', btc(a.bitcoin_block)],
          ['Bitcoin height', a.bitcoin_height ?? '—'],
          ['Confirmations', String(a.confirmations)],
        ]),
      )
    : note(s.status === 'received' ? 'Not in a block yet.' : 'Not anchored yet: the anchor covering its block has not confirmed in Bitcoin.');
  let proof: HTMLElement;
  if (s.status === 'received') proof = note('A proof exists once the submission is finalized.');
  else {
    try {
      proof = proofLinks(id, await callRaw('pantheon_getProof', [id, true]));
    } catch (e) {
      proof = problem(e);
    }
  }
  const body = el(
    'div',
    { 'data-submission-view': id, 'data-status': s.status },
    facts([
      ['Id', full(s.id, 'submission-id')],
      ['Status', status(s.status)],
      ['Operator', operatorLink(s.operator)],
      ['Sequence number', s.seq],
      ['Previous', s.prev === ZERO ? 'none (the first)' : submissionLink(s.prev)],
      ['Audit root', link(`root/${s.root}`, full(s.root))],
      ['Label', s.label || null],
      ['Records', s.record_count ?? null],
      ['Block', s.height !== null ? el('span', { id: 'submission-block' }, heightLink(s.height), ' ', s.block_hash ? short(s.block_hash) : '') : '—'],
      ['Log index', s.log_index ?? '—'],
    ]),
    section('Bitcoin anchor', 'anchor', anchorPart),
    section('Proof', 'proof-h', proof),
  );
  return { title: `Submission ${id.slice(0, 12)}…`, body };
}

// ---- an operator's chain ----

export async function operator(id: string, from: number | null): Promise<View> {
  const o = await call<OperatorInfo>('pantheon_getOperator', [id]);
  const seqs = chainWindow(o.pending_next_seq, from, PAGE + 1);
  const answers = await batch<SubmissionInfo>(seqs.map((q) => ['pantheon_getSubmissionAt', [id, q]]));
  const shown = seqs.slice(0, PAGE);
  const rows = shown.map((q, i) => {
    const s = answers[i];
    if (s instanceof RpcError) return row([q, '—', '', '', '', problem(s), '', '']);
    const older = answers[i + 1];
    // The chain link: this submission's prev is the id of the one before.
    const chained = q === 0 ? (s.prev === ZERO ? 'first' : 'BROKEN') : older && !(older instanceof RpcError) ? (older.id === s.prev ? `→ ${q - 1}` : 'BROKEN') : '';
    return row([q, submissionLink(s.id), short(s.prev), link(`root/${s.root}`, short(s.root)), s.label, status(s.status), heightLink(s.height), s.anchor ? anchorLink(s.anchor.id) : '—', chained], { 'data-seq': String(q) });
  });
  const last = shown[shown.length - 1];
  const body = el(
    'div',
    { 'data-operator-view': id },
    facts([
      ['Operator id', full(o.id)],
      ['Public key (ML-DSA-65)', short(o.public_key)],
      ['Next sequence number', `${o.next_seq} finalized${o.pending_next_seq > o.next_seq ? `, ${o.pending_next_seq - o.next_seq} waiting in this node's mempool` : ''}`],
      ['Latest finalized', o.last_submission ? el('span', {}, submissionLink(o.last_submission.id), ' in ', heightLink(o.last_submission.height)) : 'none'],
      ['Balance', `${o.balance_pan} PAN`],
      ['Nonce', o.nonce],
    ]),
    section(
      'Its chain, newest first',
      'chain',
      rows.length ? table(['Seq', 'Submission', 'Prev', 'Audit root', 'Label', 'Status', 'Block', 'Anchor', 'Chain'], rows, { id: 'operator-chain' }) : note('No submission yet.'),
      note('“Chain” checks, in this page, that each submission names the one before it as its prev.'),
      el('p', { class: 'nav' }, from !== null && from < o.pending_next_seq - 1 ? link(`operator/${id}`, '← newest') : '', ' ', last !== undefined && last > 0 ? link(`operator/${id}/${last - 1}`, 'older →') : ''),
    ),
  );
  return { title: `Operator ${id.slice(0, 12)}…`, body };
}

// ---- an audit root ----

export async function root(r: string): Promise<View> {
  const found = await call<SubmissionInfo[]>('pantheon_findRoot', [r]);
  const body = el(
    'div',
    {},
    facts([['Audit root', full(r)], ['Submissions', found.length]]),
    found.length
      ? table(['Submission', 'Operator', 'Seq', 'Status', 'Block'], found.map((s) => row([submissionLink(s.id), operatorLink(s.operator), s.seq, status(s.status), heightLink(s.height)])))
      : note('No submission carries this root.'),
  );
  return { title: `Audit root ${r.slice(0, 12)}…`, body };
}

// ---- anchors ----

function engine(st: AnchorEngineStatus | null): HTMLElement {
  if (!st) return note('This node does not anchor (it still shows the anchors recorded on chain).');
  const pending = st.pending.map((p) => row([heightLink(p.target.height), short(p.txid), p.versions, p.block_height ?? '—', p.confirmations]));
  return el(
    'div',
    {},
    facts([
      ['Bitcoin network', st.network],
      ['Address to fund', el('code', {}, st.address)],
      ['Bitcoin reachable', st.reachable === null ? 'not checked yet' : st.reachable ? 'yes' : 'NO'],
      ['Bitcoin tip height', st.tip_height ?? '—'],
      ['Balance', st.balance === null ? '—' : `${st.balance.toLocaleString('en-US')} sat`],
      ['Waiting to anchor', st.waiting ? heightLink(st.waiting.height) : 'nothing'],
      ['Confirmed, watched', st.confirmed.length],
      ['Last problem', st.last_error],
    ]),
    pending.length ? table(['Anchors block', 'Bitcoin transaction', 'Versions', 'Bitcoin height', 'Confirmations'], pending) : note('No anchor pending.'),
  );
}

export async function anchors(from: number | null): Promise<View> {
  const [count, st] = await Promise.all([anchorCount(), call<AnchorEngineStatus | null>('anchor_status')]);
  const top = Math.min(from ?? count - 1, count - 1);
  const list = top >= 0 ? (await call<AnchorInfo[]>('anchor_list', [Math.max(0, top - PAGE + 1), top])).reverse() : [];
  const lowest = list[list.length - 1];
  const body = el(
    'div',
    {},
    section(
      'Anchors on chain, newest first',
      'anchor-list',
      note(`${count} anchors recorded. Confirmations are as this node's bitcoind sees them (0: not in its best chain).`),
      list.length ? table(['Anchor', 'Pantheon block', 'Bitcoin transaction', 'Bitcoin height', 'Confirmations'], list.map(anchorRow)) : note('No anchor yet.'),
      el('p', { class: 'nav' }, lowest && lowest.id > 0 ? link(`anchors/${lowest.id - 1}`, 'older →') : ''),
    ),
    section("This node's anchoring", 'engine', engine(st)),
  );
  return { title: 'Anchors', body };
}

export async function anchor(id: number): Promise<View> {
  const [a, prev] = await batch<AnchorInfo>([
    ['anchor_get', [id]],
    ['anchor_get', [Math.max(0, id - 1)]],
  ]);
  if (a instanceof RpcError) throw a;
  const from = id > 0 && !(prev instanceof RpcError) ? prev.height + 1 : 1;
  const body = el(
    'div',
    { 'data-anchor-view': String(id) },
    facts([
      ['Anchor', String(a.id)],
      ['Pantheon block', el('span', {}, heightLink(a.height), ' ', short(a.block_hash))],
      ['Covers blocks', el('span', {}, heightLink(from), ' to ', heightLink(a.height), ' (through the block history log)')],
      ['Bitcoin transaction', el('span', { id: 'anchor-txid' }, btc(a.txid))],
      ['Bitcoin block', el('span', { id: 'anchor-btc-block' }, btc(a.bitcoin_block))],
      ['Bitcoin height', el('span', { id: 'anchor-btc-height' }, String(a.bitcoin_height ?? '—'))],
      ['Confirmations', el('span', { id: 'anchor-confirmations' }, String(a.confirmations))],
    ]),
    note("Confirmations are as this node's bitcoind sees them; the browser verifier checks a bundle's Bitcoin transaction and headers itself."),
    el('p', { class: 'nav' }, id > 0 ? link(`anchor/${id - 1}`, '← previous anchor') : '', ' ', link(`anchor/${id + 1}`, 'next anchor →'), ' ', link('anchors', 'all anchors')),
  );
  return { title: `Anchor ${id}`, body };
}

// ---- the supply audit ----

/** A supply proof's figures, computed here from its records: the height
 * its certified header names, how many account records, their sum. */
export function supplyFigures(p: SupplyProof): { height: bigint; stateRoot: string; accounts: number; sum: bigint; signers: number; problems: string[] } {
  const problems: string[] = [];
  const header = codec.decodeHeader(bytes.fromBase64(p.block.header));
  if (header.height !== BigInt(p.height)) problems.push(`the header is block ${header.height}, the document says ${p.height}`);
  const cert = codec.decodeCertificate(bytes.fromBase64(p.block.certificate));
  if (!bytes.equal(cert.blockHash, codec.blockHash(bytes.fromBase64(p.block.header)))) problems.push('the certificate is not for this header');
  let sum = 0n;
  let last = '';
  for (const a of p.accounts) {
    if (a.id <= last) problems.push(`account ${a.id} out of order`);
    last = a.id;
    sum += codec.decodeAccount(bytes.fromBase64(a.record)).balance;
  }
  return { height: header.height, stateRoot: bytes.toHex(header.stateRoot), accounts: p.accounts.length, sum, signers: cert.signatures.length, problems };
}

const SUPPLY = 5_000_000_000n * 1_000_000_000n;

export async function supply(height: number | null): Promise<View> {
  const [net, head] = await Promise.all([networkInfo(), call<HeaderInfo>('chain_getHead')]);
  const h = height ?? head.header.height;
  const text = await callRaw('pan_getSupplyProof', [h, true]);
  const p = JSON.parse(text) as SupplyProof;
  const f = supplyFigures(p);
  const whole = f.sum === SUPPLY && f.problems.length === 0;
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const input = el('input', { id: 'supply-height', type: 'number', min: '1', max: String(head.header.height), value: String(h), inputmode: 'numeric' });
  const form = el('form', { id: 'supply-form', class: 'inline' }, el('label', { for: 'supply-height' }, 'Audit at height '), input, el('button', { type: 'submit' }, 'Audit'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/supply/${input.value.trim()}`;
  });
  const body = el(
    'div',
    { 'data-supply-view': String(f.height) },
    form,
    el('p', { class: `headline ${whole ? 'valid' : 'invalid'}`, id: 'supply-verdict' }, whole ? `The supply is whole at block ${f.height}: ${pan(f.sum)}` : `The records do NOT sum to the fixed supply: ${pan(f.sum)}${f.problems.length ? ` (${f.problems.join('; ')})` : ''}`),
    facts([
      ['Height', el('span', { id: 'supply-at' }, heightLink(Number(f.height)))],
      ['Accounts', el('span', { id: 'supply-accounts' }, String(f.accounts))],
      ['Sum of their balances', el('span', { id: 'supply-sum' }, `${f.sum} units = ${pan(f.sum)}`)],
      ['Fixed supply', `${SUPPLY} units = ${pan(SUPPLY)}`],
      ['State root (certified header)', full(f.stateRoot)],
      ['Certificate', `${f.signers} of ${net.validators.length} validators signed`],
    ]),
    el('p', { class: 'actions' }, el('a', { href: url, download: `pantheon-supply-${f.height}.json`, id: 'download-supply' }, 'Download the supply proof (JSON)')),
    note(`This page decoded the proof's ${f.accounts === 1 ? 'account record' : `${f.accounts} account records`} and summed ${f.accounts === 1 ? 'it' : 'them'} itself. That these records are the whole state (they rebuild the certified state root) and that the certificate's signatures are valid is checked offline by pantheon verify FILE on the downloaded proof.`),
  );
  return { title: `Supply at block ${f.height}`, body };
}
