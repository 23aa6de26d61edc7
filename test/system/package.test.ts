import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/model.js';
import { parseReport } from '../helpers/cli.js';
import { CACHES, KEYS } from '../helpers/servers.js';
import { missing } from '../helpers/system.js';

const reason = missing('npm pack → offline install', { root: true, commands: ['npm', 'unshare', 'tar', 'ip'] });
const ROOT = new URL('../../', import.meta.url).pathname;

/** Runs a shell script in a new network namespace with only loopback up: no network at all. */
function offline(script: string, env: Record<string, string>) {
  return spawnSync('unshare', ['--net', '--', 'sh', '-euc', `ip link set lo up\n${script}`], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: env.HOME ?? tmpdir(), ...env },
    timeout: 120_000,
  });
}

describe.skipIf(reason)('the npm package', () => {
  let work: string;
  let tarball: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'nixcache-pack-'));
    // dist/ is already built (npm test builds first); --ignore-scripts keeps `prepare` from rebuilding it under other tests.
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' });
    tarball = join(work, (JSON.parse(out) as { filename: string }[])[0]?.filename as string);
  }, 60_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('ships the bundle, the schema, the licence, the notices and the alert rules — and no runtime dependencies', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    for (const f of [
      'LICENSE',
      'README.md',
      'package.json',
      'dist/nixcache.cjs',
      'dist/cli.js',
      'dist/THIRD-PARTY-NOTICES.txt',
      'schema/doctor.schema.json',
    ])
      expect(files).toContain(`package/${f}`);
    expect(files).toContain('package/contrib/prometheus/nixcache.rules.yml');
    expect(files.filter((f) => /^package\/(src|test|node_modules|checks|fixtures)\//.test(f))).toEqual([]);
    const pkg = JSON.parse(execFileSync('tar', ['-xOzf', tarball, 'package/package.json'], { encoding: 'utf8' }));
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg).toMatchObject({ license: 'MIT', bin: { nixcache: 'dist/nixcache.cjs' }, engines: { node: '>=20.18.1' } });
    expect(pkg.repository?.url).toBeTruthy();
    expect(pkg.keywords).toContain('nix');
    const notices = execFileSync('tar', ['-xOzf', tarball, 'package/dist/THIRD-PARTY-NOTICES.txt'], { encoding: 'utf8' });
    for (const bundled of ['undici', 'commander', 'prom-client', 'ora'])
      expect(notices).toMatch(new RegExp(`^${bundled} \\d+\\.\\d+\\.\\d+ \\(`, 'm'));
  });

  it('installs from the tarball with the network cut off, and runs --version and a doctor --json', () => {
    const prefix = join(work, 'prefix');
    const home = mkdtempSync(join(tmpdir(), 'nixcache-home-'));
    const conf = mkdtempSync(join(tmpdir(), 'nixcache-conf-'));
    const lanPub = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
    execFileSync('sh', [
      '-c',
      `printf '%s\\n' "substituters = file://${join(CACHES, 'signed-lan')}" "trusted-public-keys = ${lanPub}" > ${conf}/nix.conf`,
    ]);
    const r = offline(
      [
        // An empty npm cache: nothing can come from anywhere but the tarball.
        `npm install --global --offline --no-audit --no-fund --cache ${join(work, 'npm-cache')} --prefix ${prefix} ${tarball} >&2`,
        `${prefix}/bin/nixcache --version`,
        `${prefix}/bin/nixcache doctor --json --only config,connect,cache-info,priority > ${work}/report.json || true`,
      ].join('\n'),
      { HOME: home, NIX_CONF_DIR: conf, NIX_USER_CONF_FILES: '', CI: 'true' },
    );
    expect({ status: r.status, stderr: r.stderr.includes('npm error') ? r.stderr : '' }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout.trim()).toBe('0.1.0');
    expect(readdirSync(join(prefix, 'lib', 'node_modules'))).toEqual(['nixcache']);
    const report: Report = parseReport(readFileSync(join(work, 'report.json'), 'utf8'));
    expect(report.caches.map((c) => c.url)).toEqual([`file://${join(CACHES, 'signed-lan')}`]);
    expect(report.checks.find((c) => c.id === 'cache-info')?.status).toBe('pass');
    rmSync(home, { recursive: true, force: true });
    rmSync(conf, { recursive: true, force: true });
  }, 120_000);
});
