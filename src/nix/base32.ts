import { err, ok, type Result } from './result.js';

/** Nix's base-32 alphabet: digits and lower-case letters without e, o, u and t. */
export const NIX_BASE32_CHARS = '0123456789abcdfghijklmnpqrsvwxyz';

export function base32Length(bytes: number): number {
  return Math.floor((bytes * 8 - 1) / 5) + 1;
}

/** Encodes bytes as Nix does (hash.cc `printHash32`: least significant bits last). */
export function encodeBase32(bytes: Uint8Array): string {
  const len = base32Length(bytes.length);
  let s = '';
  for (let n = len - 1; n >= 0; n--) {
    const b = n * 5;
    const i = Math.floor(b / 8);
    const j = b % 8;
    const lo = (bytes[i] as number) >> j;
    const hi = i >= bytes.length - 1 ? 0 : (bytes[i + 1] as number) << (8 - j);
    s += NIX_BASE32_CHARS[(lo | hi) & 0x1f];
  }
  return s;
}

export function decodeBase32(s: string, size: number): Result<Uint8Array> {
  if (s.length !== base32Length(size)) {
    return err('bad-length', `base-32 string of ${s.length} characters, expected ${base32Length(size)}`);
  }
  const out = new Uint8Array(size);
  for (let n = 0; n < s.length; n++) {
    const c = s[s.length - n - 1] as string;
    const digit = NIX_BASE32_CHARS.indexOf(c);
    if (digit < 0) return err('bad-char', `invalid base-32 character '${c}'`);
    const b = n * 5;
    const i = Math.floor(b / 8);
    const j = b % 8;
    out[i] = (out[i] as number) | ((digit << j) & 0xff);
    const carry = digit >> (8 - j);
    if (i < size - 1) out[i + 1] = (out[i + 1] as number) | carry;
    else if (carry) return err('bad-value', 'base-32 string overflows the hash size');
  }
  return ok(out);
}
