import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { redactUrl } from '../nix/store-url.js';
import { timeLimit } from './abort.js';
import type { Recorder } from './evidence.js';
import {
  basicAuth,
  classifyNetworkError,
  flattenHeaders,
  type HttpFailure,
  type HttpFailureKind,
  type LazyAgent,
  MAX_REDIRECTS,
  REDIRECTS,
} from './http.js';

export interface HttpStreamOptions {
  auth?: { user: string; password: string };
  /** Time to the response headers (and between body chunks): the agent's, recorded here for the callers. */
  timeoutMs: number;
  /** Time for the whole download. */
  totalMs: number;
  maxRedirects?: number;
}

/** What the sink says after each chunk: go on, or stop here (the rest is not read). */
export type SinkVerdict = 'more' | 'stop';

export type HttpStreamResult =
  | { ok: true; status: number; headers: Record<string, string>; bytes: number; durationMs: number; stopped: boolean }
  | { ok: false; error: HttpFailure; status?: number };

/**
 * GET whose body goes chunk by chunk to SINK (awaited: the next chunk is read only when it is done),
 * so a large file never sits in memory. Non-200 bodies are discarded. Never throws. Node's own http
 * client, not the undici pool: undici 7 asserts (and takes the process down) when a server closes a
 * non-keep-alive response while its parser is paused for a slow reader, which is what a slow reader is.
 */
export async function streamGet(
  agent: LazyAgent,
  record: Recorder,
  signal: AbortSignal,
  url: string,
  options: HttpStreamOptions,
  sink: (chunk: Uint8Array) => Promise<SinkVerdict>,
): Promise<HttpStreamResult> {
  const started = performance.now();
  const total = timeLimit(signal, options.totalMs);
  const combined = total.signal;
  const origin = new URL(url).origin;
  const elapsed = () => Math.round(performance.now() - started);
  let current = url;
  let bytes = 0;
  let status: number | undefined;
  const log = (error?: string) =>
    record({
      kind: 'http',
      method: 'GET',
      url: redactUrl(current),
      status: status ?? null,
      bytes,
      durationMs: elapsed(),
      ...(error ? { error } : {}),
    });
  const fail = (kind: HttpFailureKind, message: string, code?: string): HttpStreamResult => {
    log(message);
    return { ok: false, error: { kind, message, bytes, durationMs: elapsed(), ...(code ? { code } : {}) }, ...(status ? { status } : {}) };
  };
  try {
    for (let redirects = 0; ; redirects++) {
      const headers: Record<string, string> = { 'user-agent': 'nixcache-doctor (like curl/Nix)', accept: '*/*' };
      if (options.auth && new URL(current).origin === origin) headers.authorization = basicAuth(options.auth);
      const res = await open(current, headers, combined, options.timeoutMs, agent.ca);
      status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (REDIRECTS.has(status) && typeof location === 'string') {
        res.resume();
        log();
        if (redirects >= (options.maxRedirects ?? MAX_REDIRECTS))
          return fail('redirect-loop', `more than ${options.maxRedirects ?? MAX_REDIRECTS} redirects`);
        current = new URL(location, current).toString();
        continue;
      }
      const flat = flattenHeaders(res.headers);
      if (status !== 200) {
        res.destroy();
        log();
        return { ok: true, status, headers: flat, bytes: 0, durationMs: elapsed(), stopped: true };
      }
      let stopped = false;
      let sinceCollect = 0;
      for await (const chunk of res) {
        bytes += (chunk as Buffer).length;
        sinceCollect += (chunk as Buffer).length;
        if (sinceCollect >= COLLECT_EVERY_BYTES) {
          sinceCollect = 0;
          collectGarbage();
        }
        if ((await sink(chunk as Buffer)) === 'stop') {
          stopped = true;
          res.destroy();
          break;
        }
      }
      // A body shorter than its Content-Length ends without an error event: say so as curl does.
      const length = Number(res.headers['content-length']);
      if (!stopped && Number.isFinite(length) && bytes < length)
        return fail('reset', `the server closed the connection after ${bytes} of ${length} bytes`);
      log();
      return { ok: true, status, headers: flat, bytes, durationMs: elapsed(), stopped };
    }
  } catch (e) {
    if (total.timedOut()) return fail('timeout', `the download was still incomplete after ${(options.totalMs / 1000).toFixed(1)} s`);
    if (signal.aborted) return fail('cancelled', 'cancelled at the run deadline');
    const { kind, message, code } = classifyNetworkError(e);
    return fail(kind, message, code);
  } finally {
    total.clear();
  }
}

/**
 * Every chunk a socket delivers is a new Buffer outside V8's heap, which V8 collects only after tens
 * of MB more have come in: streaming 200 MB raised peak RSS by 150 MB. A young-generation collection
 * every few MB (about a millisecond each) keeps it flat.
 */
const COLLECT_EVERY_BYTES = 1024 * 1024;
let gc: ((options?: { type: 'minor' | 'major' }) => void) | null | undefined;
function collectGarbage(): void {
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as typeof gc;
      setFlagsFromString('--no-expose-gc');
    } catch {
      gc = null;
    }
  }
  gc?.({ type: 'minor' });
}

function open(url: string, headers: Record<string, string>, signal: AbortSignal, timeoutMs: number, ca?: string): Promise<IncomingMessage> {
  const get = url.startsWith('https:') ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    const req = get(url, { headers, signal, timeout: timeoutMs, agent: false, ...(ca ? { ca } : {}) }, resolve);
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}
