import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TTLS, diskCacheTtls, diskCacheUrl, judgeDiskEntry } from '../../src/nix/disk-cache.js';
import { type CacheView, decideSubstitution } from '../../src/nix/substitution.js';
import { backoffMs, createBulkHttp, parseRetryAfter } from '../../src/system/bulk-http.js';
import { readSqlite } from '../../src/system/sqlite.js';

const entry = (present: boolean, timestamp: number, narHash: string | null = 'sha256:aaa') => ({
  cache: 1,
  hashPart: 'x'.repeat(32),
  present,
  narHash,
  url: null,
  timestamp,
});

describe('Nix’s narinfo disk cache rows, judged as lookupNarInfo does', () => {
  it('keeps a negative entry for narinfo-cache-negative-ttl and says when it expires', () => {
    expect(judgeDiskEntry(entry(false, 1000), 1000 + 3599, DEFAULT_TTLS)).toEqual({ kind: 'negative', expires: 4600, recorded: 1000 });
  });
  it('forgets a negative entry at the TTL (timestamp > now - ttl is strict)', () => {
    expect(judgeDiskEntry(entry(false, 1000), 4600, DEFAULT_TTLS)).toEqual({ kind: 'none', expired: { present: false, at: 4600 } });
  });
  it('calls a positive entry stale when the server now serves another NarHash, or nothing', () => {
    expect(judgeDiskEntry(entry(true, 1000), 2000, DEFAULT_TTLS, 'sha256:bbb').kind).toBe('positive-stale');
    expect(judgeDiskEntry(entry(true, 1000), 2000, DEFAULT_TTLS, null).kind).toBe('positive-stale');
    expect(judgeDiskEntry(entry(true, 1000), 2000, DEFAULT_TTLS, 'sha256:aaa').kind).toBe('positive');
    expect(judgeDiskEntry(entry(true, 1000), 2000, DEFAULT_TTLS).kind).toBe('positive');
  });
  it('reads the TTL settings as unsigned integers, else Nix’s defaults', () => {
    expect(diskCacheTtls('0', '60')).toEqual({ negative: 0, positive: 60 });
    expect(diskCacheTtls('-1', 'abc')).toEqual(DEFAULT_TTLS);
  });
  it('files a cache under its URL without settings or trailing slash', () => {
    expect(diskCacheUrl('http://cache.lan:5000/?priority=10')).toBe('http://cache.lan:5000');
  });
});

const view = (over: Partial<CacheView>): CacheView => ({
  url: 'http://a',
  used: true,
  narinfo: 'present',
  signature: 'trusted',
  keys: ['k-1'],
  nar: 'ok',
  disk: 'none',
  ...over,
});
const ctx = {
  path: '/nix/store/x',
  hashPart: 'x',
  valid: false,
  fallback: false,
  confFile: '/etc/nix/nix.conf',
  netrcFile: '/etc/nix/netrc',
  at: (s: number) => `t${s}`,
};

describe('the substitution verdict, decided as Nix 2.8 goes through its substituters', () => {
  it('substitutes from the first cache that has a trusted narinfo and its NAR', () => {
    const v = decideSubstitution(
      [view({ url: 'http://a', narinfo: 'missing', signature: null, nar: null }), view({ url: 'http://b' })],
      ctx,
    );
    expect(v).toMatchObject({ verdict: 'substitute', from: 'http://b' });
  });
  it('pushes an undecodable NAR again with compression= added to a cache URL that has a query already', () => {
    const v = decideSubstitution([view({ url: 'http://a?trusted=1', undecodable: "'lz9'" })], ctx);
    expect(v.verdict).toBe('build');
    expect(v.fix).toContain("nix copy --to 'http://a?trusted=1&compression=xz' /nix/store/x");
  });
  it('lets a remembered negative answer decide over a later untrusted cache, with the expiry and both fixes', () => {
    const v = decideSubstitution(
      [view({ url: 'http://b', signature: 'untrusted', keys: ['o-1'] }), view({ disk: 'negative', diskExpires: 42 })],
      { ...ctx, diskCachePath: '/root/.cache/nix/binary-cache-v6.sqlite' },
    );
    expect(v.verdict).toBe('build');
    expect(v.reason).toContain('until t42');
    expect(v.fix).toContain('narinfo-cache-negative-ttl 0');
    expect(v.fix).toContain("delete from NARs where hashPart = 'x'");
  });
  it('ignores a negative entry for a path the server does not have either', () => {
    expect(decideSubstitution([view({ narinfo: 'missing', signature: null, nar: null, disk: 'negative' })], ctx).reason).toBe(
      'no cache has it',
    );
  });
  it('says a missing NAR stops the build unless fallback is on', () => {
    expect(decideSubstitution([view({ nar: 'missing' })], ctx).reason).toMatch(/without fallback = true/);
    expect(decideSubstitution([view({ nar: 'missing' })], { ...ctx, fallback: true }).reason).not.toMatch(/without fallback/);
  });
  it('skips a substituter the daemon does not use', () => {
    expect(decideSubstitution([view({ used: false, unusedReason: 'untrusted user' })], ctx)).toMatchObject({ verdict: 'build' });
  });
  it('says valid without looking further when the path is in the store', () => {
    expect(decideSubstitution([], { ...ctx, valid: true }).verdict).toBe('valid');
  });
});

