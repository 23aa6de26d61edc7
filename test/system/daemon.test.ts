import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkOf, parseReport, runCli } from '../helpers/cli.js';
import { type Daemon, startDaemon, waitFor } from '../helpers/daemons.js';
import { CACHES, KEYS, type Running, serveCache } from '../helpers/servers.js';
import { missing } from '../helpers/system.js';

const LAN_KEY = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
const skipReason = missing("daemon tests (a real nix-daemon on a socket of the test's own)", {
  root: true,
  commands: ['nix-daemon', 'nix-store', 'ss'],
});
const work = skipReason ? '' : mkdtempSync(join(tmpdir(), 'nixcache-daemon-'));
let cache: Running;
let proxy: Server & { seen: string[]; mode: 'forward' | '407' };
let proxyUrl = '';
let daemon: Daemon | undefined;

/** A small proxy on loopback: absolute-form GET forwarded, CONNECT tunnelled; it records what it was asked. */
async function startProxy(): Promise<typeof proxy> {
  const server = createServer((req, res) => {
    proxy.seen.push(`${req.method} ${req.url}`);
    if (proxy.mode === '407') return void res.writeHead(407, { 'proxy-authenticate': 'Basic realm="proxy"' }).end();
    const target = new URL(req.url ?? '/');
    const up = request({ host: target.hostname, port: target.port, path: target.pathname, method: 'GET' }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    up.end();
  }) as typeof proxy;
  server.seen = [];
  server.mode = 'forward';
  server.on('connect', (req, socket) => {
    server.seen.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? '').split(':');
    const up = connect(Number(port), host as string, () => socket.end('HTTP/1.1 200 Connection established\r\n\r\n'));
    up.on('error', () => socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** A real nix-daemon on a socket of its own, reading the test's nix.conf, with ENV added to its environment. */
async function startNixDaemon(conf: string, env: Record<string, string>): Promise<{ dir: string; socket: string }> {
  const dir = mkdtempSync(join(work, 'd-'));
  writeFileSync(join(dir, 'nix.conf'), conf);
  const socket = join(dir, 'socket');
  daemon = startDaemon('nix-daemon', [], { NIX_CONF_DIR: dir, NIX_DAEMON_SOCKET_PATH: socket, ...env });
  await waitFor('nix-daemon to listen', () => (existsSync(socket) ? true : undefined), 15_000);
  return { dir, socket };
}

async function doctorDaemon(dir: string, socket: string, userEnv: Record<string, string> = {}) {
  const r = await runCli(['doctor', '--json', '--only', 'daemon'], {
    env: {
      NIX_CONF_DIR: dir,
      NIX_USER_CONF_FILES: '',
      HOME: dir,
      NIX_DAEMON_SOCKET_PATH: socket,
      NIX_REMOTE: 'daemon',
      http_proxy: '',
      https_proxy: '',
      ...userEnv,
    },
  });
  return checkOf(parseReport(r.stdout), 'daemon');
}

const conf = () => `substituters = ${cache.url}\ntrusted-public-keys = ${LAN_KEY}\nbuild-users-group =\nnarinfo-cache-negative-ttl = 0\n`;

beforeAll(async () => {
  if (skipReason) return;
  cache = await serveCache(join(CACHES, 'signed-lan'));
  proxy = await startProxy();
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
});
afterAll(async () => {
  await cache?.close();
  if (proxy) await new Promise((resolve) => proxy.close(resolve));
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Real Nix asking the daemon for a path it lacks: the daemon looks the narinfo up with its own environment. */
function daemonLooksUp(socket: string): Promise<number | null> {
  const child = spawn('nix-store', ['-r', '--dry-run', '/nix/store/00000000000000000000000000000000-nixcache-absent'], {
    env: { ...process.env, NIX_REMOTE: 'daemon', NIX_DAEMON_SOCKET_PATH: socket, http_proxy: '', https_proxy: '' },
    stdio: 'ignore',
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    }),
  );
}

describe.skipIf(skipReason)('the daemon check against a real nix-daemon started by the test', () => {
  it('finds the daemon by its socket and reports the proxy it has and you lack, which the daemon really uses', async () => {
    proxy.mode = 'forward';
    const { dir, socket } = await startNixDaemon(conf(), { http_proxy: proxyUrl });
    proxy.seen.length = 0;
    await daemonLooksUp(socket);
    expect(proxy.seen.some((s) => s.includes('.narinfo'))).toBe(true); // Nix as the oracle: the daemon's downloads go through it
    const d = await doctorDaemon(dir, socket);
    expect(d.data).toMatchObject({ pidSource: 'socket', envSource: 'proc' });
    expect(d.status).toBe('warn');
    expect(d.summary).toContain('through a proxy your shell does not use');
    expect(d.detail).toContain(`through the daemon's proxy ${proxyUrl}: answered 200`);
  });

  it('says your shell uses a proxy the daemon lacks, with the drop-in and the NixOS option', async () => {
    const { dir, socket } = await startNixDaemon(conf(), {});
    const d = await doctorDaemon(dir, socket, { http_proxy: proxyUrl });
    expect(d.status).toBe('warn');
    expect(d.summary).toContain('your shell uses a proxy');
    expect(d.summary).toContain('the daemon does not');
    expect(d.fix).toContain(`Environment="http_proxy=${proxyUrl}"`);
    expect(d.fix).toContain(`nix.envVars.http_proxy = "${proxyUrl}";`);
  });

  it("reports the daemon's proxy answering 407 as the proxy's failure, not the cache's", async () => {
    proxy.mode = '407';
    const { dir, socket } = await startNixDaemon(conf(), { http_proxy: proxyUrl });
    const d = await doctorDaemon(dir, socket, { http_proxy: proxyUrl });
    proxy.mode = 'forward';
    expect(d.status).toBe('fail');
    expect(d.summary).toContain('answers 407 Proxy Authentication Required');
  });

  it('reports a daemon proxy that refuses connections as unreachable', async () => {
    const { dir, socket } = await startNixDaemon(conf(), { http_proxy: 'http://127.0.0.1:9' });
    const d = await doctorDaemon(dir, socket, { http_proxy: 'http://127.0.0.1:9' });
    expect(d.status).toBe('fail');
    expect(d.summary).toContain("the daemon's proxy http://127.0.0.1:9 cannot be reached (connection refused)");
  });

  it('fails when nix.conf changed after the daemon started: it still runs with the old settings', async () => {
    const { dir, socket } = await startNixDaemon(conf(), {});
    const later = new Date(Date.now() + 120_000);
    utimesSync(join(dir, 'nix.conf'), later, later);
    const d = await doctorDaemon(dir, socket);
    expect(d.status).toBe('fail');
    expect(d.summary).toContain('changed after the nix-daemon started');
    expect(d.fix).toContain('systemctl restart nix-daemon');
  });

  it('fails an s3:// substituter on this Nix, quoting what Nix says', async () => {
    const { dir, socket } = await startNixDaemon(`substituters = s3://nixcache-test-bucket?region=eu-west-1\nbuild-users-group =\n`, {});
    const d = await doctorDaemon(dir, socket);
    const nix = spawn('nix', ['--extra-experimental-features', 'nix-command', 'store', 'ping', '--store', 's3://nixcache-test-bucket'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let said = '';
    nix.stderr.on('data', (b) => (said += String(b)));
    await new Promise((resolve) => nix.on('close', resolve));
    if (/don't know how to open/.test(said)) {
      expect(d.status).toBe('fail');
      expect(d.summary).toContain("don't know how to open Nix store");
    } else expect(d.summary).not.toContain("don't know how to open");
  });
});
