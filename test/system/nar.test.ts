import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { KEYS, type Running, serveCache } from '../helpers/servers.js';
import { missing } from '../helpers/system.js';

const LAN_KEY = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
const NIX = ['--extra-experimental-features', 'nix-command'];
const skipReason = missing('NAR tests with real Nix-made caches', { root: true, commands: ['nix', 'nix-store'] });
const work = skipReason ? '' : mkdtempSync(join(tmpdir(), 'nixcache-nar-'));
const servers: Record<string, Running> = {};
const added: string[] = [];
let sample = '';

const nix = (args: string[], env: Record<string, string> = {}) =>
  execFileSync('nix', [...NIX, ...args], {
    stdio: 'pipe',
    env: { ...process.env, XDG_CACHE_HOME: join(work, 'xdg-cache'), ...env },
  }).toString();
const narinfoOf = (dir: string) => join(dir, readdirSync(dir).find((f) => f.endsWith('.narinfo')) as string);
const narOf = (dir: string) => join(dir, 'nar', readdirSync(join(dir, 'nar'))[0] as string);

/** A binary cache of PATH written by real Nix with COMPRESSION, signed by the trusted fixture key. */
function makeCache(name: string, compression: string, path: string): string {
  const dir = join(work, name);
  nix(['copy', '--to', `file://${dir}?compression=${compression}`, path]);
  nix(['store', 'sign', '--store', `file://${dir}`, '--key-file', join(KEYS, 'lan.sec'), path]);
  return dir;
}

function addToStore(name: string, content: Buffer): string {
  const file = join(work, name);
  writeFileSync(file, content);
  const path = execFileSync('nix-store', ['--add', file]).toString().trim();
  added.push(path);
  return path;
}

beforeAll(async () => {
  if (skipReason) return;
  // Text and random bytes: every method compresses it into several hundred kB, read in many chunks.
  sample = addToStore('nar-sample', Buffer.concat([Buffer.from('nixcache nar sample\n'.repeat(20000)), randomBytes(300_000)]));
  const dirs: Record<string, string> = {};
  for (const c of ['xz', 'zstd', 'bzip2', 'br', 'none']) dirs[`ok-${c}`] = makeCache(`ok-${c}`, c, sample);
  const copy = (from: string, name: string) => {
    cpSync(from, join(work, name), { recursive: true });
    dirs[name] = join(work, name);
    return dirs[name];
  };
  rmSync(narOf(copy(dirs['ok-xz'] as string, 'deleted')));
  truncateSync(narOf(copy(dirs['ok-xz'] as string, 'truncated')), 150_000);
  // NarHash altered and the narinfo signed again: the signature verifies, the NAR does not match.
  const altered = copy(dirs['ok-xz'] as string, 'resigned');
  const text = readFileSync(narinfoOf(altered), 'utf8')
    .replace(/^NarHash: .*$/m, 'NarHash: sha256:10q11zvqirdpp4a2mkmy6xxf0vgz99qzli9ywb334bqga4bg78ys')
    .replace(/^Sig: .*\n/gm, '');
  writeFileSync(narinfoOf(altered), text);
  nix(['store', 'sign', '--store', `file://${altered}`, '--key-file', join(KEYS, 'lan.sec'), sample]);
  // A zstd file whose narinfo says xz.
  const mislabelled = copy(dirs['ok-zstd'] as string, 'mislabelled');
  writeFileSync(narinfoOf(mislabelled), readFileSync(narinfoOf(mislabelled), 'utf8').replace('Compression: zstd', 'Compression: xz'));
  await Promise.all(Object.entries(dirs).map(async ([n, d]) => (servers[n] = await serveCache(d))));
}, 120_000);

afterAll(async () => {
  await Promise.all(Object.values(servers).map((s) => s.close()));
  if (added.length && !process.env.KEEP) spawnSync('nix-store', ['--delete', ...added], { stdio: 'ignore' });
  if (work && !process.env.KEEP) rmSync(work, { recursive: true, force: true });
});

/**
 * Linux keeps a process's peak RSS across execve, and a child forked from this test process starts
 * as a copy of it (with the 200 MB it holds): the CLI whose memory is measured is started by a
 * small shell that stays its parent.
 */
const FROM_SMALL_PARENT = ['sh', '-c', '"$@"; status=$?; exit $status', 'sh'];

async function doctor(name: string, extra: { nodeArgs?: string[]; env?: Record<string, string>; sample?: string; wrap?: string[] } = {}) {
  const url = (servers[name] as Running).url;
  const { env } = nixConf(`substituters = ${url}\ntrusted-public-keys = ${LAN_KEY}\n`);
  const r = await runCli(
    ['doctor', '--json', '--only', 'connect,cache-info,signature,nar', '--sample', extra.sample ?? sample, '--timeout', '10'],
    {
      env: { ...env, ...extra.env },
      ...(extra.nodeArgs ? { nodeArgs: extra.nodeArgs } : {}),
      ...(extra.wrap ? { wrap: extra.wrap } : {}),
      timeoutMs: 120_000,
    },
  );
  const report = parseReport(r.stdout);
  return { nar: checkOf(report, 'nar', url), signature: checkOf(report, 'signature', url) };
}

