import { describe, expect, it } from 'vitest';
import type { DiskCacheFact } from '../../src/facts/disk-cache.js';
import { type CachePlan, type LookupDeps, planCaches, probeNar } from '../../src/facts/path-lookups.js';
import type { CacheInfoFact } from '../../src/facts/types.js';
import { NOT_A_NAR, NOT_BROTLI, NOT_RECOGNIZED, type Sniffed } from '../../src/nix/compression.js';
import { EffectiveSettings } from '../../src/nix/config.js';
import { judgeNarHead } from '../../src/nix/nar-advice.js';
import { type CacheView, decideSubstitution } from '../../src/nix/substitution.js';
import type { BulkHttp, BulkRequest } from '../../src/system/bulk-http.js';
import { cacheTarget } from '../helpers/facts.js';

const NOW = 2_000_000_000;
const DAY = 24 * 3600;

const answered = (status: number, body = ''): CacheInfoFact => ({
  kind: 'http',
  result: {
    ok: true,
    response: { status, headers: {}, body, raw: Buffer.from(body), bytes: body.length, url: '', redirects: 0, durationMs: 1 },
  },
});
const failed = (kind: 'refused' | 'too-large', message: string): CacheInfoFact =>
  ({ kind: 'http', result: { ok: false, error: { kind, message, bytes: 0 } } }) as never;

/** One http cache at URL, planned as why plans it, with NIXVERSION and, when given, Nix's disk cache row for it. */
function plan(url: string, info: CacheInfoFact, row?: { timestamp: number; priority: number; storeDir?: string }, nixVersion = '2.8.0') {
  const target = cacheTarget(url, 0);
  const system = [{ name: 'substituters', value: url, origin: { file: '/etc/nix/nix.conf', line: 1, level: 'system' as const } }];
  const discovery = {
    env: { multiUser: false, trustedUser: true, root: true, user: 'root', storeDir: '/nix/store', nixVersion: `nix (Nix) ${nixVersion}` },
    config: {
      daemonSettings: new EffectiveSettings(system),
      settings: new EffectiveSettings(system),
      systemFile: '/etc/nix/nix.conf',
      netrc: { path: '/etc/nix/netrc', entries: [] },
    },
    targets: [target],
  } as never;
  const disk = row
    ? ({
        kind: 'read',
        path: '/root/.cache/nix/binary-cache-v6.sqlite',
        caches: [{ id: 1, url: url.replace(/\?.*$/, ''), storeDir: row.storeDir ?? '/nix/store', wantMassQuery: false, ...row }],
      } as unknown as DiskCacheFact)
    : undefined;
  return planCaches(discovery, new Map([[target, info]]), disk, NOW)[0] as CachePlan;
}

describe('a cache as Nix opens it: by its nix-cache-info, or from its narinfo disk cache row', () => {
  it('drops a cache whose nix-cache-info answers 404, 401 or 500, in the words Nix warns with, with a fix', () => {
    const url = 'http://127.0.0.1:5000';
    const p404 = plan(url, answered(404));
    expect(p404).toMatchObject({ used: false });
    expect(p404.unusedReason).toContain(`"'${url}' does not appear to be a binary cache"`);
    expect(p404.unusedFix).toContain(`${url}/nix-cache-info must answer 200`);
    const p401 = plan(url, answered(401));
    expect(p401.unusedReason).toContain('does not appear to be a binary cache');
    expect(p401.unusedFix).toContain('/etc/nix/netrc: machine 127.0.0.1 login USER');
    const p500 = plan(url, answered(500));
    expect(p500).toMatchObject({ used: false });
    expect(p500.unusedReason).toContain(`"unable to download '${url}/nix-cache-info': HTTP error 500"`);
    const refused = plan(url, failed('refused', 'connection refused'));
    expect(refused).toMatchObject({ used: false, down: { word: 'unreachable' } });
    expect(refused.unusedReason).toContain('connection refused');
  });

  it('uses a cache whose nix-cache-info is an HTML page: Nix reads no field from it and opens the cache', () => {
    expect(plan('http://a', answered(200, '<!doctype html><html><body>hi</body></html>'))).toMatchObject({ used: true });
  });

  it('opens a cache its disk cache remembers without asking: the row’s Priority counts, nix-cache-info is not read', () => {
    const url = 'http://127.0.0.1:5000';
    for (const info of [answered(500), answered(404), answered(200, 'StoreDir: /gnu/store\n'), answered(200, 'Priority: abc\n')]) {
      const p = plan(url, info, { timestamp: NOW - DAY, priority: 7 });
      expect(p).toMatchObject({ used: true, priority: 7, prioritySource: 'cache-info' });
      expect(p.stopsNix).toBeUndefined();
      expect(p.foreignStoreDir).toBeUndefined();
    }
    expect(plan(`${url}?priority=3`, answered(500), { timestamp: NOW - DAY, priority: 7 })).toMatchObject({ priority: 3, used: true });
  });

  it('takes a row however old on Nix 2.8, and only a row younger than 7 days from Nix 2.10 on (cacheInfoTtl)', () => {
    const old = { timestamp: NOW - 30 * DAY, priority: 7 };
    expect(plan('http://a', answered(500), old, '2.8.0').used).toBe(true);
    expect(plan('http://a', answered(500), old, '2.10.3').used).toBe(false);
    expect(plan('http://a', answered(500), { timestamp: NOW - 6 * DAY, priority: 7 }, '2.18.1').used).toBe(true);
  });

  it('says a nix-cache-info that does not end stops Nix, and speaks of nix-cache-info, not of a narinfo', () => {
    const p = plan('http://a', failed('too-large', 'the answer is larger than 64.0 kB'));
    expect(p.down).toBeUndefined();
    expect(p.stopsNix?.reason).toContain('http://a/nix-cache-info goes on past what nixcache reads');
    expect(p.stopsNix?.fix).toContain('Serve a nix-cache-info of a few lines');
  });
});

