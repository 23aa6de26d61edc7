import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExposition, type Sample } from '../../src/host/prom-text.js';
import { serveVariant } from '../helpers/cache-variants.js';
import { nixConf, runCli } from '../helpers/cli.js';
import { type Daemon, freePort, get, startDaemon, startServeMetrics, waitFor } from '../helpers/daemons.js';
import { CACHES, faultServer, KEYS, type Running, refusedPort, serveCache } from '../helpers/servers.js';
import { FIXTURE_PATHS, missing } from '../helpers/system.js';

const reason = missing('metrics in real Prometheus, promtool and node_exporter', {
  commands: ['prometheus', 'promtool', 'prometheus-node-exporter'],
});
const coverageReason = reason ?? missing('coverage metrics in real Prometheus', { root: true, commands: ['nix', 'nix-store'] });
const RULES = new URL('../../contrib/prometheus/', import.meta.url).pathname;
const LAN_PUB = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
const PASSWORD = 'hunter2-not-for-metrics';

interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

describe.skipIf(reason)('metrics in a real Prometheus', () => {
  let work: string;
  let healthy: Running;
  let failing: string;
  let withPassword: string;
  let env: Record<string, string>;
  const daemons: Daemon[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'nixcache-prom-'));
    healthy = await serveCache(join(CACHES, 'signed-lan'));
    failing = `http://127.0.0.1:${await refusedPort()}`;
    withPassword = `http://monitor:${PASSWORD}@127.0.0.1:${await refusedPort()}`;
    env = nixConf(`substituters = ${healthy.url} ${failing} ${withPassword}\ntrusted-public-keys = ${LAN_PUB}\n`).env;
  });
  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    await healthy?.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** A real Prometheus scraping TARGET every second with the shipped rules; its HTTP API's query and the daemon. */
  async function startPrometheus(target: string, name: string) {
    const port = await freePort();
    const config = join(work, `${name}.yml`);
    writeFileSync(
      config,
      [
        'global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }',
        `rule_files: [ ${JSON.stringify(join(RULES, 'nixcache.rules.yml'))} ]`,
        'scrape_configs:',
        '  - job_name: nixcache',
        `    static_configs: [ { targets: [ ${JSON.stringify(new URL(target).host)} ] } ]`,
        '',
      ].join('\n'),
    );
    const prometheus = startDaemon('prometheus', [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(work, `${name}-data`)}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ]);
    daemons.push(prometheus);
    const api = `http://127.0.0.1:${port}/api/v1`;
    const query = async (q: string) => {
      const r = await get(`${api}/query?query=${encodeURIComponent(q)}`);
      const body = JSON.parse(r.text) as { status: string; data: { result: PromVector[] } };
      expect(body.status).toBe('success');
      return body.data.result;
    };
    return { api, query, prometheus };
  }

  it('scrapes serve-metrics, and its HTTP API has the metrics of a healthy and a failing cache, passwords redacted', async () => {
    const exporter = await startServeMetrics(
      ['--timeout', '2', '--deadline', '20', '--min-interval', '2', '--sample', FIXTURE_PATHS[0] as string],
      env,
    );
    daemons.push(exporter);
    const { api, query, prometheus } = await startPrometheus(exporter.url, 'doctor');
    const up = await waitFor(
      'Prometheus to have scraped nixcache_cache_up for three caches',
      async () => {
        const result = await query('nixcache_cache_up');
        return result.length === 3 ? result : undefined;
      },
      45_000,
    ).catch((e) => {
      throw new Error(`${e}\nprometheus: ${prometheus.output()}\nserve-metrics: ${exporter.output()}`);
    });
    const byCache = Object.fromEntries(up.map((r) => [r.metric.cache, r.value[1]]));
    expect(byCache).toEqual({ [healthy.url]: '1', [failing]: '0', [withPassword.replace(PASSWORD, '***')]: '0' });
    expect(up.every((r) => r.metric.job === 'nixcache')).toBe(true);

    const status = async (check: string, cache: string, s: string) =>
      (await query(`nixcache_check_status{check="${check}",cache="${cache}",status="${s}"}`))[0]?.value[1];
    expect(await status('signature', healthy.url, 'pass')).toBe('1');
    expect(await status('connect', failing, 'fail')).toBe('1');
    expect(await status('connect', failing, 'pass')).toBe('0');
    expect(Number((await query(`nixcache_cache_connect_duration_seconds{cache="${healthy.url}"}`))[0]?.value[1])).toBeGreaterThanOrEqual(0);
    expect(await query('nixcache_cache_order')).toHaveLength(3);
    expect((await query('nixcache_info'))[0]?.metric.version).toBe('0.1.0');

    // Every series Prometheus stored, labels and all: the password is nowhere.
    const everything = await query('{__name__=~"nixcache_.+"}');
    expect(everything.length).toBeGreaterThan(40);
    expect(JSON.stringify(everything)).not.toContain(PASSWORD);

    // The shipped rules are loaded and evaluated: the failing caches' alerts are pending (for: 10m).
    const alerts = await waitFor('the NixcacheCacheDown alerts to be pending', async () => {
      const r = JSON.parse((await get(`${api}/alerts`)).text) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
      const down = r.data.alerts.filter((a) => a.labels.alertname === 'NixcacheCacheDown');
      return down.length === 2 ? down : undefined;
    });
    expect(alerts.map((a) => [a.labels.cache, a.state]).sort()).toEqual(
      [
        [failing, 'pending'],
        [withPassword.replace(PASSWORD, '***'), 'pending'],
      ].sort(),
    );
  }, 90_000);

  it('promtool accepts the --metrics file, and node_exporter’s textfile collector serves it', async () => {
    const dir = join(work, 'textfile');
    mkdirSync(dir);
    const file = join(dir, 'nixcache.prom');
    const r = await runCli(['doctor', '--metrics', file, '--timeout', '2', '--sample', FIXTURE_PATHS[0] as string], { env });
    expect(r.exitCode).toBe(1); // the failing caches
    expect(r.stderr).toContain(`metrics written to ${file}`);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(PASSWORD);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect({ status: lint.status, out: lint.stdout + lint.stderr }).toEqual({ status: 0, out: '' });

    const port = await freePort();
    const exporter = startDaemon('prometheus-node-exporter', [
      `--web.listen-address=127.0.0.1:${port}`,
      '--collector.disable-defaults',
      '--collector.textfile',
      `--collector.textfile.directory=${dir}`,
    ]);
    daemons.push(exporter);
    const served = await waitFor('node_exporter to serve /metrics', async () => {
      const res = await get(`http://127.0.0.1:${port}/metrics`);
      return res.status === 200 ? parseExposition(res.text).samples : undefined;
    });
    const value = (name: string, labels: Record<string, string> = {}) =>
      served.find((s: Sample) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('node_textfile_scrape_error')).toBe(0);
    expect(value('nixcache_cache_up', { cache: healthy.url })).toBe(1);
    expect(value('nixcache_cache_up', { cache: failing })).toBe(0);
    expect(value('nixcache_check_status', { check: 'signature', cache: healthy.url, status: 'pass' })).toBe(1);
  }, 60_000);

  it('promtool accepts the alert rules, and their unit tests pass', () => {
    expect(execFileSync('promtool', ['check', 'rules', join(RULES, 'nixcache.rules.yml')], { encoding: 'utf8' })).toContain(
      'SUCCESS: 7 rules found',
    );
    expect(execFileSync('promtool', ['test', 'rules', join(RULES, 'nixcache.rules.test.yml')], { encoding: 'utf8' })).toContain('SUCCESS');
  });

  it('answers 50 concurrent scrapes with one doctor run, and scrapes during a slow run with the previous result', async () => {
    const slow = await faultServer('hang');
    try {
      const conf = nixConf(`substituters = ${slow.url}\n`).env;
      const deadlineMs = 8000;
      const exporter = await startServeMetrics(['--timeout', '2', '--deadline', String(deadlineMs / 1000), '--min-interval', '1'], conf);
      daemons.push(exporter);
      const scrape = async () => {
        const started = performance.now();
        const res = await get(`${exporter.url}/metrics`, deadlineMs + 5000);
        const samples = parseExposition(res.text).samples;
        const of = (name: string) => samples.find((s) => s.name === name)?.value;
        return {
          status: res.status,
          ms: performance.now() - started,
          runs: of('nixcache_exporter_runs_total'),
          running: of('nixcache_exporter_run_in_progress'),
          finished: of('nixcache_run_timestamp_seconds'),
        };
      };
      const runsSeen = () => slow.requests.filter((p) => p.endsWith('/nix-cache-info')).length;

      // The first run (started when the exporter started) hangs on the cache for --timeout: 50 scrapes wait for it.
      const first = await Promise.all(Array.from({ length: 50 }, scrape));
      expect(new Set(first.map((s) => s.status))).toEqual(new Set([200]));
      expect(new Set(first.map((s) => s.runs))).toEqual(new Set([1]));
      expect(Math.max(...first.map((s) => s.ms))).toBeLessThan(deadlineMs);
      expect(runsSeen()).toBe(1);

      // Past --min-interval, one scrape starts the next run and gets the previous result at once…
      await waitFor('the minimum interval to pass', async () => ((await scrape()).runs === 2 ? true : undefined), 10_000);
      // …and 50 concurrent scrapes during that slow run get the previous result too, without a third run.
      const during = await Promise.all(Array.from({ length: 50 }, scrape));
      expect(new Set(during.map((s) => s.status))).toEqual(new Set([200]));
      expect(new Set(during.map((s) => s.runs))).toEqual(new Set([2]));
      expect(new Set(during.map((s) => s.running))).toEqual(new Set([1]));
      expect(new Set(during.map((s) => s.finished))).toEqual(new Set([first[0]?.finished]));
      expect(Math.max(...during.map((s) => s.ms))).toBeLessThan(deadlineMs);
      await waitFor('the second run to ask the cache', () => (runsSeen() >= 2 ? true : undefined));
      expect(runsSeen()).toBe(2);

      expect(await get(`${exporter.url}/health`)).toMatchObject({ status: 200, text: 'ok\n' });
      expect((await get(`${exporter.url}/nope`)).status).toBe(404);
    } finally {
      await slow.close();
    }
  }, 60_000);

  it.skipIf(coverageReason)(
    'scrapes serve-metrics --coverage: the coverage of a cache that has the closure and of one that lacks part of it, beside the doctor’s',
    async () => {
      const lan = join(CACHES, 'signed-lan');
      const leafB = FIXTURE_PATHS[2] as string;
      const full = await serveVariant(lan);
      const holes = await serveVariant(lan, { hide: new Set([leafB.slice('/nix/store/'.length, '/nix/store/'.length + 32)]) });
      try {
        const fullUrl = `${full.url}?priority=10`;
        const holesUrl = `${holes.url}?priority=20`;
        const passworded = `${withPassword}?priority=30`;
        const conf = nixConf(`substituters = ${fullUrl} ${holesUrl} ${passworded}\ntrusted-public-keys = ${LAN_PUB}\n`).env;
        const exporter = await startServeMetrics(
          ['--timeout', '2', '--deadline', '20', '--min-interval', '2', '--coverage', FIXTURE_PATHS[0] as string],
          conf,
        );
        daemons.push(exporter);
        const { api, query, prometheus } = await startPrometheus(exporter.url, 'coverage');
        const ratios = await waitFor(
          'Prometheus to have scraped nixcache_coverage_ratio for three caches',
          async () => {
            const result = await query('nixcache_coverage_ratio');
            return result.length === 3 ? result : undefined;
          },
          45_000,
        ).catch((e) => {
          throw new Error(`${e}\nprometheus: ${prometheus.output()}\nserve-metrics: ${exporter.output()}`);
        });
        expect(Object.fromEntries(ratios.map((r) => [`${r.metric.order} ${r.metric.cache}`, Number(r.value[1])]))).toEqual({
          [`1 ${fullUrl}`]: 1,
          [`2 ${holesUrl}`]: 0.6667,
          [`3 ${passworded.replace(PASSWORD, '***')}`]: 0,
        });
        const one = async (q: string) => {
          const r = await query(q);
          expect(r).toHaveLength(1);
          return Number(r[0]?.value[1]);
        };
        expect(await one('nixcache_coverage_up')).toBe(1);
        expect(await one('nixcache_coverage_paths')).toBe(3);
        expect(await one('nixcache_coverage_unavailable_paths')).toBe(0);
        expect(await one('nixcache_coverage_available_ratio')).toBe(1);
        expect(await one('nixcache_coverage_holes')).toBe(1);
        expect(await one(`nixcache_coverage_cache_paths{cache="${holesUrl}",state="present"}`)).toBe(2);
        expect(await one(`nixcache_coverage_cache_paths{cache="${holesUrl}",state="missing"}`)).toBe(1);
        expect(await one(`sum by (cache) (nixcache_coverage_cache_paths{cache="${fullUrl}"})`)).toBe(3);
        const narinfos = FIXTURE_PATHS.map((p) =>
          readFileSync(join(lan, `${p.slice('/nix/store/'.length, '/nix/store/'.length + 32)}.narinfo`), 'utf8'),
        );
        const sum = (field: string) => narinfos.reduce((n, t) => n + Number(new RegExp(`^${field}: (\\d+)$`, 'm').exec(t)?.[1]), 0);
        expect(await one(`nixcache_coverage_file_size_bytes{cache="${fullUrl}"}`)).toBe(sum('FileSize'));
        expect(await one(`nixcache_coverage_nar_size_bytes{cache="${fullUrl}"}`)).toBe(sum('NarSize'));
        expect(await one(`nixcache_coverage_file_size_bytes{cache="${holesUrl}"}`)).toBeLessThan(sum('FileSize'));
        // The doctor's families are scraped from the same run.
        expect((await query('nixcache_cache_up == 1')).map((r) => r.metric.cache).sort()).toEqual([fullUrl, holesUrl].sort());
        expect((await query('nixcache_cache_up == 0')).map((r) => r.metric.cache)).toEqual([passworded.replace(PASSWORD, '***')]);
        expect(await one('nixcache_coverage_info')).toBe(1);
        const everything = await query('{__name__=~"nixcache_coverage_.+"}');
        expect(everything.length).toBeGreaterThan(30);
        expect(JSON.stringify(everything)).not.toContain(PASSWORD);

        // The shipped coverage rules are loaded and evaluate without error; the closure is covered, so nothing is pending.
        const coverageRules = await waitFor('the coverage rules to be evaluated', async () => {
          const rules = JSON.parse((await get(`${api}/rules`)).text) as {
            data: { groups: { rules: { name: string; health: string; state?: string }[] }[] };
          };
          const found = rules.data.groups.flatMap((g) => g.rules).filter((r) => r.name.startsWith('NixcacheCoverage'));
          return found.every((r) => r.health === 'ok') ? found : undefined;
        });
        expect(coverageRules.map((r) => [r.name, r.health, r.state])).toEqual([
          ['NixcacheCoverageLow', 'ok', 'inactive'],
          ['NixcacheCoverageNotMeasured', 'ok', 'inactive'],
        ]);
      } finally {
        await Promise.all([full.close(), holes.close()]);
      }
    },
    90_000,
  );
});
