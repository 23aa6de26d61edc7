import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { timeLimit } from '../../src/system/abort.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * The time limit every request and the discovery run under: it fires even after garbage
 * collections. (The AbortSignal.any-over-AbortSignal.timeout pattern it replaces, nodejs/node#57736,
 * did not lose its timer under this sequence on Node 20.20 either: this guards the property, not
 * a reproduction of that bug.)
 */
describe('timeLimit', () => {
  it('aborts when the time is up, after collections, with only the combined signal kept', async () => {
    // As in a run: the parent (the deadline) lives on, the limit's signal is all the caller keeps.
    const deadline = new AbortController();
    const signal = timeLimit(deadline.signal, 50).signal;
    for (let i = 0; i < 3; i++) gc();
    await new Promise((resolve) => setTimeout(resolve, 150));
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(signal.aborted).toBe(true);
    expect(deadline.signal.aborted).toBe(false);
  });

  it('tells its own timeout from the parent aborting, and stops its timer when cleared', async () => {
    const parent = new AbortController();
    const a = timeLimit(parent.signal, 10_000);
    parent.abort();
    expect(a.signal.aborted).toBe(true);
    expect(a.timedOut()).toBe(false);
    const b = timeLimit(new AbortController().signal, 30);
    b.clear();
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(b.signal.aborted).toBe(false);
    const c = timeLimit(new AbortController().signal, 10);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(c.timedOut()).toBe(true);
  });
});