const view = (over: Partial<CacheView>): CacheView => ({
  url: 'http://a',
  used: true,
  narinfo: 'present',
  signature: 'trusted',
  keys: ['k'],
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
  at: String,
};

describe('the verdict words for a cache Nix drops and for a NAR it cannot download', () => {
  it('says Nix does not use a cache it could not open, with that fix, and not that the daemon ignores it', () => {
    const v = decideSubstitution([view({ used: false, unusedReason: 'its nix-cache-info answers HTTP 404', unusedFix: 'FIX' })], ctx);
    expect(v).toMatchObject({ verdict: 'build', fix: 'FIX' });
    expect(v.reason).toBe('Nix does not use http://a: its nix-cache-info answers HTTP 404');
  });
  it('quotes what Nix says for the NAR’s own status', () => {
    const v = decideSubstitution(
      [view({ nar: 'error', narDetail: 'HTTP 500', narError: "unable to download 'http://a/nar/x': HTTP error 500" })],
      ctx,
    );
    expect(v.reason).toContain(`("unable to download 'http://a/nar/x': HTTP error 500")`);
    expect(v.reason).not.toContain('does not exist in binary cache');
  });
});

describe('a NAR file’s first bytes against its label, as Nix 2.8 reads each label (compression.cc)', () => {
  const cases: [label: string, sniffed: Sniffed, nixWords: string | null][] = [
    ['xz', 'xz', null],
    ['none', 'nar', null],
    ['br', 'unknown', null],
    // libarchive goes by the bytes, whatever the label: it decodes what it recognises…
    ['bzip2', 'xz', null],
    ['zstd', 'gzip', null],
    // …and finds nothing to decode in a plain NAR.
    ['xz', 'nar', NOT_RECOGNIZED],
    ['gzip', 'nar', NOT_RECOGNIZED],
    ['none', 'xz', NOT_A_NAR],
    ['none', 'unknown', NOT_A_NAR],
    ['br', 'xz', NOT_BROTLI],
    ['br', 'nar', NOT_BROTLI],
    ['foo', 'nar', NOT_RECOGNIZED],
    ['foo', 'zstd', null],
  ];
  for (const [label, sniffed, words] of cases)
    it(`${label} over ${sniffed} bytes: ${words ?? 'Nix reads it'}`, () => {
      const j = judgeNarHead(label, sniffed, 'http://a/nar/x', 'nix (Nix) 2.8.0');
      if (words === null) expect(j.undecodable).toBeUndefined();
      else expect(j.undecodable).toContain(`"${words}"`);
    });
});

describe('probeNar: why reads the first bytes of every NAR, coverage only HEADs a label Nix names', () => {
  const XZ = Uint8Array.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const NAR = Buffer.concat([Buffer.from([13, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('nix-archive-1')]);
  function deps(head: Uint8Array, status = 200) {
    const requests: string[] = [];
    const http: BulkHttp = {
      request: async (req: BulkRequest) => {
        requests.push(`${req.method} ${req.url}`);
        return { ok: true, status, body: '', headers: {}, attempts: 1 };
      },
      stats: () => ({ requests: 0, retries: 0, rateLimited: 0 }),
      close: async () => {},
    };
    const d = {
      http,
      fs: {},
      storeDir: '/nix/store',
      netrc: [],
      trustedKeys: [],
      requireSigs: true,
      verify: async () => ({ kind: 'unsigned' }),
      nixVersion: 'nix (Nix) 2.8.0',
      readHead: async (url: string) => {
        requests.push(`HEAD-BYTES ${url}`);
        return { ok: true as const, status, head };
      },
    } as unknown as LookupDeps;
    return { d, requests };
  }
  const p = plan('http://127.0.0.1:5000', answered(200, 'StoreDir: /nix/store\n'));

  it('finds a NAR labelled xz that is a plain NAR undecodable, in Nix’s words', async () => {
    const { d, requests } = deps(NAR);
    const probe = await probeNar(d, p, 'nar/x.nar.xz', 'xz');
    expect(probe.nar).toBe('ok');
    expect(probe.undecodable).toContain(NOT_RECOGNIZED);
    expect(requests).toEqual(['HEAD-BYTES http://127.0.0.1:5000/nar/x.nar.xz']);
  });

  it('takes coverage’s xz label at its word with one HEAD', async () => {
    const { d, requests } = deps(NAR);
    expect(await probeNar(d, p, 'nar/x.nar.xz', 'xz', 'head')).toEqual({ nar: 'ok' });
    expect(requests).toEqual(['HEAD http://127.0.0.1:5000/nar/x.nar.xz']);
  });

  it('says what Nix says for a NAR answering 500 (its own download error) and 404 ("does not exist")', async () => {
    const e500 = await probeNar(deps(XZ, 500).d, p, 'nar/x.nar.xz', 'xz');
    expect(e500).toMatchObject({ nar: 'error', nixSays: "unable to download 'http://127.0.0.1:5000/nar/x.nar.xz': HTTP error 500" });
    const e404 = await probeNar(deps(XZ, 404).d, p, 'nar/x.nar.xz', 'xz', 'head');
    expect(e404).toMatchObject({
      nar: 'missing',
      nixSays: "file 'nar/x.nar.xz' does not exist in binary cache 'http://127.0.0.1:5000'",
    });
  });
});
