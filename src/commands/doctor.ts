import { setMaxListeners } from 'node:events';
import { CHECKS } from '../../checks/index.js';
import { discover } from '../discover/index.js';
import type { Discovery } from '../discover/types.js';
import { DEFAULT_SINCE_MS } from '../facts/hit-rate.js';
import { createFacts } from '../facts/index.js';
import { readNixView } from '../facts/nix.js';
import type { FactKind } from '../facts/types.js';
import { renderJsonChunks } from '../report/json.js';
import { buildReport, crashReport, type Report } from '../report/model.js';
import { Redactor, redactPatterns } from '../report/redact.js';
import type { Check } from '../runner/check.js';
import { loadPlugins } from '../runner/plugins.js';
import { runChecks } from '../runner/run.js';
import { timeLimit } from '../system/abort.js';
import { writeFileAtomically } from '../system/atomic.js';
import type { Recorder } from '../system/evidence.js';
import { createExec } from '../system/exec.js';
import { createFs } from '../system/fs.js';
import { createAgent, createHttp } from '../system/http.js';
import type { Io } from '../system/io.js';
import { createNet } from '../system/net.js';
import { createPing } from '../system/ping.js';
import { startSpinner, terminal, unwritableFileProblem, type WriteResult } from '../system/terminal.js';
import { type DoctorFlags, fileToRead, fileToWrite, firstFileProblem, type MetricsTarget, UsageError } from './flags.js';

/** `nixcache doctor`: flags → discover → facts → checks → one report → a renderer. Returns the exit code. */
export async function doctorCommand(flags: DoctorFlags, env: Readonly<NodeJS.ProcessEnv> = process.env): Promise<number> {
  // What the run reads must never be what it writes (--conf X --report X once replaced the nix.conf).
  const inputs = [flags.conf, flags.secretKeyFile, flags.accessLog, ...flags.plugins].filter((f): f is string => f !== undefined);
  const problem = firstFileProblem([
    fileToWrite('--report', flags.report, inputs),
    fileToRead('--conf', flags.conf),
    fileToRead('--secret-key-file', flags.secretKeyFile, false),
    fileToWrite('--metrics', flags.metrics, inputs),
    fileToRead('--access-log', flags.accessLog),
  ]);
  if (problem) throw new UsageError(`${problem.argument}: ${problem.message}`);

  const checks = await selectChecks(flags);

  const color = flags.color && !env.NO_COLOR && (env.FORCE_COLOR ? env.FORCE_COLOR !== '0' : terminal.stdoutIsTTY);
  const spinner = await startSpinner('nixcache doctor', env);
  let report: Report;
  try {
    report = await runDoctor(flags, checks, env, (text) => spinner?.update(redactPatterns(text)));
  } catch (e) {
    report = crashReport(e, flags.verbose, { user: env.USER });
  } finally {
    spinner?.stop();
  }

  // Every output that could not be delivered is said on stderr and makes the exit code 3.
  const undelivered: string[] = [];
  const deliver = async (what: string, written: Promise<WriteResult> | WriteResult) => {
    const r = await written;
    if (!r.ok) undelivered.push(r.code === 'EPIPE' ? '' : `could not write ${what}: ${r.message}`);
  };
  if (flags.json) await deliver('the JSON to stdout', writeChunks(renderJsonChunks(report)));
  if (flags.report?.to === 'file') {
    const path = flags.report.path;
    // Checked again now that the run knows every file it read (nix.conf and its includes).
    const problem = unwritableFileProblem(path, [...inputs, ...report.config.files]);
    const text = (await import('../report/markdown.js')).renderMarkdown(report);
    const atomic = problem ? { ok: false as const, message: `${path} ${problem}` } : writeFileAtomically(path, text);
    await deliver(`the report to ${path}`, atomic.ok ? atomic : { ok: false, code: 'EIO', message: atomic.message });
    if (atomic.ok && !flags.json) await terminal.stderr(`nixcache: report written to ${path}\n`);
  }
  // Renderers load on demand: a --json run never loads the table.
  if (flags.report?.to === 'stdout')
    await deliver('the report to stdout', terminal.stdout((await import('../report/markdown.js')).renderMarkdown(report)));
  else if (!flags.json && flags.metrics?.to !== 'stdout') {
    const { renderTableChunks } = await import('../report/table.js');
    await deliver(
      'the table to stdout',
      writeChunks(renderTableChunks(report, { color, verbose: flags.verbose, width: terminal.columns })),
    );
  }
  if (flags.metrics) await deliver('the metrics', writeMetrics(flags.metrics, report, flags.json));

  for (const line of undelivered) if (line) await terminal.stderr(`nixcache: ${line}\n`);
  if (undelivered.length > 0) return 3;
  const failed = report.summary.fail > 0 || (flags.strict && report.summary.warn > 0);
  return failed ? 1 : 0;
}

