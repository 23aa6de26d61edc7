import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { WhyReport } from '../../src/report/why.js';
import { nixConf, runCli } from '../helpers/cli.js';
import { CACHES, KEYS } from '../helpers/servers.js';
import { FIXTURE_PATHS } from '../helpers/system.js';

const LAN_KEY = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
const LEAF_A = FIXTURE_PATHS[1] as string;
const servers: Server[] = [];
afterAll(() =>
  Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  ),
);

/** A cache whose nix-cache-info is fine and whose narinfos come as ANSWER writes them; LEAF_A's requests are counted. */
async function cache(answer: 'drip' | 'endless'): Promise<{ url: string; narinfos: () => number }> {
  let narinfos = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    if (req.url === '/nix-cache-info') return void res.end(readFileSync(join(CACHES, 'signed-lan', 'nix-cache-info')));
    if (req.url === `/${LEAF_A.slice('/nix/store/'.length, '/nix/store/'.length + 32)}.narinfo`) narinfos++;
    res.writeHead(200, { 'content-type': 'text/x-nix-narinfo' });
    if (answer === 'drip') {
      // A line every 0.5 s, for a minute: never silent long enough for a timeout between chunks.
      let lines = 0;
      const timer = setInterval(() => {
        if (res.destroyed || lines++ > 120) {
          clearInterval(timer);
          return void res.end();
        }
        res.write('References: \n');
      }, 500);
      timers.add(timer);
      res.on('close', () => clearInterval(timer));
      return;
    }
    const line = Buffer.alloc(16 * 1024, 'References: x\n');
    // Without end, in effect: it stops when the client lets go (or the server closes).
    let left = 1024 ** 4;
    const pump = () => {
      while (!res.destroyed && left > 0) {
        left -= line.length;
        if (!res.write(line)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  server.on('close', () => {
    for (const t of timers) clearInterval(t);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, narinfos: () => narinfos };
}

async function why(url: string): Promise<{ report: WhyReport; durationMs: number }> {
  const conf = nixConf(`substituters = ${url}\ntrusted-public-keys = ${LAN_KEY}\n`);
  mkdirSync(join(conf.dir, 'cache'));
  const env = { ...conf.env, XDG_CACHE_HOME: join(conf.dir, 'cache') };
  const r = await runCli(['why', '--json', '--timeout', '2', '--deadline', '20', '--store', join(conf.dir, 'store'), LEAF_A], { env });
  return { report: JSON.parse(r.stdout), durationMs: r.durationMs };
}

describe('why bounds a narinfo answer by --timeout and by size, not by --deadline', () => {
  it('gives up on a narinfo dripping a line every 0.5 s after --timeout 2, asking once', async () => {
    const c = await cache('drip');
    const { report, durationMs } = await why(c.url);
    expect(report.paths[0]!.caches[0]).toMatchObject({
      narinfo: 'error',
      narinfoDetail: expect.stringMatching(/^the answer was still incomplete after 2\.0 s \(\d+ B received\)$/),
    });
    expect(c.narinfos()).toBe(1);
    // Not the 20 s deadline (the 4 attempts it used to take).
    expect(durationMs).toBeLessThan(10_000);
  });

  it('calls an endless narinfo an error once it passes the size bound, asking once', async () => {
    const c = await cache('endless');
    const { report, durationMs } = await why(c.url);
    expect(report.paths[0]!.caches[0]).toMatchObject({
      narinfo: 'error',
      narinfoDetail: expect.stringMatching(/^the narinfo is larger than 4\.0 MB$/),
    });
    expect(c.narinfos()).toBe(1);
    expect(durationMs).toBeLessThan(10_000);
  });
});
