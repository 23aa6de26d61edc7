import type { CacheTarget, RunSettings } from '../discover/types.js';
import type { FactKind, Facts } from '../facts/types.js';
import type { CheckResult, Status } from '../report/model.js';

/** What a check says. The runner adds id, cache, evidence and timing. */
export interface Finding {
  status: Status;
  /** One line, plain words, no colour codes. */
  summary: string;
  detail?: string | undefined;
  /** The exact remedy: a command or config lines. */
  fix?: string | undefined;
  /** Why skipped. */
  reason?: string | undefined;
  data?: Record<string, unknown> | undefined;
}

/** The results of earlier checks that a check declared in `needs` or `uses`; reading any other is a bug. */
export interface Results {
  get(id: string, cache?: CacheTarget): CheckResult | undefined;
}

interface CheckBase {
  /** Stable, kebab-case, part of the JSON contract. */
  id: string;
  title: string;
  /** Checks that must not have failed (else this one is `skip`, its reason naming them). */
  needs?: readonly string[];
  /** Checks whose results it reads (through Results). */
  uses?: readonly string[];
  /** Facts it looks at that are worth starting when the run starts, before its turn comes. */
  reads?: readonly FactKind[];
  /** Its time limit, when it makes several network operations of TIMEOUTMS each (RUN: what was asked, e.g. how many --sample paths). */
  timeoutMs?: (operationTimeoutMs: number, run: Readonly<RunSettings>) => number;
}

/** A step about this machine. */
export interface HostCheck extends CheckBase {
  scope: 'host';
  run(facts: Facts, results: Results): Promise<Finding>;
}

/** A step run for every cache, concurrently across caches. */
export interface CacheCheck extends CheckBase {
  scope: 'cache';
  run(facts: Facts, cache: CacheTarget, results: Results): Promise<Finding>;
}

export type Check = HostCheck | CacheCheck;
