import { base32Length, decodeBase32, encodeBase32 } from './base32.js';
import { err, ok, type Result } from './result.js';

export type HashAlgo = 'md5' | 'sha1' | 'sha256' | 'sha512';
const SIZES: Record<HashAlgo, number> = { md5: 16, sha1: 20, sha256: 32, sha512: 64 };

export interface Hash {
  algo: HashAlgo;
  bytes: Uint8Array;
}

/** Parses `algo:base32`, `algo:hex`, `algo:base64` or SRI `algo-base64`, as Nix's `Hash::parseAny`. */
export function parseHash(text: string): Result<Hash> {
  const m = /^(md5|sha1|sha256|sha512)([:-])(.+)$/.exec(text.trim());
  if (!m) return err('bad-hash', `'${text.slice(0, 80)}' is not a hash of the form 'sha256:…'`);
  const algo = m[1] as HashAlgo;
  const sri = m[2] === '-';
  const rest = m[3] as string;
  const size = SIZES[algo];
  // Like Nix's Hash constructor, the encoding is told apart by length alone.
  if (!sri && rest.length === size * 2) {
    return /^[0-9a-f]+$/i.test(rest)
      ? ok({ algo, bytes: Buffer.from(rest, 'hex') })
      : err('bad-hash', `invalid hex in '${text.slice(0, 80)}'`);
  }
  if (!sri && rest.length === base32Length(size)) {
    const decoded = decodeBase32(rest, size);
    return decoded.ok ? ok({ algo, bytes: decoded.value }) : decoded;
  }
  if (rest.length === Math.ceil(size / 3) * 4 && /^[A-Za-z0-9+/]+={0,2}$/.test(rest)) {
    const bytes = Buffer.from(rest, 'base64');
    if (bytes.length === size) return ok({ algo, bytes });
  }
  return err('bad-hash', `'${text.slice(0, 80)}' is not a valid ${algo} hash`);
}

export function formatHashBase32(hash: Hash): string {
  return `${hash.algo}:${encodeBase32(hash.bytes)}`;
}
