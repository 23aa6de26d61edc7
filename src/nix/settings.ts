import { NIX1_ONLY_SETTINGS, SETTING_ROWS, TABLE_VERSIONS } from './setting-table.js';

/**
 * What Nix knows about nix.conf setting names, per release: the table in setting-table.ts is
 * generated from Nix's sources (scripts/nix-settings.mjs), so a setting newer than the installed
 * Nix is not a typo and one Nix dropped is named as such.
 */

/** How Nix parses a setting's value (its C++ type): bool, integers of a width, paths, lists… */
export type SettingType =
  | 'bool'
  | 'int32'
  | 'int64'
  | 'uint32'
  | 'uint64'
  | 'string'
  | 'path'
  | 'optional-path'
  | 'strings'
  | 'set'
  | 'path-set'
  | 'features'
  | 'map'
  | 'max-jobs'
  | 'sandbox'
  | 'other';

/** One generated row: name, type (or its changes by version), first and last version, aliases, platform. */
export type SettingRow = readonly [
  name: string,
  type: SettingType | readonly (readonly [version: string, type: SettingType])[],
  since: string,
  until: string | null,
  aliases: readonly (readonly [alias: string, since: string, until?: string])[],
  platform?: 'linux' | 'darwin',
];

/** A setting the installed Nix listed itself (`nix show-config --json`). */
export interface LearntSetting {
  /** As the table has it (its newest type), else only `bool` or `other`: JSON does not say how Nix parses the text. */
  type: SettingType;
  /** Whether `extra-NAME` adds to it (its value is a list or a map). */
  appendable: boolean;
  /** The setting this name is an alias of. */
  aliasOf?: string;
}

/** What the doctor knows of the Nix that will read the files. */
export interface NixKnowledge {
  /** `nix --version` (e.g. `2.8.0`); absent or null: the newest release in the table. */
  version?: string | null | undefined;
  /** `process.platform`: a setting of another platform is unknown to Nix here. */
  platform?: string | undefined;
  /** Names the installed Nix listed (from `nix show-config --json`), with their aliases. */
  learnt?: ReadonlyMap<string, LearntSetting> | undefined;
}

/** What a name on the left of `=` means to that Nix. */
export type SettingLookup =
  | { kind: 'setting'; name: string; type: SettingType; append: boolean }
  | { kind: 'newer'; since: string }
  | { kind: 'removed'; until: string }
  | { kind: 'platform'; platform: string }
  | { kind: 'not-appendable'; base: string; type: SettingType }
  | { kind: 'unknown'; suggestion?: string };

const APPENDABLE: ReadonlySet<SettingType> = new Set(['strings', 'set', 'features', 'map']);
const LIST_TYPES: ReadonlySet<SettingType> = new Set(['strings', 'set', 'path-set', 'features', 'map']);

export function isListType(type: SettingType): boolean {
  return LIST_TYPES.has(type);
}

/** Whether Nix keeps the values of TYPE sorted and unique (a C++ std::set). */
export function isSetType(type: SettingType): boolean {
  return type === 'set' || type === 'path-set' || type === 'features';
}

type Version = readonly [number, number];

