import type { HostPaths } from '../discover/types.js';
import type { FirewallState } from '../host/firewall-judge.js';
import { type FirewalldZone, parseActiveZones, parseServicePorts, parseZoneListAll } from '../host/firewalld.js';
import { parseIptables } from '../host/iptables.js';
import { parseNftJson } from '../host/nft.js';
import { type Listener, parseProcNetTcp, parseSs } from '../host/sockets.js';
import { parseSystemctlShow } from '../host/systemd.js';
import { KNOWN_SERVERS } from '../nix/servers.js';
import type { Io } from '../system/io.js';
import type { ListenerState, SecretKeyFact, SystemdState } from './types.js';

const UNIT_PROPERTIES =
  'Id,LoadState,ActiveState,SubState,Result,MainPID,ExecMainStartTimestamp,NRestarts,ExecStart,LoadCredential,Environment,User,DynamicUser';

/** What systemd says about the known cache server units. Without systemd as init, says why. */
export async function readSystemdUnits(io: Io): Promise<SystemdState> {
  if (!(await io.fs.exists('/run/systemd/system')))
    return { available: false, reason: 'systemd is not running on this machine (PID 1 is not systemd), so unit states cannot be read' };
  const r = await io.exec('systemctl', ['show', ...KNOWN_SERVERS.map((s) => s.unit), `--property=${UNIT_PROPERTIES}`, '--no-pager']);
  if (r.missing) return { available: false, reason: "'systemctl' is not installed" };
  if (r.exitCode !== 0) return { available: false, reason: `systemctl show failed: ${r.stderr.trim().split('\n')[0] ?? r.exitCode}` };
  const parsed = parseSystemctlShow(r.stdout);
  if (!parsed.ok) return { available: false, reason: `systemctl show printed something unexpected: ${parsed.error.message}` };
  return { available: true, units: parsed.value.filter((u) => u.LoadState === 'loaded') };
}

/** TCP listening sockets: `ss -ltnpH`, or /proc/net/tcp{,6} where ss is missing. */
export async function readListeners(io: Io): Promise<ListenerState> {
  const r = await io.exec('ss', ['-ltnpH']);
  if (!r.missing && r.exitCode === 0) {
    const parsed = parseSs(r.stdout);
    if (parsed.ok) return { list: parsed.value, source: 'ss -ltnp' };
  }
  const list: Listener[] = [];
  for (const [file, v6] of [
    ['/proc/net/tcp', false],
    ['/proc/net/tcp6', true],
  ] as const) {
    const t = await io.fs.readText(file, 4 * 1024 * 1024);
    if (!t.ok) continue;
    const parsed = parseProcNetTcp(t.text, v6);
    if (parsed.ok) list.push(...parsed.value);
  }
  return list.length || r.missing ? { list, source: '/proc/net/tcp' } : { error: 'neither ss nor /proc/net/tcp could be read' };
}

/** iptables, ip6tables (only when IPV6), nftables and firewalld rules, each parsed once. */
export async function readFirewall(io: Io, ipv6: boolean, host: HostPaths): Promise<FirewallState> {
  const state: FirewallState = { notes: [] };
  const [ipt, ip6t, nft, fwdProcess] = await Promise.all([
    io.exec('iptables', ['-S']),
    ipv6 ? io.exec('ip6tables', ['-S']) : Promise.resolve(undefined),
    io.exec('nft', ['-j', 'list', 'ruleset']),
    // firewall-cmd is a Python program that takes a quarter of a second even to say firewalld is not
    // running: ask it only when a firewalld process exists.
    firewalldProcess(io, host),
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

async function firewalldProcess(io: Io, host: HostPaths): Promise<boolean> {
  const installed = await Promise.all(host.pathDirs.map((d) => io.fs.exists(`${d}/firewall-cmd`)));
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

/** A secret key file's mode and text; SECRET registers the text before anything else sees it. */
export async function readSecretKey(io: Io, path: string, secret: (s: string) => void): Promise<SecretKeyFact> {
  const stat = await io.fs.stat(path);
  if (!stat) return { kind: 'missing' };
  const r = await io.fs.readText(path, 4096);
  if (!r.ok) return { kind: 'unreadable', stat, code: r.code, message: r.message };
  const text = r.text.trim();
  secret(text);
  secret(text.split(':')[1] ?? '');
  return { kind: 'read', stat, text: r.text };
}
