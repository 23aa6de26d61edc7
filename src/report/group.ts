import type { Evidence } from '../system/evidence.js';
import type { CacheEntry, CheckResult, Report } from './model.js';
import { plural } from './text.js';

export interface Section {
  title: string;
  cache?: CacheEntry;
  checks: CheckResult[];
}

/** Host checks first, then each cache in configured order: the order people read a diagnosis in. */
export function sections(report: Report): Section[] {
  const byCache = new Map<string | null, CheckResult[]>();
  for (const c of report.checks) {
    const list = byCache.get(c.cache);
    if (list) list.push(c);
    else byCache.set(c.cache, [c]);
  }
  const host: Section = { title: 'This machine', checks: byCache.get(null) ?? [] };
  // Two caches with the same printed URL share their checks' section, as they always did: show it once.
  const seen = new Set<string>();
  const caches = report.caches.flatMap((cache) => {
    if (seen.has(cache.url)) return [];
    seen.add(cache.url);
    return [{ title: cache.url, cache, checks: byCache.get(cache.url) ?? [] }];
  });
  return [host, ...caches].filter((s) => s.checks.length > 0 || s.cache);
}

/**
 * Skips that carry no news — a check not run because one it needs failed, a server-side check of a
 * cache on another host, the coverage check when no --sample names paths — folded into one line;
 * every other result keeps its row.
 */
export function collapsedSkips(checks: readonly CheckResult[]): { checks: Set<CheckResult>; line?: string } {
  const byId = new Map(checks.map((c) => [c.id, c]));
  const neededBy = (c: CheckResult) => /^needs (\S+)$/.exec(c.reason ?? '')?.[1];
  /** The check that failed at the start of a chain of needs (signature needs cache-info, which needed connect). */
  const root = (id: string): string => {
    const seen = new Set<string>();
    let current = id;
    for (let next = byId.get(current); next && neededBy(next) && !seen.has(current); next = byId.get(current)) {
      seen.add(current);
      current = neededBy(next) ?? current;
    }
    return current;
  };
  const groups = new Map<string, string[]>();
  const folded = new Set<CheckResult>();
  for (const c of checks) {
    if (c.status !== 'skip') continue;
    const needed = neededBy(c);
    const cause = needed ? byId.get(root(needed)) : undefined;
    const why = needed
      ? `${cause?.id ?? needed} ${cause?.status === 'fail' ? 'failed' : 'was not run'}`
      : c.reason === 'remote cache'
        ? 'the cache runs on another host (nixcache doctor --server there)'
        : c.reason === 'not a server'
          ? 'this machine is not a cache server (--server checks it as one)'
          : c.reason === 'no paths named'
            ? 'no paths named (--sample PATH, repeatable, looks them up)'
            : undefined;
    if (!why) continue;
    folded.add(c);
    groups.set(why, [...(groups.get(why) ?? []), c.id]);
  }
  if (folded.size === 0) return { checks: folded };
  const parts = [...groups].map(([why, ids]) => `${ids.join(', ')}: ${why}`);
  return { checks: folded, line: `${plural(folded.size, 'check')} not run — ${parts.join('; ')}` };
}

export function describeCache(cache: CacheEntry): string {
  const parts = [];
  if (cache.order !== null) parts.push(`tried ${ordinal(cache.order)}`);
  else parts.push(cache.role === 'server' ? "this machine's cache server" : 'not in substituters');
  parts.push(
    `priority ${cache.priority} (${cache.prioritySource === 'url' ? 'from ?priority=' : cache.prioritySource === 'cache-info' ? 'from nix-cache-info' : "Nix's default"})`,
  );
  if (cache.local) parts.push('on this machine');
  return parts.join(', ');
}

function ordinal(n: number): string {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return `${n}${s[(v - 20) % 10] ?? s[v] ?? s[0]}`;
}

export function summaryLine(report: Report): string {
  const { pass, warn, fail, skip } = report.summary;
  const caches = report.caches.length;
  return `${plural(caches, 'cache')}, ${plural(report.checks.length, 'check')}: ${pass} pass, ${warn} warn, ${fail} fail, ${skip} skip (${(report.durationMs / 1000).toFixed(2)} s)`;
}

/** One evidence entry as a line of text, for the -v table and the report. */
export function evidenceLine(e: Evidence): string {
  switch (e.kind) {
    case 'exec':
      return `$ ${e.argv.join(' ')} → ${e.error ?? `exit ${e.exitCode}`} (${e.durationMs} ms)`;
    case 'http':
      return `GET ${e.url} → ${e.status ?? e.error} (${e.bytes} B, ${e.durationMs} ms)`;
    case 'dns':
      return `resolve ${e.host} → ${e.error ?? e.addresses.join(', ')} (${e.durationMs} ms)`;
    case 'tcp':
      return `tcp ${e.address}:${e.port} → ${e.result} (${e.durationMs} ms)`;
    case 'udp':
      return `dns query over udp to ${e.address}:${e.port} → ${e.result} (${e.durationMs} ms)`;
    case 'tls':
      return `tls ${e.host}:${e.port} → ${e.error ?? e.result} (${e.durationMs} ms)`;
    case 'ping':
      return `ping ${e.host} → ${e.error ?? (e.alive ? `alive, ${e.rttMs} ms` : 'no reply')} (${e.durationMs} ms)`;
    case 'file':
      return `${e.op} ${e.path} → ${e.result}`;
  }
}
