import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { CACHES, KEYS, type Running, serveCache } from '../helpers/servers.js';
import { FIXTURE_PATHS } from '../helpers/system.js';

/**
 * One doctor run asks a cache for each file once: the checks that read the same narinfo or the same
 * NAR file share the request (counted in the log of a real cache served on loopback).
 */

const LAN_KEY = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
const [APP] = FIXTURE_PATHS as [string];
const NARINFO = `/${APP.slice('/nix/store/'.length, '/nix/store/'.length + 32)}.narinfo`;
/** The URL: line of APP's narinfo in fixture cache NAME. */
const narOf = (name: string) => `/${/^URL: (.*)$/m.exec(readFileSync(join(CACHES, name, NARINFO), 'utf8'))?.[1]}`;
const timesAsked = (server: Running, path: string) => server.requests.filter((p) => p === path).length;

const servers: Running[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(name: string): Promise<Running> {
  const server = await serveCache(join(CACHES, name));
  servers.push(server);
  return server;
}

/** Fixture cache NAME whose NAR files never answer (the connection stays open). */
async function serveHangingNars(name: string): Promise<Running> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    if (path.startsWith('/nar/')) return;
    let body: Buffer;
    try {
      body = readFileSync(join(CACHES, name, path));
    } catch {
      return void res.writeHead(404).end();
    }
    res.writeHead(200).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const running: Running = {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    port: (server.address() as { port: number }).port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(running);
  return running;
}

async function doctor(caches: Running[], only: string, extra: string[] = []) {
  const { env } = nixConf(`substituters = ${caches.map((c) => c.url).join(' ')}\ntrusted-public-keys = ${LAN_KEY}\n`);
  const r = await runCli(['doctor', '--json', '--only', only, '--sample', APP, ...extra], { env });
  return parseReport(r.stdout);
}

const urlsOf = (evidence: readonly { kind: string; url?: string }[]) =>
  evidence.flatMap((e) => (e.kind === 'http' && e.url ? [e.url] : []));

describe('doctor: each file of a cache requested once per run', () => {
  it('downloads the NAR once when the signature does not verify and the nar check reads the same file (regenerated key)', async () => {
    const cache = await serve('regenerated');
    const report = await doctor([cache], 'connect,cache-info,signature,nar');
    const signature = checkOf(report, 'signature', cache.url);
    const nar = checkOf(report, 'nar', cache.url);
    expect(signature).toMatchObject({ status: 'fail', data: { verdict: 'mismatch', narFile: 'matches' } });
    expect(nar.status).toBe('pass');
    const narUrl = narOf('regenerated');
    expect(timesAsked(cache, narUrl)).toBe(1);
    // Both checks still show the download they judged by.
    expect(urlsOf(signature.evidence)).toContain(`${cache.url}${narUrl}`);
    expect(urlsOf(nar.evidence)).toContain(`${cache.url}${narUrl}`);
  });

  it('downloads the NAR once when the narinfo was altered after signing (tampered narinfo)', async () => {
    const cache = await serve('tampered');
    const report = await doctor([cache], 'connect,cache-info,signature,nar');
    expect(checkOf(report, 'signature', cache.url)).toMatchObject({ status: 'fail', data: { verdict: 'mismatch', narFile: 'matches' } });
    expect(timesAsked(cache, narOf('tampered'))).toBe(1);
  });

  it('waits for the shared NAR download no longer than one operation timeout: a NAR that never comes leaves the file unchecked, not the check timed out', async () => {
    const cache = await serveHangingNars('regenerated');
    const report = await doctor([cache], 'connect,cache-info,signature', ['--timeout', '0.5']);
    const signature = checkOf(report, 'signature', cache.url);
    expect(signature).toMatchObject({ status: 'fail', data: { verdict: 'mismatch', narFile: 'unchecked' } });
    expect(signature.summary).toMatch(/regenerated|altered/);
  });
  it('asks each cache once for the --sample narinfo that the signature and coverage steps both read', async () => {
    const caches = [await serve('signed-lan'), await serve('regenerated')];
    const report = await doctor(caches, 'connect,cache-info,signature,coverage');
    for (const cache of caches) {
      // Looked up, also where the failed signature check makes coverage skip its verdict.
      expect(checkOf(report, 'coverage', cache.url).data).toMatchObject({ named: 1, paths: [{ path: APP, narinfo: 'present' }] });
      expect(timesAsked(cache, NARINFO)).toBe(1);
    }
    expect(checkOf(report, 'coverage', caches[0]?.url).status).toBe('pass');
    expect(checkOf(report, 'signature', caches[0]?.url).status).toBe('pass');
  });
});
