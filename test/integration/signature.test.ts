import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { CACHES, KEYS, type Running, serveCache } from '../helpers/servers.js';
import { ensureFixturePathsInStore, FIXTURE_PATHS, missing } from '../helpers/system.js';

const LAN_KEY = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
const NAMES = ['signed-lan', 'multi-sig', 'signed-other', 'unsigned', 'regenerated', 'tampered'] as const;
const skipReason = missing('signature tests with the local Nix store', { root: true, commands: ['nix', 'nix-store'] });
const servers: Record<string, Running> = {};

beforeAll(async () => {
  if (skipReason) return;
  ensureFixturePathsInStore();
  await Promise.all(NAMES.map(async (n) => (servers[n] = await serveCache(join(CACHES, n)))));
});
afterAll(async () => {
  await Promise.all(Object.values(servers).map((s) => s.close()));
});

async function doctor(cache: string, args: string[] = [], conf = `trusted-public-keys = ${LAN_KEY}\n`) {
  const { env } = nixConf(`substituters = ${cache}\n${conf}`);
  const r = await runCli(['doctor', '--json', '--only', 'connect,cache-info,signature', ...args], { env });
  return checkOf(parseReport(r.stdout), 'signature', cache);
}

describe.skipIf(skipReason)('signature verdicts on real Nix-made caches, sample chosen from the local store', () => {
  it('passes a cache signed by a trusted key, naming the key', async () => {
    const s = await doctor(servers['signed-lan']!.url);
    expect(s.status).toBe('pass');
    expect(s.summary).toContain('lan-cache-1');
    expect(s.data).toMatchObject({ verdict: 'valid', key: 'lan-cache-1' });
    expect(FIXTURE_PATHS).toContain(s.data.sample);
  });

  it('passes a narinfo with several signatures when one is trusted', async () => {
    expect(await doctor(servers['multi-sig']!.url)).toMatchObject({ status: 'pass', data: { verdict: 'valid', key: 'lan-cache-1' } });
  });

  it('fails an unsigned cache saying it does not sign, with the server-side fix', async () => {
    const s = await doctor(servers.unsigned!.url);
    expect(s).toMatchObject({ status: 'fail', data: { verdict: 'unsigned' } });
    expect(s.summary).toMatch(/does not sign/);
    expect(s.fix).toMatch(/secretKeyFile|secret-key-files/);
  });

  it('fails a cache signed by an untrusted key, naming it and the line to add', async () => {
    const s = await doctor(servers['signed-other']!.url);
    expect(s).toMatchObject({ status: 'fail', data: { verdict: 'untrusted', signedBy: ['other-cache-1'] } });
    expect(s.summary).toContain('other-cache-1');
    expect(s.fix).toContain('trusted-public-keys = other-cache-1:');
    expect(s.fix).toContain('nix.settings.trusted-public-keys');
  });

  it('reports a regenerated key as a changed key, not as unsigned', async () => {
    const s = await doctor(servers.regenerated!.url);
    expect(s).toMatchObject({ status: 'fail', data: { verdict: 'mismatch' } });
    expect(s.summary).toContain('lan-cache-1');
    expect(s.summary).toMatch(/does not verify/);
    expect(s.summary).toMatch(/regenerated/);
    expect(s.summary).not.toMatch(/unsigned|does not sign/);
  });

  it('tells a narinfo altered after signing from a regenerated key', async () => {
    const s = await doctor(servers.tampered!.url, ['--sample', FIXTURE_PATHS[0]!]);
    expect(s).toMatchObject({ status: 'fail', data: { verdict: 'mismatch' } });
    expect(s.summary).toMatch(/altered after signing/);
    expect(s.data.otherValid).toBeGreaterThan(0);
  });

  it('warns that nothing is verified when require-sigs = false', async () => {
    const s = await doctor(servers.unsigned!.url, [], `trusted-public-keys = ${LAN_KEY}\nrequire-sigs = false\n`);
    expect(s.status).toBe('warn');
    expect(s.summary).toMatch(/require-sigs = false/);
  });

  it('accepts a key given with --trusted-key', async () => {
    const other = readFileSync(join(KEYS, 'other.pub'), 'utf8').trim();
    expect(await doctor(servers['signed-other']!.url, ['--trusted-key', other])).toMatchObject({
      status: 'pass',
      data: { key: 'other-cache-1' },
    });
  });

  it('skips with the count tried and the --sample hint when the cache has none of the paths', async () => {
    const s = await doctor(servers['signed-lan']!.url, ['--sample', '/nix/store/00000000000000000000000000000000-not-there']);
    expect(s.status).toBe('skip');
    expect(s.summary).toMatch(/none of the 1 store paths/);
    expect(s.fix).toContain('--sample');
  });
});

describe.skipIf(skipReason)('Nix is the oracle', () => {
  it.each(NAMES.flatMap((cache) => FIXTURE_PATHS.map((path) => [cache, path] as const)))(
    'agrees with nix store verify on %s for %s',
    async (cache, path) => {
      const nix = spawnSync(
        'nix',
        [
          '--extra-experimental-features',
          'nix-command',
          'store',
          'verify',
          '--store',
          `file://${join(CACHES, cache)}`,
          '--no-contents',
          '--option',
          'trusted-public-keys',
          LAN_KEY,
          path,
        ],
        { encoding: 'utf8' },
      );
      const s = await doctor(servers[cache]!.url, ['--sample', path]);
      expect(s.status === 'pass', `nix said: ${nix.stderr}; doctor said: ${s.summary}`).toBe(nix.status === 0);
    },
  );
});
