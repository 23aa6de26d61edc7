import { connect, type Socket } from 'node:net';
import {
  type BulkHttp,
  type BulkOptions,
  type BulkRequest,
  type BulkResult,
  type BulkStats,
  backoffMs,
  createSingleHopBulkHttp,
  decodedResult,
  defaultSleep,
  followRedirects,
  MAX_RATE_LIMITED_ATTEMPTS,
  MAX_RETRY_AFTER_MS,
  parseRetryAfter,
  RETRY_STATUS,
  rateLimitedMessage,
} from './bulk-http.js';
import { basicAuth, classifyNetworkError, incompleteMessage } from './http.js';

/**
 * BulkHttp for plain-HTTP caches over raw keep-alive sockets with HTTP/1.1 pipelining: the requests
 * queued for a connection leave in one write, and the answers (small static files) are parsed in
 * place. Through undici (streams, an async iterator, llhttp's WASM callbacks) 10,001 narinfo
 * look-ups cost the main thread 0.58 s of CPU; here 0.39 s, start-up and narinfo parsing included,
 * and `coverage` is CPU-bound on two cores. https caches go to undici's pool
 * (createSingleHopBulkHttp), which speaks HTTP/2 where the server offers it.
 *
 * Same contract as createBulkHttp: at most JOBS connections per host with PIPELINING requests each
 * (GET and HEAD of static files, so a request the server never answered is sent again on another
 * connection, a bounded number of times); 429 Retry-After pauses the host; 5xx, dropped connections
 * and requests never answered are retried with backoff, boundedly, never past the deadline; an
 * answer still incomplete after timeoutMs, however it trickles in, fails once; redirects are
 * followed as Nix follows them, from http to https and back too. Never throws.
 */

/** A header block larger than this is not a binary cache talking. */
const MAX_HEADER_BYTES = 64 * 1024;
/** Times a request the server closed the connection on, unanswered, is sent again before it counts as a failure. */
const MAX_RESENDS = 3;
/**
 * A body cut off at maxBytes with more than this left (chunked: this much passed over already) is
 * not drained: the connection is closed instead.
 */
const MAX_DRAIN_BYTES = 64 * 1024;
/** The code of an answer still coming at the timeout: not sent again, the server would drip or stream it again. */
const INCOMPLETE = 'NIXCACHE_INCOMPLETE_ANSWER';
const IDLE_MS = 10_000;

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  truncated: boolean;
}

interface Pending {
  method: 'GET' | 'HEAD';
  text: string;
  maxBytes: number;
  resends: number;
  resolve(a: Answer): void;
  reject(e: Error): void;
}

const failure = (message: string, code: string) => Object.assign(new Error(message), { code });

type Framing = { kind: 'none' } | { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'close' };

