import { resolveArguments, validPaths } from '../facts/closure.js';
import { type Lookup, lookupPath, type NarProbe, probeNar } from '../facts/path-lookups.js';
import { cacheViewOf, decidePath } from '../facts/path-view.js';
import type { DiskCacheVerdict } from '../nix/disk-cache.js';
import { formatTime, isoTime } from '../nix/disk-cache.js';
import { parseStorePath } from '../nix/store-path.js';
import type { CacheView, PathVerdict } from '../nix/substitution.js';
import { unreadDocumentHead } from '../report/paths-common.js';
import { redactPatterns } from '../report/redact.js';
import { displayText } from '../report/sanitize.js';
import { plural } from '../report/text.js';
import { renderWhyMarkdown, renderWhyTable, type WhyCache, type WhyPath, type WhyReport } from '../report/why.js';
import { terminal } from '../system/terminal.js';
import { fileToRead, fileToWrite, firstFileProblem, type PathsFlags } from './flags.js';
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

/** `why` explains paths one by one; closures are `coverage`'s job. */
export const MAX_WHY_PATHS = 1000;
/** References judged beyond the paths named (their closures). */
const MAX_REFERENCE_PATHS = 100_000;

interface Judged {
  verdict: PathVerdict;
  caches: WhyCache[];
  /** The references Nix would substitute first (from the chosen cache's narinfo). */
  references: string[];
}

/** `nixcache why PATH…`: flags → discover → look-ups → verdicts → one report → a renderer. Returns the exit code. */
export async function whyCommand(flags: PathsFlags, env: Readonly<NodeJS.ProcessEnv> = process.env): Promise<number> {
  const usage = usageProblem(flags);
  let report: WhyReport;
  if (usage) report = emptyReport(usage.errors);
  else {
    const progress = progressLine(env);
    try {
      report = await runWhy(flags, env, (t) => progress?.update(t));
    } catch (e) {
      report = emptyReport([await crashProblem('why', e, flags.verbose)]);
    } finally {
      progress?.stop();
    }
  }
  const undelivered = await writeOutputs(
    flags,
    env,
    report,
    { markdown: renderWhyMarkdown, table: renderWhyTable },
    { usageError: usage !== undefined },
  );
  if (report.errors.length > 0) {
    for (const e of report.errors)
      await terminal.stderr(`nixcache: ${e.argument === '(run)' ? '' : `${displayText(e.argument)}: `}${displayText(e.message)}\n`);
    return 2;
  }
  if (undelivered > 0) return 3;
  return report.summary.build > 0 ? 1 : 0;
}

function usageProblem(flags: PathsFlags): { errors: WhyReport['errors'] } | undefined {
  if (flags.args.length > MAX_WHY_PATHS)
    return {
      errors: [
        {
          argument: `(${flags.args.length} arguments)`,
          message: `why explains at most ${MAX_WHY_PATHS} paths at a time; for a closure use: nixcache coverage --paths-from FILE`,
        },
      ],
    };
  const problem = firstFileProblem([
    fileToWrite('--report', flags.report, flags.conf ? [flags.conf] : []),
    fileToRead('--conf', flags.conf),
  ]);
  return problem ? { errors: [problem] } : undefined;
}

/** The document of a `why --json` whose command line could not be read: nothing ran, MESSAGE says why. */
export function usageDocument(message: string): WhyReport {
  return emptyReport([{ argument: '(usage)', message }]);
}

function emptyReport(errors: WhyReport['errors']): WhyReport {
  return {
    ...unreadDocumentHead('why'),
    caches: [],
    paths: [],
    errors: errors.map((e) => ({ argument: redactPatterns(e.argument), message: redactPatterns(e.message) })),
    summary: { valid: 0, substitute: 0, build: 0 },
    complete: true,
  };
}

