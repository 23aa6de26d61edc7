/**
 * Nix's setting names across 2.x releases (globals.hh, fetch-settings.hh, eval settings,
 * experimental features), used to flag misspellings. When `nix` is installed its own
 * `show-config --json` names are added at run time, so a newer Nix's settings never show as unknown.
 */
export const KNOWN_SETTINGS: readonly string[] = [
  'abort-on-warn',
  'accept-flake-config',
  'access-tokens',
  'allow-dirty',
  'allow-dirty-locks',
  'allow-import-from-derivation',
  'allow-new-privileges',
  'allow-symlinked-store',
  'allow-unsafe-native-code-during-evaluation',
  'allowed-impure-host-deps',
  'allowed-uris',
  'allowed-users',
  'always-allow-substitutes',
  'auto-allocate-uids',
  'auto-optimise-store',
  'bash-prompt',
  'bash-prompt-prefix',
  'bash-prompt-suffix',
  'build-cores',
  'build-dir',
  'build-hook',
  'build-poll-interval',
  'build-users-group',
  'builders',
  'builders-use-substitutes',
  'commit-lock-file-summary',
  'compress-build-log',
  'connect-timeout',
  'cores',
  'debugger-on-trace',
  'debugger-on-warn',
  'diff-hook',
  'download-attempts',
  'download-buffer-size',
  'download-speed',
  'eval-cache',
  'eval-cores',
  'eval-profile-file',
  'eval-profiler',
  'eval-profiler-frequency',
  'eval-system',
  'experimental-features',
  'extra-platforms',
  'fallback',
  'filter-syscalls',
  'flake-registry',
  'fsync-metadata',
  'fsync-store-paths',
  'gc-reserved-space',
  'hashed-mirrors',
  'http-connections',
  'http2',
  'id-count',
  'ignore-try',
  'ignored-acls',
  'impersonate-linux-26',
  'impure-env',
  'json-log-path',
  'keep-build-log',
  'keep-derivations',
  'keep-env-derivations',
  'keep-failed',
  'keep-going',
  'keep-outputs',
  'lazy-trees',
  'log-lines',
  'max-build-log-size',
  'max-call-depth',
  'max-free',
  'max-jobs',
  'max-silent-time',
  'max-substitution-jobs',
  'min-free',
  'min-free-check-interval',
  'nar-buffer-size',
  'narinfo-cache-negative-ttl',
  'narinfo-cache-positive-ttl',
  'netrc-file',
  'nix-path',
  'nix-shell-always-looks-for-shell-nix',
  'nix-shell-shebang-arguments-relative-to-script',
  'plugin-files',
  'post-build-hook',
  'pre-build-hook',
  'preallocate-contents',
  'print-missing',
  'pure-eval',
  'require-drop-supplementary-groups',
  'require-sigs',
  'restrict-eval',
  'run-diff-hook',
  'sandbox',
  'sandbox-build-dir',
  'sandbox-dev-shm-size',
  'sandbox-fallback',
  'sandbox-paths',
  'secret-key-files',
  'show-trace',
  'ssl-cert-file',
  'stalled-download-timeout',
  'start-id',
  'store',
  'substitute',
  'substituters',
  'sync-before-registering',
  'system',
  'system-features',
  'tarball-ttl',
  'timeout',
  'trace-function-calls',
  'trace-import-from-derivation',
  'trace-verbose',
  'trust-tarballs-from-git-forges',
  'trusted-public-keys',
  'trusted-substituters',
  'trusted-users',
  'upgrade-nix-store-path-url',
  'use-case-hack',
  'use-cgroups',
  'use-registries',
  'use-sqlite-wal',
  'use-xdg-base-directories',
  'user-agent-suffix',
  'warn-dirty',
  'warn-large-path-threshold',
  'warn-short-path-literals',
];

