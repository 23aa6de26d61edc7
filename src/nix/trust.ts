import type { EffectiveSettings, Item } from './config.js';
import type { PublicKey } from './keys.js';

/**
 * Whether the daemon treats USER as trusted (`trusted-users`: names, `@group`, `*`), as
 * daemon.cc `matchUser` decides. Root is trusted only when listed, as it is by default.
 */
export function isTrustedUser(trustedUsers: readonly string[], user: string, groups: readonly string[]): boolean {
  return trustedUsers.some((entry) => entry === '*' || entry === user || (entry.startsWith('@') && groups.includes(entry.slice(1))));
}

/** A value the nix-daemon reads itself: from the system nix.conf, or Nix's default. */
export const daemonSide = (i: Item): boolean => i.origin.level === 'system' || i.origin.level === 'default';

/** A value only the client reads (user nix.conf, NIX_CONFIG): the daemon applies it only for trusted users. */
export const clientSide = (i: Item): boolean => i.origin.level === 'user' || i.origin.level === 'env';

/** trusted-users as the daemon reads them: client files cannot make a user trusted. */
export function daemonTrustedUsers(settings: EffectiveSettings): string[] {
  return settings
    .list('trusted-users')
    .filter(daemonSide)
    .map((i) => i.value);
}

/** The keys Nix checks signatures with: a multi-user daemon ignores keys an untrusted user sets. */
export function effectiveTrustedKeys(
  keys: readonly PublicKey[],
  settings: EffectiveSettings,
  env: { multiUser: boolean; trustedUser: boolean | null },
): PublicKey[] {
  if (!(env.multiUser && env.trustedUser === false)) return [...keys];
  const fromClient = new Set(
    settings
      .list('trusted-public-keys')
      .filter(clientSide)
      .map((i) => i.value),
  );
  return keys.filter((key) => !fromClient.has(key.text));
}
