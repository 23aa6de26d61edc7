import { setMaxListeners } from 'node:events';
import { discover } from '../discover/index.js';
import type { CacheTarget, Discovery } from '../discover/types.js';
import type { StoreTools } from '../facts/closure.js';
import { type DiskCacheFact, readNixDiskCache, unreadableNote } from '../facts/disk-cache.js';
import { createFacts } from '../facts/index.js';
import { type CachePlan, type LookupDeps, lookupDepsFor, planCaches } from '../facts/path-lookups.js';
import { headReader } from '../facts/path-view.js';
import type { CacheInfoFact } from '../facts/types.js';
import { DEFAULT_TTLS } from '../nix/disk-cache.js';
import {
  type ArgumentProblem,
  type DiskCacheSummary,
  documentHead,
  type PathsCacheEntry,
  type PathsEnvironment,
  renderDocument,
} from '../report/paths-common.js';
import { Redactor, redactPatterns } from '../report/redact.js';
import { writeFileAtomically } from '../system/atomic.js';
import { createExec } from '../system/exec.js';
import { createFs } from '../system/fs.js';
import { createAgent, createHttp } from '../system/http.js';
import type { Io } from '../system/io.js';
import { createNet } from '../system/net.js';
import { createPing } from '../system/ping.js';
import { createPipelinedBulkHttp } from '../system/pipelined-http.js';
import { terminal, unwritableFileProblem } from '../system/terminal.js';
import type { PathsFlags } from './flags.js';

/**
 * HTTP/1.1 requests queued per connection (narinfo and NAR HEAD requests are idempotent reads of
 * static files): with the default 32 connections, 256 look-ups on the wire, so that 20 ms more per
 * round trip costs 10,000 narinfos 0.8 s rather than 1.6 s.
 */
const HTTP_PIPELINING = 8;
/**
 * Look-ups in flight per connection (why and coverage run jobs × PIPELINING at once): HTTP_PIPELINING
 * of them on the wire, the others parsing or waiting for their signature check, so that the
 * connections never wait for the verifier.
 */
export const PIPELINING = 2 * HTTP_PIPELINING;

/** What `why` and `coverage` share: discovery, the caches in Nix's order, Nix's disk cache, the look-up pool. */
export interface PathsSession {
  discovery: Discovery;
  plans: CachePlan[];
  disk: DiskCacheFact;
  deps: LookupDeps;
  tools: StoreTools;
  redactor: Redactor;
  deadline: AbortSignal;
  started: number;
  stats(): { total: number; retries: number; rateLimited: number };
  close(): Promise<void>;
}

/** Opens a session under FLAGS' deadline: the deadline aborts every request and child process still running. */
export async function openSession(flags: PathsFlags, env: Readonly<NodeJS.ProcessEnv>): Promise<PathsSession> {
  const started = performance.now();
  const ending = new AbortController();
  const deadline = ending.signal;
  setMaxListeners(0, deadline);
  const timer = setTimeout(() => ending.abort(), flags.deadlineMs);
  const agent = createAgent(flags.timeoutMs);
  const quiet = () => {};
  const io = (signal: AbortSignal): Io => ({
    exec: createExec(quiet, signal, flags.timeoutMs),
    http: createHttp(agent, quiet, signal, flags.timeoutMs),
    net: createNet(quiet, signal, flags.timeoutMs),
    ping: createPing(quiet, flags.timeoutMs, started + flags.deadlineMs),
    fs: createFs(quiet),
  });
  const world = io(deadline);
  const discovery = await discover(world, env, {
    conf: flags.conf,
    caches: flags.caches,
    trustedKeys: flags.trustedKeys,
    server: false,
    timeoutMs: flags.timeoutMs,
    network: true,
    signal: deadline,
  });
  // A nix.conf that blocks (a FIFO: every nix command waits on it) or that nixcache stopped reading
  // leaves no configuration to judge with: nothing is looked up, rather than a verdict on none.
  const stopped = discovery.config.problems.find((p) => p.code === 'blocks' || p.code === 'read-limit');
  if (stopped)
    throw new Error(
      stopped.code === 'blocks'
        ? `every nix command hangs reading ${stopped.file}: ${stopped.message}`
        : `nixcache stopped reading nix.conf at ${stopped.file}${stopped.line ? `:${stopped.line}` : ''}: ${stopped.message}`,
    );
  const redactor = new Redactor();
  for (const s of discovery.secrets) redactor.add(s);
  const facts = createFacts({
    discovery,
    io: () => world,
    nixView: Promise.resolve(undefined),
    secret: (s) => redactor.add(s),
    deadline,
  }).view(quiet);
  const targets = discovery.targets.filter((t) => t.role !== 'server');
  const infos = new Map<CacheTarget, CacheInfoFact>(await Promise.all(targets.map(async (t) => [t, await facts.cacheInfo(t)] as const)));
  // Nix's disk cache first: Nix opens a cache it remembers from its row, without its nix-cache-info.
  const disk = await readNixDiskCache(world.fs, discovery, env, targets);
  const plans = planCaches(discovery, infos, disk);
  const http = createPipelinedBulkHttp({
    jobs: flags.jobs,
    pipelining: HTTP_PIPELINING,
    timeoutMs: flags.timeoutMs,
    signal: deadline,
    ca: discovery.caBundle,
  });
  const deps = lookupDepsFor(discovery, plans.length > 1)({ http, fs: world.fs, readHead: headReader(world.http, flags.timeoutMs) });
  const tools: StoreTools = { exec: world.exec, fs: world.fs, storeDir: discovery.env.storeDir, store: flags.store };
  return {
    discovery,
    plans,
    disk,
    deps,
    tools,
    redactor,
    deadline,
    started,
    stats: () => {
      const s = http.stats();
      return { total: s.requests, retries: s.retries, rateLimited: s.rateLimited };
    },
    async close() {
      clearTimeout(timer);
      ending.abort();
      await http.close();
      await agent.destroy().catch(() => {});
    },
  };
}

