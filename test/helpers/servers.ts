import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import { join, normalize } from 'node:path';

export const FIXTURES = new URL('../../fixtures/', import.meta.url).pathname;
export const CACHES = join(FIXTURES, 'caches');
export const KEYS = join(FIXTURES, 'keys');

export interface Running {
  url: string;
  port: number;
  /** Requests the server has seen (path only). */
  requests: string[];
  close(): Promise<void>;
}

export interface CacheServerOptions {
  /** Replace the served nix-cache-info. */
  cacheInfo?: string;
  /** Require HTTP basic auth with these credentials. */
  auth?: { user: string; password: string };
  /** With auth: require it only for *.narinfo (nix-cache-info and NARs public), as some nginx setups do. */
  authOnlyNarinfo?: boolean;
  /** Every Authorization header the server receives is pushed here (what the client really sent). */
  authorizations?: string[];
  host?: string;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
}

/** Serves a binary cache directory made by `nix copy` over real HTTP on loopback, like nix-serve does. */
export async function serveCache(dir: string, opts: CacheServerOptions = {}): Promise<Running> {
  return listen(
    async (req, res, requests) => {
      const path = decodeURIComponent((req.url ?? '/').split('?')[0] as string);
      requests.push(path);
      if (req.headers.authorization) opts.authorizations?.push(req.headers.authorization);
      if (opts.auth && (!opts.authOnlyNarinfo || path.endsWith('.narinfo'))) {
        const expected = `Basic ${Buffer.from(`${opts.auth.user}:${opts.auth.password}`).toString('base64')}`;
        if (req.headers.authorization !== expected) {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="cache"' }).end('Unauthorized\n');
          return;
        }
      }
      if (path === '/nix-cache-info' && opts.cacheInfo !== undefined) {
        res.writeHead(200, { 'content-type': 'text/x-nix-cache-info' }).end(opts.cacheInfo);
        return;
      }
      const file = normalize(join(dir, path));
      if (!file.startsWith(dir)) return void res.writeHead(403).end();
      try {
        const body = await readFile(file);
        const type = path.endsWith('.narinfo')
          ? 'text/x-nix-narinfo'
          : path === '/nix-cache-info'
            ? 'text/x-nix-cache-info'
            : 'application/octet-stream';
        res.writeHead(200, { 'content-type': type, 'content-length': body.length }).end(body);
      } catch {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('404 not found\n');
      }
    },
    opts.host,
    opts.tls,
  );
}

export type Fault = 'hang' | 'drip' | 'status-500' | 'html' | 'redirect-loop' | 'huge' | 'reset';

/** A server that breaks in one way. Every loop it runs is bounded and ends when closed. */
export async function faultServer(fault: Fault, opts: { bytesPerSecond?: number; host?: string } = {}): Promise<Running> {
  const timers = new Set<NodeJS.Timeout>();
  const running = await listen((req, res, requests) => {
    requests.push(req.url ?? '/');
    switch (fault) {
      case 'hang':
        return; // accepts, reads the request, never answers
      case 'drip': {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const rate = opts.bytesPerSecond ?? 1;
        let sent = 0;
        const timer = setInterval(() => {
          if (sent++ >= 600 || res.destroyed) {
            clearInterval(timer);
            timers.delete(timer);
            res.end();
            return;
          }
          res.write('S'.repeat(rate));
        }, 1000);
        timers.add(timer);
        return;
      }
      case 'status-500':
        return void res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal Server Error\n');
      case 'html':
        return void res
          .writeHead(200, { 'content-type': 'text/html' })
          .end('<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head><body>Welcome</body></html>\n');
      case 'redirect-loop':
        return void res.writeHead(302, { location: req.url === '/a/nix-cache-info' ? '/b/nix-cache-info' : '/a/nix-cache-info' }).end();
      case 'huge': {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 50 * 1024 * 1024 });
        const chunk = Buffer.alloc(64 * 1024, 'StoreDir: /nix/store\n');
        let left = 50 * 1024 * 1024;
        const pump = () => {
          while (left > 0 && !res.destroyed) {
            left -= chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        return pump();
      }
      case 'reset':
        return void req.socket.destroy();
    }
  }, opts.host);
  const close = running.close;
  running.close = async () => {
    for (const t of timers) clearInterval(t);
    await close();
  };
  return running;
}

/** A port on which nothing listens: bound, then closed, so connecting is refused. */
export async function refusedPort(host = '127.0.0.1'): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP server that accepts and never says a word (not even HTTP). */
export async function silentTcp(host = '127.0.0.1'): Promise<Running> {
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${host}:${port}`,
    port,
    requests: [],
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse, requests: string[]) => void | Promise<void>,
  host = '127.0.0.1',
  tls?: { key: string; cert: string },
): Promise<Running> {
  const requests: string[] = [];
  const respond = (req: IncomingMessage, res: ServerResponse) => {
    void Promise.resolve(handler(req, res, requests)).catch(() => res.destroy());
  };
  const server: Server = tls ? createHttpsServer(tls, respond) : createServer(respond);
  // A client that rejects the certificate is expected here, not a test failure.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
