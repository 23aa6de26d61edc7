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
    if (m && z) z[m[1] as 'interfaces' | 'sources'] = (m[2] as string).split(/\s+/).filter(Boolean);
  }
  return zones;
}

/** `firewall-cmd --list-ports`: `5000/tcp 6000-6010/tcp 53/udp`. */
export function parsePortList(text: string): { from: number; to: number; proto: string }[] {
  return text
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .flatMap((item) => {
      const m = /^(\d+)(?:-(\d+))?\/(\w+)$/.exec(item);
      return m ? [{ from: Number(m[1]), to: Number(m[2] ?? m[1]), proto: m[3] as string }] : [];
    });
}

export function portListed(ports: { from: number; to: number; proto: string }[], port: number): boolean {
  return ports.some((p) => p.proto === 'tcp' && port >= p.from && port <= p.to);
}
