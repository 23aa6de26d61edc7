import { parseNameservers, parseResolvectlDns, RESOLVED_STUBS, RESOLVED_UPLINK, type Resolvers } from '../host/routes.js';
import type { Io } from '../system/io.js';
import type { Resolution, TcpProbe } from '../system/net.js';
import type { PathProbe, PingFact } from './types.js';

const RANK: Record<TcpProbe['result'], number> = { open: 0, refused: 1, unreachable: 2, error: 3, timeout: 4, cancelled: 5 };

/** Opens TCP to every address of HOST (up to four) at once and keeps the most telling answer. */
export async function probePath(io: Io, host: string, port: number, resolution: Resolution): Promise<PathProbe> {
  if (!resolution.ok) return { host, port, resolution };
  const probes = await Promise.all(resolution.addresses.slice(0, 4).map((a) => io.net.tcpConnect(a, port, host)));
  const tcp = [...probes].sort((a, b) => RANK[a.result] - RANK[b.result])[0];
  return { host, port, resolution, ...(tcp ? { tcp } : {}), probes };
}

/** Pings HOST's first address. */
export async function probePing(io: Io, host: string, resolution: Resolution): Promise<PingFact> {
  if (!resolution.ok || !resolution.addresses[0]) return { resolution };
  const address = resolution.addresses[0];
  return { address, ping: await io.ping(address, host), resolution };
}

/** The resolvers named in /etc/resolv.conf. */
export async function readNameservers(io: Io): Promise<string[]> {
  const r = await io.fs.readText('/etc/resolv.conf', 64 * 1024);
  return r.ok ? parseNameservers(r.text) : [];
}

/**
 * /etc/resolv.conf, and when it names systemd-resolved's stub, what the stub forwards to: whether it
 * answers at all (a DNS question over UDP, as the C library asks, and TCP to port 53 — a stub may
 * listen on either alone; refused on both means systemd-resolved is not running), then `resolvectl
 * dns` (per link), else its uplink file. resolvectl runs only when the stub answers: asked over
 * D-Bus while systemd-resolved is stopped, it could start it, and the doctor changes nothing.
 */
export async function readResolvers(io: Io): Promise<Resolvers> {
  const configured = await readNameservers(io);
  const stub = configured.find((a) => RESOLVED_STUBS.includes(a));
  if (!stub) return { configured };
  const [udp, tcp] = await Promise.all([io.net.dnsQuery(stub, 53), io.net.tcpConnect(stub, 53)]);
  // Refused both ways: nothing listens there. Any other failure (a filtered port, no answer in time)
  // proves nothing either way: the uplink file is read, resolvectl is not asked.
  if (udp.result === 'refused' && tcp.result === 'refused')
    return { configured, resolved: { stub, running: false, upstream: [], source: 'none' } };
  const answers = udp.result === 'answered' || tcp.result === 'open';
  const [ctl, uplink] = await Promise.all([
    answers ? io.exec('resolvectl', ['dns']) : undefined,
    io.fs.readText(RESOLVED_UPLINK, 64 * 1024),
  ]);
  const links = ctl?.exitCode === 0 ? parseResolvectlDns(ctl.stdout) : undefined;
  if (links?.length) {
    const upstream = [...new Set(links.flatMap((l) => l.servers))];
    return { configured, resolved: { stub, running: true, upstream, source: 'resolvectl dns', links } };
  }
  if (uplink.ok) return { configured, resolved: { stub, running: true, upstream: parseNameservers(uplink.text), source: RESOLVED_UPLINK } };
  return { configured, resolved: { stub, running: true, upstream: [], source: 'none' } };
}
