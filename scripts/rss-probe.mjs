// Loaded with `node --import` by the benchmark: when the process exits, writes its peak resident
// set size (kB, from getrusage) and its memory at exit to $NIXCACHE_RSS_FILE. Not part of the CLI.
import { writeFileSync } from 'node:fs';

const file = process.env.NIXCACHE_RSS_FILE;
if (file) {
  process.on('exit', () => writeFileSync(file, JSON.stringify({ maxRSS: process.resourceUsage().maxRSS, ...process.memoryUsage() })));
}
