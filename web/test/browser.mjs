#!/usr/bin/env node
// Drives web/verifier.html in a real headless Chromium (Debian's, through
// playwright-core; no browser download) from file://, like a user: for each
// case it pastes the proof and the trust into the form, clicks Verify and
// reads the verdict. It asserts the page made no request but for its own
// file, keeps a screenshot of a valid and an invalid verdict, and writes
// every verdict (valid, failed link, milliseconds) as JSON.
//
//   node test/browser.mjs CASES.json OUT_DIR
//   PAGE_URL=http://127.0.0.1:9944/verify node test/browser.mjs CASES.json OUT_DIR
//
// CASES.json: [{ "name", "file", "options": { "genesisFile": PATH,
// "genesisHash", "root", "bitcoinNetwork", "confirmations", "checkpoint" },
// "repeat": N (time N runs), "cold": true (reload the page first),
// "shot": "valid" | "invalid" (keep this case's screenshot) }], all optional
// but name and file. The comparison with `pantheon
// verify` is the caller's (node/tests/browser.rs).

import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const [casesPath, outDir] = process.argv.slice(2);
if (!casesPath || !outDir) {
  console.error('usage: node test/browser.mjs CASES.json OUT_DIR');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`no Chromium at ${executablePath}: install Debian's chromium package (scripts/test does)`);
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const cases = JSON.parse(readFileSync(casesPath, 'utf8'));
// PAGE_URL: the page as a node serves it (http://HOST:PORT/verify) rather than the file.
const pageUrl = process.env.PAGE_URL ?? pathToFileURL(resolve(here, '..', 'verifier.html')).href;

const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-default-apps'],
});
const context = await browser.newContext({ viewport: { width: 1000, height: 1200 } });
const page = await context.newPage();
const requests = [];
context.on('request', (r) => requests.push(r.url()));
page.on('websocket', (w) => requests.push(w.url()));
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
await page.goto(pageUrl);
await page.click('#trust summary');

const results = [];
let shotValid = false;
let shotInvalid = false;
for (const c of cases) {
  const o = c.options ?? {};
  if (c.cold) {
    // A fresh load: the first verification pays for compiling the script.
    await page.reload();
    await page.click('#trust summary');
  }
  await page.click('#clear');
  await page.fill('#proof', readFileSync(c.file, 'utf8'));
  await page.fill('#genesis', o.genesisFile ? readFileSync(o.genesisFile, 'utf8') : '');
  await page.fill('#genesis-hash', o.genesisHash ?? '');
  await page.fill('#root', o.root ?? '');
  await page.selectOption('#network', o.bitcoinNetwork ?? '');
  await page.fill('#confirmations', o.confirmations ? String(o.confirmations) : '');
  await page.fill('#checkpoint', o.checkpoint ?? '');
  const times = [];
  let verdict;
  for (let i = 0; i < (c.repeat ?? 1); i++) {
    await page.evaluate(() => document.getElementById('result').removeAttribute('data-ms'));
    await page.click('#verify');
    await page.waitForSelector('#result[data-ms]');
    verdict = await page.evaluate(() => {
      const r = document.getElementById('result');
      return { valid: r.dataset.valid === 'true', failedLink: r.dataset.failedLink || null, ms: Number(r.dataset.ms), headline: document.getElementById('headline').textContent };
    });
    times.push(verdict.ms);
  }
  times.sort((a, b) => a - b);
  results.push({ name: c.name, valid: verdict.valid, failed_link: verdict.failedLink, headline: verdict.headline, ms: times[Math.floor(times.length / 2)], ms_all: times });
  // The cases marked `shot` (else the first of each verdict) are kept as screenshots.
  const want = c.shot ?? (cases.some((x) => x.shot === (verdict.valid ? 'valid' : 'invalid')) ? null : verdict.valid ? 'valid' : 'invalid');
  if (want === 'valid' && verdict.valid && (!shotValid || c.shot)) {
    await page.screenshot({ path: join(outDir, 'valid.png'), fullPage: true });
    shotValid = true;
  }
  if (want === 'invalid' && !verdict.valid && (!shotInvalid || c.shot)) {
    await page.screenshot({ path: join(outDir, 'invalid.png'), fullPage: true });
    shotInvalid = true;
  }
}
await browser.close();
const foreign = requests.filter((u) => u !== pageUrl);
writeFileSync(join(outDir, 'results.json'), JSON.stringify({ page: pageUrl, page_bytes: readFileSync(resolve(here, '..', 'verifier.html')).length, requests, foreign_requests: foreign, page_errors: errors, results }, null, 1));
console.log(`${results.length} cases in Chromium; ${foreign.length} requests beyond the page; ${errors.length} page errors`);
process.exit(foreign.length || errors.length ? 1 : 0);
