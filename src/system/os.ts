import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';

/** Who this process runs as: user name, uid, and the ids of its groups. */
export function processIdentity(envUser: string | undefined): { user: string; uid: number; gids: number[] } {
  let user = envUser ?? 'unknown';
  let uid = -1;
  try {
    const info = userInfo();
    user = info.username;
    uid = info.uid;
  } catch {
    // No passwd entry (containers): keep $USER.
  }
  const gids = [...new Set([process.getegid?.(), ...(process.getgroups?.() ?? [])].filter((g): g is number => g !== undefined))];
  return { user, uid, gids };
}

/** The multi-user daemon's socket exists. */
export function daemonSocketExists(): boolean {
  return existsSync('/nix/var/nix/daemon-socket/socket');
}
