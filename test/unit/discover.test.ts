import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type DiscoverRequest, discover } from '../../src/discover/index.js';
import type { Evidence } from '../../src/system/evidence.js';
import { scriptedIo } from '../helpers/facts.js';

/** Discovery over a real nix.conf on disk and scripted programs and DNS: what it looks up, and how it reads the settings. */

function world(conf: string, version = 'nix (Nix) 2.8.0\n') {
  const dir = mkdtempSync(join(tmpdir(), 'nixcache-discover-'));
  writeFileSync(join(dir, 'nix.conf'), conf);
  const env = { NIX_CONF_DIR: dir, NIX_USER_CONF_FILES: '', HOME: dir, USER: 'alice' };
  const evidence: Evidence[] = [];
  const io = scriptedIo(
    { exec: { 'nix --version': version }, resolve: { 'cache.example.org': ['203.0.113.7'], 'nas.lan': ['192.168.1.20'] } },
    [],
    (e) => evidence.push(e),
  );
  const request = (more: Partial<DiscoverRequest> = {}): DiscoverRequest => ({
    caches: [],
    trustedKeys: [],
    server: false,
    timeoutMs: 1000,
    ...more,
  });
  return { io, env, request, dns: () => evidence.filter((e) => e.kind === 'dns').map((e) => ('host' in e ? e.host : '')) };
}

const SUBSTITUTERS = `substituters = https://cache.example.org http://nas.lan:5000 http://127.0.0.1:5000 http://${hostname()}:5001\n`;

describe('discovery and the network', () => {
  it('resolves no host name when the selected checks need no network, placing caches by address and own name only', async () => {
    const w = world(SUBSTITUTERS);
    const d = await discover(w.io, w.env, w.request({ network: false }));
    expect(w.dns()).toEqual([]);
    expect(d.targets.map((t) => t.local)).toEqual([false, false, true, true]);
    expect(d.resolutions.size).toBe(0);
  });

  it('resolves each cache host name once when some check needs the network', async () => {
    const w = world(SUBSTITUTERS);
    await discover(w.io, w.env, w.request({ network: true }));
    expect(w.dns().sort()).toEqual(['cache.example.org', hostname(), 'nas.lan'].sort());
  });
});

describe('discovery reads the settings as the installed Nix does', () => {
  it('reads require-sigs = no as off, as Nix does for every boolean spelling', async () => {
    const w = world('require-sigs = no\n');
    const d = await discover(w.io, w.env, w.request({ network: false }));
    expect(d.env.nixVersion).toBe('2.8.0');
    expect(d.config.requireSigs).toBe(false);
  });

  it('does not apply a setting newer than the installed Nix, nor an alias that release does not have', async () => {
    const w = world('max-substitution-jobs = 32\nsigned-binary-caches = *\nextra-platforms = aarch64-linux\n');
    const d = await discover(w.io, w.env, w.request({ network: false }));
    expect(d.config.settings.unknown.map((u) => [u.name, u.lookup?.kind])).toEqual([
      ['max-substitution-jobs', 'newer'],
      ['signed-binary-caches', 'removed'],
    ]);
    expect(d.config.settings.list('extra-platforms').map((i) => i.value)).toEqual(['aarch64-linux']);
  });

  it.each([
    ['nix (Nix) 2.8.0', '2.8.0'],
    ['nix (Nix) 2.24.10', '2.24.10'],
    ['nix (Determinate Nix 3.8.2) 2.30.2', '2.30.2'],
  ])('reads the Nix release from %j', async (line, version) => {
    const w = world('', `${line}\n`);
    expect((await discover(w.io, w.env, w.request({ network: false }))).env.nixVersion).toBe(version);
  });
});
