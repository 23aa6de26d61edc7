// Coverage figures for `npm run bench`: `nixcache coverage` on a 1,000- and a 10,000-path closure
// served from a signed cache on loopback, beside `nix path-info -r --store URL` on the same closure,
// and the 10,000 paths again behind a proxy that adds 20 ms to every round trip. Called by
// scripts/bench.ts (benchCoverage); the closures are made as NIX-FACTS §14 says: nix-store --add
// for the leaves, one derivation whose output names them all (passAsFile), nix copy to a file cache.
// Two reference figures say where the time goes: the same 10,001 look-ups from the cache marked
// `?trusted=1` (no signature to check), and the 10,001 Ed25519 checks alone on one core.
import { createPublicKey, verify } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { fingerprint } from '../src/nix/fingerprint.js';
import { parsePublicKey, parseSignature } from '../src/nix/keys.js';
import { parseNarInfo } from '../src/nix/narinfo.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'dist', 'cli.js');
const KEYS = join(ROOT, 'fixtures', 'keys');
const FLOOR = join(ROOT, 'scripts', 'server-floor.mjs');

export interface CoverageRow {
  figure: string;
  value: string;
  goal: string;
  met: boolean;
}

export interface CoverageBench {
  rows: CoverageRow[];
  results: {
    closures: { paths: number; nixcacheMs: number[]; nixPathInfoMs: number[]; ratio: number; counted: number }[];
    proxy: { paths: number; addedRttMs: number; jobs: number; nixcacheMs: number[]; counted: number; goalMs: number };
    /** The 10,001 look-ups again from the cache marked ?trusted=1: everything but the signature checks. */
    unsigned: { paths: number; nixcacheMs: number[]; counted: number };
    /** `nix store verify --no-contents -r`: Nix fetching the closure's narinfos and checking their signatures. */
    nixStoreVerifyMs: number[];
    /** The bench server answering the closure's narinfo requests to a client that only counts them. */
    serverFloor: { ms: number[]; answered: number };
    /** The closure's Ed25519 checks alone, node:crypto, one thread: what nix path-info -r does not do. */
    ed25519: { checks: number; ms: number[]; perCheckUs: number };
    goalRatio: number;
    allMet: boolean;
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const NIX = ['--extra-experimental-features', 'nix-command'];

/** 10,000 leaves in the store and two roots naming the first 1,000 and all of them, copied signed into a file cache. */
export async function makeClosures(
  work: string,
): Promise<{ cacheDir: string; roots: { paths: number; root: string }[]; leaves: string[]; made: string[] }> {
  const leaves = join(work, 'leaves');
  mkdirSync(leaves);
  const files: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    const f = join(leaves, `nixcache-bench-${i}`);
    writeFileSync(f, `nixcache bench leaf ${i}\n`);
    files.push(f);
  }
  const paths: string[] = [];
  for (let i = 0; i < files.length; i += 5000) {
    const r = await execa('nix-store', ['--add', ...files.slice(i, i + 5000)], { maxBuffer: 64 * 1024 * 1024 });
    paths.push(...r.stdout.trim().split('\n'));
  }
  const roots: { paths: number; root: string }[] = [];
  for (const n of [1000, 10_000]) {
    const list = join(work, `list-${n}.nix`);
    writeFileSync(
      list,
      `[\n${paths
        .slice(0, n)
        .map((p) => `"${p}"`)
        .join('\n')}\n]\n`,
    );
    const expr = `derivation { name = "nixcache-bench-root-${n}"; system = builtins.currentSystem; builder = "/bin/sh";
      args = [ "-c" "read -r x < $pathsPath; echo \\"$x\\" > $out" ];
      paths = map builtins.storePath (import ${list}); passAsFile = [ "paths" ]; }`;
    const built = await execa('nix-build', [
      '--no-out-link',
      ...['--option', 'sandbox', 'false', '--option', 'substitute', 'false', '--option', 'build-users-group', ''],
      '-E',
      expr,
    ]);
    roots.push({ paths: n + 1, root: built.stdout.trim() });
  }
  const cacheDir = join(work, 'cache');
  await execa('nix', [
    ...NIX,
    'copy',
    '--to',
    `file://${cacheDir}?secret-key=${join(KEYS, 'lan.sec')}&compression=none`,
    ...roots.map((r) => r.root),
  ]);
  return { cacheDir, roots, leaves: paths, made: [...roots.map((r) => r.root), ...paths] };
}

/**
 * Removes what the bench added to the store, so that it leaves the store as it found it (the doctor's
 * automatic sample reads the first store entries): the roots and their .drv files first — a root's
 * derivation keeps every leaf alive — then the leaves, in batches (best effort).
 */
async function deletePaths(paths: readonly string[]): Promise<void> {
  const derivers = await Promise.all(
    paths
      .filter((p) => p.includes('nixcache-bench-root'))
      .map(async (root) => (await execa('nix-store', ['-qd', root], { reject: false })).stdout.trim()),
  );
  await execa(
    'nix-store',
    ['--delete', ...paths.filter((p) => p.includes('nixcache-bench-root')), ...derivers.filter((d) => d.endsWith('.drv'))],
    {
      reject: false,
      timeout: 120_000,
    },
  );
  for (let i = 0; i < paths.length; i += 2000)
    await execa('nix-store', ['--delete', ...paths.slice(i, i + 2000)], { reject: false, timeout: 120_000 });
}

/** A static file server for the cache (keep-alive, as nginx or nix-serve would), on loopback. */
export async function serveDir(dir: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = createHttpServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    if (path.includes('..')) return void res.writeHead(403).end();
    try {
      const body = readFileSync(join(dir, path));
      res.writeHead(200, { 'content-length': body.length }).end(req.method === 'HEAD' ? undefined : body);
    } catch {
      res.writeHead(404, { 'content-length': 0 }).end();
    }
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A TCP proxy that holds every chunk from the client DELAYMS before passing it on: DELAYMS more per round trip. */
export async function delayingProxy(targetPort: number, delayMs: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    // One queue per connection, drained in order by one timer: every chunk leaves DELAYMS after it
    // arrived and never before a chunk that arrived earlier (separate timers could swap two
    // pipelined requests, and the server would answer each with the other's file).
    const queue: { at: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const pump = () => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && (queue[0] as { at: number }).at <= now) upstream.write((queue.shift() as { chunk: Buffer }).chunk);
      if (queue.length > 0) timer = setTimeout(pump, Math.max(0, (queue[0] as { at: number }).at - performance.now()));
    };
    client.on('data', (chunk: Buffer) => {
      queue.push({ at: performance.now() + delayMs, chunk });
      if (!timer) timer = setTimeout(pump, delayMs);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const end = () => {
      if (timer) clearTimeout(timer);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Every narinfo's signature in CACHEDIR checked with KEY, synchronously on this thread: RUNS timings in ms. */
function timedEd25519(cacheDir: string, keyText: string, runs: number): { checks: number; ms: number[] } {
  const key = parsePublicKey(keyText);
  if (!key.ok) throw new Error(`bench key: ${key.error.message}`);
  const object = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), key.value.key]),
    format: 'der',
    type: 'spki',
  });
  const jobs: { message: Buffer; sig: Buffer }[] = [];
  for (const f of readdirSync(cacheDir).filter((n) => n.endsWith('.narinfo'))) {
    const info = parseNarInfo(readFileSync(join(cacheDir, f), 'utf8'));
    if (!info.ok) continue;
    const fp = fingerprint(info.value);
    const sig = info.value.sigs.map(parseSignature).find((s) => s.ok);
    if (fp.ok && sig?.ok) jobs.push({ message: Buffer.from(fp.value, 'utf8'), sig: sig.value.sig });
  }
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) {
    const started = performance.now();
    for (const j of jobs) if (!verify(null, j.message, object, j.sig)) throw new Error('a bench narinfo does not verify');
    ms.push(performance.now() - started);
  }
  return { checks: jobs.length, ms };
}

