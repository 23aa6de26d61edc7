import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createPipelinedBulkHttp } from '../../src/system/pipelined-http.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createHttpServer(handler);
  server.keepAliveTimeout = 5000;
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  return listen(server);
}

/** A server that writes RAW (a function of the request count on the connection) for every request it reads. */
function rawServer(answer: (n: number, request: string, socket: Socket) => void): Promise<string> {
  const server = createTcpServer((socket) => {
    let buffered = '';
    let n = 0;
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const request = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        answer(n++, request, socket);
      }
    });
    socket.on('error', () => {});
  });
  return listen(server);
}

const bulk = (jobs = 2, pipelining = 4, extra: Partial<Parameters<typeof createPipelinedBulkHttp>[0]> = {}) =>
  createPipelinedBulkHttp({ jobs, pipelining, timeoutMs: 2000, signal: new AbortController().signal, ...extra });

describe('pipelined plain-HTTP look-ups', () => {
  it('undoes a gzip Content-Encoding (an S3 cache written with narinfo-compression), as Nix does', async () => {
    const narinfo = 'StorePath: /nix/store/0zlzbz5lcgk34s3a97hxfgwkzc2r7wxj-x\nURL: nar/x.nar\n';
    const base = await httpServer((req, res) => {
      if (req.url === '/odd.narinfo') return void res.writeHead(200, { 'content-encoding': 'compress' }).end('x');
      res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(narinfo));
    });
    const http = bulk();
    try {
      expect(await http.request({ method: 'GET', url: `${base}/a.narinfo`, maxBytes: 1000 })).toMatchObject({ ok: true, body: narinfo });
      expect(await http.request({ method: 'GET', url: `${base}/odd.narinfo`, maxBytes: 1000 })).toMatchObject({
        ok: false,
        message: expect.stringContaining('Content-Encoding: compress'),
      });
    } finally {
      await http.close();
    }
  });

  it('answers many requests in order on a few pipelined connections', async () => {
    const base = await httpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`body of ${req.url}`);
    });
    const http = bulk(3, 8);
    try {
      const all = await Promise.all(
        Array.from({ length: 300 }, (_, i) => http.request({ method: 'GET', url: `${base}/f${i}.narinfo`, maxBytes: 100 })),
      );
      all.forEach((r, i) => {
        expect(r).toMatchObject({ ok: true, status: 200, body: `body of /f${i}.narinfo`, attempts: 1 });
      });
      expect(http.stats()).toMatchObject({ requests: 300, retries: 0 });
    } finally {
      await http.close();
    }
  });

  it('never has more requests sent and unanswered per host than jobs × pipelining', async () => {
    let unanswered = 0;
    let most = 0;
    const base = await rawServer((_n, _request, socket) => {
      unanswered++;
      most = Math.max(most, unanswered);
      setTimeout(() => {
        unanswered--;
        socket.write('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
      }, 2);
    });
    const http = bulk(3, 2);
    try {
      const all = await Promise.all(
        Array.from({ length: 90 }, (_, i) => http.request({ method: 'GET', url: `${base}/${i}`, maxBytes: 10 })),
      );
      expect(all.every((r) => r.ok && r.status === 404)).toBe(true);
    } finally {
      await http.close();
    }
    expect(most).toBeGreaterThan(3);
    expect(most).toBeLessThanOrEqual(6);
  });

  it('reads chunked bodies, HEAD answers with a Content-Length, 404s and an empty 204', async () => {
    const base = await httpServer((req, res) => {
      if (req.url === '/chunked') {
        res.writeHead(200);
        res.write('hello, ');
        setImmediate(() => res.end('world'));
      } else if (req.url === '/missing') res.writeHead(404, { 'content-length': 9 }).end('not found');
      else if (req.url === '/empty') res.writeHead(204).end();
      else res.writeHead(200, { 'content-length': 5 }).end(req.method === 'HEAD' ? undefined : 'abcde');
    });
    const http = bulk(1, 4);
    try {
      const [chunked, head, missing, empty, after] = await Promise.all([
        http.request({ method: 'GET', url: `${base}/chunked`, maxBytes: 100 }),
        http.request({ method: 'HEAD', url: `${base}/nar`, maxBytes: 0 }),
        http.request({ method: 'GET', url: `${base}/missing`, maxBytes: 100 }),
        http.request({ method: 'GET', url: `${base}/empty`, maxBytes: 100 }),
        http.request({ method: 'GET', url: `${base}/nar`, maxBytes: 100 }),
      ]);
      expect(chunked).toMatchObject({ ok: true, status: 200, body: 'hello, world' });
      expect(head).toMatchObject({ ok: true, status: 200, body: '' });
      expect(missing).toMatchObject({ ok: true, status: 404, body: 'not found' });
      expect(empty).toMatchObject({ ok: true, status: 204, body: '' });
      expect(after).toMatchObject({ ok: true, status: 200, body: 'abcde' });
    } finally {
      await http.close();
    }
  });

  it('sends again, without counting a failure, what a server closing after each answer left unanswered', async () => {
    const seen: string[] = [];
    const base = await rawServer((n, request, socket) => {
      if (n > 0) return; // pipelined requests after the first are never answered on this connection
      seen.push(request.split(' ')[1] as string);
      const body = `r${request.split(' ')[1]}`;
      socket.end(`HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    });
    const http = bulk(2, 4);
    try {
      const all = await Promise.all(
        Array.from({ length: 12 }, (_, i) => http.request({ method: 'GET', url: `${base}/${i}`, maxBytes: 100 })),
      );
      all.forEach((r, i) => {
        expect(r).toMatchObject({ ok: true, status: 200, body: `r/${i}`, attempts: 1 });
      });
      expect(http.stats().retries).toBe(0);
      expect(new Set(seen).size).toBe(12);
    } finally {
      await http.close();
    }
  });

  it('keeps pipelining with a server that closes after every 5 answers, as nginx does after keepalive_requests', async () => {
    let unanswered = 0;
    let closed = 0;
    let mostAfterAClose = 0;
    let connections = 0;
    const base = await rawServer((n, request, socket) => {
      if (n === 0) connections++;
      if (n >= 5) return;
      unanswered++;
      if (closed > 0) mostAfterAClose = Math.max(mostAfterAClose, unanswered);
      const body = `r${request.split(' ')[1]}`;
      setTimeout(() => {
        unanswered--;
        const last = n === 4;
        socket.write(`HTTP/1.1 200 OK\r\n${last ? 'connection: close\r\n' : ''}content-length: ${body.length}\r\n\r\n${body}`);
        if (last) {
          closed++;
          socket.end();
        }
      }, 1);
    });
    const http = bulk(2, 4);
    try {
      const all = await Promise.all(
        Array.from({ length: 60 }, (_, i) => http.request({ method: 'GET', url: `${base}/${i}`, maxBytes: 100 })),
      );
      all.forEach((r, i) => {
        expect(r).toMatchObject({ ok: true, status: 200, body: `r/${i}`, attempts: 1 });
      });
    } finally {
      await http.close();
    }
    expect(connections).toBeGreaterThanOrEqual(12);
    expect(mostAfterAClose).toBeGreaterThan(2);
  });

  it('retries a 503 with backoff and waits out a 429’s Retry-After, boundedly', async () => {
    let limited = 0;
    const base = await httpServer((req, res) => {
      if (req.url === '/limited' && limited++ === 0) return void res.writeHead(429, { 'retry-after': '3', 'content-length': 0 }).end();
      if (req.url === '/down') return void res.writeHead(503, { 'content-length': 0 }).end();
      res.writeHead(200, { 'content-length': 2 }).end('ok');
    });
    const waits: number[] = [];
    const http = bulk(2, 4, { maxAttempts: 3, sleep: async (ms) => void waits.push(ms) });
    try {
      expect(await http.request({ method: 'GET', url: `${base}/limited`, maxBytes: 10 })).toMatchObject({
        ok: true,
        status: 200,
        body: 'ok',
        attempts: 2,
      });
      expect(waits[0]).toBeGreaterThan(2000);
      expect(await http.request({ method: 'GET', url: `${base}/down`, maxBytes: 10 })).toMatchObject({
        ok: true,
        status: 503,
        attempts: 3,
      });
      expect(http.stats()).toMatchObject({ rateLimited: 1, retries: 3 });
    } finally {
      await http.close();
    }
  });

  it('cuts a body off at maxBytes and says so, and keeps answering the requests behind it', async () => {
    const big = 'x'.repeat(1024 * 1024);
    const base = await httpServer((req, res) => {
      const body = req.url === '/big' ? big : 'small';
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    const http = bulk(1, 4);
    try {
      const [cut, after] = await Promise.all([
        http.request({ method: 'GET', url: `${base}/big`, maxBytes: 10 }),
        http.request({ method: 'GET', url: `${base}/small`, maxBytes: 10 }),
      ]);
      expect(cut).toMatchObject({ ok: true, status: 200, body: '', truncated: true });
      expect(after).toMatchObject({ ok: true, status: 200, body: 'small' });
    } finally {
      await http.close();
    }
  });

  it('says refused for a port nothing listens on, and gives up on a server that never answers', async () => {
    const closed = await listen(createTcpServer());
    const port = new URL(closed).port;
    await new Promise<void>((r) => (servers.pop() as Server).close(() => r()));
    const silent = await rawServer(() => {});
    const http = bulk(1, 4, { timeoutMs: 200, maxAttempts: 2, sleep: async () => {} });
    try {
      expect(await http.request({ method: 'GET', url: `http://127.0.0.1:${port}/x`, maxBytes: 10 })).toMatchObject({
        ok: false,
        kind: 'refused',
      });
      expect(await http.request({ method: 'GET', url: `${silent}/x`, maxBytes: 10 })).toMatchObject({
        ok: false,
        kind: 'no-answer',
        attempts: 2,
      });
    } finally {
      await http.close();
    }
  });

  it('answers cancelled for everything queued when the deadline ends the run', async () => {
    const silent = await rawServer(() => {});
    const ending = new AbortController();
    const http = createPipelinedBulkHttp({ jobs: 1, pipelining: 2, timeoutMs: 5000, signal: ending.signal });
    try {
      const pending = Promise.all(
        Array.from({ length: 5 }, (_, i) => http.request({ method: 'GET', url: `${silent}/${i}`, maxBytes: 10 })),
      );
      setTimeout(() => ending.abort(), 50);
      const all = await pending;
      expect(all.every((r) => !r.ok && r.kind === 'cancelled')).toBe(true);
    } finally {
      await http.close();
    }
  });
});
