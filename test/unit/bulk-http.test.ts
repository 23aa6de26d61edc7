import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** A self-signed certificate for 127.0.0.1 made by openssl, or undefined without openssl. */
function certificate(): { key: string; cert: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'nixcache-bulk-tls-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'].concat([
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ]),
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const tls = certificate();

/** An HTTP server (HTTPS with TLS) on HOST (any of 127.0.0.0/8), its base URL. */
async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host = '127.0.0.1',
  secure?: { key: string; cert: string },
): Promise<string> {
  const server = secure ? createHttpsServer(secure, handler) : createHttpServer(handler);
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
  return `${secure ? 'https' : 'http'}://${host}:${(server.address() as { port: number }).port}`;
}

const options = (extra: Partial<BulkOptions> = {}): BulkOptions => ({
  jobs: 2,
  pipelining: 4,
  timeoutMs: 2000,
  signal: new AbortController().signal,
  ...extra,
});

const NARINFO = 'StorePath: /nix/store/0zlzbz5lcgk34s3a97hxfgwkzc2r7wxj-x\nURL: nar/x.nar\n';

/** A cache that answers the narinfo under /m/ and the NAR under /m/nar/, everything else with REDIRECT(path). */
function mirror(redirect: (path: string) => string | undefined, seen: string[] = []) {
  return (req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
    const path = req.url ?? '/';
    if (path.startsWith('/m/'))
      return void res.writeHead(200, { 'content-length': NARINFO.length }).end(req.method === 'HEAD' ? undefined : NARINFO);
    const to = redirect(path);
    if (to === undefined) return void res.writeHead(404, { 'content-length': 0 }).end();
    res.writeHead(path.startsWith('/nar/') ? 301 : 302, { location: to, 'content-length': 0 }).end();
  };
}

const AUTH = { user: 'alice', password: 's3cret' };
const BASIC = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;

