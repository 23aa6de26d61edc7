import { isIP } from 'node:net';
import type { FirewallVerdict } from './firewall.js';
import { evaluateFirewalld, type FirewalldZone, type PortRange } from './firewalld.js';
import { evaluateIptables, type IptTable } from './iptables.js';
import { evaluateNft, type NftRuleset } from './nft.js';

export type Family = 'ipv4' | 'ipv6';

export interface BackendVerdict extends FirewallVerdict {
  backend: 'iptables' | 'ip6tables' | 'nftables' | 'firewalld';
  family?: Family;
}

/** The rules as read and parsed once per run; a ruleset that does not parse is left out. */
export interface FirewallState {
  iptables?: IptTable;
  ip6tables?: IptTable;
  nft?: NftRuleset;
  firewalld?: { zones: FirewalldZone[]; defaultZone: string; servicePorts: Record<string, PortRange[]> };
  notes: string[];
}

/**
 * Which address families to judge for a cache at HOST: an address literal decides its own family; a
 * name may be reached either way. (The --server target, 127.0.0.1, stands for IPv4 clients.)
 */
export function familiesFor(host: string | undefined): Family[] {
  if (host && isIP(host) === 4) return ['ipv4'];
  if (host && isIP(host) === 6) return ['ipv6'];
  return ['ipv4', 'ipv6'];
}

/**
 * The address other hosts connect to for a cache at HOST: the address its URL names. Unknown for a name or a
 * loopback address (the --server target), which no other host uses.
 */
export function destinationFor(host: string | undefined): string | undefined {
  return host && isIP(host) && !/^127\.|^::1$|^::ffff:127\./.test(host) ? host : undefined;
}

/**
 * Every backend's answer for PORT at address TO (unknown when undefined) in each family: firewalld alone when it
 * runs, else iptables and nftables.
 */
export function judgeFirewall(state: FirewallState, port: number, families: readonly Family[], to?: string): BackendVerdict[] {
  const out: BackendVerdict[] = [];
  if (state.firewalld) {
    const { zones, servicePorts, defaultZone } = state.firewalld;
    out.push({ backend: 'firewalld', ...evaluateFirewalld(zones, servicePorts, port, defaultZone) });
    // firewalld writes the rules below; judging them again would only repeat its answer.
    return out;
  }
  const seen = { ipv4: false, ipv6: false };
  for (const family of families) {
    const table = family === 'ipv4' ? state.iptables : state.ip6tables;
    if (table) {
      out.push({ backend: family === 'ipv4' ? 'iptables' : 'ip6tables', family, ...evaluateIptables(table, port, to) });
      seen[family] = true;
    }
  }
  if (state.nft) {
    // iptables-nft keeps its rules in nft tables `ip filter` / `ip6 filter`, already judged above.
    const rs = {
      ...state.nft,
      chains: state.nft.chains.filter(
        (c) => !(c.table === 'filter' && ((c.family === 'ip' && seen.ipv4) || (c.family === 'ip6' && seen.ipv6))),
      ),
    };
    const judged = families.map((family) => ({ family, v: evaluateNft(rs, port, family, to) }));
    for (const { family, v } of judged) {
      // An inet table judges both families alike: say it once unless the answers differ.
      if (v && !(family === 'ipv6' && judged[0]?.v && judged[0].v.verdict === v.verdict && judged[0].v.rule === v.rule))
        out.push({ backend: 'nftables', family, ...v });
    }
  }
  return out;
}

const nixosOpenPort = (port: number) =>
  `NixOS: networking.firewall.allowedTCPPorts = [ ${port} ];  (or services.nix-serve.openFirewall = true;)`;

/** How to open PORT on a cache server whose firewall the doctor cannot see (another host). */
export function openPortFix(port: number): string {
  return [
    `On the cache server, open TCP port ${port}:`,
    `  ${nixosOpenPort(port)}`,
    `  iptables: iptables -I INPUT -p tcp --dport ${port} -j ACCEPT`,
    `  firewalld: firewall-cmd --add-port=${port}/tcp --permanent && firewall-cmd --reload`,
    `  To see what is there now: ${inspectFirewallByHand(port).join('  or  ')}`,
  ].join('\n');
}

/** Commands that show the rules for PORT on another host (exact: port 9 does not match 90 or 5009). */
export function inspectFirewallByHand(port: number): string[] {
  return [
    `sudo iptables -S | grep -E -- '--dport ${port}( |$)'`,
    `sudo nft list ruleset | grep -E 'dport[^;]*\\b${port}\\b'`,
    'sudo firewall-cmd --list-ports',
  ];
}

/** The fix for the backend that refused PORT here, in the form that backend's rules are written in. */
export function firewallFix(v: BackendVerdict, port: number, state: FirewallState): string {
  const nixos = nixosOpenPort(port);
  if (v.backend === 'firewalld') {
    const zone = v.chain.replace(/^firewalld zone /, '').split(',')[0];
    return `firewall-cmd --zone=${zone} --add-port=${port}/tcp --permanent && firewall-cmd --reload\n${nixos}`;
  }
  if (v.backend === 'iptables' || v.backend === 'ip6tables') {
    const tool = v.backend;
    const nixosChain = (tool === 'iptables' ? state.iptables : state.ip6tables)?.chains.has('nixos-fw-accept');
    return `${nixos}\nOne-off, until the next reboot or firewall reload: ${nixosChain ? `${tool} -I nixos-fw -p tcp --dport ${port} -j nixos-fw-accept` : `${tool} -I INPUT -p tcp --dport ${port} -j ACCEPT`}`;
  }
  const nixosTable = v.chain.startsWith('inet nixos-fw');
  return `${nixos}\nOne-off: ${nixosTable ? `nixos-firewall-tool open tcp ${port}  (or nft add rule inet nixos-fw input-allow tcp dport ${port} accept)` : `nft insert rule ${v.chain.split(' ').slice(0, 3).join(' ')} tcp dport ${port} accept`}`;
}

/**
 * The fix when the port is open to some sources or interfaces only (V.openOnlyTo) and V refuses every other
 * host: open it to the clients that need the cache, to all of them or to their network alone.
 */
export function openToClientsFix(v: BackendVerdict, port: number, state: FirewallState): string {
  const who = v.openOnlyTo.map((o) => o.who).join(' or ');
  const theirs =
    v.backend === 'firewalld'
      ? `firewall-cmd --zone=${v.chain.replace(/^firewalld zone /, '')} --add-rich-rule='rule family="ipv4" source address="<their network>" port port="${port}" protocol="tcp" accept' --permanent && firewall-cmd --reload`
      : v.backend === 'nftables'
        ? `nft insert rule ${v.chain.split(' ').slice(0, 3).join(' ')} ip saddr <their network> tcp dport ${port} accept`
        : `${v.backend} -I INPUT -s <their network> -p tcp --dport ${port} -j ACCEPT`;
  return [
    `Only hosts ${who} may connect. If clients elsewhere need the cache, open the port to them:`,
    firewallFix(v, port, state),
    `Or to their network alone: ${theirs}`,
  ].join('\n');
}
