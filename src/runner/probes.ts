import { netrcFor } from '../nix/netrc.js';
import type { Resolution, TcpProbe } from '../system/net.js';
import type { PingResult } from '../system/ping.js';
import type { CacheTarget, CheckContext } from './types.js';

export interface PathProbe {
  host: string;
  port: number;
  resolution: Resolution;
  /** The most telling TCP result: an open address if any, else refused > unreachable > timeout. */
  tcp?: TcpProbe;
}

const RANK: Record<string, number> = { open: 0, refused: 1, unreachable: 2, error: 3, timeout: 4, cancelled: 5 };

/** Stores reached over the network at their URL's host: an s3:// "host" is a bucket name. */
export const NETWORK_SCHEMES: ReadonlySet<string> = new Set(['http', 'https', 'ssh', 'ssh-ng']);

/** Whether the doctor reaches this store over the network at url.host (an s3:// store at its bucket's address). */
export function overNetwork(target: CacheTarget): boolean {
  return target.url.httpBase !== undefined || NETWORK_SCHEMES.has(target.url.scheme);
}

/** Resolves the cache's host and opens TCP to every address at once; shared by every check of the run. */
export function probePath(ctx: CheckContext, target: CacheTarget): Promise<PathProbe> | undefined {
  const { host, port } = target.url;
  if (!host || port === undefined || !overNetwork(target)) return undefined;
  return ctx.once(`tcp ${host}:${port}`, async (io) => {
    const resolution = await io.net.resolve(host);
    if (!resolution.ok) return { host, port, resolution };
    const probes = await Promise.all(resolution.addresses.slice(0, 4).map((a) => io.net.tcpConnect(a, port, host)));
    const tcp = [...probes].sort((a, b) => (RANK[a.result] ?? 9) - (RANK[b.result] ?? 9))[0];
    return { host, port, resolution, ...(tcp ? { tcp } : {}) };
  });
}

/** Pings the cache host's first address; shared like the TCP probe. */
export function probePing(
  ctx: CheckContext,
  target: CacheTarget,
): Promise<{ address?: string; ping?: PingResult; resolution: Resolution }> | undefined {
  const host = target.url.host;
  if (!host || !overNetwork(target)) return undefined;
  return ctx.once(`ping ${host}`, async (io) => {
    const resolution = await io.net.resolve(host);
    if (!resolution.ok || !resolution.addresses[0]) return { resolution };
    const address = resolution.addresses[0];
    return { address, ping: await io.ping(address, host), resolution };
  });
}

export type Credentials = { user: string; password: string; source: 'url' | 'netrc' };

/** What Nix hands curl: user:password from the URL, else the netrc-file entry for the host. */
export function credentialsFor(ctx: CheckContext, target: CacheTarget): Credentials | undefined {
  if (target.url.scheme === 's3') return undefined; // Nix signs S3 requests with AWS credentials instead
  if (target.url.credentials) return { ...target.url.credentials, source: 'url' };
  const entry = target.url.host ? netrcFor(ctx.config.netrc.entries, target.url.host) : undefined;
  if (entry?.login !== undefined || entry?.password !== undefined)
    return { user: entry.login ?? '', password: entry.password ?? '', source: 'netrc' };
  return undefined;
}

/** What a dead substituter costs every build, from the settings in force. */
export function deadCacheAdvice(ctx: CheckContext, target: CacheTarget): string | undefined {
  if (target.role !== 'substituter') return undefined;
  const s = ctx.config.settings;
  const connectTimeout = Number(s.get('connect-timeout') ?? '0');
  const fallback = s.get('fallback') === 'true';
  const wait =
    connectTimeout > 0
      ? `up to ${connectTimeout} s (connect-timeout)`
      : "for curl's own connect timeout (connect-timeout = 0: minutes on older Nix)";
  const lines = [
    `While this cache stays in substituters, Nix waits ${wait} on it before moving on, and then prints "disabling binary cache '${target.url.display}' for 60 seconds".`,
  ];
  if (connectTimeout === 0) lines.push('To bound the wait: connect-timeout = 5 in nix.conf (NixOS: nix.settings.connect-timeout = 5;).');
  if (!fallback)
    lines.push(
      'Without fallback = true, a build whose substitution fails stops instead of building locally (NixOS: nix.settings.fallback = true;).',
    );
  return lines.join('\n');
}

export function hostPort(target: CacheTarget): string {
  const { host, port } = target.url;
  return host?.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