async function timedCoverage(
  url: string,
  root: string,
  env: Record<string, string>,
  scratch: string,
): Promise<{ ms: number; counted: number }> {
  const started = performance.now();
  const r = await execa(process.execPath, [CLI, 'coverage', '--json', '--store', scratch, '--cache', url, root], {
    env,
    extendEnv: false,
    reject: false,
    maxBuffer: 256 * 1024 * 1024,
    timeout: 300_000,
  });
  const ms = performance.now() - started;
  let counted = -1;
  try {
    counted = (JSON.parse(String(r.stdout)) as { caches: { present: number }[] }).caches[0]?.present ?? -1;
  } catch {
    counted = -1;
  }
  return { ms, counted };
}

async function timedNix(
  url: string,
  root: string,
  env: Record<string, string>,
  cacheHome: string,
): Promise<{ ms: number; counted: number }> {
  rmSync(cacheHome, { recursive: true, force: true });
  const started = performance.now();
  const r = await execa('nix', [...NIX, 'path-info', '-r', '--store', url, root], {
    env: { ...env, XDG_CACHE_HOME: cacheHome },
    extendEnv: false,
    reject: false,
    maxBuffer: 256 * 1024 * 1024,
    timeout: 600_000,
  });
  return { ms: performance.now() - started, counted: String(r.stdout).trim().split('\n').filter(Boolean).length };
}

