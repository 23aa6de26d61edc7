/** Usage errors: one line on stderr, exit 2, never a stack. */
export class UsageError extends Error {}

/** Where the Markdown report goes: stdout (`--report`) or a file (`--report FILE`). */
export type ReportTarget = { to: 'stdout' } | { to: 'file'; path: string };

/** `nixcache doctor`'s command line, parsed once. */
export interface DoctorFlags {
  json: boolean;
  report?: ReportTarget;
  conf?: string;
  caches: string[];
  trustedKeys: string[];
  sample?: string;
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
}

const string = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const number = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Narrows commander's option values (already validated by the option parsers) into DoctorFlags. */
export function doctorFlags(opts: Readonly<Record<string, unknown>>): DoctorFlags {
  const reportFile = string(opts.report);
  const report: ReportTarget | undefined =
    opts.report === true ? { to: 'stdout' } : reportFile ? { to: 'file', path: reportFile } : undefined;
  const conf = string(opts.conf);
  const sample = string(opts.sample);
  const port = number(opts.port);
  const secretKeyFile = string(opts.secretKeyFile);
  const flags: DoctorFlags = {
    json: opts.json === true,
    caches: strings(opts.cache),
    trustedKeys: strings(opts.trustedKey),
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
    ...(sample ? { sample } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(secretKeyFile ? { secretKeyFile } : {}),
  };
  if (flags.json && flags.report?.to === 'stdout')
    throw new UsageError('--report without a FILE writes to stdout, which --json already uses: give --report a file name');
  return flags;
}