for (const [name, create] of Object.entries(clients)) {
  describe(`${name} look-ups`, () => {
    it('follows a narinfo’s 302 to a relative Location and a NAR’s 301 to another path on the same host, as Nix’s curl does', async () => {
      const seen: string[] = [];
      const base = await serve(mirror((path) => `/m${path}`, seen));
      const http = create(options());
      try {
        const [narinfo, nar] = await Promise.all([
          http.request({ method: 'GET', url: `${base}/abc.narinfo`, maxBytes: 1000, auth: AUTH }),
          http.request({ method: 'HEAD', url: `${base}/nar/x.nar`, maxBytes: 0, auth: AUTH }),
        ]);
        expect(narinfo).toMatchObject({ ok: true, status: 200, body: NARINFO, redirects: 1 });
        expect(nar).toMatchObject({ ok: true, status: 200, redirects: 1 });
        // The same origin keeps the credentials, as curl keeps them.
        expect(seen.sort()).toEqual([
          `GET /abc.narinfo ${BASIC}`,
          `GET /m/abc.narinfo ${BASIC}`,
          `HEAD /m/nar/x.nar ${BASIC}`,
          `HEAD /nar/x.nar ${BASIC}`,
        ]);
      } finally {
        await http.close();
      }
    });

    it('follows an absolute Location to another loopback host and port, and sends it no credentials', async () => {
      const seenThere: string[] = [];
      const there = await serve(
        mirror(() => undefined, seenThere),
        '127.0.0.2',
      );
      const seenHere: string[] = [];
      const here = await serve(mirror((path) => `${there}/m${path}`, seenHere));
      const http = create(options());
      try {
        expect(await http.request({ method: 'GET', url: `${here}/abc.narinfo`, maxBytes: 1000, auth: AUTH })).toMatchObject({
          ok: true,
          status: 200,
          body: NARINFO,
        });
        expect(await http.request({ method: 'HEAD', url: `${here}/nar/x.nar`, maxBytes: 0, auth: AUTH })).toMatchObject({
          ok: true,
          status: 200,
        });
        expect(seenHere).toEqual([`GET /abc.narinfo ${BASIC}`, `HEAD /nar/x.nar ${BASIC}`]);
        expect(seenThere).toEqual(['GET /m/abc.narinfo -', 'HEAD /m/nar/x.nar -']);
      } finally {
        await http.close();
      }
    });

    it('sends no credentials to another port of the same host either, as curl since 7.83', async () => {
      const seenThere: string[] = [];
      const there = await serve(mirror(() => undefined, seenThere));
      const here = await serve(mirror((path) => `${there}/m${path}`));
      const http = create(options());
      try {
        expect(await http.request({ method: 'GET', url: `${here}/abc.narinfo`, maxBytes: 1000, auth: AUTH })).toMatchObject({
          ok: true,
          status: 200,
        });
        expect(seenThere).toEqual(['GET /m/abc.narinfo -']);
      } finally {
        await http.close();
      }
    });

    it('follows 10 redirects and answers the 11th as it came, where Nix stops ("Number of redirects hit maximum amount")', async () => {
      const seen: string[] = [];
      // /r<n> redirects to /r<n+1>; /r<LAST> to the narinfo.
      const chain = (last: number) => (path: string) => {
        const n = Number(/^\/r(\d+)$/.exec(path)?.[1]);
        return n >= last ? '/m/abc.narinfo' : `/r${n + 1}`;
      };
      const ten = await serve(mirror(chain(10)));
      const loop = await serve(mirror((path) => path, seen));
      const http = create(options());
      try {
        // /r1 … /r10 and then the narinfo: 10 redirects.
        expect(await http.request({ method: 'GET', url: `${ten}/r1`, maxBytes: 1000 })).toMatchObject({
          ok: true,
          status: 200,
          body: NARINFO,
          redirects: 10,
        });
        expect(await http.request({ method: 'GET', url: `${loop}/abc.narinfo`, maxBytes: 1000 })).toMatchObject({
          ok: true,
          status: 302,
          redirects: 10,
        });
        expect(seen).toHaveLength(11);
      } finally {
        await http.close();
      }
    });

    it('cuts off a narinfo that drips a line every 100 ms at the timeout for the whole answer, once, without a retry', async () => {
      let drips = 0;
      const base = await serve((req, res) => {
        if (req.url === '/drip.narinfo') drips++;
        if (req.url !== '/drip.narinfo') return void res.writeHead(200, { 'content-length': NARINFO.length }).end(NARINFO);
        res.writeHead(200, { 'content-type': 'text/x-nix-narinfo' });
        let lines = 0;
        const timer = setInterval(() => {
          if (res.destroyed || lines++ > 50) {
            clearInterval(timer);
            return void res.end();
          }
          res.write('References: \n');
        }, 100);
        res.on('close', () => clearInterval(timer));
      });
      const http = create(options({ jobs: 1, timeoutMs: 500 }));
      try {
        // The look-ups pipelined behind it are answered on another connection.
        const [drip, ...after] = await Promise.all(
          ['/drip.narinfo', '/a.narinfo', '/b.narinfo'].map((path) =>
            http.request({ method: 'GET', url: `${base}${path}`, maxBytes: 1 << 20 }),
          ),
        );
        expect(drip).toMatchObject({
          ok: false,
          kind: 'timeout',
          attempts: 1,
          message: expect.stringMatching(/^the answer was still incomplete after 0\.5 s \(\d+ B received\)$/),
        });
        for (const r of after) expect(r).toMatchObject({ ok: true, status: 200, body: NARINFO });
        expect(drips).toBe(1);
      } finally {
        await http.close();
      }
    });

    it('stops reading an endless chunked narinfo at maxBytes and closes the connection instead of draining it', async () => {
      let written = 0;
      let requests = 0;
      const base = await serve((_req, res) => {
        requests++;
        res.writeHead(200, { 'content-type': 'text/x-nix-narinfo' });
        const line = Buffer.alloc(1024, 'References: x\n');
        const pump = () => {
          while (!res.destroyed && written < 256 * 1024 * 1024) {
            written += line.length;
            if (!res.write(line)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      });
      const http = create(options());
      try {
        const r = await http.request({ method: 'GET', url: `${base}/x.narinfo`, maxBytes: 16 * 1024 });
        expect(r).toMatchObject({ ok: true, status: 200, body: '', truncated: true, attempts: 1 });
        expect(requests).toBe(1);
        expect(written).toBeLessThan(16 * 1024 * 1024);
      } finally {
        await http.close();
      }
    });

    it('gives up on a Location that is not http or https, saying where it led', async () => {
      const base = await serve(mirror(() => 'file:///etc/passwd'));
      const http = create(options());
      try {
        expect(await http.request({ method: 'GET', url: `${base}/abc.narinfo`, maxBytes: 1000 })).toMatchObject({
          ok: false,
          kind: 'other',
          message: 'redirected to a file: URL, which nixcache does not follow',
        });
      } finally {
        await http.close();
      }
    });

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

describe.skipIf(!tls)('redirects between http and https', () => {
  it('follows http → https → http with the pipelined client, the credentials only to the first origin', async () => {
    const seenPlain: string[] = [];
    const seenSecure: string[] = [];
    let plain = '';
    const secure = await serve(
      mirror((path) => `${plain}/m${path}`, seenSecure),
      '127.0.0.1',
      tls,
    );
    plain = await serve(mirror((path) => (path.startsWith('/r/') ? `${secure}${path.slice(2)}` : undefined), seenPlain));
    const http = createPipelinedBulkHttp(options({ ca: tls?.cert }));
    try {
      expect(await http.request({ method: 'GET', url: `${plain}/r/abc.narinfo`, maxBytes: 1000, auth: AUTH })).toMatchObject({
        ok: true,
        status: 200,
        body: NARINFO,
        redirects: 2,
      });
      expect(seenPlain).toEqual([`GET /r/abc.narinfo ${BASIC}`, `GET /m/abc.narinfo ${BASIC}`]);
      expect(seenSecure).toEqual(['GET /abc.narinfo -']);
    } finally {
      await http.close();
    }
  });

  it('follows an https cache’s redirect to another path with undici, keeping its credentials', async () => {
    const seen: string[] = [];
    const secure = await serve(
      mirror((path) => `/m${path}`, seen),
      '127.0.0.1',
      tls,
    );
    const http = createBulkHttp(options({ ca: tls?.cert }));
    try {
      expect(await http.request({ method: 'GET', url: `${secure}/abc.narinfo`, maxBytes: 1000, auth: AUTH })).toMatchObject({
        ok: true,
        status: 200,
        body: NARINFO,
        redirects: 1,
      });
      expect(seen).toEqual([`GET /abc.narinfo ${BASIC}`, `GET /m/abc.narinfo ${BASIC}`]);
    } finally {
      await http.close();
    }
  });
});
