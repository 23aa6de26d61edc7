import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  evaluateFirewalld,
  parseActiveZones,
  parsePortList,
  parseServicePorts,
  parseZoneListAll,
  portListed,
} from '../../src/host/firewalld.js';
import { evaluateIptables, parseIptables } from '../../src/host/iptables.js';
import { evaluateNft, parseNftJson } from '../../src/host/nft.js';
import { parseProcNetTcp, parseSs, reachOf } from '../../src/host/sockets.js';
import { execStartArgv, listenFromArgv, loadCredentials, parseSystemctlShow } from '../../src/host/systemd.js';
import { FIXTURES } from '../helpers/servers.js';

const fixture = (name: string) => readFileSync(join(FIXTURES, 'host', name), 'utf8');

describe('iptables evaluation', () => {
  const nixos = readFileSync(join(FIXTURES, 'firewall', 'nixos-iptables-S.txt'), 'utf8');
  const table = (extra = '') => {
    const t = parseIptables(nixos + extra);
    if (!t.ok) throw new Error(t.error.message);
    return t.value;
  };

  it('follows INPUT → nixos-fw → nixos-fw-log-refuse → nixos-fw-refuse to DROP for a closed port', () => {
    expect(evaluateIptables(table(), 5000)).toMatchObject({
      verdict: 'drop',
      chain: 'nixos-fw-refuse',
      rule: '-A nixos-fw-refuse -j DROP',
    });
  });
  it('does not let -i lo or ESTABLISHED,RELATED admit a new connection from outside', () => {
    const v = evaluateIptables(table(), 5000);
    expect(v.verdict).toBe('drop');
  });
  it('accepts the open port 22 through nixos-fw-accept', () => {
    expect(evaluateIptables(table(), 22)).toMatchObject({ verdict: 'accept', chain: 'nixos-fw-accept' });
  });
  it.each([
    ['-I nixos-fw -p tcp -m tcp --dport 5000 -j nixos-fw-accept', 'accept'],
    ['-I nixos-fw -p tcp -m multiport --dports 80,5000:5010 -j nixos-fw-accept', 'accept'],
    ['-I nixos-fw -p udp -m udp --dport 5000 -j nixos-fw-accept', 'drop'],
    ['-I nixos-fw -p tcp ! --dport 5000 -j nixos-fw-accept', 'drop'],
    ['-I nixos-fw -p tcp --dport 5000 -j REJECT --reject-with tcp-reset', 'reject'],
    ['-I nixos-fw -s 127.0.0.0/8 -p tcp --dport 5000 -j nixos-fw-accept', 'drop'],
  ])('with %s the verdict for 5000 is %s', (rule, verdict) => {
    expect(evaluateIptables(table(`\n${rule}\n`), 5000).verdict).toBe(verdict);
  });
  it.each([
    ['-A INPUT -p tcp ! --syn -m state --state NEW -j DROP', 'accept'],
    ['-A INPUT -p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -j DROP', 'accept'],
    ['-A INPUT -p tcp -m tcp --tcp-flags SYN,ACK SYN,ACK -j DROP', 'accept'],
    ['-A INPUT -p tcp -m tcp --tcp-flags ALL NONE -j DROP', 'accept'],
    ['-A INPUT -p tcp -m tcp --syn --dport 5000 -j DROP', 'drop'],
    ['-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j DROP', 'drop'],
  ])('judges %s by the SYN that opens a connection: %s', (rule, verdict) => {
    const t = parseIptables(`-P INPUT ACCEPT\n${rule}\n`);
    expect(t.ok && evaluateIptables(t.value, 5000).verdict).toBe(verdict);
  });
  it('applies a rule for one destination address only to connections to that address, and names it when the address is unknown', () => {
    const rule = '-A INPUT -d 192.0.2.1/32 -p tcp -m tcp --dport 5000 -j DROP';
    const t = parseIptables(`-P INPUT ACCEPT\n${rule}\n`);
    if (!t.ok) throw new Error(t.error.message);
    expect(evaluateIptables(t.value, 5000, '198.51.100.7')).toMatchObject({ verdict: 'accept', unsure: [] });
    expect(evaluateIptables(t.value, 5000, '192.0.2.1')).toMatchObject({ verdict: 'drop', rule });
    expect(evaluateIptables(t.value, 5000)).toMatchObject({ verdict: 'accept', unsure: [`'${rule}' for connections to 192.0.2.1/32`] });
  });
  it('judges an interface-limited opening for the hosts elsewhere, noting who it admits', () => {
    const v = evaluateIptables(table('\n-I nixos-fw -i eth0 -p tcp --dport 5000 -j nixos-fw-accept\n'), 5000);
    expect(v).toMatchObject({
      verdict: 'drop',
      chain: 'nixos-fw-refuse',
      openOnlyTo: [{ who: 'on interface eth0', rule: '-A nixos-fw-accept -j ACCEPT' }],
    });
  });
  it('keeps an opening for all but one source open to other hosts, naming the exception', () => {
    const v = evaluateIptables(table('\n-I nixos-fw ! -s 10.99.0.0/24 -p tcp --dport 5000 -j nixos-fw-accept\n'), 5000);
    expect(v).toMatchObject({ verdict: 'accept', conditions: ['not from 10.99.0.0/24'], openOnlyTo: [] });
  });
  it('honours RETURN and the built-in policy', () => {
    const t = parseIptables('-P INPUT DROP\n-N a\n-A INPUT -j a\n-A a -j RETURN\n-A a -j ACCEPT\n');
    expect(t.ok && evaluateIptables(t.value, 5000)).toMatchObject({ verdict: 'drop', rule: '-P INPUT DROP' });
  });
  it('stops a jump loop instead of recursing forever', () => {
    const t = parseIptables('-N a\n-N b\n-A INPUT -j a\n-A a -j b\n-A b -j a\n');
    expect(t.ok && evaluateIptables(t.value, 5000).rule).toMatch(/deeper than 32/);
  });
  it('reads iptables-save output too', () => {
    const t = parseIptables(readFileSync(join(FIXTURES, 'firewall', 'nixos-iptables.rules'), 'utf8'));
    expect(t.ok && evaluateIptables(t.value, 5000).verdict).toBe('drop');
  });
});

