import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { coverage } from '../../../checks/coverage.js';
import { CHECKS } from '../../../checks/index.js';
import type { DiskCacheFact } from '../../../src/facts/disk-cache.js';
import { DEFAULT_TTLS, type DiskCacheEntry, formatTime, judgeDiskEntry } from '../../../src/nix/disk-cache.js';
import { collapsedSkips } from '../../../src/report/group.js';
import type { CheckResult, Status } from '../../../src/report/model.js';
import type { Evidence } from '../../../src/system/evidence.js';
import { fakeFacts, fakeResults, type Script, type World } from '../../helpers/facts.js';
import { CACHES, FIXTURES, KEYS } from '../../helpers/servers.js';

/**
 * The coverage check over the real binary caches in fixtures/caches (made and signed by Nix 2.8),
 * served through scripted HTTP: each path named with --sample looked up as `nixcache why` does.
 */

const CACHE = 'http://10.0.0.5:5000';
const LAN = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
const STORE_PATHS = readFileSync(join(FIXTURES, 'store-paths.txt'), 'utf8').trim().split('\n');
const [APP, LEAF_A, LEAF_B] = STORE_PATHS as [string, string, string];
const baseName = (path: string) => path.slice('/nix/store/'.length);
const hashOf = (path: string) => baseName(path).slice(0, 32);
/** Store paths no fixture cache has (valid names, made-up hashes). */
const NOWHERE = ['0000000000000000000000000000000a', '0000000000000000000000000000000b', '0000000000000000000000000000000c'].map(
  (h) => `/nix/store/${h}-nowhere`,
);
/** "Now" for the disk cache (unix seconds): fixed, so that expiry times are exact. */
const NOW = 1_800_000_000;

function served(name: string, edit: (file: string, body: Buffer) => Buffer | null = (_f, b) => b): Script['http'] {
  const http: NonNullable<Script['http']> = {};
  const dir = join(CACHES, name);
  const add = (file: string, body: Buffer) => {
    const changed = edit(file, body);
    if (changed !== null) http[`${CACHE}/${file}`] = { status: 200, body: new Uint8Array(changed) };
  };
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isFile()) add(e.name, readFileSync(join(dir, e.name)));
    else if (e.name === 'nar') for (const nar of readdirSync(join(dir, 'nar'))) add(`nar/${nar}`, readFileSync(join(dir, 'nar', nar)));
  }
  return http;
}

/** A narinfo disk cache holding ROWS for CACHE, read at NOW. */
function diskCache(rows: { path: string; present: boolean; ageSeconds: number; narHash?: string }[]): DiskCacheFact {
  const entries = new Map<string, DiskCacheEntry>(
    rows.map((r) => [
      hashOf(r.path),
      { cache: 1, hashPart: hashOf(r.path), present: r.present, narHash: r.narHash ?? null, url: null, timestamp: NOW - r.ageSeconds },
    ]),
  );
  return {
    kind: 'read',
    path: '/root/.cache/nix/binary-cache-v6.sqlite',
    owner: 'root',
    ttls: DEFAULT_TTLS,
    caches: [{ id: 1, url: CACHE, timestamp: NOW, storeDir: '/nix/store', wantMassQuery: true, priority: 40 }],
    judge: (url, hashPart, served) => judgeDiskEntry(url === CACHE ? entries.get(hashPart) : undefined, NOW, DEFAULT_TTLS, served),
  };
}

const conf = (...lines: string[]) => `${[`substituters = ${CACHE}`, `trusted-public-keys = ${LAN}`, ...lines].join('\n')}\n`;

async function check(world: World, signature?: Status) {
  const fake = fakeFacts({ conf: conf(), ...world });
  const cache = fake.caches[0];
  if (!cache) throw new Error('the world has no cache');
  const finding = await coverage.run(fake.facts, cache, fakeResults(signature ? [{ id: 'signature', cache, status: signature }] : []));
  return { finding, ...fake };
}

const httpUrls = (evidence: Evidence[]) => evidence.flatMap((e) => (e.kind === 'http' ? [e.url] : []));
type PathData = { path: string; verdict: string; reason: string; fix: string | null; narinfo: string; diskCache: string };
const pathData = (data: Record<string, unknown> | undefined) => (data?.paths ?? []) as PathData[];

