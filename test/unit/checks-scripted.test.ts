import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { service } from '../../checks/service.js';
import { signingKey } from '../../checks/signing-key.js';
import { EffectiveSettings } from '../../src/nix/config.js';
import { parseStoreUrl } from '../../src/nix/store-url.js';
import type { CacheTarget, CheckContext, Io } from '../../src/runner/types.js';
import type { ExecResult } from '../../src/system/exec.js';
import { FIXTURES, KEYS } from '../helpers/servers.js';

/**
 * Checks against scripted adapters (DESIGN.md, Testing): the systemd side of the server checks,
 * which cannot run for real where systemd is not PID 1, fed the outputs recorded from a real
 * systemd 252 (fixtures/host/README in fixtures/README.md).
 */
const host = (name: string) => readFileSync(join(FIXTURES, 'host', name), 'utf8');

function scripted(opts: { exec: Record<string, string | ExecResult>; files?: Record<string, string>; root?: boolean }) {
  const calls: string[] = [];
  const exec: Io['exec'] = async (file, args) => {
    const key = [file, ...args].join(' ');
    calls.push(key);
    const found = Object.entries(opts.exec).find(([prefix]) => key.startsWith(prefix))?.[1];
    if (found === undefined)
      return { exitCode: null, stdout: '', stderr: '', missing: true, timedOut: false, denied: false, durationMs: 0 };
    return typeof found === 'string'
      ? { exitCode: 0, stdout: found, stderr: '', missing: false, timedOut: false, denied: false, durationMs: 1 }
      : found;
  };
  const files = opts.files ?? {};
  const fs: Io['fs'] = {
    readText: async (p) =>
      p in files ? { ok: true, text: files[p] as string } : { ok: false, code: 'ENOENT', message: `'${p}' does not exist` },
    stat: async (p) =>
      p in files ? { mode: 0o100600, uid: 0, gid: 0, size: (files[p] as string).length, isFile: true, isDirectory: false } : null,
    readdir: async () => null,
    readlink: async () => null,
    exists: async (p) => p in files || p === '/run/systemd/system',
    canRead: async (p) => p in files,
  };
  const memo = new Map<string, Promise<unknown>>();
  const io = { exec, fs } as unknown as Io;
  const ctx = {
    ...io,
    options: { timeoutMs: 5000, deadlineMs: 60_000, strict: false, verbose: false, server: true, trustedKeys: [], caches: [] },
    env: {
      os: 'linux',
      arch: 'x64',
      nixVersion: '2.8.0',
      user: 'root',
      uid: 0,
      groups: ['root'],
      root: opts.root ?? true,
      multiUser: true,
      trustedUser: true,
      storeDir: '/nix/store',
      sandbox: null,
    },
    config: {
      files: [],
      problems: [],
      searched: [],
      systemFile: '/etc/nix/nix.conf',
      settings: new EffectiveSettings([]),
      substituters: [],
      trustedKeys: { keys: [], invalid: [] },
      requireSigs: true,
      netrc: { path: '/etc/nix/netrc', entries: [] },
    },
    caches: [],
    signal: new AbortController().signal,
    timeoutMs: 5000,
    secret: () => {},
    once: <T>(k: string, fn: (io: Io) => Promise<T>) => {
      if (!memo.has(k)) memo.set(k, fn(io));
      return memo.get(k) as Promise<T>;
    },
    result: () => undefined,
  } as unknown as CheckContext;
  return { ctx, calls };
}

const target: CacheTarget = { url: parseStoreUrl('http://127.0.0.1:5000'), index: 0, role: 'server', local: true };
const listening = 'LISTEN 0      5        0.0.0.0:5000 0.0.0.0:* users:(("python3",pid=251,fd=3))\n';

describe('service check with systemd (recorded systemctl show / journalctl)', () => {
  it('passes an active unit listening on 0.0.0.0, naming its state and start time', async () => {
    const { ctx } = scripted({ exec: { 'systemctl show': host('systemctl-show-nix-serve-active.txt'), 'ss -ltnpH': listening } });
    const f = await service.run(ctx, target);
    expect(f.status).toBe('pass');
    expect(f.summary).toContain('nix-serve.service active (running) since Wed 2026-11-25 03:51:59 UTC');
    expect(f.data).toMatchObject({
      unit: { id: 'nix-serve.service', mainPid: 251, execStart: expect.stringContaining('--listen 0.0.0.0:5000') },
    });
  });

  it('fails a failed unit with nothing listening, quoting the journal and the restart count', async () => {
    const { ctx, calls } = scripted({
      exec: {
        'systemctl show': host('systemctl-show-nix-serve-failed.txt'),
        'journalctl -u nix-serve.service': host('journalctl-nix-serve-failed.txt'),
        'ss -ltnpH': '',
      },
    });
    const f = await service.run(ctx, target);
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('nix-serve.service has failed (exit-code) and nothing listens on port 5000');
    expect(f.detail).toContain('restarted 5 times');
    expect(f.detail).toContain("cannot read secret key file '/run/credentials/nix-serve.service/NIX_SECRET_KEY_FILE'");
    expect(f.fix).toContain('journalctl -u nix-serve.service');
    expect(calls).toContain('journalctl -u nix-serve.service -n 20 --no-pager');
  });

  it('says systemd is not running, and still judges the socket, when /run/systemd/system is absent', async () => {
    const { ctx } = scripted({ exec: { 'ss -ltnpH': listening } });
    ctx.fs.exists = async () => false;
    const f = await service.run(ctx, target);
    expect(f.status).toBe('pass');
    expect(f.detail).toMatch(/systemd is not running/);
  });
});

describe('signing-key check reads the key the unit loads (LoadCredential from systemctl cat)', () => {
  it('finds the credential path and derives the public key, never printing the secret', async () => {
    const secret = readFileSync(join(KEYS, 'lan.sec'), 'utf8').trim();
    const credentialPath = '/opt/nixcache-rec/secrets/cache-priv-key.pem';
    const { ctx } = scripted({
      // In this recording Environment names only %d/NIX_SECRET_KEY_FILE under /run/credentials:
      // the real path comes from the unit file's LoadCredential= line.
      exec: {
        'systemctl show': host('systemctl-show-nix-serve-failed.txt'),
        'systemctl cat nix-serve.service': host('systemctl-cat-nix-serve.txt'),
      },
      files: { [credentialPath]: `${secret}\n` },
    });
    const f = await signingKey.run(ctx);
    expect(f.data).toMatchObject({ file: credentialPath, from: 'nix-serve.service LoadCredential' });
    expect(JSON.stringify(f)).toContain(readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim());
    expect(JSON.stringify(f)).not.toContain(secret.split(':')[1] as string);
  });
});