describe('nftables evaluation (nft -j list ruleset of the NixOS ruleset)', () => {
  const rs = () => {
    const r = parseNftJson(readFileSync(join(FIXTURES, 'firewall', 'nixos-nftables.json'), 'utf8'));
    if (!r.ok) throw new Error(r.error.message);
    return r.value;
  };
  it('drops a port not in input-allow, by the input chain policy', () => {
    expect(evaluateNft(rs(), 5000)).toMatchObject({ verdict: 'drop', chain: 'inet nixos-fw input' });
  });
  it('accepts port 22 through ct state new → jump input-allow', () => {
    expect(evaluateNft(rs(), 22)).toMatchObject({ verdict: 'accept', chain: 'inet nixos-fw input-allow' });
  });
  it('judges an IPv4 packet by inet and ip tables only, an IPv6 one by inet and ip6', () => {
    const v6only = JSON.stringify({
      nftables: [
        { table: { family: 'ip6', name: 'f6', handle: 1 } },
        { chain: { family: 'ip6', table: 'f6', name: 'input', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'drop' } },
      ],
    });
    const r = parseNftJson(v6only);
    if (!r.ok) throw new Error(r.error.message);
    expect(evaluateNft(r.value, 5000, 'ipv4')).toBeUndefined();
    expect(evaluateNft(r.value, 5000, 'ipv6')).toMatchObject({ verdict: 'drop', chain: 'ip6 f6 input' });
  });
  it('judges malformed rules (a match without a side, null expressions, odd map entries) without throwing', () => {
    const chain = { family: 'inet', table: 't', name: 'input', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'drop' };
    const rule = (expr: unknown[]) => ({ rule: { family: 'inet', table: 't', chain: 'input', handle: 2, expr } });
    const ruleset = JSON.stringify({
      nftables: [
        { table: { family: 'inet', name: 't', handle: 1 } },
        { chain },
        rule([{ match: { op: '!=', eft: { payload: { protocol: 'tcp', field: 'dport' } }, right: 1 } }, { accept: null }]),
        rule([{ match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } } } }, { accept: null }]),
        rule([null, { match: null }]),
        rule([{ vmap: { key: { payload: { protocol: 'tcp', field: 'dport' } }, data: { set: ['new', [5000, 'new'], [5000, null]] } } }]),
      ],
    });
    const r = parseNftJson(ruleset);
    if (!r.ok) throw new Error(r.error.message);
    expect(() => evaluateNft(r.value, 5000)).not.toThrow();
    expect(['accept', 'drop', 'reject']).toContain(evaluateNft(r.value, 5000)?.verdict);
  });
  it('rejects JSON that is not an nft ruleset with a typed error', () => {
    expect(parseNftJson('{"nope": 1}').ok).toBe(false);
    expect(parseNftJson('not json').ok).toBe(false);
  });
  it('returns no verdict when no chain hooks input', () => {
    const r = parseNftJson('{"nftables": [{"metainfo": {"json_schema_version": 1}}]}');
    expect(r.ok && evaluateNft(r.value, 5000)).toBeUndefined();
  });
});

