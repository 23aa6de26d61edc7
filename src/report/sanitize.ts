import type { Report } from './model.js';

/**
 * Text a cache, a file or a tool supplied reaches a person only through here. Control characters
 * (C0 but newline, DEL, C1), escape sequences, bidirectional overrides and a bare carriage return
 * become visible escapes (`\x1b`, `\r`, `\u202e`), as Nix prints them instead of letting them act
 * on the terminal; a tab becomes spaces. Newlines stay: multi-line fields are laid out by the
 * renderers. The JSON keeps the exact strings (see `jsonSafe`).
 */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function visible(ch: string): string {
  const code = ch.charCodeAt(0);
  if (ch === '\r') return '\\r';
  if (ch === '\u001b') return '\\x1b';
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Tested before anything is replaced: nearly every string is already safe, and stays the same string. */
const NEEDS_WORK = /[\t\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** One string made safe to show: every unsafe character visible, tabs as spaces. */
export function displayText(text: string): string {
  if (!NEEDS_WORK.test(text)) return text;
  return text.replace(/\t/g, '    ').replace(UNSAFE, visible);
}

/** VALUE with every string in it, keys too, through SHOW (displayText unless told otherwise). */
export function deep<T>(value: T, show: (text: string) => string = displayText): T {
  if (typeof value === 'string') return show(value) as T;
  if (Array.isArray(value)) return value.map((v) => deep(v, show)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[show(k)] = deep(v, show);
    return out as T;
  }
  return value;
}

/** The report as the table and the Markdown show it: every string through displayText. */
export function forDisplay(report: Report): Report {
  return deep(report);
}

/** Any part of a report (a section's checks, a cache), made safe to show: for renderers that go piece by piece. */
export function displayed<T>(value: T): T {
  return deep(value);
}

/**
 * The JSON text with the characters JSON.stringify leaves raw but a terminal would act on (DEL, C1,
 * bidirectional overrides, line and paragraph separators) written as \u escapes: the same strings
 * to a parser, nothing active to a person who prints the file.
 */
export function jsonSafe(json: string): string {
  return json.replace(
    /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
