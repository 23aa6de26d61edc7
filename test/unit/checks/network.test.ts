import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect } from '../../../checks/connect.js';
import { network } from '../../../checks/network.js';
import { describeResolvers, judgeConnectivity, parseNameservers, parseResolvectlDns } from '../../../src/host/routes.js';
import { fakeFacts, fakeResults, type Script, type World } from '../../helpers/facts.js';
import { FIXTURES } from '../../helpers/servers.js';

/** Written after systemd's source (fixtures/resolved/README.md): this machine has no systemd-resolved. */
const fixture = (name: string) => readFileSync(join(FIXTURES, 'resolved', name), 'utf8');
const STUB = fixture('stub-resolv.conf');
const UPLINK = '/run/systemd/resolve/resolv.conf';
const ROUTE_HEADER = 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n';
const DEFAULT_ROUTE = `${ROUTE_HEADER}eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\n`;
const CACHES = 'substituters = http://cache-a.lan:5000 http://cache-b.lan:5000';
const UNANSWERED = { 'cache-a.lan': 'EAI_AGAIN', 'cache-b.lan': 'EAI_AGAIN' };

/** The network check with /etc/resolv.conf naming systemd-resolved's stub, and SCRIPT's extra files and programs. */
function resolvedWorld(script: Script, route = DEFAULT_ROUTE): World {
  return {
    conf: CACHES,
    script: {
      resolve: UNANSWERED,
      ...script,
      files: { '/etc/resolv.conf': STUB, '/proc/net/route': route, ...script.files },
    },
  };
}
const running = { tcp: { '127.0.0.53:53': 'open' as const } };

async function runNetwork(world: World) {
  const fake = fakeFacts(world);
  return { finding: await network.run(fake.facts, fakeResults()), calls: fake.calls, evidence: fake.evidence };
}

describe('systemd-resolved: what its stub forwards to', () => {
  it.each([
    [
      'resolvectl-dns.txt',
      [
        { link: 'Global', servers: ['9.9.9.9', '1.1.1.1'] },
        { link: 'Link 2 (enp0s31f6)', servers: ['192.168.178.1', 'fd00::be24:11ff:fea6:4c5b'] },
        { link: 'Link 3 (wlp2s0)', servers: [] },
      ],
    ],
    [
      'resolvectl-dns-wrapped.txt',
      [
        { link: 'Global', servers: [] },
        {
          link: 'Link 2 (enp0s31f6)',
          servers: [
            '192.168.178.1',
            '192.168.178.2',
            '192.168.178.3',
            '192.168.178.4',
            'fd00::be24:11ff:fea6:4c5b',
            'fd00::be24:11ff:fea6:4c5c',
          ],
        },
        { link: 'Link 3 (wlp2s0)', servers: [] },
      ],
    ],
    [
      'resolvectl-dns-none.txt',
      [
        { link: 'Global', servers: [] },
        { link: 'Link 2 (enp0s31f6)', servers: [] },
      ],
    ],
  ])('reads %s per link, dropping the DNS-over-TLS server names', (file, links) => {
    expect(parseResolvectlDns(fixture(file))).toEqual(links);
  });

  it('reads the nameserver lines of the stub file, the uplink file, and none from the empty uplink file', () => {
    expect(parseNameservers(STUB)).toEqual(['127.0.0.53']);
    expect(parseNameservers(fixture('uplink-resolv.conf'))).toEqual(['192.168.178.1', 'fd00::be24:11ff:fea6:4c5b']);
    expect(parseNameservers(fixture('uplink-no-servers.conf'))).toEqual([]);
  });

  it('names the stub with what stands behind it', () => {
    const stub = { stub: '127.0.0.53', running: true, upstream: ['192.168.178.1'], source: 'resolvectl dns' as const };
    expect(describeResolvers({ configured: ['127.0.0.53'], resolved: stub })).toBe('127.0.0.53 (systemd-resolved, asking 192.168.178.1)');
    expect(describeResolvers({ configured: ['127.0.0.53'], resolved: { ...stub, upstream: [] } })).toBe(
      '127.0.0.53 (systemd-resolved, which knows no DNS server)',
    );
    expect(describeResolvers({ configured: ['127.0.0.53', '10.0.0.1'], resolved: { ...stub, running: false, upstream: [] } })).toBe(
      '127.0.0.53 (systemd-resolved, which does not answer there), 10.0.0.1',
    );
    expect(describeResolvers({ configured: ['127.0.0.53'], resolved: { ...stub, upstream: [], source: 'none' } })).toBe(
      '127.0.0.53 (systemd-resolved, whose DNS servers could not be read)',
    );
    expect(describeResolvers({ configured: [] })).toBe('none');
  });

  it('judges resolved itself only when it is the only resolver named', () => {
    const route = { defaultV4: ['eth0'], defaultV6: [] };
    const down = { stub: '127.0.0.53', running: false, upstream: [], source: 'none' as const };
    const failed = [{ ok: false, code: 'EAI_AGAIN' }];
    expect(judgeConnectivity(failed, { ...route, resolvers: { configured: ['127.0.0.53'], resolved: down } }).kind).toBe('resolved-down');
    expect(judgeConnectivity(failed, { ...route, resolvers: { configured: ['127.0.0.53', '10.0.0.1'], resolved: down } }).kind).toBe(
      'dns-down',
    );
    expect(
      judgeConnectivity(failed, { defaultV4: [], defaultV6: [], resolvers: { configured: ['127.0.0.53'], resolved: down } }).kind,
    ).toBe('offline');
  });
});

