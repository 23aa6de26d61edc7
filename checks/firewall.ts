import { isIP } from 'node:net';
import type { FirewallVerdict } from '../src/host/firewall.js';
import {
  evaluateFirewalld,
  type FirewalldZone,
  type PortRange,
  parseActiveZones,
  parseServicePorts,
  parseZoneListAll,
} from '../src/host/firewalld.js';
import { evaluateIptables, type IptTable, parseIptables } from '../src/host/iptables.js';
import { evaluateNft, type NftRuleset, parseNftJson } from '../src/host/nft.js';
import { isHttpScheme } from '../src/nix/store-url.js';
import { fail, pass, skip, storeKind } from '../src/runner/finding.js';
import type { CacheTarget, Check, CheckContext, Io } from '../src/runner/types.js';

interface BackendVerdict extends FirewallVerdict {
  backend: 'iptables' | 'ip6tables' | 'nftables' | 'firewalld';
  family?: 'ipv4' | 'ipv6';
}

/** Server step 3: `iptables -L -n | grep 5000`, done properly — would another host's new connection to the port get in? */
export const firewall: Check = {
  id: 'firewall',
  title: 'Firewall admits the port',
  scope: 'cache',
  prepare(ctx) {
    if (ctx.env.root && ctx.caches.some((c) => c.local && isHttpScheme(c.url.scheme))) void firewallState(ctx);
  },
  async run(ctx, target) {
    if (!target) throw new Error('cache check without a cache');
    const { host, port, scheme } = target.url;
    if (!isHttpScheme(scheme)) return skip(`${storeKind(scheme)} has no port to open`, `${scheme} store`);
    if (!target.local) {
      return skip(`the cache runs on another host (${host}): check its firewall there`, 'remote cache', {
        fix: `On ${host}: sudo nixcache doctor --server --port ${port}\n  or by hand: sudo iptables -L -n | grep ${port}; sudo nft list ruleset | grep ${port}; firewall-cmd --list-ports`,
      });
    }
    if (!ctx.env.root) return skip('reading the firewall needs root; run with sudo', 'needs root');
    const state = await firewallState(ctx);
    const families = familiesFor(host);
    const verdicts = evaluate(state, port as number, families);
    const what = (v: BackendVerdict) =>
      families.length > 1 || v.family === 'ipv6' ? `new ${v.family === 'ipv6' ? 'IPv6' : 'IPv4'} connections` : 'new connections';
    const data = {
      port,
      families,
      backends: verdicts.map((v) => ({
        backend: v.backend,
        family: v.family ?? null,
        verdict: v.verdict,
        rule: v.rule,
        chain: v.chain,
        conditions: v.conditions,
      })),
      notes: state.notes,
    };
    if (verdicts.length === 0)
      return skip(`no firewall to read: ${state.notes.join('; ') || 'no iptables, nft or firewall-cmd here'}`, 'no firewall tools', {
        data,
      });
    const refusing = verdicts.find((v) => v.verdict !== 'accept');
    const unmodelled = [...new Set(verdicts.flatMap((v) => v.unmodelled))];
    const detail = unmodelled.length
      ? `Rules with matches the doctor does not model were assumed to match:\n${unmodelled.slice(0, 8).join('\n')}`
      : undefined;
    if (refusing) {
      return fail(
        `${refusing.backend} ${refusing.verdict === 'reject' ? 'rejects' : 'drops'} ${what(refusing)} to TCP port ${port}: decided in ${refusing.chain} by '${refusing.rule}'`,
        {
          ...(detail ? { detail } : {}),
          fix: fixFor(refusing, port as number, state),
          data,
        },
      );
    }
    const conditions = [...new Set(verdicts.flatMap((v) => v.conditions))];
    const accepted = verdicts
      .map((v) => `${v.backend}${v.backend === 'nftables' && families.length > 1 && v.family === 'ipv6' ? ' for IPv6' : ''} (${v.rule})`)
      .join(', ');
    return pass(`TCP port ${port} is open to other hosts${conditions.length ? ` ${conditions.join(', ')}` : ''}: accepted by ${accepted}`, {
      ...(detail ? { detail } : {}),
      data,
    });
  },
};

/** The rules as read and parsed once per run; a ruleset that does not parse is left out. */
interface FirewallState {
  iptables?: IptTable;
  ip6tables?: IptTable;
  nft?: NftRuleset;
  firewalld?: { zones: FirewalldZone[]; defaultZone: string; servicePorts: Record<string, PortRange[]> };
  notes: string[];
}

function firewallState(ctx: CheckContext): Promise<FirewallState> {
  return ctx.once('firewall', (io) => readFirewall(io, needsIpv6(ctx.caches)));
}

/** ip6tables is read only when some local cache may be reached over IPv6. */
function needsIpv6(caches: readonly CacheTarget[]): boolean {
  return caches.some((c) => c.local && familiesFor(c.url.host).includes('ipv6'));
}

