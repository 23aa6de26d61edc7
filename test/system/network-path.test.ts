import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { Netns } from '../helpers/netns.js';
import { CACHES } from '../helpers/servers.js';
import { missing } from '../helpers/system.js';

const reason = missing('network path in a namespace', { root: true, commands: ['ip', 'iptables', 'ping'] });
let ns: Netns | undefined;
afterEach(() => {
  ns?.destroy();
  ns = undefined;
});

async function world(rules: string[][]) {
  ns?.destroy();
  ns = new Netns();
  const port = await ns.serveCache(join(CACHES, 'signed-lan'));
  for (const rule of rules)
    ns.run(
      'iptables',
      rule.map((r) => r.replace('PORT', String(port))),
    );
  const url = `http://127.0.0.1:${port}`;
  const { env } = nixConf(`substituters = ${url}\n`);
  const doctor = async (args: string[]) => {
    const r = await runCli(['doctor', '--json', '--only', 'ping,connect,cache-info', ...args], { env, wrap: (ns as Netns).wrap });
    return { r, report: parseReport(r.stdout) };
  };
  return { url, doctor };
}

describe.skipIf(reason)('real iptables rules in a network namespace', () => {
  it('says a firewall drops the port when TCP times out but ping answers', async () => {
    const { url, doctor } = await world([['-A', 'INPUT', '-p', 'tcp', '--dport', 'PORT', '-j', 'DROP']]);
    const { r, report } = await doctor(['--timeout', '2']);
    expect(checkOf(report, 'ping', url).status).toBe('pass');
    const connect = checkOf(report, 'connect', url);
    expect(connect.status).toBe('fail');
    expect(connect.summary).toMatch(/timed out after 2\.0 s while ping answers .* a firewall drops it/);
    expect(connect.fix).toContain('networking.firewall.allowedTCPPorts');
    expect(connect.fix).toContain('firewall-cmd --list-ports');
    expect(checkOf(report, 'cache-info', url).status).toBe('skip');
    // The whole run is bounded by the timeout, not a multiple of it (CLI start-up included).
    expect(r.durationMs).toBeLessThan(2000 + 3000);
  });

  it('says refused for REJECT --reject-with tcp-reset', async () => {
    const { url, doctor } = await world([['-A', 'INPUT', '-p', 'tcp', '--dport', 'PORT', '-j', 'REJECT', '--reject-with', 'tcp-reset']]);
    const { report } = await doctor(['--timeout', '2']);
    expect(checkOf(report, 'connect', url).summary).toMatch(/refused/);
  });

  it('warns about dropped ICMP when HTTP works, exit 0; exit 1 with --strict', async () => {
    const { url, doctor } = await world([['-A', 'INPUT', '-p', 'icmp', '--icmp-type', 'echo-request', '-j', 'DROP']]);
    const { r, report } = await doctor(['--timeout', '1']);
    expect(checkOf(report, 'ping', url).status).toBe('warn');
    expect(checkOf(report, 'ping', url).summary).toMatch(/ICMP is filtered/);
    expect(checkOf(report, 'cache-info', url).status).toBe('pass');
    expect(r.exitCode).toBe(0);
    expect((await doctor(['--timeout', '1', '--strict'])).r.exitCode).toBe(1);
  });

  it('fails ping and connect when the host drops everything', async () => {
    const { url, doctor } = await world([
      ['-A', 'INPUT', '-p', 'icmp', '-j', 'DROP'],
      ['-A', 'INPUT', '-p', 'tcp', '--dport', 'PORT', '-j', 'DROP'],
    ]);
    const { report } = await doctor(['--timeout', '1']);
    expect(checkOf(report, 'ping', url).status).toBe('fail');
    expect(checkOf(report, 'connect', url).summary).toMatch(/timed out .*ping gets no reply either/);
  });

  it('ends at --deadline while pinging a black-holed host, and leaves no ping behind', async () => {
    const { url, doctor } = await world([
      ['-A', 'INPUT', '-p', 'icmp', '-j', 'DROP'],
      ['-A', 'INPUT', '-p', 'tcp', '--dport', 'PORT', '-j', 'DROP'],
    ]);
    const { r, report } = await doctor(['--timeout', '30', '--deadline', '3']);
    expect(checkOf(report, 'ping', url)).toMatchObject({ status: 'skip', reason: 'deadline' });
    expect(checkOf(report, 'connect', url)).toMatchObject({ status: 'skip', reason: 'deadline' });
    expect(r.durationMs).toBeLessThan(4000); // the --deadline contract: deadline + 1 s
    // ping's own -w was cut to what was left of the run, so it is gone within a second of the exit.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const left = (ns as Netns)
      .run('ip', ['netns', 'pids', (ns as Netns).name])
      .split('\n')
      .filter(Boolean)
      .map((pid) => {
        try {
          return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        } catch {
          return '';
        }
      });
    expect(left).not.toContain('ping');
  });
});
