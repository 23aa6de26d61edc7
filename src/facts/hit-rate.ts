import type { CacheTarget } from '../discover/types.js';
import { accessLogHitRate } from '../host/access-log.js';
import { harmoniaHitRate } from '../host/harmonia.js';
import type { HitRate } from '../host/hit-rate.js';
import { cacheFileUrl, isHttpScheme } from '../nix/store-url.js';
import type { Io } from '../system/io.js';
import type { ListenerState, SystemdState } from './types.js';

/** What the user said about the server's records: `--access-log FILE`, `--since 1h`. */
export interface HitRateOptions {
  accessLog?: string;
  sinceMs: number;
}

export const DEFAULT_SINCE_MS = 3_600_000;
/** The end of a big access log is read, not the whole of it: its last MAX_LOG_BYTES. */
export const MAX_LOG_BYTES = 4 * 1024 * 1024;
const MAX_METRICS_BYTES = 2 * 1024 * 1024;

/** The server's own figures, or why there are none. */
export type HitRateFact =
  | { kind: 'none'; why: string }
  | { kind: 'unreadable'; source: string; message: string }
  | { kind: 'read'; source: string; hitRate: HitRate; sinceMs: number | null; partial: boolean };

/** Units whose journal holds an access log: nix-serve (Plack's access log) and nginx in front of a cache. */
const JOURNAL_UNITS = ['nix-serve.service', 'nginx.service'];

export interface HitRateWorld {
  targets: readonly CacheTarget[];
  /** This machine is checked as a cache server; otherwise only --access-log is read. */
  server: boolean;
  systemd(): Promise<SystemdState>;
  listeners(): Promise<ListenerState>;
  /** Milliseconds since the epoch, now. */
  now(): number;
}

/**
 * Where a cache server keeps its figures, in this order: the access log named with --access-log;
 * harmonia's /metrics when harmonia serves a cache on this machine; the journal of nix-serve or nginx.
 */
export async function readHitRate(io: Io, options: HitRateOptions, world: HitRateWorld): Promise<HitRateFact> {
  const nowMs = world.now();
  const window = { sinceMs: nowMs - options.sinceMs, nowMs };
  if (options.accessLog) return readAccessLog(io, options.accessLog, window, options.sinceMs);
  if (!world.server) return { kind: 'none', why: 'not a cache server' };

  const sd = await world.systemd();
  const active = (unit: string) => sd.available && sd.units.some((u) => u.Id === unit && u.ActiveState === 'active');
  const local = world.targets.filter((t) => t.local && isHttpScheme(t.url.scheme) && t.url.httpBase);
  if (local.length > 0) {
    const listening = await world.listeners();
    const byHarmonia = (t: CacheTarget) =>
      'list' in listening && listening.list.some((l) => l.port === t.url.port && l.process === 'harmonia');
    for (const target of local.filter((t) => active('harmonia.service') || byHarmonia(t))) {
      const url = cacheFileUrl(target.url.httpBase as string, 'metrics');
      const r = await io.http.get(url, { maxBytes: MAX_METRICS_BYTES, maxRedirects: 0 });
      if (!r.ok) return { kind: 'unreadable', source: `harmonia ${target.url.display}/metrics`, message: r.error.message };
      if (r.response.status !== 200)
        return { kind: 'unreadable', source: `harmonia ${target.url.display}/metrics`, message: `answered ${r.response.status}` };
      const hitRate = harmoniaHitRate(r.response.body);
      if (hitRate) return { kind: 'read', source: `harmonia ${target.url.display}/metrics`, hitRate, sinceMs: null, partial: false };
    }
  }
  for (const unit of JOURNAL_UNITS.filter(active)) {
    const since = `-${Math.max(1, Math.round(options.sinceMs / 1000))}s`;
    const j = await io.exec('journalctl', ['-u', unit, '-o', 'cat', '--since', since, '--no-pager'], { quiet: true });
    if (j.exitCode !== 0) continue;
    const text = j.stdout.length > MAX_LOG_BYTES ? j.stdout.slice(-MAX_LOG_BYTES) : j.stdout;
    const hitRate = accessLogHitRate(text, window);
    if (hitRate.requests > 0)
      return { kind: 'read', source: `journalctl -u ${unit}`, hitRate, sinceMs: options.sinceMs, partial: text.length < j.stdout.length };
  }
  return {
    kind: 'none',
    why: 'no access log or server metrics found (harmonia serves /metrics; for nginx or nix-serve give --access-log FILE)',
  };
}

async function readAccessLog(io: Io, file: string, window: { sinceMs: number; nowMs: number }, sinceMs: number): Promise<HitRateFact> {
  const stat = await io.fs.stat(file);
  if (!stat) return { kind: 'unreadable', source: file, message: `'${file}' does not exist` };
  if (!stat.isFile) return { kind: 'unreadable', source: file, message: `'${file}' is not a file` };
  // tail reads the end of a log of any size without reading the rest; its output stays out of the evidence.
  const r = await io.exec('tail', ['-c', String(MAX_LOG_BYTES), '--', file], { quiet: true });
  if (r.exitCode !== 0)
    return {
      kind: 'unreadable',
      source: file,
      message: r.missing ? "'tail' is not installed" : r.stderr.trim().split('\n')[0] || 'tail failed',
    };
  const partial = stat.size > MAX_LOG_BYTES;
  // Read from the middle of a line: the first one is incomplete.
  const text = partial ? r.stdout.slice(r.stdout.indexOf('\n') + 1) : r.stdout;
  return { kind: 'read', source: file, hitRate: accessLogHitRate(text, window), sinceMs, partial };
}
