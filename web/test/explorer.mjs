#!/usr/bin/env node
// Drives the explorer a node serves (http://NODE/explorer) in a real
// headless Chromium (Debian's, through playwright-core), as a user would:
// waits for the live head, searches a submission by its id, follows it to
// its block (where it must be listed), to its Bitcoin anchor (transaction,
// block and confirmations shown), downloads its proof bundle and opens the
// verifier with the bundle preloaded, which must verify it; then the
// operator's chain, the anchors and the supply audit at an old height
// (its proof downloaded too). Every request the page makes is recorded
// (HTTP, WebSocket, downloads); the run fails on any whose origin is not the
// node's, on any page error and on any console error (a refused request
// shows there); a last step checks the watch itself catches a page that
// tries another origin. Screenshots of each view are kept in OUT_DIR.
//
//   node test/explorer.mjs CASE.json OUT_DIR
//
// CASE.json: { "origin": "http://127.0.0.1:PORT", "submission": ID,
// "operator": ID, "supply_height": H }. The checks against the node's
// answers and `pantheon verify` of the downloads are the caller's
// (node/tests/explorer.rs); this writes what the page showed to
// OUT_DIR/results.json.

import { chromium } from 'playwright-core';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [casePath, outDir] = process.argv.slice(2);
if (!casePath || !outDir) {
  console.error('usage: node test/explorer.mjs CASE.json OUT_DIR');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`no Chromium at ${executablePath}: install Debian's chromium package (scripts/test does)`);
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const c = JSON.parse(readFileSync(casePath, 'utf8'));
const origin = new URL(c.origin).origin;
const host = new URL(c.origin).host;

/** A request is the node's if it goes to the node's host and port over
 * HTTP or WebSocket, or is a blob the page made (a download). */
function ours(url) {
  let u;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === 'blob:') return u.origin === origin;
  return (u.protocol === 'http:' || u.protocol === 'ws:') && u.host === host;
}

const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-default-apps'],
});
const context = await browser.newContext({ viewport: { width: 1100, height: 1000 }, acceptDownloads: true });
const page = await context.newPage();
const requests = [];
context.on('request', (r) => requests.push(r.url()));
page.on('websocket', (w) => requests.push(w.url()));
const errors = [];
page.on('pageerror', (e) => errors.push(`page error: ${String(e)}`));
page.on('console', (m) => {
  if (m.type() === 'error') errors.push(`console: ${m.text()}`);
});
const steps = [];
const shown = {};
const timeout = 30_000;

async function ready(view) {
  await page.waitForSelector(`#view[data-ready="true"][data-view="${view}"]`, { timeout });
}
async function shot(name) {
  await page.screenshot({ path: join(outDir, `${name}.png`), fullPage: true });
}
const text = async (sel) => (await page.textContent(sel, { timeout }))?.trim() ?? null;

