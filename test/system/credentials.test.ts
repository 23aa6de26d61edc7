import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AS_NOBODY, checkOf, parseReport, runCli } from '../helpers/cli.js';
import { CACHES, KEYS, type Running, serveCache } from '../helpers/servers.js';
import { ensureFixturePathsInStore, FIXTURE_PATHS, missing } from '../helpers/system.js';

const LAN_KEY = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
const skipReason = missing('credential tests (auth only on narinfos)', { root: true, commands: ['nix', 'setpriv'] });
const USER = 'builder';
const PASSWORD = 'narinfo-secret-7';
let server: Running | undefined;
let url = '';
/** The Authorization headers the server has seen, in order (what Nix and the doctor actually sent). */
const authorizations: string[] = [];
const work = skipReason ? '' : mkdtempSync(join(tmpdir(), 'nixcache-cred-'));

/** A nix.conf (and netrc) every user may read — the netrc's own mode is what a test sets. */
function confDir(netrc?: { text: string; mode: number }, extra = ''): Record<string, string> {
  const dir = mkdtempSync(join(work, 'conf-'));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'nix.conf'), `substituters = ${url}\ntrusted-public-keys = ${LAN_KEY}\nnetrc-file = ${dir}/netrc\n${extra}`, {
    mode: 0o644,
  });
  if (netrc) {
    writeFileSync(join(dir, 'netrc'), netrc.text);
    chownSync(join(dir, 'netrc'), 0, 0);
    chmodSync(join(dir, 'netrc'), netrc.mode);
  }
  return { NIX_CONF_DIR: dir, NIX_USER_CONF_FILES: '', HOME: dir, XDG_CONFIG_HOME: join(dir, 'xdg') };
}

async function cacheInfo(env: Record<string, string>, wrap?: string[]) {
  const r = await runCli(['doctor', '--json', '--only', 'connect,cache-info,signature', '--sample', FIXTURE_PATHS[0] as string], {
    env,
    ...(wrap ? { wrap } : {}),
  });
  const report = parseReport(r.stdout);
  return { info: checkOf(report, 'cache-info', url), signature: checkOf(report, 'signature', url), stdout: r.stdout };
}

/** Whether real Nix, with the nix.conf and netrc of ENV, finds the fixture path in the cache. */
async function nixFinds(env: Record<string, string>): Promise<boolean> {
  const nix = spawn('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--store', url, FIXTURE_PATHS[0] as string], {
    env: { ...process.env, ...env, XDG_CACHE_HOME: join(env.HOME as string, 'cache') },
    stdio: 'ignore',
  });
  return (await new Promise((resolve) => nix.on('close', resolve))) === 0;
}

