import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type CliRun, nixConf, parseReport, runCli } from '../helpers/cli.js';
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
    const run = await runCli(['doctor', '--deadline', String(DEADLINE_S), ...mode], { env, timeoutMs: 30_000 });
    expectWithinDeadline(run);
    expect(run.exitCode).toBe(1);
    if (mode.length > 0) {
      const report = parseReport(run.stdout);
      expect(report.caches).toHaveLength(CACHES);
      expect(report.checks.filter((c) => c.id === 'connect' && c.status === 'fail')).toHaveLength(CACHES);
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
    const run = await runCli(['doctor', '--deadline', String(DEADLINE_S), '--timeout', '60', ...mode], {
      env,
      timeoutMs: 30_000,
    }).finally(() => silent.close());
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
