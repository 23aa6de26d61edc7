import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { firewall } from '../../../checks/firewall.js';
import { fakeFacts, fakeResults, type Script } from '../../helpers/facts.js';
import { FIXTURES } from '../../helpers/servers.js';

/**
 * The firewall check (would another host's new TCP connection to the cache port get in?) over the
 * real facts layer, fed what `iptables -S`, `nft -j list ruleset` and `firewall-cmd` printed for
 * real rulesets (fixtures/firewall and fixtures/host, described in fixtures/README.md).
 */
const fixture = (dir: string, name: string) => readFileSync(join(FIXTURES, dir, name), 'utf8');

/** NixOS's iptables firewall with allowedTCPPorts = [ 22 ]: everything else ends in nixos-fw-refuse's DROP. */
const NIXOS_IPTABLES = fixture('firewall', 'nixos-iptables-S.txt');
/** The same, as NixOS writes it with allowedTCPPorts = [ 22 5000 ]. */
const NIXOS_IPTABLES_5000 = NIXOS_IPTABLES.replace(
  '-A nixos-fw -p tcp -m tcp --dport 22 -j nixos-fw-accept\n',
  '-A nixos-fw -p tcp -m tcp --dport 22 -j nixos-fw-accept\n-A nixos-fw -p tcp -m tcp --dport 5000 -j nixos-fw-accept\n',
);
/** NixOS's nftables firewall with allowedTCPPorts = [ 22 ]. */
const NIXOS_NFT = fixture('firewall', 'nixos-nftables.json');

/** The NixOS nft ruleset as allowedTCPPorts = [ 22 5000 ] makes it: `tcp dport { 22, 5000 } accept` in input-allow. */
function nixosNftWith5000(): string {
  const doc = JSON.parse(NIXOS_NFT) as { nftables: { rule?: { chain: string; expr: { match?: { right: unknown } }[] } }[] };
  const rule = doc.nftables.find((i) => i.rule?.chain === 'input-allow' && i.rule.expr[0]?.match?.right === 22);
  if (!rule?.rule?.expr[0]?.match) throw new Error('the fixture no longer has `tcp dport 22 accept` in input-allow');
  rule.rule.expr[0].match.right = { set: [22, 5000] };
  return JSON.stringify(doc);
}

/** A minimal `nft -j list ruleset`: base chains on the input hook (no rules unless given). */
function nftRuleset(chains: { family: string; table: string; name: string; policy: string }[], rules: object[] = []): string {
  return JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6', json_schema_version: 1 } },
      ...chains.map((c) => ({ table: { family: c.family, name: c.table } })),
      ...chains.map((c) => ({ chain: { ...c, type: 'filter', hook: 'input', prio: 0 } })),
      ...rules.map((rule) => ({ rule })),
    ],
  });
}

const ROOT = { root: true, user: 'root', uid: 0 };

/** A --server run as root for the cache at URL on this machine. */
function server(script: Script, url = 'http://127.0.0.1:5000') {
  const fake = fakeFacts({ env: ROOT, caches: [{ url, role: 'server', local: true }], script });
  return { ...fake, target: fake.caches[0]! };
}

/** firewalld running (firewall-cmd installed in PATH, pgrep finds the daemon), answering from the recorded listings. */
function firewalld(zones: { active: string; publicListAll: string }, exec: Script['exec'] = {}): Script {
  return {
    files: { '/usr/bin/firewall-cmd': '' },
    exec: {
      'pgrep -x firewalld': '812\n',
      'firewall-cmd --state': 'running\n',
      'firewall-cmd --get-active-zones': zones.active,
      'firewall-cmd --get-default-zone': fixture('host', 'firewall-cmd-get-default-zone.txt'),
      'firewall-cmd --zone=public --list-all': zones.publicListAll,
      'firewall-cmd --zone=trusted --list-all': fixture('host', 'firewall-cmd-zone-trusted-list-all.txt'),
      'firewall-cmd --info-service=ssh': fixture('host', 'firewall-cmd-info-service-ssh.txt'),
      'firewall-cmd --info-service=http': fixture('host', 'firewall-cmd-info-service-http.txt'),
      ...exec,
    },
  };
}
const ACTIVE_ZONES = fixture('host', 'firewall-cmd-get-active-zones.txt');
/** Only eth0's zone active: the recording without the trusted source binding. */
const ACTIVE_PUBLIC_ONLY = ACTIVE_ZONES.split('\n').slice(0, 2).join('\n');
const PUBLIC = fixture('host', 'firewall-cmd-zone-public-list-all.txt');
const PUBLIC_OPEN = fixture('host', 'firewall-cmd-zone-public-open-list-all.txt');