beforeAll(async () => {
  if (skipReason) return;
  ensureFixturePathsInStore();
  chmodSync(work, 0o755);
  // The signed fixture cache; only *.narinfo needs HTTP basic auth, as some nginx setups do.
  server = await serveCache(join(CACHES, 'signed-lan'), {
    auth: { user: USER, password: PASSWORD },
    authOnlyNarinfo: true,
    authorizations,
  });
  url = server.url;
});
afterAll(async () => {
  if (server) await server.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(skipReason)('credentials as the daemon sees them: a cache with auth only on *.narinfo', () => {
  it('fails a public nix-cache-info with 401 narinfos: Nix treats this as not in the cache, silently', async () => {
    const { info } = await cacheInfo(confDir());
    expect(info.status).toBe('fail');
    expect(info.summary).toContain("Nix treats this as 'not in the cache', silently");
    expect(info.data).toMatchObject({ narinfoStatus: 401, credentials: null, netrc: 'none' });
    expect(info.fix).toContain(`machine 127.0.0.1 login USER password ***`);
    expect(info.fix).toContain('nix.settings.netrc-file');
    // The oracle: real Nix asked for a path the cache has says only that it is not there.
    const env = confDir();
    const nix = spawn('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--store', url, FIXTURE_PATHS[0] as string], {
      env: { ...process.env, ...env, XDG_CACHE_HOME: join(env.HOME as string, 'cache') },
    });
    let stderr = '';
    nix.stderr.on('data', (d) => (stderr += String(d)));
    const code = await new Promise((resolve) => nix.on('close', resolve));
    expect(code).not.toBe(0);
    expect(stderr).not.toMatch(/401|Unauthorized|authenticat/i);
  });

  it('passes when netrc-file has a machine entry for the host, and never shows its password', async () => {
    const { info, signature, stdout } = await cacheInfo(
      confDir({ text: `machine 127.0.0.1 login ${USER} password ${PASSWORD}\n`, mode: 0o600 }),
    );
    expect(info.status).toBe('pass');
    expect(signature.status).toBe('pass');
    expect(stdout).not.toContain(PASSWORD);
  });

  it('names a netrc machine entry with a port as the reason it never matches, as Nix finds nothing with it', async () => {
    const withPort = confDir({ text: `machine 127.0.0.1:${server?.port} login ${USER} password ${PASSWORD}\n`, mode: 0o600 });
    const { info, stdout } = await cacheInfo(withPort);
    expect(info.status).toBe('fail');
    expect(info.detail).toContain(`'machine 127.0.0.1:${server?.port}' has a port: curl matches the host name alone`);
    expect(stdout).not.toContain(PASSWORD);
    // The oracle: Nix with the port-qualified entry does not find the path; with the host alone it does.
    expect(await nixFinds(withPort)).toBe(false);
    expect(await nixFinds(confDir({ text: `machine 127.0.0.1 login ${USER} password ${PASSWORD}\n`, mode: 0o600 }))).toBe(true);
  });

  it('fails a netrc whose machine name is another host, saying it has no entry for this one', async () => {
    const { info } = await cacheInfo(confDir({ text: `machine cache.example.org login ${USER} password ${PASSWORD}\n`, mode: 0o600 }));
    expect(info.status).toBe('fail');
    expect(info.detail).toContain("has no 'machine 127.0.0.1' entry and no 'default' entry");
  });

  it('says an access-tokens entry for the cache host is never sent to a binary cache, as real Nix sends no Authorization with it', async () => {
    const token = 'cache-token-5e1f';
    const env = confDir(undefined, `access-tokens = github.com=ghp_unrelated 127.0.0.1=${token}\n`);
    const { info, stdout } = await cacheInfo(env);
    expect(info.status).toBe('fail');
    expect(info.summary).toMatch(/; Nix never sends binary caches the token for 127\.0\.0\.1 in access-tokens$/);
    expect(info.detail).toContain("gives '127.0.0.1' a token in access-tokens\nbut Nix never sends those to a binary cache");
    expect(info.fix).toContain('machine 127.0.0.1 password ***');
    expect(info.data).toMatchObject({ narinfoStatus: 401, credentials: null, accessTokens: ['127.0.0.1'] });
    expect(stdout).not.toContain(token);
    expect(stdout).not.toContain('ghp_unrelated');
    // The oracle: Nix 2.8 with that access-tokens sends no Authorization header at all and does not find the path.
    authorizations.length = 0;
    expect(await nixFinds(env)).toBe(false);
    expect(authorizations).toEqual([]);
  });

  it('as an unprivileged user with a root-only netrc and a daemon, says the daemon may read it and what sudo adds', async () => {
    const env = { ...confDir({ text: `machine 127.0.0.1 login ${USER} password ${PASSWORD}\n`, mode: 0o600 }), NIX_REMOTE: 'daemon' };
    const { info } = await cacheInfo(env, AS_NOBODY);
    expect(info.status, JSON.stringify(info)).toBe('warn');
    expect(info.detail).toMatch(/could not read .*netrc \(.*not readable by this user/);
    expect(info.detail).toContain('sudo nixcache doctor');
    // As root (what sudo adds) the same files pass.
    expect((await cacheInfo(env)).info.status).toBe('pass');
  });

  it('as an unprivileged single-user Nix, a netrc it cannot read is its own failure', async () => {
    const { info } = await cacheInfo(confDir({ text: `machine 127.0.0.1 login ${USER} password ${PASSWORD}\n`, mode: 0o600 }), AS_NOBODY);
    expect(info.status).toBe('fail');
    expect(info.detail).toMatch(/Nix \(this user\) cannot use/);
  });
});
