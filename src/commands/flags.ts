import { resolve } from 'node:path';
import { parseBaseName } from '../nix/store-path.js';
import { displayText } from '../report/sanitize.js';
import { unreadableFileProblem, unwritableFileProblem } from '../system/terminal.js';

/** Usage errors: one line on stderr, exit 2, never a stack. */
export class UsageError extends Error {}

/** Where the Markdown report goes: stdout (`--report`) or a file (`--report FILE`). */
export type ReportTarget = { to: 'stdout' } | { to: 'file'; path: string };

/** Where `--metrics` writes: stdout (`--metrics -`) or a file, replaced atomically. */
export type MetricsTarget = { to: 'stdout' } | { to: 'file'; path: string };

/** `nixcache doctor`'s command line, parsed once. */
export interface DoctorFlags {
  json: boolean;
  report?: ReportTarget;
  conf?: string;
  caches: string[];
  trustedKeys: string[];
  /** --sample (repeatable): the store paths whose narinfos are looked up; the first is the signature sample. */
  samples: string[];
  /** --flake DIR, resolved: the flake whose nixConfig the flake check reads. */
  flakeDir?: string;
  /** Per network operation. */
  timeoutMs: number;
  /** The whole run. */
  deadlineMs: number;
  strict: boolean;
  only: string[];
  skip: string[];
  server: boolean;
  port?: number;
  secretKeyFile?: string;
  plugins: string[];
  verbose: boolean;
  /** false with --no-color. */
  color: boolean;
  /** --metrics FILE|-: the run as Prometheus metrics. */
  metrics?: MetricsTarget;
  /** --access-log FILE: the cache server's access log, read by the hit-rate check. */
  accessLog?: string;
  /** --since: how far back the access log is read, in ms (default 1 h). */
  sinceMs?: number;
}

/** `nixcache serve-metrics`: the doctor's flags for every run, and the exporter's own. */
export interface ServeMetricsFlags {
  doctor: DoctorFlags;
  host: string;
  port: number;
  /** A scrape within this long of the last run gets that run's metrics. */
  minIntervalMs: number;
  /** --coverage PATH (repeatable): store paths whose closures' coverage every run also measures. */
  coveragePaths: string[];
}

/** A file named on the command line, and why the run cannot use it (undefined when it can). */
export interface FileArgument {
  flag: string;
  file: string;
  problem: string | undefined;
}

/** FLAG's FILE, to be read (with MUST_READ false, only to exist); undefined when the flag was not given. */
export function fileToRead(flag: string, file: string | undefined, mustRead = true): FileArgument | undefined {
  return file ? { flag, file, problem: unreadableFileProblem(file, mustRead) } : undefined;
}

/** FLAG's TARGET, to be replaced, when it is a file; INPUTS are the files the run reads, which it must not be. */
export function fileToWrite(
  flag: string,
  target: ReportTarget | MetricsTarget | undefined,
  inputs: readonly string[] = [],
): FileArgument | undefined {
  return target?.to === 'file' ? { flag, file: target.path, problem: unwritableFileProblem(target.path, inputs) } : undefined;
}

/** The first of FILES the run cannot use, as `--flag FILE` and why; undefined when it can use them all. */
export function firstFileProblem(files: readonly (FileArgument | undefined)[]): { argument: string; message: string } | undefined {
  for (const f of files) if (f?.problem) return { argument: `${f.flag} ${f.file}`, message: f.problem };
  return undefined;
}

const string = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const number = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** --report: true (no FILE) or `-` is stdout, as for --metrics and --paths-from. */
function reportTarget(v: unknown): ReportTarget | undefined {
  const file = string(v);
  return v === true || file === '-' ? { to: 'stdout' } : file ? { to: 'file', path: file } : undefined;
}

/** --metrics FILE|-. */
function metricsTarget(v: unknown): MetricsTarget | undefined {
  const file = string(v);
  return file ? (file === '-' ? { to: 'stdout' } : { to: 'file', path: file }) : undefined;
}

/** Stdout holds one output: --report without a FILE cannot share it with --json. */
function refuseReportOnStdout(json: boolean, report: ReportTarget | undefined): void {
  if (json && report?.to === 'stdout')
    throw new UsageError('--report without a FILE writes to stdout, which --json already uses: give --report a file name');
}

/** Stdout holds one output: --metrics - cannot share it with --json or --report without a FILE. */
function refuseMetricsOnStdout(json: boolean, report: ReportTarget | undefined, metrics: MetricsTarget | undefined): void {
  if (metrics?.to === 'stdout' && (json || report?.to === 'stdout'))
    throw new UsageError(`--metrics - writes to stdout, which ${json ? '--json' : '--report'} already uses: give --metrics a file name`);
}