function versionOf(text: string): Version | undefined {
  const m = /(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

const compare = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1];
const TABLE = TABLE_VERSIONS.map((v) => versionOf(v) as Version);
const OLDEST = TABLE[0] as Version;
const NEWEST = TABLE[TABLE.length - 1] as Version;
export const NEWEST_KNOWN_NIX = TABLE_VERSIONS[TABLE_VERSIONS.length - 1] as string;

/** The table's release for VERSION: releases outside the table are read as its oldest or newest. */
function tableVersion(version: string | null | undefined): Version {
  const v = version ? versionOf(version) : undefined;
  if (!v || compare(v, NEWEST) > 0) return NEWEST;
  return compare(v, OLDEST) < 0 ? OLDEST : v;
}

/** Whether VERSION is newer than every release the table was made from. */
export function isBeyondTable(version: string | null | undefined): boolean {
  const v = version ? versionOf(version) : undefined;
  return v !== undefined && compare(v, NEWEST) > 0;
}

function within(since: string, until: string | null | undefined, v: Version): boolean {
  return compare(versionOf(since) as Version, v) <= 0 && (!until || compare(v, versionOf(until) as Version) <= 0);
}

function typeAt(row: SettingRow, v: Version): SettingType {
  const t = row[1];
  if (typeof t === 'string') return t;
  let current = (t[0] as readonly [string, SettingType])[1];
  for (const [since, type] of t) if (compare(versionOf(since) as Version, v) <= 0) current = type;
  return current;
}

const BY_NAME = new Map<string, SettingRow>(SETTING_ROWS.map((r) => [r[0], r]));
const BY_ALIAS = new Map<string, { row: SettingRow; since: string; until?: string | undefined }[]>();
for (const row of SETTING_ROWS) {
  for (const [alias, since, until] of row[4]) BY_ALIAS.set(alias, [...(BY_ALIAS.get(alias) ?? []), { row, since, until }]);
}

/** Whether NAME (or NAME without `extra-`) is a setting or alias of some Nix 2 release on some platform. */
export function isEverKnownSetting(name: string): boolean {
  const bare = name.startsWith('extra-') ? name.slice('extra-'.length) : undefined;
  return BY_NAME.has(name) || BY_ALIAS.has(name) || (bare !== undefined && (BY_NAME.has(bare) || BY_ALIAS.has(bare)));
}

/** The setting NAME (a name or an alias) sets in release V, platform aside. */
function resolveAt(name: string, v: Version): { row: SettingRow; type: SettingType } | undefined {
  const row = BY_NAME.get(name);
  if (row && within(row[2], row[3], v)) return { row, type: typeAt(row, v) };
  for (const a of BY_ALIAS.get(name) ?? []) {
    if (within(a.since, a.until, v) && within(a.row[2], a.row[3], v)) return { row: a.row, type: typeAt(a.row, v) };
  }
  return undefined;
}

/** Generic `extra-NAME` appending came with Nix 2.4 (before, only a few `extra-…` settings existed). */
const GENERIC_EXTRA: Version = [2, 4];

/** NAME in release V as Nix's `Config::set` reads it, or undefined when V does not have it. */
function settingAt(name: string, v: Version, platform: string | undefined): SettingLookup | undefined {
  const found = resolveAt(name, v);
  if (found) {
    const only = found.row[5];
    if (only && platform && only !== platform) return { kind: 'platform', platform: only };
    const canonical = found.row[0];
    // Nix < 2.4 had `extra-substituters` and `extra-sandbox-paths` as settings of their own, merged when used.
    const base = canonical.startsWith('extra-') ? resolveAt(canonical.slice(6), v) : undefined;
    if (base && APPENDABLE.has(base.type)) return { kind: 'setting', name: base.row[0], type: base.type, append: true };
    return { kind: 'setting', name: canonical, type: found.type, append: false };
  }
  if (name.startsWith('extra-') && compare(v, GENERIC_EXTRA) >= 0) {
    const base = settingAt(name.slice(6), v, platform);
    if (base?.kind === 'setting') {
      return APPENDABLE.has(base.type) ? { ...base, append: true } : { kind: 'not-appendable', base: base.name, type: base.type };
    }
    return base?.kind === 'platform' ? base : undefined;
  }
  return undefined;
}

function learntSetting(name: string, learnt: ReadonlyMap<string, LearntSetting> | undefined): SettingLookup | undefined {
  const own = learnt?.get(name);
  if (own) return { kind: 'setting', name: own.aliasOf ?? name, type: own.type, append: false };
  const base = name.startsWith('extra-') ? learnt?.get(name.slice(6)) : undefined;
  if (!base) return undefined;
  const canonical = base.aliasOf ?? name.slice(6);
  return base.appendable
    ? { kind: 'setting', name: canonical, type: base.type, append: true }
    : { kind: 'not-appendable', base: canonical, type: base.type };
}

/** What NAME means to the Nix described by KNOWLEDGE: a setting (with the one it sets), or why Nix ignores it. */
export function lookupSetting(name: string, knowledge: NixKnowledge = {}): SettingLookup {
  // Asked once per name and knowledge: a nix.conf repeating one misspelt name 5,000 times would
  // otherwise search for "did you mean" 5,000 times.
  let known = lookups.get(knowledge);
  if (!known) {
    known = new Map();
    lookups.set(knowledge, known);
  }
  const remembered = known.get(name);
  if (remembered) return remembered;
  const found = lookupUncached(name, knowledge);
  known.set(name, found);
  return found;
}

const lookups = new WeakMap<NixKnowledge, Map<string, SettingLookup>>();

function lookupUncached(name: string, knowledge: NixKnowledge): SettingLookup {
  const v = tableVersion(knowledge.version);
  const here = settingAt(name, v, knowledge.platform);
  if (here?.kind === 'setting') return here;
  const learnt = learntSetting(name, knowledge.learnt);
  if (learnt) return learnt;
  if (here) return here;
  const later = TABLE.find((t) => compare(t, v) > 0 && settingAt(name, t, undefined)?.kind === 'setting');
  if (later) return { kind: 'newer', since: `${later[0]}.${later[1]}` };
  const earlier = TABLE.filter((t) => compare(t, v) < 0 && settingAt(name, t, undefined)?.kind === 'setting').at(-1);
  if (earlier) return { kind: 'removed', until: `${earlier[0]}.${earlier[1]}` };
  if (NIX1_ONLY_SETTINGS.includes(name)) return { kind: 'removed', until: '1.11' };
  const suggestion = suggestSetting(name, knowledge);
  return suggestion ? { kind: 'unknown', suggestion } : { kind: 'unknown' };
}

/** The type of the canonical setting NAME in that Nix (undefined when it has no such setting). */
export function settingType(name: string, knowledge: NixKnowledge = {}): SettingType | undefined {
  const found = settingAt(name, tableVersion(knowledge.version), undefined);
  if (found?.kind === 'setting') return found.type;
  return knowledge.learnt?.get(name)?.type;
}

/** The settings of a release (on PLATFORM, when given), with the aliases that release has for each. */
export function settingsOfRelease(knowledge: NixKnowledge): { name: string; type: SettingType; aliases: string[] }[] {
  const v = tableVersion(knowledge.version);
  return SETTING_ROWS.filter((row) => within(row[2], row[3], v) && !(row[5] && knowledge.platform && row[5] !== knowledge.platform)).map(
    (row) => ({
      name: row[0],
      type: typeAt(row, v),
      aliases: row[4].filter(([, since, until]) => within(since, until, v)).map(([a]) => a),
    }),
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

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function commonSuffix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[a.length - 1 - i] === b[b.length - 1 - i]) i++;
  return i;
}

/**
 * The real setting an unknown name most likely misspells, among those the given Nix has. Equally
 * close names are told apart by the longest shared beginning, then ending (`substituter` is
 * `substituters`, not `substitute`), then a setting's own name before an alias; the canonical
 * name is suggested, keeping an `extra-` prefix.
 */
export function suggestSetting(name: string, knowledge: NixKnowledge = {}): string | undefined {
  const v = tableVersion(knowledge.version);
  const prefix = name.startsWith('extra-') ? 'extra-' : '';
  const bare = name.slice(prefix.length);
  const candidates: { text: string; canonical: string; alias: boolean }[] = [];
  for (const row of SETTING_ROWS) {
    if (!within(row[2], row[3], v) || (row[5] && knowledge.platform && row[5] !== knowledge.platform)) continue;
    if (prefix && !APPENDABLE.has(typeAt(row, v))) continue;
    candidates.push({ text: row[0], canonical: row[0], alias: false });
    for (const [alias, since, until] of row[4])
      if (within(since, until, v)) candidates.push({ text: alias, canonical: row[0], alias: true });
  }
  for (const [learnt, s] of knowledge.learnt ?? []) {
    if (!prefix || s.appendable) candidates.push({ text: learnt, canonical: s.aliasOf ?? learnt, alias: Boolean(s.aliasOf) });
  }
  const limit = bare.length <= 4 ? 1 : bare.length <= 8 ? 2 : 3;
  // A name whose length differs by more than the limit is further away than it: no distance to compute.
  const ranked = candidates
    .filter((c) => Math.abs(c.text.length - bare.length) <= limit)
    .map((c) => ({ ...c, distance: editDistance(bare, c.text), prefix: commonPrefix(bare, c.text), suffix: commonSuffix(bare, c.text) }))
    .sort(
      (a, b) =>
        a.distance - b.distance ||
        b.prefix - a.prefix ||
        b.suffix - a.suffix ||
        Number(a.alias) - Number(b.alias) ||
        a.text.localeCompare(b.text),
    );
  const best = ranked[0];
  if (!best || best.canonical === bare) return undefined;
  return best.distance <= limit ? prefix + best.canonical : undefined;
}

/** A value as Nix's setting of TYPE parses it: the value Nix keeps (booleans as `true`/`false`), or Nix's error. */
export type ValueCheck = { ok: true; value: string } | { ok: false; message: string };

const INT_RANGE: Record<string, { bits: number; signed: boolean }> = {
  int32: { bits: 32, signed: true },
  int64: { bits: 64, signed: true },
  uint32: { bits: 32, signed: false },
  uint64: { bits: 64, signed: false },
};
/** Integer settings take a K, M, G or T suffix from Nix 2.23 on. */
const UNIT_SUFFIXES: Version = [2, 23];
/** Path settings refuse an empty value from 2.17 on (before, the only path settings allowed it). */
const NO_EMPTY_PATHS: Version = [2, 17];

/** `string2Int<N>` (boost::lexical_cast): an optional sign, decimal digits, in N's range; no '-' for unsigned. */
function parseInteger(text: string, bits: number, signed: boolean): bigint | undefined {
  if (!/^[+-]?\d+$/.test(text) || (!signed && text.startsWith('-'))) return undefined;
  const n = BigInt(text);
  const max = signed ? 2n ** BigInt(bits - 1) - 1n : 2n ** BigInt(bits) - 1n;
  const min = signed ? -(2n ** BigInt(bits - 1)) : 0n;
  return n < min || n > max ? undefined : n;
}

/** Checks VALUE as Nix parses setting NAME of TYPE (Nix's `BaseSetting<T>::set`/`parse`), with Nix's message. */
export function checkSettingValue(name: string, type: SettingType, value: string, knowledge: NixKnowledge = {}): ValueCheck {
  const v = tableVersion(knowledge.version);
  const range = INT_RANGE[type];
  if (type === 'bool') {
    if (value === 'true' || value === 'yes' || value === '1') return { ok: true, value: 'true' };
    if (value === 'false' || value === 'no' || value === '0') return { ok: true, value: 'false' };
    return { ok: false, message: `Boolean setting '${name}' has invalid value '${value}'` };
  }
  if (range) {
    const unit = compare(v, UNIT_SUFFIXES) >= 0 && /[a-z]$/i.test(value) ? value.slice(-1).toUpperCase() : '';
    const digits = unit ? value.slice(0, -1) : value;
    const good = (unit === '' || 'KMGT'.includes(unit)) && parseInteger(digits, range.bits, range.signed) !== undefined;
    return good ? { ok: true, value } : { ok: false, message: `setting '${name}' has invalid value '${value}'` };
  }
  if (type === 'max-jobs') {
    return value === 'auto' || parseInteger(value, 32, false) !== undefined
      ? { ok: true, value }
      : { ok: false, message: `configuration setting '${name}' should be 'auto' or an integer` };
  }
  if (type === 'sandbox') {
    return ['true', 'false', 'relaxed'].includes(value)
      ? { ok: true, value }
      : { ok: false, message: `option '${name}' has invalid value '${value}'` };
  }
  if (type === 'path' || type === 'optional-path') {
    if (value === '') {
      return type === 'path' && compare(v, NO_EMPTY_PATHS) >= 0
        ? { ok: false, message: `setting '${name}' is a path and paths cannot be empty` }
        : { ok: true, value };
    }
    return value.startsWith('/') ? { ok: true, value } : { ok: false, message: `not an absolute path: '${value}'` };
  }
  return { ok: true, value };
}

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

/**
 * The settings and aliases the installed Nix listed in `nix show-config --json` (`{ name: { value,
 * aliases } }`). Their types are the table's where it has the name; otherwise JSON tells only
 * booleans and whether a value is a list or map (how Nix parses the text is not known).
 */
export function learntSettings(values: Record<string, unknown>): Map<string, LearntSetting> {
  const out = new Map<string, LearntSetting>();
  for (const [name, entry] of Object.entries(values)) {
    if (!entry || typeof entry !== 'object') continue;
    const value = 'value' in entry ? entry.value : undefined;
    const row = BY_NAME.get(name);
    const type: SettingType = row ? typeAt(row, NEWEST) : typeof value === 'boolean' ? 'bool' : 'other';
    const appendable = row ? APPENDABLE.has(type) : Boolean(value && typeof value === 'object');
    out.set(name, { type, appendable });
    const aliases = 'aliases' in entry && Array.isArray(entry.aliases) ? entry.aliases : [];
    for (const alias of aliases) if (typeof alias === 'string' && !out.has(alias)) out.set(alias, { type, appendable, aliasOf: name });
  }
  return out;
}
