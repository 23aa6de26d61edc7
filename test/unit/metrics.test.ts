import { describe, expect, it } from 'vitest';
import { Exporter, type ExporterDeps } from '../../src/commands/exporter.js';
import { coverageFlagsOf } from '../../src/commands/serve-metrics.js';
import { parseExposition, type Sample } from '../../src/host/prom-text.js';
import { type CoverageCache, type CoverageReport, NO_COUNTS } from '../../src/report/coverage.js';
import { renderCoverageMetrics } from '../../src/report/coverage-metrics.js';
import { renderExporterMetrics, renderMetrics } from '../../src/report/metrics.js';
import { type CheckResult, crashReport, type Report, summarise } from '../../src/report/model.js';

const result = (
  id: string,
  cache: string | null,
  status: CheckResult['status'],
  data: Record<string, unknown> = {},
  reason: string | null = null,
) => ({ id, title: id, cache, status, summary: '', detail: null, fix: null, reason, data, evidence: [], durationMs: 1 }) as CheckResult;

const HEALTHY = 'http://127.0.0.1:5000?priority=10';
const DEAD = 'http://user:***@cache.lan.invalid:5000';

function report(checks: CheckResult[]): Report {
  const base = crashReport(new Error('unused'), false, { user: 'alice' });
  return {
    ...base,
    durationMs: 250,
    generatedAt: '2026-11-25T10:00:00.000Z',
    caches: [
      { url: HEALTHY, role: 'substituter', local: true, priority: 10, prioritySource: 'url', order: 1 },
      { url: DEAD, role: 'substituter', local: false, priority: 40, prioritySource: 'cache-info', order: 2 },
      { url: 'http://127.0.0.1:6000', role: 'cli', local: true, priority: 0, prioritySource: 'default', order: null },
    ],
    checks,
    summary: summarise(checks),
  };
}

const CHECKS = [
  result('config', null, 'pass'),
  result('connect', HEALTHY, 'pass', { connectMs: 3 }),
  result('cache-info', HEALTHY, 'pass', { latencyMs: 12, priority: 10 }),
  result('signature', HEALTHY, 'pass'),
  result('connect', DEAD, 'fail', { resolveError: 'ENOTFOUND' }),
  result('cache-info', DEAD, 'skip', {}, 'needs connect'),
  result('signature', DEAD, 'skip', {}, 'needs cache-info'),
  result('hit-rate', null, 'pass', {
    narinfoHits: 5,
    narinfoMisses: 3,
    narinfoRequests: 8,
    hitRatio: 0.625,
    narBytes: 480,
    narRequests: 3,
    serverErrors: 0,
    sinceSeconds: 3600,
  }),
];

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('the report as Prometheus metrics', () => {
  it('gives each check one series per status, 1 for the status it has', async () => {
    const { samples } = parseExposition(await renderMetrics(report(CHECKS)));
    const connect = samples.filter((s) => s.name === 'nixcache_check_status' && s.labels.check === 'connect' && s.labels.cache === DEAD);
    expect(connect.map((s) => [s.labels.status, s.value])).toEqual([
      ['pass', 0],
      ['warn', 0],
      ['fail', 1],
      ['skip', 0],
    ]);
    expect(value(samples, 'nixcache_check_status', { check: 'config', cache: '', status: 'pass' })).toBe(1);
  });

  it('says which caches are up, their latency, priority and the order Nix tries them', async () => {
    const { samples } = parseExposition(await renderMetrics(report(CHECKS)));
    expect(value(samples, 'nixcache_cache_up', { cache: HEALTHY })).toBe(1);
    expect(value(samples, 'nixcache_cache_up', { cache: DEAD })).toBe(0);
    expect(value(samples, 'nixcache_cache_connect_duration_seconds', { cache: HEALTHY })).toBe(0.003);
    expect(value(samples, 'nixcache_cache_connect_duration_seconds', { cache: DEAD })).toBeUndefined();
    expect(value(samples, 'nixcache_cache_info_duration_seconds', { cache: HEALTHY })).toBe(0.012);
    expect(value(samples, 'nixcache_cache_priority', { cache: DEAD })).toBe(40);
    expect(value(samples, 'nixcache_cache_order', { cache: HEALTHY })).toBe(1);
    expect(value(samples, 'nixcache_cache_order', { cache: 'http://127.0.0.1:6000' })).toBeUndefined();
    // Neither connect nor cache-info ran for it: no guess.
    expect(value(samples, 'nixcache_cache_up', { cache: 'http://127.0.0.1:6000' })).toBeUndefined();
  });

  it('carries the run: version, duration, time, counts and the server figures', async () => {
    const { samples } = parseExposition(await renderMetrics(report(CHECKS)));
    expect(value(samples, 'nixcache_info', { version: '0.1.0' })).toBe(1);
    expect(value(samples, 'nixcache_run_duration_seconds')).toBe(0.25);
    expect(value(samples, 'nixcache_run_timestamp_seconds')).toBe(Date.UTC(2026, 10, 25, 10) / 1000);
    expect(value(samples, 'nixcache_checks', { status: 'skip' })).toBe(2);
    expect(value(samples, 'nixcache_server_narinfo_requests', { result: 'miss' })).toBe(3);
    expect(value(samples, 'nixcache_server_hit_ratio')).toBe(0.625);
    expect(value(samples, 'nixcache_server_nar_bytes')).toBe(480);
    expect(value(samples, 'nixcache_server_window_seconds')).toBe(3600);
  });

  it('keeps passwords and control bytes out of label values, even if a report still held them', async () => {
    const leaky = report([result('connect', 'http://alice:s3cret@host\u001b[2J\nx:5000', 'fail')]);
    const text = await renderMetrics(leaky);
    expect(text).not.toContain('s3cret');
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(text).toContain('cache="http://alice:***@host\\\\x1b[2J\\\\x0ax:5000"');
  });

  it('describes the exporter at each scrape', async () => {
    const { samples } = parseExposition(await renderExporterMetrics({ runs: 3, running: true, lastRunSeconds: 1_800_000_000 }));
    expect(value(samples, 'nixcache_exporter_runs_total')).toBe(3);
    expect(value(samples, 'nixcache_exporter_run_in_progress')).toBe(1);
  });
});

