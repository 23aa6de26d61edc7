import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import type { CoverageReport } from '../../src/report/coverage.js';
import type { WhyReport } from '../../src/report/why.js';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { CACHES, KEYS } from '../helpers/servers.js';
import { FIXTURE_PATHS, missing } from '../helpers/system.js';

// What Nix 2.8 does when it opens a cache (its nix-cache-info, or its narinfo disk cache row) and
// when it reads a NAR file's bytes against its Compression: label — why and coverage against real
// Nix on the same nix.conf, store and disk cache.

const LAN_KEY = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
const [APP, LEAF_A] = FIXTURE_PATHS as [string, string, string];
const lan = join(CACHES, 'signed-lan');
const skipReason = missing('why/coverage against real Nix', { root: true, commands: ['nix', 'nix-store', 'xz'] });

/** How the served cache answers /nix-cache-info: a status, the file of the fixture, other text, or bytes without end. */
type CacheInfoMode = { status: number } | { text: string } | 'fixture' | 'endless';

interface Served {
  url: string;
  /** Changes how /nix-cache-info answers from now on. */
  cacheInfo: CacheInfoMode;
  /** Every NAR file answers this status. */
  narStatus?: number;
  close(): Promise<void>;
}

const servers: Served[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** DIR (a binary cache made by real Nix) on loopback, its nix-cache-info answering as CACHEINFO says (changeable). */
async function serve(dir: string, cacheInfo: CacheInfoMode = 'fixture', narStatus?: number): Promise<Served> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] as string);
    if (req.method === 'PUT') return void res.writeHead(405).end();
    const mode = served.cacheInfo;
    if (path === '/nix-cache-info' && mode !== 'fixture') {
      if (mode === 'endless') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const pump = () => {
          while (res.write(`StoreDir: /nix/store\n${'#'.repeat(16 * 1024)}\n`));
        };
        res.on('drain', pump);
        pump();
        return;
      }
      if ('status' in mode) return void res.writeHead(mode.status).end('no\n');
      return void res.writeHead(200).end(mode.text);
    }
    if (path.startsWith('/nar/') && served.narStatus) return void res.writeHead(served.narStatus).end('no\n');
    const file = normalize(join(dir, path));
    if (!file.startsWith(dir)) return void res.writeHead(403).end();
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-length': body.length }).end(req.method === 'HEAD' ? undefined : body);
    } catch {
      res.writeHead(404).end('404\n');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const served: Served = {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    cacheInfo,
    ...(narStatus ? { narStatus } : {}),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(served);
  return served;
}

/** A copy of the signed fixture cache, changed by EDIT. */
function copyOfLan(edit: (dir: string) => void): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'nixcache-opens-')), 'cache');
  cpSync(lan, dir, { recursive: true });
  edit(dir);
  return dir;
}

/** Every narinfo of DIR labelled Compression: LABEL (the label is not signed: the signatures still verify). */
function relabel(dir: string, label: string) {
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.narinfo')))
    writeFileSync(join(dir, f), readFileSync(join(dir, f), 'utf8').replace(/^Compression: .*$/m, `Compression: ${label}`));
}

/** The NAR files of DIR decompressed: plain NARs under their .nar.xz names. */
function decompressNars(dir: string) {
  for (const f of readdirSync(join(dir, 'nar'))) {
    const file = join(dir, 'nar', f);
    writeFileSync(file, execFileSync('xz', ['-dc', file]));
  }
}

/** A nix.conf both nixcache and real Nix read, an empty store to substitute into, and a fresh narinfo disk cache. */
function world(substituters: string[]) {
  const conf = nixConf(`substituters = ${substituters.join(' ')}\ntrusted-public-keys = ${LAN_KEY}\n`);
  const cache = join(conf.dir, 'cache');
  mkdirSync(cache);
  return { ...conf, store: join(conf.dir, 'store'), env: { ...conf.env, XDG_CACHE_HOME: cache } };
}
type World = ReturnType<typeof world>;