/** Deprecated names Nix still accepts, mapped to the setting they set. */
export const SETTING_ALIASES: Readonly<Record<string, string>> = {
  'binary-caches': 'substituters',
  'trusted-binary-caches': 'trusted-substituters',
  'binary-cache-public-keys': 'trusted-public-keys',
  'build-max-jobs': 'max-jobs',
  'build-cores': 'cores',
  'build-use-substitutes': 'substitute',
  'build-use-sandbox': 'sandbox',
  'build-use-chroot': 'sandbox',
  'build-sandbox-paths': 'sandbox-paths',
  'build-chroot-dirs': 'sandbox-paths',
  'build-fallback': 'fallback',
  'build-timeout': 'timeout',
  'build-max-silent-time': 'max-silent-time',
  'build-max-log-size': 'max-build-log-size',
  'build-keep-log': 'keep-build-log',
  'build-compress-log': 'compress-build-log',
  'build-extra-platforms': 'extra-platforms',
  'build-extra-sandbox-paths': 'extra-sandbox-paths',
  'gc-keep-outputs': 'keep-outputs',
  'gc-keep-derivations': 'keep-derivations',
  'env-keep-derivations': 'keep-env-derivations',
  'signed-binary-caches': 'require-sigs',
};

/** Settings holding lists, for which `extra-NAME` appends. */
export const LIST_SETTINGS: ReadonlySet<string> = new Set([
  'substituters',
  'trusted-substituters',
  'trusted-public-keys',
  'trusted-users',
  'allowed-users',
  'secret-key-files',
  'experimental-features',
  'extra-platforms',
  'system-features',
  'sandbox-paths',
  'allowed-uris',
  'access-tokens',
  'nix-path',
  'plugin-files',
  'hashed-mirrors',
  'allowed-impure-host-deps',
  'builders',
  'ignored-acls',
  'impure-env',
]);

export const NIXOS_CACHE = 'https://cache.nixos.org/';
export const NIXOS_CACHE_KEY = 'cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=';

/** Defaults of the settings the doctor reasons about (globals.hh). */
export const DEFAULTS: Readonly<Record<string, string>> = {
  substituters: NIXOS_CACHE,
  'trusted-substituters': '',
  'trusted-public-keys': NIXOS_CACHE_KEY,
  'require-sigs': 'true',
  'trusted-users': 'root',
  'allowed-users': '*',
  'stalled-download-timeout': '300',
  'narinfo-cache-negative-ttl': '3600',
  'narinfo-cache-positive-ttl': '2592000',
  fallback: 'false',
  substitute: 'true',
  'secret-key-files': '',
  'builders-use-substitutes': 'false',
  'connect-timeout': '0',
};

/** Canonical name for NAME or `extra-NAME`, resolving aliases; `extra` says whether it appends. */
export function canonicalSetting(name: string): { name: string; extra: boolean } {
  const extra = name.startsWith('extra-');
  const bare = extra ? name.slice('extra-'.length) : name;
  return { name: SETTING_ALIASES[bare] ?? bare, extra };
}

export function isKnownSetting(name: string, extraKnown: ReadonlySet<string> = new Set()): boolean {
  const { name: bare } = canonicalSetting(name);
  const plain = name.startsWith('extra-') ? name.slice(6) : name;
  return (
    KNOWN_SETTINGS.includes(bare) ||
    extraKnown.has(bare) ||
    extraKnown.has(plain) ||
    plain in SETTING_ALIASES ||
    bare === 'extra-sandbox-paths'
  );
}

/** Damerau–Levenshtein distance (optimal string alignment), for "did you mean". */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i]!;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
      }
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest real setting name to an unknown one, when it is close enough to be a typo. */
export function suggestSetting(name: string, extraKnown: ReadonlySet<string> = new Set()): string | undefined {
  const prefix = name.startsWith('extra-') ? 'extra-' : '';
  const bare = name.slice(prefix.length);
  const candidates = [...new Set([...KNOWN_SETTINGS, ...Object.keys(SETTING_ALIASES), ...extraKnown])];
  let best: { name: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(bare, candidate);
    if (!best || distance < best.distance) best = { name: candidate, distance };
  }
  if (!best) return undefined;
  const limit = bare.length <= 4 ? 1 : bare.length <= 8 ? 2 : 3;
  return best.distance <= limit ? prefix + best.name : undefined;
}
