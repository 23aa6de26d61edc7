import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseExposition } from '../../src/host/prom-text.js';
import { nixConf, runCli } from '../helpers/cli.js';
import { refusedPort } from '../helpers/servers.js';

const work = mkdtempSync(join(tmpdir(), 'nixcache-metrics-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('doctor --metrics and serve-metrics on the command line', () => {
  it('replaces the metrics file whole and leaves no temporary file beside it', async () => {
    const { env } = nixConf(`substituters = http://127.0.0.1:${await refusedPort()}\n`);
    const file = join(work, 'nixcache.prom');
    writeFileSync(file, 'old content\n');
    const r = await runCli(['doctor', '--metrics', file, '--only', 'connect'], { env });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).not.toContain('nixcache_'); // the table, not the metrics, on stdout
    const samples = parseExposition(readFileSync(file, 'utf8')).samples;
    expect(
      samples.find((s) => s.name === 'nixcache_check_status' && s.labels.check === 'connect' && s.labels.status === 'fail')?.value,
    ).toBe(1);
    expect(readdirSync(work)).toEqual(['nixcache.prom']);
  });

  it('prints the metrics alone on stdout with --metrics -', async () => {
    const { env } = nixConf(`substituters = http://127.0.0.1:${await refusedPort()}\n`);
    const r = await runCli(['doctor', '--metrics', '-', '--only', 'connect'], { env });
    const parsed = parseExposition(r.stdout);
    expect(parsed.skipped).toBe(0);
    expect(parsed.samples.some((s) => s.name === 'nixcache_cache_up')).toBe(true);
  });

  it.each([
    [['doctor', '--metrics', '-', '--json'], '--metrics - writes to stdout, which --json already uses'],
    [['doctor', '--metrics', join(work, 'missing-dir', 'x.prom')], 'is not an existing, writable directory'],
    [['doctor', '--access-log', join(work, 'no-such.log')], '--access-log'],
    [['doctor', '--since', 'yesterday'], '--since must be a duration'],
    [['serve-metrics', '--listen', 'localhost'], 'give HOST:PORT'],
    [['serve-metrics', '--conf', join(work, 'no-such.conf')], '--conf'],
  ])('refuses %j with one line and exit 2', async (args, message) => {
    const r = await runCli(args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
