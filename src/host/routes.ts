/** Default routes as the kernel lists them in /proc/net/route and /proc/net/ipv6_route. */
export interface Routes {
  /** Interfaces with an IPv4 default route. */
  defaultV4: string[];
  /** Interfaces with a usable IPv6 default route (the kernel's reject route on lo does not count). */
  defaultV6: string[];
}

const RTF_REJECT = 0x0200;

export function parseRoutes(v4: string, v6: string): Routes {
  const defaultV4 = v4
    .split('\n')
    .slice(1)
    .flatMap((line) => {
      const [iface, dest, , flags, , , , mask] = line.trim().split(/\s+/);
      return iface && dest === '00000000' && mask === '00000000' && !(Number.parseInt(flags ?? '0', 16) & RTF_REJECT) ? [iface] : [];
    });
  const defaultV6 = v6.split('\n').flatMap((line) => {
    const f = line.trim().split(/\s+/);
    const [dest, prefix, flags, iface] = [f[0], f[1], f[8], f[9]];
    return iface && /^0{32}$/.test(dest ?? '') && prefix === '00' && iface !== 'lo' && !(Number.parseInt(flags ?? '0', 16) & RTF_REJECT)
      ? [iface]
      : [];
  });
  return { defaultV4: [...new Set(defaultV4)], defaultV6: [...new Set(defaultV6)] };
}

export type Connectivity =
  | { kind: 'online' }
  /** No cache is reached by name: nothing to judge DNS by. */
  | { kind: 'no-names' }
  /** Every name failed because no resolver answered (not because the names do not exist), and there is no default route. */
  | { kind: 'offline' }
  /** Every name failed because no resolver answered, though a default route exists. */
  | { kind: 'dns-down' };

/** One verdict for the machine, so that a dead network is one finding and not one per cache. */
export function judgeConnectivity(names: readonly { ok: boolean; code?: string }[], routes: Routes): Connectivity {
  if (names.length === 0) return { kind: 'no-names' };
  const unanswered = names.every((n) => !n.ok && n.code !== 'ENOTFOUND' && n.code !== 'ENODATA');
  if (!unanswered) return { kind: 'online' };
  return routes.defaultV4.length + routes.defaultV6.length === 0 ? { kind: 'offline' } : { kind: 'dns-down' };
}
