#!/usr/bin/env node
// The entry point stays tiny: `nixcache --version` answers without loading the command-line
// parser; everything else loads it (and `doctor` then loads the doctor) on demand.
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
