import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveVariant, type Variant } from '../helpers/cache-variants.js';
import { CLI, nixConf, runCli } from '../helpers/cli.js';
import { CACHES, KEYS } from '../helpers/servers.js';
import { FIXTURE_PATHS, has } from '../helpers/system.js';

const run = promisify(execFile);
const LAN_KEY = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
const [APP, LEAF_A] = FIXTURE_PATHS as [string, string, string];
const hashOf = (p: string) => p.slice('/nix/store/'.length, '/nix/store/'.length + 32);

let hostile: Variant;
let healthy: Variant;

beforeAll(async () => {
  // A Nix-made cache, one narinfo then edited by a hostile server: a signer name and a compression
  // carrying terminal escape sequences (neither is part of what the signature covers).
  const dir = mkdtempSync(join(tmpdir(), 'nixcache-hostile-'));
  cpSync(join(CACHES, 'signed-lan'), dir, { recursive: true });
  const file = join(dir, `${hashOf(LEAF_A)}.narinfo`);
  const text = readFileSync(file, 'utf8')
    .replace(/^Sig: .*$/m, `Sig: evil\u001b[31m:${Buffer.alloc(64, 1).toString('base64')}`)
    .replace(/^Compression: .*$/m, 'Compression: xz\u001b]0;pwned\u0007');
  writeFileSync(file, text);
  hostile = await serveVariant(dir);
  healthy = await serveVariant(join(CACHES, 'signed-lan'));
});
afterAll(async () => {
  await Promise.all([hostile?.close(), healthy?.close()]);
});

function world(url: string) {
  const conf = nixConf(`substituters = ${url}\ntrusted-public-keys = ${LAN_KEY}\n`);
  mkdirSync(join(conf.dir, 'cache'));
  return { ...conf, env: { ...conf.env, XDG_CACHE_HOME: join(conf.dir, 'cache') }, store: join(conf.dir, 'store') };
}

describe('hostile text from a cache', () => {
  it('reaches the table and the Markdown as visible escapes, and the JSON exactly', async () => {
    const w = world(hostile.url);
    const table = await runCli(['why', '--store', w.store, LEAF_A], { env: w.env });
    expect(table.stdout).not.toContain('\u001b');
    expect(table.stdout).not.toContain('\u0007');
    expect(table.stdout).toContain('evil\\x1b[31m');
    expect(table.stdout).toMatch(/signature untrusted/);
    const md = join(w.dir, 'r.md');
    await runCli(['why', '--store', w.store, '--report', md, LEAF_A], { env: w.env });
    expect(readFileSync(md, 'utf8')).not.toContain('\u001b');
    const json = await runCli(['why', '--json', '--store', w.store, LEAF_A], { env: w.env });
    const report = JSON.parse(json.stdout);
    expect(report.paths[0].caches[0].keys).toEqual(['evil\u001b[31m']);
    expect(report.paths[0].caches[0].compression).toBe('xz\u001b]0;pwned\u0007');
  });
});

describe.skipIf(!has('script'))('progress', () => {
  it('goes to stderr when it is a terminal, and never into the document on stdout', async () => {
    const w = world(healthy.url);
    const out = join(w.dir, 'out.json');
    const command = `exec ${process.execPath} ${CLI} coverage --json --store ${w.store} ${APP} > ${out}`;
    const { stdout: terminal } = await run('script', ['-qec', command, '/dev/null'], {
      env: { ...process.env, ...w.env, CI: '', NIX_CONFIG: '', TERM: 'xterm-256color' },
    });
    expect(terminal).toMatch(/reading nix\.conf|checked \d+\/\d+|resolving/);
    expect(JSON.parse(readFileSync(out, 'utf8')).caches[0].present).toBe(3);
  });
});
