import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/model.js';
import { AS_NOBODY, checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { CACHES, type Running, serveCache } from '../helpers/servers.js';
import { missing } from '../helpers/system.js';

const reason = missing('missing pieces of the system', { root: true, commands: ['setpriv', 'nix', 'ping', 'iptables'] });

/** A PATH with node and nothing else: no nix, systemctl, ping, ss, iptables, nft, firewall-cmd, id, pgrep. */
function bareBin(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nixcache-bare-'));
  symlinkSync(process.execPath, join(dir, 'node'));
  return dir;
}

const noStack = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe.skipIf(reason)('missing pieces: each is a skip with its reason, never a crash or a false verdict', () => {
  let cache: Running;
  let report: Report;
  let bare: { stderr: string; exitCode: number };
  beforeAll(async () => {
    cache = await serveCache(join(CACHES, 'signed-lan'), { host: '127.0.0.1' });
  });
  afterAll(() => cache.close());

  it('runs with no nix, systemctl, ping, ss, iptables, nft or firewall-cmd on PATH', async () => {
    const { env } = nixConf(`substituters = ${cache.url}\n`);
    const r = await runCli(['doctor', '--json', '--server', '--port', String(cache.port)], { env: { ...env, PATH: bareBin() } });
    bare = r;
    report = parseReport(r.stdout);
    noStack(r.stderr);
    expect(report.environment.nixVersion).toBeNull();
    expect(checkOf(report, 'config').data).toMatchObject({ nixCrossCheck: 'nix not installed' });
    expect(checkOf(report, 'ping', cache.url)).toMatchObject({ status: 'skip', summary: expect.stringMatching(/ping.*not installed/) });
    // No TCP verdict is lost for want of ping: connect and cache-info still work.
    expect(checkOf(report, 'cache-info', cache.url).status).toBe('pass');
    const fw = checkOf(report, 'firewall', cache.url);
    expect(fw).toMatchObject({ status: 'skip', reason: 'no firewall tools' });
    expect(fw.summary).toMatch(/iptables is not installed.*nft is not installed/);
    // Without ss the listening sockets come from /proc/net/tcp; without systemd it says so and goes on.
    const service = checkOf(report, 'service', cache.url);
    expect(service.data).toMatchObject({ listenersFrom: '/proc/net/tcp', systemd: expect.stringMatching(/not running|not installed/) });
    expect(service.status).toBe('warn'); // listening on 127.0.0.1 only: true whatever tools are missing
  });

  it('exits 1 for the failures it found, not 2: a missing tool is not a usage error', () => {
    expect(bare.exitCode).toBe(report.summary.fail > 0 ? 1 : 0);
  });

  it('runs as a user who is not root, with a HOME it cannot write: firewall and secret key say they need root', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nixcache-nonroot-'));
    chmodSync(dir, 0o755);
    const secret = join(dir, 'cache-priv-key.pem');
    writeFileSync(secret, 'nothing-to-see', { mode: 0o600 });
    const home = join(dir, 'home');
    mkdirSync(home, { mode: 0o555 });
    const { dir: confDir, env } = nixConf(`substituters = ${cache.url}\nsecret-key-files = ${secret}\n`);
    chmodSync(confDir, 0o755); // nobody must be able to read the system nix.conf, as on a real machine
    chmodSync(join(confDir, 'nix.conf'), 0o644);
    const r = await runCli(['doctor', '--json', '--server', '--port', String(cache.port)], {
      env: { ...env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache') },
      wrap: AS_NOBODY,
    });
    const nonRoot = parseReport(r.stdout);
    noStack(r.stderr);
    expect(nonRoot.environment).toMatchObject({ root: false, user: 'nobody' });
    expect(checkOf(nonRoot, 'config').summary).toMatch(/^read /);
    expect(checkOf(nonRoot, 'firewall', cache.url)).toMatchObject({ status: 'skip', reason: 'needs root' });
    expect(checkOf(nonRoot, 'signing-key')).toMatchObject({ status: 'skip', reason: 'needs root' });
    expect(checkOf(nonRoot, 'cache-info', cache.url).status).toBe('pass');
    expect(r.stdout + r.stderr).not.toContain('nothing-to-see');
  });

  it('agrees with Nix that a single-user store nobody cannot write is unusable for nobody', async () => {
    const { env } = nixConf(`substituters = ${cache.url}\n`);
    const home = mkdtempSync(join(tmpdir(), 'nixcache-nobody-home-'));
    chmodSync(home, 0o777);
    const as = { ...env, HOME: home, NIX_REMOTE: '', XDG_CACHE_HOME: join(home, '.cache') };
    // The oracle: Nix itself, as nobody, cannot add a path to the root-owned store.
    const nix = await execa(AS_NOBODY[0] as string, [...AS_NOBODY.slice(1), 'nix-store', '--add', '/etc/hostname'], {
      reject: false,
      env: as,
      extendEnv: true,
    });
    expect(nix.exitCode).not.toBe(0);
    const r = await runCli(['doctor', '--json', '--only', 'trust'], { env: as, wrap: AS_NOBODY });
    const trust = checkOf(parseReport(r.stdout), 'trust');
    expect(trust).toMatchObject({ status: 'fail', data: { storeWritable: false, multiUser: false } });
    expect(trust.summary).toContain('nobody cannot write /nix/store');
    expect(r.exitCode).toBe(1);
  });
});
