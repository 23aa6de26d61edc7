import { setMaxListeners } from 'node:events';
import type { Evidence } from '../system/evidence.js';
import type { CacheTarget, Check, CheckContext, CheckResult, Finding, Io } from './types.js';
import { STATUSES } from './types.js';

export interface RunPlan {
  checks: readonly Check[];
  caches: readonly CacheTarget[];
  /** Builds a context whose adapters record into RECORD and are cancelled by SIGNAL. */
  context(record: (e: Evidence) => void, signal: AbortSignal): Omit<CheckContext, 'once' | 'result'>;
  /** Adapters for work shared through `once`. */
  io(record: (e: Evidence) => void, signal: AbortSignal): Io;
  checkTimeoutMs: (check: Check) => number;
  deadlineMs: number;
  verbose: boolean;
  /** Called when a check starts and ends, for the spinner. */
  onProgress?: (event: { check: Check; target?: CacheTarget; done: boolean }) => void;
}

interface Slot {
  check: Check;
  target?: CacheTarget;
  result?: CheckResult;
  /** Skipped because a check it needs did not pass: its own dependents skip too. */
  blocked?: boolean;
}

const key = (id: string, target?: CacheTarget) => `${id}\u0000${target ? target.index : ''}`;

/**
 * Runs CHECKS in registry order. Consecutive checks of one scope form a phase: a host phase runs
 * its checks in order, a cache phase runs every cache concurrently (each cache's checks in order).
 * A hard deadline ends the run: whatever has not finished is `skip` with reason `deadline`.
 */
