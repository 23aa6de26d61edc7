import type { Evidence } from '../system/evidence.js';
import type { CacheEntry, CheckResult, Report } from './model.js';

export interface Section {
  title: string;
  cache?: CacheEntry;
  checks: CheckResult[];
}

/** Host checks first, then each cache in configured order: the order people read a diagnosis in. */
export function sections(report: Report): Section[] {
  const host: Section = { title: 'This machine', checks: report.checks.filter((c) => c.cache === null) };
  const caches = report.caches.map((cache) => ({ title: cache.url, cache, checks: report.checks.filter((c) => c.cache === cache.url) }));
  return [host, ...caches].filter((s) => s.checks.length > 0 || s.cache);
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
  return `${caches} cache${caches === 1 ? '' : 's'}, ${report.checks.length} checks: ${pass} pass, ${warn} warn, ${fail} fail, ${skip} skip (${(report.durationMs / 1000).toFixed(2)} s)`;
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
    case 'tls':
      return `tls ${e.host}:${e.port} → ${e.error ?? e.result} (${e.durationMs} ms)`;
    case 'ping':
      return `ping ${e.host} → ${e.error ?? (e.alive ? `alive, ${e.rttMs} ms` : 'no reply')} (${e.durationMs} ms)`;
    case 'file':
      return `${e.op} ${e.path} → ${e.result}`;
  }
}
