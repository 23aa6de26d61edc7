import type { Facts } from '../src/facts/types.js';
import { formatOrigin } from '../src/nix/config.js';
import { clientSide, daemonTrustedUsers } from '../src/nix/trust.js';
import type { Finding, HostCheck } from '../src/runner/check.js';
import { fail, pass, warn } from '../src/runner/finding.js';

/** Step 2: will the nix-daemon honour these substituters and keys for this user? */
export const trust: HostCheck = {
  id: 'trust',
  title: 'Daemon trusts this user’s settings',
  scope: 'host',
  async run(facts) {
    const { env, config } = facts;
    const s = config.settings;
    const daemon = config.daemonSettings;
    const trustedUsers = daemonTrustedUsers(daemon);
    const data: Record<string, unknown> = {
      user: env.user,
      groups: env.groups,
      multiUser: env.multiUser,
      trustedUsers,
      trusted: env.trustedUser,
    };
    if (!env.multiUser) return singleUser(facts, data);
    if (env.trustedUser) {
      return pass(
        `${env.user} is a trusted user of the nix-daemon (trusted-users = ${trustedUsers.join(' ')}): substituters and keys from any nix.conf apply`,
        { data },
      );
    }

    // The daemon uses its own substituters; a client's extra ones only when listed in trusted-substituters.
    const allowed = new Set(
      [...daemon.list('substituters'), ...daemon.list('trusted-substituters')].map((i) => i.value.replace(/\/+$/, '')),
    );
    const ignored = s.list('substituters').filter((i) => clientSide(i) && !allowed.has(i.value.replace(/\/+$/, '')));
    const daemonKeys = new Set(daemon.list('trusted-public-keys').map((i) => i.value));
    const ignoredKeys = s.list('trusted-public-keys').filter((i) => clientSide(i) && !daemonKeys.has(i.value));
    data.ignoredSubstituters = ignored.map((i) => ({ url: i.value, at: formatOrigin(i.origin) }));
    data.ignoredKeys = ignoredKeys.map((i) => ({ key: i.value, at: formatOrigin(i.origin) }));

    if (ignored.length === 0 && ignoredKeys.length === 0) {
      return pass(
        `${env.user} is not a trusted user, but every substituter and key comes from the system nix.conf or trusted-substituters`,
        { data },
      );
    }
    const lines = [
      ...ignored.map(
        (i) =>
          // The words every release starts the line with (2.8 stops there; later ones add ", you are not a trusted user.").
          `Nix prints: warning: ignoring untrusted substituter '${i.value}' (set at ${formatOrigin(i.origin)})`,
      ),
      ...ignoredKeys.map(
        (i) =>
          `Nix prints: warning: ignoring the client-specified setting 'trusted-public-keys', because it is a restricted setting and you are not a trusted user (key ${i.value.split(':')[0]} set at ${formatOrigin(i.origin)})`,
      ),
    ];
    const urls = ignored.map((i) => i.value);
    const keys = ignoredKeys.map((i) => i.value);
    const fix = [
      urls.length ? `Either let users add these caches — in ${config.systemFile}: trusted-substituters = ${urls.join(' ')}` : '',
      urls.length ? `  NixOS: nix.settings.trusted-substituters = [ ${urls.map((u) => `"${u}"`).join(' ')} ];` : '',
      keys.length ? `Put the keys in the system config — ${config.systemFile}: extra-trusted-public-keys = ${keys.join(' ')}` : '',
      keys.length ? `  NixOS: nix.settings.trusted-public-keys = [ ${keys.map((k) => `"${k}"`).join(' ')} ];` : '',
      `Or make ${env.user} trusted — ${config.systemFile}: trusted-users = root ${env.user}  (NixOS: nix.settings.trusted-users = [ "root" "${env.user}" ];) — which is root-equivalent.`,
      'Then restart the daemon: systemctl restart nix-daemon.',
    ]
      .filter(Boolean)
      .join('\n');
    const first = ignored[0];
    const summary = first
      ? `the nix-daemon ignores substituter '${first.value}'${ignored.length > 1 ? ` (+${ignored.length - 1} more)` : ''}: ${env.user} is not in trusted-users and it is not in trusted-substituters`
      : `the nix-daemon ignores trusted-public-keys from ${formatOrigin(ignoredKeys[0]!.origin)}: ${env.user} is not in trusted-users`;
    return (first ? fail : warn)(summary, { detail: lines.join('\n'), fix, data });
  },
};

/** Without a daemon, this user's own Nix writes what it downloads into the store: it must be allowed to. */
async function singleUser(facts: Facts, data: Record<string, unknown>): Promise<Finding> {
  const { env } = facts;
  const store = env.storeDir;
  const [writable, st] = await Promise.all([facts.writable(store), facts.stat(store)]);
  if (env.root || writable || !st)
    return pass(`single-user install (no nix-daemon socket): Nix applies every setting as ${env.user} gives it`, { data });
  const mode = (st.mode & 0o7777).toString(8);
  return fail(
    `single-user install (no nix-daemon socket), but ${env.user} cannot write ${store} (uid ${st.uid}, gid ${st.gid}, mode ${mode}): Nix cannot add anything it downloads`,
    {
      detail:
        'Nix fails with "Permission denied" or "Operation not permitted" on the store or /nix/var/nix before it substitutes anything.',
      fix: [
        'Use the daemon, which substitutes as root for every user: start nix-daemon (systemctl enable --now nix-daemon) and set NIX_REMOTE=daemon',
        `Or, for a single-user install of your own: sudo chown -R ${env.user} /nix`,
      ].join('\n'),
      data: { ...data, storeWritable: false },
    },
  );
}
