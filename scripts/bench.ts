// `npm run bench`: the four figures of the performance goals, measured side by side in one run on
// this machine. Bundled and started by scripts/bench.mjs. Every server is on loopback; the fault
// world runs inside a network namespace of its own when this is root (for a real iptables DROP).
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { CACHES, faultServer, KEYS, type Running, refusedPort, serveCache, silentTcp } from '../test/helpers/servers.js';
import { benchCoverage } from './bench-coverage.js';
import { benchNar } from './bench-nar.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'dist', 'cli.js');
/** The installed command (package.json bin): what `nixcache --version` starts. */
const BIN = join(ROOT, 'dist', 'nixcache.cjs');
const PROBE = join(ROOT, 'scripts', 'rss-probe.mjs');
const FLOOR = join(ROOT, 'scripts', 'io-floor.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'nixcache-bench-'));
const trustedKey = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();

interface Timed {
  ms: number;
  rssMb?: number;
  exitCode: number | null;
  stdout: string;
}

/** Runs a command once, timing it from spawn to exit; with rss, reads the CLI's peak RSS through the probe. */
// Asynchronous on purpose: the servers under test live in this process's event loop.
// Every command starts with a clean environment, as `env -i PATH=…` would give it: no
// NODE_EXTRA_CA_CERTS or NODE_OPTIONS of this shell makes node itself start slower or faster.
async function timed(file: string, args: string[], env: Record<string, string> = {}, rss = false, toFile = false): Promise<Timed> {
  const rssFile = join(scratch, `rss-${Math.random().toString(36).slice(2)}`);
  // TOFILE: stdout is a file the command writes itself (`> out`), as for a 70 MB document: through a
  // pipe, the time would be this process reading it.
  const outFile = join(scratch, `out-${Math.random().toString(36).slice(2)}`);
  const fd = toFile ? openSync(outFile, 'w') : undefined;
  const started = performance.now();
  const r = await execa(file, args, {
    reject: false,
    stdin: 'ignore',
    ...(fd !== undefined ? { stdout: fd } : {}),
    timeout: 120_000,
    extendEnv: false,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env, ...(rss ? { NIXCACHE_RSS_FILE: rssFile } : {}) },
    maxBuffer: 256 * 1024 * 1024,
  });
  const ms = performance.now() - started;
  if (fd !== undefined) closeSync(fd);
  let rssMb: number | undefined;
  if (rss) {
    try {
      const m = JSON.parse(readFileSync(rssFile, 'utf8')) as { maxRSS: number };
      if (process.env.NIXCACHE_BENCH_DUMP) console.error(JSON.stringify(m));
      rssMb = m.maxRSS / 1024;
    } catch {
      rssMb = undefined;
    }
  }
  const stdout = fd !== undefined ? '' : String(r.stdout ?? '');
  return { ms, exitCode: r.exitCode ?? null, stdout, ...(rssMb !== undefined ? { rssMb } : {}) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** Alternates the commands so that neither gets the warmer machine. */
async function interleaved(runs: number, commands: Record<string, () => Promise<Timed>>): Promise<Record<string, Timed[]>> {
  const out: Record<string, Timed[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (let i = 0; i < runs; i++) for (const [k, f] of Object.entries(commands)) out[k]?.push(await f());
  return out;
}

function confEnv(text: string): Record<string, string> {
  const dir = mkdtempSync(join(scratch, 'conf-'));
  writeFileSync(join(dir, 'nix.conf'), text);
  return { NIX_CONF_DIR: dir, NIX_USER_CONF_FILES: '', HOME: dir, XDG_CONFIG_HOME: join(dir, 'xdg') };
}

/** The doctor's command line (the default table unless EXTRA says --json); with RSS, the probe that reports peak memory is loaded too (it is not timed). */
const doctorArgs = (extra: string[] = [], rss = false) => [...(rss ? ['--import', PROBE] : []), CLI, 'doctor', ...extra];

const hasNix = spawnSync('nix', ['--version'], { stdio: 'ignore' }).status === 0;
/** `nix store info` on newer Nix, `nix store ping` before it. */
const storeInfo =
  hasNix && spawnSync('nix', ['--extra-experimental-features', 'nix-command', 'store', 'info', '--help'], { stdio: 'ignore' }).status === 0
    ? 'info'
    : 'ping';
const nixStorePing = async (url: string) =>
  (await timed('nix', ['--extra-experimental-features', 'nix-command', 'store', storeInfo, '--store', url])).ms;

/**
 * What one doctor run on CACHES starts and asks, for scripts/io-floor.mjs: the programs its evidence
 * names (and `nix show-config`, which it runs unrecorded when Nix is installed), a ping per host it
 * pinged, its TCP probes, and the requests each cache server logged during the run.
 */
async function floorPlan(caches: Running[], env: Record<string, string>) {
  const before = caches.map((c) => c.requests.length);
  const run = await timed(process.execPath, doctorArgs(['--json']), env);
  type Evidence = { kind: string; argv?: string[]; host?: string; address?: string; port?: number };
  const evidence = ((JSON.parse(run.stdout) as { checks: { evidence?: Evidence[] }[] }).checks ?? []).flatMap((c) => c.evidence ?? []);
  const distinct = <T>(xs: T[]) => [...new Map(xs.map((x) => [JSON.stringify(x), x])).values()];
  const programs = distinct([
    ...(hasNix ? [['nix', '--extra-experimental-features', 'nix-command', 'show-config', '--json']] : []),
    ...evidence.filter((e) => e.kind === 'exec' && e.argv).map((e) => e.argv as string[]),
    ...evidence.filter((e) => e.kind === 'ping' && e.host).map((e) => ['ping', '-n', '-c', '3', '-i', '0.002', e.host as string]),
  ]);
  const tcp = distinct(evidence.filter((e) => e.kind === 'tcp' && e.address && e.port).map((e) => [e.address, e.port]));
  const origins = Object.fromEntries(caches.map((c, i) => [c.url, c.requests.slice(before[i])]));
  const file = join(scratch, 'io-floor-plan.json');
  writeFileSync(file, JSON.stringify({ programs, tcp, origins }));
  return { file, programs: programs.length, tcp: tcp.length, requests: Object.values(origins).flat().length };
}

/** Has real Nix look a fixture path up in every cache, so that ENV's home holds Nix's narinfo disk cache; whether it does. */
async function rememberedByNix(caches: Running[], env: Record<string, string>): Promise<boolean> {
  const path =
    readFileSync(join(ROOT, 'fixtures', 'store-paths.txt'), 'utf8')
      .trim()
      .split('\n')[0] ?? '';
  for (const c of caches)
    await execa('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--store', c.url, path], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      extendEnv: false,
      reject: false,
    });
  return ['binary-cache-v6.sqlite', 'binary-cache-v7.sqlite'].some((f) => existsSync(join(env.HOME ?? '', '.cache', 'nix', f)));
}

async function healthy() {
  const caches = await Promise.all(['signed-lan', 'multi-sig', 'regenerated'].map((c) => serveCache(join(CACHES, c))));
  try {
    const env = confEnv(`substituters = ${caches.map((c) => c.url).join(' ')}\ntrusted-public-keys = ${trustedKey}\n`);
    const node = () => timed(process.execPath, ['-e', '0']);
    const cold = await interleaved(15, { node, version: () => timed(process.execPath, [BIN, '--version']) });
    const plan = await floorPlan(caches, env);
    // The same caches on a machine where Nix has used them: its narinfo disk cache exists and is read.
    const used = confEnv(`substituters = ${caches.map((c) => c.url).join(' ')}\ntrusted-public-keys = ${trustedKey}\n`);
    const usedCache = hasNix ? await rememberedByNix(caches, used) : false;
    const full = await interleaved(7, {
      node,
      doctor: () => timed(process.execPath, doctorArgs(), env),
      json: () => timed(process.execPath, doctorArgs(['--json']), env),
      floor: () => timed(process.execPath, [FLOOR, plan.file], env),
      ...(usedCache ? { used: () => timed(process.execPath, doctorArgs(), used) } : {}),
    });
    const memory = await interleaved(3, { doctor: () => timed(process.execPath, doctorArgs([], true), env, true) });
    if (process.env.NIXCACHE_BENCH_DUMP) writeFileSync(process.env.NIXCACHE_BENCH_DUMP, full.doctor?.[1]?.stdout ?? '');
    const sample = JSON.parse(full.json?.[0]?.stdout ?? '{}') as { checks?: { id: string; data?: { rttMs?: number } }[] };
    const nix: number[] = [];
    for (const c of hasNix ? caches : []) {
      const ms: number[] = [];
      for (let i = 0; i < 3; i++) ms.push(await nixStorePing(c.url));
      nix.push(median(ms));
    }
    return { cold, full, memory, nix, plan, pingChecks: (sample.checks ?? []).filter((c) => c.id === 'ping').length };
  } finally {
    await Promise.all(caches.map((c) => c.close()));
  }
}

/** 14 caches, most of them broken in a different way; with a real DROP rule when running in our own namespace. */
async function faults(inNamespace: boolean) {
  const keep: Running[] = [];
  const k = async (r: Promise<Running>) => {
    const x = await r;
    keep.push(x);
    return x;
  };
  try {
    // Three distinct closed ports (a port just closed may be handed out again).
    const closed = new Set<number>();
    while (closed.size < 3) closed.add(await refusedPort());
    const [refused, dropPort, rejected] = [...closed] as [number, number, number];
    let dropped: string;
    if (inNamespace) {
      const port = dropPort;
      execFileSync('iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', String(port), '-j', 'DROP']);
      dropped = `http://127.0.0.1:${port}`;
    } else dropped = (await k(silentTcp())).url;
    if (inNamespace)
      execFileSync('iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', String(rejected), '-j', 'REJECT', '--reject-with', 'tcp-reset']);
    const urls = [
      dropped,
      `http://127.0.0.1:${refused}`,
      `http://127.0.0.1:${rejected}`,
      (await k(faultServer('hang'))).url,
      (await k(faultServer('drip', { bytesPerSecond: 8 }))).url,
      (await k(faultServer('status-500'))).url,
      (await k(faultServer('html'))).url,
      `${(await k(faultServer('redirect-loop'))).url}/a`,
      (await k(faultServer('huge'))).url,
      (await k(serveCache(join(CACHES, 'signed-other')))).url, // wrong key
      (await k(serveCache(join(CACHES, 'unsigned')))).url,
      (await k(serveCache(join(CACHES, 'tampered')))).url,
      (await k(serveCache(join(CACHES, 'gnu-store')))).url,
      (await k(serveCache(join(CACHES, 'signed-lan')))).url,
    ];
    const env = confEnv(`substituters = ${urls.join(' ')}\ntrusted-public-keys = ${trustedKey}\n`);
    const runs: Timed[] = [];
    for (let i = 0; i < 3; i++) runs.push(await timed(process.execPath, doctorArgs(['--timeout', '3'], true), env, true));
    const variants = await interleaved(3, {
      json: () => timed(process.execPath, doctorArgs(['--timeout', '3', '--json']), env),
      verbose: () => timed(process.execPath, doctorArgs(['--timeout', '3', '-v']), env),
    });
    const report = JSON.parse(variants.json?.[0]?.stdout ?? '{}') as { caches?: unknown[]; checks?: { reason?: string }[] };
    const strip = (t: Timed) => ({ ...t, stdout: '' });
    return {
      runs: runs.map(strip),
      jsonRuns: (variants.json ?? []).map(strip),
      verboseRuns: (variants.verbose ?? []).map(strip),
      caches: report.caches?.length ?? 0,
      deadlineSkips: (report.checks ?? []).filter((c) => c.reason === 'deadline').length,
      dropped: inNamespace ? 'iptables DROP' : 'a silent TCP server (not root: no namespace for a real DROP)',
    };
  } finally {
    await Promise.all(keep.map((r) => r.close()));
  }
}

