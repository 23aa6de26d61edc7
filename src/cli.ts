#!/usr/bin/env node
// The entry point stays tiny: `nixcache --version` answers without loading the command-line
// parser; everything else loads it (and `doctor` then loads the doctor) on demand.
import { setFlagsFromString } from 'node:v8';

// undici parses HTTP with WebAssembly (llhttp). V8 recompiles that module with its optimising
// tier in the background once the process lives a few seconds (a slow cache keeps it alive), and
// that compilation peaks at ~30 MB of native memory — measured: peak RSS 95 MB → 62 MB with a
// cache that drips bytes. The doctor parses a few kilobytes; the baseline tier is plenty. Set before
// undici compiles its module, i.e. before anything else loads.
setFlagsFromString('--liftoff-only');

/** Replaced by the build with package.json's version. */
declare const NIXCACHE_VERSION: string;

const args = process.argv.slice(2);
let code: number;
if (args.length === 1 && args[0] === '--version') {
  process.stdout.write(`${NIXCACHE_VERSION}\n`);
  code = 0;
} else {
  const { main } = await import('./program.js');
  code = await main(process.argv);
}
// Exit explicitly: an unfinished socket or child must never keep the doctor past its deadline.
process.stdout.write('', () => process.exit(code));
