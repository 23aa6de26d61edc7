import type { FirewallVerdict } from './firewall.js';

/** A port or range with its protocol, as firewalld lists them: `5000/tcp`, `6000-6010/tcp`. */
export interface PortRange {
  from: number;
  to: number;
  proto: string;
}

/** One zone as `firewall-cmd --zone=Z --list-all` prints it. */
export interface FirewalldZone {
  zone: string;
  /** `default` (reject what is not allowed), `ACCEPT`, `DROP` or `REJECT`. */
  target: string;
  interfaces: string[];
  sources: string[];
  services: string[];
  ports: PortRange[];
  richRules: string[];
}

/** `firewall-cmd --get-active-zones`: a zone name line, then indented `interfaces:`/`sources:` lines. */
export function parseActiveZones(text: string): { zone: string; interfaces: string[]; sources: string[] }[] {
  const zones: { zone: string; interfaces: string[]; sources: string[] }[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    if (!/^\s/.test(line)) {
      zones.push({ zone: line.trim().replace(/\s*\(.*\)$/, ''), interfaces: [], sources: [] });
      continue;
    }
    const m = /^\s+(interfaces|sources):\s*(.*)$/.exec(line);
    const z = zones[zones.length - 1];
    if (m && z) z[m[1] as 'interfaces' | 'sources'] = words(m[2] as string);
  }
  return zones;
}

/** `5000/tcp 6000-6010/tcp 53/udp`; items that are not ports are left out. */
export function parsePortList(text: string): PortRange[] {
  return words(text).flatMap((item) => {
    const m = /^(\d+)(?:-(\d+))?\/(\w+)$/.exec(item);
    return m ? [{ from: Number(m[1]), to: Number(m[2] ?? m[1]), proto: m[3] as string }] : [];
  });
}

export function portListed(ports: PortRange[], port: number): boolean {
  return ports.some((p) => p.proto === 'tcp' && port >= p.from && port <= p.to);
}

/**
 * `firewall-cmd --zone=Z --list-all`: a `zone (active)` line, then `  key: value` lines; rich rules follow
 * `rich rules:` one per line, indented with a tab. Undefined when the text has no zone line.
 */
export function parseZoneListAll(text: string): FirewalldZone | undefined {
  const lines = text.split('\n');
  const head = lines.find((l) => l.trim() && !/^\s/.test(l));
  if (!head) return undefined;
  const fields = new Map<string, string>();
  const richRules: string[] = [];
  let inRich = false;
  for (const line of lines) {
    if (!/^\s/.test(line) || !line.trim()) continue;
    const m = /^ {2}([a-z][a-z -]*):\s?(.*)$/.exec(line);
    if (m) {
      inRich = m[1] === 'rich rules';
      fields.set(m[1] as string, (m[2] as string).trim());
      if (inRich && m[2]?.trim()) richRules.push((m[2] as string).trim());
    } else if (inRich) richRules.push(line.trim());
  }
  return {
    zone: head.trim().replace(/\s*\(.*\)$/, ''),
    target: fields.get('target') || 'default',
    interfaces: words(fields.get('interfaces') ?? ''),
    sources: words(fields.get('sources') ?? ''),
    services: words(fields.get('services') ?? ''),
    ports: parsePortList(fields.get('ports') ?? ''),
    richRules,
  };
}

/** `firewall-cmd --info-service=S`: its `ports:` line. */
export function parseServicePorts(text: string): PortRange[] {
  const m = /^\s+ports:\s*(.*)$/m.exec(text);
  return m ? parsePortList(m[1] as string) : [];
}

/**
 * Would firewalld let a new TCP connection to PORT in? A packet is judged by the zone bound to its source
 * address, else the zone of its interface, else the default zone; in that zone an allowed service or port, or
 * the ACCEPT target, lets it in, and anything else meets the target (`default` rejects). Rich rules are not
 * modelled: they are listed so the user can read them.
 */
export function evaluateFirewalld(
  zones: FirewalldZone[],
  servicePorts: Readonly<Record<string, PortRange[]>>,
  port: number,
  defaultZone: string,
): FirewallVerdict {
  const why = (z: FirewalldZone): string | undefined => {
    if (z.target === 'ACCEPT') return `zone ${z.zone} has target ACCEPT`;
    if (portListed(z.ports, port)) return `port ${port}/tcp is open in zone ${z.zone}`;
    const service = z.services.find((s) => portListed(servicePorts[s] ?? [], port));
    return service ? `service ${service} (port ${port}/tcp) is allowed in zone ${z.zone}` : undefined;
  };
  const where = (z: FirewalldZone) =>
    [
      z.sources.length ? `from ${z.sources.join(' ')}` : '',
      z.interfaces.length ? `on ${z.interfaces.join(' ')}` : '',
      z.zone === defaultZone ? 'on interfaces in no other zone' : '',
    ]
      .filter(Boolean)
      .join(', ') || 'nowhere';
  const open = zones.filter((z) => why(z));
  const closed = zones.filter((z) => !why(z));
  const unmodelled = zones.flatMap((z) => z.richRules.map((r) => `zone ${z.zone}: ${r}`));
  // The zone a stranger on the main network lands in: the default zone, else the first interface zone.
  const main = zones.find((z) => z.zone === defaultZone) ?? zones.find((z) => z.interfaces.length) ?? zones[0];
  if (main && why(main)) {
    return {
      verdict: 'accept',
      rule: why(main) as string,
      chain: `firewalld zone ${main.zone}`,
      conditions: closed.length ? closed.map((z) => `except in zone ${z.zone} (${where(z)})`) : [],
      unmodelled,
      unsure: [],
      openOnlyTo: [],
    };
  }
  // Zones that open the port for their sources or interfaces only: every other host meets the main zone's refusal.
  return {
    verdict: main?.target === 'DROP' ? 'drop' : 'reject',
    rule: main
      ? `port ${port}/tcp is in no allowed port or service of zone ${main.zone} (target ${main.target}; ports: ${main.ports.map(showRange).join(' ') || 'none'}; services: ${main.services.join(' ') || 'none'})`
      : 'no zone applies',
    chain: `firewalld zone ${main?.zone ?? defaultZone}`,
    conditions: [],
    unmodelled,
    unsure: [],
    openOnlyTo: open.map((z) => ({ who: where(z), rule: why(z) as string })),
  };
}

const showRange = (p: PortRange) => `${p.from}${p.to !== p.from ? `-${p.to}` : ''}/${p.proto}`;

function words(s: string): string[] {
  return s.trim().split(/\s+/).filter(Boolean);
}
