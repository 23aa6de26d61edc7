import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { CACHES, faultServer, type Running, refusedPort, serveCache, silentTcp } from '../helpers/servers.js';

const servers: Running[] = [];
const keep = <T extends Running>(s: T) => {
  servers.push(s);
  return s;
};
afterAll(async () => Promise.all(servers.map((s) => s.close())));

async function doctor(conf: string, args: string[] = [], extraFiles: Record<string, string> = {}) {
  const { dir, env } = nixConf(conf, extraFiles);
  const r = await runCli(['doctor', '--json', ...args], { env, timeoutMs: 30_000 });
  return { report: parseReport(r.stdout), run: r, dir };
}

describe('connect diagnosis', () => {
  it('says refused when nothing listens on the port', async () => {
    const url = `http://127.0.0.1:${await refusedPort()}`;
    const { report } = await doctor(`substituters = ${url}\n`, ['--only', 'connect,cache-info']);
    const c = checkOf(report, 'connect', url);
    expect(c.status).toBe('fail');
    expect(c.summary).toMatch(/refused/);
    expect(c.summary).toContain("Couldn't connect to server (7)");
    expect(c.fix).toMatch(/bindAddress|systemctl/);
    expect(c.detail).toMatch(/fallback = true/);
  });

  it('says the name does not resolve, like curl error 6', async () => {
    const url = 'http://no-such-cache.invalid:5000';
    const { report } = await doctor(`substituters = ${url}\n`, ['--only', 'connect']);
    const c = checkOf(report, 'connect', url);
    expect(c.status).toBe('fail');
    expect(c.summary).toMatch(/cannot resolve host name 'no-such-cache.invalid'/);
  });
});