/** Real Nix substituting PATH into the world's empty store: whether it could, and what it said. */
async function nixSubstitutes(w: World, path: string, timeout = 60_000): Promise<{ ok: boolean; stderr: string }> {
  const r = await execa('nix-store', ['--store', w.store, '-r', path, '--option', 'stalled-download-timeout', '10'], {
    env: { ...w.env },
    reject: false,
    timeout,
  });
  return { ok: r.exitCode === 0, stderr: String(r.stderr) };
}

async function why(w: World, paths: string[]): Promise<{ report: WhyReport; exitCode: number | undefined }> {
  const r = await runCli(['why', '--json', '--store', w.store, ...paths], { env: w.env });
  return { report: JSON.parse(r.stdout), exitCode: r.exitCode };
}

async function coverage(w: World, paths: string[]): Promise<{ report: CoverageReport; exitCode: number | undefined }> {
  const r = await runCli(['coverage', '--json', '--store', w.store, ...paths], { env: w.env });
  return { report: JSON.parse(r.stdout), exitCode: r.exitCode };
}

describe.skipIf(skipReason)(
  'a cache whose nix-cache-info fails: Nix drops it unless its disk cache remembers it (Nix 2.8 as the oracle)',
  () => {
    const cases = [
      { status: 404, words: 'does not appear to be a binary cache' },
      { status: 401, words: 'does not appear to be a binary cache' },
      { status: 500, words: "/nix-cache-info': HTTP error 500" },
    ];
    for (const c of cases)
      it(`says build, not used, for a cache whose nix-cache-info answers ${c.status}, as nix-store -r does`, async () => {
        const cache = await serve(lan, { status: c.status });
        const w = world([cache.url]);
        const { report, exitCode } = await why(w, [LEAF_A]);
        const p = report.paths[0]!;
        expect(report.caches[0]).toMatchObject({ used: false, unusedReason: expect.stringContaining(c.words) });
        expect(p.verdict).toBe('build');
        expect(p.reason).toContain(`Nix does not use ${cache.url}`);
        expect(p.reason).toContain(c.words);
        expect(p.fix).toBeTruthy();
        expect(exitCode).toBe(1);
        const cov = await coverage(w, [APP]);
        expect(cov.report).toMatchObject({ paths: 3, available: 0 });
        expect(cov.report.caches[0]).toMatchObject({ used: false, attributed: 0 });
        expect(cov.exitCode).toBe(1);
        const nix = await nixSubstitutes(w, LEAF_A);
        expect(nix.ok).toBe(false);
        expect(nix.stderr).toContain(c.words);
      });

    it('still uses a cache whose nix-cache-info is an HTML page with 200: Nix reads no field from it and substitutes', async () => {
      const cache = await serve(lan, { text: '<!doctype html><html><body>Welcome</body></html>\n' });
      const w = world([cache.url]);
      const { report } = await why(w, [LEAF_A]);
      expect(report.caches[0]).toMatchObject({ used: true });
      expect(report.paths[0]).toMatchObject({ verdict: 'substitute', from: cache.url });
      expect((await nixSubstitutes(w, LEAF_A)).ok).toBe(true);
    });

    it('says substitute from a cache Nix remembers although its nix-cache-info now fails or names another store, as Nix does', async () => {
      const cache = await serve(lan, { text: 'StoreDir: /nix/store\nPriority: 7\n' });
      const w = world([cache.url]);
      // Nix opens the cache once, and writes its row in BinaryCaches (Priority 7)…
      const seen = await execa('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--store', cache.url, LEAF_A], {
        env: { ...w.env },
        reject: false,
      });
      expect(seen.exitCode).toBe(0);
      // …then the server breaks: Nix never asks for nix-cache-info again while it has the row.
      for (const mode of [{ status: 500 }, { text: 'StoreDir: /gnu/store\n' }]) {
        cache.cacheInfo = mode;
        const { report, exitCode } = await why(w, [LEAF_A]);
        expect(report.caches[0]).toMatchObject({ used: true, priority: 7, prioritySource: 'cache-info' });
        expect(report.paths[0]).toMatchObject({ verdict: 'substitute', from: cache.url });
        expect(exitCode).toBe(0);
        const cov = await coverage(w, [APP]);
        expect(cov.report).toMatchObject({ paths: 3, available: 3 });
      }
      expect((await nixSubstitutes(w, LEAF_A)).ok).toBe(true);
    });

    it('says a nix-cache-info without end holds Nix, in words about nix-cache-info, not a narinfo', async () => {
      const cache = await serve(lan, 'endless');
      const w = world([cache.url]);
      const { report, exitCode } = await why(w, [LEAF_A]);
      const p = report.paths[0]!;
      expect(p.verdict).toBe('build');
      expect(p.reason).toContain(`${cache.url}/nix-cache-info goes on past what nixcache reads`);
      // Its narinfos are looked up as usual: the fault is nix-cache-info's alone.
      expect(p.caches[0]).toMatchObject({ narinfo: 'present', narinfoDetail: null });
      expect(p.fix).toContain('Serve a nix-cache-info of a few lines');
      expect(exitCode).toBe(1);
      // Nix reads on and on: it has substituted nothing when it is stopped.
      expect((await nixSubstitutes(w, LEAF_A, 8000)).ok).toBe(false);
    });
  },
);