let failure = null;
try {
  // 1. The start: the network, recent blocks, the live head over WebSocket.
  await page.goto(`${origin}/explorer`);
  await ready('home');
  await page.waitForSelector('#live[data-state="live"]', { timeout });
  await page.waitForSelector('#head[data-height]', { timeout });
  const first = Number(await page.getAttribute('#head', 'data-height', { timeout }));
  await page.waitForFunction((h) => Number(document.getElementById('head')?.dataset.height ?? 0) > h, first, { timeout });
  shown.live_head_moved = [first, Number(await page.getAttribute('#head', 'data-height'))];
  shown.recent_blocks = await page.locator('#recent-blocks tbody tr').count();
  await shot('home');
  steps.push('home: live head moved');

  // 2. Search the submission by its id.
  await page.fill('#search', c.submission);
  await page.press('#search', 'Enter');
  await ready('submission');
  shown.submission_id = await text('#submission-id');
  shown.submission_status = await page.getAttribute('[data-submission-view]', 'data-status');
  await shot('submission');
  steps.push('search: submission found');

  // 3. Its block lists it.
  await page.click('#submission-block a[data-height]');
  await ready('block');
  shown.block = Number(await page.getAttribute('[data-block-view]', 'data-block-view'));
  shown.block_lists_it = (await page.locator(`tr[data-tx-submission="${c.submission}"]`).count()) === 1;
  shown.block_signed_by = await page.locator('#certificate dd').nth(1).textContent();
  await shot('block');
  steps.push('block: lists the submission');

  // 4. Back to it from the block, then to its anchor.
  await page.click(`tr[data-tx-submission="${c.submission}"] a[data-submission]`);
  await ready('submission');
  await page.click('#submission-anchor a[data-anchor]');
  await ready('anchor');
  shown.anchor = {
    id: Number(await page.getAttribute('[data-anchor-view]', 'data-anchor-view')),
    txid: await text('#anchor-txid'),
    bitcoin_block: await text('#anchor-btc-block'),
    bitcoin_height: await text('#anchor-btc-height'),
    confirmations: Number(await text('#anchor-confirmations')),
  };
  await shot('anchor');
  steps.push('anchor: Bitcoin transaction, block, confirmations');

  // 5. Its proof: downloaded, then verified by the verifier page it opens.
  await page.goBack();
  await ready('submission');
  shown.proof_anchored = await page.getAttribute('#proof', 'data-anchored', { timeout });
  const [download] = await Promise.all([page.waitForEvent('download', { timeout }), page.click('#download-proof')]);
  await download.saveAs(join(outDir, 'bundle.json'));
  shown.bundle_file = join(outDir, 'bundle.json');
  await page.click('#verify-link');
  await page.waitForURL(/\/verify#bundle=/, { timeout });
  await page.waitForSelector('#result[data-ms]', { timeout });
  shown.verifier = await page.evaluate(() => {
    const r = document.getElementById('result');
    return { valid: r.dataset.valid === 'true', failed_link: r.dataset.failedLink || null, headline: document.getElementById('headline').textContent, preloaded: document.getElementById('preloaded').textContent };
  });
  await shot('verified');
  steps.push('proof: verified in the verifier');

  // 6. The same bundle handed over in the tab (the form used for bundles
  // too long for an address): the click above kept it in sessionStorage.
  await page.goto(`${origin}/verify#preload`);
  await page.waitForSelector('#result[data-ms]', { timeout });
  shown.verifier_session = await page.evaluate(() => ({ valid: document.getElementById('result').dataset.valid === 'true', failed_link: document.getElementById('result').dataset.failedLink || null }));
  steps.push('proof: verified from the tab');

  // 7. The operator's chain.
  await page.goto(`${origin}/explorer#/operator/${c.operator}`);
  await ready('operator');
  shown.operator_rows = await page.locator('#operator-chain tbody tr').count();
  shown.operator_chain = await page.locator('#operator-chain tbody tr td:last-child').allTextContents();
  shown.operator_statuses = await page.locator('#operator-chain [data-status]').evaluateAll((es) => es.map((e) => e.getAttribute('data-status')));
  await shot('operator');
  steps.push('operator: its chain');

  // 8. The anchors and this node's anchoring.
  await page.click('nav a[href="#/anchors"]');
  await ready('anchors');
  shown.anchor_rows = await page.locator('#anchor-list tbody tr').count();
  await shot('anchors');
  steps.push('anchors');

  // 9. The supply audit at an old height, typed into its form; its proof downloaded.
  await page.click('nav a[href="#/supply"]');
  await ready('supply');
  await page.fill('#supply-height', String(c.supply_height));
  await page.click('#supply-form button');
  await page.waitForSelector(`[data-supply-view="${c.supply_height}"]`, { timeout });
  await ready('supply');
  shown.supply = {
    height: Number(await page.getAttribute('[data-supply-view]', 'data-supply-view')),
    accounts: Number(await text('#supply-accounts')),
    sum: (await text('#supply-sum')).split(' ')[0],
    verdict: await text('#supply-verdict'),
  };
  const [supplyDownload] = await Promise.all([page.waitForEvent('download', { timeout }), page.click('#download-supply')]);
  await supplyDownload.saveAs(join(outDir, 'supply.json'));
  shown.supply_file = join(outDir, 'supply.json');
  await shot('supply');
  steps.push('supply audit');

  // 10. The search box says so when nothing matches.
  await page.fill('#search', 'ff'.repeat(32));
  await page.press('#search', 'Enter');
  await page.waitForFunction(() => /^No submission/.test(document.getElementById('search-status')?.textContent ?? ''), null, { timeout });
  steps.push('search: nothing found is said');

  // 11. The watch itself: a page of the same origin that tries another
  // origin (localhost is not 127.0.0.1) is caught, by the policy's refusal
  // on the console or by the request log, in a context of its own so that
  // the run above stays clean.
  const probeContext = await browser.newContext();
  const probe = await probeContext.newPage();
  const caught = [];
  probeContext.on('request', (r) => {
    if (!ours(r.url())) caught.push(`request ${r.url()}`);
  });
  probe.on('console', (m) => {
    if (m.type() === 'error') caught.push(`console: ${m.text()}`);
  });
  await probe.goto(`${origin}/explorer`);
  await probe.evaluate(() => fetch('http://localhost:9/').catch(() => null));
  await probe.waitForTimeout(200);
  shown.watch_catches = caught;
  await probeContext.close();
  steps.push('the watch catches a foreign request');
} catch (e) {
  failure = String(e?.stack ?? e);
  await page.screenshot({ path: join(outDir, 'failure.png'), fullPage: true }).catch(() => {});
}
await browser.close();
const foreign = requests.filter((u) => !ours(u));
writeFileSync(join(outDir, 'results.json'), JSON.stringify({ origin, steps, shown, requests: requests.map((u) => (u.length > 200 ? `${u.slice(0, 200)}…` : u)), foreign_requests: foreign, errors, failure }, null, 1));
console.log(`explorer: ${steps.length} steps; ${requests.length} requests, ${foreign.length} outside ${origin}; ${errors.length} errors${failure ? `; FAILED: ${failure}` : ''}`);
process.exit(failure || foreign.length || errors.length ? 1 : 0);
