// Builds the CLI as an ES module bundle split at dynamic imports: start-up reads a few large
// files instead of hundreds of small ones (execa and undici alone are ~150 files), and
// `nixcache --version` loads only the CLI chunk. Type checking is `tsc --noEmit` (npm run typecheck).
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const outdir = new URL('../dist/', import.meta.url).pathname;
rmSync(outdir, { recursive: true, force: true });
await build({
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
  keepNames: true,
  logLevel: 'warning',
  // The entry prints the version without importing any other module (fast `nixcache --version`).
  define: { NIXCACHE_VERSION: JSON.stringify(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version) },
  // Bundled CommonJS dependencies (ping, cli-table3) call require() for Node built-ins.
  banner: { js: "import { createRequire as __nixcacheRequire } from 'node:module'; const require = __nixcacheRequire(import.meta.url);" },
});
chmodSync(`${outdir}cli.js`, 0o755);