describe('coverage check: when it runs', () => {
  it('is registered right after the nar check, in the cache phase', () => {
    const ids = CHECKS.map((c) => c.id);
    expect(ids.indexOf('coverage')).toBe(ids.indexOf('nar') + 1);
    expect(coverage.scope).toBe('cache');
  });

  it('skips a --sample of another store directory, saying so, without blaming the cache', async () => {
    const foreign = `/gnu/store/${baseName(LEAF_A)}`;
    const { finding, evidence } = await check({ run: { samples: [foreign] }, script: { http: served('signed-lan') } });
    expect(finding.status).toBe('skip');
    expect(finding.reason).toBe('sample not in store');
    expect(finding.summary).toBe(`--sample ${foreign} is not in this machine's store /nix/store`);
    expect(evidence).toEqual([]);
  });

  it('looks up the paths in this store and names the foreign ones in its data', async () => {
    const foreign = `/gnu/store/${baseName(LEAF_B)}`;
    const { finding } = await check({ run: { samples: [LEAF_A, foreign] }, script: { http: served('signed-lan') } });
    expect(finding.status).toBe('pass');
    expect(finding.data).toMatchObject({ named: 1, foreign: [foreign] });
  });

  it('takes longer the more paths are named, a round of look-ups per 8 of them', () => {
    const run = (samples: string[]) => ({ timeoutMs: 5000, server: false, samples, flakeDir: '/' });
    const one = coverage.timeoutMs?.(5000, run([LEAF_A])) ?? 0;
    expect(one).toBeGreaterThan(0);
    expect(coverage.timeoutMs?.(5000, run(Array.from({ length: 8 }, (_, i) => `${LEAF_A}${i}`)))).toBe(one);
    expect(coverage.timeoutMs?.(5000, run(Array.from({ length: 20 }, (_, i) => `${LEAF_A}${i}`)))).toBe(one * 3);
  });

  it('skips, saying how to name paths, when no --sample was given, and looks nothing up', async () => {
    const { finding, evidence } = await check({ script: { http: served('signed-lan') } });
    expect(finding.status).toBe('skip');
    expect(finding.reason).toBe('no paths named');
    expect(finding.summary).toContain('nixcache doctor --sample PATH');
    expect(evidence).toEqual([]);
  });

  it('folds that skip into the "not run" line with the other skips that carry no news', () => {
    const result = (id: string, reason: string): CheckResult => ({
      id,
      title: id,
      cache: CACHE,
      status: 'skip',
      summary: 's',
      detail: null,
      fix: null,
      reason,
      data: {},
      evidence: [],
      durationMs: 0,
    });
    const checks = [result('service', 'remote cache'), result('coverage', 'no paths named')];
    const folded = collapsedSkips(checks);
    expect(folded.checks.size).toBe(2);
    expect(folded.line).toContain('coverage: no paths named (--sample PATH');
  });

  it('skips an ssh cache, whose narinfos the doctor does not read', async () => {
    const { finding } = await check({ caches: ['ssh://builder.lan'], run: { samples: [LEAF_A] } });
    expect(finding).toMatchObject({ status: 'skip', reason: 'ssh store' });
  });
});

