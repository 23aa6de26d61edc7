// Serves a binary cache directory over HTTP, for tests that need the server inside a network
// namespace (`ip netns exec NS node serve-cache.mjs DIR HOST PORT`). Prints "listening PORT".
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join, normalize } from 'node:path';

const [dir, host = '127.0.0.1', port = '0'] = process.argv.slice(2);
const server = createServer(async (req, res) => {
  const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
  const file = normalize(join(dir, path));
  if (!file.startsWith(dir)) return void res.writeHead(403).end();
  try {
    const body = await readFile(file);
    res.writeHead(200, { 'content-length': body.length }).end(body);
  } catch {
    res.writeHead(404).end('not found\n');
  }
});
server.listen(Number(port), host, () => console.log(`listening ${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
