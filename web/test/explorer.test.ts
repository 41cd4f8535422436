// The explorer's pure parts (addresses, search, the operator chain window,
// PAN amounts) and the verifier's preload: what a shared link or a search
// box entry means, without a browser.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chainWindow, classify, pan, parseRoute, searchTarget } from '../src/explorer/route.js';
import { MAX_FRAGMENT, PRELOAD_KEY, fromBase64Url, takePreload, toBase64Url, verifierHref } from '../src/page/preload.js';

const H = 'ab'.repeat(32);

test('every explorer address names its view, and nothing else is one', () => {
  assert.deepEqual(parseRoute(''), { view: 'home' });
  assert.deepEqual(parseRoute('#/'), { view: 'home' });
  assert.deepEqual(parseRoute('#/block/7'), { view: 'block', height: 7 });
  assert.deepEqual(parseRoute(`#/submission/${H.toUpperCase()}`), { view: 'submission', id: H });
  assert.deepEqual(parseRoute(`#/operator/${H}`), { view: 'operator', id: H, from: null });
  assert.deepEqual(parseRoute(`#/operator/${H}/12`), { view: 'operator', id: H, from: 12 });
  assert.deepEqual(parseRoute(`#/root/${H}`), { view: 'root', root: H });
  assert.deepEqual(parseRoute('#/anchors'), { view: 'anchors', from: null });
  assert.deepEqual(parseRoute('#/anchors/40'), { view: 'anchors', from: 40 });
  assert.deepEqual(parseRoute('#/anchor/0'), { view: 'anchor', id: 0 });
  assert.deepEqual(parseRoute('#/supply'), { view: 'supply', height: null });
  assert.deepEqual(parseRoute('#/supply/3'), { view: 'supply', height: 3 });
  for (const bad of ['#/block/0', '#/block/-1', '#/block/01', '#/block/1/2', '#/block/99999999999999999', '#/submission/abc', `#/submission/${H}/x`, '#/anchor/x', '#/nothing', `#/operator/${H}/x`, '#/supply/1.5']) {
    assert.equal(parseRoute(bad).view, 'unknown', bad);
  }
});

test('the search box takes heights, anchors and 64 hex digits, and says why not otherwise', () => {
  assert.deepEqual(classify(' 42 '), { kind: 'height', height: 42 });
  assert.deepEqual(classify('#42'), { kind: 'height', height: 42 });
  assert.deepEqual(classify('anchor 3'), { kind: 'anchor', id: 3 });
  assert.deepEqual(classify('a0'), { kind: 'anchor', id: 0 });
  assert.deepEqual(classify(H.toUpperCase()), { kind: 'hash', hex: H });
  assert.deepEqual(classify(`0x${H}`), { kind: 'hash', hex: H });
  assert.match((classify('0') as { why: string }).why, /start at 1/);
  assert.match((classify('abcd') as { why: string }).why, /4 hex digits/);
  assert.match((classify('') as { why: string }).why, /type/);
  assert.equal(classify('hello').kind, 'invalid');
  assert.equal(searchTarget(H, { submission: true, operator: true, roots: 2 }), `#/submission/${H}`);
  assert.equal(searchTarget(H, { submission: false, operator: true, roots: 2 }), `#/operator/${H}`);
  assert.equal(searchTarget(H, { submission: false, operator: false, roots: 2 }), `#/root/${H}`);
  assert.equal(searchTarget(H, { submission: false, operator: false, roots: 0 }), null);
});

test('the operator chain window runs newest first and stops at seq 0', () => {
  assert.deepEqual(chainWindow(0, null, 5), []);
  assert.deepEqual(chainWindow(3, null, 5), [2, 1, 0]);
  assert.deepEqual(chainWindow(100, null, 3), [99, 98, 97]);
  assert.deepEqual(chainWindow(100, 10, 3), [10, 9, 8]);
  assert.deepEqual(chainWindow(5, 50, 3), [4, 3, 2]);
});

test('amounts are shown in PAN exactly', () => {
  assert.equal(pan(5_000_000_000n * 1_000_000_000n), '5,000,000,000 PAN');
  assert.equal(pan(1n), '0.000000001 PAN');
  assert.equal(pan(12_500_000_000n), '12.5 PAN');
});

test('a preloaded proof travels intact in the fragment or the tab, and a bad one is refused', () => {
  const text = '{"version": 2, "label": "é ✓ \u{1F600}", "n": 18446744073709551615}';
  assert.equal(fromBase64Url(toBase64Url(text)), text);
  assert.match(toBase64Url(text), /^[A-Za-z0-9_-]+$/);
  const href = verifierHref(text);
  assert.ok(href.startsWith('/verify#bundle='));
  assert.deepEqual(takePreload(href.slice('/verify'.length), null), { text, from: 'fragment' });
  const big = 'x'.repeat(MAX_FRAGMENT);
  assert.equal(verifierHref(big), '/verify#preload');
  const store = new Map([[PRELOAD_KEY, big]]);
  assert.deepEqual(takePreload('#preload', { getItem: (k: string) => store.get(k) ?? null }), { text: big, from: 'session' });
  assert.ok('error' in (takePreload('#preload', { getItem: () => null }) ?? {}));
  assert.ok('error' in (takePreload('#bundle=***', null) ?? {}));
  assert.ok('error' in (takePreload('#bundle=_w', null) ?? {}), 'not UTF-8');
  assert.equal(takePreload('', null), null);
  assert.equal(takePreload('#something', null), null);
});