const coverageCache = (url: string, order: number, counts: Partial<CoverageCache>): CoverageCache => ({
  url,
  order,
  priority: 40,
  prioritySource: 'cache-info',
  used: true,
  unusedReason: null,
  ...NO_COUNTS,
  ...counts,
});

const LAN = 'http://127.0.0.1:5000?priority=10';
const PASSWORDED = 'http://monitor:s3cret-pass@cache.lan.invalid:5000';

function coverageReport(extra: Partial<CoverageReport> = {}): CoverageReport {
  return {
    schemaVersion: 1,
    kind: 'coverage',
    tool: { name: 'nixcache', version: '0.1.0' },
    generatedAt: '2026-11-25T10:00:00.000Z',
    durationMs: 1500,
    environment: {
      nixVersion: '2.24.9',
      user: 'alice',
      multiUser: true,
      trustedUser: false,
      storeDir: '/nix/store',
      requireSigs: true,
      fallback: false,
      configFiles: [],
    },
    diskCache: { state: 'absent', path: null, owner: 'alice', message: null, ttls: { negative: 3600, positive: 2592000 } },
    closure: true,
    roots: ['/nix/store/6vp2i8hirqg8x2dq8863mwgyxqvv1hkr-app'],
    paths: 4,
    available: 3,
    caches: [
      coverageCache(LAN, 1, { present: 3, missing: 1, coverage: 0.75, fileSize: 1200, narSize: 4096, attributed: 3 }),
      coverageCache(PASSWORDED, 2, { untrusted: 1, auth: 3, coverage: 0 }),
    ],
    missing: ['/nix/store/l12sx7qsw5p68k7pclnyfmjjdyvypnn7-leaf-b'],
    holes: [{ cache: LAN, path: '/nix/store/6vp2i8hirqg8x2dq8863mwgyxqvv1hkr-app', missing: ['l12sx7qsw5p68k7pclnyfmjjdyvypnn7-leaf-b'] }],
    errors: [],
    requests: { total: 8, retries: 0, rateLimited: 0 },
    complete: true,
    ...extra,
  };
}

