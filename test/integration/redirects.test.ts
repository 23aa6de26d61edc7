import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import type { CoverageReport } from '../../src/report/coverage.js';
import type { WhyReport } from '../../src/report/why.js';
import { nixConf, runCli } from '../helpers/cli.js';
import { CACHES, KEYS } from '../helpers/servers.js';
import { FIXTURE_PATHS, missing } from '../helpers/system.js';

const LAN_KEY = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
const LAN = join(CACHES, 'signed-lan');
const [APP, LEAF_A] = FIXTURE_PATHS as [string, string];
const skipReason = missing('why/coverage through redirects against real Nix', { root: true, commands: ['nix', 'nix-store'] });

interface Served {
  url: string;
  /** `METHOD path authorization-or--`, in order. */
  seen: string[];
  close(): Promise<void>;
}

const running: Served[] = [];
afterAll(() => Promise.all(running.map((s) => s.close())));

/**
 * The Nix-made signed-lan cache on HOST, every file also under /m/; REDIRECT(path) names where
 * a path is sent instead (undefined: served). AUTH: the narinfos need these credentials.
 */
async function serve(redirect: (path: string) => string | undefined, opts: { host?: string; auth?: string } = {}): Promise<Served> {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0] as string;
      seen.push(`${req.method} ${path} ${req.headers.authorization ?? '-'}`);
      const to = redirect(path);
      if (to !== undefined) return void res.writeHead(path.startsWith('/nar/') ? 301 : 302, { location: to }).end();
      if (opts.auth && path.endsWith('.narinfo') && req.headers.authorization !== opts.auth)
        return void res.writeHead(401, { 'www-authenticate': 'Basic realm="cache"' }).end();
      try {
        const body = await readFile(join(LAN, path.replace(/^\/m\//, '/').replace(/\.\./g, '')));
        res.writeHead(200, { 'content-length': body.length }).end(req.method === 'HEAD' ? undefined : body);
      } catch {
        res.writeHead(404).end();
      }
    })().catch(() => res.destroy());
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const served: Served = {
    url: `http://${host}:${(server.address() as { port: number }).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  running.push(served);
  return served;
}

function world(cache: string, files: Record<string, string> = {}) {
  const conf = nixConf(`substituters = ${cache}\ntrusted-public-keys = ${LAN_KEY}\n${files.netrc ? 'netrc-file = NETRC\n' : ''}`);
  if (files.netrc) {
    writeFileSync(join(conf.dir, 'netrc'), files.netrc);
    writeFileSync(join(conf.dir, 'nix.conf'), readFileSync(join(conf.dir, 'nix.conf'), 'utf8').replace('NETRC', join(conf.dir, 'netrc')));
  }
  const cacheHome = join(conf.dir, 'cache');
  mkdirSync(cacheHome);
  return { ...conf, store: join(conf.dir, 'store'), env: { ...conf.env, XDG_CACHE_HOME: cacheHome } };
}

/** Real Nix substituting PATH into the world's empty store: true when it could. */
async function nixSubstitutes(w: ReturnType<typeof world>, path: string): Promise<boolean> {
  const r = await execa('nix-store', ['--store', w.store, '-r', path, '--option', 'stalled-download-timeout', '10'], {
    env: w.env,
    reject: false,
    timeout: 60_000,
  });
  return r.exitCode === 0;
}

async function why(w: ReturnType<typeof world>, path: string): Promise<WhyReport> {
  const r = await runCli(['why', '--json', '--store', w.store, path], { env: w.env });
  return JSON.parse(r.stdout);
}

async function coverage(w: ReturnType<typeof world>, path: string): Promise<CoverageReport> {
  const r = await runCli(['coverage', '--json', '--store', w.store, path], { env: w.env });
  return JSON.parse(r.stdout);
}

describe.skipIf(skipReason)('why and coverage through redirects (Nix 2.8 as the oracle)', () => {
  const narinfo = (path: string) => /^\/[0-9a-z]{32}\.narinfo$/.test(path);
  const cases: { name: string; make: () => Promise<Served> }[] = [
    { name: 'a narinfo 302 to another path on the same host', make: () => serve((p) => (narinfo(p) ? `/m${p}` : undefined)) },
    {
      name: 'a narinfo 302 to another loopback host and port',
      make: async () => {
        const there = await serve(() => undefined, { host: '127.0.0.2' });
        return serve((p) => (narinfo(p) ? `${there.url}/m${p}` : undefined));
      },
    },
    { name: 'a NAR 301 to another path', make: () => serve((p) => (p.startsWith('/nar/') ? `/m${p}` : undefined)) },
  ];
  for (const c of cases) {
    it(`substitutes through ${c.name}, as nix-store -r does`, async () => {
      const cache = await c.make();
      const w = world(cache.url);
      const report = await why(w, APP);
      expect(report.paths[0]).toMatchObject({ verdict: 'substitute' });
      expect(report.paths[0]!.caches[0]).toMatchObject({ narinfo: 'present', signature: 'trusted', nar: 'ok' });
      const cov = await coverage(w, APP);
      expect(cov.caches[0]).toMatchObject({ present: 3, error: 0, unreachable: 0, coverage: 1 });
      expect(await nixSubstitutes(w, APP)).toBe(true);
    });
  }

  it('says build for a narinfo redirected in a loop, as nix-store -r fails ("HTTP error 302")', async () => {
    const cache = await serve((p) => (narinfo(p) ? p : undefined));
    const w = world(cache.url);
    const report = await why(w, LEAF_A);
    expect(report.paths[0]).toMatchObject({ verdict: 'build' });
    expect(report.paths[0]!.caches[0]).toMatchObject({ narinfo: 'error', narinfoDetail: 'HTTP 302' });
    expect(await nixSubstitutes(w, LEAF_A)).toBe(false);
  });

  it('sends the netrc credentials to the cache and not to the host it redirects to, as Nix does', async () => {
    const auth = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
    const there = await serve(() => undefined, { host: '127.0.0.2' });
    // The narinfo is answered by the cache (which checks the credentials), its NAR is sent elsewhere.
    const here = await serve((p) => (p.startsWith('/nar/') ? `${there.url}/m${p}` : undefined), { auth });
    const w = world(here.url, { netrc: 'machine 127.0.0.1 login alice password s3cret\n' });
    const report = await why(w, LEAF_A);
    expect(report.paths[0]).toMatchObject({ verdict: 'substitute' });
    const ours = [...there.seen];
    expect(await nixSubstitutes(w, LEAF_A)).toBe(true);
    const nixs = there.seen.slice(ours.length);
    expect(here.seen.filter((s) => s.includes('/nar/')).every((s) => s.endsWith(auth))).toBe(true);
    // Neither nixcache nor Nix sent 127.0.0.2 a credential.
    expect(nixs.length).toBeGreaterThan(0);
    expect([...ours, ...nixs].every((s) => s.endsWith(' -'))).toBe(true);
  });
});