export async function runChecks(plan: RunPlan): Promise<CheckResult[]> {
  const deadline = new AbortController();
  // Every command, request and probe of every cache listens to the deadline: no listener limit.
  setMaxListeners(0, deadline.signal);
  const timer = setTimeout(() => deadline.abort(), plan.deadlineMs);
  const deadlineReached = new Promise<void>((resolve) => deadline.signal.addEventListener('abort', () => resolve(), { once: true }));

  const slots = new Map<string, Slot>();
  const order: Slot[] = [];
  const phases: { scope: 'host' | 'cache'; checks: Check[] }[] = [];
  for (const check of plan.checks) {
    const last = phases[phases.length - 1];
    if (last && last.scope === check.scope) last.checks.push(check);
    else phases.push({ scope: check.scope, checks: [check] });
  }
  for (const phase of phases) {
    if (phase.scope === 'host') {
      for (const check of phase.checks) addSlot({ check });
    } else {
      for (const target of plan.caches) for (const check of phase.checks) addSlot({ check, target });
    }
  }
  function addSlot(slot: Slot) {
    slots.set(key(slot.check.id, slot.target), slot);
    order.push(slot);
  }

  const shared = new Map<string, { promise: Promise<unknown>; evidence: Evidence[] }>();
  const once =
    (record: (e: Evidence) => void) =>
    async <T>(k: string, fn: (io: Io) => Promise<T>): Promise<T> => {
      let entry = shared.get(k);
      if (!entry) {
        const evidence: Evidence[] = [];
        entry = { promise: fn(plan.io((e) => evidence.push(e), deadline.signal)), evidence };
        shared.set(k, entry);
      }
      const value = (await entry.promise) as T;
      for (const e of entry.evidence) record(e);
      return value;
    };
  const resultOf = (id: string, target?: CacheTarget) => slots.get(key(id, target))?.result ?? slots.get(key(id))?.result;

  const runSlot = async (slot: Slot) => {
    if (deadline.signal.aborted) return;
    const started = performance.now();
    const blocker = (slot.check.needs ?? [])
      .map((id) => slots.get(key(id, slot.target)) ?? slots.get(key(id)))
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
    plan.onProgress?.({ check: slot.check, ...(slot.target ? { target: slot.target } : {}), done: false });
    const evidence: Evidence[] = [];
    const record = (e: Evidence) => evidence.push(e);
    const timeoutMs = plan.checkTimeoutMs(slot.check);
    const checkTimer = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([deadline.signal, checkTimer]);
    const ctx: CheckContext = { ...plan.context(record, signal), once: once(record), result: resultOf };
    let finding: Finding;
    try {
      const timedOut = new Promise<Finding>((resolve) =>
        checkTimer.addEventListener(
          'abort',
          () => resolve({ status: 'fail', summary: `the check did not finish within ${(timeoutMs / 1000).toFixed(1)} s` }),
          { once: true },
        ),
      );
      const cut = deadlineReached.then(
        (): Finding => ({ status: 'skip', summary: 'not finished by the run deadline', reason: 'deadline' }),
      );
      finding = validate(await Promise.race([slot.check.run(ctx, slot.target), timedOut, cut]));
    } catch (e) {
      const error = e as Error;
      finding = {
        status: 'fail',
        summary: `the check crashed: ${String(error?.message ?? error).split('\n')[0]}`,
        ...(plan.verbose && error?.stack ? { detail: error.stack } : {}),
      };
    }
    slot.result = toResult(slot, finding, evidence, performance.now() - started);
    plan.onProgress?.({ check: slot.check, ...(slot.target ? { target: slot.target } : {}), done: true });
  };

  const early = <T>(k: string, fn: (io: Io) => Promise<T>) => {
    const p = once(() => {})(k, fn);
    p.catch(() => {}); // a failed read is reported by run(), which awaits the same promise
    return p;
  };
  for (const check of new Set(order.map((s) => s.check))) {
    if (!check.prepare) continue;
    try {
      check.prepare({ ...plan.context(() => {}, deadline.signal), once: early, result: resultOf });
    } catch {
      // run() meets the same problem and reports it.
    }
  }

  const runPhase = async (phase: (typeof phases)[number]) => {
    if (deadline.signal.aborted) return;
    if (phase.scope === 'host') {
      for (const check of phase.checks) await runSlot(slots.get(key(check.id)) as Slot);
    } else {
      await Promise.all(
        plan.caches.map(async (target) => {
          for (const check of phase.checks) await runSlot(slots.get(key(check.id, target)) as Slot);
        }),
      );
    }
  };
  // Phases run in registry order, except that a host phase overlaps the cache phase after it when
  // no check there needs one of its checks (the local reads of config and trust need not hold up the
  // network). A phase after those waits for both: the priority check reads the caches' results.
  const runAll = async () => {
    let overlapping: Promise<void>[] = [];
    for (const [i, phase] of phases.entries()) {
      const next = phases[i + 1];
      const independent =
        phase.scope === 'host' &&
        next?.scope === 'cache' &&
        !next.checks.some((c) => (c.needs ?? []).some((id) => phase.checks.some((h) => h.id === id)));
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
  clearTimeout(timer);
  deadline.abort();
  return order.map(
    (slot) =>
      slot.result ?? toResult(slot, { status: 'skip', summary: 'not run: the run deadline was reached', reason: 'deadline' }, [], 0),
  );
}

/** Plugins are code we do not control: a malformed finding becomes a fail, not a broken document. */
function validate(finding: unknown): Finding {
  const f = finding as Partial<Finding> | null;
  if (!f || typeof f !== 'object' || !STATUSES.includes(f.status as never) || typeof f.summary !== 'string') {
    return { status: 'fail', summary: 'the check returned something that is not a finding ({ status, summary })' };
  }
  return f as Finding;
}

function toResult(slot: Slot, f: Finding, evidence: Evidence[], ms: number): CheckResult {
  const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();
  return {
    id: slot.check.id,
    title: slot.check.title,
    cache: slot.target ? slot.target.url.display : null,
    status: f.status,
    summary: oneLine(f.summary),
    detail: f.detail ?? null,
    fix: f.fix ?? null,
    reason: f.reason ?? (f.status === 'skip' ? 'skipped' : null),
    data: f.data && typeof f.data === 'object' ? f.data : {},
    evidence,
    durationMs: Math.round(ms),
  };
}
