import type { Io } from '../system/io.js';
import type { Resolution, TcpProbe } from '../system/net.js';
import type { PathProbe, PingFact } from './types.js';

const RANK: Record<TcpProbe['result'], number> = { open: 0, refused: 1, unreachable: 2, error: 3, timeout: 4, cancelled: 5 };

/** Opens TCP to every address of HOST (up to four) at once and keeps the most telling answer. */
export async function probePath(io: Io, host: string, port: number, resolution: Resolution): Promise<PathProbe> {
  if (!resolution.ok) return { host, port, resolution };
  const probes = await Promise.all(resolution.addresses.slice(0, 4).map((a) => io.net.tcpConnect(a, port, host)));
  const tcp = [...probes].sort((a, b) => RANK[a.result] - RANK[b.result])[0];
  return { host, port, resolution, ...(tcp ? { tcp } : {}) };
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
  if (!r.ok) return [];
  return [...r.text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1] as string);
}
