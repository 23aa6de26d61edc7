import type { EffectiveSettings } from '../nix/config.js';
import { daemonTrustedUsers, isTrustedUser } from '../nix/trust.js';
import type { Io } from '../system/io.js';
import { daemonSocketExists, processIdentity } from '../system/os.js';
import type { Environment } from './types.js';

export interface Identity {
  user: string;
  uid: number;
  groups: string[];
}

/**
 * `nix --version` (`nix (Nix) 2.8.0`), or null without Nix. Asked with no nix.conf at all: Nix
 * refuses to start — even for `--version` — on a configuration it rejects, and the version is what
 * tells which settings and values that Nix accepts.
 */
export async function readNixVersion(io: Io): Promise<string | null> {
  const noConf = { NIX_CONF_DIR: '/nonexistent/nixcache-no-nix-conf', NIX_USER_CONF_FILES: '', NIX_CONFIG: '' };
  // Remembered per binary: a run after the first starts no Nix for it (src/system/memo.ts).
  const r = await io.exec('nix', ['--version'], { timeoutMs: 3000, env: noConf, memo: 'nix-version' });
  // The last number on the line: Determinate Nix says `nix (Determinate Nix 3.8.2) 2.30.2`, 2.30.2 being the Nix it is.
  const line = r.stdout.split('\n')[0] ?? '';
  return r.exitCode === 0 ? (/(\d+\.\d+[\w.+-]*)\s*$/.exec(line)?.[1] ?? null) : null;
}

/** Who runs the doctor: user, uid, group names. */
export async function readIdentity(io: Io, env: Readonly<NodeJS.ProcessEnv>): Promise<Identity> {
  const { user, uid, gids } = processIdentity(env.USER);
  return { user, uid, groups: await groupNames(io, gids) };
}

/** This machine and user, as the daemon will judge them; NIXVERSION is `nix --version` (null without Nix). */
export function environmentOf(
  { user, uid, groups }: Identity,
  env: Readonly<NodeJS.ProcessEnv>,
  daemonSettings: EffectiveSettings,
  nixVersion: string | null,
): Environment {
  const multiUser = env.NIX_REMOTE === 'daemon' || (env.NIX_REMOTE === undefined && daemonSocketExists());
  return {
    os: `${process.platform}`,
    arch: process.arch,
    nixVersion,
    user,
    uid,
    groups,
    root: uid === 0,
    multiUser,
    trustedUser: multiUser ? isTrustedUser(daemonTrustedUsers(daemonSettings), user, groups) : true,
    storeDir: env.NIX_STORE_DIR || '/nix/store',
  };
}

/**
 * The names of this process's groups, as `id -Gn` prints them (the daemon matches `@group` in
 * trusted-users against them). Read from /etc/group; `id` (which asks NSS: LDAP, sssd…) only when
 * a group is not there.
 */
async function groupNames(io: Io, gids: readonly number[]): Promise<string[]> {
  const etc = await io.fs.readText('/etc/group', 1024 * 1024);
  const byGid = new Map<number, string>();
  if (etc.ok) {
    for (const line of etc.text.split('\n')) {
      const [name, , gid] = line.split(':');
      if (name && gid && !byGid.has(Number(gid))) byGid.set(Number(gid), name);
    }
  }
  const named = gids.map((g) => byGid.get(g));
  if (gids.length && named.every((n): n is string => n !== undefined)) return named;
  const id = await io.exec('id', ['-Gn'], { timeoutMs: 2000 });
  return id.exitCode === 0 ? id.stdout.trim().split(/\s+/).filter(Boolean) : gids.map((g) => byGid.get(g) ?? String(g));
}
