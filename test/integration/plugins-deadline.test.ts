import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { faultServer, type Running } from '../helpers/servers.js';

const PLUGINS = new URL('../plugins/', import.meta.url).pathname;

describe('--plugin modules run under the check contract', () => {
  it('runs a real plugin file: host and cache checks, needs and ctx.result, in the JSON and the table', async () => {
    const { env } = nixConf('substituters = http://127.0.0.1:9\n');
    const r = await runCli(['doctor', '--json', '--plugin', join(PLUGINS, 'disk-space.mjs')], { env });
    const report = parseReport(r.stdout);
    expect(checkOf(report, 'store-free-space')).toMatchObject({ status: 'pass', data: { availableKb: expect.any(Number) } });
    // Its `needs` is honoured: nothing listens on port 9, cache-info did not run, so neither does the plugin check.
    expect(checkOf(report, 'cache-info-latency', 'http://127.0.0.1:9')).toMatchObject({ status: 'skip', reason: 'needs cache-info' });

    const failing = await runCli(['doctor', '--only', 'config,store-free-space', '--plugin', join(PLUGINS, 'disk-space.mjs')], {
      env: { ...env, NIXCACHE_TEST_MIN_FREE_KB: String(2 ** 50) },
    });
    expect(failing.exitCode).toBe(1);
    expect(failing.stdout).toMatch(/only \d+ kB free/);
    expect(failing.stdout).toMatch(/nix-collect-garbage -d/);
  });

  it('turns a check that throws or returns garbage into a fail, keeps the JSON valid, and shows the stack only with -v', async () => {
    const { env } = nixConf('substituters = http://127.0.0.1:9\n');
    const args = ['doctor', '--json', '--only', 'config,throws,returns-garbage', '--plugin', join(PLUGINS, 'broken.mjs')];
    const quiet = parseReport((await runCli(args, { env })).stdout);
    expect(checkOf(quiet, 'throws')).toMatchObject({ status: 'fail', summary: 'the check crashed: boom', detail: null });
    expect(checkOf(quiet, 'returns-garbage', 'http://127.0.0.1:9')).toMatchObject({
      status: 'fail',
      summary: expect.stringMatching(/not a finding/),
    });
    expect(checkOf(quiet, 'config').status).toBe('pass');
    const verbose = parseReport((await runCli([...args, '-v'], { env })).stdout);
    expect(checkOf(verbose, 'throws').detail).toMatch(/Error: boom[\s\S]*at .*broken\.mjs/);
  });

  it('rejects a module that exports no check with one line and exit 2', async () => {
    const r = await runCli(['doctor', '--plugin', join(PLUGINS, 'bad.mjs')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^nixcache: --plugin .*bad\.mjs: does not export a check/)]);
    const missingModule = await runCli(['doctor', '--plugin', join(PLUGINS, 'nope.mjs')]);
    expect(missingModule.exitCode).toBe(2);
    expect(missingModule.stderr).toMatch(/cannot find that module/);
  });
});

describe('the hard deadline', () => {
  let hang: Running;
  beforeAll(async () => {
    hang = await faultServer('hang');
  });
  afterAll(() => hang.close());

  it('ends a run against a server that never answers at --deadline, with complete output', async () => {
    const { env } = nixConf(`substituters = ${hang.url}\n`);
    const r = await runCli(['doctor', '--json', '--timeout', '30', '--deadline', '3'], { env });
    const report = parseReport(r.stdout);
    expect(checkOf(report, 'cache-info', hang.url)).toMatchObject({ status: 'skip', reason: 'deadline' });
    expect(checkOf(report, 'signature', hang.url)).toMatchObject({ status: 'skip', reason: 'deadline' });
    expect(checkOf(report, 'priority').status).not.toBe('fail');
    // The contract of --deadline (deadline + 1 s), not a benchmark.
    expect(r.durationMs).toBeLessThan(4000);
  });

  it('kills a hanging child process at the deadline and still prints every other result', async () => {
    const marker = `${900 + Math.floor(Math.random() * 99)}.${process.pid}`;
    const { env } = nixConf('substituters = http://127.0.0.1:9\n');
    const r = await runCli(['doctor', '--json', '--deadline', '2', '--plugin', join(PLUGINS, 'hang.mjs')], {
      env: { ...env, NIXCACHE_TEST_SLEEP: marker },
    });
    const report = parseReport(r.stdout);
    expect(checkOf(report, 'hangs-forever')).toMatchObject({ status: 'skip', reason: 'deadline' });
    expect(checkOf(report, 'config').status).toBe('pass');
    expect(r.durationMs).toBeLessThan(3000);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(spawnSync('pgrep', ['-f', `sleep ${marker}`]).status).toBe(1); // no such process left
  });

  it('does not wait past the deadline for a `nix` that hangs, and says the cross-check failed', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'nixcache-hung-nix-'));
    writeFileSync(join(bin, 'nix'), '#!/bin/sh\nexec sleep 120\n', { mode: 0o755 });
    const { env } = nixConf('substituters = http://127.0.0.1:9\n');
    const r = await runCli(['doctor', '--json', '--deadline', '3', '--only', 'config,connect'], {
      env: { ...env, PATH: `${bin}:${process.env.PATH}` },
    });
    const report = parseReport(r.stdout);
    expect(report.environment.nixVersion).toBeNull();
    expect(checkOf(report, 'config').data).toMatchObject({ nixCrossCheck: 'nix failed' });
    expect(checkOf(report, 'connect', 'http://127.0.0.1:9').status).toBe('fail');
    expect(r.durationMs).toBeLessThan(4000); // the --deadline contract: deadline + 1 s
  });
});
