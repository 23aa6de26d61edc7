import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { CACHES } from '../helpers/servers.js';

const DIR = join(CACHES, 'signed-lan');
const file = readdirSync(DIR).find((f) => f.endsWith('.narinfo') && readFileSync(join(DIR, f), 'utf8').includes('leaf-a')) as string;
const narinfo = readFileSync(join(DIR, file), 'utf8').replace(/^FileSize: \d+$/m, 'FileSize: 100000000');
const storePath = /^StorePath: (.*)$/m.exec(narinfo)?.[1] as string;
let server: Server;
let url = '';
const timers = new Set<NodeJS.Timeout>();

beforeAll(async () => {
  // The narinfo says the NAR is 100 MB; the NAR trickles at 64 kB/s (at most 40 slices, then it ends).
  server = createServer((req, res) => {
    if (req.url === '/nix-cache-info') return void res.end('StoreDir: /nix/store\n');
    if (req.url === `/${file}`) return void res.end(narinfo);
    if (!req.url?.startsWith('/nar/')) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': 100_000_000 });
    let slices = 0;
    const timer = setInterval(() => {
      if (slices++ >= 40 || res.destroyed) {
        clearInterval(timer);
        timers.delete(timer);
        res.destroy();
        return;
      }
      res.write(Buffer.alloc(16 * 1024));
    }, 250);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const t of timers) clearInterval(t);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('a NAR too large for the time the run has', () => {
  it('is skipped with its size and the measured rate after reading a part of it, not failed', async () => {
    const { env } = nixConf(`substituters = ${url}\n`);
    const r = await runCli(['doctor', '--json', '--only', 'connect,cache-info,nar', '--sample', storePath, '--timeout', '1'], { env });
    const nar = checkOf(parseReport(r.stdout), 'nar', url);
    expect(nar.status).toBe('skip');
    expect(nar.reason).toBe('too large for the deadline');
    expect(nar.summary).toMatch(/^the NAR file is 95\.4 MB: at [\d.]+ kB\/s it would not download within 8 s$/);
    expect(nar.data.bytesRead).toBeLessThan(100_000_000);
  });
});
