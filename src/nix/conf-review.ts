import { splitList } from './conf.js';
import { type Assignment, EffectiveSettings, formatOrigin, type InvalidSetting, type UnknownSetting } from './config.js';
import {
  isBeyondTable,
  isListType,
  isSetType,
  lookupSetting,
  NEWEST_KNOWN_NIX,
  type NixKnowledge,
  type SettingType,
  settingType,
} from './settings.js';

/** One thing the config check says about a nix.conf line: a line for the detail, and the fix. */
export interface ConfNote {
  /** Position of the line in the order Nix reads the files (notes sort by it). */
  index: number;
  /** `file:line`. */
  at: string;
  /** One line, `file:line: …`. */
  text: string;
  fix?: string;
}

/** What Nix does with the assignments the files hold, judged for one Nix release. */
export interface ConfReview {
  /** Values Nix refuses: it stops with `error: …` and no Nix command works. */
  refused: (ConfNote & { message: string })[];
  /** Names Nix ignores (it warns "unknown setting"): typos, newer or removed settings, another platform's. */
  ignored: (ConfNote & { setting: UnknownSetting })[];
  /** Values Nix takes literally though they were meant otherwise: quotes, list syntax, shell variables, `\`. */
  literal: ConfNote[];
}

/** Names dropped in Nix 2.0: the setting that does their job now, and what to do about the line. */
const NIX1_REPLACEMENTS: Readonly<Record<string, { setting: string; fix?: string }>> = {
  // `signed-binary-caches = *` asked for signatures; Nix 2 requires them unless require-sigs = false.
  'signed-binary-caches': { setting: 'require-sigs', fix: 'Nix 2 checks signatures unless require-sigs = false' },
  'use-binary-caches': { setting: 'substitute' },
};

export function reviewAssignments(assignments: readonly Assignment[], knowledge: NixKnowledge): ConfReview {
  const applied = new EffectiveSettings(assignments, knowledge);
  const nix = knowledge.version ? `Nix ${knowledge.version}` : 'Nix';
  // By identity, first occurrence first, as findIndex would: one pass, not one per note.
  const positions = new Map<Assignment['origin'], number>();
  assignments.forEach((a, index) => {
    if (!positions.has(a.origin)) positions.set(a.origin, index);
  });
  const indexOf = (origin: Assignment['origin']) => positions.get(origin) ?? -1;
  // Once per name: a name no release has costs a did-you-mean search of a few ms.
  const lookups = new Map<string, ReturnType<typeof lookupSetting>>();
  const lookup = (name: string) => {
    const known = lookups.get(name);
    if (known) return known;
    const found = lookupSetting(name, knowledge);
    lookups.set(name, found);
    return found;
  };
  return {
    refused: applied.invalid.map((i) => ({ ...refusal(i, knowledge), index: indexOf(i.origin) })),
    ignored: applied.unknown.map((u) => ({ ...ignoredNote(u, nix, knowledge), index: indexOf(u.origin), setting: u })),
    literal: assignments.flatMap((a, index) => {
      const note = literalNote(a, lookup(a.name));
      return note ? [{ ...note, index }] : [];
    }),
  };
}

function ignoredNote(u: UnknownSetting, nix: string, knowledge: NixKnowledge): Omit<ConfNote, 'index'> {
  const at = formatOrigin(u.origin);
  const rename = (to: string) => `Rename '${u.name}' to '${to}' at ${at}.`;
  const lookup = u.lookup ?? { kind: 'unknown' };
  switch (lookup.kind) {
    case 'newer':
      return {
        at,
        text: `${at}: '${u.name}' is a setting of Nix ${lookup.since} and later: ${nix} ignores it ("unknown setting '${u.name}'")`,
        fix: `Upgrade Nix to ${lookup.since} or later for '${u.name}', or remove it (${at}).`,
      };
    case 'removed': {
      const instead = replacementOf(u.name, lookup.until, knowledge);
      const last = lookup.until === '1.11' ? 'Nix 2.0 dropped it' : `Nix ${lookup.until} was the last to have it`;
      const remove = NIX1_REPLACEMENTS[u.name]?.fix;
      return {
        at,
        text: `${at}: '${u.name}' is obsolete — ${last}: ${nix} ignores it ("unknown setting '${u.name}'")${instead ? `; the setting is now '${instead}'` : ''}`,
        fix: instead && !remove ? rename(instead) : `Remove '${u.name}' (${at})${remove ? `: ${remove}` : ''}.`,
      };
    }
    case 'platform': {
      const os = lookup.platform === 'darwin' ? 'macOS' : 'Linux';
      return { at, text: `${at}: '${u.name}' is a setting of Nix on ${os} only: Nix here ignores it ("unknown setting '${u.name}'")` };
    }
    case 'not-appendable':
      return {
        at,
        text: `${at}: unknown setting '${u.name}' — '${lookup.base}' holds one value, so Nix has no '${u.name}' to add to it`,
        fix: rename(lookup.base),
      };
    default: {
      const beyond = isBeyondTable(knowledge.version)
        ? ` (${nix} is newer than the releases the doctor knows, up to ${NEWEST_KNOWN_NIX}: it may be a new setting)`
        : '';
      return {
        at,
        text: `${at}: unknown setting '${u.name}'${u.suggestion ? ` — did you mean '${u.suggestion}'?` : ''}${beyond}`,
        ...(u.suggestion ? { fix: rename(u.suggestion) } : {}),
      };
    }
  }
}

