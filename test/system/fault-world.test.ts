import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { Netns } from '../helpers/netns.js';
import { CACHES, KEYS } from '../helpers/servers.js';
import { ensureFixturePathsInStore, missing } from '../helpers/system.js';

const reason = missing('end-to-end fault world in a network namespace', {
  root: true,
  commands: ['ip', 'iptables', 'ping', 'nix', 'nix-store'],
});
let ns: Netns | undefined;
afterAll(() => ns?.destroy());

/**
 * One namespace, many caches, each on its own loopback address so that ICMP and TCP rules can
 * single it out: Nix-made caches served over HTTP, and the faults a user meets in the wild.
 */
describe.skipIf(reason)('end-to-end fault world', () => {
  it('gives every cache its own verdict, in one schema-valid JSON document and a Markdown report', async () => {
    ensureFixturePathsInStore();
    ns = new Netns();
    const lan = (host: string) => ({ kind: 'cache' as const, dir: join(CACHES, 'signed-lan'), host });
    const urls = await ns.startWorld([
      { name: 'good', ...lan('127.0.0.2') },
      { name: 'dropped', ...lan('127.0.0.3') },
      { name: 'rejected', ...lan('127.0.0.4') },
      { name: 'noPing', ...lan('127.0.0.5') },
      { name: 'slow', kind: 'fault', fault: 'drip', host: '127.0.0.6', bytesPerSecond: 4 },
      { name: 'auth', ...lan('127.0.0.7'), auth: { user: 'ci', password: 'world-secret-7' } },
      { name: 'html', kind: 'fault', fault: 'html', host: '127.0.0.8' },
      { name: 'wrongKey', kind: 'cache', dir: join(CACHES, 'signed-other'), host: '127.0.0.9' },
      { name: 'unsigned', kind: 'cache', dir: join(CACHES, 'unsigned'), host: '127.0.0.10' },
      { name: 'hang', kind: 'fault', fault: 'hang', host: '127.0.0.12' },
      { name: 'gnu', kind: 'cache', dir: join(CACHES, 'gnu-store'), host: '127.0.0.13' },
    ]);
    const port = (u: string | undefined) => new URL(u as string).port;
    const iptables = (...args: string[]) => ns?.run('iptables', args);
    iptables('-A', 'INPUT', '-p', 'tcp', '--dport', port(urls.dropped), '-j', 'DROP');
    iptables('-A', 'INPUT', '-p', 'tcp', '--dport', port(urls.rejected), '-j', 'REJECT', '--reject-with', 'tcp-reset');
    iptables('-A', 'INPUT', '-d', '127.0.0.5', '-p', 'icmp', '-j', 'DROP');
    const refused = 'http://127.0.0.11:9';
    const all = { ...urls, refused } as Record<string, string>;

    const lanKey = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
    const { dir, env } = nixConf(`substituters = ${Object.values(all).join(' ')}\ntrusted-public-keys = ${lanKey}\n`);
    const reportFile = join(dir, 'report.md');
    const r = await runCli(['doctor', '--json', '--timeout', '2', '--report', reportFile], { env, wrap: ns.wrap });
    const report = parseReport(r.stdout);
    expect(r.exitCode).toBe(1);
    expect(report.caches.map((c) => c.url).sort()).toEqual(Object.values(all).sort());
    // Every failure says what to do, and so does every entry of Fix first.
    expect(report.checks.filter((c) => c.status === 'fail' && !c.fix).map((c) => `${c.id} ${c.cache}: ${c.summary}`)).toEqual([]);
    expect(report.fixFirst.filter((f) => !f.fix).map((f) => `${f.id} ${f.cache}`)).toEqual([]);
    const check = (name: string, id: string) => checkOf(report, id, all[name]);

    for (const id of ['ping', 'connect', 'cache-info', 'signature']) expect(check('good', id).status).toBe('pass');

    expect(check('dropped', 'ping').status).toBe('pass');
    expect(check('dropped', 'connect')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/timed out.*firewall drops/) });
    expect(check('dropped', 'cache-info')).toMatchObject({ status: 'skip', reason: 'needs connect' });

    expect(check('rejected', 'connect')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/refused/) });
    expect(check('refused', 'connect')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/refused/) });

    expect(check('noPing', 'ping')).toMatchObject({ status: 'warn', summary: expect.stringMatching(/ICMP is filtered/) });
    expect(check('noPing', 'signature').status).toBe('pass');

    expect(check('slow', 'cache-info')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/still incomplete after 2\.0 s/) });
    expect(check('hang', 'cache-info')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/no answer/) });
    expect(check('auth', 'cache-info')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/401.*netrc|netrc.*401/s) });
    expect(check('html', 'cache-info')).toMatchObject({
      status: 'fail',
      summary: expect.stringMatching(/does not appear to be a binary cache/),
    });
    expect(check('gnu', 'cache-info')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/\/gnu\/store/) });

    expect(check('wrongKey', 'signature')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/other-cache-1/) });
    expect(check('unsigned', 'signature')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/does not sign/) });

    // The firewall check reads the namespace's real rules for the local caches (ports are unique to each server).
    expect(check('dropped', 'firewall')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/iptables drops/) });
    expect(check('rejected', 'firewall')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/iptables rejects/) });
    expect(check('good', 'firewall').status).toBe('pass');
    expect(report.checks.filter((c) => c.reason === 'deadline')).toEqual([]);

    const md = readFileSync(reportFile, 'utf8');
    expect(md).toMatch(/^# /m);
    for (const url of Object.values(all)) expect(md).toContain(url);
    expect(md).not.toContain('world-secret-7');
  });
});
