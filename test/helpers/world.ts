// Runs inside a network namespace (`ip netns exec NS node world.mjs SPEC`), bundled by
// `bundleWorld()`: starts the servers SPEC lists with the same code the in-process tests use,
// prints their URLs as one JSON line, and serves until killed.
import { type Fault, faultServer, type Running, serveCache, silentTcp } from './servers.js';

export type WorldServer =
  | { name: string; kind: 'cache'; dir: string; host: string; auth?: { user: string; password: string } }
  | { name: string; kind: 'fault'; fault: Fault; host: string; bytesPerSecond?: number }
  | { name: string; kind: 'silent'; host: string };

const spec = JSON.parse(process.argv[2] ?? '[]') as WorldServer[];
const running: Record<string, Running> = {};
for (const s of spec) {
  running[s.name] =
    s.kind === 'cache'
      ? await serveCache(s.dir, { host: s.host, ...(s.auth ? { auth: s.auth } : {}) })
      : s.kind === 'fault'
        ? await faultServer(s.fault, { host: s.host, ...(s.bytesPerSecond ? { bytesPerSecond: s.bytesPerSecond } : {}) })
        : await silentTcp(s.host);
}
console.log(JSON.stringify(Object.fromEntries(Object.entries(running).map(([k, r]) => [k, r.url]))));
// Bounded: the world ends by itself after ten minutes even if nobody kills it.
setTimeout(() => process.exit(0), 600_000).unref();
process.on('SIGTERM', () => process.exit(0));
