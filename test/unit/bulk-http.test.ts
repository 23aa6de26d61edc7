import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type BulkHttp, type BulkOptions, createBulkHttp } from '../../src/system/bulk-http.js';
import { createPipelinedBulkHttp } from '../../src/system/pipelined-http.js';

// Both look-up clients keep one contract: the pipelined one for http:// caches, undici's pool for https.
const clients: Record<string, (opts: BulkOptions) => BulkHttp> = {
  pipelined: createPipelinedBulkHttp,
  undici: createBulkHttp,
};

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections?.();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

/** An HTTP server on HOST (any of 127.0.0.0/8), its base URL. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void, host = '127.0.0.1'): Promise<string> {
  const server = createHttpServer(handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, host, r));
  return `http://${host}:${(server.address() as { port: number }).port}`;
}

const options = (extra: Partial<BulkOptions> = {}): BulkOptions => ({
  jobs: 2,
  pipelining: 4,
  timeoutMs: 2000,
  signal: new AbortController().signal,
  ...extra,
});

for (const [name, create] of Object.entries(clients)) {
  describe(`${name} look-ups`, () => {
    it('says "after 1 attempt" when a 429’s Retry-After is longer than it waits, and how long the server asked', async () => {
      const base = await serve((_req, res) => void res.writeHead(429, { 'retry-after': '3600', 'content-length': 0 }).end());
      const http = create(options());
      try {
        const r = await http.request({ method: 'GET', url: `${base}/x.narinfo`, maxBytes: 100 });
        expect(r).toMatchObject({ ok: false, kind: 'rate-limited', attempts: 1 });
        expect(!r.ok && r.message).toBe('HTTP 429 (rate limited), Retry-After 3600 s (nixcache waits at most 60 s), after 1 attempt');
      } finally {
        await http.close();
      }
    });

    it('says "after 8 attempts" when 429s go on', async () => {
      const base = await serve((_req, res) => void res.writeHead(429, { 'content-length': 0 }).end());
      const http = create(options({ sleep: async () => {} }));
      try {
        const r = await http.request({ method: 'GET', url: `${base}/x.narinfo`, maxBytes: 100 });
        expect(!r.ok && r.message).toBe('HTTP 429 (rate limited) after 8 attempts');
      } finally {
        await http.close();
      }
    });
  });
}
