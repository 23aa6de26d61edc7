// `npm run bench` (after `npm run build`): bundles scripts/bench.ts, which reuses the test servers,
// and runs it. See the README's performance section.
import { build } from 'esbuild';

const outfile = new URL('../dist/bench/bench.mjs', import.meta.url).pathname;
await build({
  entryPoints: [new URL('./bench.ts', import.meta.url).pathname],
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.18',
  packages: 'external',
  outfile,
  logLevel: 'warning',
});
await import(outfile);
