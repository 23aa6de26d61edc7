import type { CacheTarget, Discovery, Environment } from '../discover/types.js';
import { effectiveOrder, type PrioritySource, resolvePriority } from '../nix/priority.js';
import type { Evidence } from '../system/evidence.js';
import { SCHEMA_VERSION, VERSION } from '../version.js';
import { type Redactor, redactPatterns } from './redact.js';

/**
 * The report model: built once per run (also when the run itself crashes), shared by every
 * renderer and the JSON contract. Nothing here decides a verdict.
 */
export type Status = 'pass' | 'warn' | 'fail' | 'skip';
export const STATUSES: readonly Status[] = ['pass', 'warn', 'fail', 'skip'];

/** A finding as it appears in the output: the check's words plus what the runner adds. */
export interface CheckResult {
  id: string;
  title: string;
  cache: string | null;
  status: Status;
  summary: string;
  detail: string | null;
  fix: string | null;
  reason: string | null;
  data: Record<string, unknown>;
  evidence: Evidence[];
  durationMs: number;
}

export interface CacheEntry {
  url: string;
  role: CacheTarget['role'];
  local: boolean;
  priority: number;
  prioritySource: PrioritySource;
  /** 1-based position in the order Nix tries substituters; null for caches Nix is not configured to use. */
  order: number | null;
}

export interface ReportEnvironment extends Environment {
  /** `sandbox` as Nix applies it: from nix.conf, else from Nix's own view; null when neither says. */
  sandbox: string | null;
}

/** One line of the "Fix first" list: a failing or warning finding, in the order to fix them. */
export interface FixFirstItem {
  rank: number;
  id: string;
  title: string;
  cache: string | null;
  status: 'fail' | 'warn';
  summary: string;
  /** The first line of the check's fix, or null when it gave none. */
  fix: string | null;
}

export interface Report {
  schemaVersion: number;
  tool: { name: string; version: string };
  generatedAt: string;
  durationMs: number;
  environment: ReportEnvironment;
  config: { files: string[]; substituters: string[]; trustedPublicKeys: string[]; requireSigs: boolean };
  caches: CacheEntry[];
  checks: CheckResult[];
  summary: Record<Status, number>;
  /** The failing, then warning, findings ranked by how much they keep Nix from substituting. */
  fixFirst: FixFirstItem[];
}

/** The priority a cache advertised in nix-cache-info, from the cache-info check's result. */
export function advertisedPriority(cacheInfo: CheckResult | undefined): number | undefined {
  return typeof cacheInfo?.data.priority === 'number' ? cacheInfo.data.priority : undefined;
}

/** The JSON `caches` list: priority from the URL, else from nix-cache-info, else Nix's default 0. */
export function cacheEntries(targets: readonly CacheTarget[], results: readonly CheckResult[]): CacheEntry[] {
  const infos = new Map<string | null, CheckResult>();
  for (const r of results) if (r.id === 'cache-info' && !infos.has(r.cache)) infos.set(r.cache, r);
  const entries = targets.map((t) => {
    const info = infos.get(t.url.display);
    const { priority, source } = resolvePriority(t.url.priority, advertisedPriority(info));
    const entry: CacheEntry = { url: t.url.display, role: t.role, local: t.local, priority, prioritySource: source, order: null };
    return { target: t, priority, entry };
  });
  effectiveOrder(entries.filter((e) => e.target.role === 'substituter')).forEach((e, i) => {
    e.entry.order = i + 1;
  });
  return entries.map((e) => e.entry);
}

/**
 * How much a failing check keeps Nix from substituting, most first: a configuration Nix refuses or
 * a daemon that ignores the caches blocks everything; a cache that cannot be reached or read blocks
 * that cache; a signature Nix rejects makes it useless; the server side and the order matter next;
 * ping is only a symptom. Checks not listed (plugins) come after the built-in ones.
 */
const BLOCKING: readonly string[] = [
  'config',
  'trust',
  'connect',
  'cache-info',
  'signature',
  'service',
  'firewall',
  'signing-key',
  'priority',
  'ping',
];