/**
 * Pieces of output gathered to about this size before each write: one write per cache section
 * would be 10,000 writes; much more would make each write a large object (see renderJsonChunks).
 */
const WRITE_BYTES = 32 * 1024;

/** Writes CHUNKS to stdout a few hundred kilobytes at a time; stops at the first failed write. */
async function writeChunks(chunks: Iterable<string>): Promise<WriteResult> {
  let pending: string[] = [];
  let size = 0;
  for (const chunk of chunks) {
    pending.push(chunk);
    size += chunk.length;
    if (size < WRITE_BYTES) continue;
    const written = await terminal.stdout(pending.join(''));
    if (!written.ok) return written;
    pending = [];
    size = 0;
  }
  return pending.length > 0 ? terminal.stdout(pending.join('')) : { ok: true };
}

/** The checks FLAGS select: the registry and the --plugin modules, narrowed by --only and --skip (an unknown id is a usage error). */
export async function selectChecks(flags: Pick<DoctorFlags, 'plugins' | 'only' | 'skip'>): Promise<Check[]> {
  const plugins = await loadPlugins(flags.plugins, CHECKS, (message) => new UsageError(message));
  const registry = [...CHECKS, ...plugins];
  const known = registry.map((c) => c.id);
  for (const id of [...flags.only, ...flags.skip]) {
    if (!known.includes(id)) throw new UsageError(`unknown check id '${id}' (known: ${known.join(', ')})`);
  }
  return registry.filter((c) => (flags.only.length === 0 || flags.only.includes(c.id)) && !flags.skip.includes(c.id));
}

/** Time kept for building and writing the report after the checks: a base, and per result (10,000 caches: 5 s, at most half the deadline). */
const REPORT_MS = 50;
const REPORT_MS_PER_RESULT = 0.05;

