import type { ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/report/model.js';
import { nixConf, parseReport, runCli } from '../helpers/cli.js';
import { dnsResponder, Netns } from '../helpers/netns.js';
import { missing } from '../helpers/system.js';

const skipReason = missing('offline tests in network namespaces', { root: true, commands: ['ip'] });
const CACHES = ['http://cache-a.nixcache-test.example:5000', 'http://cache-b.nixcache-test.example:5000'];
const made: { ns: Netns; etc: string }[] = [];
const children: ChildProcess[] = [];

/** A namespace with only its loopback (no default route), whose /etc/resolv.conf (ip netns exec's own copy) is RESOLV. */
function namespace(resolv: string): Netns {
  const ns = new Netns();
  const etc = `/etc/netns/${ns.name}`;
  mkdirSync(etc, { recursive: true });
  writeFileSync(join(etc, 'resolv.conf'), resolv);
  made.push({ ns, etc });
  return ns;
}

/** A resolver on the namespace's loopback that answers NXDOMAIN to every question. */
async function nxdomainServer(ns: Netns): Promise<void> {
  children.push(await dnsResponder(ns, '127.0.0.1', 3));
}

async function doctorIn(ns: Netns) {
  const { env } = nixConf(`substituters = ${CACHES.join(' ')}\n`);
  const r = await runCli(['doctor', '--json', '--only', 'network,connect,cache-info', '--timeout', '3'], { env, wrap: ns.wrap });
  const report = parseReport(r.stdout);
  const of = (id: string) => report.checks.filter((c: CheckResult) => c.id === id);
  return { network: of('network')[0] as CheckResult, connect: of('connect'), cacheInfo: of('cache-info') };
}

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const { ns, etc } of made) {
    ns.destroy();
    rmSync(etc, { recursive: true, force: true });
  }
});

describe.skipIf(skipReason)('offline vs a wrong name, in namespaces the test makes', () => {
  it('says once, as a host finding, that the machine is offline when there is no route and no resolver answers; caches skip', async () => {
    const ns = namespace('nameserver 10.99.99.99\n');
    const { network, connect, cacheInfo } = await doctorIn(ns);
    expect(network.status).toBe('fail');
    expect(network.summary).toMatch(/^this machine is offline: no default route, and no resolver answered/);
    expect(network.summary).toContain('10.99.99.99');
    expect(network.fix).toContain('nix.settings.fallback = true;');
    expect(connect).toHaveLength(2);
    for (const c of [...connect, ...cacheInfo]) expect(c.status).toBe('skip');
    expect(connect.every((c) => c.reason === 'needs network')).toBe(true);
  });

  it('says per cache that the name does not exist when a resolver answers NXDOMAIN, and the network check passes', async () => {
    const ns = namespace('nameserver 127.0.0.1\n');
    await nxdomainServer(ns);
    const { network, connect } = await doctorIn(ns);
    expect(network.status).toBe('pass');
    expect(connect).toHaveLength(2);
    for (const c of connect) {
      expect(c.status).toBe('fail');
      expect(c.summary).toContain('the name does not exist (ENOTFOUND');
      expect(c.fix).toContain('Check the spelling');
    }
  });
});
