import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveVariant, type Variant } from '../helpers/cache-variants.js';
import { AS_NOBODY, checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { CACHES, KEYS } from '../helpers/servers.js';
import { FIXTURE_PATHS, missing } from '../helpers/system.js';

/**
 * `nixcache doctor --sample A --sample B` against caches made by real Nix, served on loopback: the
 * coverage check per cache, and the signature check's report of a negative entry that real Nix
 * wrote into its narinfo disk cache. Real Nix is asked the same questions and must agree.
 */

const LAN_KEY = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
const [, LEAF_A, LEAF_B] = FIXTURE_PATHS as [string, string, string];
const hashOf = (p: string) => p.slice('/nix/store/'.length, '/nix/store/'.length + 32);
const baseName = (p: string) => p.slice('/nix/store/'.length);
const skipReason = missing('doctor --sample against real Nix', { root: true, commands: ['nix', 'nix-store'] });
const lan = join(CACHES, 'signed-lan');
const ONLY = ['--only', 'connect,cache-info,signature,nar,coverage'];

const caches: Record<string, Variant> = {};
const dirs: string[] = [];

beforeAll(async () => {
  if (skipReason) return;
  caches.full = await serveVariant(lan);
  caches.holes = await serveVariant(lan, { hide: new Set([hashOf(LEAF_B)]) });
  caches.auth = await serveVariant(lan, { narinfoStatus: 401 });
});
afterAll(async () => {
  await Promise.all(Object.values(caches).map((c) => c.close()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A nix.conf both nixcache and real Nix read, an empty store for Nix to substitute into, a fresh narinfo disk cache. */
function world(substituters: string[]) {
  const conf = nixConf(`substituters = ${substituters.join(' ')}\ntrusted-public-keys = ${LAN_KEY}\n`);
  dirs.push(conf.dir);
  const cache = join(conf.dir, 'cache');
  mkdirSync(cache);
  return {
    ...conf,
    store: join(conf.dir, 'store'),
    env: { ...conf.env, XDG_CACHE_HOME: cache },
    diskCache: join(cache, 'nix', 'binary-cache-v6.sqlite'),
  };
}

/** Real Nix asked whether STORE has PATH (asynchronous: the caches are served by this process). */
async function nixHas(w: ReturnType<typeof world>, store: string, path: string, options: string[] = []): Promise<boolean> {
  const r = await execa('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--store', store, ...options, path], {
    env: { ...w.env },
    reject: false,
    timeout: 30_000,
  });
  return r.exitCode === 0;
}

async function doctor(w: ReturnType<typeof world>, samples: string[], wrap?: string[]) {
  const args = ['doctor', '--json', ...ONLY, ...samples.flatMap((s) => ['--sample', s])];
  const r = await runCli(args, { env: w.env, ...(wrap ? { wrap } : {}) });
  return { ...r, report: parseReport(r.stdout) };
}

describe.skipIf(skipReason)('doctor --sample: the coverage step', () => {
  it('passes the cache with both paths, warns on the one lacking one, fails the one answering 401 — as Nix sees them', async () => {
    const urls = [caches.full!.url, caches.holes!.url, caches.auth!.url];
    const w = world(urls);
    const { report, exitCode, stderr } = await doctor(w, [LEAF_A, LEAF_B]);
    expect(stderr).toBe('');

    const full = checkOf(report, 'coverage', urls[0]);
    expect(full.status).toBe('pass');
    expect(full.summary).toBe('has all 2 named paths, usable by Nix, signed by trusted key lan-cache-1');
    expect(full.data).toMatchObject({ named: 2, usable: 2, missing: [], blocked: [] });

    const holes = checkOf(report, 'coverage', urls[1]);
    expect(holes.status).toBe('warn');
    expect(holes.summary).toBe(`lacks 1 of 2 named paths: ${baseName(LEAF_B)}`);
    expect(holes.data).toMatchObject({ usable: 1, missing: [LEAF_B] });
    expect(holes.fix).toBe(`Push it to a cache: nix copy --to CACHE_URL ${LEAF_B}`);

    const auth = checkOf(report, 'coverage', urls[2]);
    expect(auth.status).toBe('fail');
    expect(auth.summary).toContain('refuses the narinfo (HTTP 401): Nix treats this as missing, silently');
    // why's line exactly, through the report's redaction (which masks whatever follows "password").
    expect(auth.fix).toBe(
      `Give Nix credentials for it in ${w.dir}/netrc: machine 127.0.0.1 login USER password *** (netrc-file; NixOS: nix.settings.netrc-file)`,
    );
    expect(auth.data).toMatchObject({ usable: 0, blocked: [LEAF_A, LEAF_B] });
    // why's per-path findings are the check's data, each with the evidence of its requests.
    const paths = (auth.data as { paths: { path: string; verdict: string; narinfo: string }[] }).paths;
    expect(paths.map((p) => [p.path, p.verdict, p.narinfo])).toEqual([
      [LEAF_A, 'build', 'auth'],
      [LEAF_B, 'build', 'auth'],
    ]);
    expect(auth.evidence.filter((e) => e.kind === 'http' && e.url.endsWith('.narinfo') && e.status === 401).length).toBeGreaterThanOrEqual(
      2,
    );
    expect(exitCode).toBe(1);

    // Real Nix agrees on what each cache gives it.
    expect(await nixHas(w, urls[0]!, LEAF_B)).toBe(true);
    expect(await nixHas(w, urls[1]!, LEAF_A)).toBe(true);
    expect(await nixHas(w, urls[1]!, LEAF_B)).toBe(false);
    expect(await nixHas(w, urls[2]!, LEAF_A)).toBe(false);
  });

  it('skips without --sample, and the step is still in the JSON', async () => {
    const w = world([caches.full!.url]);
    const { report } = await doctor(w, []);
    expect(checkOf(report, 'coverage', caches.full!.url)).toMatchObject({ status: 'skip', reason: 'no paths named' });
  });
});

describe.skipIf(skipReason)('doctor --sample: Nix’s narinfo disk cache', () => {
  it('is reported by the signature check with its expiry and why’s fix, and Nix behaves as it says', async () => {
    const hidden = new Set([hashOf(LEAF_A)]);
    const server = await serveVariant(lan, { hide: hidden });
    try {
      const w = world([server.url]);
      // Nix asks before the path is pushed, and remembers the answer…
      expect(await nixHas(w, server.url, LEAF_A)).toBe(false);
      // …then it is pushed.
      hidden.clear();
      const { report, exitCode } = await doctor(w, [LEAF_A]);
      const signature = checkOf(report, 'signature', server.url);
      expect(signature.status).toBe('warn');
      expect(signature.summary).toMatch(
        new RegExp(
          `^${baseName(LEAF_A)}: .* has it, but Nix remembers it as missing until \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC \\(narinfo disk cache\\)`,
        ),
      );
      expect(signature.fix).toContain(`nix-store -r ${LEAF_A} --option narinfo-cache-negative-ttl 0`);
      expect(signature.fix).toContain(`sqlite3 ${w.diskCache} "delete from NARs where hashPart = '${hashOf(LEAF_A)}' and present = 0"`);
      const disk = signature.data.diskCache as { state: string; path: string; expires: string };
      expect(disk).toMatchObject({ state: 'negative', path: w.diskCache });
      // Within Nix's default negative TTL of an hour (compared with the entry's own timestamp, not the clock).
      expect(Date.parse(disk.expires)).toBeGreaterThan(Date.parse(report.generatedAt) - 5_000);
      expect(Date.parse(disk.expires)).toBeLessThanOrEqual(Date.parse(report.generatedAt) + 3600_000);
      expect(checkOf(report, 'coverage', server.url)).toMatchObject({ status: 'fail', data: { blocked: [LEAF_A] } });
      expect(exitCode).toBe(1);
      // Nix agrees: it still says the cache lacks the path, until told to forget the negative entry.
      expect(await nixHas(w, server.url, LEAF_A)).toBe(false);
      expect(await nixHas(w, server.url, LEAF_A, ['--option', 'narinfo-cache-negative-ttl', '0'])).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('is said once, on the first cache, when the database cannot be read (run as nobody), not guessed', async () => {
    const urls = [caches.full!.url, caches.holes!.url];
    const w = world(urls);
    // Real Nix writes the database; nobody may not read it.
    expect(await nixHas(w, urls[0]!, LEAF_A)).toBe(true);
    chmodSync(w.dir, 0o755);
    chmodSync(join(w.dir, 'nix.conf'), 0o644);
    chmodSync(w.env.XDG_CACHE_HOME, 0o755);
    chmodSync(join(w.env.XDG_CACHE_HOME, 'nix'), 0o755);
    chmodSync(w.diskCache, 0o600);
    const { report } = await doctor(w, [LEAF_A], AS_NOBODY);
    const [first, second] = urls.map((u) => checkOf(report, 'signature', u));
    expect(first?.status).toBe('pass');
    expect(first?.detail).toBe(
      `Nix's narinfo disk cache: cannot read ${w.diskCache} (nobody's): run with sudo to see which paths Nix remembers as missing`,
    );
    expect(second?.detail).toBeNull();
    for (const s of [first, second]) expect(s?.data.diskCache).toMatchObject({ state: 'unreadable', path: w.diskCache });
    const paths = checkOf(report, 'coverage', urls[0]).data.paths as { diskCache: string }[];
    expect(paths.map((p) => p.diskCache)).toEqual(['unreadable']);
  });
});
