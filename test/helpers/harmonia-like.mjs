// A stand-in for harmonia, for the hit-rate tests: a process named "harmonia" (as `ss -ltnp` shows
// it) that serves a binary cache directory and, at /metrics, a recorded metrics file.
// `node harmonia-like.mjs CACHE_DIR METRICS_FILE` prints "listening PORT".
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join, normalize } from 'node:path';

process.title = 'harmonia';
const [dir, metrics] = process.argv.slice(2);
const server = createServer(async (req, res) => {
  const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
  const file = path === '/metrics' ? metrics : normalize(join(dir, path));
  if (path !== '/metrics' && !file.startsWith(dir)) return void res.writeHead(403).end();
  try {
    const body = await readFile(file);
    res.writeHead(200, { 'content-length': body.length }).end(body);
  } catch {
    res.writeHead(404).end('missed hash');
  }
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