class Connection {
  readonly socket: Socket;
  /** Written (or about to be), answered in this order. */
  readonly sent: Pending[] = [];
  private unwritten: string[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private head: { status: number; headers: Record<string, string>; keepAlive: boolean } | undefined;
  private framing: Framing = { kind: 'none' };
  private chunkLeft = -1;
  private inTrailers = false;
  private body: Buffer[] = [];
  private truncated = false;
  /** Body bytes of the answer in progress, kept or passed over. */
  private seen = 0;
  /** When the answer in progress became the one awaited: written, connected, first in line. */
  private dueSince = 0;
  /** Wound once per timeoutMs, not per answer: it looks at dueSince when it rings. */
  private clock: NodeJS.Timeout | undefined;
  private connected = false;
  /** Answers read on this connection. */
  answered = 0;
  closed = false;
  /** The server will close after the answer in progress: nothing more is sent here. */
  closing = false;

  constructor(
    private readonly origin: Origin,
    host: string,
    port: number,
    private readonly timeoutMs: number,
  ) {
    this.socket = connect({ host, port, noDelay: true });
    this.socket.setTimeout(timeoutMs);
    this.socket.on('connect', () => {
      this.connected = true;
      this.socket.setTimeout(timeoutMs);
      if (this.sent.length > 0) this.due();
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('timeout', () => this.onTimeout());
    this.socket.on('error', (e) => this.shut(e));
    this.socket.on('end', () => this.onEnd());
    this.socket.on('close', () => this.shut(undefined));
  }

  get load(): number {
    return this.sent.length;
  }

  enqueue(p: Pending): void {
    if (this.sent.length === 0 && this.connected) {
      this.socket.setTimeout(this.timeoutMs);
      this.due();
    }
    this.sent.push(p);
    this.unwritten.push(p.text);
  }

  flush(): void {
    if (this.unwritten.length === 0 || this.closed) return;
    const text = this.unwritten.length === 1 ? (this.unwritten[0] as string) : this.unwritten.join('');
    this.unwritten = [];
    this.socket.write(text, 'latin1');
  }

  /** The answer now first in line has timeoutMs from now to arrive whole, however it trickles in. */
  private due(): void {
    this.dueSince = performance.now();
    this.clock ??= setTimeout(() => this.ring(), this.timeoutMs).unref();
  }

  private ring(): void {
    this.clock = undefined;
    if (this.closed || this.sent.length === 0) return;
    const left = this.dueSince + this.timeoutMs - performance.now();
    if (left > 0) this.clock = setTimeout(() => this.ring(), left).unref();
    else this.onTimeout();
  }

  private onTimeout(): void {
    if (this.sent.length === 0) {
      this.shut(undefined, true);
      return;
    }
    const error = !this.connected
      ? failure('connecting timed out', 'UND_ERR_CONNECT_TIMEOUT')
      : this.head || this.buf.length > 0
        ? failure(incompleteMessage(this.timeoutMs, this.seen), INCOMPLETE)
        : failure('no answer to the request', 'UND_ERR_HEADERS_TIMEOUT');
    this.shut(error);
  }

  private onEnd(): void {
    // An answer framed by the end of the connection is complete now.
    if (this.head && this.framing.kind === 'close') this.complete();
    this.shut(undefined);
  }

  /**
   * The connection is gone. The answer in progress (if any bytes of it came) fails with ERROR or a
   * reset; requests with nothing answered yet go back to the host's queue, to be sent again (a
   * bounded number of times).
   */
  shut(error: Error | undefined, quiet = false): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.clock);
    this.socket.destroy();
    const rest = this.sent.splice(0, this.sent.length);
    // Refused, unreachable, timed out connecting: nothing was sent, and another connection would fare no better.
    if (error && !this.connected) {
      for (const p of rest) p.reject(error);
      this.origin.lost(this, [], error);
      return;
    }
    // The answer in progress, or (a timeout, a reset) the request the server was working on, fails;
    // the ones queued behind it were not looked at and are sent again.
    if (error || this.head !== undefined || this.buf.length > 0)
      rest.shift()?.reject(error ?? failure('the connection was closed by the server', 'ECONNRESET'));
    this.origin.lost(this, rest, quiet ? undefined : error);
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    try {
      while (!this.closed && this.step()) {
        // each step consumes one piece of an answer
      }
    } catch (e) {
      this.shut(e instanceof Error ? e : failure(String(e), 'HPE_INVALID'));
    }
  }

  /** Parses what it can from buf; true when it consumed something and may go on. */
  private step(): boolean {
    if (!this.head) return this.parseHead();
    const f = this.framing;
    if (f.kind === 'length') {
      const take = Math.min(f.left, this.buf.length);
      if (take === 0) return false;
      this.keep(this.buf.subarray(0, take));
      this.buf = this.buf.subarray(take);
      f.left -= take;
      if (f.left === 0) this.complete();
      else if (this.truncated && f.left > MAX_DRAIN_BYTES) this.abandon();
      return true;
    }
    if (f.kind === 'close') {
      if (this.buf.length === 0) return false;
      this.keep(this.buf);
      this.buf = Buffer.alloc(0);
      if (this.truncated) this.complete();
      return false;
    }
    return this.parseChunked();
  }

  private parseHead(): boolean {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.buf.length > MAX_HEADER_BYTES) throw failure('the answer’s header is larger than 64 kB', 'HPE_HEADER_OVERFLOW');
      return false;
    }
    const current = this.sent[0];
    if (!current) throw failure('the server answered a request that was not sent', 'HPE_INVALID');
    const lines = this.buf.toString('latin1', 0, end).split('\r\n');
    this.buf = this.buf.subarray(end + 4);
    const status = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0] ?? '');
    if (!status) throw failure(`not an HTTP/1.1 answer: ${(lines[0] ?? '').slice(0, 60)}`, 'HPE_INVALID');
    const code = Number(status[2]);
    const headers: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(':');
      if (colon <= 0) throw failure('a malformed header line in the answer', 'HPE_INVALID');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    // 1xx answers are followed by the real one.
    if (code >= 100 && code < 200) return true;
    const connection = (headers.connection ?? '').toLowerCase();
    const keepAlive = status[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive');
    this.head = { status: code, headers, keepAlive };
    const te = (headers['transfer-encoding'] ?? '').toLowerCase();
    if (current.method === 'HEAD' || code === 204 || code === 304) this.framing = { kind: 'none' };
    else if (te !== '' && te !== 'identity') {
      if (!te.endsWith('chunked')) this.framing = { kind: 'close' };
      else {
        this.framing = { kind: 'chunked' };
        this.chunkLeft = -1;
        this.inTrailers = false;
      }
    } else if (headers['content-length'] !== undefined) {
      if (!/^\d{1,15}$/.test(headers['content-length'])) throw failure('a malformed Content-Length in the answer', 'HPE_INVALID');
      this.framing = { kind: 'length', left: Number(headers['content-length']) };
    } else this.framing = { kind: 'close' };
    if (this.framing.kind === 'close') {
      this.closing = true;
      this.head.keepAlive = false;
    } else if (!keepAlive) this.closing = true;
    if (this.framing.kind === 'length' && this.framing.left > current.maxBytes) {
      this.truncated = true;
      if (this.framing.left - current.maxBytes > MAX_DRAIN_BYTES) {
        this.abandon();
        return true;
      }
    }
    if (this.framing.kind === 'none' || (this.framing.kind === 'length' && this.framing.left === 0)) this.complete();
    return true;
  }

  private parseChunked(): boolean {
    if (this.inTrailers) {
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) return false;
      this.buf = this.buf.subarray(eol + 2);
      if (eol === 0) this.complete();
      return true;
    }
    if (this.chunkLeft < 0) {
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) {
        if (this.buf.length > 1024) throw failure('a malformed chunk size in the answer', 'HPE_INVALID');
        return false;
      }
      const size = /^([0-9a-fA-F]{1,12})(?:;.*)?$/.exec(this.buf.toString('latin1', 0, eol).trim());
      if (!size) throw failure('a malformed chunk size in the answer', 'HPE_INVALID');
      this.buf = this.buf.subarray(eol + 2);
      this.chunkLeft = Number.parseInt(size[1] as string, 16);
      if (this.chunkLeft === 0) this.inTrailers = true;
      return true;
    }
    // Chunk data, then its CRLF.
    if (this.chunkLeft > 0) {
      const take = Math.min(this.chunkLeft, this.buf.length);
      if (take === 0) return false;
      this.keep(this.buf.subarray(0, take));
      this.buf = this.buf.subarray(take);
      this.chunkLeft -= take;
      if (this.truncated && (this.chunkLeft > MAX_DRAIN_BYTES || this.passedOver() > MAX_DRAIN_BYTES)) this.abandon();
      return true;
    }
    if (this.buf.length < 2) return false;
    this.buf = this.buf.subarray(2);
    this.chunkLeft = -1;
    return true;
  }

  private keep(bytes: Buffer): void {
    this.seen += bytes.length;
    if (this.truncated) return;
    if (this.seen > (this.sent[0] as Pending).maxBytes) {
      // Nobody reads a cut-off answer: its bytes are let go at once, not held per connection.
      this.truncated = true;
      this.body = [];
      return;
    }
    this.body.push(bytes);
  }

  /** Body bytes of a cut-off answer read past its maxBytes. */
  private passedOver(): number {
    return this.seen - (this.sent[0] as Pending).maxBytes;
  }

  /** The answer in progress is whole (or cut off at maxBytes): hand it over. */
  private complete(): void {
    const current = this.sent.shift();
    const head = this.head;
    this.head = undefined;
    const body = this.body.length === 1 ? (this.body[0] as Buffer) : Buffer.concat(this.body);
    this.body = [];
    const truncated = this.truncated;
    this.truncated = false;
    this.seen = 0;
    const framing = this.framing;
    this.framing = { kind: 'none' };
    this.answered++;
    if (this.sent.length > 0) this.due();
    if (current && head) current.resolve({ status: head.status, headers: head.headers, body, truncated });
    if (!head?.keepAlive || framing.kind === 'close') this.shut(undefined, true);
    else if (this.sent.length === 0) this.origin.idle(this);
    else this.origin.freed();
  }

  /** A body cut off at maxBytes with much left: the connection is closed rather than drained. */
  private abandon(): void {
    // What is left unread belongs to this answer; the requests behind it are sent again.
    this.buf = Buffer.alloc(0);
    this.complete();
    if (!this.closed) this.shut(undefined, true);
  }
}