describe('listening sockets', () => {
  it('reads ss -ltnpH', () => {
    const r = parseSs(fixture('ss-ltnpH.txt'));
    expect(r.ok && r.value.filter((l) => l.port === 5000)).toEqual([{ address: '0.0.0.0', port: 5000, process: 'nix-serve' }]);
    expect(r.ok && r.value.find((l) => l.port === 8080)).toMatchObject({ address: '::', process: 'atticd' });
  });
  it('reads /proc/net/tcp and tcp6 LISTEN entries', () => {
    const v4 = parseProcNetTcp(fixture('proc-net-tcp.txt'), false);
    const v6 = parseProcNetTcp(fixture('proc-net-tcp6.txt'), true);
    expect(v4.ok && v4.value).toEqual(
      expect.arrayContaining([
        { address: '0.0.0.0', port: 5000 },
        { address: '127.0.0.1', port: 5001 },
        { address: '0.0.0.0', port: 22 },
      ]),
    );
    expect(v6.ok && v6.value).toEqual(
      expect.arrayContaining([
        { address: '::', port: 22 },
        { address: '::1', port: 631 },
        { address: '::', port: 8080 },
      ]),
    );
  });
  it.each([
    ['0.0.0.0', 'all'],
    ['::', 'all'],
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['192.168.1.5', 'specific'],
  ])('%s reaches %s', (a, r) => expect(reachOf(a)).toBe(r));
});

describe('systemctl show (recorded from systemd 252 booted in a PID namespace; see fixtures/host/README.md)', () => {
  it('splits units and reads the properties the service check uses', () => {
    const r = parseSystemctlShow(fixture('systemctl-show-nix-serve-active.txt'));
    if (!r.ok) throw new Error(r.error.message);
    const [serve, harmonia] = r.value;
    expect(serve).toMatchObject({
      Id: 'nix-serve.service',
      ActiveState: 'active',
      SubState: 'running',
      LoadState: 'loaded',
      MainPID: '251',
    });
    expect(harmonia).toMatchObject({ Id: 'harmonia.service', LoadState: 'not-found' });
    expect(listenFromArgv(execStartArgv(serve?.ExecStart))).toEqual({ host: '0.0.0.0', port: 5000 });
    // systemd 252 prints LoadCredential=[unprintable]: nothing to read there…
    expect(loadCredentials(serve?.LoadCredential)).toEqual({});
  });
  it('…so credentials come from the unit file that systemctl cat prints', () => {
    expect(loadCredentials(fixture('systemctl-cat-nix-serve.txt'))).toEqual({
      NIX_SECRET_KEY_FILE: '/opt/nixcache-rec/secrets/cache-priv-key.pem',
    });
    expect(loadCredentials('[Service]\nLoadCredential=A:/x\nLoadCredential=\nLoadCredential=B:/y\n')).toEqual({ B: '/y' });
  });
  it('reads a failed unit', () => {
    const r = parseSystemctlShow(fixture('systemctl-show-nix-serve-failed.txt'));
    expect(r.ok && r.value[0]).toMatchObject({ ActiveState: 'failed', Result: 'exit-code', NRestarts: '5', MainPID: '0' });
  });
  it.each([
    ['--listen [::]:5001', { host: '::', port: 5001 }],
    ['--port=8080', { host: '*', port: 8080 }],
    ['-l 127.0.0.1:5000', { host: '127.0.0.1', port: 5000 }],
  ])('reads the listen address from %s', (args, expected) => expect(listenFromArgv(args.split(' '))).toEqual(expected));
  it('rejects a line that is not Key=Value', () => {
    expect(parseSystemctlShow('Id=x\ngarbage\n').ok).toBe(false);
  });
});

