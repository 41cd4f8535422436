// The page: reads the proof and the trust from the form (or a dropped
// file, read locally), calls the library and shows the verdict. Nothing
// here touches the network; the page's Content-Security-Policy forbids it.
// A proof preloaded by the explorer (./preload.ts) is verified on load like
// a pasted one.

import { verifyDocument, type Options, type Verdict } from '../lib/index.js';
import { takePreload } from './preload.js';

declare const PANTHEON_WEB_VERSION: string;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function readFile(file: File, into: HTMLTextAreaElement, then?: () => void): void {
  const reader = new FileReader();
  reader.onload = () => {
    into.value = String(reader.result ?? '');
    then?.();
  };
  reader.readAsText(file);
}

function options(): Options {
  const o: Options = {};
  const v = (id: string) => ($<HTMLInputElement>(id).value || '').trim();
  if (v('genesis')) o.genesisFile = $<HTMLTextAreaElement>('genesis').value;
  if (v('genesis-hash')) o.genesisHash = v('genesis-hash');
  if (v('root')) o.root = v('root');
  if (v('network')) o.bitcoinNetwork = v('network');
  if (v('confirmations')) o.confirmations = Number(v('confirmations'));
  if (v('checkpoint')) o.checkpoint = v('checkpoint');
  return o;
}

function item(parent: HTMLElement, tag: string, text: string, cls?: string): HTMLElement {
  const e = document.createElement(tag);
  e.textContent = text;
  if (cls) e.className = cls;
  parent.appendChild(e);
  return e;
}

function show(v: Verdict, ms: number): void {
  const result = $('result');
  result.hidden = false;
  result.dataset.valid = String(v.valid);
  result.dataset.failedLink = v.failedLink ?? '';
  result.dataset.kind = v.kind;
  const headline = $('headline');
  headline.textContent = v.headline;
  headline.className = `headline ${v.valid ? 'valid' : 'invalid'}`;
  const links = $('links');
  links.replaceChildren();
  for (const l of v.links) item(links, 'li', l.name, l.ok ? 'ok' : 'fail').setAttribute('aria-label', `${l.name}: ${l.ok ? 'passed' : 'failed'}`);
  const reason = $('reason');
  reason.textContent = v.reason ? `The ${v.failedLink} link failed: ${v.reason}` : '';
  reason.hidden = !v.reason;
  const facts = $('facts');
  facts.replaceChildren();
  for (const f of v.facts) {
    item(facts, 'dt', f.label);
    item(facts, 'dd', f.value);
  }
  if (v.facts.length === 0) item(facts, 'dd', v.valid ? '' : 'nothing: the proof did not verify');
  const rests = $('rests');
  rests.replaceChildren();
  for (const r of v.restsOn) item(rests, 'li', r);
  if (v.restsOn.length === 0) item(rests, 'li', v.valid ? '' : 'no verdict: the proof did not verify');
  const un = $('unchecked');
  un.replaceChildren();
  for (const r of v.notChecked) item(un, 'li', r);
  if (v.notChecked.length === 0) item(un, 'li', v.valid ? 'nothing else: a finality-only proof needs no Bitcoin node' : '—');
  $('timing').textContent = `Verified in ${ms.toFixed(1)} ms in this browser.`;
  result.dataset.ms = ms.toFixed(2);
  headline.focus();
}

function run(): void {
  const text = $<HTMLTextAreaElement>('proof').value;
  if (!text.trim()) {
    $<HTMLTextAreaElement>('proof').focus();
    return;
  }
  const t0 = performance.now();
  let verdict: Verdict;
  try {
    verdict = verifyDocument(text, options());
  } catch (e) {
    verdict = {
      valid: false, kind: 'proof bundle', failedLink: null, reason: null, inputError: String(e), links: [], facts: [], restsOn: [], notChecked: [],
      headline: `NOT CHECKED: the verifier failed (${String(e)})`,
    };
  }
  show(verdict, performance.now() - t0);
}

function init(): void {
  $('version').textContent = PANTHEON_WEB_VERSION;
  $('headline').tabIndex = -1;
  $('verify').addEventListener('click', run);
  $('clear').addEventListener('click', () => {
    $<HTMLTextAreaElement>('proof').value = '';
    $('result').hidden = true;
    $<HTMLTextAreaElement>('proof').focus();
  });
  $<HTMLTextAreaElement>('proof').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) run();
  });
  $<HTMLInputElement>('proof-file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) readFile(f, $('proof'), run);
  });
  $<HTMLInputElement>('genesis-file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) readFile(f, $('genesis'));
  });
  const drop = $('drop');
  for (const ev of ['dragenter', 'dragover']) {
    document.addEventListener(ev, (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
  }
  document.addEventListener('dragleave', () => drop.classList.remove('over'));
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = (e as DragEvent).dataTransfer?.files?.[0];
    if (f) readFile(f, $('proof'), run);
  });
  preload();
}

/** A proof handed over in the fragment or sessionStorage: filled in, then
 * verified here like any other. */
function preload(): void {
  let storage: Storage | null = null;
  try {
    storage = window.sessionStorage;
  } catch {
    storage = null; // file:// or storage disabled: only the fragment form
  }
  const got = takePreload(location.hash, storage);
  if (!got) return;
  const note = $('preloaded');
  note.hidden = false;
  if ('error' in got) {
    note.textContent = `No proof loaded: ${got.error}.`;
    return;
  }
  note.textContent = `A proof was handed to this page by the link you followed (${got.from === 'fragment' ? 'in its address' : 'kept in this tab'}); this page verified it itself, below, trusting nothing for where it came from.`;
  $<HTMLTextAreaElement>('proof').value = got.text;
  run();
}

init();