class Origin {
  private readonly conns = new Set<Connection>();
  private queue: Pending[] = [];
  private queueHead = 0;
  private scheduled = false;
  /** Requests per connection; 1 once a server closed after a single answer with more queued. */
  private depth: number;
  pausedUntil = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly maxConns: number,
    depth: number,
    private readonly timeoutMs: number,
  ) {
    this.depth = depth;
  }

  send(p: Pending): void {
    this.queue.push(p);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.pump());
  }

  /** Hands queued requests to the least loaded connections (opening more up to maxConns), one write each. */
  private pump(): void {
    this.scheduled = false;
    const touched = new Set<Connection>();
    while (this.queueHead < this.queue.length) {
      let best: Connection | undefined;
      for (const c of this.conns) if (!c.closed && !c.closing && c.load < this.depth && (!best || c.load < best.load)) best = c;
      if (!best || (best.load > 0 && this.conns.size < this.maxConns)) {
        if (this.conns.size < this.maxConns) {
          best = new Connection(this, this.host, this.port, this.timeoutMs);
          this.conns.add(best);
        }
      }
      if (!best) break;
      best.enqueue(this.queue[this.queueHead++] as Pending);
      touched.add(best);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    for (const c of touched) c.flush();
  }

  freed(): void {
    if (this.queueHead < this.queue.length) this.schedule();
  }

  idle(c: Connection): void {
    if (this.queueHead < this.queue.length) this.schedule();
    else c.socket.setTimeout(IDLE_MS);
  }

  /** C is closed; REST (sent, unanswered) go to the front of the queue, or fail once sent too often. */
  lost(c: Connection, rest: Pending[], error: Error | undefined): void {
    this.conns.delete(c);
    // A server that closes after every answer gets one request at a time; one that closes after
    // many (nginx's keepalive_requests) keeps its pipelines.
    if (rest.length > 0 && this.depth > 1 && !error && c.answered <= 1) this.depth = 1;
    const again: Pending[] = [];
    for (const p of rest) {
      if (++p.resends > MAX_RESENDS) p.reject(error ?? failure('the connection was closed by the server', 'ECONNRESET'));
      else again.push(p);
    }
    if (again.length > 0) {
      this.queue = [...again, ...this.queue.slice(this.queueHead)];
      this.queueHead = 0;
    }
    if (this.queueHead < this.queue.length) this.schedule();
  }

  close(error: Error): void {
    for (const c of this.conns) {
      const rest = c.sent.splice(0, c.sent.length);
      c.closed = true;
      c.socket.destroy();
      for (const p of rest) p.reject(error);
    }
    this.conns.clear();
    for (let i = this.queueHead; i < this.queue.length; i++) (this.queue[i] as Pending).reject(error);
    this.queue = [];
    this.queueHead = 0;
  }
}

