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
}

/** A port spec as iptables writes it: `5000`, `5000:5010`, `22,5000,6000:6010`. */
export function portIn(spec: string, port: number): boolean {
  return spec.split(',').some((part) => {
    const [a, b] = part.split(/[:-]/).map((x) => Number(x));
    if (a === undefined || Number.isNaN(a)) return false;
    return b === undefined || Number.isNaN(b) ? port === a : port >= a && port <= b;
  });
}
