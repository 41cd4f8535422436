// Builds the verifier: the page as one self-contained HTML file
// (web/verifier.html, committed, served by nodes), the library as an ES
// module for Node scripts, and the tests. Reproducible: the same sources
// and lock file give the same bytes (`node build.mjs --check` fails if the
// committed page differs from a fresh build).

import { build } from 'esbuild';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
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

// The page: the script inlined into the HTML template.
const version = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8')).version;
const page = await build({ ...common, entryPoints: [join(here, 'src/page/main.ts')], format: 'iife', minify: true, write: false, platform: 'browser', charset: 'utf8', define: { PANTHEON_WEB_VERSION: JSON.stringify(version) } });
const script = page.outputFiles[0].text.replace(/<\/script/gi, '<\\/script');
const css = readFileSync(join(here, 'src/page/style.css'), 'utf8');
const template = readFileSync(join(here, 'src/page/index.html'), 'utf8');
const html = template.replace('/*STYLE*/', () => css).replace('/*SCRIPT*/', () => script);
const out = join(here, 'verifier.html');
if (process.argv.includes('--check')) {
  const committed = readFileSync(out, 'utf8');
  if (committed !== html) {
    console.error('web/verifier.html differs from a fresh build of web/src: run `npm run build` in web/ and commit it');
    process.exit(1);
  }
  console.log(`web/verifier.html matches a fresh build (${html.length} bytes)`);
} else {
  writeFileSync(out, html);
  console.log(`web/verifier.html: ${html.length} bytes`);
}
