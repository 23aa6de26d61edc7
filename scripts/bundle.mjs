// Bundles a TypeScript entry (and what it imports from the repository) into one ES module file for
// Node, leaving npm packages as imports: how the benchmark and the namespace tests run TypeScript
// helpers in a separate process.
import { build } from 'esbuild';

/** @param {string} entry @param {string} outfile @returns {Promise<string>} OUTFILE */
export async function bundleForNode(entry, outfile) {
  await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.18',
    packages: 'external',
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}
