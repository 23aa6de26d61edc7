import { execa } from 'execa';

/** What Nix itself makes of a nix.conf: the oracle the doctor's verdicts are checked against. */
export interface NixConfVerdict {
  exitCode: number;
  /** Nix's `error:` message (without `error: `), when it refused the configuration. */
  error?: string;
  /** The names Nix warned about as "unknown setting". */
  unknown: string[];
  /** `nix show-config --json`'s values, when it ran. */
  values: Record<string, { value: unknown; aliases?: string[] }>;
}

/** The environment the doctor's tests give the CLI (nixConf's), without NIX_CONFIG, and a cache of its own. */
function nixEnv(env: Record<string, string>): Record<string, string | undefined> {
  return { ...env, NIX_CONFIG: undefined, XDG_CACHE_HOME: `${env.HOME}/.cache-nix` };
}

/** `nix show-config --json` with the nix.conf of ENV (nixConf's): exit code, error line, unknown-setting warnings, values. */
export async function nixShowConfig(env: Record<string, string>): Promise<NixConfVerdict> {
  const r = await execa('nix', ['--extra-experimental-features', 'nix-command', 'show-config', '--json'], {
    reject: false,
    env: nixEnv(env),
    extendEnv: true,
  });
  const stderr = String(r.stderr);
  const error = /^error: (.*)$/m.exec(stderr)?.[1];
  const unknown = [...stderr.matchAll(/^warning: unknown setting '([^']*)'$/gm)].map((m) => m[1] as string);
  const values = r.exitCode === 0 ? (JSON.parse(String(r.stdout)) as NixConfVerdict['values']) : {};
  return { exitCode: r.exitCode ?? -1, ...(error ? { error } : {}), unknown, values };
}

/** `nix store ping --store URL`: whether Nix can open URL as a store, and its error when not. */
export async function nixStorePing(url: string, env: Record<string, string>): Promise<{ exitCode: number; error?: string }> {
  const r = await execa('nix', ['--extra-experimental-features', 'nix-command', 'store', 'ping', '--store', url], {
    reject: false,
    env: nixEnv(env),
    extendEnv: true,
    timeout: 30_000,
  });
  const error = /^error: (.*)$/m.exec(String(r.stderr))?.[1];
  return { exitCode: r.exitCode ?? -1, ...(error ? { error } : {}) };
}