/** Narrows commander's option values (already validated by the option parsers) into DoctorFlags. */
export function doctorFlags(opts: Readonly<Record<string, unknown>>): DoctorFlags {
  const report = reportTarget(opts.report);
  const conf = string(opts.conf);
  const flakeDir = string(opts.flake);
  const port = number(opts.port);
  const secretKeyFile = string(opts.secretKeyFile);
  const flags: DoctorFlags = {
    json: opts.json === true,
    caches: strings(opts.cache),
    trustedKeys: strings(opts.trustedKey),
    samples: strings(opts.sample),
    timeoutMs: Math.round((number(opts.timeout) ?? 5) * 1000),
    deadlineMs: Math.round((number(opts.deadline) ?? 60) * 1000),
    strict: opts.strict === true,
    only: strings(opts.only),
    skip: strings(opts.skip),
    server: opts.server === true,
    plugins: strings(opts.plugin),
    verbose: opts.verbose === true,
    color: opts.color !== false,
    ...(report ? { report } : {}),
    ...(conf ? { conf } : {}),
    ...(flakeDir ? { flakeDir: resolve(flakeDir) } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(secretKeyFile ? { secretKeyFile } : {}),
  };
  const metrics = metricsTarget(opts.metrics);
  if (metrics) flags.metrics = metrics;
  const accessLog = string(opts.accessLog);
  if (accessLog) flags.accessLog = accessLog;
  const sinceMs = number(opts.since);
  if (sinceMs !== undefined) flags.sinceMs = sinceMs;
  refuseMetricsOnStdout(flags.json, flags.report, flags.metrics);
  refuseReportOnStdout(flags.json, flags.report);
  for (const sample of flags.samples) {
    if (!looksLikeStorePath(sample))
      throw new UsageError(
        `--sample ${displayText(sample.slice(0, 200))}: not a store path (give /nix/store/HASH-NAME, or a path inside one)`,
      );
  }
  return flags;
}

/** An absolute path with a HASH-NAME component (any store directory: the store's own is known only after discovery). */
function looksLikeStorePath(path: string): boolean {
  if (!path.startsWith('/')) return false;
  const parts = path.split('/');
  return parts.some((part, i) => i >= 2 && parseBaseName(part).ok);
}

/** Narrows `serve-metrics` options: the doctor's, and --listen HOST:PORT, --min-interval SECONDS. */
export function serveMetricsFlags(opts: Readonly<Record<string, unknown>>): ServeMetricsFlags {
  const listen = string(opts.listen) ?? '127.0.0.1:9925';
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(listen);
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--listen ${listen}: give HOST:PORT, e.g. 127.0.0.1:9925 or [::1]:9925`);
  return {
    doctor: doctorFlags({ ...opts, json: false, report: undefined, metrics: undefined }),
    host: (m[1] ?? m[2]) as string,
    port,
    minIntervalMs: Math.round((number(opts.minInterval) ?? 60) * 1000),
    coveragePaths: strings(opts.coverage),
  };
}

/** `nixcache why` / `nixcache coverage`: what both read, parsed once. */
export interface PathsFlags {
  json: boolean;
  report?: ReportTarget;
  conf?: string;
  caches: string[];
  trustedKeys: string[];
  timeoutMs: number;
  deadlineMs: number;
  /** Connections per cache host (each carries a few pipelined requests). */
  jobs: number;
  /** --store: the store paths are substituted into, for validity and closures (default: the local store). */
  store?: string;
  verbose: boolean;
  color: boolean;
  /** The PATH|DRV|INSTALLABLE arguments. */
  args: string[];
}

export interface CoverageFlags extends PathsFlags {
  /** Each argument's closure (default), or just the paths named. */
  closure: boolean;
  /** The system's closure: /run/current-system, else the default profile. */
  system: boolean;
  /** --paths-from FILE|-: more paths, one a line. */
  pathsFrom?: string;
  /** --metrics FILE|-: the coverage as Prometheus metrics. */
  metrics?: MetricsTarget;
}

/** The polite default of narinfo connections per host. */
export const DEFAULT_JOBS = 32;

/** Narrows commander's values for `why` and `coverage`. */
export function pathsFlags(opts: Readonly<Record<string, unknown>>, args: readonly string[]): PathsFlags {
  const report = reportTarget(opts.report);
  refuseReportOnStdout(opts.json === true, report);
  const conf = string(opts.conf);
  const store = string(opts.store);
  return {
    json: opts.json === true,
    caches: strings(opts.cache),
    trustedKeys: strings(opts.trustedKey),
    timeoutMs: Math.round((number(opts.timeout) ?? 5) * 1000),
    deadlineMs: Math.round((number(opts.deadline) ?? 300) * 1000),
    jobs: number(opts.jobs) ?? DEFAULT_JOBS,
    verbose: opts.verbose === true,
    color: opts.color !== false,
    args: [...args],
    ...(report ? { report } : {}),
    ...(conf ? { conf } : {}),
    ...(store ? { store } : {}),
  };
}

export function coverageFlags(opts: Readonly<Record<string, unknown>>, args: readonly string[]): CoverageFlags {
  const pathsFrom = string(opts.pathsFrom);
  const metrics = metricsTarget(opts.metrics);
  const flags: CoverageFlags = {
    ...pathsFlags(opts, args),
    closure: opts.closure !== false,
    system: opts.system === true,
    ...(pathsFrom ? { pathsFrom } : {}),
    ...(metrics ? { metrics } : {}),
  };
  refuseMetricsOnStdout(flags.json, flags.report, metrics);
  return flags;
}