/** What an obsolete NAME (last in release UNTIL) is written as now, when that still exists. */
function replacementOf(name: string, until: string, knowledge: NixKnowledge): string | undefined {
  const then = until === '1.11' ? undefined : lookupSetting(name, { version: until });
  const now = then?.kind === 'setting' ? (then.append ? `extra-${then.name}` : then.name) : NIX1_REPLACEMENTS[name]?.setting;
  return now && lookupSetting(now, knowledge).kind === 'setting' ? now : undefined;
}

function refusal(i: InvalidSetting, knowledge: NixKnowledge): Omit<ConfReview['refused'][number], 'index'> {
  const at = formatOrigin(i.origin);
  const lines = runTogether(i, knowledge);
  const type = lookupSetting(i.name, knowledge);
  const expected = type.kind === 'setting' ? EXPECTED[type.type] : undefined;
  const fix = lines
    ? `Put each setting on a line of its own (${at}):\n${lines.join('\n')}`
    : `Give '${i.name}' ${expected ?? 'a value Nix accepts'} at ${at}${unquoted(i.value) !== i.value ? ` — without the quotes: ${i.name} = ${unquoted(i.value)}` : ''}.`;
  return { at, text: `${at}: ${i.message}`, message: i.message, fix };
}

const EXPECTED: Partial<Record<SettingType, string>> = {
  bool: 'true or false',
  int32: 'a whole number',
  int64: 'a whole number',
  uint32: 'a whole number (0 or more)',
  uint64: 'a whole number (0 or more)',
  'max-jobs': "'auto' or a whole number",
  sandbox: 'true, false or relaxed',
  path: 'an absolute path',
  'optional-path': 'an absolute path (or nothing)',
};

/** `max-jobs = auto cores = 0 keep-outputs = true`: several settings run together on one line, one per line. */
function runTogether(i: InvalidSetting, knowledge: NixKnowledge): string[] | undefined {
  const tokens = splitList(i.value);
  const starts = tokens.flatMap((t, k) => (tokens[k + 1] === '=' && lookupSetting(t, knowledge).kind === 'setting' ? [k] : []));
  if (starts.length === 0) return undefined;
  const lines = [`${i.name} = ${tokens.slice(0, starts[0]).join(' ')}`.trimEnd()];
  starts.forEach((s, k) => {
    lines.push(`${tokens[s]} = ${tokens.slice(s + 2, starts[k + 1]).join(' ')}`.trimEnd());
  });
  return lines;
}

