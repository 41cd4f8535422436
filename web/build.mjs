// Builds the web folder: the browser verifier and the explorer, each one
// self-contained HTML file (web/verifier.html and web/explorer.html,
// committed, served by nodes at /verify and /explorer), the library as an
// ES module for Node scripts, and the tests. Reproducible: the same sources
// and lock file give the same bytes (`node build.mjs --check` fails if a
// committed page differs from a fresh build).

import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
mkdirSync(join(dist, 'test'), { recursive: true });

const common = { bundle: true, format: 'esm', target: 'es2022', logLevel: 'warning', legalComments: 'none' };

// The library, for Node scripts.
await build({ ...common, entryPoints: [join(here, 'src/lib/index.ts')], outfile: join(dist, 'pantheon-verify.mjs'), platform: 'neutral' });

// The tests.
for (const f of readdirSync(join(here, 'test')).filter((f) => f.endsWith('.test.ts'))) {
  await build({ ...common, entryPoints: [join(here, 'test', f)], outfile: join(dist, 'test', f.replace(/\.ts$/, '.mjs')), platform: 'node', packages: 'external' });
}

// The pages: each script inlined into its HTML template. The explorer
// wears the verifier's style and its own on top.
const version = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8')).version;
const pages = [
  { out: 'verifier.html', entry: 'src/page/main.ts', styles: ['src/page/style.css'], template: 'src/page/index.html' },
  { out: 'explorer.html', entry: 'src/explorer/main.ts', styles: ['src/page/style.css', 'src/explorer/style.css'], template: 'src/explorer/index.html' },
];
let stale = false;
for (const p of pages) {
  const built = await build({ ...common, entryPoints: [join(here, p.entry)], format: 'iife', minify: true, write: false, platform: 'browser', charset: 'utf8', define: { PANTHEON_WEB_VERSION: JSON.stringify(version) } });
  const script = built.outputFiles[0].text.replace(/<\/script/gi, '<\\/script');
  const css = p.styles.map((f) => readFileSync(join(here, f), 'utf8')).join('\n');
  const template = readFileSync(join(here, p.template), 'utf8');
  const html = template.replace('/*STYLE*/', () => css).replace('/*SCRIPT*/', () => script);
  const out = join(here, p.out);
  if (process.argv.includes('--check')) {
    const committed = existsSync(out) ? readFileSync(out, 'utf8') : null;
    if (committed !== html) {
      console.error(`web/${p.out} differs from a fresh build of web/src: run \`npm run build\` in web/ and commit it`);
      stale = true;
    } else {
      console.log(`web/${p.out} matches a fresh build (${html.length} bytes)`);
    }
  } else {
    writeFileSync(out, html);
    console.log(`web/${p.out}: ${html.length} bytes`);
  }
}
if (stale) process.exit(1);