/** The failing, then warning, findings, ranked: status, then how much the check blocks, then the cache Nix tries first. */
export function rankFixes(results: readonly CheckResult[], caches: readonly CacheEntry[]): FixFirstItem[] {
  const weight = (id: string) => {
    const i = BLOCKING.indexOf(id);
    return i < 0 ? BLOCKING.length : i;
  };
  const order = new Map<string, number>();
  for (const c of caches) if (!order.has(c.url)) order.set(c.url, c.order ?? caches.length + 1);
  // The machine's own problems hold up every cache: they come first.
  const position = (cache: string | null) => (cache === null ? 0 : (order.get(cache) ?? caches.length + 1));
  return results
    .map((r, index) => ({ r, index }))
    .filter(({ r }) => r.status === 'fail' || r.status === 'warn')
    .sort(
      (a, b) =>
        (a.r.status === 'fail' ? 0 : 1) - (b.r.status === 'fail' ? 0 : 1) ||
        weight(a.r.id) - weight(b.r.id) ||
        position(a.r.cache) - position(b.r.cache) ||
        a.index - b.index,
    )
    .map(({ r }, i) => ({
      rank: i + 1,
      id: r.id,
      title: r.title,
      cache: r.cache,
      status: r.status === 'fail' ? 'fail' : 'warn',
      summary: r.summary,
      fix:
        r.fix
          ?.split('\n')
          .find((line) => line.trim() !== '')
          ?.trim() ?? null,
    }));
}

export function summarise(results: readonly CheckResult[]): Record<Status, number> {
  const summary: Record<Status, number> = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const r of results) summary[r.status]++;
  return summary;
}

/** The report of a finished run, redacted before any renderer sees it. */
export function buildReport(input: {
  discovery: Discovery;
  results: readonly CheckResult[];
  sandbox: string | null;
  durationMs: number;
  redactor: Redactor;
}): Report {
  const { discovery, results } = input;
  const { config } = discovery;
  const report: Report = {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: 'nixcache', version: VERSION },
    generatedAt: new Date().toISOString(),
    durationMs: Math.round(input.durationMs),
    environment: { ...discovery.env, groups: [...discovery.env.groups], sandbox: input.sandbox },
    config: {
      files: config.files.filter((f) => f.status === 'read').map((f) => f.path),
      substituters: [...config.substituters],
      trustedPublicKeys: config.trustedKeys.keys.map((k) => k.text).concat(config.trustedKeys.invalid.map((k) => k.text)),
      requireSigs: config.requireSigs,
    },
    caches: cacheEntries(discovery.targets, results),
    checks: [...results],
    summary: summarise(results),
    fixFirst: [],
  };
  report.fixFirst = rankFixes(report.checks, report.caches);
  return input.redactor.inPlace(report);
}

/** The doctor itself failed (not one check): still one valid document, with a one-line reason. */
export function crashReport(e: unknown, verbose: boolean, env: { user?: string | undefined }, usage?: { fix: string }): Report {
  const error = e instanceof Error ? e : new Error(String(e));
  const message = redactPatterns(error.message.split('\n')[0] ?? 'unknown error');
  const results: CheckResult[] = [
    {
      id: 'doctor',
      title: 'nixcache doctor',
      cache: null,
      status: 'fail',
      summary: usage ? `the doctor did not run: ${message}` : `the doctor could not run: ${message}`,
      detail: verbose && !usage ? redactPatterns(error.stack ?? '') : null,
      fix: usage?.fix ?? null,
      reason: null,
      data: {},
      evidence: [],
      durationMs: 0,
    },
  ];
  return {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: 'nixcache', version: VERSION },
    generatedAt: new Date().toISOString(),
    durationMs: 0,
    environment: {
      os: process.platform,
      arch: process.arch,
      nixVersion: null,
      user: env.user ?? 'unknown',
      uid: -1,
      groups: [],
      root: false,
      multiUser: false,
      trustedUser: null,
      storeDir: '/nix/store',
      sandbox: null,
    },
    config: { files: [], substituters: [], trustedPublicKeys: [], requireSigs: true },
    caches: [],
    checks: results,
    summary: summarise(results),
    fixFirst: rankFixes(results, []),
  };
}
