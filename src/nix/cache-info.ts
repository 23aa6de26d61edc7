import { err, ok, type Result } from './result.js';

export interface CacheInfo {
  storeDir?: string;
  wantMassQuery?: boolean;
  priority?: number;
  /** Fields Nix does not use, kept for the report. */
  other: Record<string, string>;
}

/**
 * Parses `/nix-cache-info` as binary-cache-store.cc does: `Key: value` lines, unknown keys ignored.
 * Nix skips lines without a colon and needs no StoreDir; markup, or no `Key: value` line at all,
 * is what makes it "not a binary cache".
 */
export function parseCacheInfo(text: string): Result<CacheInfo> {
  if (/^\s*</.test(text) || /<html|<!doctype/i.test(text.slice(0, 512))) {
    return err('html', 'the answer is an HTML page, not a nix-cache-info document');
  }
  const info: CacheInfo = { other: {} };
  let fields = 0;
  for (const [index, rawLine] of text.split('\n').entries()) {
    const line = rawLine.replace(/\r$/, '');
    const colon = line.indexOf(':');
    // Nix skips lines without a colon; a key must still look like one for the document to count.
    if (colon <= 0 || !/^[A-Za-z][A-Za-z0-9-]*$/.test(line.slice(0, colon))) continue;
    const key = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    fields++;
    if (key === 'StoreDir') info.storeDir = value;
    else if (key === 'WantMassQuery') info.wantMassQuery = value === '1';
    else if (key === 'Priority') {
      // std::stoi, as Nix 2.8 reads it: the leading integer ("10abc" is 10); no digits, or past a
      // 32-bit int, and Nix stops with "error: stoi".
      const leading = /^[+-]?\d+/.exec(value)?.[0];
      const n = leading === undefined ? Number.NaN : Number(leading);
      if (!Number.isSafeInteger(n) || n < -(2 ** 31) || n > 2 ** 31 - 1)
        return err('bad-priority', `Priority '${value}' is not an integer Nix can read: Nix fails with "error: stoi"`, index + 1);
      info.priority = n;
    } else info.other[key] = value;
  }
  if (fields === 0) return err('not-cache-info', text.trim() === '' ? 'the document is empty' : 'the document has no `Key: value` fields');
  return ok(info);
}