/** 10,000 substituters that all refuse (one host, distinct paths): a hostile nix.conf. Within the deadline, bounded memory. */
async function manyCaches() {
  const port = await refusedPort();
  const env = confEnv(`substituters = ${Array.from({ length: 10_000 }, (_, i) => `http://127.0.0.1:${port}/c${i}`).join(' ')}\n`);
  const table = await timed(process.execPath, doctorArgs(['--deadline', '5'], true), env, true, true);
  const json = await timed(process.execPath, doctorArgs(['--deadline', '5', '--json'], true), env, true, true);
  return { table, json, deadlineMs: 5000 };
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

async function main() {
  if (process.argv.includes('--faults-inside')) {
    // The child started in the namespace: print the fault figures as JSON for the parent.
    execFileSync('ip', ['link', 'set', 'lo', 'up']);
    process.stdout.write(JSON.stringify(await faults(true)));
    return;
  }
  const h = await healthy();
  const many = await manyCaches();
  const coverage = await benchCoverage();
  const nar = await benchNar();
  let f: Awaited<ReturnType<typeof faults>>;
  const canNamespace =
    process.getuid?.() === 0 &&
    spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status === 0 &&
    spawnSync('iptables', ['-V'], { stdio: 'ignore' }).status === 0;
  if (canNamespace) {
    const ns = `nxc-bench-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, process.argv[1] as string, '--faults-inside'], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      f = JSON.parse(out);
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  } else f = await faults(false);

  const node = median((h.cold.node ?? []).map((r) => r.ms));
  const version = median((h.cold.version ?? []).map((r) => r.ms));
  const node2 = median((h.full.node ?? []).map((r) => r.ms));
  const doctor = median((h.full.doctor ?? []).map((r) => r.ms));
  const doctorJson = median((h.full.json ?? []).map((r) => r.ms));
  const floor = median((h.full.floor ?? []).map((r) => r.ms));
  const used = h.full.used ? median(h.full.used.map((r) => r.ms)) : undefined;
  const faultMs = median(f.runs.map((r) => r.ms));
  const faultJsonMs = median(f.jsonRuns.map((r) => r.ms));
  const faultVerboseMs = median(f.verboseRuns.map((r) => r.ms));
  const manyMs = Math.max(many.table.ms, many.json.ms);
  const manyRss = Math.max(many.table.rssMb ?? 0, many.json.rssMb ?? 0);
  const peak = (runs: Timed[]) => Math.max(...runs.map((r) => r.rssMb ?? 0));
  const rssHealthy = peak(h.memory.doctor ?? []);
  const rssFaults = peak(f.runs as Timed[]);
  const rss = Math.max(rssHealthy, rssFaults);
  const rows = [
    {
      figure: 'cold start: nixcache --version / node -e 0',
      value: `${fmt(version)} / ${fmt(node)} = ${(version / node).toFixed(2)}×`,
      goal: '≤ 1.3×',
      met: version / node <= 1.3,
    },
    {
      figure: 'full doctor (default table), 3 healthy loopback caches / node -e 0',
      value: `${fmt(doctor)} / ${fmt(node2)} = ${(doctor / node2).toFixed(2)}×`,
      goal: '≤ 4×',
      met: doctor / node2 <= 4,
    },
    {
      figure: '  the same run, table / --json',
      value: `${fmt(doctor)} / ${fmt(doctorJson)} = ${(doctor / doctorJson).toFixed(2)}×`,
      goal: '≤ 1.1×',
      met: doctor / doctorJson <= 1.1,
    },
    {
      figure: "  the same caches, Nix's narinfo disk cache present (a machine that has used them) / node -e 0",
      value: used === undefined ? 'nix not installed' : `${fmt(used)} / ${fmt(node2)} = ${(used / node2).toFixed(2)}×`,
      goal: '(reference)',
      met: true,
    },
    {
      figure: `  its input and output alone (${h.plan.programs} programs, ${h.plan.tcp} TCP probes, ${h.plan.requests} requests) / node -e 0`,
      value: `${fmt(floor)} / ${fmt(node2)} = ${(floor / node2).toFixed(2)}×`,
      goal: '(reference)',
      met: true,
    },
    {
      figure: '  beside: nix store ping/info --store URL, each cache',
      value: h.nix.length ? h.nix.map(fmt).join(', ') : 'nix not installed',
      goal: '(reference)',
      met: true,
    },
    {
      figure: `14 caches with faults, --timeout 3 (DROP by ${f.dropped})`,
      value: `${fmt(faultMs)} (${f.caches} caches, ${f.deadlineSkips} deadline skips)`,
      goal: '≤ 5 s (one timeout + 2 s)',
      met: faultMs <= 5000 && f.caches === 14,
    },
    {
      figure: '  the same 14 caches, table / --json',
      value: `${fmt(faultMs)} / ${fmt(faultJsonMs)} = ${(faultMs / faultJsonMs).toFixed(2)}×`,
      goal: '≤ 1.2×',
      met: faultMs / faultJsonMs <= 1.2,
    },
    {
      figure: '  the same 14 caches, -v (auto sample) / table',
      value: `${fmt(faultVerboseMs)} / ${fmt(faultMs)} = ${(faultVerboseMs / faultMs).toFixed(2)}×`,
      goal: '≤ 1.1×',
      met: faultVerboseMs / faultMs <= 1.1,
    },
    {
      figure: '10,000 refused caches, --deadline 5 (table and --json)',
      value: `${fmt(many.table.ms)} table, ${fmt(many.json.ms)} json, peak RSS ${manyRss.toFixed(0)} MB`,
      goal: '≤ deadline + 1 s, ≤ 300 MB',
      met: manyMs <= many.deadlineMs + 1000 && manyRss > 0 && manyRss <= 300,
    },
    {
      figure: 'peak RSS of a full run (3 healthy and 14 faulty caches)',
      value: `${rss.toFixed(1)} MB (3 healthy: ${rssHealthy.toFixed(1)}, 14 faults: ${rssFaults.toFixed(1)})`,
      goal: '≤ 90 MB',
      met: rss > 0 && rss <= 90,
    },
  ];
  rows.push(...coverage.rows, ...nar.rows);
  const width = Math.max(...rows.map((r) => r.figure.length));
  const vwidth = Math.max(...rows.map((r) => r.value.length));
  console.log(`nixcache bench — node ${process.version}, ${new Date().toISOString()}\n`);
  for (const r of rows)
    console.log(
      `${r.figure.padEnd(width)}  ${r.value.padEnd(vwidth)}  goal ${r.goal.padEnd(26)} ${r.goal === '(reference)' ? '' : r.met ? 'met' : 'MISSED'}`,
    );
  const results = {
    date: new Date().toISOString(),
    node: process.version,
    coldStart: { nodeMs: node, versionMs: version, ratio: version / node, goal: 1.3 },
    fullDoctor: {
      nodeMs: node2,
      doctorMs: doctor,
      ratio: doctor / node2,
      goal: 4,
      jsonMs: doctorJson,
      tableToJson: doctor / doctorJson,
      withNixDiskCacheMs: used ?? null,
      ioFloor: { ms: floor, ratio: floor / node2, programs: h.plan.programs, tcpProbes: h.plan.tcp, requests: h.plan.requests },
      nixStorePingMs: h.nix,
      pingChecks: h.pingChecks,
    },
    faults: {
      ms: faultMs,
      runsMs: f.runs.map((r) => r.ms),
      jsonMs: faultJsonMs,
      verboseMs: faultVerboseMs,
      caches: f.caches,
      deadlineSkips: f.deadlineSkips,
      drop: f.dropped,
      goalMs: 5000,
    },
    manyCaches: { caches: 10_000, tableMs: many.table.ms, jsonMs: many.json.ms, peakRssMb: manyRss, deadlineMs: many.deadlineMs },
    coverage: coverage.results,
    nar: nar.results,
    peakRssMb: rss,
    peakRssMbHealthy: rssHealthy,
    peakRssMbFaults: rssFaults,
    goalRssMb: 90,
    allMet: rows.every((r) => r.met),
  };
  writeFileSync(join(ROOT, 'bench-results.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log('\nwritten: bench-results.json');
}

try {
  await main();
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
