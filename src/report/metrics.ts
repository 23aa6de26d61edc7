import { Counter, Gauge, Registry } from 'prom-client';
import { type CheckResult, type Report, STATUSES } from './model.js';
import { redactPatterns } from './redact.js';

/**
 * The report as Prometheus metrics (text exposition 0.0.4), for node_exporter's textfile collector
 * (`doctor --metrics FILE`) and the `serve-metrics` exporter. The report is already redacted; every
 * label value is scrubbed of secret shapes once more and made one printable line, because a metrics
 * file is read by other programs and often by people at a terminal.
 */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** What the exporter adds about itself. */
export interface ExporterState {
  /** Runs (the doctor, and the coverage with --coverage) started since the exporter started. */
  runs: number;
  /** A run is going on now (its result is not in these metrics yet). */
  running: boolean;
  /** Unix time (s) the metrics' run finished. */
  lastRunSeconds: number;
}

const MAX_LABEL = 512;

/** A label value other programs and terminals can take: one line, no control bytes, no secrets, bounded. */
export function labelValue(text: string): string {
  const clean = redactPatterns(text).replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return clean.length > MAX_LABEL ? `${clean.slice(0, MAX_LABEL - 1)}…` : clean;
}

export type GaugeMaker = <L extends string>(name: string, help: string, labelNames?: readonly L[]) => Gauge<L>;

/** A gauge maker registering in REGISTRY: every family of our metrics is a gauge of one run. */
export function gaugesIn(registry: Registry): GaugeMaker {
  return <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });
}

export async function renderMetrics(report: Report): Promise<string> {
  const registry = new Registry();
  const gauge = gaugesIn(registry);

  gauge('nixcache_info', 'The nixcache that made these metrics (always 1).', ['version']).set(
    { version: labelValue(report.tool.version) },
    1,
  );
  gauge('nixcache_run_timestamp_seconds', 'When the doctor run finished (Unix time).').set(
    Math.round(Date.parse(report.generatedAt) / 1000) || 0,
  );
  gauge('nixcache_run_duration_seconds', 'How long the doctor run took.').set(report.durationMs / 1000);
  const counts = gauge('nixcache_checks', 'Checks of the run, by status.', ['status']);
  for (const s of STATUSES) counts.set({ status: s }, report.summary[s]);

  const status = gauge(
    'nixcache_check_status',
    'Result of each check: 1 for its status, 0 for the others (cache is empty for checks of this machine).',
    ['check', 'cache', 'status'],
  );
  for (const c of report.checks) {
    const labels = { check: labelValue(c.id), cache: labelValue(c.cache ?? '') };
    for (const s of STATUSES) status.set({ ...labels, status: s }, c.status === s ? 1 : 0);
  }

  const up = gauge('nixcache_cache_up', 'Whether the cache answered: 1 when connect and cache-info did not fail, else 0.', ['cache']);
  const connect = gauge('nixcache_cache_connect_duration_seconds', 'TCP connect time to the cache (the connect check).', ['cache']);
  const info = gauge('nixcache_cache_info_duration_seconds', 'Time of GET /nix-cache-info (the cache-info check).', ['cache']);
  const priority = gauge('nixcache_cache_priority', 'The priority Nix gives the cache (lower is tried first).', ['cache']);
  const order = gauge('nixcache_cache_order', 'The position (1-based) in which Nix tries the cache among the substituters.', ['cache']);
  for (const entry of report.caches) {
    const cache = labelValue(entry.url);
    const of = (id: string) => report.checks.find((c) => c.id === id && c.cache === entry.url);
    const isUp = cacheUp(of('connect'), of('cache-info'));
    if (isUp !== undefined) up.set({ cache }, isUp ? 1 : 0);
    const connectMs = of('connect')?.data.connectMs;
    if (typeof connectMs === 'number' && of('connect')?.status !== 'fail') connect.set({ cache }, connectMs / 1000);
    const infoMs = of('cache-info')?.data.latencyMs;
    if (typeof infoMs === 'number' && of('cache-info')?.status !== 'fail') info.set({ cache }, infoMs / 1000);
    priority.set({ cache }, entry.priority);
    if (entry.order !== null) order.set({ cache }, entry.order);
  }

  serverMetrics(
    report.checks.find((c) => c.id === 'hit-rate' && c.status !== 'skip'),
    gauge,
  );

  return registry.metrics();
}

/** The exporter's own metrics, rendered at each scrape (they change between runs). */
export async function renderExporterMetrics(exporter: ExporterState): Promise<string> {
  const registry = new Registry();
  new Counter({
    name: 'nixcache_exporter_runs_total',
    help: 'Runs (the doctor, with the coverage of any --coverage paths) started since the exporter started.',
    registers: [registry],
  }).inc(exporter.runs);
  new Gauge({
    name: 'nixcache_exporter_run_in_progress',
    help: 'A run is going on now (the other metrics are from the previous one).',
    registers: [registry],
  }).set(exporter.running ? 1 : 0);
  new Gauge({
    name: 'nixcache_exporter_last_run_timestamp_seconds',
    help: 'When the run the other metrics come from finished (Unix time).',
    registers: [registry],
  }).set(exporter.lastRunSeconds);
  return registry.metrics();
}

/**
 * Up unless connect or cache-info failed, or cache-info could not run because of them; undefined
 * when neither check ran (e.g. --only signature) — no series rather than a guess.
 */
export function cacheUp(connect: CheckResult | undefined, cacheInfo: CheckResult | undefined): boolean | undefined {
  if (connect?.status === 'fail' || cacheInfo?.status === 'fail') return false;
  if (cacheInfo?.status === 'skip' && cacheInfo.reason?.startsWith('needs')) return false;
  if (cacheInfo && cacheInfo.status !== 'skip') return true;
  if (connect && connect.status !== 'skip') return true;
  return undefined;
}

/** The cache server's own figures, from the hit-rate check (gauges over its window, not counters). */
function serverMetrics(result: CheckResult | undefined, gauge: GaugeMaker): void {
  if (!result) return;
  const d = result.data;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const requests = gauge(
    'nixcache_server_narinfo_requests',
    'narinfo requests the cache server answered in the window, by result (hit 200, miss 404, other).',
    ['result'],
  );
  const hits = num(d.narinfoHits) ?? 0;
  const misses = num(d.narinfoMisses) ?? 0;
  requests.set({ result: 'hit' }, hits);
  requests.set({ result: 'miss' }, misses);
  requests.set({ result: 'other' }, Math.max(0, (num(d.narinfoRequests) ?? 0) - hits - misses));
  const ratio = num(d.hitRatio);
  if (ratio !== undefined) gauge('nixcache_server_hit_ratio', 'narinfo hits / (hits + misses) in the window.').set(ratio);
  const narRequests = num(d.narRequests);
  if (narRequests !== undefined) gauge('nixcache_server_nar_requests', 'NAR file requests in the window.').set(narRequests);
  const bytes = num(d.narBytes);
  if (bytes !== undefined) gauge('nixcache_server_nar_bytes', 'Bytes of NAR files sent in the window.').set(bytes);
  const errors = num(d.serverErrors);
  if (errors !== undefined) gauge('nixcache_server_error_responses', 'Requests answered 5xx in the window.').set(errors);
  const since = num(d.sinceSeconds);
  if (since !== undefined) gauge('nixcache_server_window_seconds', 'The length of the window the server figures cover.').set(since);
}
