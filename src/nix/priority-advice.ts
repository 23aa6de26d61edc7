import { effectiveOrder, type PrioritySource } from './priority.js';

/**
 * Judging the order Nix tries substituters in, for the priority check. Only what is known counts:
 * a priority that was not read (nix-cache-info not fetched) is unknown, not Nix's default, and a
 * change is suggested only when it changes the order.
 */

/** Where a cache is: this machine, the local network, the Internet — or a URL Nix cannot open at all. */
export type Place = 'local' | 'lan' | 'remote' | 'unusable';

export interface OrderInput {
  /** Position in nix.conf's substituters. */
  index: number;
  /** For output (credentials redacted). */
  url: string;
  /** `?priority=N` of the URL, when valid. */
  urlPriority?: number | undefined;
  /** What nix-cache-info advertised; `null` when it was read and has no Priority; undefined when not read. */
  advertised?: number | null | undefined;
  place: Place;
  /** true: connects and serves nix-cache-info; false: fails; null: not known. */
  working: boolean | null;
}

export interface OrderRow extends OrderInput {
  priority: number | null;
  source: PrioritySource | 'unknown';
  /** Position in the order Nix tries them, or null where the priority (hence the position) is unknown or Nix skips the URL. */
  order: number | null;
}

export interface OrderJudgement {
  /** Known priorities in Nix's order, then the unknown ones and the URLs Nix skips, in nix.conf order. */
  rows: OrderRow[];
  problems: string[];
  /** index → the ?priority= to give that substituter; only ever a change that reorders. */
  suggested: Map<number, number>;
}

export const CONVENTION = { local: 10, remote: 40, unannounced: 50, fallback: 100 } as const;

function withPriority(c: OrderInput): OrderRow {
  if (c.urlPriority !== undefined) return { ...c, priority: c.urlPriority, source: 'url', order: null };
  if (typeof c.advertised === 'number') return { ...c, priority: c.advertised, source: 'cache-info', order: null };
  if (c.advertised === null) return { ...c, priority: 0, source: 'default', order: null };
  return { ...c, priority: null, source: 'unknown', order: null };
}

/** Nix's order of the caches whose priority is known (stable by priority), by nix.conf index. */
function orderOf(rows: readonly OrderRow[], priorities: ReadonlyMap<number, number>): number[] {
  const known = rows.flatMap((r) => {
    const p = priorities.get(r.index) ?? r.priority;
    return r.place !== 'unusable' && p !== null ? [{ index: r.index, priority: p }] : [];
  });
  return effectiveOrder(known.sort((a, b) => a.index - b.index)).map((r) => r.index);
}

export function judgeOrder(inputs: readonly OrderInput[]): OrderJudgement {
  const all = inputs.map(withPriority);
  const sequence = orderOf(all, new Map());
  for (const r of all) {
    const at = sequence.indexOf(r.index);
    r.order = at >= 0 ? at + 1 : null;
  }
  const ordered = sequence.map((i) => all.find((r) => r.index === i) as OrderRow);
  const rest = all.filter((r) => r.order === null).sort((a, b) => a.index - b.index);
  const problems: string[] = [];
  const suggested = new Map<number, number>();

  for (const r of ordered) {
    if (r.place !== 'local' && r.place !== 'lan') continue;
    const remotes = ordered.filter((o) => o.place === 'remote' && (o.order as number) < (r.order as number));
    const first = remotes[0];
    if (!first) continue;
    const tie = first.priority === r.priority ? `; with equal priorities only their order in nix.conf decides` : '';
    problems.push(
      `${r.url} is on ${r.place === 'local' ? 'this machine' : 'your network'} but is tried after the remote ${first.url} (priority ${r.priority} vs ${first.priority}${tie})`,
    );
    const below = Math.min(...remotes.map((o) => o.priority as number)) - 1;
    const wanted = Math.min(CONVENTION.local, below);
    if (wanted >= 0) suggested.set(r.index, wanted);
  }
  for (const r of ordered) {
    if (r.working !== false) continue;
    const later = ordered.filter((o) => (o.order as number) > (r.order as number) && o.working === true);
    if (later.length === 0) continue;
    problems.push(`${r.url} fails but is tried before ${later.map((o) => o.url).join(', ')}: every lookup waits on it first`);
    suggested.set(r.index, Math.max(CONVENTION.fallback, ...later.map((o) => (o.priority as number) + 1)));
  }
  for (const r of ordered) {
    // Nix's default 0 matters only when it puts this cache before others that announce a priority.
    const overtaken = ordered.filter((o) => (o.order as number) > (r.order as number) && (o.priority as number) > 0);
    if (r.place !== 'remote' || r.source !== 'default' || r.working === false || overtaken.length === 0) continue;
    problems.push(
      `${r.url} advertises no Priority in nix-cache-info, so Nix gives it 0 and tries it before ${overtaken.map((o) => `${o.url} (${o.priority})`).join(', ')}`,
    );
    if (!suggested.has(r.index)) suggested.set(r.index, CONVENTION.unannounced);
  }
  // A suggestion is kept only if, all applied, Nix's order changes.
  const after = orderOf(all, suggested);
  if (after.join(' ') === sequence.join(' ')) suggested.clear();
  return { rows: [...ordered, ...rest], problems, suggested };
}

/** URL with `?priority=` set to PRIORITY (replacing one it had, keeping its other parameters). */
export function withUrlPriority(url: string, priority: number): string {
  const base = url.replace(/([?&])priority=[^&]*&?/, '$1').replace(/[?&]$/, '');
  return `${base}${base.includes('?') ? '&' : '?'}priority=${priority}`;
}

/** The substituters line to write (nix.conf order kept), or undefined when it would be the line already there. */
export function substitutersFix(urls: readonly { index: number; url: string }[], suggested: ReadonlyMap<number, number>, file: string) {
  const current = urls.map((u) => u.url);
  const next = urls.map((u) => {
    const p = suggested.get(u.index);
    return p === undefined ? u.url : withUrlPriority(u.url, p);
  });
  if (next.join(' ') === current.join(' ')) return undefined;
  return [
    `In ${file}: substituters = ${next.join(' ')}`,
    `NixOS: nix.settings.substituters = [ ${next.map((u) => `"${u}"`).join(' ')} ];`,
    `Lower numbers are tried first: this machine or LAN ${CONVENTION.local}, cache.nixos.org ${CONVENTION.remote}, fallbacks ${CONVENTION.fallback}.`,
  ].join('\n');
}
