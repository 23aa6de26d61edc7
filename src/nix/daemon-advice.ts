import { type EnvDifference, proxyFor } from './daemon-env.js';

export interface DaemonProblem {
  severity: 'fail' | 'warn';
  summary: string;
  fix: string;
}

const RESTART = 'systemctl daemon-reload && systemctl restart nix-daemon';

/** How to give the daemon (or take from it) environment variable NAME, as a drop-in and on NixOS. */
export function envFix(name: string, raw: string | undefined): string {
  // A proxy URL's password stays out of the fix (the user has it; the report may travel).
  const value = raw?.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  return value === undefined
    ? [
        `Remove ${name} from the daemon's environment: systemctl edit nix-daemon (drop the Environment=${name}=… line), then ${RESTART}`,
        `NixOS: remove ${name} from nix.envVars / systemd.services.nix-daemon.environment (networking.proxy sets proxies for it too)`,
      ].join('\n')
    : [
        `Give the daemon the same: systemctl edit nix-daemon → [Service] Environment="${name}=${value}", then ${RESTART}`,
        `NixOS: nix.envVars.${name} = "${value}";  (or systemd.services.nix-daemon.environment.${name}; networking.proxy.default for proxies)`,
      ].join('\n');
}

/** Differences that change where the daemon's downloads go, for the caches in URLS. */
export function envProblems(
  diffs: readonly EnvDifference[],
  daemonEnv: Record<string, string>,
  userEnv: Record<string, string>,
  urls: readonly string[],
): DaemonProblem[] {
  const out: DaemonProblem[] = [];
  for (const url of urls) {
    const mine = proxyFor(url, userEnv);
    const its = proxyFor(url, daemonEnv);
    if (mine && !its) {
      const name = new URL(url).protocol === 'http:' ? 'http_proxy' : 'https_proxy';
      out.push({
        severity: 'warn',
        summary: `your shell uses a proxy for ${url}; the daemon does not, so substitution from it goes direct (and times out where only the proxy gets out)`,
        fix: envFix(name, userEnv[name] ?? userEnv.all_proxy ?? mine),
      });
    } else if (its && !mine) {
      out.push({
        severity: 'warn',
        summary: `the daemon reaches ${url} through a proxy your shell does not use: what works for you (curl, this doctor's other checks) is not what the daemon does`,
        fix: 'Compare the daemon’s proxy with your network: if the cache is on your LAN, add it to no_proxy for the daemon.',
      });
    }
  }
  for (const d of diffs) {
    if (d.kind === 'ca')
      out.push({
        severity: 'warn',
        summary: `${d.name} differs: the daemon has ${d.daemon ?? '(unset)'}, you have ${d.user ?? '(unset)'} — TLS to https caches is checked against another CA bundle`,
        fix: envFix(d.name, d.user),
      });
    if (d.kind === 'conf')
      out.push({
        severity: 'warn',
        summary: `NIX_CONF_DIR differs: the daemon reads nix.conf from ${d.daemon ?? '/etc/nix'}, you from ${d.user ?? '/etc/nix'} — the settings the doctor read are not the daemon's`,
        fix: envFix(d.name, d.user),
      });
  }
  const awsMine = Object.keys(userEnv).filter((k) => k.startsWith('AWS_'));
  const awsIts = Object.keys(daemonEnv).filter((k) => k.startsWith('AWS_'));
  const s3 = urls.some((u) => u.startsWith('s3://'));
  if (s3 && awsMine.length > 0 && awsIts.length === 0)
    out.push({
      severity: 'warn',
      summary: `you have ${awsMine.join(', ')} but the daemon has no AWS_* variables: it reads ~root/.aws/credentials for s3:// caches, not your shell`,
      fix: `Put the credentials in /root/.aws/credentials (profile in the URL: ?profile=NAME), or ${envFix('AWS_PROFILE', userEnv.AWS_PROFILE ?? 'default')}`,
    });
  return out;
}

/** A nix.conf the daemon reads, changed after it started: it still runs with the old settings. */
export function driftProblem(startedAtMs: number, files: readonly { path: string; mtimeMs: number }[]): DaemonProblem | undefined {
  const changed = files.filter((f) => f.mtimeMs > startedAtMs + 1000);
  if (changed.length === 0) return undefined;
  return {
    severity: 'fail',
    summary: `${changed.map((f) => f.path).join(', ')} changed after the nix-daemon started (${new Date(startedAtMs).toISOString()}): the daemon still runs with the old settings`,
    fix: `Restart it: ${RESTART}\nNixOS: nixos-rebuild switch restarts it when nix.settings change.`,
  };
}
