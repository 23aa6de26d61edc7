import type { CacheTarget } from '../discover/types.js';
import type { Facts } from '../facts/types.js';
import { type CheckResult, STATUSES } from '../report/model.js';
import type { Evidence, Recorder } from '../system/evidence.js';
import type { Check, Finding, Results } from './check.js';

export interface RunPlan {
  checks: readonly Check[];
  caches: readonly CacheTarget[];
  /** The facts as one check sees them, recording what it reads into RECORD. */
  facts(record: Recorder): Facts;
  /** The time limit of one check. */
  checkTimeoutMs(check: Check): number;
  /** Aborted when the run's time is up: whatever has not finished is `skip` with reason `deadline`. */
  deadline: AbortSignal;
  verbose: boolean;
  /** Called when a check starts and ends, for the spinner. */
  onProgress?: (event: { check: Check; cache?: CacheTarget; done: boolean }) => void;
}

interface Slot {
  check: Check;
  cache?: CacheTarget;
  result?: CheckResult;
  /** Skipped because a check it needs did not pass: its own dependents skip too. */
  blocked?: boolean;
}

/**
 * Caches whose checks run at the same time. Far more than anyone configures, so every real cache
 * list runs at once; each cache's own network operations are bounded by their timeouts.
 */
const CACHES_AT_ONCE = 256;

const key = (id: string, cache?: CacheTarget) => `${id}\u0000${cache ? cache.index : ''}`;

/**
 * Runs CHECKS in registry order. Consecutive checks of one scope form a phase: a host phase runs
 * its checks in order, a cache phase runs every cache concurrently (each cache's checks in order).
 */
export async function runChecks(plan: RunPlan): Promise<CheckResult[]> {
  const { deadline } = plan;
  // One listener on the deadline for the whole run: EventTarget looks through its listeners on every
  // add, so one per check would make 100,000 checks quadratic. Checks still running wait in a set.
  const atDeadline = new Set<() => void>();
  const deadlineReached = new Promise<void>((resolve) => {
    const reached = () => {
      for (const f of atDeadline) f();
      atDeadline.clear();
      resolve();
    };
    if (deadline.aborted) reached();
    else deadline.addEventListener('abort', reached, { once: true });
  });

  const slots = new Map<string, Slot>();
  const order: Slot[] = [];
  const phases: { scope: Check['scope']; checks: Check[] }[] = [];
  for (const check of plan.checks) {
    const last = phases[phases.length - 1];
    if (last && last.scope === check.scope) last.checks.push(check);
    else phases.push({ scope: check.scope, checks: [check] });
  }
  for (const phase of phases) {
    const slotsOf = phase.scope === 'host' ? [undefined] : plan.caches;
    for (const cache of slotsOf)
      for (const check of phase.checks) {
        const slot: Slot = cache ? { check, cache } : { check };
        slots.set(key(check.id, cache), slot);
        order.push(slot);
      }
  }
  const find = (id: string, cache?: CacheTarget) => slots.get(key(id, cache)) ?? slots.get(key(id));

  /** A check reads only the results it declared: anything else would be an undeclared dependency. */
  const resultsFor = (check: Check): Results => {
    const declared = new Set([...(check.needs ?? []), ...(check.uses ?? [])]);
    return {
      get(id, cache) {
        if (!declared.has(id)) throw new Error(`check '${check.id}' reads the result of '${id}' without declaring it in uses`);
        return find(id, cache)?.result;
      },
    };
  };

  const runSlot = async (slot: Slot) => {
    if (deadline.aborted) return;
    const started = performance.now();
    const blocker = (slot.check.needs ?? [])
      .map((id) => find(id, slot.cache))
      .find((s) => s?.result && (s.result.status === 'fail' || s.blocked));
    if (blocker?.result) {
      slot.blocked = true;
      const why = blocker.result.status === 'fail' ? 'failed' : 'was skipped';
      slot.result = toResult(
        slot,
        { status: 'skip', summary: `not run: needs '${blocker.check.id}', which ${why}`, reason: `needs ${blocker.check.id}` },
        [],
        0,
      );
      return;
    }
    const progress = { check: slot.check, ...(slot.cache ? { cache: slot.cache } : {}) };
    plan.onProgress?.({ ...progress, done: false });
    const evidence: Evidence[] = [];
    const facts = plan.facts((e) => evidence.push(e));
    const results = resultsFor(slot.check);
    const timeoutMs = plan.checkTimeoutMs(slot.check);
    let finding: Finding;
    try {
      finding = validate(await settle(start(slot, facts, results), timeoutMs, deadline, atDeadline));
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      finding = {
        status: 'fail',
        summary: `the check crashed: ${error.message.split('\n')[0]}`,
        ...(plan.verbose && error.stack ? { detail: error.stack } : {}),
      };
    }
    slot.result = toResult(slot, finding, evidence, performance.now() - started);
    plan.onProgress?.({ ...progress, done: true });
  };

  const runPhase = async (phase: (typeof phases)[number]) => {
    if (deadline.aborted) return;
    if (phase.scope === 'host') {
      for (const check of phase.checks) await runSlot(find(check.id) as Slot);
    } else {
      // Caches run side by side, at most CACHES_AT_ONCE of them: a nix.conf naming 10,000 caches
      // gets a bounded set of checks in flight (memory), not 10,000 half-finished chains.
      let next = 0;
      const worker = async () => {
        while (next < plan.caches.length && !deadline.aborted) {
          const cache = plan.caches[next++] as CacheTarget;
          for (const check of phase.checks) await runSlot(find(check.id, cache) as Slot);
        }
      };
      await Promise.all(Array.from({ length: Math.min(CACHES_AT_ONCE, plan.caches.length) }, worker));
    }
  };
  // Phases run in registry order, except that a host phase overlaps the cache phase after it when
  // no check there needs or uses one of its checks (the local reads of config and trust need not hold
  // up the network). A phase after those waits for both: the priority check reads the caches' results.
  const runAll = async () => {
    let overlapping: Promise<void>[] = [];
    for (const [i, phase] of phases.entries()) {
      const next = phases[i + 1];
      const independent =
        phase.scope === 'host' &&
        next?.scope === 'cache' &&
        !next.checks.some((c) => [...(c.needs ?? []), ...(c.uses ?? [])].some((id) => phase.checks.some((h) => h.id === id)));
      if (independent) {
        overlapping.push(runPhase(phase));
        continue;
      }
      await runPhase(phase);
      await Promise.all(overlapping);
      overlapping = [];
    }
    await Promise.all(overlapping);
  };

  await Promise.race([runAll(), deadlineReached]);
  return order.map(
    (slot) =>
      slot.result ?? toResult(slot, { status: 'skip', summary: 'not run: the run deadline was reached', reason: 'deadline' }, [], 0),
  );
}

