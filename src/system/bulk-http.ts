import type { Dispatcher } from 'undici';
import { plural } from '../report/text.js';
import {
  basicAuth,
  classifyNetworkError,
  decodeContent,
  flattenHeaders,
  type HttpFailureKind,
  incompleteMessage,
  MAX_REDIRECTS,
  REDIRECTS,
  safeOrigin,
} from './http.js';

/**
 * Many small requests to a few hosts (narinfo look-ups for a whole closure): one pool of kept-alive
 * connections per host, at most `jobs` connections each, HTTP/1.1 pipelining where it is safe
 * (GET/HEAD of static files) and HTTP/2 on https when the server offers it. 429 with Retry-After
 * pauses the whole host; 5xx and dropped connections are retried with backoff, a bounded number
 * of times, never past the deadline; a body still incomplete timeoutMs after its headers fails
 * once; redirects are followed as Nix follows them. Never throws.
 */
export interface BulkRequest {
  method: 'GET' | 'HEAD';
  url: string;
  auth?: { user: string; password: string } | undefined;
  maxBytes: number;
}

export type BulkResult =
  /**
   * TRUNCATED: the body was longer than maxBytes and was not kept (BODY is empty; the status is the
   * server's): a hostile cache streaming without end on every connection costs no memory.
   */
  | {
      ok: true;
      status: number;
      body: string;
      headers: Record<string, string>;
      attempts: number;
      truncated?: boolean;
      /** Redirects followed to this answer; a redirect status after MAX_REDIRECTS of them is where Nix gives up too. */
      redirects?: number;
    }
  | { ok: false; kind: HttpFailureKind | 'rate-limited'; message: string; attempts: number };

export interface BulkStats {
  requests: number;
  retries: number;
  rateLimited: number;
}

export interface BulkHttp {
  request(req: BulkRequest): Promise<BulkResult>;
  stats(): BulkStats;
  close(): Promise<void>;
}