describe('cache-info over real faults', () => {
  let hang: Running;
  let drip: Running;
  let s500: Running;
  let loop: Running;
  let huge: Running;
  let silent: Running;
  beforeAll(async () => {
    [hang, drip, s500, loop, huge, silent] = await Promise.all([
      faultServer('hang').then(keep),
      faultServer('drip', { bytesPerSecond: 8 }).then(keep),
      faultServer('status-500').then(keep),
      faultServer('redirect-loop').then(keep),
      faultServer('huge').then(keep),
      silentTcp().then(keep),
    ]);
  });

  it('reports a server that accepts and never answers, cut at --timeout', async () => {
    const { report, run } = await doctor(`substituters = ${hang.url}\n`, ['--only', 'connect,cache-info', '--timeout', '1']);
    expect(checkOf(report, 'connect', hang.url).status).toBe('pass');
    const info = checkOf(report, 'cache-info', hang.url);
    expect(info.status).toBe('fail');
    expect(info.summary).toMatch(/no answer/);
    expect(run.exitCode).toBe(1);
  });

  it('cuts a server that sends 8 bytes a second at --timeout 2', async () => {
    const { report } = await doctor(`substituters = ${drip.url}\n`, ['--only', 'connect,cache-info', '--timeout', '2']);
    const info = checkOf(report, 'cache-info', drip.url);
    expect(info.status).not.toBe('pass');
    expect(info.summary).toMatch(/still incomplete after 2\.0 s/);
    expect(info.data.latencyMs as number).toBeLessThan(2000 + 1500);
  });

  it("stays small while it waits on a slow cache (V8 does not optimise undici's WebAssembly parser)", async () => {
    const { dir, env } = nixConf(`substituters = ${drip.url}\n`);
    const rssFile = join(dir, 'rss.json');
    const r = await runCli(['doctor', '--json', '--only', 'connect,cache-info', '--timeout', '3'], {
      env: { ...env, NIXCACHE_RSS_FILE: rssFile },
      nodeArgs: ['--import', new URL('../../scripts/rss-probe.mjs', import.meta.url).pathname],
    });
    parseReport(r.stdout);
    const peakMb = (JSON.parse(readFileSync(rssFile, 'utf8')) as { maxRSS: number }).maxRSS / 1024;
    // Memory, not time: about 62 MB here; 95 MB when the optimising WebAssembly tier kicks in.
    expect(peakMb).toBeLessThan(85);
  });

  it('follows a chain of 7 redirects to nix-cache-info, as Nix (curl, at most 10) does', async () => {
    const server = createServer((req, res) => {
      const hop = Number(/^\/h(\d+)\//.exec(req.url ?? '')?.[1] ?? 0);
      if (hop < 7) return void res.writeHead(302, { location: `/h${hop + 1}/nix-cache-info` }).end();
      res.writeHead(200, { 'content-type': 'text/x-nix-cache-info' }).end('StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/h0`;
      const { report } = await doctor(`substituters = ${url}\n`, ['--only', 'connect,cache-info', '--timeout', '2']);
      expect(checkOf(report, 'cache-info', url)).toMatchObject({ status: 'pass', summary: expect.stringMatching(/StoreDir \/nix\/store/) });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('fails on HTTP 500, a redirect loop, a 50 MB answer and a silent TCP server', async () => {
    const { report } = await doctor(`substituters = ${s500.url} ${loop.url}/a ${huge.url} ${silent.url}\n`, [
      '--only',
      'connect,cache-info',
      '--timeout',
      '2',
    ]);
    expect(checkOf(report, 'cache-info', s500.url).summary).toMatch(/HTTP 500/);
    expect(checkOf(report, 'cache-info', `${loop.url}/a`).summary).toMatch(/more than 10 redirects/);
    expect(checkOf(report, 'cache-info', huge.url).summary).toMatch(/larger than 64\.0 kB/);
    expect(checkOf(report, 'cache-info', silent.url).summary).toMatch(/no answer/);
    for (const c of report.checks.filter((c) => c.id === 'cache-info')) expect(c.status).toBe('fail');
  });

  it('records every request as evidence with its status, bytes and time', async () => {
    const ok = keep(await serveCache(join(CACHES, 'signed-lan')));
    const { report } = await doctor(`substituters = ${ok.url}\n`, ['--only', 'connect,cache-info']);
    const info = checkOf(report, 'cache-info', ok.url);
    expect(info.evidence).toEqual([
      expect.objectContaining({ kind: 'http', method: 'GET', url: `${ok.url}/nix-cache-info`, status: 200, bytes: 21 }),
      // One narinfo no cache has: a 404 says narinfos are public (a 401/403 would be a silent miss for Nix).
      expect.objectContaining({ kind: 'http', method: 'GET', url: `${ok.url}/00000000000000000000000000000000.narinfo`, status: 404 }),
    ]);
    expect(info.data.latencyMs).toEqual(expect.any(Number));
  });
});

describe('credentials like Nix sends them', () => {
  const password = 'n3trc-Pa55word!';
  let authed: Running;
  beforeAll(async () => {
    authed = keep(await serveCache(join(CACHES, 'signed-lan'), { auth: { user: 'builder', password } }));
  });

  it('fails with 401 and explains netrc-file when no credentials are configured', async () => {
    const { report } = await doctor(`substituters = ${authed.url}\n`, ['--only', 'connect,cache-info']);
    const info = checkOf(report, 'cache-info', authed.url);
    expect(info.status).toBe('fail');
    expect(info.summary).toMatch(/401 Unauthorized/);
    expect(info.summary).toMatch(/netrc/);
    expect(info.fix).toContain('machine 127.0.0.1 login USER password ***');
    expect(info.fix).toContain('netrc-file =');
  });

  it('passes with the netrc named by netrc-file, and the password appears in no output', async () => {
    const netrc = `machine 127.0.0.1 login builder password ${password}\n`;
    const { dir, env } = nixConf('', { netrc });
    const conf = `substituters = ${authed.url}\nnetrc-file = ${join(dir, 'netrc')}\n`;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'nix.conf'), conf);
    const report = join(dir, 'report.md');
    const runs = await Promise.all([
      runCli(['doctor', '--json', '-v', '--only', 'connect,cache-info'], { env }),
      runCli(['doctor', '-v', '--report', report], { env }),
    ]);
    const parsed = parseReport(runs[0].stdout);
    expect(checkOf(parsed, 'cache-info', authed.url).status).toBe('pass');
    const everything = runs.map((r) => r.stdout + r.stderr).join('\n') + readFileSync(report, 'utf8');
    expect(everything).not.toContain(password);
  });

  it('says credentials were refused when the netrc password is wrong', async () => {
    const { report } = await doctor(`substituters = ${authed.url}\nnetrc-file = /dev/null\n`, ['--only', 'connect,cache-info']);
    expect(checkOf(report, 'cache-info', authed.url).summary).toMatch(/no credentials/);
    const url = authed.url.replace('http://', 'http://builder:wrong-pass@');
    const second = await doctor(`substituters = ${url}\n`, ['--only', 'connect,cache-info']);
    expect(checkOf(second.report, 'cache-info', url.replace('wrong-pass', '***')).summary).toMatch(
      /credentials from the URL were sent and refused/,
    );
  });
});

describe('one timeout per dead cache', () => {
  it('reports 14 mostly broken caches concurrently, in about one timeout', async () => {
    const [hang, drip, s500, html, loop, huge, silent] = await Promise.all([
      faultServer('hang').then(keep),
      faultServer('drip', { bytesPerSecond: 8 }).then(keep),
      faultServer('status-500').then(keep),
      faultServer('html').then(keep),
      faultServer('redirect-loop').then(keep),
      faultServer('huge').then(keep),
      silentTcp().then(keep),
    ]);
    const good = await Promise.all(
      ['signed-lan', 'signed-other', 'unsigned', 'gnu-store'].map((c) => serveCache(join(CACHES, c)).then(keep)),
    );
    const refused = await Promise.all([refusedPort(), refusedPort()]);
    const urls = [
      hang.url,
      drip.url,
      s500.url,
      html.url,
      `${loop.url}/a`,
      huge.url,
      silent.url,
      ...good.map((g) => g.url),
      ...refused.map((p) => `http://127.0.0.1:${p}`),
      'http://dead-cache.invalid',
    ];
    expect(urls).toHaveLength(14);
    const { report, run } = await doctor(`substituters = ${urls.join(' ')}\n`, ['--timeout', '3']);
    expect(report.caches).toHaveLength(14);
    const perCache = (url: string) => report.checks.filter((c) => c.cache === url).map((c) => c.id);
    for (const url of urls) expect(perCache(url)).toEqual(perCache(urls[0] as string));
    expect(perCache(urls[0] as string)).toEqual(expect.arrayContaining(['ping', 'connect', 'cache-info', 'signature']));
    expect(report.checks.filter((c) => c.reason === 'deadline')).toEqual([]);
    // Nothing on stderr: no Node warning (e.g. MaxListenersExceededWarning from many requests sharing the deadline).
    expect(run.stderr).toBe('');
    console.log(`14 caches, --timeout 3: the doctor reported in ${report.durationMs} ms (process ${Math.round(run.durationMs)} ms)`);
    // Bounded, not timed: well under the 14 × 3 s a serial doctor would need.
    expect(report.durationMs).toBeLessThan(14_000);
  });
});
