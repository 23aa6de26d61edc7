// A reference figure for `npm run bench`: how fast the bench's cache server can answer a closure's
// narinfo requests at all. A client that does nothing but write every request at once (HTTP/1.1
// pipelining, CONNECTIONS connections) and count the answers (Content-Length or chunked); no client can
// finish sooner against that server. Prints the number of 200 answers.
// Usage: node server-floor.mjs PORT PATHS_FILE [CONNECTIONS]   (PATHS_FILE: one request path a line)
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

const port = Number(process.argv[2]);
const paths = readFileSync(process.argv[3] ?? '', 'utf8')
  .split('\n')
  .filter(Boolean);
const connections = Number(process.argv[4] ?? 8);

/** How many bytes follow the head (Content-Length, or chunks up to the last), or undefined while incomplete. */
function bodySize(head, buffer, start) {
  if (!/\r\ntransfer-encoding: *chunked/i.test(head)) {
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    return buffer.length >= start + length ? length : undefined;
  }
  let at = start;
  for (;;) {
    const line = buffer.indexOf('\r\n', at);
    if (line < 0) return undefined;
    const chunk = Number.parseInt(buffer.subarray(at, line).toString('latin1'), 16);
    const next = line + 2 + chunk + 2;
    if (buffer.length < next) return undefined;
    at = next;
    if (chunk === 0) return at - start;
  }
}

/** The answers on one connection to WANTED requests: resolves with how many were 200. */
function pipeline(mine) {
  return new Promise((resolve, reject) => {
    let answered = 0;
    let ok = 0;
    let pending = Buffer.alloc(0);
    const socket = connect(port, '127.0.0.1', () => socket.write(mine.map((p) => `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`).join('')));
    socket.setTimeout(60_000, () => socket.destroy(new Error('no answer within 60 s')));
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) break;
        const head = pending.subarray(0, end).toString('latin1');
        const size = bodySize(head, pending, end + 4);
        if (size === undefined) break;
        if (head.startsWith('HTTP/1.1 200')) ok++;
        pending = pending.subarray(end + 4 + size);
        if (++answered === mine.length) {
          socket.destroy();
          resolve(ok);
          return;
        }
      }
    });
  });
}

const shares = Array.from({ length: connections }, (_, c) => paths.filter((_, i) => i % connections === c)).filter((s) => s.length);
const counts = await Promise.all(shares.map(pipeline));
process.stdout.write(`${counts.reduce((a, b) => a + b, 0)}\n`);
