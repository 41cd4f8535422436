// The explorer page: a shell (search box, live head, navigation) around
// the view the URL fragment names (./route.ts, ./views.ts). It talks to the
// node that served it and to nothing else: JSON-RPC by POST to its own
// origin, the finalized heads by one WebSocket to the same origin; the
// Content-Security-Policy (`connect-src 'self'`) enforces it.

import { classify, parseRoute, searchTarget } from './route.js';
import { RpcError, batch, call, subscribeFinalized } from './rpc.js';
import { el, link, short } from './dom.js';
import type { HeaderInfo, SubmissionInfo } from './types.js';
import * as views from './views.js';

declare const PANTHEON_WEB_VERSION: string;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

let current: views.View | null = null;
let generation = 0;

async function render(): Promise<void> {
  const mine = ++generation;
  const route = parseRoute(location.hash);
  const main = $('view');
  main.setAttribute('aria-busy', 'true');
  main.dataset.ready = 'false';
  main.dataset.view = route.view;
  let view: views.View;
  try {
    switch (route.view) {
      case 'home':
        view = await views.home();
        break;
      case 'block':
        view = await views.block(route.height);
        break;
      case 'submission':
        view = await views.submission(route.id);
        break;
      case 'operator':
        view = await views.operator(route.id, route.from);
        break;
      case 'root':
        view = await views.root(route.root);
        break;
      case 'anchors':
        view = await views.anchors(route.from);
        break;
      case 'anchor':
        view = await views.anchor(route.id);
        break;
      case 'supply':
        view = await views.supply(route.height);
        break;
      default:
        view = { title: 'Not an explorer address', body: el('p', { class: 'problem', role: 'alert' }, `“${route.text}” is not an explorer address. `, link('', 'Back to the start')) };
    }
  } catch (e) {
    const text = e instanceof RpcError && e.code === 1040 ? `Not found: ${e.message}` : `The node answered an error: ${e instanceof Error ? e.message : String(e)}`;
    view = { title: 'Not found', body: el('p', { class: 'problem', role: 'alert' }, text) };
  }
  if (mine !== generation) return; // a newer navigation won
  current = view;
  const h = el('h2', { id: 'view-title', tabindex: '-1' }, view.title);
  main.replaceChildren(h, view.body);
  document.title = `${view.title} · Pantheon explorer`;
  main.removeAttribute('aria-busy');
  main.dataset.ready = 'true';
  if (document.activeElement !== $('search')) h.focus();
}

async function search(text: string): Promise<void> {
  const out = $('search-status');
  const q = classify(text);
  if (q.kind === 'invalid') {
    out.textContent = q.why;
    return;
  }
  if (q.kind === 'height') {
    out.textContent = '';
    location.hash = `#/block/${q.height}`;
    return;
  }
  if (q.kind === 'anchor') {
    out.textContent = '';
    location.hash = `#/anchor/${q.id}`;
    return;
  }
  out.textContent = 'Searching…';
  const [s, o, r] = await batch<unknown>([
    ['pantheon_getSubmission', [q.hex]],
    ['pantheon_getOperator', [q.hex]],
    ['pantheon_findRoot', [q.hex]],
  ]);
  const roots = r instanceof RpcError ? [] : (r as SubmissionInfo[]);
  const target = searchTarget(q.hex, { submission: !(s instanceof RpcError), operator: !(o instanceof RpcError), roots: roots.length });
  if (!target) {
    out.textContent = `No submission, operator or audit root ${q.hex.slice(0, 12)}… on this node.`;
    return;
  }
  out.textContent = '';
  // A root carried by exactly one submission goes straight to it.
  location.hash = target.startsWith('#/root/') && roots.length === 1 ? `#/submission/${roots[0].id}` : target;
}

function onHead(h: HeaderInfo): void {
  const head = $('head');
  if (Number(head.dataset.height ?? 0) >= h.header.height) return;
  head.replaceChildren('Head ', link(`block/${h.header.height}`, `#${h.header.height}`), ' ', short(h.hash));
  head.dataset.height = String(h.header.height);
  current?.onHead?.(h);
}

function init(): void {
  $('version').textContent = PANTHEON_WEB_VERSION;
  $<HTMLFormElement>('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void search($<HTMLInputElement>('search').value).catch((err: unknown) => {
      $('search-status').textContent = `The search failed: ${String(err)}`;
    });
  });
  window.addEventListener('hashchange', () => void render());
  subscribeFinalized(
    (h) => onHead(h as HeaderInfo),
    (s) => {
      const live = $('live');
      live.textContent = s === 'live' ? 'live' : s === 'connecting' ? 'connecting…' : 'disconnected, retrying';
      live.dataset.state = s;
    },
  );
  void call<HeaderInfo>('chain_getHead')
    .then(onHead)
    .catch(() => {
      /* the subscription will say */
    });
  void render();
}

init();
