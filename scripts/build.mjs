// Builds the CLI as an ES module bundle split at dynamic imports: start-up reads a few large
// files instead of hundreds of small ones (execa and undici alone are ~150 files), and
// `nixcache --version` loads only the CLI chunk. Type checking is `tsc --noEmit` (npm run typecheck).
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const outdir = new URL('../dist/', import.meta.url).pathname;
rmSync(outdir, { recursive: true, force: true });
const result = await build({
  metafile: true,
  entryPoints: { cli: 'src/cli.ts' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.18',
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: false,
  legalComments: 'none',
  minify: process.env.NIXCACHE_NO_MINIFY !== '1',
  logLevel: 'warning',
  // The entry prints the version without importing any other module (fast `nixcache --version`).
  define: { NIXCACHE_VERSION: JSON.stringify(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version) },
  // Bundled CommonJS dependencies (ping) call require() for Node built-ins.
  banner: { js: "import { createRequire as __nixcacheRequire } from 'node:module'; const require = __nixcacheRequire(import.meta.url);" },
});
chmodSync(`${outdir}cli.js`, 0o755);
// The installed command is CommonJS: `nixcache --version` then needs no ES module loader (25 ms
// against 30 ms for an ES module entry, node itself 24 ms); anything else imports the bundle.
const version = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
writeFileSync(
  `${outdir}nixcache.cjs`,
  `#!/usr/bin/env node
'use strict';
if (process.argv.length === 3 && process.argv[2] === '--version') process.stdout.write(${JSON.stringify(`${version}\n`)});
else import('./cli.js');
`,
);
chmodSync(`${outdir}nixcache.cjs`, 0o755);
writeFileSync(join(outdir, 'THIRD-PARTY-NOTICES.txt'), notices(Object.keys(result.metafile.inputs)));

/**
 * The bundle carries code of other packages, minified with their comments stripped: their licences
 * ship beside it instead, one section per package that contributed code (from esbuild's metafile).
 */
function notices(inputs) {
  const dirs = new Set();
  for (const input of inputs) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]);
  }
  const sections = [...dirs]
    .map((dir) => {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      const files = readdirSync(dir)
        .filter((f) => /^(licen[cs]e|copying|notice)(\.|$)/i.test(f))
        .sort();
      const texts = files.map((f) => readFileSync(join(dir, f), 'utf8').trim());
      // A package that names its licence but ships no file: the text kept in licenses/NAME.txt.
      const kept = new URL(`../licenses/${pkg.name.replace('/', '+')}.txt`, import.meta.url).pathname;
      if (texts.length === 0 && existsSync(kept)) texts.push(readFileSync(kept, 'utf8').trim());
      const license = typeof pkg.license === 'string' ? pkg.license : (pkg.license?.type ?? 'see text');
      if (texts.length === 0) throw new Error(`${pkg.name}: bundled, but ships no licence file to copy into the notices`);
      return { name: pkg.name, text: `${pkg.name} ${pkg.version} (${license})\n\n${texts.join('\n\n')}` };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rule = `\n\n${'-'.repeat(78)}\n\n`;
  return `nixcache bundles code from the following packages, under their own licences.${rule}${sections.map((s) => s.text).join(rule)}\n`;
}