describe('coverage check: verdicts per cache', () => {
  it('passes when the cache has every named path signed by a trusted key, after looking up each narinfo and NAR', async () => {
    const { finding, evidence } = await check({ run: { samples: [LEAF_A, LEAF_B] }, script: { http: served('signed-lan') } });
    expect(finding.status).toBe('pass');
    expect(finding.summary).toBe('has all 2 named paths, usable by Nix, signed by trusted key lan-cache-1');
    expect(pathData(finding.data).map((p) => p.verdict)).toEqual(['substitute', 'substitute']);
    const urls = httpUrls(evidence);
    expect(urls).toEqual(expect.arrayContaining([`${CACHE}/${hashOf(LEAF_A)}.narinfo`, `${CACHE}/${hashOf(LEAF_B)}.narinfo`]));
    expect(urls.filter((u) => u.startsWith(`${CACHE}/nar/`))).toHaveLength(2);
  });

  it('says "the named path" for one', async () => {
    const { finding } = await check({ run: { samples: [APP] }, script: { http: served('signed-lan') } });
    expect(finding.summary).toBe('has the named path, usable by Nix, signed by trusted key lan-cache-1');
  });

  it('warns naming the missing path, with why’s fix line exactly', async () => {
    const { finding } = await check({
      run: { samples: [LEAF_A, LEAF_B] },
      script: { http: served('signed-lan', (f, b) => (f === `${hashOf(LEAF_B)}.narinfo` ? null : b)) },
    });
    expect(finding.status).toBe('warn');
    expect(finding.summary).toBe(`lacks 1 of 2 named paths: ${baseName(LEAF_B)}`);
    expect(finding.detail).toBe(`${baseName(LEAF_B)}: not in this cache`);
    expect(finding.fix).toBe(`Push it to a cache: nix copy --to CACHE_URL ${LEAF_B}`);
    expect(finding.data).toMatchObject({ named: 2, usable: 1, missing: [LEAF_B], blocked: [] });
    expect(pathData(finding.data)[1]).toMatchObject({ path: LEAF_B, verdict: 'build', reason: 'no cache has it', narinfo: 'missing' });
  });

  it('names the first three missing paths and counts the rest', async () => {
    const { finding } = await check({ run: { samples: [LEAF_A, ...NOWHERE, LEAF_B] }, script: { http: served('signed-lan') } });
    expect(finding.status).toBe('warn');
    expect(finding.summary).toBe(`lacks 3 of 5 named paths: ${NOWHERE.map(baseName).join(', ')}`);
    const many = await check({ run: { samples: [...NOWHERE, `/nix/store/${'1'.repeat(32)}-x`] }, script: { http: served('signed-lan') } });
    expect(many.finding.summary).toBe(`lacks all 4 named paths: ${NOWHERE.map(baseName).join(', ')} (+1 more)`);
  });

  it('fails when every narinfo answers 401, which Nix treats as missing silently, with the netrc fix', async () => {
    const http = served('signed-lan');
    for (const p of [LEAF_A, LEAF_B]) if (http) http[`${CACHE}/${hashOf(p)}.narinfo`] = { status: 401, body: 'no' };
    const { finding } = await check({ run: { samples: [LEAF_A, LEAF_B] }, script: { http } });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toBe(
      `Nix would not get all 2 named paths from this cache (${baseName(LEAF_A)}, ${baseName(LEAF_B)}): ${CACHE} refuses the narinfo (HTTP 401): Nix treats this as missing, silently`,
    );
    expect(finding.fix).toBe(
      'Give Nix credentials for it in /etc/nix/netrc: machine 10.0.0.5 login USER password PASSWORD (netrc-file; NixOS: nix.settings.netrc-file)',
    );
    expect(finding.data).toMatchObject({ usable: 0, blocked: [LEAF_A, LEAF_B], missing: [] });
  });

  it('fails when the paths are signed by a key nixcache’s trusted keys do not name', async () => {
    const { finding } = await check({ run: { samples: [LEAF_A] }, script: { http: served('signed-other') } });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toContain('signed by other-cache-1, which trusted-public-keys does not name');
    expect(finding.fix).toBe('Trust its key — /etc/nix/nix.conf: extra-trusted-public-keys = other-cache-1:<public key>');
    expect(pathData(finding.data)[0]).toMatchObject({ narinfo: 'present', verdict: 'build' });
  });

  it('says it once: when the signature check failed on this cache for the same reason, it folds as a needs-skip', async () => {
    const { finding } = await check({ run: { samples: [LEAF_A] }, script: { http: served('signed-other') } }, 'fail');
    expect(finding.status).toBe('skip');
    expect(finding.reason).toBe('needs signature');
    expect(finding.summary).toContain('signed by other-cache-1');
    expect(pathData(finding.data)[0]).toMatchObject({ narinfo: 'present', verdict: 'build' });
    // A missing path beside it is news of its own: then it fails as before.
    const both = await check({ run: { samples: [LEAF_A, NOWHERE[0] as string] }, script: { http: served('signed-other') } }, 'fail');
    expect(both.finding.status).toBe('fail');
  });

  it('fails when the narinfo is there but its NAR file answers 404, and says a missing path beside it', async () => {
    const { finding } = await check({
      run: { samples: [LEAF_A, NOWHERE[0] as string] },
      script: { http: served('signed-lan', (f, b) => (f.startsWith('nar/') ? null : b)) },
    });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toMatch(/its NAR file is missing \(404\).*; 1 missing$/);
    expect(finding.detail?.split('\n')).toHaveLength(2);
    expect(finding.fix?.split('\n')).toEqual([
      `Push it again from a machine that has it: nix copy --to ${CACHE} ${LEAF_A}`,
      `Push it to a cache: nix copy --to CACHE_URL ${NOWHERE[0]}`,
    ]);
  });

  it('fails when Nix’s disk cache remembers a path the cache has as missing, with the expiry and why’s fix', async () => {
    const { finding } = await check({
      run: { samples: [LEAF_A] },
      script: { http: served('signed-lan') },
      diskCache: diskCache([{ path: LEAF_A, present: false, ageSeconds: 60 }]),
    });
    expect(finding.status).toBe('fail');
    const until = formatTime(NOW - 60 + 3600);
    expect(finding.summary).toContain(`${CACHE} has it, but Nix remembers it as missing until ${until} (narinfo disk cache)`);
    expect(finding.fix).toBe(
      [
        `nix-store -r ${LEAF_A} --option narinfo-cache-negative-ttl 0   (or nix build --refresh …)`,
        `or forget the answer: sqlite3 /root/.cache/nix/binary-cache-v6.sqlite "delete from NARs where hashPart = '${hashOf(LEAF_A)}' and present = 0"`,
      ].join('\n'),
    );
    expect(pathData(finding.data)[0]).toMatchObject({
      diskCache: 'negative',
      diskCacheExpires: new Date((NOW + 3540) * 1000).toISOString(),
    });
  });

  it('passes over an expired negative entry and calls a negative entry for a path the cache lacks simply missing', async () => {
    const expired = await check({
      run: { samples: [LEAF_A] },
      script: { http: served('signed-lan') },
      diskCache: diskCache([{ path: LEAF_A, present: false, ageSeconds: 3601 }]),
    });
    expect(expired.finding.status).toBe('pass');
    const lacking = await check({
      run: { samples: [NOWHERE[0] as string] },
      script: { http: served('signed-lan') },
      diskCache: diskCache([{ path: NOWHERE[0] as string, present: false, ageSeconds: 60 }]),
    });
    expect(lacking.finding.status).toBe('warn');
  });

  it('records an unreadable disk cache once in its data instead of guessing what it holds', async () => {
    const { finding } = await check({
      run: { samples: [LEAF_A, LEAF_B] },
      script: { http: served('signed-lan') },
      diskCache: {
        kind: 'unreadable',
        owner: 'root (the nix-daemon)',
        path: '/root/.cache/nix/binary-cache-v6.sqlite',
        message: 'EACCES',
        denied: true,
      },
    });
    expect(finding.status).toBe('pass');
    expect(finding.data?.diskCache).toEqual({
      state: 'unreadable',
      path: '/root/.cache/nix/binary-cache-v6.sqlite',
      owner: 'root (the nix-daemon)',
    });
    expect(pathData(finding.data).map((p) => p.diskCache)).toEqual(['unreadable', 'unreadable']);
  });

  it('looks each path up once per cache however many checks read it', async () => {
    const fake = fakeFacts({ conf: conf(), run: { samples: [LEAF_A] }, script: { http: served('signed-lan') } });
    const cache = fake.caches[0];
    if (!cache) throw new Error('no cache');
    await coverage.run(fake.facts, cache, fakeResults());
    const before = fake.evidence.length;
    await fake.facts.pathLookup(cache, LEAF_A);
    const narinfoRequests = fake.evidence.filter((e) => e.kind === 'http' && e.url.endsWith(`${hashOf(LEAF_A)}.narinfo`));
    expect(narinfoRequests).toHaveLength(1);
    expect(fake.evidence.length).toBe(before);
  });
});
