import { chmodSync, copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { Netns } from '../helpers/netns.js';
import { CACHES, FIXTURES, KEYS } from '../helpers/servers.js';
import { missing } from '../helpers/system.js';

const reason = missing('server-side checks in a namespace', { root: true, commands: ['ip', 'iptables', 'iptables-restore', 'nft'] });
let ns: Netns | undefined;
afterEach(() => {
  ns?.destroy();
  ns = undefined;
});

async function serverDoctor(load: (ns: Netns, port: number) => void, bind = '0.0.0.0') {
  ns?.destroy(); // one namespace per call: a test may call this several times
  ns = new Netns();
  const port = await ns.serveCache(join(CACHES, 'signed-lan'), bind);
  load(ns, port);
  const { env } = nixConf('substituters = \n');
  const r = await runCli(['doctor', '--json', '--server', '--port', String(port), '--only', 'service,firewall', '--timeout', '2'], {
    env,
    wrap: ns.wrap,
  });
  const report = parseReport(r.stdout);
  const url = `http://127.0.0.1:${port}`;
  return { port, firewall: checkOf(report, 'firewall', url), service: checkOf(report, 'service', url) };
}

const nixosIptables = readFileSync(join(FIXTURES, 'firewall', 'nixos-iptables.rules'), 'utf8');
const nixosNft = readFileSync(join(FIXTURES, 'firewall', 'nixos-nftables.nft'), 'utf8');

describe.skipIf(reason)('firewall verdicts on real rules', () => {
  it('fails NixOS-like iptables without the port, quoting the refusing chain and the allowedTCPPorts fix', async () => {
    const { firewall, port } = await serverDoctor((n) => n.run('iptables-restore', [], nixosIptables));
    expect(firewall.status).toBe('fail');
    expect(firewall.summary).toContain('iptables drops new connections');
    expect(firewall.summary).toContain('nixos-fw-refuse');
    expect(firewall.fix).toContain(`networking.firewall.allowedTCPPorts = [ ${port} ];`);
    expect(firewall.fix).toContain(`iptables -I nixos-fw -p tcp --dport ${port} -j nixos-fw-accept`);
  });

  it('passes once the port is inserted into nixos-fw', async () => {
    const { firewall } = await serverDoctor((n, port) => {
      n.run('iptables-restore', [], nixosIptables);
      n.run('iptables', ['-I', 'nixos-fw', '-p', 'tcp', '--dport', String(port), '-j', 'nixos-fw-accept']);
    });
    expect(firewall.status).toBe('pass');
    expect(firewall.summary).toMatch(/accepted by iptables/);
  });

  it.each([
    ['multiport', (p: number) => ['-I', 'nixos-fw', '-p', 'tcp', '-m', 'multiport', '--dports', `22,${p},9000`, '-j', 'nixos-fw-accept']],
    ['a port range', (p: number) => ['-I', 'nixos-fw', '-p', 'tcp', '--dport', `${p - 1}:${p + 1}`, '-j', 'nixos-fw-accept']],
  ])('passes a port opened by %s', async (_name, rule) => {
    const { firewall } = await serverDoctor((n, port) => {
      n.run('iptables-restore', [], nixosIptables);
      n.run('iptables', rule(port));
    });
    expect(firewall.status).toBe('pass');
  });

  it('fails on REJECT and on policy DROP, naming the deciding rule', async () => {
    const rejected = await serverDoctor((n, port) =>
      n.run('iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', String(port), '-j', 'REJECT']),
    );
    expect(rejected.firewall.summary).toMatch(/iptables rejects .*-j REJECT/);
    const policy = await serverDoctor((n) => {
      n.run('iptables', ['-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT']);
      n.run('iptables', ['-P', 'INPUT', 'DROP']);
    });
    expect(policy.firewall.status).toBe('fail');
    expect(policy.firewall.summary).toContain('-P INPUT DROP');
  });

  it('fails NixOS-like nftables without the port, and passes with it', async () => {
    const closed = await serverDoctor((n) => n.run('nft', ['-f', '-'], nixosNft));
    expect(closed.firewall.status).toBe('fail');
    expect(closed.firewall.summary).toMatch(/nftables drops .*inet nixos-fw input/);
    expect(closed.firewall.fix).toContain('networking.firewall.allowedTCPPorts');
    const open = await serverDoctor((n, port) =>
      n.run('nft', ['-f', '-'], nixosNft.replace('tcp dport { 22 } accept', `tcp dport { 22, ${port} } accept`)),
    );
    expect(open.firewall.status).toBe('pass');
    expect(open.firewall.summary).toMatch(/accepted by .*nftables \(inet nixos-fw input-allow: tcp dport/);
  });

  it('passes a port opened in the temp-ports set (nixos-firewall-tool open)', async () => {
    const { firewall } = await serverDoctor((n, port) => {
      n.run('nft', ['-f', '-'], nixosNft);
      n.run('nft', ['add', 'element', 'inet', 'nixos-fw', 'temp-ports', `{ tcp . ${port} }`]);
    });
    expect(firewall.status).toBe('pass');
  });
});

describe.skipIf(reason)('listening address', () => {
  it('passes a server on 0.0.0.0 and warns about one on 127.0.0.1 only, naming bindAddress', async () => {
    const all = await serverDoctor(() => {});
    expect(all.service.status).toBe('pass');
    expect(all.service.summary).toContain('0.0.0.0');
    const loopback = await serverDoctor(() => {}, '127.0.0.1');
    expect(loopback.service.status).toBe('warn');
    expect(loopback.service.summary).toContain('bindAddress');
    expect(loopback.service.fix).toContain('services.nix-serve.bindAddress = "0.0.0.0";');
  });

  it('fails when nothing listens on the port', async () => {
    ns = new Netns();
    const { env } = nixConf('substituters = \n');
    const report = parseReport(
      (await runCli(['doctor', '--json', '--server', '--port', '5077', '--only', 'service'], { env, wrap: ns.wrap })).stdout,
    );
    const s = checkOf(report, 'service', 'http://127.0.0.1:5077');
    expect(s.status).toBe('fail');
    expect(s.summary).toContain('nothing listens on port 5077');
  });
});

describe.skipIf(reason)('IPv6: a cache at [::1] is judged by ip6tables, not iptables', () => {
  async function v6Doctor(tool: 'iptables' | 'ip6tables') {
    ns?.destroy();
    ns = new Netns();
    const port = await ns.serveCache(join(CACHES, 'signed-lan'), '::1');
    ns.run(tool, ['-A', 'INPUT', '-p', 'tcp', '--dport', String(port), '-j', 'DROP']);
    const url = `http://[::1]:${port}`;
    const { env } = nixConf(`substituters = ${url}\n`);
    const r = await runCli(['doctor', '--json', '--only', 'firewall,connect', '--timeout', '2'], { env, wrap: ns.wrap });
    const report = parseReport(r.stdout);
    return { firewall: checkOf(report, 'firewall', url), connect: checkOf(report, 'connect', url), port };
  }

  it('fails on an ip6tables DROP, naming ip6tables and IPv6, and connect agrees', async () => {
    const { firewall, connect, port } = await v6Doctor('ip6tables');
    expect(firewall).toMatchObject({ status: 'fail', summary: expect.stringMatching(/^ip6tables drops new IPv6 connections/) });
    expect(firewall.fix).toContain(`ip6tables -I INPUT -p tcp --dport ${port} -j ACCEPT`);
    expect(connect).toMatchObject({ status: 'fail', summary: expect.stringMatching(/timed out/) });
  });

  it('does not blame an IPv4-only rule for an IPv6 cache', async () => {
    const { firewall, connect } = await v6Doctor('iptables');
    expect(firewall.status).toBe('pass');
    expect(firewall.summary).toContain('ip6tables');
    expect(connect.status).toBe('pass');
  });
});

describe('signing key', () => {
  const secret = readFileSync(join(KEYS, 'lan.sec'), 'utf8').trim();
  const pub = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
  const keyCopy = (mode: number) => {
    const file = join(mkdtempSync(join(tmpdir(), 'nixcache-key-')), 'cache-priv-key.pem');
    copyFileSync(join(KEYS, 'lan.sec'), file);
    chmodSync(file, mode);
    return file;
  };

  it('warns about mode 644 naming chmod 600, and the secret is in no output', async () => {
    const file = keyCopy(0o644);
    const { dir, env } = nixConf('substituters = \n');
    const md = join(dir, 'r.md');
    const runs = await Promise.all([
      runCli(['doctor', '--json', '-v', '--secret-key-file', file, '--only', 'signing-key'], { env }),
      runCli(['doctor', '-v', '--secret-key-file', file, '--report', md], { env }),
    ]);
    const key = checkOf(parseReport(runs[0].stdout), 'signing-key');
    expect(key.status).toBe('warn');
    expect(key.summary).toContain('mode 644');
    expect(key.fix).toContain(`chmod 600 ${file}`);
    const all = runs.map((r) => r.stdout + r.stderr).join('\n') + readFileSync(md, 'utf8');
    expect(all).not.toContain(secret.split(':')[1]);
    expect(all).toContain(pub);
  });

  it('passes mode 600, printing the public key Nix wrote beside it', async () => {
    const file = keyCopy(0o600);
    const { env } = nixConf(`secret-key-files = ${file}\n`);
    const key = checkOf(parseReport((await runCli(['doctor', '--json', '--only', 'signing-key'], { env })).stdout), 'signing-key');
    expect(key.status).toBe('pass');
    expect(key.data.publicKey).toBe(pub);
    expect(key.summary).toContain(pub);
  });

  it('fails for a file that is not a secret key, without echoing it', async () => {
    const file = keyCopy(0o600);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, 'lan-cache-1:bm90IGEga2V5');
    const { env } = nixConf('substituters = \n');
    const key = checkOf(
      parseReport((await runCli(['doctor', '--json', '--only', 'signing-key', '--secret-key-file', file], { env })).stdout),
      'signing-key',
    );
    expect(key.status).toBe('fail');
    expect(JSON.stringify(key)).not.toContain('bm90IGEga2V5');
  });
});
