import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { CLI, nixConf, parseReport, runCli } from '../helpers/cli.js';

/** Outputs that cannot be delivered, files where files are expected, values out of range. */
const ROOT = new URL('../../', import.meta.url).pathname;

describe('outputs that cannot be written give a non-zero exit', () => {
  it('exits 3 and says so when stdout is a full disk (--json > /dev/full)', async () => {
    const { env } = nixConf('substituters = http://127.0.0.1:9\n');
    // The CLI's own stdout is the device, as a shell's `> /dev/full` makes it.
    const full = openSync('/dev/full', 'w');
    const r = spawnSync(process.execPath, [CLI, 'doctor', '--only', 'config', '--json'], {
      env: { ...process.env, NIX_CONFIG: '', ...env },
      stdio: ['ignore', full, 'pipe'],
      encoding: 'utf8',
      timeout: 30_000,
    });
    closeSync(full);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^nixcache: could not write the JSON to stdout: ENOSPC/m);
  });

  it('refuses, as a usage error before the run, a report to a device, a symbolic link, /dev/stdout or the --conf file', async () => {
    const { dir, env } = nixConf('substituters = http://127.0.0.1:9\n');
    const conf = join(dir, 'nix.conf');
    const link = join(dir, 'link.md');
    symlinkSync(join(dir, 'elsewhere.md'), link);
    for (const [target, why] of [
      ['/dev/full', /is not a regular file/],
      ['/dev/stdout', /is a symbolic link/],
      [link, /is a symbolic link/],
      [conf, /is one of the files this run reads/],
    ] as const) {
      const r = await runCli(['doctor', '--only', 'config', '--json', '--conf', conf, '--report', target], { env });
      expect({ target, code: r.exitCode }).toEqual({ target, code: 2 });
      expect(r.stderr).toMatch(why);
      // --json still gets its one document: the doctor did not run, and why.
      expect(parseReport(r.stdout).checks[0]?.summary).toMatch(why);
    }
    expect(readFileSync(conf, 'utf8')).toBe('substituters = http://127.0.0.1:9\n');
    expect(existsSync(join(dir, 'elsewhere.md'))).toBe(false);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it.each([['why'], ['coverage']])(
    '%s leaves a --report it refused alone: the symbolic link stays, its target is never made',
    async (command) => {
      const { dir, env } = nixConf('substituters = http://127.0.0.1:9\n');
      const link = join(dir, 'link.md');
      symlinkSync(join(dir, 'elsewhere.md'), link);
      for (const extra of [[], ['--conf', join(dir, 'no-such.conf')]]) {
        const r = await runCli([command, '--json', '--report', link, ...extra, '/nix/store/00000000000000000000000000000000-x'], { env });
        expect(r.exitCode).toBe(2);
        expect((JSON.parse(r.stdout) as { errors: unknown[] }).errors).toHaveLength(1);
        expect(lstatSync(link).isSymbolicLink()).toBe(true);
        expect(existsSync(join(dir, 'elsewhere.md'))).toBe(false);
      }
    },
  );

  it.each([
    ['doctor', '--only', 'config'],
    ['why', '/nix/store/00000000000000000000000000000000-x'],
  ])('%s --report - writes the report to stdout, as --metrics - does, not to a file named -', async (...args) => {
    const { dir, env } = nixConf('substituters = http://127.0.0.1:9\n');
    const r = await runCli([...args, '--report', '-'], { env, cwd: dir });
    expect(r.stdout).toMatch(/^# nixcache (doctor report|why)\n/);
    expect(existsSync(join(dir, '-'))).toBe(false);
  });

  it.each([['why'], ['coverage']])(
    '%s never writes its report over a nix.conf it reads: --conf named, or found in NIX_CONF_DIR',
    async (command) => {
      const text = 'substituters = http://127.0.0.1:9\n';
      const { dir, env } = nixConf(text);
      const conf = join(dir, 'nix.conf');
      const path = '/nix/store/00000000000000000000000000000000-x';
      // Named by --conf: refused before the run, exit 2.
      const named = await runCli([command, '--conf', conf, '--report', conf, path], { env });
      expect(named.exitCode).toBe(2);
      expect(named.stderr).toMatch(/is one of the files this run reads/);
      // Found by the run (NIX_CONF_DIR): refused when the report is written, exit 3, the file intact.
      const found = await runCli([command, '--report', conf, path], { env });
      expect(found.exitCode).toBe(3);
      expect(found.stderr).toMatch(/could not write the report to .*is one of the files this run reads/);
      expect(readFileSync(conf, 'utf8')).toBe(text);
    },
  );

  it('writes the report by rename, so a reader never sees half of it, and keeps the JSON valid beside it', async () => {
    const { dir, env } = nixConf('substituters = http://127.0.0.1:9\n');
    const file = join(dir, 'report.md');
    writeFileSync(file, 'old');
    const r = await runCli(['doctor', '--only', 'config', '--json', '--report', file], { env });
    parseReport(r.stdout);
    expect(readFileSync(file, 'utf8')).toMatch(/^# nixcache doctor report/);
    expect(r.exitCode).toBe(0);
  });
});

describe('--json gets one valid document even when the command line cannot be read', () => {
  const schemas = Object.fromEntries(
    ['doctor', 'why', 'coverage'].map((kind) => [
      kind,
      new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(ROOT, 'schema', `${kind}.schema.json`), 'utf8'))),
    ]),
  );
  const path = '/nix/store/00000000000000000000000000000000-x';
  it.each([
    ['doctor', ['doctor', '--json', '--bogus'], /unknown option '--bogus'/],
    ['doctor', ['doctor', '--json', '--timeout', '0'], /--timeout takes a number of seconds/],
    ['why', ['why', '--json'], /missing required argument/],
    ['why', ['why', path, '--json', '--timeout', '0'], /--timeout takes a number of seconds/],
    ['coverage', ['coverage', '--json', '--jobs', '999', path], /--jobs must be a whole number/],
    ['coverage', ['coverage', '--bogus', '--json'], /unknown option '--bogus'/],
  ] as const)('%s %j: exit 2, the message on stderr, a document saying so on stdout', async (kind, args, said) => {
    const { env } = nixConf('substituters = http://127.0.0.1:9\n');
    const r = await runCli([...args], { env });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(said);
    const document = JSON.parse(r.stdout);
    const validate = schemas[kind] as ReturnType<Ajv['compile']>;
    expect(validate(document) ? [] : validate.errors).toEqual([]);
    expect(JSON.stringify(kind === 'doctor' ? document.checks : document.errors)).toMatch(said);
  });

  it('prints nothing on stdout without --json', async () => {
    const r = await runCli(['doctor', '--bogus'], { env: nixConf('substituters = http://127.0.0.1:9\n').env });
    expect({ code: r.exitCode, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
  });
});

describe('values out of range are usage errors naming the range', () => {
  it.each([
    ['--deadline', '2200000'],
    ['--deadline', '0.0001'],
    ['--timeout', '3000000'],
    ['--timeout', 'soon'],
  ])('%s %s', async (flag, value) => {
    const r = await runCli(['doctor', '--only', 'config', flag, value]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^nixcache: .*${flag} takes a number of seconds from [\\d.]+ to \\d+$`)),
    ]);
  });
});

describe('a --sample that is no store path is a usage error', () => {
  it.each([['hello'], ['./result'], ['/nix/store/not-a-hash'], ['/nix/store/\u001b[2Jabcdefghijklmnopqrstuvwxyz012345-x']])(
    '%j',
    async (sample) => {
      const r = await runCli(['doctor', '--only', 'config', '--sample', sample]);
      expect(r.exitCode).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^nixcache: --sample .*: not a store path/)]);
      // The terminal gets the argument made visible, never its control bytes.
      expect(r.stderr).not.toMatch(/\u001b/);
    },
  );

  it('takes a path inside a store path, and a store directory other than /nix/store', async () => {
    for (const sample of [
      '/nix/store/0zlzbz5lcgk34s3a97hxfgwkzc2r7wxj-nixcache-fixture-leaf-a/bin/x',
      '/gnu/store/0zlzbz5lcgk34s3a97hxfgwkzc2r7wxj-x',
    ]) {
      const r = await runCli(['doctor', '--only', 'config', '--sample', sample]);
      expect(r.stderr).not.toContain('not a store path');
    }
  });
});

describe('a FIFO where a file is expected', () => {
  it('reads no FIFO named as netrc-file or ssl-cert-file: the run ends on its own, the JSON complete', async () => {
    const { dir, env } = nixConf('');
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [join(dir, 'netrc'), join(dir, 'ca.pem')]);
    writeFileSync(
      join(dir, 'nix.conf'),
      `substituters = http://127.0.0.1:9\nnetrc-file = ${join(dir, 'netrc')}\nssl-cert-file = ${join(dir, 'ca.pem')}\n`,
    );
    const r = await runCli(['doctor', '--json', '--only', 'config,connect', '--deadline', '5'], { env, timeoutMs: 20_000 });
    parseReport(r.stdout);
    expect(r.durationMs).toBeLessThan(6000);
  });

  it.each([['why'], ['coverage']])(
    '%s with a FIFO as nix.conf looks nothing up and says why, exit 2 (it ran with no configuration)',
    async (command) => {
      const { dir, env } = nixConf('');
      const { execFileSync } = await import('node:child_process');
      const conf = join(dir, 'fifo.conf');
      execFileSync('mkfifo', [conf]);
      const r = await runCli([command, '--json', '--conf', conf, '/nix/store/00000000000000000000000000000000-x'], {
        env,
        timeoutMs: 20_000,
      });
      expect(r.exitCode).toBe(2);
      const document = JSON.parse(r.stdout) as { errors: { message: string }[] };
      expect(document.errors).toEqual([
        { argument: '(run)', message: expect.stringMatching(/every nix command hangs reading .*fifo\.conf/) },
      ]);
    },
  );
});
