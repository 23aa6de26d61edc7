import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AS_NOBODY, checkOf, parseReport, runCli } from '../helpers/cli.js';
import { KEYS } from '../helpers/servers.js';
import { missing } from '../helpers/system.js';

const skipReason = missing('flake nixConfig tests with real Nix', { root: true, commands: ['nix', 'nix-instantiate', 'setpriv'] });
const URL_ = 'http://127.0.0.1:9/flake-cache';
const KEY = `flake-cache-1:${readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim().split(':')[1]}`;
const work = skipReason ? '' : mkdtempSync(join(tmpdir(), 'nixcache-flake-'));
if (work) chmodSync(work, 0o755);

/** A flake asking for a cache and its key, a nix.conf, and a home with an optional trusted-settings.json. */
function setup(conf: string, saved?: Record<string, Record<string, boolean>>) {
  const dir = mkdtempSync(join(work, 'f-'));
  chmodSync(dir, 0o755);
  writeFileSync(
    join(dir, 'flake.nix'),
    `{\n  nixConfig.extra-substituters = [ "${URL_}" ];\n  nixConfig.extra-trusted-public-keys = [ "${KEY}" ];\n  outputs = { self }: { x = 1; };\n}\n`,
    { mode: 0o644 },
  );
  writeFileSync(join(dir, 'nix.conf'), `substituters =\n${conf}`, { mode: 0o644 });
  if (saved) {
    mkdirSync(join(dir, 'share', 'nix'), { recursive: true });
    writeFileSync(join(dir, 'share', 'nix', 'trusted-settings.json'), JSON.stringify(saved));
  }
  return {
    dir,
    env: { NIX_CONF_DIR: dir, NIX_USER_CONF_FILES: '', HOME: dir, XDG_DATA_HOME: join(dir, 'share'), XDG_CACHE_HOME: join(dir, 'cache') },
  };
}

async function doctor(s: ReturnType<typeof setup>, extra: Record<string, string> = {}, wrap?: string[]) {
  const r = await runCli(['doctor', '--json', '--only', 'flake', '--flake', s.dir], {
    env: { ...s.env, ...extra },
    ...(wrap ? { wrap } : {}),
  });
  return checkOf(parseReport(r.stdout), 'flake');
}

/** What real Nix prints evaluating the flake non-interactively (the oracle). */
async function nixSaysAbout(s: ReturnType<typeof setup>): Promise<string> {
  const child = spawn('nix', ['--extra-experimental-features', 'nix-command flakes', 'eval', `path:${s.dir}#x`], {
    env: { ...process.env, ...s.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => (err += String(d)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await new Promise((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  return err;
}

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(skipReason)("a temporary flake's nixConfig, judged as Nix 2.8 judges it", () => {
  it('warns that Nix ignores the flake’s cache without accept-flake-config, in the words Nix prints', async () => {
    const s = setup('');
    const f = await doctor(s);
    expect(f.status).toBe('warn');
    const said = await nixSaysAbout(s);
    expect(said).toContain("warning: ignoring untrusted flake configuration setting 'extra-substituters'");
    expect(f.detail).toContain("warning: ignoring untrusted flake configuration setting 'extra-substituters'");
    expect(f.fix).toContain(`trusted-substituters = ${URL_}`);
    expect(f.fix).toContain('nix.settings.trusted-substituters');
  });

  it('passes with accept-flake-config = true for a trusted user, and Nix warns about nothing', async () => {
    const s = setup('accept-flake-config = true\n');
    const f = await doctor(s);
    expect(f.status).toBe('pass');
    expect(await nixSaysAbout(s)).not.toContain('ignoring untrusted flake configuration setting');
  });

  it('follows trusted-settings.json: a saved yes is used, a saved no is named', async () => {
    const s = setup('', { 'extra-substituters': { [URL_]: true }, 'extra-trusted-public-keys': { [KEY]: false } });
    const f = await doctor(s);
    expect(f.status).toBe('warn');
    expect(f.summary).toContain('extra-trusted-public-keys was answered no');
    expect(f.summary).not.toContain('extra-substituters');
    const said = await nixSaysAbout(s);
    expect(said).toContain(`Using saved setting for 'extra-substituters = ${URL_}'`);
    expect(said).toContain("ignoring untrusted flake configuration setting 'extra-trusted-public-keys'");
    expect(said).not.toContain("ignoring untrusted flake configuration setting 'extra-substituters'");
  });

  it('warns that the daemon drops the accepted cache for an untrusted user unless it is in trusted-substituters', async () => {
    const dropped = await doctor(setup('accept-flake-config = true\ntrusted-users = root\n'), { NIX_REMOTE: 'daemon' }, AS_NOBODY);
    expect(dropped.status).toBe('warn');
    expect(dropped.summary).toContain(`the daemon drops ${URL_} for an untrusted user`);
    expect(dropped.detail).toContain(`warning: ignoring untrusted substituter '${URL_}'`);
    const allowed = await doctor(
      setup(`accept-flake-config = true\ntrusted-users = root\ntrusted-substituters = ${URL_}\n`),
      { NIX_REMOTE: 'daemon' },
      AS_NOBODY,
    );
    expect(allowed.summary).not.toContain(`drops ${URL_}`);
  });
});
