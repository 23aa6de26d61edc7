import { BlockList, isIP } from 'node:net';

/** What the doctor asks a firewall: would a new TCP connection to PORT from another host get in? */
export interface FirewallVerdict {
  verdict: 'accept' | 'drop' | 'reject';
  /** The rule (or policy) that decided, as the tool prints it. */
  rule: string;
  chain: string;
  /** Limits on the acceptance: only on some interfaces, only from some sources. */
  conditions: string[];
  /** Rules passed over because they use matches the doctor does not model. */
  unmodelled: string[];
  /** Rules passed over because they apply only to connections to some address, and which one clients use is not known. */
  unsure: string[];
  /** Accepts that admit only some hosts (`from 10.99.0.0/24`, `on interface eth9`); the verdict is for every other host. */
  openOnlyTo: OpenOnly[];
}

/** Who an accept is limited to, and the rule (or zone) that accepts them. */
export interface OpenOnly {
  who: string;
  rule: string;
}

/**
 * Is ADDRESS in SPEC (`192.0.2.1`, `10.0.0.0/8`, `2001:db8::/32`)? Undefined when SPEC is no address
 * of ADDRESS's family (a host name, a mask written as `255.0.0.0`).
 */
export function addressIn(spec: string, address: string): boolean | undefined {
  const [net = '', len] = spec.split('/');
  const family = isIP(address);
  if (!family || isIP(net) !== family) return isIP(net) && family ? false : undefined;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const bits = len === undefined ? (family === 4 ? 32 : 128) : Number(len);
  if (!Number.isInteger(bits)) return undefined;
  const list = new BlockList();
  list.addSubnet(net, bits, type);
  return list.check(address, type);
}

/** A port spec as iptables writes it: `5000`, `5000:5010`, `22,5000,6000:6010`. */
export function portIn(spec: string, port: number): boolean {
  return spec.split(',').some((part) => {
    const [a, b] = part.split(/[:-]/).map((x) => Number(x));
    if (a === undefined || Number.isNaN(a)) return false;
    return b === undefined || Number.isNaN(b) ? port === a : port >= a && port <= b;
  });
}
