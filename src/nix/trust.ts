import type { EffectiveSettings, Item } from './config.js';
import type { PublicKey } from './keys.js';
import { parseTrustedKeys, type TrustedKeys } from './signatures.js';

/** Who asks: a multi-user install's daemon judges whether it trusts the user. */
type Asker = { multiUser: boolean; trustedUser: boolean | null };
/** The configuration as the client has it, and the daemon's own settings. */
type Configured = { trustedKeys: TrustedKeys; requireSigs: boolean; daemonSettings: EffectiveSettings; cliTrustedKeys: readonly string[] };

/**
 * Whether the daemon treats USER as trusted (`trusted-users`: names, `@group`, `*`), as
 * daemon.cc `matchUser` decides. Root is trusted only when listed, as it is by default.
 */
export function isTrustedUser(trustedUsers: readonly string[], user: string, groups: readonly string[]): boolean {
  return trustedUsers.some((entry) => entry === '*' || entry === user || (entry.startsWith('@') && groups.includes(entry.slice(1))));
}

/** A value only the client reads (user nix.conf, NIX_CONFIG): the daemon applies it only for trusted users. */
export const clientSide = (i: Item): boolean => i.origin.level === 'user' || i.origin.level === 'env';

/** trusted-users as the daemon reads them (from its own settings: client files cannot make a user trusted). */
export function daemonTrustedUsers(daemonSettings: EffectiveSettings): string[] {
  return daemonSettings.list('trusted-users').map((i) => i.value);
}

/** Whether the settings this user's Nix sends are the ones that apply: single-user, or trusted by the daemon. */
export function clientSettingsApply(env: Asker): boolean {
  return !(env.multiUser && env.trustedUser === false);
}

/** The keys Nix checks signatures with: for an untrusted user, the daemon's own (and those given with --trusted-key). */
export function effectiveTrustedKeys(config: Configured, env: Asker): PublicKey[] {
  if (clientSettingsApply(env)) return [...config.trustedKeys.keys];
  return parseTrustedKeys([...config.daemonSettings.list('trusted-public-keys').map((i) => i.value), ...config.cliTrustedKeys]).keys;
}

/** require-sigs as it applies to this user's substitutions. */
export function effectiveRequireSigs(config: Configured, env: Asker): boolean {
  return clientSettingsApply(env) ? config.requireSigs : config.daemonSettings.get('require-sigs') !== 'false';
}