/** createBulkHttp's contract, with plain-HTTP origins served by pipelined sockets (see the top of this file). */
export function createPipelinedBulkHttp(opts: BulkOptions): BulkHttp {
  const origins = new Map<string, Origin>();
  const stats: BulkStats = { requests: 0, retries: 0, rateLimited: 0 };
  const sleep = opts.sleep ?? defaultSleep;
  const maxAttempts = opts.maxAttempts ?? 4;
  let other: BulkHttp | undefined;
  const cancelled = failure('cancelled at the run deadline', 'ABORT_ERR');
  const onAbort = () => {
    for (const o of origins.values()) o.close(cancelled);
  };
  opts.signal.addEventListener('abort', onAbort, { once: true });

  const originOf = (u: URL): Origin => {
    let o = origins.get(u.host);
    if (!o) {
      const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
      o = new Origin(host, Number(u.port || 80), Math.max(1, opts.jobs), Math.max(1, opts.pipelining), opts.timeoutMs);
      origins.set(u.host, o);
    }
    return o;
  };

  const once = (req: BulkRequest, u: URL, origin: Origin) =>
    new Promise<Answer>((resolve, reject) => {
      if (opts.signal.aborted) return reject(cancelled);
      let text = `${req.method} ${u.pathname}${u.search} HTTP/1.1\r\nhost: ${u.host}\r\nuser-agent: nixcache (like curl/Nix)\r\naccept: */*\r\n`;
      if (req.auth) text += `authorization: ${basicAuth(req.auth)}\r\n`;
      stats.requests++;
      origin.send({ method: req.method, text: `${text}\r\n`, maxBytes: req.maxBytes, resends: 0, resolve, reject });
    });

  /** One request, retries included; redirects are the answer (followRedirects follows them). */
  async function hop(req: BulkRequest): Promise<BulkResult> {
    let u: URL;
    try {
      u = new URL(req.url);
    } catch {
      return { ok: false, kind: 'other', message: `not a URL: ${req.url.slice(0, 100)}`, attempts: 0 };
    }
    if (u.protocol !== 'http:' || /[^\x21-\x7e]/.test(`${u.pathname}${u.search}`)) {
      other ??= createSingleHopBulkHttp(opts);
      return other.request(req);
    }
    const origin = originOf(u);
    let failures = 0;
    let limited = 0;
    for (let attempt = 1; ; attempt++) {
      if (opts.signal.aborted) return { ok: false, kind: 'cancelled', message: 'cancelled at the run deadline', attempts: attempt - 1 };
      const pause = origin.pausedUntil - Date.now();
      if (pause > 0) await sleep(pause, opts.signal);
      let answer: Answer;
      try {
        answer = await once(req, u, origin);
      } catch (e) {
        if (opts.signal.aborted) return { ok: false, kind: 'cancelled', message: 'cancelled at the run deadline', attempts: attempt };
        if ((e as { code?: string }).code === INCOMPLETE)
          return { ok: false, kind: 'timeout', message: (e as Error).message, attempts: attempt };
        const f = classifyNetworkError(e);
        // A kept-alive or pipelined connection the server closed: worth another try; a refused one is not.
        const transient = f.kind === 'reset' || f.kind === 'no-answer' || f.kind === 'timeout';
        if (!transient || ++failures >= maxAttempts) return { ok: false, kind: f.kind, message: f.message, attempts: attempt };
        stats.retries++;
        await sleep(backoffMs(failures), opts.signal);
        continue;
      }
      const { status } = answer;
      if (status === 429) {
        stats.rateLimited++;
        const wait = parseRetryAfter(answer.headers['retry-after'], Date.now()) ?? backoffMs(limited);
        if (++limited >= MAX_RATE_LIMITED_ATTEMPTS || wait > MAX_RETRY_AFTER_MS)
          return { ok: false, kind: 'rate-limited', message: rateLimitedMessage(attempt, wait), attempts: attempt };
        origin.pausedUntil = Math.max(origin.pausedUntil, Date.now() + wait);
        stats.retries++;
        continue;
      }
      if (RETRY_STATUS.has(status)) {
        if (++failures >= maxAttempts) return { ok: true, status, body: '', headers: {}, attempts: attempt };
        stats.retries++;
        const after = parseRetryAfter(answer.headers['retry-after'], Date.now());
        await sleep(Math.min(MAX_RETRY_AFTER_MS, after ?? backoffMs(failures)), opts.signal);
        continue;
      }
      if (answer.truncated) return { ok: true, status, body: '', headers: answer.headers, attempts: attempt, truncated: true };
      return decodedResult(status, answer.body, answer.headers, attempt, req.maxBytes);
    }
  }

  return {
    request: (req) => followRedirects(req, hop),
    stats: () => {
      const s = other?.stats();
      return {
        requests: stats.requests + (s?.requests ?? 0),
        retries: stats.retries + (s?.retries ?? 0),
        rateLimited: stats.rateLimited + (s?.rateLimited ?? 0),
      };
    },
    async close() {
      opts.signal.removeEventListener('abort', onAbort);
      for (const o of origins.values()) o.close(failure('closed', 'ABORT_ERR'));
      origins.clear();
      await other?.close();
    },
  };
}
