import type { EffectiveSettings } from './config.js';

/** What a dead substituter costs every build, from the settings in force (for caches Nix is configured to use). */
export function deadCacheAdvice(settings: EffectiveSettings, displayUrl: string): string {
  const connectTimeout = Number(settings.get('connect-timeout') ?? '0');
  const fallback = settings.get('fallback') === 'true';
  const wait =
    connectTimeout > 0
      ? `up to ${connectTimeout} s (connect-timeout)`
      : "for curl's own connect timeout (connect-timeout = 0: minutes on older Nix)";
  const lines = [
    `While this cache stays in substituters, Nix waits ${wait} on it before moving on, and then prints "disabling binary cache '${displayUrl}' for 60 seconds".`,
  ];
  if (connectTimeout === 0) lines.push('To bound the wait: connect-timeout = 5 in nix.conf (NixOS: nix.settings.connect-timeout = 5;).');
  if (!fallback) lines.push(FALLBACK_ADVICE);
  return lines.join('\n');
}

/** Said wherever a cache can fail a substitution while fallback = true is not set. */
export const FALLBACK_ADVICE =
  'Unless fallback is true, a build whose substitution fails stops instead of building locally (NixOS: nix.settings.fallback = true;).';
