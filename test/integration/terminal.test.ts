import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { CACHES, KEYS, type Running, refusedPort, serveCache } from '../helpers/servers.js';

/**
 * The default output as a person sees it: the CLI in a real pseudo-terminal (util-linux `script`)
 * of 60, 80 and 120 columns, read back as the terminal got it.
 */
const run = promisify(execFile);
/** Colours and the spinner's cursor movements: what the terminal interprets rather than shows. */
const ESCAPES = /\u001b\[[0-9;?]*[A-Za-z]/g;

async function inTerminal(columns: number, args: string[], env: Record<string, string>): Promise<string[]> {
  // stdout is the terminal; the spinner (stderr) goes elsewhere, as it would have erased itself.
  const command = `stty cols ${columns} rows 24; exec ${process.execPath} ${CLI} ${args.map((a) => `'${a}'`).join(' ')} 2>/dev/null`;
  const { stdout } = await run('script', ['-qec', command, '/dev/null'], {
    env: { ...process.env, NIX_CONFIG: '', TERM: 'xterm-256color', ...env },
    maxBuffer: 16 * 1024 * 1024,
  }).catch((e: { stdout: string }) => e);
  return stdout.replace(ESCAPES, '').replace(/\r/g, '').split('\n');
}

let healthy: Running;
let untrusted: Running;
let regenerated: Running;
let refused: number;
let env: Record<string, string>;
let fixLines: string[];

beforeAll(async () => {
  [healthy, untrusted, regenerated, refused] = await Promise.all([
    serveCache(join(CACHES, 'signed-lan')),
    serveCache(join(CACHES, 'signed-other')),
    // Signed under the trusted key's name with other material: the longest fix, prose and commands mixed.
    serveCache(join(CACHES, 'regenerated')),
    refusedPort(),
  ]);
  const trusted = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
  ({ env } = nixConf(
    `substituters = http://127.0.0.1:${refused} ${healthy.url}?priority=10 ${untrusted.url} ${regenerated.url}\ntrusted-public-keys = ${trusted}\n`,
  ));
  const report = parseReport((await runCli(['doctor', '--json', '--timeout', '2'], { env })).stdout);
  fixLines = report.checks.flatMap((c) => (c.fix ?? '').split('\n').map((l) => l.trim()));
});
afterAll(async () => {
  await Promise.all([healthy?.close(), untrusted?.close(), regenerated?.close()]);
});

describe.each([60, 80, 120])('the table in a %i-column terminal', (columns) => {
  it('keeps every line within the width, except a command or config value longer than the line, printed whole', async () => {
    const lines = await inTerminal(columns, ['doctor', '--timeout', '2'], env);
    expect(lines.join('\n')).toContain('nixcache doctor — 4 caches');
    expect(lines.join('\n')).toContain('If the narinfo was altered');
    for (const line of lines.filter((l) => [...l].length > columns)) {
      // The only lines allowed past the edge: a piece of a fix that is a command or config value
      // alone on its line (no prose beside it), and no wider than what the fix says.
      const piece = line.trim();
      const alone = fixLines.some((fix) => fix === piece || fix.endsWith(`: ${piece}`) || fix.startsWith(`${piece} `));
      expect({ line, allowed: alone && !/ (the|and|or|if|it|is) /.test(piece) }).toEqual({ line, allowed: true });
    }
  });

  it('ends with a Fix first block that names the failing check and its cache first, and the summary', async () => {
    const lines = await inTerminal(columns, ['doctor', '--timeout', '2'], env);
    const at = lines.indexOf('Fix first');
    expect(at).toBeGreaterThan(0);
    const block = lines.slice(at);
    expect(block[1]).toMatch(new RegExp(`^✘ 1\\. http://127\\.0\\.0\\.1:${refused}: TCP/TLS connection — `));
    expect(block.join('\n')).toContain(`${untrusted.url}: Signed by a trusted key`);
    expect(block.some((l) => /^Problems found: \d+ failing checks?/.test(l))).toBe(true);
    // It fits the last screen of a 24-line terminal, with the summary line.
    expect(block.length).toBeLessThanOrEqual(22);
  });

  it('prints each fix command intact on one line', async () => {
    const text = (await inTerminal(columns, ['doctor', '--timeout', '2'], env)).join('\n');
    expect(text).toMatch(new RegExp(`\\n +See where it listens: ss -ltnp 'sport = :${refused}'\\n`));
    expect(text).toMatch(/\n +(Start it: )?systemctl enable --now nix-serve\n/);
    expect(text).toMatch(
      /\n +Or on the command line for a test: nixcache doctor --trusted-key NAME:KEY\n|\n +nixcache doctor --trusted-key NAME:KEY\n/,
    );
  });
});

describe('noise', () => {
  it('folds the skips that carry no news into one line per cache, and -v shows them all', async () => {
    const quiet = (await inTerminal(100, ['doctor', '--timeout', '2'], env)).join('\n');
    expect(quiet).toContain('4 checks not run — cache-info, signature, nar, coverage: connect failed');
    // Without --sample, the coverage step of a cache that answers is no news either.
    expect(quiet).toContain('1 check not run — coverage: no paths named (--sample PATH, repeatable, looks them up)');
    expect(quiet).not.toMatch(/needs connect/);
    expect(quiet).not.toMatch(/skip +Has the paths named/);
    const verbose = (await inTerminal(100, ['doctor', '--timeout', '2', '-v'], env)).join('\n');
    expect(verbose).toContain("not run: needs 'connect', which failed");
    expect(verbose).toMatch(/· GET http:\/\/127\.0\.0\.1:\d+\/nix-cache-info → 200/);
  });
});