describe('a coverage run as Prometheus metrics', () => {
  it('gives each cache its ratio, its paths by state and the sizes of what it has, labelled with its place in Nix’s order', async () => {
    const { samples, skipped } = parseExposition(await renderCoverageMetrics(coverageReport()));
    expect(skipped).toBe(0);
    const lan = { cache: LAN, order: '1' };
    expect(value(samples, 'nixcache_coverage_ratio', lan)).toBe(0.75);
    expect(value(samples, 'nixcache_coverage_file_size_bytes', lan)).toBe(1200);
    expect(value(samples, 'nixcache_coverage_nar_size_bytes', lan)).toBe(4096);
    const states = (cache: string) =>
      samples.filter((s) => s.name === 'nixcache_coverage_cache_paths' && s.labels.cache === cache).map((s) => [s.labels.state, s.value]);
    expect(states(LAN)).toEqual([
      ['present', 3],
      ['missing', 1],
      ['untrusted', 0],
      ['auth', 0],
      ['error', 0],
      ['unreachable', 0],
      ['nar_missing', 0],
    ]);
    expect(Object.fromEntries(states('http://monitor:***@cache.lan.invalid:5000'))).toMatchObject({ untrusted: 1, auth: 3, present: 0 });
    // A narinfo Nix accepts whose NAR cannot be downloaded has its own state: the states add up to the paths.
    const narless = parseExposition(
      await renderCoverageMetrics(
        coverageReport({ paths: 4, caches: [coverageCache(LAN, 1, { present: 1, narMissing: 3, coverage: 0.25 })] }),
      ),
    ).samples;
    const counts = narless.filter((s) => s.name === 'nixcache_coverage_cache_paths');
    expect(Object.fromEntries(counts.map((s) => [s.labels.state, s.value]))).toMatchObject({ present: 1, nar_missing: 3 });
    expect(counts.reduce((n, s) => n + s.value, 0)).toBe(4);
    expect(value(samples, 'nixcache_coverage_ratio', { order: '2' })).toBe(0);
  });

  it('carries the run: paths, those Nix must build, holes, the share available, duration, time and version', async () => {
    const { samples } = parseExposition(await renderCoverageMetrics(coverageReport()));
    expect(value(samples, 'nixcache_coverage_up')).toBe(1);
    expect(value(samples, 'nixcache_coverage_paths')).toBe(4);
    expect(value(samples, 'nixcache_coverage_unavailable_paths')).toBe(1);
    expect(value(samples, 'nixcache_coverage_available_ratio')).toBe(0.75);
    expect(value(samples, 'nixcache_coverage_holes')).toBe(1);
    expect(value(samples, 'nixcache_coverage_run_duration_seconds')).toBe(1.5);
    expect(value(samples, 'nixcache_coverage_run_timestamp_seconds')).toBe(Date.UTC(2026, 10, 25, 10) / 1000);
    expect(value(samples, 'nixcache_coverage_info', { version: '0.1.0' })).toBe(1);
    // Every family is the coverage's own: beside the doctor's in one textfile directory or one scrape, no name twice.
    expect(samples.every((s) => s.name.startsWith('nixcache_coverage_'))).toBe(true);
  });

  it('says up 0 and gives no counts when the run was cut short or could not look everything up', async () => {
    for (const report of [
      coverageReport({ complete: false }),
      coverageReport({ errors: [{ argument: '/etc/passwd', message: 'not in the Nix store' }] }),
    ]) {
      const { samples } = parseExposition(await renderCoverageMetrics(report));
      expect(value(samples, 'nixcache_coverage_up')).toBe(0);
      expect(samples.map((s) => s.name).sort()).toEqual([
        'nixcache_coverage_info',
        'nixcache_coverage_run_duration_seconds',
        'nixcache_coverage_run_timestamp_seconds',
        'nixcache_coverage_up',
      ]);
    }
  });

  it('keeps passwords out of label values and escapes hostile ones so the exposition still parses', async () => {
    const hostile = 'http://x:5000/"} nixcache_coverage_up{a="1\\\n\u001b[2J';
    const report = coverageReport({
      caches: [coverageCache(PASSWORDED, 1, { present: 3, coverage: 0.75 }), coverageCache(hostile, 2, { present: 1, coverage: 0.25 })],
    });
    const text = await renderCoverageMetrics(report);
    expect(text).not.toContain('s3cret-pass');
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    const { samples, skipped } = parseExposition(text);
    expect(skipped).toBe(0);
    expect(value(samples, 'nixcache_coverage_ratio', { cache: 'http://monitor:***@cache.lan.invalid:5000' })).toBe(0.75);
    // The hostile URL is one label value, read back as written (control bytes as \xNN), not a second series.
    const ratios = samples.filter((s) => s.name === 'nixcache_coverage_ratio');
    expect(ratios).toHaveLength(2);
    expect(ratios[1]?.labels.cache).toBe('http://x:5000/"} nixcache_coverage_up{a="1\\\\x0a\\x1b[2J');
    expect(samples.filter((s) => s.name === 'nixcache_coverage_up')).toEqual([{ name: 'nixcache_coverage_up', labels: {}, value: 1 }]);
  });
});

