import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExposition } from '../../src/host/prom-text.js';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { type Daemon, freePort, get, startDaemon, waitFor } from '../helpers/daemons.js';
import { CACHES, FIXTURES, KEYS } from '../helpers/servers.js';
import { FIXTURE_PATHS, missing } from '../helpers/system.js';

const reason = missing('server-side hit rate from real nginx logs written while Nix substitutes', {
  root: true,
  commands: ['nginx', 'nix', 'ss'],
});
const LAN_PUB = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
/** A store path the cache does not have (a valid hash part, so Nix asks for it). */
const MISSING_PATH = '/nix/store/00000000000000000000000000000000-nixcache-not-in-cache';

describe.skipIf(reason)('server-side hit rate', () => {
  let work: string;
  const daemons: Daemon[] = [];

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'nixcache-hitrate-'));
    // nginx's workers run as nobody: they must be able to read the cache.
    chmodSync(work, 0o755);
  });
  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    rmSync(work, { recursive: true, force: true });
  });

  it('counts what nginx logged while Nix substituted from it: narinfo hits and misses, NAR bytes, the missing path', async () => {
    const cache = join(work, 'cache');
    cpSync(join(CACHES, 'signed-lan'), cache, { recursive: true });
    execFileSync('chmod', ['-R', 'a+rX', cache]);
    const log = join(work, 'access.log');
    const port = await freePort();
    const temp = join(work, 'nginx-tmp');
    mkdirSync(temp);
    const conf = join(work, 'nginx.conf');
    writeFileSync(
      conf,
      `worker_processes 1;
daemon off;
pid ${work}/nginx.pid;
error_log ${work}/error.log;
events { worker_connections 64; }
http {
  access_log ${log} combined;
  client_body_temp_path ${temp}/body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  types { text/x-nix-narinfo narinfo; }
  default_type application/octet-stream;
  server { listen 127.0.0.1:${port}; root ${cache}; }
}
`,
    );
    const nginx = startDaemon('nginx', ['-c', conf, '-p', work]);
    daemons.push(nginx);
    const url = `http://127.0.0.1:${port}`;
    await waitFor('nginx to serve the cache', async () => ((await get(`${url}/nix-cache-info`)).status === 200 ? true : undefined)).catch(
      (e) => {
        throw new Error(`${e}\nnginx: ${nginx.output()}`);
      },
    );
    writeFileSync(log, ''); // only what Nix asks from here on

    // Real Nix substitutes the app (and the two leaves it references) into a store of its own.
    const nixEnv = { ...process.env, XDG_CACHE_HOME: join(work, 'xdg-cache'), NIX_CONFIG: '' };
    const options = ['--extra-experimental-features', 'nix-command', '--option', 'trusted-public-keys', LAN_PUB];
    options.push('--option', 'narinfo-cache-negative-ttl', '0', '--option', 'sandbox', 'false');
    const app = FIXTURE_PATHS.find((p) => p.endsWith('-app')) as string;
    execFileSync('nix', ['copy', ...options, '--from', url, '--to', `local?root=${join(work, 'store')}`, app], {
      env: nixEnv,
      stdio: 'pipe',
    });
    const lookup = spawnSync('nix', ['path-info', ...options, '--store', url, MISSING_PATH], { env: nixEnv, encoding: 'utf8' });
    expect(lookup.stderr).toContain('is not valid');

    // What the NAR files weigh, from the narinfos nginx served.
    const narinfos = readdirSync(cache).filter((f) => f.endsWith('.narinfo'));
    const fileSizes = narinfos.map((f) => Number(/^FileSize: (\d+)$/m.exec(readFileSync(join(cache, f), 'utf8'))?.[1]));

    const r = await runCli(['doctor', '--access-log', log, '--since', '1h', '--only', 'hit-rate', '--json'], { env: nixConf('').env });
    const hit = checkOf(parseReport(r.stdout), 'hit-rate');
    expect(hit.status).toBe('pass');
    expect(hit.data).toMatchObject({
      source: log,
      sinceSeconds: 3600,
      narRequests: 3,
      narBytes: fileSizes.reduce((a, b) => a + b, 0),
      serverErrors: 0,
    });
    expect(hit.data.narinfoHits).toBeGreaterThanOrEqual(3);
    expect(hit.data.narinfoMisses).toBeGreaterThanOrEqual(1);
    expect(hit.data.topMissing).toEqual([{ hash: '00000000000000000000000000000000', count: hit.data.narinfoMisses }]);
    expect(hit.summary).toMatch(/^\d+ of \d+ narinfo requests found \(\d+\.\d%\) in the last 1 h$/);

    // The same figures as metrics.
    const m = await runCli(['doctor', '--access-log', log, '--only', 'hit-rate', '--metrics', '-'], { env: nixConf('').env });
    const samples = parseExposition(m.stdout).samples;
    expect(samples.find((s) => s.name === 'nixcache_server_nar_bytes')?.value).toBe(hit.data.narBytes);
    expect(samples.find((s) => s.name === 'nixcache_server_narinfo_requests' && s.labels.result === 'miss')?.value).toBe(
      hit.data.narinfoMisses,
    );
  }, 60_000);

  it('reads harmonia’s /metrics when harmonia serves a cache on this machine', async () => {
    const harmonia = startDaemon(process.execPath, [
      new URL('../helpers/harmonia-like.mjs', import.meta.url).pathname,
      join(CACHES, 'signed-lan'),
      join(FIXTURES, 'server', 'harmonia-metrics.txt'),
    ]);
    daemons.push(harmonia);
    const port = await waitFor('the harmonia stand-in to listen', () => /listening (\d+)/.exec(harmonia.output())?.[1]);
    const url = `http://127.0.0.1:${port}`;
    const r = await runCli(['doctor', '--server', '--cache', url, '--only', 'hit-rate', '--json'], { env: nixConf('').env });
    const hit = checkOf(parseReport(r.stdout), 'hit-rate');
    expect(hit.status).toBe('warn'); // 3 narinfo requests answered 500
    expect(hit.summary).toBe('3 requests failed on the server (5xx) since the server started; 185 of 245 narinfo requests found (75.5%)');
    expect(hit.data).toMatchObject({
      source: `harmonia ${url}/metrics`,
      narinfoHits: 185,
      narinfoMisses: 60,
      narRequests: 152,
      narBytes: null,
    });
    expect(hit.evidence.some((e) => e.kind === 'http' && e.url === `${url}/metrics` && e.status === 200)).toBe(true);
  }, 30_000);
});
