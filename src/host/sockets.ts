import { isIP } from 'node:net';
import { err, ok, type Result } from '../nix/result.js';

export interface Listener {
  address: string;
  port: number;
  process?: string;
}

/** Parses `ss -ltnH` (optionally with -p): State Recv-Q Send-Q Local:Port Peer:Port [users:((…))]. */
export function parseSs(text: string): Result<Listener[]> {
  const out: Listener[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    const t = line.trim();
    if (!t || t.startsWith('State') || t.startsWith('Netid')) continue;
    const cols = t.split(/\s+/);
    const local = cols.find((c, i) => i >= 3 && /:(\d+|\*)$/.test(c));
    if (!local) return err('malformed', `line ${index + 1} has no local address:port`, index + 1);
    const m = /^(.*):(\d+)$/.exec(local);
    if (!m) continue;
    const address = (m[1] as string).replace(/^\[|\]$/g, '').replace(/%.*$/, '');
    const proc = /users:\(\("([^"]+)"/.exec(t)?.[1];
    // `*` is a dual-stack socket (IPv4 and IPv6): kept as such, not taken for 0.0.0.0.
    out.push({ address, port: Number(m[2]), ...(proc ? { process: proc } : {}) });
  }
  return ok(out);
}

/** Parses /proc/net/tcp or /proc/net/tcp6, keeping sockets in LISTEN state (0A). */
export function parseProcNetTcp(text: string, v6: boolean): Result<Listener[]> {
  const out: Listener[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 4 || cols[0] === 'sl') continue;
    const [addrHex, portHex] = (cols[1] ?? '').split(':');
    if (!addrHex || !portHex || !/^[0-9A-F]+$/i.test(addrHex))
      return err('malformed', `line ${index + 1} is not a socket entry`, index + 1);
    if (cols[3] !== '0A') continue;
    out.push({ address: v6 ? hexToIpv6(addrHex) : hexToIpv4(addrHex), port: Number.parseInt(portHex, 16) });
  }
  return ok(out);
}

function hexToIpv4(hex: string): string {
  const n = Number.parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.');
}

function hexToIpv6(hex: string): string {
  const words: string[] = [];
  for (let i = 0; i < 32; i += 8) {
    const chunk =
      hex
        .slice(i, i + 8)
        .match(/../g)
        ?.reverse()
        .join('') ?? '00000000';
    words.push(chunk.slice(0, 4), chunk.slice(4));
  }
  const full = words.map((w) => w.replace(/^0+(?=.)/, '').toLowerCase()).join(':');
  if (full === '0:0:0:0:0:0:0:0') return '::';
  if (full === '0:0:0:0:0:0:0:1') return '::1';
  const mapped = /^0:0:0:0:0:ffff:([0-9a-f]+):([0-9a-f]+)$/.exec(full);
  if (mapped) {
    const a = Number.parseInt(mapped[1] as string, 16);
    const b = Number.parseInt(mapped[2] as string, 16);
    return `::ffff:${a >> 8}.${a & 0xff}.${b >> 8}.${b & 0xff}`;
  }
  return full;
}

export type Reach = 'all' | 'loopback' | 'specific';

/**
 * Whether a socket listening on LISTENING accepts connections to the IP address TARGET: the same
 * address, or the wildcard of its family. ss shows a dual-stack socket as `*` and an IPv6-only one
 * as `[::]`; /proc/net/tcp6 shows both as `::` (V6ONLY): from there `::` gets the benefit of the
 * doubt (dual-stack is Linux's default, net.ipv6.bindv6only = 0).
 */
export function serves(listening: string, target: string, v6onlyKnown: boolean): boolean {
  const plain = (a: string) => a.toLowerCase().replace(/^::ffff:(?=\d+\.)/, '');
  const [l, t] = [plain(listening), plain(target)];
  if (l === t || l === '*') return true;
  if (isIP(t) === 4) return l === '0.0.0.0' || (l === '::' && !v6onlyKnown);
  return l === '::';
}

/** How far a listener reaches: every interface, loopback only, or one address. */
export function reachOf(address: string): Reach {
  if (address === '0.0.0.0' || address === '::' || address === '*') return 'all';
  if (address.startsWith('127.') || address === '::1' || address === '::ffff:127.0.0.1') return 'loopback';
  return 'specific';
}
