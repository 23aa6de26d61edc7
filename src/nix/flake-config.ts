/** A flake's `nixConfig` as Nix 2.8 (flake/config.cc) treats it for this user, setting by setting. */

/** Settings a flake may set without asking (flake/config.cc's whitelist). */
const ALWAYS = new Set(['bash-prompt', 'bash-prompt-prefix', 'bash-prompt-suffix', 'flake-registry', 'commit-lockfile-summary']);
const SUBSTITUTERS = new Set(['substituters', 'extra-substituters']);
const KEYS = new Set(['trusted-public-keys', 'extra-trusted-public-keys']);

export type TrustedSettings = Record<string, Record<string, boolean>>;

export interface FlakeContext {
  acceptFlakeConfig: boolean;
  /** ~/.local/share/nix/trusted-settings.json: setting → value (lists joined by spaces) → the user's answer. */
  saved: TrustedSettings;
  /** A daemon substitutes, and this user is not in trusted-users. */
  untrustedClient: boolean;
  trustedSubstituters: readonly string[];
}

export type FlakeDecision =
  /** Nix applies the setting (always allowed, accepted, or saved as yes). */
  | { kind: 'used'; why: 'always' | 'accept-flake-config' | 'saved' }
  /** Saved as no in trusted-settings.json. */
  | { kind: 'refused' }
  /** Nothing decides it: Nix asks in a terminal and ignores it elsewhere (CI, scripts, nix-direnv). */
  | { kind: 'ask' };

export interface FlakeSetting {
  name: string;
  value: string;
  decision: FlakeDecision;
  /** Applied by the client, but the daemon drops it for an untrusted user (each URL not in trusted-substituters, or a restricted key setting). */
  droppedByDaemon: string[];
}

const asText = (v: unknown): string => (Array.isArray(v) ? v.map(String).join(' ') : String(v));

export function judgeFlakeConfig(nixConfig: Record<string, unknown>, ctx: FlakeContext): FlakeSetting[] {
  return Object.entries(nixConfig).map(([name, raw]) => {
    const value = asText(raw);
    const base = name.replace(/^extra-/, '');
    const saved = ctx.saved[name]?.[value];
    const decision: FlakeDecision = ALWAYS.has(base)
      ? { kind: 'used', why: 'always' }
      : ctx.acceptFlakeConfig
        ? { kind: 'used', why: 'accept-flake-config' }
        : saved === true
          ? { kind: 'used', why: 'saved' }
          : saved === false
            ? { kind: 'refused' }
            : { kind: 'ask' };
    let droppedByDaemon: string[] = [];
    if (decision.kind === 'used' && ctx.untrustedClient) {
      if (SUBSTITUTERS.has(name)) droppedByDaemon = value.split(/\s+/).filter((u) => u && !ctx.trustedSubstituters.includes(u));
      if (KEYS.has(name)) droppedByDaemon = value.split(/\s+/).filter(Boolean);
    }
    return { name, value, decision, droppedByDaemon };
  });
}

/** What Nix prints about SETTING, as the user will have seen it. */
export function nixSays(s: FlakeSetting): string {
  switch (s.decision.kind) {
    case 'refused':
      return `warning: Using saved setting for '${s.name} = ${s.value}' from ~/.local/share/nix/trusted-settings.json.\nwarning: ignoring untrusted flake configuration setting '${s.name}'`;
    case 'ask':
      return `warning: ignoring untrusted flake configuration setting '${s.name}' (in a terminal Nix asks first: do you want to allow configuration setting '${s.name}' to be set to '${s.value}' (y/N)?)`;
    case 'used':
      return s.droppedByDaemon.length
        ? SUBSTITUTERS.has(s.name)
          ? s.droppedByDaemon.map((u) => `warning: ignoring untrusted substituter '${u}'`).join('\n')
          : `warning: ignoring the client-specified setting '${s.name.replace(/^extra-/, '')}', because it is a restricted setting and you are not a trusted user`
        : s.decision.why === 'saved'
          ? `warning: Using saved setting for '${s.name} = ${s.value}' from ~/.local/share/nix/trusted-settings.json.`
          : '';
  }
}

/** Conservative reading when Nix cannot evaluate the file: string lists of the cache settings only. */
export function parseNixConfigText(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const block = /nixConfig\s*=\s*\{([\s\S]*?)\};/.exec(text)?.[1] ?? '';
  const dotted = [...text.matchAll(/nixConfig\.([\w-]+)\s*=\s*(\[[^\]]*\]|"[^"]*")\s*;/g)].map((m) => [m[1], m[2]] as const);
  const inBlock = [...block.matchAll(/([\w-]+)\s*=\s*(\[[^\]]*\]|"[^"]*")\s*;/g)].map((m) => [m[1], m[2]] as const);
  for (const [name, value] of [...inBlock, ...dotted]) {
    if (!name || !value) continue;
    out[name] = [...value.matchAll(/"([^"]*)"/g)].map((m) => m[1] as string);
  }
  return out;
}