function unquoted(value: string): string {
  return value.replace(/^(["'])(.*)\1$/, '$2');
}

/** Why Nix would keep TOKEN literally where something else was meant, or undefined when it looks as meant. */
export function literalTokenProblem(token: string): { kind: string; why: string } | undefined {
  if (/\\$/.test(token)) return { kind: 'continuation', why: "a '\\' line continuation, which nix.conf does not have" };
  const variable = /\$(\{[^}]*\}?|\(|[A-Za-z_][A-Za-z0-9_]*)/.exec(token);
  if (variable) return { kind: 'shell-variable', why: `the shell variable ${variable[0]}, which Nix does not expand` };
  if (/^["']|["']$/.test(token)) return { kind: 'quote', why: 'quotes, which Nix keeps as part of the value' };
  // A trailing ']' closes a list unless the token opened it (an IPv6 address: http://[::1]).
  if (/^\[|,$/.test(token) || (token.endsWith(']') && !token.includes('[')))
    return { kind: 'list-syntax', why: 'Nix-language list syntax, which nix.conf does not have' };
  return undefined;
}

/** The literal tokens of A's value that were meant as something else, and the line to write instead. */
function literalNote(a: Assignment, found: ReturnType<typeof lookupSetting>): Omit<ConfNote, 'index'> | undefined {
  if (found.kind !== 'setting') return undefined;
  const at = formatOrigin(a.origin);
  const isList = isListType(found.type);
  const tokens = [...splitList(a.value), ...(a.continued?.tokens ?? [])];
  // A single value is judged whole, for quotes only: a prompt or a command may hold `$` or `\` as meant.
  const suspects = isList ? splitList(a.value).filter((t) => literalTokenProblem(t)) : /^(["']).*\1$/s.test(a.value) ? [a.value] : [];
  if (suspects.length === 0) return undefined;
  const problem = literalTokenProblem(suspects[0] as string) as { kind: string; why: string };
  const written = isList
    ? tokens.map((t) => (literalTokenProblem(t) ? rewriteToken(t) : t)).filter((t) => t.length > 0)
    : [unquoted(a.value)];
  const continued = a.continued?.lines ?? [];
  const own = continued.length > 1 ? 'their' : 'its';
  const joined = continued.length ? ` (and Nix reads line${continued.length > 1 ? 's' : ''} ${continued.join(', ')} on ${own} own)` : '';
  const what = isList ? `entries ${suspects.map((t) => `'${t}'`).join(', ')}` : `value '${a.value}'`;
  const shell = suspects.some((t) => literalTokenProblem(t)?.kind === 'shell-variable')
    ? "\nNix does not expand variables: write the value itself (in a shell heredoc, an unquoted delimiter — <<EOF, not <<'EOF' — lets the shell expand it)."
    : '';
  return {
    at,
    text: `${at}: ${a.name} gets the ${what} — ${problem.why}${joined}`,
    fix: `Write at ${at}: ${a.name} = ${written.join(' ')}${shell}`,
  };
}

/** What TOKEN was meant to be: without quotes, brackets, commas or a trailing `\`; a shell variable as a placeholder. */
function rewriteToken(token: string): string {
  if (literalTokenProblem(token)?.kind === 'shell-variable')
    return token.replace(/\$(\{[^}]*\}?|\(|[A-Za-z_][A-Za-z0-9_]*)/g, '<value of $&>');
  return token.replace(/^[["']+/, '').replace(/[\]"',\\]+$/, '');
}

/** A setting whose value Nix reports otherwise than the files give it. */
export interface NixDifference {
  name: string;
  nix: string;
  files: string;
}

/**
 * Nix's effective values (`nix show-config --json`: `{ NAME: { value } }`) against the files', for
 * NAMES: set-typed settings (Nix keeps them sorted and unique) compared as sets, booleans as booleans.
 */
export function differencesFromNix(
  settings: EffectiveSettings,
  values: Record<string, unknown>,
  names: readonly string[],
  knowledge: NixKnowledge,
): NixDifference[] {
  const out: NixDifference[] = [];
  for (const name of names) {
    const theirs = values[name];
    if (!theirs || typeof theirs !== 'object' || !('value' in theirs)) continue;
    const type = settingType(name, knowledge);
    let nix = Array.isArray(theirs.value) ? theirs.value.map(String) : [String(theirs.value)];
    let files = type === 'bool' ? [String(settings.bool(name) ?? '')] : settings.list(name).map((i) => i.value);
    if (type && isSetType(type)) {
      nix = [...new Set(nix)].sort();
      files = [...new Set(files)].sort();
    }
    if (nix.join(' ') !== files.join(' ')) out.push({ name, nix: nix.join(' '), files: files.join(' ') });
  }
  return out;
}

/** Nix's `error:` message in what a failed `nix` printed (its other lines are hints such as "Try 'nix --help'"). */
export function nixErrorMessage(output: string): string | undefined {
  const line = output.split('\n').find((l) => /^error: /.test(l.trim()));
  return line?.trim().slice('error: '.length);
}
