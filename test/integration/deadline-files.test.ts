import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliRun, checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';

/**
 * Files and answers that would hold a reader forever or make it work for minutes: a FIFO in every
 * place the doctor opens a file, an include fan-out Nix itself needs minutes for, a cache's
 * 64 KB StoreDir. The run's deadline holds for each — the process has exited within the deadline
 * plus one second — with the table and with --json (one valid document).
 */
const DEADLINE_S = 3;
/** Nothing listens on port 9 of loopback: the cache checks end at once, the files are what is tested. */
const NOWHERE = 'http://127.0.0.1:9';

async function doctor(
  args: string[],
  env: Record<string, string>,
  { wrap, deadlineS = DEADLINE_S }: { wrap?: string[] | undefined; deadlineS?: number } = {},
): Promise<{ table: CliRun; json: CliRun }> {
  const run = (extra: string[]) =>
    runCli(['doctor', '--deadline', String(deadlineS), ...args, ...extra], { env, timeoutMs: 60_000, ...(wrap ? { wrap } : {}) });
  const table = await run([]);
  const json = await run(['--json']);
  for (const r of [table, json]) expect(r.durationMs).toBeLessThan((deadlineS + 1) * 1000);
  expect(table.stdout).toMatch(/^nixcache doctor — /);
  return { table, json };
}

function fifo(path: string): string {
  rmSync(path, { force: true });
  execFileSync('mkfifo', [path]);
  return path;
}

