import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExposition, type Sample } from '../../src/host/prom-text.js';
import { serveVariant, type Variant } from '../helpers/cache-variants.js';
import { nixConf, runCli } from '../helpers/cli.js';
import { type Daemon, get, startServeMetrics, waitFor } from '../helpers/daemons.js';
import { CACHES, faultServer, KEYS, refusedPort } from '../helpers/servers.js';
import { FIXTURE_PATHS, missing } from '../helpers/system.js';

const work = mkdtempSync(join(tmpdir(), 'nixcache-metrics-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('doctor --metrics and serve-metrics on the command line', () => {
  it('replaces the metrics file whole and leaves no temporary file beside it', async () => {
    const { env } = nixConf(`substituters = http://127.0.0.1:${await refusedPort()}\n`);
    const file = join(work, 'nixcache.prom');
    writeFileSync(file, 'old content\n');
    const r = await runCli(['doctor', '--metrics', file, '--only', 'connect'], { env });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).not.toContain('nixcache_'); // the table, not the metrics, on stdout
    const samples = parseExposition(readFileSync(file, 'utf8')).samples;
    expect(
      samples.find((s) => s.name === 'nixcache_check_status' && s.labels.check === 'connect' && s.labels.status === 'fail')?.value,
    ).toBe(1);
    expect(readdirSync(work)).toEqual(['nixcache.prom']);
  });

  it('prints the metrics alone on stdout with --metrics -', async () => {
    const { env } = nixConf(`substituters = http://127.0.0.1:${await refusedPort()}\n`);
    const r = await runCli(['doctor', '--metrics', '-', '--only', 'connect'], { env });
    const parsed = parseExposition(r.stdout);
    expect(parsed.skipped).toBe(0);
    expect(parsed.samples.some((s) => s.name === 'nixcache_cache_up')).toBe(true);
  });

  it.each([
    [['doctor', '--metrics', '-', '--json'], '--metrics - writes to stdout, which --json already uses'],
    [['doctor', '--metrics', join(work, 'missing-dir', 'x.prom')], 'is not an existing, writable directory'],
    [['doctor', '--access-log', join(work, 'no-such.log')], '--access-log'],
    [['doctor', '--since', 'yesterday'], '--since must be a duration'],
    [['serve-metrics', '--listen', 'localhost'], 'give HOST:PORT'],
    [['serve-metrics', '--conf', join(work, 'no-such.conf')], '--conf'],
  ])('refuses %j with one line and exit 2', async (args, message) => {
    const r = await runCli(args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

const [APP, , LEAF_B] = FIXTURE_PATHS as [string, string, string];
const LAN_KEY = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
const PASSWORD = 'hunter2-not-for-metrics';
const hashOf = (p: string) => p.slice('/nix/store/'.length, '/nix/store/'.length + 32);
const sizes = FIXTURE_PATHS.map((p) => readFileSync(join(CACHES, 'signed-lan', `${hashOf(p)}.narinfo`), 'utf8'));
const sum = (field: string, of = sizes) => of.reduce((n, t) => n + Number(new RegExp(`^${field}: (\\d+)$`, 'm').exec(t)?.[1]), 0);
const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

const coverageSkip = missing('coverage --metrics against caches made by real Nix', {
  root: true,
  commands: ['nix', 'nix-store', 'promtool'],
});

describe.skipIf(coverageSkip)('coverage --metrics on the command line', () => {
  let full: Variant;
  let holes: Variant;
  let withPassword: string;
  const daemons: Daemon[] = [];

  beforeAll(async () => {
    full = await serveVariant(join(CACHES, 'signed-lan'));
    holes = await serveVariant(join(CACHES, 'signed-lan'), { hide: new Set([hashOf(LEAF_B)]) });
    withPassword = `http://monitor:${PASSWORD}@127.0.0.1:${await refusedPort()}`;
  });
  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    await Promise.all([full?.close(), holes?.close()]);
  });

  /** A nix.conf naming SUBSTITUTERS and the fixture's key, and an empty store to measure against. */
  function world(substituters: string[]) {
    const conf = nixConf(`substituters = ${substituters.join(' ')}\ntrusted-public-keys = ${LAN_KEY}\n`);
    const store = join(conf.dir, 'store');
    const cache = join(conf.dir, 'cache');
    mkdirSync(cache);
    return { dir: conf.dir, store, env: { ...conf.env, XDG_CACHE_HOME: cache } };
  }

  it('prints metrics promtool accepts on stdout with --metrics -, counting what each cache holds, its password redacted', async () => {
    const w = world([`${holes.url}?priority=10`, `${full.url}?priority=20`, `${withPassword}?priority=30`]);
    const r = await runCli(['coverage', '--metrics', '-', '--store', w.store, '--timeout', '2', APP], { env: w.env });
    expect(r.exitCode).toBe(0); // the full cache has every path
    expect(r.stdout).not.toContain(PASSWORD);
    // execa drops the last newline of stdout; the exposition format needs it.
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: `${r.stdout}\n`, encoding: 'utf8' });
    expect({ status: lint.status, out: lint.stdout + lint.stderr }).toEqual({ status: 0, out: '' });

    const { samples, skipped } = parseExposition(r.stdout);
    expect(skipped).toBe(0);
    expect(value(samples, 'nixcache_coverage_up')).toBe(1);
    expect(value(samples, 'nixcache_coverage_paths')).toBe(3);
    expect(value(samples, 'nixcache_coverage_unavailable_paths')).toBe(0);
    expect(value(samples, 'nixcache_coverage_holes')).toBe(1);
    const holesCache = { cache: `${holes.url}?priority=10`, order: '1' };
    expect(value(samples, 'nixcache_coverage_ratio', holesCache)).toBeCloseTo(2 / 3, 3);
    expect(value(samples, 'nixcache_coverage_cache_paths', { ...holesCache, state: 'present' })).toBe(2);
    expect(value(samples, 'nixcache_coverage_cache_paths', { ...holesCache, state: 'missing' })).toBe(1);
    const fullCache = { cache: `${full.url}?priority=20`, order: '2' };
    expect(value(samples, 'nixcache_coverage_ratio', fullCache)).toBe(1);
    // The sizes are the narinfos' FileSize and NarSize.
    expect(value(samples, 'nixcache_coverage_file_size_bytes', fullCache)).toBe(sum('FileSize'));
    expect(value(samples, 'nixcache_coverage_nar_size_bytes', fullCache)).toBe(sum('NarSize'));
    const redacted = `${withPassword.replace(PASSWORD, '***')}?priority=30`;
    expect(value(samples, 'nixcache_coverage_ratio', { cache: redacted, order: '3' })).toBe(0);
  });

  it('replaces the --metrics file whole, prints the table as before, and exits 1 when a path must be built', async () => {
    const w = world([holes.url]);
    const file = join(w.dir, 'coverage.prom');
    writeFileSync(file, 'old content\n');
    const r = await runCli(['coverage', '--metrics', file, '--store', w.store, APP], { env: w.env });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/66\.7%/); // the table, not the metrics, on stdout
    expect(r.stdout).not.toContain('nixcache_');
    expect(r.stderr).toContain(`metrics written to ${file}`);
    const { samples } = parseExposition(readFileSync(file, 'utf8'));
    expect(value(samples, 'nixcache_coverage_unavailable_paths')).toBe(1);
    expect(value(samples, 'nixcache_coverage_available_ratio')).toBeCloseTo(2 / 3, 3);
    expect(readdirSync(w.dir).filter((f) => f.includes('coverage.prom'))).toEqual(['coverage.prom']);
  });

  it('writes the metrics file beside --json, and says up 0 with no counts for a path it cannot look up', async () => {
    const w = world([full.url]);
    const file = join(w.dir, 'coverage.prom');
    const r = await runCli(['coverage', '--json', '--metrics', file, '--store', w.store, '/etc/passwd'], { env: w.env });
    expect(r.exitCode).toBe(2);
    expect(JSON.parse(r.stdout).errors[0].argument).toBe('/etc/passwd');
    const { samples } = parseExposition(readFileSync(file, 'utf8'));
    expect(value(samples, 'nixcache_coverage_up')).toBe(0);
    expect(value(samples, 'nixcache_coverage_ratio')).toBeUndefined();
  });

  it.each([
    [['--metrics', '-', '--json', APP], '--metrics - writes to stdout, which --json already uses'],
    [['--metrics', '-', APP, '--report'], '--metrics - writes to stdout, which --report already uses'],
    [['--metrics', join(work, 'missing-dir', 'x.prom'), APP], 'is not an existing, writable directory'],
  ])('refuses coverage %j with one line and exit 2, writing no metrics', async (args, message) => {
    const r = await runCli(['coverage', ...args]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).not.toContain('nixcache_coverage');
  });

  it('serve-metrics keeps serving the doctor’s metrics when the coverage cannot be measured, with nixcache_coverage_up 0', async () => {
    const w = world([full.url]);
    const exporter = await startServeMetrics(
      ['--timeout', '2', '--deadline', '20', '--only', 'connect', '--coverage', '/etc/passwd'],
      w.env,
    );
    daemons.push(exporter);
    const samples = await waitFor('a first run', async () => {
      const res = await get(`${exporter.url}/metrics`, 30_000);
      return res.status === 200 ? parseExposition(res.text).samples : undefined;
    });
    expect(value(samples, 'nixcache_cache_up', { cache: full.url })).toBe(1);
    expect(value(samples, 'nixcache_check_status', { check: 'connect', status: 'pass' })).toBe(1);
    expect(value(samples, 'nixcache_coverage_up')).toBe(0);
    expect(value(samples, 'nixcache_coverage_ratio')).toBeUndefined();
    expect(exporter.output()).toMatch(/serve-metrics: coverage: \/etc\/passwd: .*not in the Nix store/);
  });

  it('serve-metrics says nixcache_coverage_up 0 for a coverage run the deadline ended, beside that run’s doctor metrics', async () => {
    const slow = await faultServer('hang');
    try {
      const w = world([slow.url]);
      const exporter = await startServeMetrics(['--timeout', '5', '--deadline', '1', '--coverage', APP], w.env);
      daemons.push(exporter);
      const samples = await waitFor('a first run', async () => {
        const res = await get(`${exporter.url}/metrics`, 15_000);
        return res.status === 200 ? parseExposition(res.text).samples : undefined;
      });
      expect(value(samples, 'nixcache_coverage_up')).toBe(0);
      expect(value(samples, 'nixcache_coverage_paths')).toBeUndefined();
      expect(value(samples, 'nixcache_run_duration_seconds')).toBeGreaterThan(0);
      expect(samples.some((s) => s.name === 'nixcache_check_status' && s.labels.cache === slow.url)).toBe(true);
      expect(exporter.output()).toContain('serve-metrics: coverage: the run reached --deadline 1 s before every path was looked up');
    } finally {
      await slow.close();
    }
  });
});
