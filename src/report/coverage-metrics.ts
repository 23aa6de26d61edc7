import { Registry } from 'prom-client';
import type { CoverageCache, CoverageReport } from './coverage.js';
import { gaugesIn, labelValue } from './metrics.js';

/**
 * A coverage run as Prometheus metrics (`coverage --metrics FILE|-`, and `serve-metrics --coverage`
 * beside the doctor's): the same writer and label scrubbing as the doctor's metrics, every name
 * under nixcache_coverage_ so both can sit in one textfile directory or one scrape.
 */

/** The states a cache's look-ups end in — the report's count, and the `state` label saying it; they add up to the paths. */
export const COVERAGE_STATES = [
  ['present', 'present'],
  ['missing', 'missing'],
  ['untrusted', 'untrusted'],
  ['auth', 'auth'],
  ['error', 'error'],
  ['unreachable', 'unreachable'],
  ['narMissing', 'nar_missing'],
] as const satisfies readonly (readonly [keyof CoverageCache, string])[];

/** Whether the run measured what it was asked: every path looked up, no argument refused, no crash. */
export function coverageMeasured(report: CoverageReport): boolean {
  return report.complete && report.errors.length === 0;
}

export async function renderCoverageMetrics(report: CoverageReport): Promise<string> {
  const registry = new Registry();
  const gauge = gaugesIn(registry);

  gauge('nixcache_coverage_info', 'The nixcache that measured the coverage (always 1).', ['version']).set(
    { version: labelValue(report.tool.version) },
    1,
  );
  const measured = coverageMeasured(report);
  gauge(
    'nixcache_coverage_up',
    'Whether the coverage run looked up every path it was asked (1), or could not (0: bad argument, crash, deadline).',
  ).set(measured ? 1 : 0);
  gauge('nixcache_coverage_run_timestamp_seconds', 'When the coverage run finished (Unix time).').set(
    Math.round(Date.parse(report.generatedAt) / 1000) || 0,
  );
  gauge('nixcache_coverage_run_duration_seconds', 'How long the coverage run took.').set(report.durationMs / 1000);
  // A run cut short counts paths it never looked up as missing: no figures rather than wrong ones.
  if (!measured) return registry.metrics();

  gauge('nixcache_coverage_paths', 'Store paths looked up (the closures of the paths named).').set(report.paths);
  gauge('nixcache_coverage_unavailable_paths', 'Store paths no cache has with a signature Nix accepts: Nix must build them.').set(
    report.missing.length,
  );
  gauge(
    'nixcache_coverage_available_ratio',
    'Share of the paths some cache has with a signature Nix accepts (0 to 1): what Nix substitutes rather than builds.',
  ).set(report.paths === 0 ? 0 : report.available / report.paths);
  gauge('nixcache_coverage_holes', 'Paths a cache has while it lacks some of their references (closure holes), over all caches.').set(
    report.holes.length,
  );

  const labels = ['cache', 'order'] as const;
  const ratio = gauge('nixcache_coverage_ratio', 'Share of the paths the cache has with a signature Nix accepts (0 to 1).', labels);
  const paths = gauge(
    'nixcache_coverage_cache_paths',
    'Paths by what the cache answered: present (signature accepted, NAR there), missing (404), untrusted (signed by no trusted key), auth (401/403/407), error (5xx, bad narinfo), unreachable (not looked up), nar_missing (narinfo accepted, its NAR not downloadable).',
    [...labels, 'state'],
  );
  const fileSize = gauge(
    'nixcache_coverage_file_size_bytes',
    'Sum of FileSize (the download) over the paths present in the cache.',
    labels,
  );
  const narSize = gauge('nixcache_coverage_nar_size_bytes', 'Sum of NarSize (unpacked) over the paths present in the cache.', labels);
  for (const c of report.caches) {
    const cache = { cache: labelValue(c.url), order: String(c.order) };
    ratio.set(cache, c.coverage);
    for (const [count, state] of COVERAGE_STATES) paths.set({ ...cache, state }, c[count]);
    fileSize.set(cache, c.fileSize);
    narSize.set(cache, c.narSize);
  }
  return registry.metrics();
}