describe('bounded narinfo requests', () => {
  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:10 GMT', 4000)).toBe(6000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
  });
  it('backs off exponentially with a cap', () => {
    expect(backoffMs(0, () => 0.5)).toBe(200);
    expect(backoffMs(3, () => 0.5)).toBe(1600);
    expect(backoffMs(20, () => 0.5)).toBe(5000);
  });

  it('waits what Retry-After asks on a 429 and retries a 503 a bounded number of times', async () => {
    let seen = 0;
    const server = createServer((req, res) => {
      seen++;
      if (req.url === '/limited' && seen === 1) return void res.writeHead(429, { 'retry-after': '7' }).end();
      if (req.url === '/down') return void res.writeHead(503).end();
      res.writeHead(200).end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const waits: number[] = [];
    const http = createBulkHttp({
      jobs: 2,
      pipelining: 1,
      timeoutMs: 5000,
      signal: new AbortController().signal,
      maxAttempts: 3,
      sleep: async (ms) => void waits.push(ms),
    });
    try {
      const limited = await http.request({ method: 'GET', url: `${base}/limited`, maxBytes: 100 });
      expect(limited).toMatchObject({ ok: true, status: 200, body: 'ok', attempts: 2 });
      expect(waits[0]).toBeGreaterThan(6000);
      seen = 10;
      const down = await http.request({ method: 'GET', url: `${base}/down`, maxBytes: 100 });
      expect(down).toMatchObject({ ok: true, status: 503, attempts: 3 });
      expect(http.stats()).toMatchObject({ rateLimited: 1 });
    } finally {
      await http.close();
      server.close();
    }
  });

  it('never has more requests in flight per host than jobs × pipelining', async () => {
    let inFlight = 0;
    let most = 0;
    const server = createServer((_req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      setImmediate(() => {
        inFlight--;
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const http = createBulkHttp({ jobs: 3, pipelining: 1, timeoutMs: 5000, signal: new AbortController().signal });
    try {
      const all = await Promise.all(
        Array.from({ length: 60 }, (_, i) => http.request({ method: 'GET', url: `${base}/${i}`, maxBytes: 10 })),
      );
      expect(all.every((r) => r.ok && r.status === 404)).toBe(true);
      expect(most).toBeLessThanOrEqual(3);
    } finally {
      await http.close();
      server.close();
    }
  });
});

describe('reading a SQLite file without writing it', () => {
  it('says a file that is not a database is corrupt, in one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nixcache-sqlite-'));
    writeFileSync(join(dir, 'x.sqlite'), 'garbage'.repeat(1000));
    const r = await readSqlite(join(dir, 'x.sqlite'), (db) => db.rows('NARs', ['cache']));
    expect(r).toMatchObject({ ok: false, code: 'corrupt' });
    if (!r.ok) expect(r.message).not.toContain('\n');
  });
  it('says a missing file is missing', async () => {
    expect(await readSqlite('/nonexistent/x.sqlite', (db) => db.rows('NARs', ['cache']))).toMatchObject({ ok: false, code: 'ENOENT' });
  });
  it('reads no FIFO in the place of the database (it returns at once, not when someone writes)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nixcache-sqlite-'));
    execFileSync('mkfifo', [join(dir, 'binary-cache-v6.sqlite')]);
    const r = await readSqlite(join(dir, 'binary-cache-v6.sqlite'), (db) => db.rows('NARs', ['cache']));
    expect(r).toMatchObject({ ok: false, message: expect.stringContaining('not a regular file') });
  });
});

