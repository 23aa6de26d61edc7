import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { CACHES, FIXTURES, KEYS, type Running, serveCache } from '../helpers/servers.js';
import { missing } from '../helpers/system.js';

/**
 * Files a cache serves that Nix reads in its own particular way: Nix itself (`nix path-info
 * --store URL`, with an empty narinfo disk cache) says whether it can use them, and the doctor must
 * say the same.
 */
const reason = missing('Nix as the oracle', { commands: ['nix'] });
const SAMPLE = readFileSync(join(FIXTURES, 'store-paths.txt'), 'utf8').trim().split('\n')[1] as string;
const NARINFO = `${SAMPLE.slice('/nix/store/'.length, '/nix/store/'.length + 32)}.narinfo`;
const trusted = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
const servers: Running[] = [];
afterAll(() => Promise.all(servers.map((s) => s.close())));

/** A copy of the signed fixture cache with one file changed, served on loopback. */
async function variant(edit: (dir: string) => void): Promise<Running> {
  const dir = join(mkdtempSync(join(tmpdir(), 'nixcache-oracle-')), 'cache');
  cpSync(join(CACHES, 'signed-lan'), dir, { recursive: true });
  edit(dir);
  const s = await serveCache(dir);
  servers.push(s);
  return s;
}

async function nixAccepts(url: string): Promise<{ ok: boolean; stderr: string }> {
  const cache = mkdtempSync(join(tmpdir(), 'nixcache-oracle-xdg-'));
  const { env } = nixConf(`substituters =\ntrusted-public-keys = ${trusted}\n`);
  const r = await execa('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--store', url, SAMPLE], {
    reject: false,
    env: { ...env, XDG_CACHE_HOME: cache, NIX_CONFIG: '' },
    timeout: 30_000,
  });
  return { ok: r.exitCode === 0, stderr: String(r.stderr) };
}

async function doctor(url: string) {
  const { env } = nixConf(`substituters = ${url}\ntrusted-public-keys = ${trusted}\n`);
  return parseReport((await runCli(['doctor', '--json', '--sample', SAMPLE, '--only', 'connect,cache-info,signature'], { env })).stdout);
}

describe.skipIf(reason)('narinfo and nix-cache-info: the doctor agrees with Nix 2.8', () => {
  it('fails a narinfo with CRLF line endings, which Nix rejects ("contains illegal character")', async () => {
    const s = await variant((dir) => writeFileSync(join(dir, NARINFO), readFileSync(join(dir, NARINFO), 'utf8').replace(/\n/g, '\r\n')));
    const nix = await nixAccepts(s.url);
    expect(nix).toMatchObject({ ok: false, stderr: expect.stringContaining('illegal character') });
    const report = await doctor(s.url);
    expect(checkOf(report, 'signature', s.url).status).toBe('fail');
  });

  it('fails a narinfo whose last line has no newline, which Nix calls corrupt', async () => {
    const s = await variant((dir) => writeFileSync(join(dir, NARINFO), readFileSync(join(dir, NARINFO), 'utf8').replace(/\n$/, '')));
    expect(await nixAccepts(s.url)).toMatchObject({ ok: false, stderr: expect.stringContaining('is corrupt') });
    const report = await doctor(s.url);
    expect(checkOf(report, 'signature', s.url)).toMatchObject({ status: 'fail', summary: expect.stringMatching(/corrupt/) });
  });

  it('reads Priority: 10abc as 10 where Nix does, and fails Priority past 32 bits where Nix stops with "error: stoi"', async () => {
    const lenient = await variant((dir) => writeFileSync(join(dir, 'nix-cache-info'), 'StoreDir: /nix/store\nPriority: 10abc\n'));
    expect((await nixAccepts(lenient.url)).ok).toBe(true);
    const report = await doctor(lenient.url);
    expect(checkOf(report, 'cache-info', lenient.url)).toMatchObject({ status: 'pass', data: { priority: 10 } });

    const huge = await variant((dir) =>
      writeFileSync(join(dir, 'nix-cache-info'), 'StoreDir: /nix/store\nPriority: 99999999999999999999999\n'),
    );
    expect(await nixAccepts(huge.url)).toMatchObject({ ok: false, stderr: expect.stringContaining('stoi') });
    expect(checkOf(await doctor(huge.url), 'cache-info', huge.url)).toMatchObject({
      status: 'fail',
      summary: expect.stringContaining('error: stoi'),
    });
  });

  it('reads narinfo and nix-cache-info sent with Content-Encoding: gzip, as Nix does (an S3 cache with narinfo-compression)', async () => {
    const dir = join(CACHES, 'signed-lan');
    const server = createServer((req, res) => {
      const file = normalize(join(dir, (req.url ?? '/').split('?')[0] as string));
      try {
        const body = readFileSync(file);
        const text = file.endsWith('.narinfo') || file.endsWith('nix-cache-info');
        res.writeHead(200, text ? { 'content-encoding': 'gzip' } : {}).end(text ? gzipSync(body) : body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect((await nixAccepts(url)).ok).toBe(true);
      const report = await doctor(url);
      expect(checkOf(report, 'cache-info', url).status).toBe('pass');
      expect(checkOf(report, 'signature', url).status).toBe('pass');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
