import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { CACHES, FIXTURES, KEYS } from '../helpers/servers.js';

/**
 * Caches and files written by someone else: control characters, escape sequences, bidi overrides
 * and bare carriage returns in every field they supply must reach no output raw. Every output is
 * scanned for any byte a terminal would act on (the runs are piped, so the doctor adds no colour).
 */
const FORBIDDEN = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const ATTACK =
  '\u001b]0;PWNED\u0007\u001b[2J\u001b[3J\u001b[H\r## injected heading <img src=x onerror=alert(1)> [link](http://evil)\u202e\u009b31m';

const SAMPLE = readFileSync(join(FIXTURES, 'store-paths.txt'), 'utf8').trim().split('\n')[1] as string;
const hashOf = (path: string) => path.slice('/nix/store/'.length, '/nix/store/'.length + 32);

let server: Server;
let base: string;

beforeAll(async () => {
  const narinfo = readFileSync(join(CACHES, 'signed-lan', `${hashOf(SAMPLE)}.narinfo`), 'utf8');
  server = createServer((req, res) => {
    const url = req.url ?? '/';
    // /storedir: a nix-cache-info whose StoreDir carries the attack; /sig: a narinfo whose signer does.
    if (url === '/storedir/nix-cache-info') return void res.end(`StoreDir: /nix/store${ATTACK}\nPriority: 7\n`);
    if (url === '/sig/nix-cache-info') return void res.end('StoreDir: /nix/store\n');
    if (url === `/sig/${hashOf(SAMPLE)}.narinfo`) {
      return void res.end(narinfo.replace(/^Sig: [^:]+:/m, `Sig: evil${ATTACK.replace(/[\r\n]/g, '')}:`));
    }
    res.statusCode = 404;
    res.end('not here\u001b[2J');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('hostile caches and files', () => {
  it('lets no control character, escape sequence or bidi override through the table, -v, JSON, Markdown or stderr', async () => {
    const { dir, env } = nixConf(
      `substituters = ${base}/storedir ${base}/sig\ntrusted-public-keys = ${readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim()}\nno-such-setting\u001b[2J\u202e = 1\ninclude ${ATTACK.replace(/\s/g, '')}.conf\n`,
    );
    const common = ['doctor', '--timeout', '2', '--sample', SAMPLE];
    const runs = {
      table: await runCli(common, { env }),
      verbose: await runCli([...common, '-v'], { env }),
      json: await runCli([...common, '--json', '--report', join(dir, 'report.md')], { env }),
      markdown: await runCli([...common, '--report'], { env }),
    };
    const report = parseReport(runs.json.stdout);
    // The attack really reached the doctor: the JSON keeps the exact strings.
    expect(checkOf(report, 'cache-info', `${base}/storedir`).summary).toContain(
      `/nix/store${ATTACK.replace(/\r/g, ' ').trim()}`.slice(0, 20),
    );
    expect(JSON.stringify(report)).toContain('\\u001b]0;PWNED');
    expect(checkOf(report, 'signature', `${base}/sig`).summary).toMatch(/^signed by evil/);
    // …and an include of a file named with it reached the config check's problems.
    expect(JSON.stringify(checkOf(report, 'config').data.problems)).toContain('included from');
    const outputs: Record<string, string> = {
      ...Object.fromEntries(
        Object.entries(runs).flatMap(([name, r]) => [
          [`${name} stdout`, r.stdout],
          [`${name} stderr`, r.stderr],
        ]),
      ),
      'report file': readFileSync(join(dir, 'report.md'), 'utf8'),
    };
    for (const [name, text] of Object.entries(outputs)) {
      const bad = FORBIDDEN.exec(text);
      expect({ name, bad: bad ? JSON.stringify(text.slice(Math.max(0, bad.index - 40), bad.index + 10)) : null }).toEqual({
        name,
        bad: null,
      });
    }
    // What was sent is shown, visibly escaped, where a person can read it.
    expect(runs.table.stdout).toContain('\\x1b]0;PWNED\\x07\\x1b[2J');
    // No Markdown structure smuggled into the ticket: outside code blocks (where text is shown as
    // it is), no heading, HTML or link from the cache; every code block closes where it opened.
    for (const md of [outputs['report file'] ?? '', runs.markdown.stdout]) {
      const fences = md.match(/^ *`{3,}/gm) ?? [];
      expect(fences.length % 2).toBe(0);
      const prose = md.replace(/^( *)(`{3,})text\n[\s\S]*?\n\1\2$/gm, '');
      expect(prose).not.toMatch(/^#+ injected/m);
      expect(prose).not.toContain('<img');
      expect(prose).not.toMatch(/[^\\]\[link\]\(http:\/\/evil\)/);
      expect(prose).toContain('&lt;img');
    }
  });
});