describe('firewall-cmd (outputs recorded from firewalld 1.3.3)', () => {
  const zone = (name: string) => {
    const z = parseZoneListAll(fixture(name));
    if (!z) throw new Error(`no zone in ${name}`);
    return z;
  };
  const services = {
    ssh: parseServicePorts(fixture('firewall-cmd-info-service-ssh.txt')),
    http: parseServicePorts(fixture('firewall-cmd-info-service-http.txt')),
    'dhcpv6-client': [],
  };

  it('reads active zones', () => {
    expect(parseActiveZones(fixture('firewall-cmd-get-active-zones.txt'))).toEqual([
      { zone: 'public', interfaces: ['eth0'], sources: [] },
      { zone: 'trusted', interfaces: [], sources: ['192.168.1.0/24'] },
    ]);
  });
  it('reads a zone with --list-all, rich rules included', () => {
    expect(zone('firewall-cmd-zone-public-open-list-all.txt')).toEqual({
      zone: 'public',
      target: 'default',
      interfaces: ['eth0'],
      sources: [],
      services: ['dhcpv6-client', 'http', 'ssh'],
      ports: [
        { from: 5000, to: 5000, proto: 'tcp' },
        { from: 6000, to: 6010, proto: 'tcp' },
      ],
      richRules: ['rule family="ipv4" source address="10.0.0.0/8" port port="5000" protocol="tcp" reject'],
    });
    expect(zone('firewall-cmd-zone-trusted-list-all.txt')).toMatchObject({
      zone: 'trusted',
      target: 'ACCEPT',
      sources: ['192.168.1.0/24'],
    });
    expect(services.ssh).toEqual([{ from: 22, to: 22, proto: 'tcp' }]);
  });
  it('rejects a port the default zone does not allow, and says which sources may still reach it', () => {
    const v = evaluateFirewalld(
      [zone('firewall-cmd-zone-public-list-all.txt'), zone('firewall-cmd-zone-trusted-list-all.txt')],
      services,
      5000,
      'public',
    );
    expect(v).toMatchObject({
      verdict: 'reject',
      chain: 'firewalld zone public',
      openOnlyTo: [{ who: 'from 192.168.1.0/24', rule: 'zone trusted has target ACCEPT' }],
    });
    const alone = evaluateFirewalld([zone('firewall-cmd-zone-public-list-all.txt')], services, 5000, 'public');
    expect(alone).toMatchObject({ verdict: 'reject', chain: 'firewalld zone public' });
    expect(alone.rule).toMatch(/services: dhcpv6-client ssh/);
  });
  it('accepts by port, by range, by service, and lists rich rules as not modelled', () => {
    const open = [zone('firewall-cmd-zone-public-open-list-all.txt')];
    expect(evaluateFirewalld(open, services, 5000, 'public')).toMatchObject({
      verdict: 'accept',
      rule: 'port 5000/tcp is open in zone public',
    });
    expect(evaluateFirewalld(open, services, 6005, 'public').verdict).toBe('accept');
    expect(evaluateFirewalld(open, services, 80, 'public').rule).toMatch(/service http/);
    expect(evaluateFirewalld(open, services, 5000, 'public').unmodelled).toHaveLength(1);
    expect(evaluateFirewalld(open, services, 5011, 'public').verdict).toBe('reject');
  });
  it('drops with a DROP target', () => {
    const z = { ...zone('firewall-cmd-zone-public-list-all.txt'), target: 'DROP' };
    expect(evaluateFirewalld([z], services, 5000, 'public').verdict).toBe('drop');
  });
  it('reads port lists', () => {
    const ports = parsePortList('5000/tcp 6000-6010/tcp 53/udp junk');
    expect(portListed(ports, 5000)).toBe(true);
    expect(portListed(ports, 6005)).toBe(true);
    expect(portListed(ports, 53)).toBe(false);
    expect(parseZoneListAll('')).toBeUndefined();
  });
});