export interface BulkOptions {
  /** Connections per host. */
  jobs: number;
  /** Requests queued on one HTTP/1.1 connection at once. */
  pipelining: number;
  timeoutMs: number;
  signal: AbortSignal;
  ca?: string | undefined;
  /** Attempts per request for 5xx and dropped connections (429 has its own, longer, bound). */
  maxAttempts?: number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Answers worth a retry with backoff. */
export const RETRY_STATUS = new Set([500, 502, 503, 504]);
/** 429s from one host before giving up. */
export const MAX_RATE_LIMITED_ATTEMPTS = 8;
/** The longest pause a Retry-After may impose; a server asking more is answered with an error. */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * REQ with its redirects followed as Nix's curl follows them: a relative or absolute Location, to
 * another host too, the method kept, at most MAX_REDIRECTS; the one after that is the answer (Nix
 * then fails with "HTTP error 302 ('Found') (curl error: Number of redirects hit maximum amount)").
 * Credentials go only where they were given for: curl drops them when the host, port or scheme
 * changes (CURLOPT_UNRESTRICTED_AUTH, which Nix does not set). HOP makes one request, retries included.
 */
export async function followRedirects(req: BulkRequest, hop: (req: BulkRequest) => Promise<BulkResult>): Promise<BulkResult> {
  const origin = safeOrigin(req.url);
  let current = req;
  let attempts = 0;
  for (let redirects = 0; ; redirects++) {
    const r = await hop(current);
    attempts += r.attempts;
    const location = r.ok && REDIRECTS.has(r.status) ? r.headers.location : undefined;
    if (!r.ok || location === undefined || redirects >= MAX_REDIRECTS)
      return { ...r, attempts, ...(r.ok && redirects > 0 ? { redirects } : {}) };
    let next: URL;
    try {
      next = new URL(location, current.url);
    } catch {
      return { ok: false, kind: 'other', message: `redirected to a Location that is not a URL: ${location.slice(0, 100)}`, attempts };
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:')
      return {
        ok: false,
        kind: 'other',
        message: `redirected to a ${next.protocol.slice(0, 20)} URL, which nixcache does not follow`,
        attempts,
      };
    const { auth, ...rest } = req;
    current = { ...rest, url: next.toString(), ...(auth && next.origin === origin ? { auth } : {}) };
  }
}

/** Why a request answered 429 is given up on: too many 429s, or a Retry-After longer than MAX_RETRY_AFTER_MS. */
export function rateLimitedMessage(attempts: number, waitMs: number): string {
  const asked =
    waitMs > MAX_RETRY_AFTER_MS
      ? `, Retry-After ${Math.round(waitMs / 1000)} s (nixcache waits at most ${MAX_RETRY_AFTER_MS / 1000} s),`
      : '';
  return `HTTP 429 (rate limited)${asked} after ${plural(attempts, 'attempt')}`;
}

/** Retry-After as milliseconds from NOW: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * A whole answer with its Content-Encoding undone (an S3 cache written with narinfo-compression
 * serves gzip narinfos, which Nix reads): what the doctor's own requests do (decodeContent).
 */
export function decodedResult(
  status: number,
  body: Buffer,
  headers: Record<string, string>,
  attempts: number,
  maxBytes: number,
): BulkResult {
  const decoded = decodeContent(body, headers['content-encoding'], maxBytes);
  if (!decoded.ok) return { ok: false, kind: decoded.kind, message: decoded.message, attempts };
  return { ok: true, status, body: decoded.bytes.toString('utf8'), headers, attempts };
}

/** Exponential backoff with jitter: 200 ms, 400 ms, 800 ms … capped at 5 s. */
export function backoffMs(attempt: number, random = Math.random): number {
  return Math.min(5000, 200 * 2 ** attempt) * (0.75 + random() * 0.5);
}

/** Sleeps MS, or less when SIGNAL aborts first. */
export const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

interface Host {
  pool: Promise<Dispatcher>;
  /** Requests in flight or waiting for a slot. */
  active: number;
  waiting: (() => void)[];
  pausedUntil: number;
}

/** The pool of createSingleHopBulkHttp, with redirects followed as Nix follows them. */
export function createBulkHttp(opts: BulkOptions): BulkHttp {
  const single = createSingleHopBulkHttp(opts);
  return { ...single, request: (req) => followRedirects(req, single.request) };
}

/**
 * One pool per host (see the top of this file); a redirect is the answer, not followed: the pipelined
 * client follows its https hops with its own count.
 */
export function createSingleHopBulkHttp(opts: BulkOptions): BulkHttp {
  const hosts = new Map<string, Host>();
  const stats: BulkStats = { requests: 0, retries: 0, rateLimited: 0 };
  const sleep = opts.sleep ?? defaultSleep;
  const maxAttempts = opts.maxAttempts ?? 4;
  const limit = Math.max(1, opts.jobs) * Math.max(1, opts.pipelining);
  const modules = Promise.all([import('undici/lib/dispatcher/pool.js'), import('undici/lib/api/api-request.js')]);
  modules.catch(() => {});

  const hostOf = (origin: string): Host => {
    let host = hosts.get(origin);
    if (!host) {
      const https = origin.startsWith('https:');
      const pool = modules.then(
        ([{ default: Pool }]) =>
          new Pool(origin, {
            connections: Math.max(1, opts.jobs),
            // HTTP/2 multiplexes on its own; pipelining is for HTTP/1.1.
            pipelining: Math.max(1, opts.pipelining),
            allowH2: https,
            keepAliveTimeout: 10_000,
            connect: { timeout: opts.timeoutMs, ...(opts.ca ? { ca: opts.ca } : {}) },
            headersTimeout: opts.timeoutMs,
            bodyTimeout: opts.timeoutMs,
          }),
      );
      host = { pool, active: 0, waiting: [], pausedUntil: 0 };
      hosts.set(origin, host);
    }
    return host;
  };

  const acquire = async (host: Host) => {
    if (host.active >= limit) await new Promise<void>((resolve) => host.waiting.push(resolve));
    host.active++;
  };
  const release = (host: Host) => {
    host.active--;
    host.waiting.shift()?.();
  };

  async function once(req: BulkRequest, u: URL, host: Host): Promise<BulkResult | { retry: 'status'; status: number; after?: number }> {
    const [, { default: apiRequest }] = await modules;
    const dispatcher = await host.pool;
    const headers: Record<string, string> = { 'user-agent': 'nixcache (like curl/Nix)', accept: '*/*' };
    if (req.auth) headers.authorization = basicAuth(req.auth);
    // The pool's connect, headers and body timeouts bound each request; the deadline bounds them all
    // (a signal and a timer per request cost more than the rest of a narinfo look-up).
    const signal = opts.signal;
    stats.requests++;
    const res = await apiRequest.call(dispatcher, {
      method: req.method,
      headers,
      signal,
      origin: u.origin,
      path: `${u.pathname}${u.search}`,
      // undici holds the pipeline behind a GET until its headers arrive unless told the answer is quick:
      // a narinfo or a HEAD is a few hundred bytes of a static file.
      blocking: false,
    } as Parameters<typeof apiRequest>[0]);
    const flat = flattenHeaders(res.headers);
    if (res.statusCode === 429 || RETRY_STATUS.has(res.statusCode)) {
      res.body.resume();
      const after = parseRetryAfter(flat['retry-after'], Date.now());
      return { retry: 'status', status: res.statusCode, ...(after !== undefined ? { after } : {}) };
    }
    const tooLarge = (): BulkResult => {
      res.body.destroy();
      return { ok: true, status: res.statusCode, body: '', headers: flat, attempts: 1, truncated: true };
    };
    if (req.method === 'GET' && Number(flat['content-length']) > req.maxBytes) return tooLarge();
    const chunks: Buffer[] = [];
    let bytes = 0;
    // The whole body within timeoutMs of the headers: the pool's bodyTimeout bounds only the silence
    // between chunks. A narinfo comes in one chunk; the clock is wound for an answer in several.
    const since = performance.now();
    let pieces = 0;
    let clock: NodeJS.Timeout | undefined;
    let late = false;
    const slow = (): BulkResult => ({ ok: false, kind: 'timeout', message: incompleteMessage(opts.timeoutMs, bytes), attempts: 1 });
    try {
      for await (const chunk of res.body) {
        bytes += (chunk as Buffer).length;
        if (bytes > req.maxBytes) return tooLarge();
        chunks.push(chunk as Buffer);
        const left = since + opts.timeoutMs - performance.now();
        if (left <= 0) {
          res.body.destroy();
          return slow();
        }
        if (++pieces === 2)
          clock = setTimeout(() => {
            late = true;
            res.body.destroy();
          }, left);
      }
    } catch (e) {
      if (late) return slow();
      throw e;
    } finally {
      clearTimeout(clock);
    }
    if (late) return slow();
    return decodedResult(res.statusCode, Buffer.concat(chunks), flat, 1, req.maxBytes);
  }

  return {
    stats: () => ({ ...stats }),
    async request(req) {
      let u: URL;
      try {
        u = new URL(req.url);
      } catch {
        return { ok: false, kind: 'other', message: `not a URL: ${req.url.slice(0, 100)}`, attempts: 0 };
      }
      const host = hostOf(u.origin);
      let failures = 0;
      let limited = 0;
      for (let attempt = 1; ; attempt++) {
        if (opts.signal.aborted) return { ok: false, kind: 'cancelled', message: 'cancelled at the run deadline', attempts: attempt - 1 };
        const pause = host.pausedUntil - Date.now();
        if (pause > 0) await sleep(pause, opts.signal);
        await acquire(host);
        let outcome: Awaited<ReturnType<typeof once>> | undefined;
        let thrown: unknown;
        try {
          outcome = await once(req, u, host);
        } catch (e) {
          thrown = e ?? new Error('request failed');
        } finally {
          release(host);
        }
        if (!outcome) {
          const failure = classifyNetworkError(thrown);
          if (opts.signal.aborted) return { ok: false, kind: 'cancelled', message: 'cancelled at the run deadline', attempts: attempt };
          // A kept-alive or pipelined connection the server closed: worth another try; a refused one is not.
          const transient = failure.kind === 'reset' || failure.kind === 'no-answer' || failure.kind === 'timeout';
          if (!transient || ++failures >= maxAttempts)
            return { ok: false, kind: failure.kind, message: failure.message, attempts: attempt };
          stats.retries++;
          await sleep(backoffMs(failures), opts.signal);
          continue;
        }
        if (!('retry' in outcome)) return { ...outcome, attempts: attempt };
        if (outcome.status === 429) {
          stats.rateLimited++;
          const wait = outcome.after ?? backoffMs(limited);
          if (++limited >= MAX_RATE_LIMITED_ATTEMPTS || wait > MAX_RETRY_AFTER_MS)
            return { ok: false, kind: 'rate-limited', message: rateLimitedMessage(attempt, wait), attempts: attempt };
          host.pausedUntil = Math.max(host.pausedUntil, Date.now() + wait);
          stats.retries++;
          continue;
        }
        if (++failures >= maxAttempts) return { ok: true, status: outcome.status, body: '', headers: {}, attempts: attempt };
        stats.retries++;
        await sleep(Math.min(MAX_RETRY_AFTER_MS, outcome.after ?? backoffMs(failures)), opts.signal);
      }
    },
    async close() {
      await Promise.all(
        [...hosts.values()].map(async (h) => {
          try {
            await (await h.pool).destroy();
          } catch {
            // already closed
          }
        }),
      );
    },
  };
}