/** Real Nix substituting the sample from the cache into a scratch store: the oracle (asynchronous: the server runs in this process). */
function nixSubstitutes(name: string): Promise<{ ok: boolean; stderr: string }> {
  const child = spawn(
    'nix',
    [
      ...NIX,
      'copy',
      '--from',
      (servers[name] as Running).url,
      '--to',
      `local?root=${join(work, `root-${name}`)}`,
      '--option',
      'trusted-public-keys',
      LAN_KEY,
      sample,
    ],
    { env: { ...process.env, XDG_CACHE_HOME: join(work, `xdg-${name}`) }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // Nix 2.8 spins without end on some broken files (a truncated brotli NAR): never wait for it long.
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + String(d)).slice(-8000)));
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, stderr });
    }),
  );
}

describe.skipIf(skipReason)('the nar check on caches made by real Nix 2.8, served over loopback', () => {
  it.each(['xz', 'zstd', 'bzip2', 'br', 'none'])(
    'passes a healthy %s cache, FileHash and NarHash matching, as Nix substitutes it',
    async (c) => {
      const { nar } = await doctor(`ok-${c}`);
      expect(nar.status).toBe('pass');
      expect(nar.data).toMatchObject({ compression: c, fileHash: 'matches', narHash: 'matches', problems: [] });
      expect((await nixSubstitutes(`ok-${c}`)).ok).toBe(true);
    },
  );

  it('fails a NAR that is gone while its narinfo is served, quoting the error Nix gives', async () => {
    const { nar, signature } = await doctor('deleted');
    expect(signature.status).toBe('pass');
    expect(nar.status).toBe('fail');
    expect(nar.summary).toContain('lost its NAR files or was pruned');
    const oracle = await nixSubstitutes('deleted');
    expect(oracle.ok).toBe(false);
    const quoted = /"(file '.*' does not exist in binary cache '.*')"/.exec(nar.summary)?.[1];
    expect(oracle.stderr).toContain(quoted);
    expect(nar.fix).toContain('nix.settings.fallback = true;');
  });

  it('fails a truncated NAR file with the bytes it has and FileSize', async () => {
    const { nar } = await doctor('truncated');
    expect(nar.status).toBe('fail');
    expect(nar.summary).toMatch(/truncated: 150000 of the \d+ bytes in FileSize/);
    expect(nar.data?.problems).toEqual(expect.arrayContaining(['truncated', 'corrupt']));
    expect((await nixSubstitutes('truncated')).ok).toBe(false);
  });

  it('fails a NarHash altered and signed again: the signature passes and the NAR does not match', async () => {
    const { nar, signature } = await doctor('resigned');
    expect(signature.status).toBe('pass');
    expect(nar).toMatchObject({ status: 'fail', data: { fileHash: 'matches', narHash: 'differs', problems: ['nar-hash'] } });
    const oracle = await nixSubstitutes('resigned');
    expect(oracle.ok).toBe(false);
    expect(oracle.stderr).toContain('hash mismatch importing path');
    expect(nar.summary).toContain('hash mismatch importing path');
  });

  it('names a zstd file labelled xz, and warns only, as Nix 2.8 reads it through libarchive anyway', async () => {
    const { nar } = await doctor('mislabelled');
    expect(nar.summary).toContain('Compression: xz, but the file is zstd-compressed');
    expect(nar.data).toMatchObject({ sniffed: 'zstd', narHash: 'matches', problems: ['mislabelled'] });
    const oracle = await nixSubstitutes('mislabelled');
    expect(nar.status).toBe(oracle.ok ? 'warn' : 'fail');
  });
});

describe.skipIf(skipReason)('the nar check streams: a 200 MB NAR does not raise peak memory', () => {
  it('keeps peak RSS of a run verifying a 200 MB zstd NAR under the 90 MB goal', async () => {
    const big = addToStore('nar-big', randomBytes(200 * 1024 * 1024));
    const dir = makeCache('big', 'zstd', big);
    servers.big = await serveCache(dir);
    const rssFile = join(work, 'rss.json');
    const probe = new URL('../../scripts/rss-probe.mjs', import.meta.url).pathname;
    const { nar } = await doctor('big', {
      sample: big,
      nodeArgs: ['--import', probe],
      env: { NIXCACHE_RSS_FILE: rssFile },
      wrap: FROM_SMALL_PARENT,
    });
    expect(nar.status).toBe('pass');
    expect(nar.data).toMatchObject({ narHash: 'matches' });
    const { maxRSS } = JSON.parse(readFileSync(rssFile, 'utf8')) as { maxRSS: number };
    console.log(`peak RSS verifying a 200 MB NAR: ${(maxRSS / 1024).toFixed(0)} MB`);
    expect(maxRSS).toBeLessThan(90 * 1024);
  }, 240_000);
});