/** How a why or coverage document of SESSION's run begins: how long it took, the environment and Nix's disk cache as it read them. */
export function sessionDocumentHead<K extends 'why' | 'coverage'>(kind: K, session: PathsSession) {
  return documentHead(kind, {
    durationMs: Math.round(performance.now() - session.started),
    environment: pathsEnvironment(session.discovery, session.deps),
    diskCache: diskSummary(session.disk),
  });
}

function pathsEnvironment(d: Discovery, deps: LookupDeps): PathsEnvironment {
  return {
    nixVersion: d.env.nixVersion,
    user: d.env.user,
    multiUser: d.env.multiUser,
    trustedUser: d.env.trustedUser,
    storeDir: d.env.storeDir,
    requireSigs: deps.requireSigs,
    fallback: d.config.settings.get('fallback') === 'true',
    configFiles: d.config.files.filter((f) => f.status === 'read').map((f) => f.path),
  };
}

function diskSummary(disk: DiskCacheFact): DiskCacheSummary {
  const ttls = disk.kind === 'read' ? disk.ttls : { ...DEFAULT_TTLS };
  if (disk.kind === 'read') return { state: 'read', path: disk.path, owner: disk.owner, message: null, ttls };
  if (disk.kind === 'absent')
    return {
      state: 'absent',
      path: null,
      owner: disk.owner,
      message: `no narinfo disk cache (looked for ${disk.searched.join(', ')}): Nix has remembered nothing yet`,
      ttls,
    };
  return {
    state: 'unreadable',
    path: disk.path,
    owner: disk.owner,
    message: unreadableNote(disk),
    ttls,
  };
}

export function cacheEntries(plans: readonly CachePlan[]): PathsCacheEntry[] {
  return plans.map((p) => ({
    url: p.url,
    order: p.order,
    priority: p.priority,
    prioritySource: p.prioritySource,
    used: p.used,
    unusedReason: p.unusedReason ?? null,
  }));
}

/**
 * Writes a why or coverage REPORT as FLAGS ask: --json on stdout, --report to its file or stdout,
 * and the table unless stdout is taken (by those, or by another output: STDOUT_TAKEN). Returns how
 * many outputs could not be delivered.
 */
export async function writeOutputs<R extends { environment: Pick<PathsEnvironment, 'configFiles'> }>(
  flags: PathsFlags,
  env: Readonly<NodeJS.ProcessEnv>,
  report: R,
  render: { markdown(report: R): string; table(report: R, opts: { width: number | undefined; color: boolean }): string },
  { stdoutTaken = false, usageError = false }: { stdoutTaken?: boolean; usageError?: boolean } = {},
): Promise<number> {
  let undelivered = 0;
  const color = flags.color && !env.NO_COLOR && terminal.stdoutIsTTY;
  if (flags.json) undelivered += (await terminal.stdout(renderDocument(report))).ok ? 0 : 1;
  // After a usage error nothing ran, and the error may be the --report file itself (a symbolic
  // link, a directory): the file is left alone, as the doctor leaves it.
  if (flags.report?.to === 'file' && !usageError) {
    // Checked again now that the run knows every nix.conf it read (the one NIX_CONF_DIR names, an !include).
    const { path } = flags.report;
    const reads = [...(flags.conf ? [flags.conf] : []), ...report.environment.configFiles];
    const problem = unwritableFileProblem(path, reads);
    const written = problem ? { ok: false as const, message: `${path} ${problem}` } : writeFileAtomically(path, render.markdown(report));
    if (!written.ok) undelivered++;
    if (!written.ok) await terminal.stderr(`nixcache: could not write the report to ${path}: ${written.message}\n`);
  } else if (flags.report?.to === 'stdout') undelivered += (await terminal.stdout(render.markdown(report))).ok ? 0 : 1;
  if (!flags.json && flags.report?.to !== 'stdout' && !stdoutTaken)
    undelivered += (await terminal.stdout(render.table(report, { width: terminal.columns, color }))).ok ? 0 : 1;
  return undelivered;
}

/**
 * A why or coverage run that threw, as the one error of its document: `nixcache KIND could not run:`
 * and the first line of the message, redacted; the stack goes to stderr with --verbose.
 */
export async function crashProblem(kind: 'why' | 'coverage', e: unknown, verbose: boolean): Promise<ArgumentProblem> {
  const message = redactPatterns(String(e instanceof Error ? e.message : e).split('\n')[0] ?? 'unknown error');
  if (verbose && e instanceof Error) await terminal.stderr(`${redactPatterns(e.stack ?? '')}\n`);
  return { argument: '(run)', message: `nixcache ${kind} could not run: ${message}` };
}

/** "checked N/M" on stderr while the run goes on, when stderr is a terminal; nothing otherwise. */
export function progressLine(env: Readonly<NodeJS.ProcessEnv>): { update(text: string): void; stop(): void } | undefined {
  if (!terminal.stderrIsTTY || env.CI) return undefined;
  let last = 0;
  let shown = false;
  return {
    update(text) {
      const now = performance.now();
      if (now - last < 100) return;
      last = now;
      shown = true;
      terminal.stderr(`\r\u001b[2K${text.slice(0, Math.max(20, (process.stderr.columns ?? 80) - 1))}`);
    },
    stop() {
      if (shown) terminal.stderr('\r\u001b[2K');
    },
  };
}

/** Runs WORK over ITEMS with at most LIMIT promises pending, in order of ITEMS; stops taking new items at ABORT. */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  signal: AbortSignal,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal.aborted) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
