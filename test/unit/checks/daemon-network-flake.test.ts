import { describe, expect, it } from 'vitest';
import { daemon } from '../../../checks/daemon.js';
import { flake } from '../../../checks/flake.js';
import { network } from '../../../checks/network.js';
import type { DaemonFact } from '../../../src/facts/daemon.js';
import { fakeFacts, fakeResults, type World } from '../../helpers/facts.js';

const ROUTE_HEADER = 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n';
const DEFAULT_ROUTE = `${ROUTE_HEADER}eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\n`;

const runNetwork = (world: World) => network.run(fakeFacts(world).facts, fakeResults());
const runDaemon = (fact: Partial<DaemonFact>, world: World = {}) =>
  daemon.run(
    fakeFacts({
      ...world,
      overrides: {
        daemon: async () => ({
          socket: '/nix/var/nix/daemon-socket/socket',
          socketExists: true,
          confFiles: [],
          userEnv: {},
          unsupported: [],
          ...fact,
        }),
        daemonProxies: async () => [],
      },
    }).facts,
    fakeResults(),
  );

describe('network check: one verdict for the machine', () => {
  const caches = 'substituters = http://cache-a.lan:5000 http://cache-b.lan:5000';
  it('fails once as offline when no name gets an answer and there is no default route', async () => {
    const f = await runNetwork({
      conf: caches,
      script: {
        resolve: { 'cache-a.lan': 'EAI_AGAIN', 'cache-b.lan': 'EAI_AGAIN' },
        files: { '/etc/resolv.conf': 'nameserver 10.0.0.1\n', '/proc/net/route': ROUTE_HEADER },
      },
    });
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(
      'this machine is offline: no default route, and no resolver answered for cache-a.lan, cache-b.lan (resolvers: 10.0.0.1)',
    );
  });
  it('says DNS is down when a default route exists but no resolver answers', async () => {
    const f = await runNetwork({
      conf: caches,
      script: { resolve: { 'cache-a.lan': 'EAI_AGAIN', 'cache-b.lan': 'EAI_AGAIN' }, files: { '/proc/net/route': DEFAULT_ROUTE } },
    });
    expect(f.status).toBe('fail');
    expect(f.summary).toContain('no resolver answers');
    expect(f.summary).toContain('via eth0');
  });
  it('passes when a resolver answers, even NXDOMAIN: a wrong name is the cache’s problem, not the machine’s', async () => {
    const f = await runNetwork({
      conf: caches,
      script: { resolve: { 'cache-a.lan': ['10.0.0.5'], 'cache-b.lan': 'ENOTFOUND' }, files: { '/proc/net/route': ROUTE_HEADER } },
    });
    expect(f.status).toBe('pass');
  });
  it('only warns when a file:// cache would still work offline', async () => {
    const f = await runNetwork({
      conf: `${caches} file:///srv/cache`,
      script: { resolve: { 'cache-a.lan': 'EAI_AGAIN', 'cache-b.lan': 'EAI_AGAIN' } },
    });
    expect(f.status).toBe('warn');
  });
});

describe('daemon check: scripted facts', () => {
  it('passes a single-user install without looking for a daemon', async () => {
    const f = await runDaemon({ socketExists: false });
    expect(f.status).toBe('pass');
    expect(f.summary).toMatch(/^single-user install/);
  });
  it('skips, saying what sudo adds, when the environment of a found daemon cannot be read', async () => {
    const f = await runDaemon({ pid: 42, pidSource: 'pgrep', envProblem: 'EACCES' }, { env: { multiUser: true } });
    expect(f.status).toBe('skip');
    expect(f.reason).toBe('needs root');
    expect(f.fix).toContain('sudo nixcache doctor');
  });
  it('fails as root when a multi-user install has no daemon on its socket', async () => {
    const f = await runDaemon({ socketExists: true }, { env: { multiUser: true, root: true } });
    expect(f.status).toBe('fail');
    expect(f.fix).toContain('systemctl enable --now nix-daemon');
  });
  it('fails a CA bundle the daemon lacks only as a warning, and never shows an AWS secret', async () => {
    const f = await runDaemon(
      {
        pid: 7,
        pidSource: 'socket',
        envSource: 'proc',
        env: { AWS_SECRET_ACCESS_KEY: 'daemon-secret' },
        userEnv: { NIX_SSL_CERT_FILE: '/etc/ssl/corp.pem', AWS_SECRET_ACCESS_KEY: 'user-secret' },
      },
      { conf: 'substituters = https://cache.corp', env: { multiUser: true, root: true } },
    );
    expect(f.status).toBe('warn');
    expect(f.summary).toContain('NIX_SSL_CERT_FILE differs');
    expect(JSON.stringify(f)).not.toMatch(/daemon-secret|user-secret/);
  });
});

describe('flake check: scripted facts', () => {
  it('skips without a flake.nix', async () => {
    const f = await flake.run(fakeFacts({ overrides: { flake: async () => ({ kind: 'none', dir: '/src' }) } }).facts, fakeResults());
    expect(f).toMatchObject({ status: 'skip', reason: 'no flake' });
  });
  it('passes a flake whose caches accept-flake-config lets in for a trusted user', async () => {
    const f = await flake.run(
      fakeFacts({
        conf: 'accept-flake-config = true',
        overrides: {
          flake: async () => ({
            kind: 'flake',
            path: '/src/flake.nix',
            nixConfig: { 'extra-substituters': ['https://c'] },
            source: 'nix',
            trustedSettingsPath: '/x',
            saved: {},
          }),
        },
      }).facts,
      fakeResults(),
    );
    expect(f.status).toBe('pass');
  });
});