describe('firewall check: caches and runs it does not judge', () => {
  it.each([
    ['file:///var/cache/nix', 'file', 'a file store has no port to open'],
    ['s3://nix-cache?region=eu-west-1', 's3', 'an s3 store has no port to open'],
  ])('skips %s, which has no port to open, without reading the firewall', async (url, scheme, summary) => {
    const { facts, target, calls } = server({ exec: { 'iptables -S': NIXOS_IPTABLES } }, url);
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('skip');
    expect(f.summary).toBe(summary);
    expect(f.reason).toBe(`${scheme} store`);
    expect(calls).toEqual([]);
  });

  it('skips a cache on another host and tells to run the doctor there as root, or inspect by hand', async () => {
    const fake = fakeFacts({
      env: ROOT,
      caches: [{ url: 'http://cache.lan:5000', role: 'substituter', local: false }],
      script: { exec: { 'iptables -S': NIXOS_IPTABLES } },
    });
    const f = await firewall.run(fake.facts, fake.caches[0]!, fakeResults());
    expect(f.status).toBe('skip');
    expect(f.reason).toBe('remote cache');
    expect(f.summary).toContain('another host (cache.lan)');
    expect(f.fix).toContain('On cache.lan: sudo nixcache doctor --server --port 5000');
    // Each command on a line of its own, with filters that match port 5000 exactly.
    expect(f.fix?.split('\n')).toEqual(
      expect.arrayContaining([
        "  sudo iptables -S | grep -E -- '--dport 5000( |$)'",
        "  sudo nft list ruleset | grep -E 'dport[^;]*\\b5000\\b'",
      ]),
    );
    expect(fake.calls).toEqual([]);
  });

  it('skips without reading the firewall when not run as root', async () => {
    const fake = fakeFacts({
      env: { root: false },
      caches: [{ url: 'http://127.0.0.1:5000', role: 'server', local: true }],
      script: { exec: { 'iptables -S': NIXOS_IPTABLES } },
    });
    const f = await firewall.run(fake.facts, fake.caches[0]!, fakeResults());
    expect(f.status).toBe('skip');
    expect(f.reason).toBe('needs root');
    expect(f.summary).toContain('run with sudo');
    expect(fake.calls).toEqual([]);
  });

  it('skips when no firewall tool is installed, saying which are missing', async () => {
    const { facts, target, calls } = server({});
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('skip');
    expect(f.reason).toBe('no firewall tools');
    expect(f.summary).toBe('no firewall to read: iptables is not installed; nft is not installed');
    expect(f.data).toMatchObject({ backends: [], notes: ['iptables is not installed', 'nft is not installed'] });
    expect(calls).toContain('iptables -S');
    expect(calls).toContain('nft -j list ruleset');
  });

  it('skips quoting the error when iptables -S fails and nft is missing', async () => {
    const { facts, target } = server({
      exec: {
        'iptables -S': { exitCode: 4, stderr: 'iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied\n' },
      },
    });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('skip');
    expect(f.summary).toBe(
      'no firewall to read: iptables -S failed: iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied; nft is not installed',
    );
  });

  it('skips with a generic reason when the firewall state has no verdicts and no notes', async () => {
    const fake = fakeFacts({
      env: ROOT,
      caches: [{ url: 'http://127.0.0.1:5000', role: 'server', local: true }],
      overrides: { firewall: async () => ({ notes: [] }) },
    });
    const f = await firewall.run(fake.facts, fake.caches[0]!, fakeResults());
    expect(f.status).toBe('skip');
    expect(f.summary).toBe('no firewall to read: no iptables, nft or firewall-cmd here');
  });
});

