import { splitList } from './conf.js';
import { canonicalSetting, DEFAULTS, isKnownSetting, LIST_SETTINGS, suggestSetting } from './settings.js';

/** Where a value came from. `system` is what the daemon reads; `user`/`env` only the client does. */
export type ConfLevel = 'system' | 'user' | 'env' | 'cli' | 'default';

export interface Origin {
  file: string;
  line: number;
  level: ConfLevel;
}

export const DEFAULT_ORIGIN: Origin = { file: '(Nix default)', line: 0, level: 'default' };

export interface Assignment {
  name: string;
  value: string;
  origin: Origin;
}

export interface Item {
  value: string;
  origin: Origin;
}

export interface UnknownSetting {
  name: string;
  origin: Origin;
  suggestion?: string;
}

/** The settings after applying every assignment in order, as Nix's `Config::set` would. */
export class EffectiveSettings {
  private readonly items = new Map<string, Item[]>();
  readonly unknown: UnknownSetting[] = [];

  /** Settings not in the doctor's list of Nix's settings are kept aside in `unknown` (the config check
   * drops those the installed Nix knows). */
  constructor(assignments: readonly Assignment[]) {
    for (const a of assignments) {
      if (!isKnownSetting(a.name)) {
        const suggestion = suggestSetting(a.name);
        this.unknown.push(suggestion ? { name: a.name, origin: a.origin, suggestion } : { name: a.name, origin: a.origin });
        continue;
      }
      const { name, extra } = canonicalSetting(a.name);
      const isList = LIST_SETTINGS.has(name);
      const values = isList ? splitList(a.value).map((value) => ({ value, origin: a.origin })) : [{ value: a.value, origin: a.origin }];
      if (extra && isList) {
        this.items.set(name, [...this.list(name), ...values]);
      } else {
        this.items.set(name, values);
      }
    }
  }

  /** True when some file set NAME (rather than Nix's default applying). */
  isSet(name: string): boolean {
    return this.items.has(name);
  }

  /** The scalar value of NAME, or Nix's default. */
  get(name: string): string | undefined {
    const items = this.items.get(name);
    if (items) return items.map((i) => i.value).join(' ');
    return DEFAULTS[name];
  }

  /** Where NAME was last set, or undefined for a default. */
  origin(name: string): Origin | undefined {
    const items = this.items.get(name);
    return items?.[items.length - 1]?.origin;
  }

  /** The tokens of a list setting with their origins, defaults included. */
  list(name: string): Item[] {
    const items = this.items.get(name);
    if (items) return items;
    const fallback = DEFAULTS[name];
    return fallback === undefined ? [] : splitList(fallback).map((value) => ({ value, origin: DEFAULT_ORIGIN }));
  }

  names(): string[] {
    return [...this.items.keys()];
  }
}

export function formatOrigin(origin: Origin): string {
  if (origin.level === 'default') return origin.file;
  return origin.line > 0 ? `${origin.file}:${origin.line}` : origin.file;
}
