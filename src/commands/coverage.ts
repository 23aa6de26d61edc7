import { closeSync, constants, createReadStream, open as fsOpen, fstatSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { isatty, ReadStream } from 'node:tty';
import { localClosure, resolveArguments, systemRoot } from '../facts/closure.js';
import { type Lookup, lookupPath, type NarProbe, probeNar } from '../facts/path-lookups.js';
import { parseBaseName } from '../nix/store-path.js';
import type { CoverageCache, CoverageHole, CoverageReport } from '../report/coverage.js';
import { NO_COUNTS, renderCoverageMarkdown, renderCoverageTable } from '../report/coverage.js';
import { unreadDocumentHead } from '../report/paths-common.js';
import { redactPatterns } from '../report/redact.js';
import { displayText } from '../report/sanitize.js';
import { plural } from '../report/text.js';
import { writeFileAtomically } from '../system/atomic.js';
import { terminal } from '../system/terminal.js';
import { type CoverageFlags, fileToRead, fileToWrite, firstFileProblem, type MetricsTarget } from './flags.js';
import {
  cacheEntries,
  crashProblem,
  eachLimited,
  openSession,
  PIPELINING,
  progressLine,
  sessionDocumentHead,
  writeOutputs,
} from './paths-run.js';

/** A closure larger than this is cut there (with a message): memory stays bounded. */
export const MAX_COVERAGE_PATHS = 1_000_000;
/** Lines read from --paths-from. */
const MAX_PATHS_FROM_BYTES = 256 * 1024 * 1024;

/** `nixcache coverage [PATH…]`: exit 0 when every path is available from some cache, 1 when some must be built, 2 usage. */
export async function coverageCommand(flags: CoverageFlags, env: Readonly<NodeJS.ProcessEnv> = process.env): Promise<number> {
  const usage = usageProblem(flags);
  const progress = usage ? undefined : progressLine(env);
  const report = usage
    ? emptyReport(flags, [usage])
    : await measureCoverage(flags, env, (t) => progress?.update(t)).finally(() => progress?.stop());
  let undelivered = await writeOutputs(
    flags,
    env,
    report,
    { markdown: renderCoverageMarkdown, table: renderCoverageTable },
    { stdoutTaken: flags.metrics?.to === 'stdout', usageError: usage !== undefined },
  );
  // A usage error stops before anything runs: there is no run to write, and the file is left alone.
  if (flags.metrics && !usage) undelivered += (await writeMetrics(flags.metrics, report, flags.json)) ? 0 : 1;
  if (report.errors.length > 0) {
    for (const e of report.errors)
      await terminal.stderr(`nixcache: ${e.argument.startsWith('(') ? '' : `${displayText(e.argument)}: `}${displayText(e.message)}\n`);
    return 2;
  }
  if (undelivered > 0) return 3;
  return report.missing.length > 0 ? 1 : 0;
}

function usageProblem(flags: CoverageFlags): { argument: string; message: string } | undefined {
  const inputs = [flags.conf, flags.pathsFrom].filter((f): f is string => f !== undefined && f !== '-');
  const problem = firstFileProblem([
    fileToWrite('--report', flags.report, inputs),
    fileToWrite('--metrics', flags.metrics, inputs),
    fileToRead('--conf', flags.conf),
    fileToRead('--paths-from', flags.pathsFrom === '-' ? undefined : flags.pathsFrom),
  ]);
  if (problem) return problem;
  if (flags.args.length === 0 && !flags.system && !flags.pathsFrom)
    return { argument: '(no paths)', message: 'name store paths, .drv files or installables, or use --system or --paths-from FILE' };
  return undefined;
}

/**
 * One coverage run as a report, never printed and never thrown: a run that crashes is a report
 * whose errors say so (what `coverage` prints and `serve-metrics --coverage` exposes).
 */
export async function measureCoverage(
  flags: CoverageFlags,
  env: Readonly<NodeJS.ProcessEnv>,
  onProgress: (text: string) => void = () => {},
): Promise<CoverageReport> {
  try {
    return await runCoverage(flags, env, onProgress);
  } catch (e) {
    return emptyReport(flags, [await crashProblem('coverage', e, flags.verbose)]);
  }
}

/** The report of a run that could not measure anything: MESSAGE says why. */
export function failedCoverage(flags: CoverageFlags, message: string): CoverageReport {
  return emptyReport(flags, [{ argument: '(run)', message }]);
}

/** `--metrics`: the coverage as Prometheus metrics, on stdout or replacing FILE atomically; false when not delivered. */
async function writeMetrics(target: MetricsTarget, report: CoverageReport, quiet: boolean): Promise<boolean> {
  const text = await (await import('../report/coverage-metrics.js')).renderCoverageMetrics(report);
  if (target.to === 'stdout') return (await terminal.stdout(text)).ok;
  const written = writeFileAtomically(target.path, text);
  if (!written.ok) await terminal.stderr(`nixcache: could not write the metrics to ${target.path}: ${written.message}\n`);
  else if (!quiet) await terminal.stderr(`nixcache: metrics written to ${target.path}\n`);
  return written.ok;
}

/** The document of a `coverage --json` whose command line could not be read: nothing ran, MESSAGE says why. */
export function usageDocument(message: string): CoverageReport {
  return emptyReport({ closure: true }, [{ argument: '(usage)', message }]);
}

function emptyReport(flags: Pick<CoverageFlags, 'closure'>, errors: CoverageReport['errors']): CoverageReport {
  return {
    ...unreadDocumentHead('coverage'),
    closure: flags.closure,
    roots: [],
    paths: 0,
    available: 0,
    caches: [],
    missing: [],
    holes: [],
    errors: errors.map((e) => ({ argument: redactPatterns(e.argument), message: redactPatterns(e.message) })),
    requests: { total: 0, retries: 0, rateLimited: 0 },
    complete: true,
  };
}

/**
 * --paths-from FILE|-: read as a stream under the run's deadline — a pipe is welcome (`<(nix-store
 * -qR …)` is one), but one nobody writes to must not hold the run past its deadline.
 */
async function readPathsFrom(file: string, deadline: AbortSignal): Promise<string[]> {
  const stream = file === '-' ? process.stdin : await openForStreaming(file);
  const chunks: Buffer[] = [];
  let size = 0;
  const stop = () => stream.destroy(new Error(`--paths-from ${file}: still open at the run deadline`));
  if (deadline.aborted) stop();
  else deadline.addEventListener('abort', stop, { once: true });
  try {
    for await (const chunk of stream) {
      size += (chunk as Buffer).length;
      if (size > MAX_PATHS_FROM_BYTES) throw new Error(`--paths-from ${file} is larger than ${MAX_PATHS_FROM_BYTES} bytes`);
      chunks.push(chunk as Buffer);
    }
  } finally {
    deadline.removeEventListener('abort', stop);
    if (file !== '-') stream.destroy();
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/**
 * FILE opened without blocking (a FIFO with no writer would hold a thread in open(2) for good), as
 * a plain descriptor the stream alone owns: a pipe or FIFO is read as a socket (no thread waits on
 * it), a terminal as one (read to Ctrl-D), anything else as a file.
 */
async function openForStreaming(file: string): Promise<Readable> {
  const fd = await new Promise<number>((resolve, reject) =>
    fsOpen(file, constants.O_RDONLY | constants.O_NONBLOCK, (e, n) => (e ? reject(e) : resolve(n))),
  );
  try {
    const info = fstatSync(fd);
    if (info.isDirectory()) throw new Error(`--paths-from ${file} is a directory`);
    if (info.isFIFO() || info.isSocket()) return new Socket({ fd, readable: true, writable: false });
    if (isatty(fd)) return new ReadStream(fd);
    return createReadStream('', { fd });
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** A narinfo Nix accepts: present, with a trusted signature or none needed. */
const usable = (l: Lookup | undefined) =>
  l?.narinfo === 'present' && (l.signature === 'trusted' || l.signature === 'not-required' || l.signature === 'content-addressed');

export async function runCoverage(
  flags: CoverageFlags,
  env: Readonly<NodeJS.ProcessEnv>,
  onProgress: (text: string) => void,
): Promise<CoverageReport> {
  onProgress('reading nix.conf and the caches’ nix-cache-info');
  const session = await openSession(flags, env);
  try {
    const { discovery, plans, disk, deps, tools } = session;
    const storeDir = discovery.env.storeDir;
    const args = [...flags.args, ...(flags.pathsFrom ? await readPathsFrom(flags.pathsFrom, session.deadline) : [])];
    const errors: CoverageReport['errors'] = [];
    if (flags.system) {
      const root = await systemRoot(tools.fs, storeDir);
      if (root) args.push(root.path);
      else
        errors.push({
          argument: '--system',
          message: 'no system closure here: neither /run/current-system nor /nix/var/nix/profiles/default exists',
        });
    }
    onProgress(`resolving ${plural(args.length, 'argument')}`);
    const resolved = await resolveArguments(tools, args);
    errors.push(...resolved.problems);
    const roots = resolved.paths.map((p) => p.path);
    let paths = roots;
    if (flags.closure && roots.length > 0) {
      onProgress('reading the closure from the store');
      const closure = await localClosure(tools, roots, resolved.drvs);
      for (const message of closure.problems) errors.push({ argument: '(closure)', message });
      paths = closure.paths;
    }

    const seen = new Set<string>(paths);
    const queue = [...paths];
    const lookups = plans.map(() => new Map<string, Lookup>());
    // Only the NARs that failed are kept: a closure of a million paths holds no word per NAR that downloads.
    const narFailures = plans.map(() => new Map<string, NarProbe>());
    let cut = false;
    let done = 0;
    // One wave per depth of the closure: bounded, since a path joins the queue once and there are at most MAX_COVERAGE_PATHS.
    while (queue.length > 0 && !session.deadline.aborted) {
      const batch = queue.splice(0, queue.length);
      const jobs = batch.flatMap((path) => plans.map((_, i) => ({ path, i })));
      await eachLimited(jobs, flags.jobs * PIPELINING * Math.max(1, plans.length), session.deadline, async ({ path, i }) => {
        const plan = plans[i];
        if (!plan) return;
        const lookup = await lookupPath(deps, plan, path);
        // References are the closure's next wave; a path's own name is not kept twice.
        lookups[i]?.set(path, lookup);
        // A NAR Nix would download from here: probed (HEAD) on the same pool, since a NAR that fails makes Nix try the next cache.
        // Its first bytes are not read (a GET per NAR would leave the pipelined pool): a label Nix names is taken at its word.
        if (usable(lookup) && lookup.narUrl) {
          const nar = await probeNar(deps, plan, lookup.narUrl, lookup.compression, 'head');
          if (nar.nar !== 'ok' || nar.undecodable) narFailures[i]?.set(path, nar);
        }
        done++;
        if (done % 64 === 0) onProgress(`checked ${done}/${seen.size * plans.length} look-ups`);
        if (flags.closure && lookup.references) {
          for (const ref of lookup.references) {
            const full = `${storeDir}/${ref}`;
            if (seen.has(full)) continue;
            if (seen.size >= MAX_COVERAGE_PATHS) {
              cut = true;
              continue;
            }
            if (!parseBaseName(ref).ok) continue;
            seen.add(full);
            queue.push(full);
          }
        }
      });
    }
    if (cut)
      errors.push({
        argument: '(closure)',
        message: `the closure has more than ${MAX_COVERAGE_PATHS} paths: counted the first ${MAX_COVERAGE_PATHS}`,
      });
    const all = [...seen];
    if (all.length === 0 && errors.length === 0)
      errors.push({ argument: '(closure)', message: 'the closure is empty: there are 0 paths to look up' });

    const negative = (i: number, path: string, l: Lookup | undefined) => {
      if (disk.kind !== 'read' || l?.narinfo !== 'present') return false;
      const plan = plans[i];
      if (!plan) return false;
      return disk.judge(plan.target.url.raw, path.slice(storeDir.length + 1, storeDir.length + 33), l.narHash).kind === 'negative';
    };
    /** What Nix can take from cache I for PATH: a narinfo it accepts and a NAR file it can download and decode. */
    const available = (i: number, path: string) => usable(lookups[i]?.get(path)) && !narFailures[i]?.has(path);
    // A cache whose nix-cache-info stops Nix leaves every path to be built, whoever has it.
    const stopped = plans.some((p) => p.stopsNix !== undefined);
    const caches: CoverageCache[] = cacheEntries(plans).map((entry) => ({ ...entry, ...NO_COUNTS }));
    const missing: string[] = [];
    const holes: CoverageHole[] = [];
    for (const path of all) {
      let from = -1;
      plans.forEach((plan, i) => {
        const l = lookups[i]?.get(path);
        const c = caches[i] as CoverageCache;
        if (!l) c.unreachable++;
        else if (l.narinfo === 'present') {
          if (usable(l) && narFailures[i]?.has(path)) c.narMissing++;
          else if (usable(l)) {
            c.present++;
            c.fileSize += l.fileSize ?? 0;
            c.narSize += l.narSize ?? 0;
            const neg = negative(i, path, l);
            if (neg) c.diskNegative++;
            if (from < 0 && plan.used && !neg && !stopped) from = i;
            const lacking = (l.references ?? []).filter((ref) => `${storeDir}/${ref}` !== path && !available(i, `${storeDir}/${ref}`));
            if (lacking.length > 0) holes.push({ cache: plan.url, path, missing: lacking });
          } else c.untrusted++;
        } else c[l.narinfo]++;
      });
      if (from < 0) missing.push(path);
      else {
        const c = caches[from] as CoverageCache;
        const l = lookups[from]?.get(path);
        c.attributed++;
        c.attributedFileSize += l?.fileSize ?? 0;
        c.attributedNarSize += l?.narSize ?? 0;
      }
    }
    for (const c of caches) c.coverage = all.length === 0 ? 0 : Math.round((c.present / all.length) * 10000) / 10000;
    const report: CoverageReport = {
      ...sessionDocumentHead('coverage', session),
      closure: flags.closure,
      roots,
      paths: all.length,
      available: all.length - missing.length,
      caches,
      missing,
      holes,
      errors,
      requests: session.stats(),
      complete: !session.deadline.aborted,
    };
    return session.redactor.deep(report);
  } finally {
    await session.close();
  }
}