async function readFirewall(io: Io, ipv6: boolean): Promise<FirewallState> {
  const state: FirewallState = { notes: [] };
  const [ipt, ip6t, nft, fwdProcess] = await Promise.all([
    io.exec('iptables', ['-S']),
    ipv6 ? io.exec('ip6tables', ['-S']) : Promise.resolve(undefined),
    io.exec('nft', ['-j', 'list', 'ruleset']),
    // firewall-cmd is a Python program that takes a quarter of a second even to say firewalld is not
    // running: ask it only when a firewalld process exists.
    firewalldProcess(io),
  ]);
  const parsed = <T>(r: { ok: true; value: T } | { ok: false }) => (r.ok ? r.value : undefined);
  if (ipt.exitCode === 0) state.iptables = parsed(parseIptables(ipt.stdout));
  else state.notes.push(ipt.missing ? 'iptables is not installed' : `iptables -S failed: ${ipt.stderr.trim().split('\n')[0]}`);
  if (ip6t?.exitCode === 0) state.ip6tables = parsed(parseIptables(ip6t.stdout));
  if (nft.exitCode === 0) state.nft = parsed(parseNftJson(nft.stdout));
  else state.notes.push(nft.missing ? 'nft is not installed' : `nft -j list ruleset failed: ${nft.stderr.trim().split('\n')[0]}`);
  if (fwdProcess) {
    const fwd = await io.exec('firewall-cmd', ['--state']);
    if (!fwd.missing && fwd.stdout.trim() === 'running') state.firewalld = await readFirewalld(io);
    else if (!fwd.missing)
      state.notes.push(`firewalld runs but firewall-cmd --state says: ${(fwd.stdout.trim() || fwd.stderr.trim()).split('\n')[0]}`);
  }
  return state;
}

async function firewalldProcess(io: Io): Promise<boolean> {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  const installed = await Promise.all(dirs.map((d) => io.fs.exists(`${d}/firewall-cmd`)));
  if (!installed.some(Boolean)) return false;
  const r = await io.exec('pgrep', ['-x', 'firewalld']);
  // Without pgrep there is no telling: ask firewall-cmd.
  return r.missing || r.exitCode === 0;
}

/** The zones that judge incoming traffic (active ones and the default zone), and the ports of their services. */
async function readFirewalld(io: Io): Promise<NonNullable<FirewallState['firewalld']>> {
  const [active, dflt] = await Promise.all([
    io.exec('firewall-cmd', ['--get-active-zones']),
    io.exec('firewall-cmd', ['--get-default-zone']),
  ]);
  const defaultZone = dflt.stdout.trim() || 'public';
  const names = [...new Set([defaultZone, ...parseActiveZones(active.stdout).map((z) => z.zone)])];
  const zones = (await Promise.all(names.map((z) => io.exec('firewall-cmd', [`--zone=${z}`, '--list-all']))))
    .map((r) => parseZoneListAll(r.stdout))
    .filter((z): z is FirewalldZone => z !== undefined);
  const services = [...new Set(zones.flatMap((z) => z.services))];
  const infos = await Promise.all(services.map((s) => io.exec('firewall-cmd', [`--info-service=${s}`])));
  const servicePorts = Object.fromEntries(services.map((s, i) => [s, parseServicePorts(infos[i]?.stdout ?? '')]));
  return { zones, defaultZone, servicePorts };
}

/**
 * Which address families to judge for a cache at HOST: an address literal decides its own family; a
 * name may be reached either way. (The --server target, 127.0.0.1, stands for IPv4 clients.)
 */
function familiesFor(host: string | undefined): ('ipv4' | 'ipv6')[] {
  if (host && isIP(host) === 4) return ['ipv4'];
  if (host && isIP(host) === 6) return ['ipv6'];
  return ['ipv4', 'ipv6'];
}

function evaluate(state: FirewallState, port: number, families: ('ipv4' | 'ipv6')[]): BackendVerdict[] {
  const out: BackendVerdict[] = [];
  if (state.firewalld) {
    const { zones, servicePorts, defaultZone } = state.firewalld;
    out.push({ backend: 'firewalld', ...evaluateFirewalld(zones, servicePorts, port, defaultZone) });
    // firewalld writes the rules below; judging them again would only repeat its answer.
    return out;
  }
  const seen = { ip: false, ip6: false };
  for (const family of families) {
    const table = family === 'ipv4' ? state.iptables : state.ip6tables;
    if (table) {
      out.push({ backend: family === 'ipv4' ? 'iptables' : 'ip6tables', family, ...evaluateIptables(table, port) });
      seen[family === 'ipv4' ? 'ip' : 'ip6'] = true;
    }
  }
  if (state.nft) {
    // iptables-nft keeps its rules in nft tables `ip filter` / `ip6 filter`, already judged above.
    const rs = {
      ...state.nft,
      chains: state.nft.chains.filter(
        (c) => !(c.table === 'filter' && ((c.family === 'ip' && seen.ip) || (c.family === 'ip6' && seen.ip6))),
      ),
    };
    const judged = families.map((family) => ({ family, v: evaluateNft(rs, port, family) }));
    for (const { family, v } of judged) {
      // An inet table judges both families alike: say it once unless the answers differ.
      if (v && !(family === 'ipv6' && judged[0]?.v && judged[0].v.verdict === v.verdict && judged[0].v.rule === v.rule))
        out.push({ backend: 'nftables', family, ...v });
    }
  }
  return out;
}

function fixFor(v: BackendVerdict, port: number, state: FirewallState): string {
  const nixos = `NixOS: networking.firewall.allowedTCPPorts = [ ${port} ];  (or services.nix-serve.openFirewall = true;)`;
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