describe('the pooled signature verifier', () => {
  it('reaches classifySignatures’ verdict on every narinfo of every Nix-made fixture cache', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { parseNarInfo } = await import('../../src/nix/narinfo.js');
    const { parsePublicKey } = await import('../../src/nix/keys.js');
    const { classifySignatures } = await import('../../src/nix/signatures.js');
    const { createSignatureVerifier } = await import('../../src/nix/signature-verifier.js');
    const fixtures = new URL('../../fixtures/', import.meta.url).pathname;
    const key = parsePublicKey(readFileSync(join(fixtures, 'keys', 'lan.pub'), 'utf8'));
    if (!key.ok) throw new Error('lan.pub');
    const verify = createSignatureVerifier([key.value]);
    const kinds = new Set<string>();
    for (const cache of ['signed-lan', 'signed-other', 'regenerated', 'multi-sig', 'unsigned', 'tampered']) {
      const dir = join(fixtures, 'caches', cache);
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.narinfo'))) {
        const info = parseNarInfo(readFileSync(join(dir, f), 'utf8'));
        if (!info.ok) throw new Error(f);
        const expected = classifySignatures(info.value, [key.value]);
        expect(await verify(info.value)).toEqual(expected);
        kinds.add(expected.kind);
      }
    }
    expect([...kinds].sort()).toEqual(['mismatch', 'unsigned', 'untrusted', 'valid']);
  });
});

describe('the caches in the order Nix tries them, and the ones it does not use', () => {
  it('orders by URL priority, then nix-cache-info, then nix.conf order; drops what the daemon ignores and a foreign StoreDir', async () => {
    const { EffectiveSettings } = await import('../../src/nix/config.js');
    const { planCaches } = await import('../../src/facts/path-lookups.js');
    const { cacheTarget } = await import('../helpers/facts.js');
    const at = (file: string, level: 'system' | 'user') => ({ file, line: 1, level });
    const system = [{ name: 'substituters', value: 'http://a http://b', origin: at('/etc/nix/nix.conf', 'system') }];
    const user = [{ name: 'extra-substituters', value: 'http://c http://d', origin: at('/home/u/.config/nix/nix.conf', 'user') }];
    const targets = ['http://a', 'http://b', 'http://c', 'http://d?priority=5'].map((u, i) => cacheTarget(u, i));
    const info = (body: string) => ({
      kind: 'http' as const,
      result: {
        ok: true as const,
        response: { status: 200, headers: {}, body, raw: Buffer.from(body), bytes: 0, url: '', redirects: 0, durationMs: 1 },
      },
    });
    const infos = new Map([
      [targets[0]!, info('StoreDir: /nix/store\nPriority: 40\n')],
      [targets[1]!, info('StoreDir: /gnu/store\n')],
      [targets[2]!, info('StoreDir: /nix/store\nPriority: 10\n')],
      [targets[3]!, info('StoreDir: /nix/store\n')],
    ]);
    const discovery = {
      env: { multiUser: true, trustedUser: false, user: 'u', storeDir: '/nix/store' },
      config: { daemonSettings: new EffectiveSettings(system), settings: new EffectiveSettings([...system, ...user]) },
      targets,
    } as never;
    const plans = planCaches(discovery, infos as never);
    expect(plans.map((p) => [p.url, p.order, p.priority, p.used])).toEqual([
      ['http://b', 1, 0, false],
      ['http://d?priority=5', 2, 5, false],
      ['http://c', 3, 10, false],
      ['http://a', 4, 40, true],
    ]);
    expect(plans[0]!.unusedReason).toMatch(/\/gnu\/store/);
    expect(plans[2]!.unusedReason).toMatch(/not a trusted user/);
  });
});
