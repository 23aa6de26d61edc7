import { err, ok, type Result } from './result.js';

/** One meaningful line of a nix.conf, as Nix's config.cc `applyConfigInner` reads it. */
export type ConfLine =
  | { kind: 'set'; name: string; value: string; line: number; continued?: { lines: number[]; tokens: string[] } }
  | { kind: 'include'; path: string; optional: boolean; line: number };

export interface ParsedConf {
  lines: ConfLine[];
  /** Lines Nix would reject with "illegal configuration line"; Nix stops at the first one. */
  errors: { line: number; message: string; text: string }[];
  /** Set when MAXLINES was reached: the line parsing stopped before (the rest of the text is not read). */
  stoppedAt?: number;
}

/**
 * Parses nix.conf text exactly as Nix tokenizes it: `#` starts a comment anywhere, tokens are split
 * on blanks, a setting needs `=` as its own second token, `include`/`!include` take one path.
 * At most MAXLINES settings, includes and illegal lines are kept, so a file of millions of lines
 * costs the memory of MAXLINES, not of the file; blank and comment lines cost nothing.
 */
export function parseNixConf(text: string, maxLines = Number.POSITIVE_INFINITY): ParsedConf {
  const lines: ConfLine[] = [];
  const errors: ParsedConf['errors'] = [];
  for (let start = 0, lineNo = 1; start <= text.length; lineNo++) {
    const end = lineEnd(text, start);
    const next = end + 1;
    const { content, tokens } = tokenize(text.slice(start, end));
    start = next;
    if (tokens.length === 0) continue;
    if (lines.length + errors.length >= maxLines) return { lines, errors, stoppedAt: lineNo };
    // Nix quotes the line as it is, comment cut off but blanks kept.
    const shown = content.replace(/\r$/, '').slice(0, 200);
    const illegal = () => {
      errors.push({ line: lineNo, message: `illegal configuration line '${shown}'`, text: shown });
    };
    if (tokens.length < 2) {
      illegal();
      continue;
    }
    const first = tokens[0] as string;
    if (first === 'include' || first === '!include') {
      if (tokens.length !== 2) illegal();
      else lines.push({ kind: 'include', path: tokens[1] as string, optional: first === '!include', line: lineNo });
      continue;
    }
    if (tokens[1] !== '=') illegal();
    else {
      const continued = endsInBackslash(tokens) ? continuation(text, next, lineNo) : undefined;
      lines.push({ kind: 'set', name: first, value: tokens.slice(2).join(' '), line: lineNo, ...(continued ? { continued } : {}) });
    }
  }
  return { lines, errors };
}

function lineEnd(text: string, start: number): number {
  const end = text.indexOf('\n', start);
  return end < 0 ? text.length : end;
}

function tokenize(raw: string): { content: string; tokens: string[] } {
  const hash = raw.indexOf('#');
  const content = hash >= 0 ? raw.slice(0, hash) : raw;
  return { content, tokens: content.split(/[ \t\r\n]+/).filter((t) => t.length > 0) };
}

function endsInBackslash(tokens: readonly string[]): boolean {
  return tokens.length > 0 && (tokens[tokens.length - 1] as string).endsWith('\\');
}

/**
 * The lines after line LINENO (whose text starts at offset FROM) that its trailing `\` meant to
 * continue, as a shell would have joined them. nix.conf has no continuation: Nix keeps the `\` as
 * a value and reads each such line on its own.
 */
function continuation(text: string, from: number, lineNo: number): { lines: number[]; tokens: string[] } {
  const lines: number[] = [];
  const tokens: string[] = [];
  for (let start = from, j = lineNo + 1; start <= text.length; j++) {
    const end = lineEnd(text, start);
    const next = tokenize(text.slice(start, end)).tokens;
    start = end + 1;
    // A line of its own setting is not a continuation, whatever came before.
    if (next.length === 0 || next[1] === '=' || next[0] === 'include' || next[0] === '!include') break;
    lines.push(j);
    tokens.push(...next);
    if (!endsInBackslash(next)) break;
  }
  return { lines, tokens };
}

/** Splits a list-valued setting the way Nix does (on any whitespace). */
export function splitList(value: string): string[] {
  return value.split(/[ \t\r\n]+/).filter((t) => t.length > 0);
}

/** Parses a boolean setting as Nix's `Setting<bool>::set` does. */
export function parseBool(value: string): Result<boolean> {
  if (value === 'true' || value === 'yes' || value === '1') return ok(true);
  if (value === 'false' || value === 'no' || value === '0') return ok(false);
  return err('bad-bool', `invalid boolean '${value}'`);
}
