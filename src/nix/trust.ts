/**
 * Whether the daemon treats USER as trusted (`trusted-users`: names, `@group`, `*`), as
 * daemon.cc `matchUser` decides. Root is trusted only when listed, as it is by default.
 */
export function isTrustedUser(trustedUsers: readonly string[], user: string, groups: readonly string[]): boolean {
  return trustedUsers.some((entry) => entry === '*' || entry === user || (entry.startsWith('@') && groups.includes(entry.slice(1))));
}