describe('a FIFO where the doctor expects a file: the run ends by its deadline', () => {
  it('as nix.conf itself: named as a FIFO Nix would wait on', async () => {
    const { dir, env } = nixConf('');
    fifo(join(dir, 'nix.conf'));
    const { table, json } = await doctor(['--cache', NOWHERE], env);
    const config = checkOf(parseReport(json.stdout), 'config');
    expect(config.detail).toContain(`'${join(dir, 'nix.conf')}' is not a regular file (a FIFO): Nix waits on it`);
    // Nix does not skip it: every nix command waits on it.
    expect(config.summary).toMatch(/^every nix command hangs reading /);
    expect(table.stdout).toMatch(/✘ fail +nix\.conf files and settings/);
  });

  it('as an !include of nix.conf: the settings around it still read', async () => {
    const { dir, env } = nixConf(`!include pipe.conf\nsubstituters = ${NOWHERE}\n`);
    fifo(join(dir, 'pipe.conf'));
    const { json } = await doctor([], env);
    const report = parseReport(json.stdout);
    expect(report.config.substituters).toEqual([NOWHERE]);
    expect(checkOf(report, 'config').detail).toContain(`'${join(dir, 'pipe.conf')}' is not a regular file (a FIFO)`);
  });

  it('as netrc-file', async () => {
    const { dir, env } = nixConf('');
    writeFileSync(join(dir, 'nix.conf'), `substituters = ${NOWHERE}\nnetrc-file = ${fifo(join(dir, 'netrc'))}\n`);
    await doctor([], env);
  });

  it('as ssl-cert-file', async () => {
    const { dir, env } = nixConf('');
    writeFileSync(join(dir, 'nix.conf'), `substituters = ${NOWHERE}\nssl-cert-file = ${fifo(join(dir, 'ca.pem'))}\n`);
    await doctor([], env);
  });

  it('as --conf', async () => {
    const { dir, env } = nixConf('');
    const { json } = await doctor(['--cache', NOWHERE, '--conf', fifo(join(dir, 'given.conf'))], env);
    expect(checkOf(parseReport(json.stdout), 'config').detail).toContain('(a FIFO)');
  });

  it('as --secret-key-file', async () => {
    const { dir, env } = nixConf(`substituters = ${NOWHERE}\n`);
    const key = fifo(join(dir, 'key.sec'));
    const { json } = await doctor(['--server', '--secret-key-file', key], env);
    expect(checkOf(parseReport(json.stdout), 'signing-key')).toMatchObject({
      status: 'fail',
      summary: `cannot read the secret key file ${key}: '${key}' is not a regular file (a FIFO)`,
    });
  });

  it('as --report: refused before the run, as a usage error', async () => {
    const { dir, env } = nixConf(`substituters = ${NOWHERE}\n`);
    const r = await runCli(['doctor', '--deadline', String(DEADLINE_S), '--report', fifo(join(dir, 'report.md'))], {
      env,
      timeoutMs: 60_000,
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--report .*report\.md: is not a regular file/);
    expect(r.durationMs).toBeLessThan((DEADLINE_S + 1) * 1000);
  });
});

describe('an include fan-out Nix needs minutes for', () => {
  it('3 ways, 17 levels: a read-limit finding naming the file and Nix’s 64,570,082 reads, in bounded memory', async () => {
    const files: Record<string, string> = {};
    for (let i = 1; i < 17; i++) files[`f${i}.conf`] = `include f${i + 1}.conf\n`.repeat(3);
    files['f17.conf'] = `extra-substituters = ${NOWHERE}\n`;
    const { dir, env } = nixConf('include f1.conf\n', files);
    // /usr/bin/time reports the CLI's peak memory (maximum resident set) on stderr.
    const time = existsSync('/usr/bin/time') ? ['/usr/bin/time', '-f', 'maxrss-kb=%M'] : undefined;
    // The config check waits for `nix show-config` (which would read for minutes) up to its 5 s
    // timeout; a deadline past that lets the finding be made, not cut off.
    const { table, json } = await doctor(['--cache', NOWHERE], env, { wrap: time, deadlineS: 8 });
    const config = checkOf(parseReport(json.stdout), 'config');
    expect(config.status).toBe('fail');
    expect(config.summary).toContain(`64,570,082 reads for this configuration`);
    // Where it stops depends on the limit reached first (100,000 includes followed): some file of the fan-out.
    expect(config.data.problems).toEqual([
      {
        file: expect.stringMatching(new RegExp(`^${dir}/f\\d+\\.conf$`)),
        line: expect.any(Number),
        code: 'read-limit',
        message: expect.stringContaining('64,570,082 reads'),
      },
    ]);
    expect(table.stdout).toContain('64,570,082 reads');
    for (const r of time ? [table, json] : []) {
      const kb = Number(/maxrss-kb=(\d+)/.exec(r.stderr)?.[1]);
      expect(kb).toBeLessThan(400 * 1024);
    }
  });
});

describe('a 14 MB nix.conf of 2,000 extra- lines of 1,000 keys each (Nix 2.8 reads it in 0.6 s)', () => {
  it('ends by its deadline with a read-limit finding at the line where nixcache stopped (100,000 values)', async () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `k${i}:x`).join(' ');
    const { dir, env } = nixConf(`substituters = ${NOWHERE}\n${`extra-trusted-public-keys = ${keys}\n`.repeat(2000)}`);
    const { json } = await doctor(['--only', 'config,trust,priority'], env);
    const config = checkOf(parseReport(json.stdout), 'config');
    expect(config.data.problems).toEqual([
      {
        file: join(dir, 'nix.conf'),
        line: 102,
        code: 'read-limit',
        message: expect.stringMatching(/^the extra- settings add more than 100,000 values/),
      },
    ]);
  });
});

describe('a nix.conf of 5,000 lines of one misspelt setting (Nix warns once and goes on)', () => {
  it('ends by its deadline with every line named, the name looked up once', async () => {
    const { env } = nixConf(`substituters = ${NOWHERE}\n${'substituers = http://typo\n'.repeat(5000)}`);
    const { json } = await doctor(['--only', 'config,trust,priority'], env);
    const config = checkOf(parseReport(json.stdout), 'config');
    expect(config.status).toBe('warn');
    expect(config.data.problems).toEqual([]);
    expect(config.data.unknownSettings).toHaveLength(5000);
    expect(config.summary).toMatch(/^unknown setting 'substituers' at .*:2 — did you mean 'substituters'\? \(\+4,?999 more\)$/);
  });

  it('stops at 1,000 different unknown names, with a read-limit finding', async () => {
    const { dir, env } = nixConf(`substituters = ${NOWHERE}\n${Array.from({ length: 1500 }, (_, i) => `qq${i}zz = 1\n`).join('')}`);
    const { json } = await doctor(['--only', 'config,trust,priority'], env);
    const config = checkOf(parseReport(json.stdout), 'config');
    expect(config.data.problems).toEqual([
      {
        file: join(dir, 'nix.conf'),
        line: 1002,
        code: 'read-limit',
        message: expect.stringMatching(/^more than 1,000 different names no Nix 2 release has are set/),
      },
    ]);
  });
});

