import { splitList } from './conf.js';
import { checkSettingValue, DEFAULTS, isListType, lookupSetting, type NixKnowledge, type SettingLookup } from './settings.js';

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
  /** The lines after ORIGIN's that a trailing `\` meant to continue this one (Nix reads them as lines of their own). */
  continued?: { lines: number[]; tokens: string[] };
}

export interface Item {
  value: string;
  origin: Origin;
}

/** A name Nix does not apply: unknown (with a likely meant name), newer than that Nix, removed, another platform's… */
export interface UnknownSetting {
  name: string;
  origin: Origin;
  suggestion?: string;
  lookup?: Exclude<SettingLookup, { kind: 'setting' }>;
}

/** An assignment Nix refuses outright (the whole configuration with it): a value its type cannot parse. */
export interface InvalidSetting {
  name: string;
  /** The setting it sets (the alias or `extra-` resolved). */
  setting: string;
  value: string;
  origin: Origin;
  /** Nix's own message, without `error: `. */
  message: string;
}

/** The settings after applying every assignment in order, as Nix's `Config::set` would. */
export class EffectiveSettings {
  private readonly items = new Map<string, Item[]>();
  readonly unknown: UnknownSetting[] = [];
  readonly invalid: InvalidSetting[] = [];
  readonly assignments: readonly Assignment[];

  /**
   * Applies ASSIGNMENTS as the Nix described by KNOWLEDGE would (by default the newest release the
   * doctor knows): names it ignores go to `unknown`, values it refuses to `invalid`; neither applies.
   * Booleans are kept as Nix prints them (`yes` → `true`).
   */
  constructor(
    assignments: readonly Assignment[],
    readonly knowledge: NixKnowledge = {},
  ) {
    this.assignments = assignments;
    for (const a of assignments) {
      const found = lookupSetting(a.name, knowledge);
      if (found.kind !== 'setting') {
        const suggestion = found.kind === 'unknown' ? found.suggestion : undefined;
        this.unknown.push({ name: a.name, origin: a.origin, ...(suggestion ? { suggestion } : {}), lookup: found });
        continue;
      }
      const { name, append, type } = found;
      const checked = checkSettingValue(name, type, a.value, knowledge);
      if (!checked.ok) {
        this.invalid.push({ name: a.name, setting: name, value: a.value, origin: a.origin, message: checked.message });
        continue;
      }
      const values = isListType(type)
        ? splitList(a.value).map((value) => ({ value, origin: a.origin }))
        : [{ value: checked.value, origin: a.origin }];
      // Appended in place (a list of its own from the first value on): copying it at every
      // `extra-` line made 10,000 such lines quadratic.
      const current = append ? this.items.get(name) : undefined;
      if (current) for (const v of values) current.push(v);
      else this.items.set(name, append ? [...this.list(name), ...values] : values);
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

  /** A boolean setting as Nix reads it (`true`/`yes`/`1`), or undefined when neither set nor defaulted here. */
  bool(name: string): boolean | undefined {
    const value = this.get(name);
    return value === undefined ? undefined : value === 'true';
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
