import { describe, expect, it } from 'vitest';
import { ping } from '../../../checks/ping.js';
import type { Finding } from '../../../src/runner/check.js';
import { fakeFacts, fakeResults, type World } from '../../helpers/facts.js';

/** Runs the ping check against the first cache of WORLD. */
async function runPing(world: World): Promise<Finding> {
  const { facts, caches } = fakeFacts(world);
  return ping.run(facts, caches[0]!, fakeResults());
}

const LAN = 'http://10.0.0.5:5000';

describe('ping check', () => {
  it.each([
    ['file:///srv/cache', 'a file store'],
    ['daemon', 'a daemon store'],
  ])('skips %s because it has no host to ping', async (url, kind) => {
    const finding = await runPing({ caches: [url] });
    expect(finding.status).toBe('skip');
    expect(finding.summary).toBe(`nothing to ping for ${kind}`);
    expect(finding.reason).toBe('no host');
  });

  it.each(['ENOTFOUND', 'EAI_AGAIN'])('skips when the host name does not resolve (%s), quoting the resolver error', async (code) => {
    const finding = await runPing({ caches: ['http://cache.lan:5000'], script: { resolve: { 'cache.lan': code } } });
    expect(finding.status).toBe('skip');
    expect(finding.summary).toMatch(/^cannot ping: /);
    expect(finding.summary).toContain('cache.lan');
    expect(finding.summary).toContain(code);
    expect(finding.reason).toBe('host name does not resolve');
  });

  it('skips when ping cannot run on this machine, saying why', async () => {
    // Unscripted ping: the program is not installed.
    const finding = await runPing({ caches: [LAN] });
    expect(finding.status).toBe('skip');
    expect(finding.summary).toBe('ping could not run: ping is not installed');
    expect(finding.reason).toBe('ping is not installed');
  });

  it('skips when ICMP is not permitted, with that reason', async () => {
    const finding = await runPing({
      caches: [LAN],
      script: { ping: { '10.0.0.5': { unavailable: 'not permitted to send ICMP' } } },
    });
    expect(finding.status).toBe('skip');
    expect(finding.summary).toBe('ping could not run: not permitted to send ICMP');
    expect(finding.reason).toBe('not permitted to send ICMP');
  });

  it('skips with "no address" when the host name resolves to no address at all', async () => {
    const finding = await runPing({ caches: ['http://cache.lan:5000'], script: { resolve: { 'cache.lan': [] } } });
    expect(finding.status).toBe('skip');
    expect(finding.summary).toBe('ping could not run: no address');
    expect(finding.reason).toBe('no address');
  });

  it('passes when the host answers, giving the round-trip time to one decimal', async () => {
    const finding = await runPing({ caches: [LAN], script: { ping: { '10.0.0.5': { alive: true, rttMs: 0.42, loss: 0 } } } });
    expect(finding.status).toBe('pass');
    expect(finding.summary).toBe('10.0.0.5 answers ping in 0.4 ms');
    expect(finding.data).toEqual({ address: '10.0.0.5', alive: true, rttMs: 0.42, loss: 0 });
  });

  it('passes but mentions packet loss when some pings are lost', async () => {
    const finding = await runPing({ caches: [LAN], script: { ping: { '10.0.0.5': { alive: true, rttMs: 12.25, loss: 20 } } } });
    expect(finding.status).toBe('pass');
    expect(finding.summary).toBe('10.0.0.5 answers ping in 12.3 ms (20% loss)');
    expect(finding.data).toMatchObject({ loss: 20 });
  });

  it('pings the first address a host name resolves to', async () => {
    const finding = await runPing({
      caches: ['http://cache.lan:5000'],
      script: { resolve: { 'cache.lan': ['10.0.0.7', '10.0.0.8'] }, ping: { '10.0.0.7': { alive: true, rttMs: 1 } } },
    });
    expect(finding.status).toBe('pass');
    expect(finding.summary).toMatch(/^10\.0\.0\.7 answers ping/);
    expect(finding.data).toMatchObject({ address: '10.0.0.7' });
  });

  it('only warns when the host ignores ping but its port accepts TCP, since ICMP filtering is harmless', async () => {
    const finding = await runPing({
      caches: [LAN],
      script: { ping: { '10.0.0.5': { alive: false, loss: 100 } }, tcp: { '10.0.0.5:5000': 'open' } },
    });
    expect(finding.status).toBe('warn');
    expect(finding.summary).toContain('10.0.0.5 does not answer ping, but port 5000 accepts TCP');
    expect(finding.summary).toContain('ICMP is filtered');
    expect(finding.fix).toContain('networking.firewall.allowPing = true;');
    expect(finding.data).toEqual({ address: '10.0.0.5', alive: false, rttMs: null, loss: 100 });
  });

  it('warns of a dead first address when another address of the name accepts TCP, not of filtered ICMP', async () => {
    const finding = await runPing({
      caches: ['http://multi.lan:5000'],
      script: {
        resolve: { 'multi.lan': ['10.77.0.3', '10.77.0.1'] },
        ping: { '10.77.0.3': { alive: false, loss: 100 } },
        tcp: { '10.77.0.3:5000': 'timeout', '10.77.0.1:5000': 'open' },
      },
    });
    expect(finding.status).toBe('warn');
    expect(finding.summary).toBe(
      '10.77.0.3, the first address of multi.lan, answers neither ping nor TCP port 5000 (timeout); 10.77.0.1 accepts TCP: Nix (curl) tries 10.77.0.3 first and waits for it on every connection',
    );
    expect(finding.summary).not.toContain('ICMP is filtered');
    expect(finding.fix).toContain("Remove 10.77.0.3 from multi.lan's DNS or /etc/hosts entries");
  });

  it('fails when the host answers neither ping nor TCP, naming the port and the host to check', async () => {
    const finding = await runPing({
      caches: [LAN],
      script: { ping: { '10.0.0.5': { alive: false, loss: 100 } }, tcp: { '10.0.0.5:5000': 'timeout' } },
    });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toContain('10.0.0.5 answers neither ping nor TCP port 5000');
    expect(finding.summary).toContain('the host is down');
    expect(finding.fix).toContain('Check that the cache host is up and that 10.0.0.5 is its address');
    expect(finding.data).toMatchObject({ address: '10.0.0.5', alive: false, loss: 100 });
  });

  it('fails when ping gets no reply and TCP finds no route to the host', async () => {
    const finding = await runPing({
      caches: [LAN],
      script: { ping: { '10.0.0.5': { alive: false } }, tcp: { '10.0.0.5:5000': 'unreachable' } },
    });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toContain('answers neither ping nor TCP port 5000');
  });

  it("names the cache's host name, not its address, in the fix for a dead host", async () => {
    const finding = await runPing({
      caches: ['https://cache.example.org'],
      script: {
        resolve: { 'cache.example.org': ['203.0.113.7'] },
        ping: { '203.0.113.7': { alive: false } },
        tcp: { '203.0.113.7:443': 'timeout' },
      },
    });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toContain('203.0.113.7 answers neither ping nor TCP port 443');
    expect(finding.fix).toContain('that cache.example.org is its address');
  });
});
