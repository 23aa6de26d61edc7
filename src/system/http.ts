import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { redactUrl } from '../nix/store-url.js';
import { formatBytes } from '../report/text.js';
import { timeLimit } from './abort.js';
import type { Recorder } from './evidence.js';
import { type HttpStreamOptions, type HttpStreamResult, type SinkVerdict, streamGet } from './http-stream.js';

export type HttpFailureKind =
  | 'timeout'
  | 'no-answer'
  | 'too-large'
  | 'redirect-loop'
  | 'refused'
  | 'unreachable'
  | 'dns'
  | 'tls'
  | 'reset'
  | 'cancelled'
  | 'other';

export interface HttpFailure {
  kind: HttpFailureKind;
  message: string;
  code?: string;
  /** Bytes received before the failure. */
  bytes: number;
  durationMs: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body as received, for binary files. */
  raw: Buffer;
  bytes: number;
  /** The URL that answered, after redirects (credentials never included). */
  url: string;
  redirects: number;
  durationMs: number;
}

export type HttpResult = { ok: true; response: HttpResponse } | { ok: false; error: HttpFailure };

export interface HttpGetOptions {
  auth?: { user: string; password: string };
  timeoutMs?: number;
  maxBytes?: number;
  maxRedirects?: number;
}

export interface Http {
  get(url: string, options?: HttpGetOptions): Promise<HttpResult>;
  /** GET of a large file, its body handed to SINK chunk by chunk (see http-stream.ts). */
  stream(url: string, options: HttpStreamOptions, sink: (chunk: Uint8Array) => Promise<SinkVerdict>): Promise<HttpStreamResult>;
}

export const DEFAULT_MAX_BYTES = 1024 * 1024;
/** The statuses whose Location is followed, as curl (and so Nix) follows them. */
export const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Nix has curl follow redirects (CURLOPT_FOLLOWLOCATION) up to 10 (CURLOPT_MAXREDIRS in filetransfer.cc): the doctor, why and coverage alike. */
export const MAX_REDIRECTS = 10;

