import type { Evidence, Recorder } from '../system/evidence.js';

/** A fact being gathered (or gathered), with the evidence of the calls behind it. */
export interface Gathered<T> {
  promise: Promise<T>;
  evidence: Evidence[];
}

/** One kind of fact: gathered at most once per key, whoever asks first. */
export class FactTable<K, T> {
  private readonly gathered = new Map<K, Gathered<T>>();

  get(key: K, gather: (record: Recorder) => Promise<T>): Gathered<T> {
    let entry = this.gathered.get(key);
    if (!entry) {
      const evidence: Evidence[] = [];
      entry = { promise: gather((e) => evidence.push(e)), evidence };
      // A fact nobody awaits yet (started early) must not become an unhandled rejection.
      entry.promise.catch(() => {});
      this.gathered.set(key, entry);
    }
    return entry;
  }

  /** A fact already known (discovery found it): its evidence is what discovery saw. */
  seed(key: K, value: T, evidence: Evidence[]): void {
    if (!this.gathered.has(key)) this.gathered.set(key, { promise: Promise.resolve(value), evidence });
  }
}

/**
 * The value of a fact, its evidence recorded into RECORD once it is complete. Evidence entries are
 * recorded once per recorder even when several facts share them (a DNS look-up behind ping and TCP).
 */
export function recorderOnce(record: Recorder): <T>(fact: Gathered<T>) => Promise<T> {
  const seen = new Set<Evidence>();
  return async (fact) => {
    const value = await fact.promise;
    for (const e of fact.evidence) {
      if (seen.has(e)) continue;
      seen.add(e);
      record(e);
    }
    return value;
  };
}

/** Whether FACT is complete within MS (it goes on either way): a reader with less time than its gatherer stops waiting. */
export function completesWithin(fact: Gathered<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    fact.promise.then(done, done);
  });
}