describe('network check behind systemd-resolved', () => {
  it('names the upstream servers from resolvectl dns when no resolver answers and a default route exists', async () => {
    const { finding: f } = await runNetwork(resolvedWorld({ ...running, exec: { 'resolvectl dns': fixture('resolvectl-dns.txt') } }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(
      'no resolver answers: cache-a.lan, cache-b.lan could not be looked up (EAI_AGAIN, EAI_AGAIN) although a default route exists via eth0',
    );
    expect(f.detail).toContain(
      'Resolvers: 127.0.0.53 (systemd-resolved, asking 9.9.9.9, 1.1.1.1, 192.168.178.1, fd00::be24:11ff:fea6:4c5b) (from resolvectl dns).',
    );
    expect(f.fix).toContain('dig @9.9.9.9 cache-a.lan');
    expect(f.fix).toContain('the DNS servers systemd-resolved asks (resolvectl dns)');
    expect(f.data).toMatchObject({
      resolvers: ['127.0.0.53'],
      resolved: {
        stub: '127.0.0.53',
        running: true,
        source: 'resolvectl dns',
        upstream: ['9.9.9.9', '1.1.1.1', '192.168.178.1', 'fd00::be24:11ff:fea6:4c5b'],
      },
      verdict: 'dns-down',
    });
  });

  it('reads the uplink file where resolvectl is not installed', async () => {
    const { finding: f, evidence } = await runNetwork(resolvedWorld({ ...running, files: { [UPLINK]: fixture('uplink-resolv.conf') } }));
    expect(f.data).toMatchObject({
      resolved: { running: true, source: UPLINK, upstream: ['192.168.178.1', 'fd00::be24:11ff:fea6:4c5b'] },
      verdict: 'dns-down',
    });
    expect(f.fix).toContain('dig @192.168.178.1 cache-a.lan');
    // The reads are evidence of the finding.
    expect(evidence.some((e) => e.kind === 'tcp' && e.address === '127.0.0.53' && e.port === 53)).toBe(true);
  });

  it('says systemd-resolved knows no DNS server when its uplink file has none, with the resolved.conf fix', async () => {
    const { finding: f } = await runNetwork(resolvedWorld({ ...running, files: { [UPLINK]: fixture('uplink-no-servers.conf') } }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(
      `systemd-resolved at 127.0.0.53 knows no DNS server to ask (from ${UPLINK}), so cache-a.lan, cache-b.lan could not be looked up (EAI_AGAIN, EAI_AGAIN) although a default route exists via eth0`,
    );
    expect(f.detail).toContain('"No DNS servers known"');
    expect(f.fix).toContain('[Resolve] DNS=<your resolver>');
    expect(f.fix).toContain('networking.nameservers');
    expect(f.data).toMatchObject({ verdict: 'resolved-no-servers' });
  });

  it('says DNS is down, not that resolved knows no server, when neither resolvectl nor the uplink file can be read', async () => {
    const { finding: f } = await runNetwork(resolvedWorld(running));
    expect(f.data).toMatchObject({ verdict: 'dns-down', resolved: { running: true, source: 'none', upstream: [] } });
    expect(f.detail).toContain('127.0.0.53 (systemd-resolved, whose DNS servers could not be read)');
  });

  it('says systemd-resolved knows no DNS server when resolvectl dns lists none on any link', async () => {
    const { finding: f } = await runNetwork(resolvedWorld({ ...running, exec: { 'resolvectl dns': fixture('resolvectl-dns-none.txt') } }));
    expect(f.data).toMatchObject({ verdict: 'resolved-no-servers', resolved: { source: 'resolvectl dns', upstream: [] } });
  });

  it('says systemd-resolved is not running when nothing listens on the stub, and never asks resolvectl (D-Bus could start it)', async () => {
    const { finding: f, calls } = await runNetwork(resolvedWorld({ exec: { 'resolvectl dns': fixture('resolvectl-dns.txt') } }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(
      'systemd-resolved is not running: /etc/resolv.conf sends every look-up to its stub 127.0.0.53, where nothing answers, so cache-a.lan, cache-b.lan could not be looked up (EAI_AGAIN, EAI_AGAIN)',
    );
    expect(f.fix).toContain('systemctl enable --now systemd-resolved');
    expect(f.data).toMatchObject({ verdict: 'resolved-down', resolved: { running: false, source: 'none' } });
    expect(calls.filter((c) => c.startsWith('resolvectl'))).toEqual([]);
  });

  it.each([
    ['over UDP alone (DNSStubListener=udp), as the C library asks', { udp: { '127.0.0.53:53': 'answered' as const } }],
    ['over TCP alone (DNSStubListener=tcp)', { tcp: { '127.0.0.53:53': 'open' as const } }],
  ])('takes a stub that answers %s as running, and asks resolvectl', async (_, script) => {
    const { finding: f, calls } = await runNetwork(resolvedWorld({ ...script, exec: { 'resolvectl dns': fixture('resolvectl-dns.txt') } }));
    expect(f.data).toMatchObject({ resolved: { running: true, source: 'resolvectl dns' } });
    expect(f.summary).not.toMatch(/not running/);
    expect(calls.filter((c) => c.startsWith('resolvectl'))).toEqual(['resolvectl dns']);
  });

  it('does not call resolved stopped when the stub is filtered (no answer either way), nor ask resolvectl', async () => {
    const { finding: f, calls } = await runNetwork(
      resolvedWorld({
        udp: { '127.0.0.53:53': 'timeout' },
        tcp: { '127.0.0.53:53': 'timeout' },
        exec: { 'resolvectl dns': fixture('resolvectl-dns.txt') },
        files: { [UPLINK]: fixture('uplink-resolv.conf') },
      }),
    );
    expect(f.data).toMatchObject({ resolved: { running: true, source: UPLINK } });
    expect(calls.filter((c) => c.startsWith('resolvectl'))).toEqual([]);
  });

  it('still says offline when there is no default route, naming what stands behind the stub', async () => {
    const { finding: f } = await runNetwork(
      resolvedWorld({ ...running, files: { [UPLINK]: fixture('uplink-no-servers.conf') } }, ROUTE_HEADER),
    );
    expect(f.summary).toBe(
      'this machine is offline: no default route, and no resolver answered for cache-a.lan, cache-b.lan (resolvers: 127.0.0.53 (systemd-resolved, which knows no DNS server))',
    );
    expect(f.detail).toContain('/etc/resolv.conf sends look-ups to systemd-resolved at 127.0.0.53');
    expect(f.data).toMatchObject({ verdict: 'offline' });
  });

  it('passes when a name resolves, without judging resolved', async () => {
    const { finding: f } = await runNetwork(
      resolvedWorld({
        ...running,
        resolve: { 'cache-a.lan': ['10.0.0.5'], 'cache-b.lan': 'ENOTFOUND' },
        files: { [UPLINK]: fixture('uplink-resolv.conf') },
      }),
    );
    expect(f.status).toBe('pass');
  });
});

describe('connect check behind systemd-resolved', () => {
  it('names the upstream servers for a name that does not resolve, and the dig to ask one', async () => {
    const { facts, caches } = fakeFacts(
      resolvedWorld({ ...running, resolve: { 'cache-a.lan': 'EAI_AGAIN' }, files: { [UPLINK]: fixture('uplink-resolv.conf') } }),
    );
    const f = await connect.run(facts, caches[0]!, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.detail?.split('\n')[0]).toBe(
      'Resolvers in /etc/resolv.conf: 127.0.0.53 (systemd-resolved, asking 192.168.178.1, fd00::be24:11ff:fea6:4c5b)',
    );
    expect(f.fix).toContain('resolvectl query cache-a.lan (or dig @192.168.178.1 cache-a.lan)');
  });
});