/**
 * The check's finding, a fail when it runs past its time limit, or a deadline skip. One timer and
 * one entry in AT_DEADLINE per check, both gone when it settles: with 10,000 caches, reactions left
 * waiting on the run's deadline would hold every check's closure to the end of the run.
 */
function settle(running: Promise<Finding>, timeoutMs: number, deadline: AbortSignal, atDeadline: Set<() => void>): Promise<Finding> {
  return new Promise<Finding>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      atDeadline.delete(onDeadline);
    };
    const onDeadline = () => {
      done();
      resolve({ status: 'skip', summary: 'not finished by the run deadline', reason: 'deadline' });
    };
    const timer = setTimeout(() => {
      done();
      resolve({ status: 'fail', summary: `the check did not finish within ${(timeoutMs / 1000).toFixed(1)} s` });
    }, timeoutMs);
    // Like AbortSignal.timeout's: the run's own deadline timer is what keeps the process alive.
    timer.unref();
    if (deadline.aborted) onDeadline();
    else atDeadline.add(onDeadline);
    running.then(
      (finding) => {
        done();
        resolve(finding);
      },
      (e: unknown) => {
        done();
        reject(e);
      },
    );
  });
}

function start(slot: Slot, facts: Facts, results: Results): Promise<Finding> {
  if (slot.check.scope === 'host') return slot.check.run(facts, results);
  if (!slot.cache) throw new Error(`cache check '${slot.check.id}' without a cache`);
  return slot.check.run(facts, slot.cache, results);
}

/** Plugins are code we do not control: a malformed finding becomes a fail, not a broken document. */
function validate(finding: unknown): Finding {
  if (!finding || typeof finding !== 'object') return malformed;
  const status = 'status' in finding ? STATUSES.find((s) => s === finding.status) : undefined;
  const summary = 'summary' in finding ? finding.summary : undefined;
  if (!status || typeof summary !== 'string') return malformed;
  const text = (name: string) => {
    const v: unknown = Reflect.get(finding, name);
    return typeof v === 'string' ? v : undefined;
  };
  const data = 'data' in finding && finding.data && typeof finding.data === 'object' ? { ...finding.data } : undefined;
  return { status, summary, detail: text('detail'), fix: text('fix'), reason: text('reason'), data };
}
const malformed: Finding = { status: 'fail', summary: 'the check returned something that is not a finding ({ status, summary })' };

function toResult(slot: Slot, f: Finding, evidence: Evidence[], ms: number): CheckResult {
  const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();
  return {
    id: slot.check.id,
    title: slot.check.title,
    cache: slot.cache ? slot.cache.url.display : null,
    status: f.status,
    summary: oneLine(f.summary),
    detail: f.detail ?? null,
    fix: f.fix ?? null,
    reason: f.reason ?? (f.status === 'skip' ? 'skipped' : null),
    data: f.data ?? {},
    evidence,
    durationMs: Math.round(ms),
  };
}
