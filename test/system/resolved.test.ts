import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/report/model.js';
import { nixConf, parseReport, runCli } from '../helpers/cli.js';
import { dnsResponder, Netns } from '../helpers/netns.js';
import { FIXTURES } from '../helpers/servers.js';
import { missing } from '../helpers/system.js';

// This machine runs no systemd-resolved: each test makes a namespace whose /etc/resolv.conf is the
// stub file (fixtures/resolved, written after systemd's source), stands a small DNS responder on
// 127.0.0.53 in for resolved's stub, and runs the CLI in a private mount namespace whose /run/systemd
// holds the uplink file — so the doctor reads real files and talks to a real listener.
const skipReason = missing('systemd-resolved tests in network namespaces', { root: true, commands: ['ip', 'unshare', 'mount'] });
const CACHES = ['http://cache-a.nixcache-test.example:5000', 'http://cache-b.nixcache-test.example:5000'];
const STUB = readFileSync(join(FIXTURES, 'resolved', 'stub-resolv.conf'), 'utf8');
const work = skipReason ? '' : mkdtempSync(join(tmpdir(), 'nixcache-resolved-'));
const made: { ns: Netns; etc: string }[] = [];
const children: ChildProcess[] = [];

/** A namespace whose /etc/resolv.conf names resolved's stub; with ROUTE, a veth pair and a default route through it. */
function namespace(route: boolean): Netns {
  const ns = new Netns();
  const etc = `/etc/netns/${ns.name}`;
  mkdirSync(etc, { recursive: true });
  writeFileSync(join(etc, 'resolv.conf'), STUB);
  made.push({ ns, etc });
  if (route) {
    // Both ends of the pair stay in the namespace: whatever goes out by the route never leaves it.
    ns.run('ip', ['link', 'add', 'nxr0', 'type', 'veth', 'peer', 'name', 'nxr1']);
    ns.run('ip', ['addr', 'add', '10.77.0.2/24', 'dev', 'nxr0']);
    ns.run('ip', ['link', 'set', 'nxr0', 'up']);
    ns.run('ip', ['link', 'set', 'nxr1', 'up']);
    ns.run('ip', ['route', 'add', 'default', 'via', '10.77.0.1']);
  }
  return ns;
}

/** Stands in for systemd-resolved's stub without upstreams: SERVFAIL to every question (UDP), and unless UDPONLY a TCP listener on port 53. */
async function stubResolver(ns: Netns, { udpOnly = false } = {}): Promise<void> {
  children.push(await dnsResponder(ns, '127.0.0.53', 2, { tcp: !udpOnly }));
}

/** Runs the doctor in NS with UPLINK (a fixture name) as /run/systemd/resolve/resolv.conf, on a private tmpfs. */
async function doctorIn(ns: Netns, uplink?: string) {
  const { env } = nixConf(`substituters = ${CACHES.join(' ')}\n`);
  const mountUplink = uplink
    ? 'mount -t tmpfs nixcache-test /run/systemd && mkdir -p /run/systemd/resolve && cp "$0" /run/systemd/resolve/resolv.conf && exec "$@"'
    : 'mount -t tmpfs nixcache-test /run/systemd && exec "$@"';
  const wrap = [
    ...ns.wrap,
    'unshare',
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-c',
    mountUplink,
    join(FIXTURES, 'resolved', uplink ?? 'README.md'),
  ];
  const r = await runCli(['doctor', '--json', '--only', 'network,connect', '--timeout', '3'], { env, wrap });
  const report = parseReport(r.stdout);
  const of = (id: string) => report.checks.filter((c: CheckResult) => c.id === id);
  return { network: of('network')[0] as CheckResult, connect: of('connect') };
}

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const { ns, etc } of made) {
    ns.destroy();
    rmSync(etc, { recursive: true, force: true });
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(skipReason)('behind systemd-resolved’s stub, in namespaces the test makes', () => {
  it('says systemd-resolved is not running when nothing answers on 127.0.0.53 though a default route exists', async () => {
    const ns = namespace(true);
    const { network, connect } = await doctorIn(ns);
    expect(network.status).toBe('fail');
    expect(network.summary).toMatch(/^systemd-resolved is not running: \/etc\/resolv\.conf sends every look-up to its stub 127\.0\.0\.53/);
    expect(network.fix).toContain('systemctl enable --now systemd-resolved');
    expect(network.data).toMatchObject({ verdict: 'resolved-down', resolved: { running: false }, defaultRoutes: ['nxr0'] });
    expect(connect.every((c) => c.status === 'skip')).toBe(true);
  });

  it('names the upstream server from the uplink file when the stub answers SERVFAIL', async () => {
    const ns = namespace(true);
    await stubResolver(ns);
    const { network } = await doctorIn(ns, 'uplink-resolv.conf');
    expect(network.status).toBe('fail');
    expect(network.summary).toMatch(
      /^no resolver answers: .* could not be looked up \(EAI_AGAIN, EAI_AGAIN\) although a default route exists via nxr0$/,
    );
    expect(network.detail).toContain(
      'Resolvers: 127.0.0.53 (systemd-resolved, asking 192.168.178.1, fd00::be24:11ff:fea6:4c5b) (from /run/systemd/resolve/resolv.conf).',
    );
    expect(network.fix).toContain('dig @192.168.178.1 ');
    expect(network.data).toMatchObject({ verdict: 'dns-down', resolved: { running: true, source: '/run/systemd/resolve/resolv.conf' } });
  });

  it('takes a stub that answers over UDP alone (DNSStubListener=udp) as running', async () => {
    const ns = namespace(true);
    await stubResolver(ns, { udpOnly: true });
    const { network } = await doctorIn(ns, 'uplink-resolv.conf');
    expect(network.summary).not.toMatch(/not running/);
    expect(network.data).toMatchObject({
      verdict: 'dns-down',
      resolved: { running: true, upstream: ['192.168.178.1', 'fd00::be24:11ff:fea6:4c5b'] },
    });
    expect(network.evidence).toContainEqual(expect.objectContaining({ kind: 'udp', address: '127.0.0.53', port: 53, result: 'answered' }));
  });

  it('says systemd-resolved knows no DNS server when its uplink file lists none', async () => {
    const ns = namespace(true);
    await stubResolver(ns);
    const { network } = await doctorIn(ns, 'uplink-no-servers.conf');
    expect(network.status).toBe('fail');
    expect(network.summary).toMatch(/^systemd-resolved at 127\.0\.0\.53 knows no DNS server to ask/);
    expect(network.data).toMatchObject({ verdict: 'resolved-no-servers', resolved: { running: true, upstream: [] } });
  });

  it('still says offline, once, when there is no default route, naming what stands behind the stub', async () => {
    const ns = namespace(false);
    await stubResolver(ns);
    const { network, connect } = await doctorIn(ns, 'uplink-no-servers.conf');
    expect(network.status).toBe('fail');
    expect(network.summary).toMatch(/^this machine is offline: no default route, and no resolver answered/);
    expect(network.summary).toContain('127.0.0.53 (systemd-resolved, which knows no DNS server)');
    expect(connect.every((c) => c.reason === 'needs network')).toBe(true);
  });
});
