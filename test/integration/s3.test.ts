import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { CACHES, KEYS, type Running, serveCache } from '../helpers/servers.js';

/**
 * s3:// caches on an S3-compatible endpoint (path-style, as Nix addresses custom endpoints such as
 * MinIO): an HTTP server on loopback serving the bucket `nix-cache` = a Nix-made cache.
 */
const LAN_KEY = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
let bucketServer: Running;
let privateServer: Running;

beforeAll(async () => {
  const root = mkdtempSync(join(tmpdir(), 'nixcache-s3-'));
  symlinkSync(join(CACHES, 'signed-lan'), join(root, 'nix-cache'));
  bucketServer = await serveCache(root);
  privateServer = await serveCache(root, { auth: { user: 'AKIAEXAMPLE', password: 'not-used' } });
});
afterAll(async () => {
  await bucketServer.close();
  await privateServer.close();
});

async function doctor(substituters: string) {
  const { env } = nixConf(`substituters = ${substituters}\ntrusted-public-keys = ${LAN_KEY}\n`);
  const r = await runCli(['doctor', '--json', '--only', 'ping,connect,cache-info,signature', '--timeout', '3'], { env });
  return parseReport(r.stdout);
}

describe('s3:// caches read anonymously, like a public bucket', () => {
  it('reads a bucket through endpoint=URL and through endpoint=HOST:PORT&scheme=http', async () => {
    const port = bucketServer.port;
    const a = `s3://nix-cache?endpoint=http://127.0.0.1:${port}&region=eu-west-1`;
    const b = `s3://nix-cache?endpoint=127.0.0.1:${port}&scheme=http`;
    const report = await doctor(`${a} ${b}`);
    for (const url of [a, b]) {
      expect(checkOf(report, 'connect', url)).toMatchObject({ status: 'pass', summary: expect.stringContaining(`127.0.0.1:${port}`) });
      expect(checkOf(report, 'cache-info', url).status).toBe('pass');
      expect(checkOf(report, 'signature', url)).toMatchObject({ status: 'pass', summary: expect.stringContaining('lan-cache-1') });
    }
    expect(bucketServer.requests).toContain('/nix-cache/nix-cache-info');
  });

  it('fails a bucket without nix-cache-info, naming nix copy', async () => {
    const url = `s3://no-such-bucket?endpoint=http://127.0.0.1:${bucketServer.port}`;
    const info = checkOf(await doctor(url), 'cache-info', url);
    expect(info).toMatchObject({ status: 'fail', summary: expect.stringMatching(/404/) });
    expect(info.fix).toContain('nix copy --to');
  });

  it('skips a private bucket instead of failing it: Nix reads it with AWS credentials the doctor does not use', async () => {
    const url = `s3://nix-cache?endpoint=http://127.0.0.1:${privateServer.port}&profile=ci`;
    const report = await doctor(url);
    expect(checkOf(report, 'cache-info', url)).toMatchObject({ status: 'skip', reason: 'private bucket' });
    expect(checkOf(report, 'cache-info', url).fix).toContain('--profile ci');
    expect(report.checks.filter((c) => c.status === 'fail').map((c) => `${c.id}: ${c.summary}`)).toEqual([]);
  });
});
