import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, type CliRun, nixConf, parseReport } from '../helpers/cli.js';
import { refusedPort } from '../helpers/servers.js';

/**
 * A nix.conf naming 10,000 caches on one host (a hostile or generated file): the run ends within its
 * deadline plus a second, process exited, in table mode and with --json, with one valid document,
 * no stack trace, and no more connections to the host than Nix's http-connections allows.
 */
const CACHES = 10_000;
const DEADLINE_S = 5;

/** A TCP server that accepts and never answers, counting the connections open at once. */
async function silentServer() {
  const sockets = new Set<Socket>();
  let most = 0;
  const server = createServer((s) => {
    sockets.add(s);
    most = Math.max(most, sockets.size);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    most: () => most,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const conf = (port: number) =>
  nixConf(`substituters = ${Array.from({ length: CACHES }, (_, i) => `http://127.0.0.1:${port}/c${i}`).join(' ')}\n`);

/**
 * Runs the CLI with stdout going to a file, as `nixcache doctor --json > out.json` would: the time
 * is the process's own, not how fast this test process reads 70 MB from a pipe on a busy machine.
 */
async function runToFile(args: string[], env: Record<string, string>): Promise<CliRun> {
  const out = join(mkdtempSync(join(tmpdir(), 'nixcache-many-')), 'stdout');
  // The child writes to the file itself (execa's { file } would pass every byte through this process).
  const fd = openSync(out, 'w');
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', fd, 'pipe'],
    env: { ...process.env, NIX_CONFIG: '', CI: 'true', ...env },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const exitCode = await new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  const durationMs = performance.now() - started;
  clearTimeout(timer);
  closeSync(fd);
  return { stdout: readFileSync(out, 'utf8'), stderr, exitCode, durationMs };
}

function expectWithinDeadline(run: CliRun) {
  expect(run.stderr).not.toMatch(/\n\s+at |RangeError|heap out of memory/);
  expect(run.durationMs).toBeLessThan(DEADLINE_S * 1000 + 1000);
}

describe(`${CACHES.toLocaleString('en')} caches`, () => {
  it.each([
    ['--json', ['--json']],
    ['the table', []],
  ])('that refuse: %s ends within the deadline + 1 s with every cache reported', async (_label, mode) => {
    const { env } = conf(await refusedPort());
    const run = await runToFile(['doctor', '--deadline', String(DEADLINE_S), ...mode], env);
    expectWithinDeadline(run);
    expect(run.exitCode).toBe(1);
    if (mode.length > 0) {
      const report = parseReport(run.stdout);
      expect(report.caches).toHaveLength(CACHES);
      // Each refused, or on a machine too busy to get to it, cut by the deadline.
      const connects = report.checks.filter((c) => c.id === 'connect');
      expect(connects).toHaveLength(CACHES);
      for (const c of connects) expect(c.status === 'fail' || c.reason === 'deadline').toBe(true);
      expect(connects.some((c) => c.status === 'fail')).toBe(true);
    } else {
      // Every cache has its section, and the run closes with the summary, not a cut-off table.
      expect(run.stdout.split('\n').filter((l) => l.startsWith(`http://127.0.0.1:`)).length).toBe(CACHES);
      expect(run.stdout).toMatch(/Problems found: [\d,]+ failing checks/);
    }
  });

  it.each([
    ['--json', ['--json']],
    ['the table', []],
  ])('on a host that never answers: %s is cut by the deadline within a second, within http-connections per host', async (_label, mode) => {
    const silent = await silentServer();
    const { env } = conf(silent.port);
    const run = await runToFile(['doctor', '--deadline', String(DEADLINE_S), '--timeout', '60', ...mode], env).finally(() =>
      silent.close(),
    );
    expectWithinDeadline(run);
    // Nix's default http-connections (25) bounds the connections to one host; the TCP probe of the
    // connect check adds one per address and port, not one per cache.
    expect(silent.most()).toBeLessThanOrEqual(30);
    if (mode.length > 0) {
      const report = parseReport(run.stdout);
      expect(report.caches).toHaveLength(CACHES);
      expect(report.checks.filter((c) => c.reason === 'deadline').length).toBeGreaterThan(CACHES / 2);
    } else {
      expect(run.stdout).toContain('not finished by the run deadline');
    }
  });
});
