// The explorer's addresses and search, as pure functions (tested in Node,
// web/test/explorer.test.ts). Every view has a fragment address so that a
// link can be shared:
//
//   #/                      head, recent blocks, anchors, supply
//   #/block/N               a block, its certificate and transactions
//   #/submission/ID         a submission, its anchor and proof bundle
//   #/operator/ID[/SEQ]     an operator's chain, newest first (from SEQ down)
//   #/root/ROOT             the submissions that carry an audit root
//   #/anchors[/N]           anchors, newest first (from id N down)
//   #/anchor/N              one anchor: Bitcoin transaction, block, confirmations
//   #/supply[/H]            the supply audit at height H (default: the newest)

export type Route =
  | { view: 'home' }
  | { view: 'block'; height: number }
  | { view: 'submission'; id: string }
  | { view: 'operator'; id: string; from: number | null }
  | { view: 'root'; root: string }
  | { view: 'anchors'; from: number | null }
  | { view: 'anchor'; id: number }
  | { view: 'supply'; height: number | null }
  | { view: 'unknown'; text: string };

const HASH = /^[0-9a-f]{64}$/;
const INT = /^(0|[1-9][0-9]{0,15})$/;

function int(s: string | undefined): number | null {
  return s !== undefined && INT.test(s) && Number.isSafeInteger(Number(s)) ? Number(s) : null;
}

/** The view a fragment (`location.hash`) names. */
export function parseRoute(fragment: string): Route {
  const text = decodeURIComponent(fragment.replace(/^#\/?/, ''));
  const [name = '', a, b, ...rest] = text.split('/');
  const unknown: Route = { view: 'unknown', text };
  if (rest.length > 0) return unknown;
  const h = a?.toLowerCase();
  switch (name) {
    case '':
      return a === undefined ? { view: 'home' } : unknown;
    case 'block': {
      const n = int(a);
      return n !== null && n >= 1 && b === undefined ? { view: 'block', height: n } : unknown;
    }
    case 'submission':
      return h && HASH.test(h) && b === undefined ? { view: 'submission', id: h } : unknown;
    case 'operator': {
      if (!h || !HASH.test(h)) return unknown;
      if (b === undefined) return { view: 'operator', id: h, from: null };
      const n = int(b);
      return n === null ? unknown : { view: 'operator', id: h, from: n };
    }
    case 'root':
      return h && HASH.test(h) && b === undefined ? { view: 'root', root: h } : unknown;
    case 'anchors': {
      if (b !== undefined) return unknown;
      if (a === undefined || a === '') return { view: 'anchors', from: null };
      const n = int(a);
      return n === null ? unknown : { view: 'anchors', from: n };
    }
    case 'anchor': {
      const n = int(a);
      return n !== null && b === undefined ? { view: 'anchor', id: n } : unknown;
    }
    case 'supply': {
      if (b !== undefined) return unknown;
      if (a === undefined || a === '') return { view: 'supply', height: null };
      const n = int(a);
      return n === null ? unknown : { view: 'supply', height: n };
    }
    default:
      return unknown;
  }
}

/** What a search box entry is: a block height, an anchor (`anchor N`,
 * `aN`), a 64-hex-digit id (submission, operator or audit root: the node
 * is asked which), or nothing usable (with why). */
export type Query = { kind: 'height'; height: number } | { kind: 'anchor'; id: number } | { kind: 'hash'; hex: string } | { kind: 'invalid'; why: string };

export function classify(input: string): Query {
  const t = input.trim().toLowerCase().replace(/^#/, '');
  if (t === '') return { kind: 'invalid', why: 'type a block height, a submission id, an operator id or an audit root' };
  const n = int(t);
  if (n !== null) return n >= 1 ? { kind: 'height', height: n } : { kind: 'invalid', why: 'block heights start at 1' };
  const anchor = /^(?:anchor\s*|a)(\d+)$/.exec(t);
  if (anchor) {
    const id = int(anchor[1]);
    if (id !== null) return { kind: 'anchor', id };
  }
  const hex = t.startsWith('0x') ? t.slice(2) : t;
  if (HASH.test(hex)) return { kind: 'hash', hex };
  if (/^[0-9a-f]+$/.test(hex)) return { kind: 'invalid', why: `${hex.length} hex digits: ids and audit roots have 64` };
  return { kind: 'invalid', why: 'not a height, an anchor (anchor N) or 64 hex digits' };
}

/** What a 64-hex search found, from the answers to pantheon_getSubmission,
 * pantheon_getOperator and pantheon_findRoot (null: not found): where to go. */
export function searchTarget(hex: string, found: { submission: boolean; operator: boolean; roots: number }): string | null {
  if (found.submission) return `#/submission/${hex}`;
  if (found.operator) return `#/operator/${hex}`;
  if (found.roots > 0) return `#/root/${hex}`;
  return null;
}

/** The operator chain window: sequence numbers from `from` (default the
 * newest, `next - 1`) down, at most `size`, newest first. */
export function chainWindow(next: number, from: number | null, size: number): number[] {
  if (next <= 0) return [];
  const top = Math.min(from ?? next - 1, next - 1);
  const out: number[] = [];
  for (let s = top; s >= 0 && out.length < size; s--) out.push(s);
  return out;
}

/** Smallest units (10^-9 PAN) as PAN, exactly. */
export function pan(units: bigint): string {
  const whole = units / 1_000_000_000n;
  const frac = (units % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${whole.toLocaleString('en-US')}${frac ? `.${frac}` : ''} PAN`;
}
