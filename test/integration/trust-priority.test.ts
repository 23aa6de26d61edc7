import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AS_NOBODY, checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { CACHES, type Running, serveCache } from '../helpers/servers.js';
import { missing } from '../helpers/system.js';

describe('priority order as Nix computes it', () => {
  let none: Running;
  let p30: Running;
  let p40: Running;
  beforeAll(async () => {
    [none, p30, p40] = await Promise.all([
      serveCache(join(CACHES, 'signed-lan')),
      serveCache(join(CACHES, 'signed-lan'), { cacheInfo: 'StoreDir: /nix/store\nPriority: 30\n' }),
      serveCache(join(CACHES, 'signed-lan'), { cacheInfo: 'StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n' }),
    ]);
  });
  afterAll(async () => Promise.all([none, p30, p40].map((s) => s.close())));

  const run = async (subs: string) => {
    const { env } = nixConf(`substituters = ${subs}\n`);
    return parseReport((await runCli(['doctor', '--json', '--only', 'connect,cache-info,priority'], { env })).stdout);
  };

  it('puts a cache without Priority (0) before Priority 30 before Priority 40, whatever nix.conf order', async () => {
    const report = await run(`${p40.url} ${p30.url} ${none.url}`);
    const byUrl = Object.fromEntries(report.caches.map((c) => [c.url, c]));
    expect(byUrl[none.url]).toMatchObject({ priority: 0, prioritySource: 'default', order: 1 });
    expect(byUrl[p30.url]).toMatchObject({ priority: 30, prioritySource: 'cache-info', order: 2 });
    expect(byUrl[p40.url]).toMatchObject({ priority: 40, prioritySource: 'cache-info', order: 3 });
    const prio = checkOf(report, 'priority');
    expect((prio.data.order as { url: string }[]).map((o) => o.url)).toEqual([none.url, p30.url, p40.url]);
  });

  it('lets ?priority= override what nix-cache-info advertises', async () => {
    const report = await run(`${none.url}?priority=45 ${p30.url} ${p40.url}?priority=5`);
    expect(report.caches.map((c) => [c.order, c.priority, c.prioritySource])).toEqual([
      [3, 45, 'url'],
      [2, 30, 'cache-info'],
      [1, 5, 'url'],
    ]);
  });

  it('warns when a failing cache is tried before a working one, with the substituters line to use', async () => {
    const report = await run(`http://127.0.0.1:9/?priority=1 ${p40.url}`);
    const prio = checkOf(report, 'priority');
    expect(prio.status).toBe('warn');
    expect(prio.summary).toMatch(/fails but is tried before/);
    expect(prio.fix).toContain('substituters = http://127.0.0.1:9/?priority=100');
    expect(prio.fix).toContain('nix.settings.substituters');
  });
});

describe('trust as an untrusted user of a multi-user install', () => {
  const reason = missing('trust check as a non-root user', { root: true, commands: ['setpriv'] });

  it.skipIf(reason)('fails naming the ignored substituter, trusted-users and trusted-substituters', async () => {
    const { dir, env } = nixConf('trusted-users = root\nsubstituters = https://cache.nixos.org/\n');
    const home = join(dir, 'home');
    mkdirSync(join(home, '.config', 'nix'), { recursive: true });
    writeFileSync(join(home, '.config', 'nix', 'nix.conf'), 'extra-substituters = http://127.0.0.3:5000\n');
    for (const d of [dir, home, join(home, '.config'), join(home, '.config', 'nix')]) chmodSync(d, 0o755);
    const r = await runCli(['doctor', '--json', '--only', 'config,trust'], {
      env: {
        ...env,
        NIX_USER_CONF_FILES: undefined as unknown as string,
        XDG_CONFIG_HOME: undefined as unknown as string,
        HOME: home,
        NIX_REMOTE: 'daemon',
        USER: 'nobody',
      },
      wrap: AS_NOBODY,
    });
    const report = parseReport(r.stdout);
    expect(report.environment).toMatchObject({ user: 'nobody', multiUser: true, trustedUser: false });
    const trust = checkOf(report, 'trust');
    expect(trust.status).toBe('fail');
    expect(trust.summary).toContain('http://127.0.0.3:5000');
    expect(trust.detail).toContain("Nix prints: warning: ignoring untrusted substituter 'http://127.0.0.3:5000' (set at ");
    expect(trust.fix).toContain('trusted-substituters = http://127.0.0.3:5000');
    expect(trust.fix).toContain('trusted-users');
    expect(trust.detail).toContain(join(home, '.config', 'nix', 'nix.conf'));
  });

  it('passes for root, whom the default trusted-users names', async () => {
    const { env } = nixConf('extra-substituters = http://127.0.0.3:5000\n');
    const report = parseReport((await runCli(['doctor', '--json', '--only', 'trust'], { env: { ...env, NIX_REMOTE: 'daemon' } })).stdout);
    if (report.environment.root) expect(checkOf(report, 'trust').status).toBe('pass');
    else expect(checkOf(report, 'trust').status).toBe('fail');
  });
});
