/** A time limit under a parent signal (the run's deadline). */
export interface TimeLimit {
  /** Aborts with the parent, or when the time is up. */
  signal: AbortSignal;
  /** The time ran out (not the parent). */
  timedOut(): boolean;
  /** Stops the timer once the work is done. */
  clear(): void;
}

/**
 * `AbortSignal.any([parent, AbortSignal.timeout(ms)])`, minus its Node 20 bug: `any` holds its
 * sources weakly, so a timeout signal nothing else references can be collected and never fire
 * (nodejs/node#57736). Here the timer's own callback holds the controller. No listener is added to
 * PARENT (10,000 requests would make its listener list quadratic to add to).
 */
export function timeLimit(parent: AbortSignal, ms: number): TimeLimit {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException('The operation timed out', 'TimeoutError')), ms);
  // Like AbortSignal.timeout: a pending limit alone does not keep the process alive.
  timer.unref();
  return {
    signal: AbortSignal.any([parent, controller.signal]),
    timedOut: () => controller.signal.aborted,
    clear: () => clearTimeout(timer),
  };
}
