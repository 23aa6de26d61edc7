import { err, ok, type Result } from './result.js';
import type { StoreUrl } from './store-url.js';

export interface NetrcEntry {
  /** undefined for the `default` entry. */
  machine?: string;
  login?: string;
  password?: string;
}

/** The tokens of one netrc line as curl (7.84 and later) reads them: a double-quoted token may hold blanks and \\ \" \n \r \t. */
function lineTokens(line: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < line.length; ) {
    while (i < line.length && /\s/.test(line[i] as string)) i++;
    if (i >= line.length) break;
    if (line[i] === '"') {
      let token = '';
      for (i++; i < line.length && line[i] !== '"'; i++) {
        const ch = line[i] as string;
        if (ch === '\\' && i + 1 < line.length) {
          const e = line[++i] as string;
          token += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : e;
        } else token += ch;
      }
      i++;
      out.push(token);
    } else {
      const start = i;
      while (i < line.length && !/\s/.test(line[i] as string)) i++;
      out.push(line.slice(start, i));
    }
  }
  return out;
}

/**
 * Parses a netrc file as curl does: blank-separated tokens (quoted ones too), `machine`/`default`
 * start an entry, `login`/`password`/`account` take a value, `macdef` runs to the next blank line,
 * and a word curl does not know (`port 443`) is passed over, as curl passes it, not the whole file.
 */
export function parseNetrc(text: string): Result<NetrcEntry[]> {
  const entries: NetrcEntry[] = [];
  const tokens: { value: string; line: number }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (/^\s*#/.test(line)) continue;
    const words = lineTokens(line);
    if (words[0] === 'macdef') {
      while (i + 1 < lines.length && (lines[i + 1] as string).trim() !== '') i++;
      continue;
    }
    for (const value of words) tokens.push({ value, line: i + 1 });
  }
  let current: NetrcEntry | undefined;
  for (let t = 0; t < tokens.length; t++) {
    const { value: word, line } = tokens[t] as { value: string; line: number };
    const next = () => tokens[++t]?.value;
    if (word === 'machine') {
      const machine = next();
      if (machine === undefined) return err('truncated', "'machine' without a host name", line);
      current = { machine };
      entries.push(current);
    } else if (word === 'default') {
      current = {};
      entries.push(current);
    } else if (word === 'login' || word === 'password' || word === 'account') {
      const value = next();
      if (value === undefined) return err('truncated', `'${word}' without a value`, line);
      if (!current) return err('orphan', `'${word}' before any 'machine' line`, line);
      if (word !== 'account') current[word] = value;
    }
    // Any other word (`port`, `443`) is passed over, as curl passes it.
  }
  return ok(entries);
}

/** The entry curl would use for HOST: the first matching machine, else `default`. */
export function netrcFor(entries: readonly NetrcEntry[], host: string): NetrcEntry | undefined {
  return entries.find((e) => e.machine === host) ?? entries.find((e) => e.machine === undefined);
}

export type Credentials = { user: string; password: string; source: 'url' | 'netrc' };

/** What Nix hands curl for a cache: user:password from the URL, else the netrc-file entry for its host. */
export function credentialsFor(url: StoreUrl, netrc: readonly NetrcEntry[]): Credentials | undefined {
  if (url.scheme === 's3') return undefined; // Nix signs S3 requests with AWS credentials instead
  if (url.credentials) return { ...url.credentials, source: 'url' };
  const entry = url.host ? netrcFor(netrc, url.host) : undefined;
  if (entry?.login !== undefined || entry?.password !== undefined)
    return { user: entry.login ?? '', password: entry.password ?? '', source: 'netrc' };
  return undefined;
}
