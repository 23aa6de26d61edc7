import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { CACHES, faultServer, type Running, refusedPort, serveCache } from '../helpers/servers.js';

const ANSI = /\u001b\[/;
let lan: Running;
let gnu: Running;
let html: Running;
let advertised30: Running;

beforeAll(async () => {
  [lan, gnu, html, advertised30] = await Promise.all([
    serveCache(join(CACHES, 'signed-lan')),
    serveCache(join(CACHES, 'gnu-store')),
    faultServer('html'),
    serveCache(join(CACHES, 'signed-lan'), { cacheInfo: 'StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 30\n' }),
  ]);
});
afterAll(async () => {
  await Promise.all([lan, gnu, html, advertised30].map((s) => s?.close()));
});

describe('nixcache doctor end to end', () => {
  it('prints one schema-valid JSON document when every cache is unreachable', async () => {
    const [p1, p2] = await Promise.all([refusedPort(), refusedPort()]);
    const { env } = nixConf(`substituters = http://127.0.0.1:${p1} http://127.0.0.1:${p2}/sub\n`);
    const r = await runCli(['doctor', '--json', '--timeout', '2'], { env });
    const report = parseReport(r.stdout);
    expect(r.exitCode).toBe(1);
    expect(report.caches.map((c) => c.url)).toEqual([`http://127.0.0.1:${p1}`, `http://127.0.0.1:${p2}/sub`]);
    for (const c of report.caches) {
      expect(checkOf(report, 'connect', c.url).status).toBe('fail');
      expect(checkOf(report, 'cache-info', c.url)).toMatchObject({ status: 'skip', reason: 'needs connect' });
    }
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('passes a healthy Nix-made cache and exits 0', async () => {
    const { env } = nixConf(`substituters = ${lan.url}\n`);
    const r = await runCli(['doctor', '--json', '--only', 'config,connect,cache-info'], { env });
    const report = parseReport(r.stdout);
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['config', 'pass'],
      ['connect', 'pass'],
      ['cache-info', 'pass'],
    ]);
    expect(checkOf(report, 'cache-info', lan.url).data).toMatchObject({ storeDir: '/nix/store', status: 200 });
    expect(r.exitCode).toBe(0);
  });

  it('names substituters when nix.conf says substituers', async () => {
    const { env } = nixConf(`substituers = ${lan.url}\n`);
    const report = parseReport((await runCli(['doctor', '--json', '--only', 'config'], { env })).stdout);
    const config = checkOf(report, 'config');
    expect(['warn', 'fail']).toContain(config.status);
    expect(config.summary).toContain("'substituters'");
    expect(config.fix).toContain("Rename 'substituers' to 'substituters'");
  });

  it('survives a nix.conf of junk with a self-include and a missing !include, reporting file:line', async () => {
    const { dir, env } = nixConf('');
    const conf = join(dir, 'nix.conf');
    writeFileSync(
      conf,
      [
        '%%% junk',
        `substituters = ${lan.url}`,
        'include nix.conf',
        '!include /does/not/exist.conf',
        'this is = not valid',
        '= =',
        '\u0000\u0001 binary',
      ].join('\n'),
    );
    const r = await runCli(['doctor', '--json', '--timeout', '2'], { env });
    const report = parseReport(r.stdout);
    const config = checkOf(report, 'config');
    expect(config.status).toBe('fail');
    expect(config.summary).toContain(`${conf}:1`);
    expect(config.detail).toContain(`${conf}:3`);
    expect(config.detail).toMatch(/includes itself/);
    expect(config.detail).not.toContain('/does/not/exist.conf');
    expect(checkOf(report, 'cache-info', lan.url).status).toBe('pass');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('fails cache-info naming /gnu/store for a cache made for another store', async () => {
    const { env } = nixConf(`substituters = ${gnu.url}\n`);
    const report = parseReport((await runCli(['doctor', '--json', '--only', 'connect,cache-info'], { env })).stdout);
    const info = checkOf(report, 'cache-info', gnu.url);
    expect(info.status).toBe('fail');
    expect(info.summary).toContain("'/gnu/store'");
    expect(info.summary).toContain('is for Nix stores with prefix');
  });

  it('fails cache-info for a web server answering an HTML page', async () => {
    const { env } = nixConf(`substituters = ${html.url}\n`);
    const report = parseReport((await runCli(['doctor', '--json', '--only', 'connect,cache-info'], { env })).stdout);
    const info = checkOf(report, 'cache-info', html.url);
    expect(info.status).toBe('fail');
    expect(info.summary).toMatch(/does not appear to be a binary cache.*HTML/);
  });

  it('orders caches by ?priority= and tells where each priority came from', async () => {
    const { env } = nixConf(`substituters = ${lan.url}?priority=50 ${advertised30.url}\n`);
    const report = parseReport((await runCli(['doctor', '--json', '--only', 'connect,cache-info'], { env })).stdout);
    expect(report.caches).toEqual([
      expect.objectContaining({ url: `${lan.url}?priority=50`, priority: 50, prioritySource: 'url', order: 2 }),
      expect.objectContaining({ url: advertised30.url, priority: 30, prioritySource: 'cache-info', order: 1 }),
    ]);
  });

  it('puts a ?priority=10 cache first even when listed last', async () => {
    const [pa, pb] = await Promise.all([refusedPort(), refusedPort()]);
    const a = `http://127.0.0.1:${pa}`;
    const b = `http://127.0.0.1:${pb}`;
    const { env } = nixConf(`substituters = ${a}?priority=50 ${b}?priority=10\n`);
    const report = parseReport((await runCli(['doctor', '--json', '--only', 'config'], { env })).stdout);
    expect(report.caches.find((c) => c.url.startsWith(b))).toMatchObject({ order: 1, priority: 10, prioritySource: 'url' });
    expect(report.caches.find((c) => c.url.startsWith(a))).toMatchObject({ order: 2, priority: 50, prioritySource: 'url' });
  });
});

describe('outputs', () => {
  it('prints no ANSI escapes when piped, and a table with the fix', async () => {
    const { env } = nixConf(`substituters = ${html.url}\n`);
    const r = await runCli(['doctor', '--timeout', '2'], { env: { ...env, FORCE_COLOR: '' } });
    expect(r.stdout).not.toMatch(ANSI);
    expect(r.stderr).not.toMatch(ANSI);
    expect(r.stdout).toContain(html.url);
    expect(r.stdout).toContain('Fix:');
    expect(r.exitCode).toBe(1);
  });

  it('colours the table only when asked, and never with --no-color or NO_COLOR', async () => {
    const { env } = nixConf(`substituters = ${lan.url}\n`);
    expect((await runCli(['doctor', '--only', 'config'], { env: { ...env, FORCE_COLOR: '1' } })).stdout).toMatch(ANSI);
    expect((await runCli(['doctor', '--only', 'config', '--no-color'], { env: { ...env, FORCE_COLOR: '1' } })).stdout).not.toMatch(ANSI);
    expect((await runCli(['doctor', '--only', 'config'], { env: { ...env, FORCE_COLOR: '1', NO_COLOR: '1' } })).stdout).not.toMatch(ANSI);
  });

  it('writes a Markdown report with a heading and every cache URL', async () => {
    const { dir, env } = nixConf(`substituters = ${lan.url} ${html.url}\n`);
    const file = join(dir, 'report.md');
    const r = await runCli(['doctor', '--report', file, '--timeout', '2'], { env });
    const md = readFileSync(file, 'utf8');
    expect(md).toMatch(/^# nixcache doctor report/);
    expect(md).toContain(lan.url);
    expect(md).toContain(html.url);
    expect(md).toContain('## What is wrong');
    expect(r.exitCode).toBe(1);
  });

  it('prints package.json’s version for --version, and the same version in the JSON', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    expect([r.exitCode, r.stdout]).toEqual([0, version]);
    const { env } = nixConf('substituters = \n');
    expect(parseReport((await runCli(['doctor', '--json', '--only', 'config'], { env })).stdout).tool.version).toBe(version);
  });

  it('the installed command (package.json bin) answers --version itself and hands everything else to the bundle, exit code included', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
      bin: { nixcache: string };
    };
    const bin = new URL(`../../${pkg.bin.nixcache}`, import.meta.url).pathname;
    const version = await execa(process.execPath, [bin, '--version'], { reject: false });
    expect([version.exitCode, version.stdout]).toEqual([0, pkg.version]);
    const usage = await execa(process.execPath, [bin, 'doctor', '--jsn'], { reject: false });
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr).toContain("unknown option '--jsn'");
    const { env } = nixConf('substituters = \n');
    const json = await execa(process.execPath, [bin, 'doctor', '--json', '--only', 'config'], { reject: false, env });
    expect(parseReport(json.stdout).tool.version).toBe(pkg.version);
  });

  it('exits 2 with one line for an unknown flag', async () => {
    const r = await runCli(['doctor', '--jsn']);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual(["nixcache: unknown option '--jsn' (did you mean --json?)"]);
  });

  it.each([
    [['doctor', '--timeout', 'soon'], /--timeout takes a number of seconds from 0\.1 to 3600/],
    [['doctor', '--only', 'nope'], /unknown check id 'nope'/],
    [['doctor', '--conf', '/no/such/nix.conf'], /--conf \/no\/such\/nix.conf: no such file/],
    [['doctor', '--port', '70000'], /--port must be a port number/],
    [['doctor', '--report', '/no/such/dir/report.md'], /--report \/no\/such\/dir\/report.md: cannot write it/],
    [['doctor', '--report', '/tmp'], /--report \/tmp: is a directory/],
  ])('exits 2 with one line for %j', async (args, message) => {
    const r = await runCli(args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });

  it('keeps a password in a substituter URL out of every output', async () => {
    const secret = 'Pa55-w0rd-in-url';
    const { dir, env } = nixConf(`substituters = http://alice:${secret}@127.0.0.1:${lan.port} ${html.url}\n`);
    const file = join(dir, 'r.md');
    const outputs = await Promise.all([
      runCli(['doctor', '--json', '-v'], { env }),
      runCli(['doctor', '-v', '--report', file], { env }),
      runCli(['doctor', '--report'], { env }),
    ]);
    const all = outputs.map((o) => o.stdout + o.stderr).join('\n') + readFileSync(file, 'utf8');
    expect(all).toContain('alice:***@');
    expect(all).not.toContain(secret);
  });
});
