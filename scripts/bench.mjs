// `npm run bench` (after `npm run build`): bundles scripts/bench.ts, which reuses the test servers,
// and runs it. See the README's performance section.
import { bundleForNode } from './bundle.mjs';

const outfile = new URL('../dist/bench/bench.mjs', import.meta.url).pathname;
await import(await bundleForNode(new URL('./bench.ts', import.meta.url).pathname, outfile));