describe.skipIf(skipReason)('why reads the first bytes of every NAR file and judges them as Nix 2.8 does for each label', () => {
  const cases = [
    { name: 'none over xz', edit: (d: string) => relabel(d, 'none'), nix: "bad archive: input doesn't look like a Nix archive" },
    { name: 'xz over a plain NAR', edit: (d: string) => decompressNars(d), nix: 'input compression not recognized' },
    { name: 'br over xz', edit: (d: string) => relabel(d, 'br'), nix: 'error while decompressing brotli file' },
    { name: 'bzip2 over xz', edit: (d: string) => relabel(d, 'bzip2'), nix: null },
  ];
  for (const c of cases)
    it(`${c.nix ? 'builds' : 'substitutes'} for Compression: ${c.name}, as nix-store -r does, and agrees with the doctor’s nar check`, async () => {
      const cache = await serve(copyOfLan(c.edit));
      const w = world([cache.url]);
      const { report, exitCode } = await why(w, [LEAF_A]);
      const p = report.paths[0]!;
      expect(p.verdict).toBe(c.nix ? 'build' : 'substitute');
      expect(p.caches[0]).toMatchObject({ nar: 'ok', decodable: c.nix === null });
      if (c.nix) expect(p.reason).toContain(`"${c.nix}"`);
      expect(exitCode).toBe(c.nix ? 1 : 0);
      const nix = await nixSubstitutes(w, LEAF_A);
      expect(nix.ok).toBe(c.nix === null);
      if (c.nix) expect(nix.stderr).toContain(c.nix);
      const doctor = await runCli(['doctor', '--json', '--sample', LEAF_A, '--only', 'connect,cache-info,signature,nar'], { env: w.env });
      const nar = checkOf(parseReport(doctor.stdout), 'nar', cache.url);
      expect(nar.status).toBe(c.nix ? 'fail' : 'warn');
      if (c.nix) expect(nar.summary).toContain(`"${c.nix}"`);
    });
});

describe.skipIf(skipReason)('why quotes what Nix says about a NAR file that does not download', () => {
  it('quotes Nix’s download error for a NAR answering 500, not its 404 words', async () => {
    const cache = await serve(lan, 'fixture', 500);
    const w = world([cache.url]);
    const { report } = await why(w, [LEAF_A]);
    const p = report.paths[0]!;
    expect(p.verdict).toBe('build');
    const quoted = /\("(unable to download '[^']*': HTTP error 500)"\)/.exec(p.reason)?.[1];
    expect(quoted).toBeTruthy();
    expect(p.reason).not.toContain('does not exist in binary cache');
    const nix = await nixSubstitutes(w, LEAF_A);
    expect(nix.ok).toBe(false);
    expect(nix.stderr).toContain(quoted);
  });

  it('names the real reason in the table for a cache skipped for its StoreDir, not the daemon', async () => {
    const cache = await serve(lan, { text: 'StoreDir: /gnu/store\n' });
    const w = world([cache.url]);
    const r = await runCli(['why', '--store', w.store, LEAF_A], { env: w.env });
    const text = r.stdout.replace(/\s+/g, ' ');
    expect(text).toContain(`1. ${cache.url} (not used: it serves the store directory '/gnu/store'`);
    expect(text).not.toContain('not used by the daemon');
  });
});