describe('serve-metrics --coverage', () => {
  it('measures the paths’ closures with the doctor’s caches, keys, conf, timeout and deadline', () => {
    const doctor = {
      json: false,
      caches: ['http://127.0.0.1:5000'],
      trustedKeys: ['lan-1:abc='],
      samples: [],
      timeoutMs: 2000,
      deadlineMs: 20_000,
      strict: false,
      only: [],
      skip: [],
      server: false,
      plugins: [],
      verbose: false,
      color: true,
      conf: '/etc/nix/nix.conf',
    };
    const flags = {
      doctor,
      host: '127.0.0.1',
      port: 9925,
      minIntervalMs: 60_000,
      coveragePaths: ['/nix/store/6vp2i8hirqg8x2dq8863mwgyxqvv1hkr-app'],
    };
    expect(coverageFlagsOf(flags)).toMatchObject({
      caches: doctor.caches,
      trustedKeys: doctor.trustedKeys,
      conf: doctor.conf,
      timeoutMs: 2000,
      deadlineMs: 20_000,
      args: flags.coveragePaths,
      closure: true,
      system: false,
      json: false,
    });
    expect(coverageFlagsOf({ ...flags, coveragePaths: [] })).toBeUndefined();
  });
});

/** An exporter whose runs and timers the test finishes by hand: no wall clock. */
function harness(minIntervalMs = 60_000) {
  let clock = 0;
  const runs: { finish(text: string): void }[] = [];
  const timers: { ms: number; fire(): void; cancelled: boolean }[] = [];
  const deps: ExporterDeps = {
    run: () =>
      new Promise<string>((resolve) => {
        runs.push({ finish: resolve });
      }),
    minIntervalMs,
    deadlineMs: 30_000,
    now: () => clock,
    sleep: (ms) => {
      let fire = () => {};
      const promise = new Promise<void>((resolve) => {
        fire = resolve;
      });
      const timer = { ms, fire, cancelled: false };
      timers.push(timer);
      return {
        promise,
        cancel: () => {
          timer.cancelled = true;
        },
      };
    },
  };
  return {
    exporter: new Exporter(deps),
    runs,
    timers,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

describe('serve-metrics scheduling', () => {
  it('runs the doctor once for 50 concurrent scrapes, and all of them get its result', async () => {
    const { exporter, runs } = harness();
    const scrapes = Array.from({ length: 50 }, () => exporter.scrape());
    expect(runs).toHaveLength(1);
    runs[0]?.finish('run 1');
    const answers = await Promise.all(scrapes);
    expect(new Set(answers.map((a) => (a.kind === 'pending' ? 'pending' : a.snapshot.text)))).toEqual(new Set(['run 1']));
    expect(exporter.runs).toBe(1);
  });

  it('answers from the last run within the minimum interval, and starts a new run after it', async () => {
    const { exporter, runs, advance } = harness(60_000);
    const first = exporter.scrape();
    runs[0]?.finish('run 1');
    await first;
    advance(59_999);
    expect(await exporter.scrape()).toMatchObject({ kind: 'cached', snapshot: { text: 'run 1' } });
    expect(runs).toHaveLength(1);
    advance(1);
    // Stale: a new run starts, and this scrape gets the previous result at once.
    expect(await exporter.scrape()).toMatchObject({ kind: 'cached', snapshot: { text: 'run 1' } });
    expect(runs).toHaveLength(2);
  });

  it('never starts a second run while one is slow, and keeps serving the previous result', async () => {
    const { exporter, runs, advance } = harness(1000);
    const first = exporter.scrape();
    runs[0]?.finish('run 1');
    await first;
    advance(5000);
    await exporter.scrape();
    expect(exporter.running).toBe(true);
    for (let i = 0; i < 20; i++) {
      advance(5000);
      expect(await exporter.scrape()).toMatchObject({ kind: 'cached', snapshot: { text: 'run 1' } });
    }
    expect(runs).toHaveLength(2);
    const second = exporter.refresh();
    runs[1]?.finish('run 2');
    expect(await second).toMatchObject({ text: 'run 2', run: 2 });
    expect(exporter.running).toBe(false);
  });

  it('gives up on a first run that outlasts the deadline instead of keeping the scrape waiting', async () => {
    const { exporter, timers } = harness();
    const scrape = exporter.scrape();
    await Promise.resolve();
    expect(timers.map((t) => t.ms)).toEqual([30_000]);
    timers[0]?.fire();
    expect(await scrape).toEqual({ kind: 'pending' });
  });
});