/**
 * `nix store verify --no-contents -r --store URL ROOT`: Nix doing what coverage does — every narinfo of
 * the closure fetched and its signature checked against trusted-public-keys. With an empty disk cache.
 */
async function timedNixVerify(
  url: string,
  root: string,
  env: Record<string, string>,
  cacheHome: string,
): Promise<{ ms: number; ok: boolean }> {
  rmSync(cacheHome, { recursive: true, force: true });
  const started = performance.now();
  const r = await execa('nix', [...NIX, 'store', 'verify', '--no-contents', '-r', '--store', url, root], {
    env: { ...env, XDG_CACHE_HOME: cacheHome },
    extendEnv: false,
    reject: false,
    timeout: 600_000,
  });
  return { ms: performance.now() - started, ok: r.exitCode === 0 };
}

/** scripts/server-floor.mjs: the closure's narinfo requests from a client that only counts the answers. */
async function timedServerFloor(port: number, pathsFile: string): Promise<{ ms: number; counted: number }> {
  const started = performance.now();
  const r = await execa(process.execPath, [FLOOR, String(port), pathsFile, '8'], { reject: false, timeout: 120_000 });
  return { ms: performance.now() - started, counted: Number(String(r.stdout).trim()) || 0 };
}

/** Makes the closures, serves them, measures; cleans up after itself. RUNS per figure (median). */
export async function benchCoverage(runs = 3): Promise<CoverageBench> {
  const work = mkdtempSync(join(tmpdir(), 'nixcache-bench-coverage-'));
  let server: Awaited<ReturnType<typeof serveDir>> | undefined;
  let proxy: Awaited<ReturnType<typeof delayingProxy>> | undefined;
  let made: string[] = [];
  try {
    const closures0 = await makeClosures(work);
    made = closures0.made;
    const { cacheDir, roots, leaves } = closures0;
    server = await serveDir(cacheDir);
    proxy = await delayingProxy(server.port, 20);
    const confDir = join(work, 'conf');
    mkdirSync(confDir);
    const lanKey = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
    writeFileSync(join(confDir, 'nix.conf'), `substituters =\ntrusted-public-keys = ${lanKey}\nnarinfo-cache-negative-ttl = 0\n`);
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: work,
      NIX_CONF_DIR: confDir,
      NIX_USER_CONF_FILES: '',
      XDG_CACHE_HOME: join(work, 'xdg-cache'),
    };
    const scratch = join(work, 'scratch-store');
    const url = `http://127.0.0.1:${server.port}`;
    const closures: CoverageBench['results']['closures'] = [];
    for (const { paths, root } of roots) {
      const ours: number[] = [];
      const nix: number[] = [];
      let counted = 0;
      // Alternated, so that neither gets the warmer machine.
      for (let i = 0; i < runs; i++) {
        const a = await timedCoverage(url, root, env, scratch);
        const b = await timedNix(url, root, env, join(work, 'nix-cache-home'));
        ours.push(a.ms);
        nix.push(b.ms);
        counted = a.counted;
        if (a.counted !== paths || b.counted !== paths)
          throw new Error(`coverage counted ${a.counted}, nix path-info -r printed ${b.counted}, of ${paths} paths`);
      }
      closures.push({ paths, nixcacheMs: ours, nixPathInfoMs: nix, ratio: median(nix) / median(ours), counted });
    }
    const big = roots[roots.length - 1] as { paths: number; root: string };
    const proxied: number[] = [];
    let proxyCounted = 0;
    for (let i = 0; i < runs; i++) {
      const r = await timedCoverage(`http://127.0.0.1:${proxy.port}`, big.root, env, scratch);
      proxied.push(r.ms);
      proxyCounted = r.counted;
    }
    const proxyResult = { paths: big.paths, addedRttMs: 20, jobs: 32, nixcacheMs: proxied, counted: proxyCounted, goalMs: 3000 };
    // Nix doing the same work as coverage (signatures included), and the server's own floor.
    const verifyMs: number[] = [];
    const floorMs: number[] = [];
    let floorCounted = 0;
    const pathsFile = join(work, 'narinfo-paths.txt');
    writeFileSync(pathsFile, [big.root, ...leaves].map((p) => `/${basename(p).slice(0, 32)}.narinfo\n`).join(''));
    for (let i = 0; i < runs; i++) {
      const v = await timedNixVerify(url, big.root, env, join(work, 'nix-cache-home'));
      if (!v.ok) throw new Error('nix store verify did not verify the closure');
      verifyMs.push(v.ms);
      const f = await timedServerFloor(server.port, pathsFile);
      floorMs.push(f.ms);
      floorCounted = f.counted;
    }
    const unsignedMs: number[] = [];
    let unsignedCounted = 0;
    for (let i = 0; i < runs; i++) {
      const r = await timedCoverage(`${url}?trusted=1`, big.root, env, scratch);
      unsignedMs.push(r.ms);
      unsignedCounted = r.counted;
    }
    const checks = timedEd25519(cacheDir, lanKey, runs);
    const ed25519 = { ...checks, perCheckUs: (median(checks.ms) * 1000) / Math.max(1, checks.checks) };
    const rows: CoverageRow[] = closures.map((c) => ({
      figure: `coverage, ${c.paths.toLocaleString('en')}-path closure on loopback / nix path-info -r`,
      value: `${fmt(median(c.nixcacheMs))} / ${fmt(median(c.nixPathInfoMs))} = ${c.ratio.toFixed(1)}× faster`,
      goal: c.paths >= 10_000 ? '≥ 10× faster than Nix' : '(reference)',
      met: c.paths >= 10_000 ? c.ratio >= 10 : true,
    }));
    rows.push({
      figure: `coverage, ${big.paths.toLocaleString('en')} paths, +20 ms per round trip, default --jobs`,
      value: `${fmt(median(proxied))} (${proxyCounted} counted)`,
      goal: '≤ 3 s',
      met: median(proxied) <= 3000 && proxyCounted === big.paths,
    });
    const bigOurs = median((closures[closures.length - 1] as { nixcacheMs: number[] }).nixcacheMs);
    rows.push({
      figure: `coverage, ${big.paths.toLocaleString('en')} paths / nix store verify --no-contents -r (Nix checking the signatures too)`,
      value: `${fmt(bigOurs)} / ${fmt(median(verifyMs))} = ${(median(verifyMs) / bigOurs).toFixed(1)}× faster`,
      goal: '(reference)',
      met: true,
    });
    rows.push({
      figure: `the bench server's floor: ${big.paths.toLocaleString('en')} narinfo requests, pipelined, answers only counted`,
      value: `${fmt(median(floorMs))} (${floorCounted} answered 200; 10× Nix would be ${fmt(median(closures[closures.length - 1]?.nixPathInfoMs ?? [0]) / 10)})`,
      goal: '(reference)',
      met: true,
    });
    rows.push({
      figure: `coverage, ${big.paths.toLocaleString('en')} paths on loopback, cache ?trusted=1 (no signature checked)`,
      value: `${fmt(median(unsignedMs))} (${unsignedCounted} counted)`,
      goal: '(reference)',
      met: true,
    });
    rows.push({
      figure: `${ed25519.checks.toLocaleString('en')} Ed25519 checks alone (node:crypto, one thread)`,
      value: `${fmt(median(ed25519.ms))} (${ed25519.perCheckUs.toFixed(0)} µs each)`,
      goal: '(reference)',
      met: true,
    });
    return {
      rows,
      results: {
        closures,
        proxy: proxyResult,
        unsigned: { paths: big.paths, nixcacheMs: unsignedMs, counted: unsignedCounted },
        nixStoreVerifyMs: verifyMs,
        serverFloor: { ms: floorMs, answered: floorCounted },
        ed25519,
        goalRatio: 10,
        allMet: rows.every((r) => r.met),
      },
    };
  } finally {
    await proxy?.close();
    await server?.close();
    await deletePaths(made);
    rmSync(work, { recursive: true, force: true });
  }
}