/** One run: discovery, then the checks over the facts, then the report, all within the deadline. */
export async function runDoctor(
  flags: DoctorFlags,
  checks: readonly Check[],
  env: Readonly<NodeJS.ProcessEnv>,
  onProgress?: (text: string) => void,
): Promise<Report> {
  const started = performance.now();
  const ending = new AbortController();
  const deadline = ending.signal;
  let timer = setTimeout(() => ending.abort(), flags.deadlineMs);
  // Every command, request and probe of every cache listens to the deadline: no listener limit.
  setMaxListeners(0, deadline);
  const discoveryLimit = timeLimit(deadline, Math.max(1000, flags.deadlineMs / 2));
  const discoverySignal = discoveryLimit.signal;
  setMaxListeners(0, discoverySignal);
  const quietAgent = createAgent(flags.timeoutMs);
  const adapters = (record: Recorder, signal: AbortSignal, agent = quietAgent, ca?: string): Io => ({
    exec: createExec(record, signal, flags.timeoutMs),
    http: createHttp(agent, record, signal, flags.timeoutMs),
    net: createNet(record, signal, flags.timeoutMs, ca),
    ping: createPing(record, flags.timeoutMs, started + flags.deadlineMs),
    fs: createFs(record),
  });
  const quiet = adapters(() => {}, discoverySignal);

  onProgress?.('reading nix.conf');
  // Nix's own view needs nothing discovery finds: it starts first and runs beside everything else.
  const passEnv = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  const nixView = readNixView(quiet, passEnv);
  nixView.catch(() => {});
  const discovery: Discovery = await discover(quiet, env, {
    conf: flags.conf,
    caches: flags.caches,
    trustedKeys: flags.trustedKeys,
    server: flags.server,
    port: flags.port,
    secretKeyFile: flags.secretKeyFile,
    samples: flags.samples,
    flakeDir: flags.flakeDir,
    signal: discoverySignal,
    timeoutMs: flags.timeoutMs,
    // Only cache checks (and plugins, which may do anything) go on the network: without them, no DNS.
    network: checks.some((c) => c.scope === 'cache' || !CHECKS.includes(c)),
  });
  const redactor = new Redactor();
  for (const s of discovery.secrets) redactor.add(s);
  // The deadline covers the output too: the checks stop early enough to leave time for a report of
  // every one of them (10,000 caches are 100,000 results: 0.7 s idle, several times that on a busy
  // machine), at most half the run.
  const slots = checks.reduce((n, c) => n + (c.scope === 'cache' ? discovery.targets.length : 1), 0);
  const reserveMs = Math.min(flags.deadlineMs / 2, REPORT_MS + slots * REPORT_MS_PER_RESULT);
  clearTimeout(timer);
  timer = setTimeout(() => ending.abort(), Math.max(0, flags.deadlineMs - reserveMs - (performance.now() - started)));

  // The connection pool trusts what Nix's curl trusts (ssl-cert-file), known only now.
  // Nix's http-connections (0: no limit) bounds the connections to each cache host, here as there.
  const perHost = Number.parseInt(discovery.config.settings.get('http-connections') ?? '25', 10);
  const agent = createAgent(flags.timeoutMs, discovery.caBundle, Number.isFinite(perHost) && perHost >= 0 ? perHost : 25);
  try {
    const facts = createFacts({
      discovery,
      io: (record) => adapters(record, deadline, agent, discovery.caBundle),
      nixView,
      secret: (s) => redactor.add(s),
      deadline,
      hitRate: { accessLog: flags.accessLog, sinceMs: flags.sinceMs ?? DEFAULT_SINCE_MS },
    });
    facts.prefetch(new Set<FactKind>(checks.flatMap((c) => c.reads ?? [])));
    const results = await runChecks({
      checks,
      caches: discovery.targets,
      facts: (record) => facts.view(record),
      checkTimeoutMs: (check) => check.timeoutMs?.(flags.timeoutMs, discovery.run) ?? flags.timeoutMs * 2 + 1000,
      deadline,
      verbose: flags.verbose,
      onProgress: ({ check, cache, done }) => {
        if (!done) onProgress?.(`${check.title}${cache ? ` — ${cache.url.display}` : ''}`);
      },
    });
    // Never past the deadline for it: a hung `nix` leaves the sandbox unknown, not the run late.
    const left = Math.max(0, flags.deadlineMs - reserveMs - (performance.now() - started));
    const nix = await within(nixView, left, undefined);
    const fromNix = nix && 'values' in nix ? nix.values.sandbox : undefined;
    const nixSandbox = fromNix && typeof fromNix === 'object' && 'value' in fromNix ? fromNix.value : undefined;
    const sandbox = discovery.config.settings.get('sandbox') ?? (nixSandbox === undefined ? null : String(nixSandbox));
    return buildReport({ discovery, results, sandbox, durationMs: performance.now() - started, redactor });
  } finally {
    // Whatever is still gathering (a fact no check waited for) stops now.
    clearTimeout(timer);
    discoveryLimit.clear();
    ending.abort();
    agent.destroy().catch(() => {});
    quietAgent.destroy().catch(() => {});
  }
}

function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** `--metrics`: the report as Prometheus metrics, on stdout or replacing FILE atomically. */
async function writeMetrics(target: MetricsTarget, report: Report, quiet: boolean): Promise<WriteResult> {
  const text = await (await import('../report/metrics.js')).renderMetrics(report);
  if (target.to === 'stdout') return terminal.stdout(text);
  const written = writeFileAtomically(target.path, text);
  if (!written.ok) return { ok: false, code: 'EIO', message: `${target.path}: ${written.message}` };
  if (!quiet) await terminal.stderr(`nixcache: metrics written to ${target.path}\n`);
  return { ok: true };
}
