import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join, normalize } from 'node:path';

/** How a served copy of a Nix-made fixture cache misbehaves. */
export interface VariantOptions {
  /** Hash parts whose narinfo answers 404 (paths the cache lacks; a lacking reference makes a hole). */
  hide?: Set<string>;
  /** Every .narinfo answers 401 while nix-cache-info stays public. */
  narinfoStatus?: number;
  /** Every NAR file answers 404. */
  narMissing?: boolean;
  /** Every NAR file answers this status (a 500: the cache fails to read its NAR files). */
  narStatus?: number;
  /** The first N narinfo requests answer 429 with this Retry-After. */
  rateLimit?: { first: number; retryAfter: string };
  /** Replace the served nix-cache-info. */
  cacheInfo?: string;
}

export interface Variant {
  url: string;
  /** Paths requested, in order, with the method. */
  requests: string[];
  close(): Promise<void>;
}

/** Serves DIR (a binary cache made by real Nix under fixtures/caches) on loopback, with the faults asked for. */
export async function serveVariant(dir: string, opts: VariantOptions = {}): Promise<Variant> {
  const requests: string[] = [];
  let limited = 0;
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = decodeURIComponent((req.url ?? '/').split('?')[0] as string);
      requests.push(`${req.method} ${path}`);
      const narinfo = /^\/([0-9a-z]{32})\.narinfo$/.exec(path);
      if (narinfo && opts.rateLimit && limited < opts.rateLimit.first) {
        limited++;
        return void res.writeHead(429, { 'retry-after': opts.rateLimit.retryAfter }).end('slow down\n');
      }
      if (narinfo && opts.narinfoStatus)
        return void res.writeHead(opts.narinfoStatus, { 'www-authenticate': 'Basic realm="cache"' }).end('no\n');
      if (narinfo && opts.hide?.has(narinfo[1] as string)) return void res.writeHead(404).end('404\n');
      if (path.startsWith('/nar/') && opts.narMissing) return void res.writeHead(404).end('404\n');
      if (path.startsWith('/nar/') && opts.narStatus) return void res.writeHead(opts.narStatus).end('no\n');
      if (path === '/nix-cache-info' && opts.cacheInfo !== undefined) return void res.writeHead(200).end(opts.cacheInfo);
      const file = normalize(join(dir, path));
      if (!file.startsWith(dir)) return void res.writeHead(403).end();
      try {
        const body = await readFile(file);
        res.writeHead(200, { 'content-length': body.length });
        res.end(req.method === 'HEAD' ? undefined : body);
      } catch {
        res.writeHead(404).end('404\n');
      }
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