describe('firewall check: iptables', () => {
  it("fails NixOS's iptables firewall for a port it does not allow, naming the DROP rule and chain, with the nixos-fw fix", async () => {
    const { facts, target, calls } = server({ exec: { 'iptables -S': NIXOS_IPTABLES } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toBe("iptables drops new connections to TCP port 5000: decided in nixos-fw-refuse by '-A nixos-fw-refuse -j DROP'");
    expect(f.fix).toContain('networking.firewall.allowedTCPPorts = [ 5000 ];');
    expect(f.fix).toContain('iptables -I nixos-fw -p tcp --dport 5000 -j nixos-fw-accept');
    expect(f.fix).not.toContain('-I INPUT');
    expect(f.data).toMatchObject({
      port: 5000,
      families: ['ipv4'],
      backends: [{ backend: 'iptables', family: 'ipv4', verdict: 'drop', chain: 'nixos-fw-refuse', rule: '-A nixos-fw-refuse -j DROP' }],
    });
    // An IPv4 cache: ip6tables is not asked.
    expect(calls).not.toContain('ip6tables -S');
  });

  it('fails a REJECT rule for the port, saying it rejects, with the plain INPUT fix outside NixOS', async () => {
    const rule = '-A INPUT -p tcp -m tcp --dport 5000 -j REJECT --reject-with icmp-port-unreachable';
    const { facts, target } = server({ exec: { 'iptables -S': `-P INPUT ACCEPT\n-A INPUT -i lo -j ACCEPT\n${rule}\n` } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(`iptables rejects new connections to TCP port 5000: decided in INPUT by '${rule}'`);
    expect(f.fix).toContain('iptables -I INPUT -p tcp --dport 5000 -j ACCEPT');
    expect(f.fix).not.toContain('nixos-fw');
    expect(f.data).toMatchObject({ backends: [{ verdict: 'reject', chain: 'INPUT' }] });
  });

  it('fails on a DROP policy of INPUT, naming the policy as the rule', async () => {
    const { facts, target } = server({
      exec: { 'iptables -S': '-P INPUT DROP\n-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\n' },
    });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toBe("iptables drops new connections to TCP port 5000: decided in INPUT by '-P INPUT DROP'");
  });

  it("passes NixOS's iptables firewall when the port is among the allowed ones, naming the accepting rule", async () => {
    const { facts, target } = server({ exec: { 'iptables -S': NIXOS_IPTABLES_5000 } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('TCP port 5000 is open to other hosts: accepted by iptables (-A nixos-fw-accept -j ACCEPT)');
    expect(f.fix).toBeUndefined();
    expect(f.detail).toBeUndefined();
    expect(f.data).toMatchObject({ backends: [{ backend: 'iptables', verdict: 'accept', chain: 'nixos-fw-accept' }] });
  });

  it('warns when an ACCEPT covers one interface only, naming who may connect and the rule every other host meets', async () => {
    const { facts, target } = server({ exec: { 'iptables -S': '-P INPUT DROP\n-A INPUT -i eth0 -p tcp -m tcp --dport 5000 -j ACCEPT\n' } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(
      "TCP port 5000 is open only on interface eth0 (-A INPUT -i eth0 -p tcp -m tcp --dport 5000 -j ACCEPT); iptables drops new connections from every other host: decided in INPUT by '-P INPUT DROP'",
    );
    expect(f.data).toMatchObject({ backends: [{ verdict: 'drop', openOnlyTo: [{ who: 'on interface eth0' }] }] });
  });

  it('warns when the port is accepted from one network only and dropped for every other host, with the fix to open it to the clients', async () => {
    const rules = '-P INPUT ACCEPT\n-A INPUT -p tcp --dport 5000 -s 10.99.0.0/24 -j ACCEPT\n-A INPUT -p tcp --dport 5000 -j DROP\n';
    const { facts, target } = server({ exec: { 'iptables -S': rules } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(
      "TCP port 5000 is open only from 10.99.0.0/24 (-A INPUT -p tcp --dport 5000 -s 10.99.0.0/24 -j ACCEPT); iptables drops new connections from every other host: decided in INPUT by '-A INPUT -p tcp --dport 5000 -j DROP'",
    );
    expect(f.fix?.split('\n')).toEqual(
      expect.arrayContaining([
        'Only hosts from 10.99.0.0/24 may connect. If clients elsewhere need the cache, open the port to them:',
        'One-off, until the next reboot or firewall reload: iptables -I INPUT -p tcp --dport 5000 -j ACCEPT',
        'Or to their network alone: iptables -I INPUT -s <their network> -p tcp --dport 5000 -j ACCEPT',
      ]),
    );
  });

  it('warns when everything on one interface is accepted and the policy drops the rest', async () => {
    const { facts, target } = server({ exec: { 'iptables -S': '-P INPUT DROP\n-A INPUT -i eth9 -j ACCEPT\n' } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('warn');
    expect(f.summary).toMatch(/^TCP port 5000 is open only on interface eth9 .*drops new connections from every other host/);
  });

  it('says which family is refused when a cache host name may be reached over IPv4 and IPv6', async () => {
    const { facts, target, calls } = server({ exec: { 'iptables -S': NIXOS_IPTABLES } }, 'http://cache.lan:5000');
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toMatch(/^iptables drops new IPv4 connections to TCP port 5000/);
    expect(f.data).toMatchObject({ families: ['ipv4', 'ipv6'] });
    expect(calls).toContain('ip6tables -S');
  });
});

describe('firewall check: ip6tables for an IPv6 cache', () => {
  it('judges ip6tables and not iptables for http://[::1]:5000, failing with the ip6tables fix', async () => {
    // NixOS writes the same chains for ip6tables; its -S output is walked the same way.
    const { facts, target, calls } = server(
      { exec: { 'iptables -S': '-P INPUT ACCEPT\n', 'ip6tables -S': NIXOS_IPTABLES } },
      'http://[::1]:5000',
    );
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(
      "ip6tables drops new IPv6 connections to TCP port 5000: decided in nixos-fw-refuse by '-A nixos-fw-refuse -j DROP'",
    );
    expect(f.fix).toContain('ip6tables -I nixos-fw -p tcp --dport 5000 -j nixos-fw-accept');
    expect(f.data).toMatchObject({ families: ['ipv6'], backends: [{ backend: 'ip6tables', family: 'ipv6', verdict: 'drop' }] });
    expect(f.data?.backends).toHaveLength(1);
    expect(calls).toContain('ip6tables -S');
  });

  it('passes http://[::1]:5000 on ip6tables ACCEPT even though iptables would drop the port', async () => {
    const { facts, target } = server(
      { exec: { 'iptables -S': NIXOS_IPTABLES, 'ip6tables -S': '-P INPUT ACCEPT\n-P FORWARD ACCEPT\n' } },
      'http://[::1]:5000',
    );
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('TCP port 5000 is open to other hosts: accepted by ip6tables (-P INPUT ACCEPT)');
    expect(f.data).toMatchObject({ backends: [{ backend: 'ip6tables', family: 'ipv6' }] });
    expect(f.data?.backends).toHaveLength(1);
  });
});

describe('firewall check: nftables', () => {
  it("fails NixOS's nftables firewall for a port it does not allow, with the nixos-firewall-tool fix", async () => {
    const { facts, target } = server({ exec: { 'nft -j list ruleset': NIXOS_NFT } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(
      "nftables drops new connections to TCP port 5000: decided in inet nixos-fw input by 'chain input { policy drop; }'",
    );
    expect(f.fix).toContain('networking.firewall.allowedTCPPorts = [ 5000 ];');
    expect(f.fix).toContain('nixos-firewall-tool open tcp 5000');
    expect(f.fix).toContain('nft add rule inet nixos-fw input-allow tcp dport 5000 accept');
    expect(f.data).toMatchObject({ backends: [{ backend: 'nftables', family: 'ipv4', verdict: 'drop', chain: 'inet nixos-fw input' }] });
  });

  it("passes NixOS's nftables firewall when the port is in input-allow's tcp dport set", async () => {
    const { facts, target } = server({ exec: { 'nft -j list ruleset': nixosNftWith5000() } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
    expect(f.summary).toBe(
      'TCP port 5000 is open to other hosts: accepted by nftables (inet nixos-fw input-allow: tcp dport { 22, 5000 } accept)',
    );
    expect(f.data).toMatchObject({ backends: [{ backend: 'nftables', verdict: 'accept', chain: 'inet nixos-fw input-allow' }] });
  });

  it('names an inet table once when it answers IPv4 and IPv6 alike for a cache host name', async () => {
    const { facts, target } = server({ exec: { 'nft -j list ruleset': nixosNftWith5000() } }, 'http://cache.lan:5000');
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
    expect(f.summary).toBe(
      'TCP port 5000 is open to other hosts: accepted by nftables (inet nixos-fw input-allow: tcp dport { 22, 5000 } accept)',
    );
    expect(f.data?.backends).toHaveLength(1);
  });

  it('names the IPv6 answer apart when ip and ip6 tables accept by different rules', async () => {
    const accept5000 = (family: string) => ({
      family,
      table: 'filter6',
      chain: 'input',
      expr: [{ match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 5000 } }, { accept: null }],
    });
    const ruleset = nftRuleset(
      [
        { family: 'ip', table: 'filter6', name: 'input', policy: 'drop' },
        { family: 'ip6', table: 'filter6', name: 'input', policy: 'accept' },
      ],
      [accept5000('ip')],
    );
    const { facts, target } = server({ exec: { 'nft -j list ruleset': ruleset } }, 'http://cache.lan:5000');
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
    expect(f.summary).toBe(
      'TCP port 5000 is open to other hosts: accepted by nftables (ip filter6 input: tcp dport 5000 accept), nftables for IPv6 (chain input { policy accept; })',
    );
  });

  /** `tcp flags & (fin|syn|rst|ack) OP syn`, as nft -j list ruleset writes it. */
  const synTest = (op: string) => ({
    match: {
      op,
      left: { '&': [{ payload: { protocol: 'tcp', field: 'flags' } }, ['fin', 'syn', 'rst', 'ack']] },
      right: 'syn',
    },
  });

  it("passes past `tcp flags & (fin|syn|rst|ack) != syn ct state new drop`, which a connection's SYN does not match", async () => {
    const rule = {
      family: 'inet',
      table: 'filter',
      chain: 'input',
      expr: [synTest('!='), { match: { op: 'in', left: { ct: { key: 'state' } }, right: 'new' } }, { drop: null }],
    };
    const ruleset = nftRuleset([{ family: 'inet', table: 'filter', name: 'input', policy: 'accept' }], [rule]);
    const { facts, target } = server({ exec: { 'nft -j list ruleset': ruleset } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('TCP port 5000 is open to other hosts: accepted by nftables (chain input { policy accept; })');
  });

  it('quotes a rule on tcp flags as nft writes it, not as JSON', async () => {
    const rule = {
      family: 'inet',
      table: 'filter',
      chain: 'input',
      expr: [synTest('=='), { match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 5000 } }, { drop: null }],
    };
    const ruleset = nftRuleset([{ family: 'inet', table: 'filter', name: 'input', policy: 'accept' }], [rule]);
    const { facts, target } = server({ exec: { 'nft -j list ruleset': ruleset } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(
      "nftables drops new connections to TCP port 5000: decided in inet filter input by 'inet filter input: tcp flags & (fin | syn | rst | ack) syn tcp dport 5000 drop'",
    );
  });

  it('warns when a drop policy admits one source prefix only, writing the prefix as nft does', async () => {
    const rule = {
      family: 'inet',
      table: 'filter',
      chain: 'input',
      expr: [
        { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: { prefix: { addr: '10.99.0.0', len: 24 } } } },
        { match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 5000 } },
        { accept: null },
      ],
    };
    const ruleset = nftRuleset([{ family: 'inet', table: 'filter', name: 'input', policy: 'drop' }], [rule]);
    const { facts, target } = server({ exec: { 'nft -j list ruleset': ruleset } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(
      "TCP port 5000 is open only from 10.99.0.0/24 (inet filter input: ip saddr 10.99.0.0/24 tcp dport 5000 accept); nftables drops new connections from every other host: decided in inet filter input by 'chain input { policy drop; }'",
    );
    expect(f.fix).toContain('Or to their network alone: nft insert rule inet filter input ip saddr <their network> tcp dport 5000 accept');
  });

  it('fails a non-NixOS nft table with an nft insert rule fix for that chain', async () => {
    const ruleset = nftRuleset([{ family: 'inet', table: 'filter', name: 'input', policy: 'drop' }]);
    const { facts, target } = server({ exec: { 'nft -j list ruleset': ruleset } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(
      "nftables drops new connections to TCP port 5000: decided in inet filter input by 'chain input { policy drop; }'",
    );
    expect(f.fix).toContain('nft insert rule inet filter input tcp dport 5000 accept');
    expect(f.fix).not.toContain('nixos-firewall-tool');
  });

  it("does not judge iptables-nft's own ip filter table again once iptables -S was judged", async () => {
    const ruleset = nftRuleset([{ family: 'ip', table: 'filter', name: 'INPUT', policy: 'drop' }]);
    const { facts, target } = server({ exec: { 'iptables -S': NIXOS_IPTABLES_5000, 'nft -j list ruleset': ruleset } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
    expect(f.data).toMatchObject({ backends: [{ backend: 'iptables', verdict: 'accept' }] });
    expect(f.data?.backends).toHaveLength(1);
  });

  it('fails when iptables accepts but an nftables table drops the port', async () => {
    const { facts, target } = server({ exec: { 'iptables -S': '-P INPUT ACCEPT\n', 'nft -j list ruleset': NIXOS_NFT } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toMatch(/^nftables drops new connections to TCP port 5000/);
    expect(f.data).toMatchObject({
      backends: [
        { backend: 'iptables', verdict: 'accept' },
        { backend: 'nftables', verdict: 'drop' },
      ],
    });
  });
});

describe('firewall check: rules for one destination address', () => {
  const IPT = '-P INPUT ACCEPT\n-A INPUT -d 192.0.2.1/32 -p tcp -m tcp --dport 5000 -j DROP\n';
  const NFT = nftRuleset(
    [{ family: 'inet', table: 'filter', name: 'input', policy: 'accept' }],
    [
      {
        family: 'inet',
        table: 'filter',
        chain: 'input',
        expr: [
          { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: '192.0.2.1' } },
          { match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 5000 } },
          { drop: null },
        ],
      },
    ],
  );

  it.each([
    ['iptables -S', IPT],
    ['nft -j list ruleset', NFT],
  ])('passes (%s) when the cache URL names another address of this machine than the rule does', async (command, rules) => {
    const { facts, target } = server({ exec: { [command]: rules } }, 'http://198.51.100.7:5000');
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
  });

  it.each([
    ['iptables -S', IPT],
    ['nft -j list ruleset', NFT],
  ])('fails (%s) when the cache URL names the address the rule drops', async (command, rules) => {
    const { facts, target } = server({ exec: { [command]: rules } }, 'http://192.0.2.1:5000');
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
  });

  it('warns, naming the rule, when the cache URL names no address of this machine to judge it by', async () => {
    const { facts, target } = server({ exec: { 'iptables -S': IPT } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(
      "TCP port 5000 is open to other hosts, but a rule for one address of this machine could refuse them ('-A INPUT -d 192.0.2.1/32 -p tcp -m tcp --dport 5000 -j DROP' for connections to 192.0.2.1/32), and the cache URL names no address to tell: accepted by iptables (-P INPUT ACCEPT)",
    );
    expect(f.fix).toBe(
      'Judge the rules for the address clients connect to: sudo nixcache doctor --cache http://<that address>:5000 --only firewall',
    );
  });

  it('names an nft rule for one destination address as nft writes it when the address is unknown', async () => {
    const { facts, target } = server({ exec: { 'nft -j list ruleset': NFT } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('warn');
    expect(f.detail).toContain("'inet filter input: ip daddr 192.0.2.1 tcp dport 5000 drop' for connections to 192.0.2.1");
  });
});

describe('firewall check: firewalld', () => {
  it('fails when the zone of the interface allows neither the port nor a service on it, with the firewall-cmd fix for that zone', async () => {
    const { facts, target, calls } = server(firewalld({ active: ACTIVE_PUBLIC_ONLY, publicListAll: PUBLIC }));
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(
      "firewalld rejects new connections to TCP port 5000: decided in firewalld zone public by 'port 5000/tcp is in no allowed port or service of zone public (target default; ports: none; services: dhcpv6-client ssh)'",
    );
    expect(f.fix).toContain('firewall-cmd --zone=public --add-port=5000/tcp --permanent && firewall-cmd --reload');
    expect(f.fix).toContain('networking.firewall.allowedTCPPorts = [ 5000 ];');
    expect(f.data).toMatchObject({ backends: [{ backend: 'firewalld', verdict: 'reject', chain: 'firewalld zone public' }] });
    expect(calls).toContain('firewall-cmd --zone=public --list-all');
  });

  it('passes when the port is open in the default zone, and lists the rich rules it does not model in the detail', async () => {
    const { facts, target } = server(firewalld({ active: ACTIVE_ZONES, publicListAll: PUBLIC_OPEN }));
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('TCP port 5000 is open to other hosts: accepted by firewalld (port 5000/tcp is open in zone public)');
    expect(f.detail).toBe(
      'Rules with matches the doctor does not model were assumed to match:\nzone public: rule family="ipv4" source address="10.0.0.0/8" port port="5000" protocol="tcp" reject',
    );
  });

  it('passes a port that an allowed service carries in the default zone', async () => {
    const { facts, target } = server(firewalld({ active: ACTIVE_PUBLIC_ONLY, publicListAll: PUBLIC_OPEN }), 'http://127.0.0.1:80');
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
    expect(f.summary).toBe(
      'TCP port 80 is open to other hosts: accepted by firewalld (service http (port 80/tcp) is allowed in zone public)',
    );
  });

  it('warns when only a trusted source zone admits what the default zone rejects, naming both', async () => {
    const { facts, target } = server(firewalld({ active: ACTIVE_ZONES, publicListAll: PUBLIC }));
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(
      "TCP port 5000 is open only from 192.168.1.0/24 (zone trusted has target ACCEPT); firewalld rejects new connections from every other host: decided in firewalld zone public by 'port 5000/tcp is in no allowed port or service of zone public (target default; ports: none; services: dhcpv6-client ssh)'",
    );
    expect(f.fix).toContain('firewall-cmd --zone=public --add-port=5000/tcp --permanent && firewall-cmd --reload');
  });

  it('judges firewalld alone when it runs, not the iptables rules it writes', async () => {
    const { facts, target } = server(
      firewalld(
        { active: ACTIVE_PUBLIC_ONLY, publicListAll: PUBLIC_OPEN },
        { 'iptables -S': NIXOS_IPTABLES, 'nft -j list ruleset': NIXOS_NFT },
      ),
    );
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
    expect(f.data).toMatchObject({ backends: [{ backend: 'firewalld', verdict: 'accept' }] });
    expect(f.data?.backends).toHaveLength(1);
  });

  it('does not ask firewall-cmd when no firewalld process runs, judging iptables instead', async () => {
    const { facts, target, calls } = server(
      firewalld(
        { active: ACTIVE_ZONES, publicListAll: PUBLIC_OPEN },
        { 'pgrep -x firewalld': { exitCode: 1 }, 'iptables -S': NIXOS_IPTABLES },
      ),
    );
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toMatch(/^iptables drops/);
    expect(calls.some((c) => c.startsWith('firewall-cmd'))).toBe(false);
  });

  it('does not look for a firewalld process when firewall-cmd is not in PATH', async () => {
    const script = firewalld({ active: ACTIVE_ZONES, publicListAll: PUBLIC_OPEN });
    const { facts, target, calls } = server({ ...script, files: {} });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('skip');
    expect(calls.some((c) => c.startsWith('pgrep') || c.startsWith('firewall-cmd'))).toBe(false);
  });

  it('notes what firewall-cmd --state says when firewalld is found but not running', async () => {
    const script = firewalld(
      { active: ACTIVE_ZONES, publicListAll: PUBLIC_OPEN },
      { 'firewall-cmd --state': { exitCode: 252, stdout: 'not running\n' } },
    );
    const { facts, target } = server(script);
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('skip');
    expect(f.summary).toContain('firewalld runs but firewall-cmd --state says: not running');
  });
});

describe('firewall check: rules the doctor does not model', () => {
  it('lists an unmodelled iptables match in the detail of the verdict it assumed', async () => {
    const rule = '-A INPUT -p tcp -m tcp --dport 5000 -m recent --rcheck --seconds 60 --name scanners -j DROP';
    const { facts, target } = server({ exec: { 'iptables -S': `-P INPUT ACCEPT\n${rule}\n` } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toContain(`by '${rule}'`);
    expect(f.detail).toBe(`Rules with matches the doctor does not model were assumed to match:\n${rule} (--rcheck)`);
    expect(f.data).toMatchObject({ backends: [{ backend: 'iptables', verdict: 'drop' }] });
  });

  it('lists at most eight unmodelled rules', async () => {
    const rules = Array.from({ length: 10 }, (_, i) => `-A INPUT -m recent --rcheck --name list${i} -j LOG`);
    const { facts, target } = server({ exec: { 'iptables -S': `-P INPUT ACCEPT\n${rules.join('\n')}\n` } });
    const f = await firewall.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
    const listed = (f.detail ?? '').split('\n').slice(1);
    expect(listed).toEqual(rules.slice(0, 8).map((r) => `${r} (--rcheck)`));
  });
});
