// The 200 MB NAR figure for `npm run bench` (issue #12: "Peak RSS of a run against a 200 MB NAR stays
// under the doctor's RSS goal — a benchmark figure, not a timed test"). Real Nix makes the cache: a
// store path of 200 MiB of random bytes (incompressible, so each compressed file is ~200 MB too),
// `nix copy --to file://…?compression=C&secret-key=…` for zstd and for xz (`nix copy`'s default,
// decoded by the doctor's WebAssembly xz), then the store path is deleted again. Each cache is
// served on loopback by the test server, and the whole doctor runs against it with the sample
// named, loaded with scripts/rss-probe.mjs for its peak RSS. Called by scripts/bench.ts.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { KEYS, type Running, serveCache } from '../test/helpers/servers.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'dist', 'cli.js');
const PROBE = join(ROOT, 'scripts', 'rss-probe.mjs');
const NIX = ['--extra-experimental-features', 'nix-command'];
/** The doctor's peak-memory goal (README, performance goals). */
const RSS_GOAL_MB = 90;
const NAR_BYTES = 200 * 1024 * 1024;

export interface NarRow {
  figure: string;
  value: string;
  goal: string;
  met: boolean;
}

export interface NarRun {
  ms: number;
  rssMb: number | null;
  narStatus: string | null;
  narSummary: string | null;
  exitCode: number | null;
}

export interface NarBench {
  rows: NarRow[];
  results: {
    narBytes: number;
    caches: { compression: string; fileBytes: number; runs: NarRun[]; peakRssMb: number | null; medianMs: number; verified: boolean }[];
    goalRssMb: number;
    allMet: boolean;
  };
}

/** The compressions measured: zstd (fast to make), xz (what `nix copy` writes unless told otherwise). */
const COMPRESSIONS = ['zstd', 'xz'] as const;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

/** Signed caches (one per compression) holding one store path of 200 MiB of random bytes; the store path itself is deleted before this returns. */
async function makeBigCaches(work: string): Promise<{ caches: { compression: string; dir: string }[]; path: string }> {
  const file = join(work, 'nixcache-bench-nar-200m');
  writeFileSync(file, randomBytes(NAR_BYTES));
  const path = (await execa('nix-store', ['--add', file])).stdout.trim();
  rmSync(file);
  try {
    const caches: { compression: string; dir: string }[] = [];
    for (const compression of COMPRESSIONS) {
      const dir = join(work, `cache-${compression}`);
      const to = `file://${dir}?compression=${compression}&secret-key=${join(KEYS, 'lan.sec')}`;
      await execa('nix', [...NIX, 'copy', '--to', to, path], { timeout: 900_000 });
      caches.push({ compression, dir });
    }
    return { caches, path };
  } finally {
    // The doctor looks the sample up in the cache, not in the store: nothing of the bench stays there.
    await execa('nix-store', ['--delete', path], { reject: false, timeout: 120_000 });
  }
}

/**
 * One doctor run with the probe loaded. Linux keeps a process's peak RSS across execve, and a child
 * forked from this process (which holds the served 200 MB file) could start with its pages: a small
 * shell stays the CLI's parent, as in test/system/nar.test.ts.
 */
async function doctorRun(env: Record<string, string>, sample: string, url: string, work: string): Promise<NarRun> {
  const rssFile = join(work, `rss-${Math.random().toString(36).slice(2)}.json`);
  const started = performance.now();
  const r = await execa(
    'sh',
    [
      '-c',
      '"$@"; status=$?; exit $status',
      'sh',
      process.execPath,
      '--import',
      PROBE,
      CLI,
      'doctor',
      '--json',
      '--sample',
      sample,
      '--timeout',
      '30',
    ],
    {
      env: { ...env, NIXCACHE_RSS_FILE: rssFile },
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      timeout: 600_000,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const ms = performance.now() - started;
  let rssMb: number | null = null;
  try {
    rssMb = (JSON.parse(readFileSync(rssFile, 'utf8')) as { maxRSS: number }).maxRSS / 1024;
  } catch {
    rssMb = null;
  }
  let nar: { status?: string; summary?: string } | undefined;
  try {
    const report = JSON.parse(String(r.stdout)) as { checks: { id: string; cache: string | null; status: string; summary: string }[] };
    nar = report.checks.find((c) => c.id === 'nar' && c.cache?.replace(/\/$/, '') === url);
  } catch {
    nar = undefined;
  }
  return { ms, rssMb, narStatus: nar?.status ?? null, narSummary: nar?.summary ?? null, exitCode: r.exitCode ?? null };
}

/** Makes the caches, serves each in turn, runs the doctor RUNS times on each; cleans up after itself. */
export async function benchNar(runs = 3): Promise<NarBench> {
  const work = mkdtempSync(join(tmpdir(), 'nixcache-bench-nar-'));
  let server: Running | undefined;
  try {
    const { caches, path } = await makeBigCaches(work);
    const lanKey = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`; // MiB, as the doctor prints sizes
    const rows: NarRow[] = [];
    const results: NarBench['results']['caches'] = [];
    for (const { compression, dir } of caches) {
      const fileBytes = readdirBytes(join(dir, 'nar'));
      server = await serveCache(dir);
      const confDir = join(work, `conf-${compression}`);
      mkdirSync(confDir);
      writeFileSync(join(confDir, 'nix.conf'), `substituters = ${server.url}\ntrusted-public-keys = ${lanKey}\n`);
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: work,
        NIX_CONF_DIR: confDir,
        NIX_USER_CONF_FILES: '',
        XDG_CACHE_HOME: join(work, `xdg-cache-${compression}`),
      };
      const url = server.url.replace(/\/$/, '');
      const measured: NarRun[] = [];
      for (let i = 0; i < runs; i++) measured.push(await doctorRun(env, path, url, work));
      await server.close();
      server = undefined;
      const peaks = measured.flatMap((m) => (m.rssMb === null ? [] : [m.rssMb]));
      const peakRssMb = peaks.length === measured.length ? Math.max(...peaks) : null;
      const medianMs = median(measured.map((m) => m.ms));
      const verified = measured.every((m) => m.narStatus === 'pass');
      results.push({ compression, fileBytes, runs: measured, peakRssMb, medianMs, verified });
      rows.push(
        {
          figure: `doctor peak RSS, ${mb(NAR_BYTES)} NAR, ${compression} (${mb(fileBytes)} file; max of ${runs})`,
          value: peakRssMb === null ? 'not measured' : `${peakRssMb.toFixed(0)} MB`,
          goal: `≤ ${RSS_GOAL_MB} MB`,
          met: peakRssMb !== null && peakRssMb <= RSS_GOAL_MB,
        },
        {
          figure: `doctor wall time, ${mb(NAR_BYTES)} ${compression} NAR verified (median of ${runs})`,
          value: fmt(medianMs),
          goal: 'nar check: pass',
          met: verified,
        },
      );
    }
    return { rows, results: { narBytes: NAR_BYTES, caches: results, goalRssMb: RSS_GOAL_MB, allMet: rows.every((r) => r.met) } };
  } finally {
    await server?.close();
    rmSync(work, { recursive: true, force: true });
  }
}

/** The size of the one NAR file `nix copy` wrote. */
function readdirBytes(dir: string): number {
  return readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
}