describe('a cache whose nix-cache-info is one 64 KB StoreDir', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      // /fits: the whole answer just under the 64 kB the doctor reads; /over: just over it.
      const room = req.url?.startsWith('/fits/') ? 64 * 1024 - 64 : 64 * 1024;
      if (req.url?.endsWith('/nix-cache-info')) return void res.end(`StoreDir: /nix/store${'x'.repeat(room)}\n`);
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it.each(['fits', 'over'])('%s the 64 kB read: cache-info fails, the run ends by its deadline', async (which) => {
    const url = `${base}/${which}`;
    const { env } = nixConf(`substituters = ${url}\n`);
    const { table, json } = await doctor([], env);
    expect(checkOf(parseReport(json.stdout), 'cache-info', url).status).toBe('fail');
    expect(table.stdout).toMatch(/✘ fail +Binary cache answers \/nix-cache-info/);
  });
});

describe('coverage --paths-from: a pipe is read, one nobody writes to ends at the deadline', () => {
  const PATH_A = '/nix/store/0zlzbz5lcgk34s3a97hxfgwkzc2r7wxj-nixcache-fixture-leaf-a';

  it('a FIFO with no writer: the run ends by its deadline with one JSON document saying why', async () => {
    const { dir, env } = nixConf(`substituters = ${NOWHERE}\n`);
    const pipe = fifo(join(dir, 'paths'));
    const r = await runCli(['coverage', '--json', '--no-closure', '--deadline', String(DEADLINE_S), '--paths-from', pipe], {
      env,
      timeoutMs: 30_000,
    });
    expect(r.durationMs).toBeLessThan((DEADLINE_S + 1) * 1000);
    const report = JSON.parse(r.stdout) as { errors: { message: string }[] };
    expect(JSON.stringify(report.errors)).toContain('still open at the run deadline');
  });

  it('a FIFO someone writes to (as <(…) gives): its paths are looked up', async () => {
    const { dir, env } = nixConf(`substituters = ${NOWHERE}\n`);
    const pipe = fifo(join(dir, 'paths'));
    const writer = execa('sh', ['-c', `printf '%s\\n' '${PATH_A}' > '${pipe}'`]);
    const r = await runCli(['coverage', '--json', '--no-closure', '--deadline', String(DEADLINE_S), '--paths-from', pipe], {
      env,
      timeoutMs: 30_000,
    });
    await writer;
    const report = JSON.parse(r.stdout) as { paths: number; errors: unknown[] };
    expect(report.errors).toEqual([]);
    expect(report.paths).toBe(1);
  });
});

describe('coverage --paths-from: what a pipe or file holds, shown and owned safely', () => {
  it('a pipe read under forced garbage collections: no descriptor closed twice, one JSON document', async () => {
    const { dir, env } = nixConf(`substituters = ${NOWHERE}\n`);
    const pipe = fifo(join(dir, 'paths'));
    // Collections every 2 ms: a descriptor owned twice (a FileHandle and a socket) is closed again and aborts the process.
    const probe = join(dir, 'gc.mjs');
    writeFileSync(probe, 'setInterval(() => globalThis.gc(), 2).unref();\n');
    const writer = execa('sh', ['-c', `printf '%s\\n' /nix/store/0zlzbz5lcgk34s3a97hxfgwkzc2r7wxj-a > '${pipe}'`]);
    const r = await runCli(['coverage', '--json', '--no-closure', '--deadline', String(DEADLINE_S), '--paths-from', pipe], {
      env,
      timeoutMs: 30_000,
      nodeArgs: ['--expose-gc', '--import', probe],
    });
    await writer;
    expect(r.stderr).not.toMatch(/EBADF|Closing file descriptor/);
    expect((JSON.parse(r.stdout) as { paths: number }).paths).toBe(1);
  });

  it('a line with escape sequences is named on stderr made visible, never raw', async () => {
    const { dir, env } = nixConf(`substituters = ${NOWHERE}\n`);
    writeFileSync(join(dir, 'paths'), '\u001b]0;pwned\u0007\u001b[31mnot-a-path\n');
    const r = await runCli(['coverage', '--no-closure', '--deadline', String(DEADLINE_S), '--paths-from', join(dir, 'paths')], { env });
    expect(r.stderr).toContain('\\x1b]0;pwned');
    expect(r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });
});