/** The Authorization header value of HTTP basic auth. */
export function basicAuth(auth: { user: string; password: string }): string {
  return `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
}

/** The run's keep-alive connections, one agent per scheme, made when the first request needs them. */
export interface LazyAgent {
  /** The agent for URL's scheme. */
  forUrl(url: string): HttpAgent;
  /** Closes the agents' sockets. */
  destroy(): Promise<void>;
  /** The CA bundle (PEM) connections trust, for requests made outside the agents (http-stream.ts). */
  ca?: string;
}

/**
 * CA: the trusted certificates (PEM) of ssl-cert-file, known once discovery has read nix.conf.
 * PERHOST: connections open at once to one host and port, as Nix's http-connections limits its own
 * (25 by default): a thousand caches on one server queue for it instead of flooding its backlog.
 * Node's own http client: the doctor makes a few requests per cache, and undici's pool cost more to
 * load (~25 ms of start-up: http2, tls, assert, worker_threads) than it saves.
 */
export function createAgent(connectTimeoutMs: number, ca?: string, perHost = 25): LazyAgent {
  const options = { keepAlive: true, keepAliveMsecs: 1000, timeout: connectTimeoutMs, ...(perHost > 0 ? { maxSockets: perHost } : {}) };
  let plain: HttpAgent | undefined;
  let secure: HttpsAgent | undefined;
  return {
    forUrl(url) {
      if (url.startsWith('https:')) {
        secure ??= new HttpsAgent({ ...options, ...(ca ? { ca } : {}) });
        return secure;
      }
      plain ??= new HttpAgent(options);
      return plain;
    },
    async destroy() {
      plain?.destroy();
      secure?.destroy();
    },
    ...(ca ? { ca } : {}),
  };
}

/** One GET on AGENT: the response once its headers are in, or the error that came first. */
function send(agent: LazyAgent, url: string, headers: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, { method: 'GET', headers, signal, agent: agent.forUrl(url) }, resolve);
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}

/**
 * GET with everything bounded: total time per request (a server that drips bytes is cut off),
 * body size, redirect count. Never throws: failures come back classified as curl would.
 */
export function createHttp(agent: LazyAgent, record: Recorder, signal: AbortSignal, defaultTimeoutMs: number): Http {
  return {
    stream: (url, options, sink) => streamGet(agent, record, signal, url, options, sink),
    async get(url, options = {}) {
      const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
      const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
      const maxRedirects = options.maxRedirects ?? MAX_REDIRECTS;
      const started = performance.now();
      const limit = timeLimit(signal, timeoutMs);
      const combined = limit.signal;
      const origin = safeOrigin(url);
      let current = url;
      let bytes = 0;
      let answered = false;
      const elapsed = () => Math.round(performance.now() - started);
      const fail = (kind: HttpFailureKind, message: string, code?: string): HttpResult => {
        const error: HttpFailure = { kind, message, bytes, durationMs: elapsed(), ...(code ? { code } : {}) };
        record({ kind: 'http', method: 'GET', url: redactUrl(current), status: null, bytes, durationMs: error.durationMs, error: message });
        return { ok: false, error };
      };
      try {
        for (let redirects = 0; ; redirects++) {
          const headers: Record<string, string> = { 'user-agent': 'nixcache-doctor (like curl/Nix)', accept: '*/*' };
          if (options.auth && safeOrigin(current) === origin) {
            headers.authorization = basicAuth(options.auth);
          }
          const res = await send(agent, current, headers, combined);
          answered = true;
          const status = res.statusCode ?? 0;
          const location = res.headers.location;
          if (REDIRECTS.has(status) && typeof location === 'string') {
            res.resume();
            record({ kind: 'http', method: 'GET', url: redactUrl(current), status, bytes: 0, durationMs: elapsed() });
            if (redirects >= maxRedirects) return fail('redirect-loop', `more than ${maxRedirects} redirects`);
            current = new URL(location, current).toString();
            continue;
          }
          const chunks: Buffer[] = [];
          for await (const chunk of res) {
            bytes += (chunk as Buffer).length;
            if (bytes > maxBytes) {
              res.destroy();
              return fail('too-large', `the answer is larger than ${formatBytes(maxBytes)} (stopped reading at ${formatBytes(bytes)})`);
            }
            chunks.push(chunk as Buffer);
          }
          const decoded = decodeContent(Buffer.concat(chunks), res.headers['content-encoding'], maxBytes);
          if (!decoded.ok) return fail(decoded.kind, decoded.message);
          const raw = decoded.bytes;
          const response: HttpResponse = {
            status,
            headers: flattenHeaders(res.headers),
            body: raw.toString('utf8'),
            raw,
            bytes,
            url: redactUrl(current),
            redirects,
            durationMs: elapsed(),
          };
          record({ kind: 'http', method: 'GET', url: redactUrl(current), status: response.status, bytes, durationMs: response.durationMs });
          return { ok: true, response };
        }
      } catch (e) {
        if (limit.timedOut()) {
          return answered || bytes > 0
            ? fail('timeout', incompleteMessage(timeoutMs, bytes))
            : fail('no-answer', `no answer within ${(timeoutMs / 1000).toFixed(1)} s`);
        }
        if (signal.aborted) return fail('cancelled', 'cancelled at the run deadline');
        const { kind, message, code } = classifyNetworkError(e);
        return fail(kind, message, code);
      } finally {
        limit.clear();
      }
    },
  };
}

const TLS_CODES: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'the certificate chain ends in a self-signed certificate',
  CERT_HAS_EXPIRED: 'the certificate has expired',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the certificate is for another host name',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the certificate is not signed by a known authority',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the certificate is not signed by a known authority',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the server does not speak TLS on this port',
  EPROTO: 'the TLS handshake failed',
};

/** Maps a socket/TLS error to the words curl (and so Nix) would use. */
export function classifyNetworkError(e: unknown): { kind: HttpFailureKind; message: string; code?: string } {
  let err = e as { code?: string; message?: string; cause?: unknown };
  for (let depth = 0; depth < 4 && err?.cause && !err.code?.match(/^E[A-Z]|CERT|TLS|SSL/); depth++) {
    err = err.cause as typeof err;
  }
  const code = err?.code ?? '';
  const text = err?.message ?? String(e);
  if (code === 'ECONNREFUSED') return { kind: 'refused', message: 'connection refused', code };
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return { kind: 'unreachable', message: `no route to host (${code})`, code };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { kind: 'dns', message: `could not resolve host name (${code})`, code };
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE')
    return { kind: 'reset', message: 'the connection was closed by the server', code };
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return { kind: 'timeout', message: 'connecting timed out', code };
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return { kind: 'no-answer', message: 'no answer to the request', code };
  if (code === 'UND_ERR_BODY_TIMEOUT') return { kind: 'timeout', message: 'the answer stalled', code };
  if (TLS_CODES[code] || /SSL|TLS|certificate/i.test(text)) {
    return { kind: 'tls', message: TLS_CODES[code] ?? `TLS failed: ${firstLine(text)}`, code };
  }
  return { kind: 'other', message: firstLine(text), ...(code ? { code } : {}) };
}

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? '').slice(0, 200);
}

/** Response headers as one string each (repeated ones joined with ', '). */
export function flattenHeaders(headers: Record<string, string | string[] | number | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : String(v);
  return out;
}

/**
 * An answer cut off at the timeout while it was still coming (a server dripping or streaming without
 * end): the doctor's requests, why's and coverage's say it alike.
 */
export function incompleteMessage(timeoutMs: number, bytes: number): string {
  return `the answer was still incomplete after ${(timeoutMs / 1000).toFixed(1)} s (${formatBytes(bytes)} received)`;
}

/** URL's origin (scheme, host, port): where credentials may go, before and after a redirect. */
export function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/**
 * The body as Nix sees it: curl hands Nix the bytes and Nix decodes a Content-Encoding itself
 * (filetransfer.cc), so an S3 cache written with narinfo-compression=gzip serves narinfos Nix
 * reads. gzip, deflate and br are decoded here, within MAXBYTES; another encoding is named.
 */
export function decodeContent(
  body: Buffer,
  header: string | string[] | undefined,
  maxBytes: number,
): { ok: true; bytes: Buffer } | { ok: false; kind: HttpFailureKind; message: string } {
  const encoding = (Array.isArray(header) ? header.join(',') : (header ?? '')).trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return { ok: true, bytes: body };
  const options = { maxOutputLength: maxBytes };
  try {
    if (encoding === 'gzip' || encoding === 'x-gzip') return { ok: true, bytes: gunzipSync(body, options) };
    if (encoding === 'deflate') return { ok: true, bytes: inflateSync(body, options) };
    if (encoding === 'br') return { ok: true, bytes: brotliDecompressSync(body, options) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE')
      return { ok: false, kind: 'too-large', message: `the ${encoding}-encoded answer unpacks to more than ${formatBytes(maxBytes)}` };
    return { ok: false, kind: 'other', message: `the answer says Content-Encoding: ${encoding} but does not decode as such` };
  }
  return {
    ok: false,
    kind: 'other',
    message: `the answer has Content-Encoding: ${encoding.slice(0, 40)}, which the doctor does not decode`,
  };
}