export async function runWhy(flags: PathsFlags, env: Readonly<NodeJS.ProcessEnv>, onProgress: (text: string) => void): Promise<WhyReport> {
  onProgress('reading nix.conf and the caches’ nix-cache-info');
  const session = await openSession(flags, env);
  try {
    const { discovery, plans, disk, deps, tools } = session;
    const storeDir = discovery.env.storeDir;
    onProgress('resolving the arguments');
    const resolved = await resolveArguments(tools, flags.args);
    const paths = resolved.paths;
    const valid = new Set<string>();
    const lookups = new Map<string, Lookup>();
    const nars = new Map<string, NarProbe>();
    const judged = new Map<string, Judged>();
    const fallback = discovery.config.settings.get('fallback') === 'true';
    let done = 0;

    /** Looks PATHS up in every cache and judges each on its own. */
    const evaluate = async (batch: readonly string[]) => {
      for (const p of (await validPaths(tools, batch)) ?? []) valid.add(p);
      const jobs: { path: string; plan: (typeof plans)[number] }[] = [];
      // A valid path is looked up too: whether the caches have what this machine built is worth knowing.
      for (const path of batch) for (const plan of plans) jobs.push({ path, plan });
      await eachLimited(jobs, flags.jobs * PIPELINING * Math.max(1, plans.length), session.deadline, async ({ path, plan }) => {
        const key = `${plan.order}\u0000${path}`;
        const lookup = await lookupPath(deps, plan, path);
        lookups.set(key, lookup);
        if (lookup.narinfo === 'present' && lookup.narUrl) nars.set(key, await probeNar(deps, plan, lookup.narUrl, lookup.compression));
        onProgress(`looked up ${plural(++done, 'narinfo')}`);
      });
      for (const path of batch) judged.set(path, judge(path));
    };

    const judge = (path: string): Judged => {
      const parsed = parseStorePath(path, storeDir);
      const hashPart = parsed.ok ? parsed.value.hashPart : '';
      const isValid = valid.has(path);
      const views: CacheView[] = [];
      let references: string[] = [];
      const caches: WhyCache[] = plans.map((plan) => {
        const key = `${plan.order}\u0000${path}`;
        const l: Lookup = lookups.get(key) ?? {
          narinfo: 'unreachable',
          detail: 'not looked up before the deadline',
          signature: null,
          keys: [],
        };
        const nar = nars.get(key);
        const served = l.narinfo === 'present' ? l.narHash : l.narinfo === 'missing' ? null : undefined;
        const dc: DiskCacheVerdict | undefined = disk.kind === 'read' ? disk.judge(plan.target.url.raw, hashPart, served) : undefined;
        const view = cacheViewOf(plan, l, nar ?? null, disk, dc, deps.nixVersion);
        views.push(view);
        const compression = l.compression ?? null;
        const decodable = compression === null ? null : view.undecodable === undefined;
        return {
          url: plan.url,
          order: plan.order,
          used: plan.used,
          narinfo: l.narinfo,
          narinfoDetail: l.detail ?? null,
          signature: l.signature,
          keys: l.keys,
          nar: nar?.nar ?? null,
          narDetail: nar?.detail ?? null,
          compression,
          decodable,
          diskCache: view.disk,
          diskCacheExpires: view.diskExpires !== undefined ? isoTime(view.diskExpires) : null,
        };
      });
      const verdict = decidePath(plans, views, {
        path,
        hashPart,
        valid: isValid,
        fallback,
        ...(disk.kind === 'read' ? { diskCachePath: disk.path } : {}),
        confFile: discovery.config.systemFile,
        netrcFile: discovery.config.netrc.path,
        at: formatTime,
      });
      if (verdict.verdict === 'substitute') {
        const chosen = plans.find((p) => p.url === verdict.from);
        const l = chosen ? lookups.get(`${chosen.order}\u0000${path}`) : undefined;
        references = (l?.references ?? []).map((r) => `${storeDir}/${r}`).filter((r) => r !== path);
      }
      return { verdict, caches, references };
    };

    // Nix substitutes a path's references first (from the narinfo of the cache it chose): the
    // references are judged too, wave by wave, each path once, at most MAX_REFERENCE_PATHS.
    let wave = paths.map((p) => p.path);
    while (wave.length > 0 && !session.deadline.aborted) {
      await evaluate(wave);
      const next = new Set<string>();
      for (const path of wave)
        for (const ref of judged.get(path)?.references ?? [])
          if (!judged.has(ref) && judged.size + next.size < MAX_REFERENCE_PATHS && parseStorePath(ref, storeDir).ok) next.add(ref);
      wave = [...next];
    }

    /** The first reference in PATH's closure that Nix cannot get (a hole), if any. */
    const holeMemo = new Map<string, string | null>();
    const holeOf = (path: string): string | null => {
      const stack: { path: string; refs: string[]; i: number }[] = [];
      const visit = (p: string) => stack.push({ path: p, refs: judged.get(p)?.references ?? [], i: 0 });
      visit(path);
      holeMemo.set(path, null);
      // Iterative depth-first search: a deep closure does not overflow the call stack.
      while (stack.length > 0) {
        const top = stack[stack.length - 1] as { path: string; refs: string[]; i: number };
        if (top.i >= top.refs.length) {
          stack.pop();
          continue;
        }
        const ref = top.refs[top.i++] as string;
        const j = judged.get(ref);
        if (!j) continue; // not judged before the deadline or the bound: nothing known against it
        if (j.verdict.verdict === 'build') {
          for (const s of stack) holeMemo.set(s.path, ref);
          return ref;
        }
        if (holeMemo.has(ref)) {
          const known = holeMemo.get(ref) ?? null;
          if (known) {
            for (const s of stack) holeMemo.set(s.path, known);
            return known;
          }
          continue;
        }
        holeMemo.set(ref, null);
        visit(ref);
      }
      return null;
    };

    const out: WhyPath[] = paths.map(({ path, from }) => {
      const j = judged.get(path) ?? judge(path);
      let verdict = j.verdict;
      const hole = verdict.verdict === 'substitute' ? holeOf(path) : null;
      if (hole) {
        const h = judged.get(hole)?.verdict;
        verdict = {
          verdict: 'build',
          from: null,
          reason: `${verdict.from} has it, but its reference ${hole} is in no cache Nix can use (${h?.reason ?? 'no cache has it'}): Nix cannot substitute a path whose references it cannot get, so it builds`,
          fix: h?.fix ?? `Push the reference too: nix copy --to ${verdict.from} ${hole}`,
        };
      }
      return { argument: from, path, ...verdict, caches: j.caches };
    });
    const summary = { valid: 0, substitute: 0, build: 0 };
    for (const p of out) summary[p.verdict]++;
    const report: WhyReport = {
      ...sessionDocumentHead('why', session),
      caches: cacheEntries(plans),
      paths: out,
      errors: resolved.problems,
      summary,
      complete: !session.deadline.aborted,
    };
    return session.redactor.deep(report);
  } finally {
    await session.close();
  }
}
