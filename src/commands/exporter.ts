/**
 * The scheduling of `serve-metrics`, apart from HTTP so it can be tested without a clock: at most
 * one doctor run at a time, none sooner than MININTERVALMS after the last one finished, and no
 * scrape waiting longer than the deadline.
 */
export interface Snapshot {
  text: string;
  /** When the run finished, on the exporter's clock (ms). */
  finishedAt: number;
  /** The run's number, from 1. */
  run: number;
}

export interface ExporterDeps {
  /** One doctor run rendered as metrics; never rejects (a crash is rendered too). RUN is its number. */
  run(run: number): Promise<string>;
  minIntervalMs: number;
  /** The longest a scrape waits for a first result. */
  deadlineMs: number;
  now(): number;
  /** Resolves after MS (a timer); injected so tests need no wall clock. */
  sleep(ms: number): { promise: Promise<void>; cancel(): void };
}

export type Scrape = { kind: 'fresh' | 'cached'; snapshot: Snapshot } | { kind: 'pending' };

export class Exporter {
  private last: Snapshot | undefined;
  private inflight: Promise<Snapshot> | undefined;
  private started = 0;

  constructor(private readonly deps: ExporterDeps) {}

  /** Runs started so far. */
  get runs(): number {
    return this.started;
  }

  get running(): boolean {
    return this.inflight !== undefined;
  }

  /** Starts a run unless one is going on; returns the run in flight. */
  refresh(): Promise<Snapshot> {
    if (this.inflight) return this.inflight;
    const run = ++this.started;
    const flight = this.deps
      .run(run)
      .then((text) => ({ text, finishedAt: this.deps.now(), run }))
      .then((snapshot) => {
        this.last = snapshot;
        return snapshot;
      })
      .finally(() => {
        this.inflight = undefined;
      });
    this.inflight = flight;
    return flight;
  }

  /**
   * What a scrape gets: the last run's metrics while they are younger than the minimum interval;
   * else a new run is started (unless one is going on) and the scrape gets the previous run's
   * metrics at once, or — when there is none yet — waits for the run, at most the deadline.
   */
  async scrape(): Promise<Scrape> {
    const last = this.last;
    if (last && this.deps.now() - last.finishedAt < this.deps.minIntervalMs) return { kind: 'cached', snapshot: last };
    const flight = this.refresh();
    if (last) return { kind: 'cached', snapshot: last };
    const timer = this.deps.sleep(this.deps.deadlineMs);
    try {
      const first = await Promise.race([flight, timer.promise.then(() => undefined)]);
      return first ? { kind: 'fresh', snapshot: first } : { kind: 'pending' };
    } finally {
      timer.cancel();
    }
  }
}

/** A real timer for ExporterDeps.sleep. */
export function sleepFor(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}
