import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoverageReport } from '../../src/report/coverage.js';
import type { WhyReport } from '../../src/report/why.js';
import { serveVariant, type Variant } from '../helpers/cache-variants.js';
import { AS_NOBODY, checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { CACHES, KEYS } from '../helpers/servers.js';
import { FIXTURE_PATHS, missing } from '../helpers/system.js';

const LAN_KEY = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
const [APP, LEAF_A, LEAF_B] = FIXTURE_PATHS as [string, string, string];
const hashOf = (p: string) => p.slice('/nix/store/'.length, '/nix/store/'.length + 32);
const skipReason = missing('why/coverage against real Nix', { root: true, commands: ['nix', 'nix-store'] });

const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
const schemas = {
  why: ajv.compile(JSON.parse(readFileSync(new URL('../../schema/why.schema.json', import.meta.url), 'utf8'))),
  coverage: ajv.compile(JSON.parse(readFileSync(new URL('../../schema/coverage.schema.json', import.meta.url), 'utf8'))),
};

/** Parses --json output, asserting one document valid against its shipped schema. */
function parse<K extends 'why' | 'coverage'>(kind: K, stdout: string): K extends 'why' ? WhyReport : CoverageReport {
  const doc = JSON.parse(stdout);
  const validate = schemas[kind];
  expect(validate(doc) ? [] : validate.errors).toEqual([]);
  expect(doc.kind).toBe(kind);
  return doc;
}

const caches: Record<string, Variant> = {};
const lan = join(CACHES, 'signed-lan');

beforeAll(async () => {
  if (skipReason) return;
  caches.full = await serveVariant(lan);
  caches.holes = await serveVariant(lan, { hide: new Set([hashOf(LEAF_B)]) });
  caches.untrusted = await serveVariant(join(CACHES, 'signed-other'));
  caches.auth = await serveVariant(lan, { narinfoStatus: 401 });
  caches.narless = await serveVariant(lan, { narMissing: true });
});
afterAll(async () => {
  await Promise.all(Object.values(caches).map((c) => c.close()));
});

/** A nix.conf both nixcache and real Nix read, an empty store to substitute into, and a fresh narinfo disk cache. */
function world(substituters: string[], extra = '') {
  const conf = nixConf(`substituters = ${substituters.join(' ')}\ntrusted-public-keys = ${LAN_KEY}\n${extra}`);
  const store = join(conf.dir, 'store');
  const cache = join(conf.dir, 'cache');
  mkdirSync(cache);
  return { ...conf, store, env: { ...conf.env, XDG_CACHE_HOME: cache }, diskCache: join(cache, 'nix', 'binary-cache-v6.sqlite') };
}

/**
 * Real Nix substituting PATH into the world's empty store: true when it could. Asynchronous: the
 * caches it downloads from are served by this process's event loop.
 */
async function nixSubstitutes(w: ReturnType<typeof world>, path: string): Promise<boolean> {
  const r = await execa('nix-store', ['--store', w.store, '-r', path, '--option', 'stalled-download-timeout', '10'], {
    env: { ...w.env },
    reject: false,
    timeout: 30_000,
  });
  return r.exitCode === 0;
}

async function why(w: ReturnType<typeof world>, paths: string[], args: string[] = []) {
  const r = await runCli(['why', '--json', '--store', w.store, ...args, ...paths], { env: w.env });
  return { ...r, report: parse('why', r.stdout) };
}

async function coverage(w: ReturnType<typeof world>, paths: string[], args: string[] = []) {
  const r = await runCli(['coverage', '--json', '--store', w.store, ...args, ...paths], { env: w.env });
  return { ...r, report: parse('coverage', r.stdout) };
}

describe.skipIf(skipReason)('why: the verdict real Nix reaches, cache by cache (Nix 2.8 as the oracle)', () => {
  const cases = [
    { cache: 'full', verdict: 'substitute', words: { narinfo: 'present', signature: 'trusted', nar: 'ok' } },
    { cache: 'holes', verdict: 'build', words: { narinfo: 'present', signature: 'trusted', nar: 'ok' }, reason: /reference .*leaf-b/ },
    {
      cache: 'untrusted',
      verdict: 'build',
      words: { narinfo: 'present', signature: 'untrusted', keys: ['other-cache-1'] },
      reason: /other-cache-1/,
    },
    { cache: 'auth', verdict: 'build', words: { narinfo: 'auth', signature: null, nar: null }, reason: /treats this as missing/ },
    { cache: 'narless', verdict: 'build', words: { narinfo: 'present', nar: 'missing' }, reason: /NAR file is missing/ },
  ] as const;
  for (const c of cases) {
    it(`says ${c.verdict} for the app from the ${c.cache} cache, as nix-store -r does`, async () => {
      const w = world([caches[c.cache]!.url]);
      const { report, exitCode } = await why(w, [APP]);
      const p = report.paths[0]!;
      expect(p.verdict).toBe(c.verdict);
      expect(p.caches[0]).toMatchObject(c.words);
      if ('reason' in c) expect(p.reason).toMatch(c.reason);
      expect(exitCode).toBe(c.verdict === 'build' ? 1 : 0);
      if (c.verdict === 'build') expect(p.fix).toBeTruthy();
      // The oracle: real Nix, same nix.conf, same empty store.
      expect(await nixSubstitutes(w, APP)).toBe(c.verdict === 'substitute');
    });
  }

  it('takes the first cache in Nix’s order that works, and says what the ones before it lacked', async () => {
    const w = world([`${caches.untrusted!.url}?priority=5`, `${caches.full!.url}?priority=10`]);
    const { report } = await why(w, [LEAF_A]);
    expect(report.caches.map((c) => c.order)).toEqual([1, 2]);
    expect(report.paths[0]).toMatchObject({ verdict: 'substitute', from: `${caches.full!.url}?priority=10` });
    expect(report.paths[0]!.reason).toMatch(/other-cache-1/);
    expect(await nixSubstitutes(w, LEAF_A)).toBe(true);
  });

  it('says valid for a path already in the store it substitutes into', async () => {
    const w = world([caches.full!.url]);
    expect(await nixSubstitutes(w, LEAF_A)).toBe(true);
    const { report, exitCode } = await why(w, [LEAF_A]);
    expect(report.paths[0]!.verdict).toBe('valid');
    // Still looked up: whether the cache has what this machine holds is worth knowing.
    expect(report.paths[0]!.caches[0]).toMatchObject({ narinfo: 'present', signature: 'trusted' });
    expect(exitCode).toBe(0);
  });

  it('accepts a bare hash-name and says 401 answers are treated as missing in the Markdown report too', async () => {
    const w = world([caches.auth!.url]);
    const file = join(w.dir, 'why.md');
    const r = await runCli(['why', '--store', w.store, '--report', file, LEAF_A.slice('/nix/store/'.length)], { env: w.env });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/✘ build/);
    expect(readFileSync(file, 'utf8')).toMatch(/^# nixcache why/);
    expect(readFileSync(file, 'utf8')).toMatch(/treats this as missing/);
  });
});

describe.skipIf(skipReason)('why and Nix’s narinfo disk cache (an entry written by real Nix)', () => {
  it('reports a negative entry with its expiry and the fix, then substitute once the entry is gone', async () => {
    const hidden = new Set([hashOf(LEAF_A)]);
    const server = await serveVariant(lan, { hide: hidden });
    try {
      const w = world([server.url]);
      // Nix asks before the path is pushed, and remembers the answer…
      expect(await nixSubstitutes(w, LEAF_A)).toBe(false);
      // …then it is pushed.
      hidden.clear();
      const { report, exitCode } = await why(w, [LEAF_A]);
      const p = report.paths[0]!;
      expect(report.diskCache).toMatchObject({ state: 'read', path: w.diskCache });
      expect(p.caches[0]).toMatchObject({ narinfo: 'present', diskCache: 'negative' });
      const expires = Date.parse(p.caches[0]!.diskCacheExpires!);
      expect(expires).toBeGreaterThan(Date.now());
      expect(expires).toBeLessThanOrEqual(Date.now() + 3600_000);
      expect(p.verdict).toBe('build');
      expect(p.reason).toMatch(/remembers it as missing until/);
      expect(p.fix).toContain('narinfo-cache-negative-ttl 0');
      expect(p.fix).toContain(`hashPart = '${hashOf(LEAF_A)}'`);
      expect(exitCode).toBe(1);
      // Nix agrees: it still does not substitute.
      expect(await nixSubstitutes(w, LEAF_A)).toBe(false);
      // The fix, as the report gives it: remove the row.
      const del = await execa('sqlite3', [w.diskCache, `delete from NARs where hashPart = '${hashOf(LEAF_A)}' and present = 0`], {
        reject: false,
      });
      expect(del.exitCode).toBe(0);
      const after = await why(w, [LEAF_A]);
      expect(after.report.paths[0]).toMatchObject({ verdict: 'substitute' });
      expect(await nixSubstitutes(w, LEAF_A)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('counts an expired negative entry as none (narinfo-cache-negative-ttl = 0), as Nix does', async () => {
    const hidden = new Set([hashOf(LEAF_B)]);
    const server = await serveVariant(lan, { hide: hidden });
    try {
      const w = world([server.url], 'narinfo-cache-negative-ttl = 0\n');
      expect(await nixSubstitutes(w, LEAF_B)).toBe(false);
      hidden.clear();
      const { report } = await why(w, [LEAF_B]);
      expect(report.paths[0]).toMatchObject({ verdict: 'substitute' });
      expect(report.paths[0]!.caches[0]!.diskCache).toBe('none');
      expect(await nixSubstitutes(w, LEAF_B)).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe.skipIf(skipReason)('coverage: per cache, in Nix’s order', () => {
  it('counts every cache correctly and attributes each path to the first cache Nix would use', async () => {
    const urls = [
      `${caches.holes!.url}?priority=1`,
      `${caches.untrusted!.url}?priority=2`,
      `${caches.auth!.url}?priority=3`,
      `${caches.full!.url}?priority=4`,
      `${caches.narless!.url}?priority=5`,
    ];
    const w = world(urls);
    const { report, exitCode } = await coverage(w, [APP]);
    expect(report.paths).toBe(3);
    const byUrl = Object.fromEntries(report.caches.map((c) => [c.url, c]));
    expect(byUrl[urls[0]!]).toMatchObject({ order: 1, present: 2, missing: 1, untrusted: 0, auth: 0, attributed: 2 });
    expect(byUrl[urls[1]!]).toMatchObject({ order: 2, present: 0, untrusted: 3, attributed: 0, coverage: 0 });
    expect(byUrl[urls[2]!]).toMatchObject({ order: 3, present: 0, auth: 3, attributed: 0 });
    expect(byUrl[urls[3]!]).toMatchObject({ order: 4, present: 3, coverage: 1, attributed: 1 });
    // Narinfos Nix accepts, NAR files that answer 404: not present, counted apart.
    expect(byUrl[urls[4]!]).toMatchObject({ order: 5, present: 0, narMissing: 3, coverage: 0, attributed: 0 });
    expect(byUrl[urls[0]!]!.coverage).toBeCloseTo(2 / 3, 3);
    // Sizes are the narinfos' FileSize and NarSize.
    const sizes = FIXTURE_PATHS.map((p) => readFileSync(join(lan, `${hashOf(p)}.narinfo`), 'utf8'));
    const sum = (field: string) => sizes.reduce((n, t) => n + Number(new RegExp(`^${field}: (\\d+)$`, 'm').exec(t)?.[1]), 0);
    expect(byUrl[urls[3]!]).toMatchObject({ fileSize: sum('FileSize'), narSize: sum('NarSize') });
    expect(report.missing).toEqual([]);
    expect(report.holes).toEqual([{ cache: urls[0], path: APP, missing: [LEAF_B.slice('/nix/store/'.length)] }]);
    expect(exitCode).toBe(0);
  });

  it('takes a path whose NAR 404s or 500s in the first cache from the next, as Nix does, and builds it when no cache has its NAR', async () => {
    const failing = await serveVariant(lan, { narStatus: 500 });
    try {
      for (const first of [caches.narless!.url, failing.url]) {
        const w = world([`${first}?priority=1`, `${caches.full!.url}?priority=2`]);
        const { report, exitCode } = await coverage(w, [APP]);
        expect(report.caches[0]).toMatchObject({ present: 0, narMissing: 3, attributed: 0 });
        expect(report.caches[1]).toMatchObject({ present: 3, narMissing: 0, attributed: 3 });
        expect(report.missing).toEqual([]);
        expect(exitCode).toBe(0);
        // Nix retries a 500 with backoff before it moves on: asked only about the 404.
        if (first === caches.narless!.url) expect(await nixSubstitutes(w, APP)).toBe(true);
      }
      const alone = world([caches.narless!.url]);
      const { report, exitCode } = await coverage(alone, [APP]);
      expect(report).toMatchObject({ paths: 3, available: 0 });
      expect(report.missing).toHaveLength(3);
      expect(exitCode).toBe(1);
      expect(await nixSubstitutes(alone, APP)).toBe(false);
      const table = await runCli(['coverage', '--store', alone.store, APP], { env: alone.env });
      expect(table.stdout.replace(/\s+/g, ' ')).toContain('3 paths with a narinfo Nix accepts but a NAR file that is missing');
      const markdown = await runCli(['coverage', '--report', '-', '--store', alone.store, APP], { env: alone.env });
      expect(markdown.stdout).toContain('| NAR missing |');
    } finally {
      await failing.close();
    }
  });

  it('lists the paths no cache has, exits 1, and agrees with nix path-info --store on what each cache holds', async () => {
    const w = world([caches.holes!.url]);
    const { report, exitCode } = await coverage(w, [APP]);
    expect(report.missing).toEqual([LEAF_B]);
    expect(exitCode).toBe(1);
    for (const p of FIXTURE_PATHS) {
      const r = await execa('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--store', caches.holes!.url, p], {
        env: { ...w.env, NIX_CONFIG: 'narinfo-cache-negative-ttl = 0' },
        reject: false,
        timeout: 30_000,
      });
      expect(r.exitCode === 0).toBe(!report.missing.includes(p));
    }
  });

  it('walks the closure through the caches’ References when the root is not in the store', async () => {
    const w = world([caches.full!.url]);
    const { report } = await coverage(w, [APP]);
    expect(report.roots).toEqual([APP]);
    expect(report.paths).toBe(3);
    const only = await coverage(w, [APP], ['--no-closure']);
    expect(only.report.paths).toBe(1);
  });

  it('waits for a 429’s Retry-After and still counts every path', async () => {
    const server = await serveVariant(lan, { rateLimit: { first: 2, retryAfter: '1' } });
    try {
      const w = world([server.url]);
      const { report } = await coverage(w, [APP]);
      expect(report.caches[0]).toMatchObject({ present: 3, error: 0 });
      expect(report.requests.rateLimited).toBeGreaterThanOrEqual(1);
      expect(report.requests.retries).toBeGreaterThanOrEqual(report.requests.rateLimited);
      // Both 429s were answered by asking again, not by giving up.
      const narinfoRequests = server.requests.filter((r) => r.endsWith('.narinfo'));
      expect(narinfoRequests.length).toBe(3 + 2);
    } finally {
      await server.close();
    }
  });

  it('prints a table with the ratio per cache and nothing on stderr when piped', async () => {
    const w = world([caches.holes!.url]);
    const r = await runCli(['coverage', '--store', w.store, APP], { env: w.env });
    expect(r.stdout).toMatch(/66\.7%/);
    expect(r.stdout).toContain(LEAF_B);
    expect(r.stderr).toBe('');
  });
});

/** A copy of the signed fixture cache with its files changed by EDIT, served on loopback (closed after the file's tests). */
async function edited(edit: (dir: string) => void): Promise<Variant> {
  const dir = join(mkdtempSync(join(tmpdir(), 'nixcache-variant-')), 'cache');
  cpSync(lan, dir, { recursive: true });
  edit(dir);
  const served = await serveVariant(dir);
  caches[`edited-${Object.keys(caches).length}`] = served;
  return served;
}

/** Every narinfo of DIR labelled Compression: LABEL (the label is not signed: the signatures still verify). */
function relabel(dir: string, label: string) {
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.narinfo')))
    writeFileSync(join(dir, f), readFileSync(join(dir, f), 'utf8').replace(/^Compression: .*$/m, `Compression: ${label}`));
}

async function narCheck(w: ReturnType<typeof world>, url: string) {
  const r = await runCli(['doctor', '--json', '--sample', LEAF_A, '--only', 'connect,cache-info,signature,nar'], { env: w.env });
  return checkOf(parseReport(r.stdout), 'nar', url);
}

describe.skipIf(skipReason)('what Nix 2.8 makes of a cache’s own oddities (real Nix as the oracle)', () => {
  it('substitutes from a NAR labelled Compression: foo whose bytes are xz: Nix hands the label to libarchive, which reads the bytes', async () => {
    const cache = await edited((dir) => relabel(dir, 'foo'));
    const w = world([cache.url]);
    const { report, exitCode } = await why(w, [LEAF_A]);
    expect(report.paths[0]).toMatchObject({ verdict: 'substitute', fix: null });
    expect(report.paths[0]!.caches[0]).toMatchObject({ compression: 'foo', decodable: true, nar: 'ok' });
    expect(report.paths[0]!.caches[0]!.narDetail).toMatch(/hands the file to libarchive, which recognises it as xz/);
    expect(exitCode).toBe(0);
    expect(await nixSubstitutes(w, LEAF_A)).toBe(true);
    const nar = await narCheck(w, cache.url);
    expect(nar.status).toBe('warn');
    expect(nar.summary).toContain('recognises it as xz and decodes it');
  });

  it('builds when a NAR labelled Compression: foo is an uncompressed NAR: libarchive says "input compression not recognized"', async () => {
    const cache = await edited((dir) => {
      relabel(dir, 'foo');
      for (const f of readdirSync(join(dir, 'nar'))) {
        const file = join(dir, 'nar', f);
        writeFileSync(file, execFileSync('xz', ['-dc', file]));
      }
    });
    const w = world([cache.url]);
    const { report, exitCode } = await why(w, [LEAF_A]);
    const p = report.paths[0]!;
    expect(p.verdict).toBe('build');
    expect(p.reason).toContain('input compression not recognized');
    expect(p.caches[0]).toMatchObject({ compression: 'foo', decodable: false });
    expect(exitCode).toBe(1);
    expect(await nixSubstitutes(w, LEAF_A)).toBe(false);
    const nar = await narCheck(w, cache.url);
    expect(nar.status).toBe('fail');
    expect(nar.summary).toContain('Nix fails with "input compression not recognized"');
  });

  it('says a cache for /gnu/store is skipped for its store directory, not for the daemon, and takes the path from the next cache', async () => {
    const gnu = await serveVariant(lan, { cacheInfo: 'StoreDir: /gnu/store\n' });
    caches.gnu = gnu;
    const w = world([gnu.url]);
    const { report, exitCode } = await why(w, [LEAF_A]);
    const p = report.paths[0]!;
    expect(p.verdict).toBe('build');
    expect(p.reason).toContain("serves the store directory '/gnu/store', not '/nix/store'");
    expect(p.reason).toContain("is for Nix stores with prefix '/gnu/store', not '/nix/store'");
    expect(p.reason).not.toMatch(/daemon/);
    expect(p.fix).not.toContain('extra-substituters');
    expect(report.caches[0]).toMatchObject({ used: false, unusedReason: expect.stringContaining('/gnu/store') });
    expect(exitCode).toBe(1);
    expect(await nixSubstitutes(w, LEAF_A)).toBe(false);
    const both = world([gnu.url, caches.full!.url]);
    expect((await why(both, [LEAF_A])).report.paths[0]).toMatchObject({ verdict: 'substitute', from: caches.full!.url });
    expect(await nixSubstitutes(both, LEAF_A)).toBe(true);
  });

  it('says Priority: abc in nix-cache-info stops every substitution ("error: stoi"), whichever cache has the path', async () => {
    const bad = await serveVariant(lan, { cacheInfo: 'StoreDir: /nix/store\nPriority: abc\n' });
    caches.badPriority = bad;
    const w = world([`${caches.full!.url}?priority=1`, bad.url]);
    const { report, exitCode } = await why(w, [LEAF_A]);
    const p = report.paths[0]!;
    expect(p.verdict).toBe('build');
    expect(p.reason).toContain('error: stoi');
    expect(p.fix).toContain('Priority');
    expect(exitCode).toBe(1);
    expect(await nixSubstitutes(w, LEAF_A)).toBe(false);
    const r = await execa('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--store', bad.url, LEAF_A], {
      env: { ...w.env },
      reject: false,
      timeout: 30_000,
    });
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toContain('error: stoi');
    const cov = await coverage(w, [APP]);
    expect(cov.report).toMatchObject({ paths: 3, available: 0 });
    expect(cov.report.caches[0]).toMatchObject({ present: 3, attributed: 0 });
    expect(cov.exitCode).toBe(1);
    const table = await runCli(['coverage', '--store', w.store, APP], { env: w.env });
    expect(table.stdout.replace(/\s+/g, ' ')).toContain('error: stoi');
  });
});

describe.skipIf(skipReason)('bad input: one line, valid JSON, no stack trace', () => {
  const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at /);

  it('rejects a path outside the store with exit 2 and says so once', async () => {
    const w = world([caches.full!.url]);
    const { report, exitCode, stderr } = await why(w, ['/etc/passwd', LEAF_A]);
    expect(exitCode).toBe(2);
    expect(report.errors).toEqual([{ argument: '/etc/passwd', message: expect.stringMatching(/not in the Nix store/) }]);
    expect(report.paths.map((p) => p.path)).toEqual([LEAF_A]);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    noStack(stderr);
  });

  it('says a missing .drv does not exist', async () => {
    const w = world([caches.full!.url]);
    const drv = '/nix/store/00000000000000000000000000000000-nothing.drv';
    for (const kind of ['why', 'coverage'] as const) {
      const r = await runCli([kind, '--json', '--store', w.store, drv], { env: w.env });
      const report = parse(kind, r.stdout);
      expect(r.exitCode).toBe(2);
      expect(report.errors[0]!.message).toMatch(/does not exist/);
      noStack(r.stderr);
    }
  });

  it('says a corrupt disk cache cannot be used and still answers from the caches', async () => {
    const w = world([caches.full!.url]);
    mkdirSync(join(w.env.XDG_CACHE_HOME, 'nix'), { recursive: true });
    writeFileSync(w.diskCache, 'this is not SQLite\n'.repeat(100));
    const { report, exitCode } = await why(w, [LEAF_A]);
    expect(report.diskCache.state).toBe('unreadable');
    expect(report.diskCache.message).toMatch(/not a database/);
    expect(report.paths[0]!.caches[0]!.diskCache).toBe('unreadable');
    expect(report.paths[0]!.verdict).toBe('substitute');
    expect(exitCode).toBe(0);
  });

  it('says an unreadable disk cache needs sudo (run as nobody)', async () => {
    const w = world([caches.full!.url]);
    // Real Nix writes the database; nobody may not read it.
    await nixSubstitutes(w, LEAF_A);
    chmodSync(w.dir, 0o755);
    chmodSync(join(w.dir, 'nix.conf'), 0o644);
    chmodSync(w.env.XDG_CACHE_HOME, 0o755);
    chmodSync(join(w.env.XDG_CACHE_HOME, 'nix'), 0o755);
    chmodSync(w.diskCache, 0o600);
    const r = await runCli(['coverage', '--json', '--no-closure', LEAF_B], { env: w.env, wrap: AS_NOBODY });
    const report = parse('coverage', r.stdout);
    expect(report.diskCache.state).toBe('unreadable');
    expect(report.diskCache.message).toMatch(/sudo/);
    noStack(r.stderr);
  });

  it('says a closure of 0 paths is empty (exit 2)', async () => {
    const w = world([caches.full!.url]);
    const empty = join(w.dir, 'empty');
    writeFileSync(empty, '');
    const r = await runCli(['coverage', '--json', '--store', w.store, '--paths-from', empty], { env: w.env });
    const report = parse('coverage', r.stdout);
    expect(r.exitCode).toBe(2);
    expect(report.paths).toBe(0);
    expect(report.errors[0]!.message).toMatch(/0 paths/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('answers 10,000 arguments: why with one line and exit 2, coverage by looking them all up', async () => {
    const w = world([caches.full!.url]);
    const many = Array.from(
      { length: 10_000 },
      (_, i) =>
        `/nix/store/${i
          .toString(32)
          .padStart(32, '0')
          .replace(/[eotu]/g, 'a')}-p${i}`,
    );
    const r = await runCli(['why', '--json', ...many], { env: w.env });
    const report = parse('why', r.stdout);
    expect(r.exitCode).toBe(2);
    expect(report.errors).toHaveLength(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const c = await coverage(w, many, ['--no-closure']);
    expect(c.report.paths).toBe(10_000);
    expect(c.report.missing).toHaveLength(10_000);
    expect(c.exitCode).toBe(1);
  });
});
