import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOf, parseReport, runCli } from '../helpers/cli.js';
import { Netns } from '../helpers/netns.js';
import { CACHES } from '../helpers/servers.js';
import { missing } from '../helpers/system.js';

const reason = missing('real firewalld', { root: true, commands: ['firewalld', 'firewall-cmd', 'dbus-daemon', 'ip'] });

/**
 * firewalld for real: a private D-Bus system bus (so nothing else on the machine sees it) and
 * firewalld running inside a network namespace the test owns, configured with firewall-cmd.
 */
const BUS_POLICY = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=SOCKET</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="root"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`;

describe.skipIf(reason)('firewall verdicts from a running firewalld', () => {
  const children: ChildProcess[] = [];
  let ns: Netns;
  let port: number;
  let env: Record<string, string>;
  const cmd = (...args: string[]) => execFileSync('firewall-cmd', args, { env: { ...process.env, ...env }, encoding: 'utf8' }).trim();

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nixcache-firewalld-'));
    const socket = join(dir, 'system_bus_socket');
    writeFileSync(join(dir, 'bus.conf'), BUS_POLICY.replace('SOCKET', socket));
    children.push(spawn('dbus-daemon', ['--config-file', join(dir, 'bus.conf'), '--nofork', '--nopidfile'], { stdio: 'ignore' }));
    env = { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${socket}`, NIX_CONF_DIR: dir, NIX_USER_CONF_FILES: '', HOME: dir };
    writeFileSync(join(dir, 'nix.conf'), '');
    ns = new Netns();
    port = await ns.serveCache(join(CACHES, 'signed-lan'), '0.0.0.0');
    children.push(
      spawn('ip', ['netns', 'exec', ns.name, 'firewalld', '--nofork', '--nopid'], { stdio: 'ignore', env: { ...process.env, ...env } }),
    );
    // Bounded wait for firewalld to come up on the private bus.
    for (let i = 0; i < 80; i++) {
      try {
        if (cmd('--state') === 'running') return;
      } catch {
        // not yet
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error('firewalld did not start within 20 s');
  }, 30_000);

  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    ns?.destroy();
  });

  const firewall = async () => {
    const r = await runCli(['doctor', '--json', '--server', '--port', String(port), '--only', 'firewall'], { env, wrap: ns.wrap });
    return checkOf(parseReport(r.stdout), 'firewall', `http://127.0.0.1:${port}`);
  };

  it('fails when the default zone allows neither the port nor a service on it, naming the zone in the fix', async () => {
    const f = await firewall();
    expect(f.status).toBe('fail');
    expect(f.summary).toMatch(new RegExp(`firewalld rejects new connections to TCP port ${port}`));
    expect(f.summary).toMatch(/zone public/);
    expect(f.fix).toContain(`firewall-cmd --zone=public --add-port=${port}/tcp --permanent && firewall-cmd --reload`);
    expect(f.fix).toContain('networking.firewall.allowedTCPPorts');
  });

  it('passes once the port is added to the zone, and says so by the rule', async () => {
    cmd('--zone=public', `--add-port=${port}/tcp`);
    const f = await firewall();
    expect(f.status).toBe('pass');
    expect(f.summary).toContain(`port ${port}/tcp is open in zone public`);
    cmd('--zone=public', `--remove-port=${port}/tcp`);
  });

  it('warns, naming who may connect, when only a source zone with target ACCEPT lets it in', async () => {
    cmd('--zone=trusted', '--add-source=10.9.0.0/16');
    const f = await firewall();
    expect(f.status).toBe('warn');
    expect(f.summary).toMatch(
      /only from 10\.9\.0\.0\/16 \(zone trusted has target ACCEPT\); firewalld rejects new connections from every other host/,
    );
    cmd('--zone=trusted', '--remove-source=10.9.0.0/16');
    expect((await firewall()).status).toBe('fail');
  });
});
