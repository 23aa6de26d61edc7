/**
 * This machine's ways out: default routes as the kernel lists them in /proc/net/route and
 * /proc/net/ipv6_route, and the resolvers its name look-ups go to.
 */
export interface Routes {
  /** Interfaces with an IPv4 default route. */
  defaultV4: string[];
  /** Interfaces with a usable IPv6 default route (the kernel's reject route on lo does not count). */
  defaultV6: string[];
  /** Read with the routes (facts/routes.ts); absent from parseRoutes alone. */
  resolvers?: Resolvers;
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
  | { kind: 'dns-down' }
  /** As dns-down, and /etc/resolv.conf names systemd-resolved's stub, where nothing listens: it is not running. */
  | { kind: 'resolved-down' }
  /** As dns-down, and systemd-resolved runs but knows no upstream DNS server to ask. */
  | { kind: 'resolved-no-servers' };

/** One verdict for the machine, so that a dead network is one finding and not one per cache. */
export function judgeConnectivity(names: readonly { ok: boolean; code?: string }[], routes: Routes): Connectivity {
  if (names.length === 0) return { kind: 'no-names' };
  const unanswered = names.every((n) => !n.ok && n.code !== 'ENOTFOUND' && n.code !== 'ENODATA');
  if (!unanswered) return { kind: 'online' };
  // Without a way out nothing else matters yet; with one, the resolver is what fails.
  if (routes.defaultV4.length + routes.defaultV6.length === 0) return { kind: 'offline' };
  const resolved = routes.resolvers?.resolved;
  // Another nameserver line after the stub could still answer: only judge resolved when it is the only one.
  const onlyResolved = resolved && routes.resolvers?.configured.every((a) => RESOLVED_STUBS.includes(a));
  if (resolved && onlyResolved && !resolved.running) return { kind: 'resolved-down' };
  if (resolved && onlyResolved && resolved.source !== 'none' && resolved.upstream.length === 0) return { kind: 'resolved-no-servers' };
  return { kind: 'dns-down' };
}

/** The addresses systemd-resolved's stub listens on (127.0.0.54 is its "proxy" stub, since systemd 248). */
export const RESOLVED_STUBS: readonly string[] = ['127.0.0.53', '127.0.0.54'];
/** Where systemd-resolved writes the upstream servers it knows, one `nameserver` line each (its "uplink" resolv.conf). */
export const RESOLVED_UPLINK = '/run/systemd/resolve/resolv.conf';

/** Who answers this machine's name look-ups: /etc/resolv.conf, and behind systemd-resolved's stub, the servers it asks. */
export interface Resolvers {
  /** The `nameserver` lines of /etc/resolv.conf. */
  configured: string[];
  /** Present when /etc/resolv.conf names systemd-resolved's stub. */
  resolved?: ResolvedView;
}

export interface ResolvedView {
  stub: string;
  /** Whether the stub answers: a TCP connection to it on port 53 (refused = systemd-resolved is not running). */
  running: boolean;
  /** The upstream servers it asks (empty: it knows none, or they could not be read). */
  upstream: string[];
  /** Where UPSTREAM was read: `resolvectl dns`, the uplink file, or nowhere (not running, or neither readable). */
  source: 'resolvectl dns' | typeof RESOLVED_UPLINK | 'none';
  /** `resolvectl dns` per link, when it ran: `Global` or `Link 2 (eth0)` → servers. */
  links?: { link: string; servers: string[] }[];
}

/** The `nameserver` addresses of a resolv.conf, in order (comments and other keywords passed over). */
export function parseNameservers(text: string): string[] {
  return [...text.matchAll(/^[ \t]*nameserver[ \t]+([^\s#;]+)/gm)].map((m) => m[1] as string);
}

/**
 * `resolvectl dns` as systemd's resolvectl.c prints it (status_print_strv_ifindex): `Global: A B` and
 * `Link N (IFNAME): A B`, long lists wrapped onto lines indented by 8 blanks. A server may carry
 * `:port`, `%ifindex` or `#server-name` (the DNSEx form); the name is dropped.
 */
export function parseResolvectlDns(text: string): { link: string; servers: string[] }[] {
  const out: { link: string; servers: string[] }[] = [];
  for (const line of text.split('\n')) {
    const head = /^(Global|Link \d+ \([^)]*\)):(.*)$/.exec(line);
    const words = (head ? (head[2] as string) : line).trim().split(/\s+/).filter(Boolean);
    if (head) out.push({ link: head[1] as string, servers: [] });
    else if (!/^\s/.test(line)) continue;
    const current = out[out.length - 1];
    if (current) current.servers.push(...words.map((w) => w.replace(/#.*$/, '')).filter(Boolean));
  }
  return out;
}

/** The resolvers as a person would name them: `127.0.0.53 (systemd-resolved, asking 192.168.1.1)`. */
export function describeResolvers(r: Resolvers): string {
  if (r.configured.length === 0) return 'none';
  const behind = r.resolved;
  if (!behind) return r.configured.join(', ');
  const rest = r.configured.filter((a) => a !== behind.stub);
  const what = !behind.running
    ? 'systemd-resolved, which does not answer there'
    : behind.upstream.length
      ? `systemd-resolved, asking ${behind.upstream.join(', ')}`
      : behind.source === 'none'
        ? 'systemd-resolved, whose DNS servers could not be read'
        : 'systemd-resolved, which knows no DNS server';
  return [`${behind.stub} (${what})`, ...rest].join(', ');
}
