import { createHash } from 'node:crypto';
import { encodeBase32 } from './base32.js';
import { type Hash, parseHash } from './hash.js';
import type { NarInfo } from './narinfo.js';
import { err, ok, type Result } from './result.js';

/**
 * A narinfo's `CA:` field as Nix 2.8 reads it (content-address.cc `parseContentAddress`):
 * `text:sha256:<hash>` (builtins.toFile, .drv files), `fixed:<algo>:<hash>` (a flat file: nix-store
 * --add-fixed, most fixed-output derivations) or `fixed:r:<algo>:<hash>` (a NAR serialisation:
 * nix-store --add, --add-fixed --recursive, nix store make-content-addressed).
 */
export type ContentAddress = { method: 'text'; hash: Hash } | { method: 'flat' | 'recursive'; hash: Hash };

export function parseContentAddress(text: string): Result<ContentAddress> {
  const m = /^(text|fixed):(r:)?([^:]*):(.*)$/s.exec(text);
  if (!m) {
    const prefix = text.split(':')[0] ?? '';
    return text.includes(':') && prefix !== 'text' && prefix !== 'fixed'
      ? err('bad-ca', `content address prefix '${prefix.slice(0, 40)}' is unrecognized (Nix knows 'text' and 'fixed')`)
      : err('bad-ca', `'${text.slice(0, 80)}' is not a content address of the form 'text:sha256:…' or 'fixed:…'`);
  }
  const [, prefix, r, algo, rest] = m as unknown as [string, 'text' | 'fixed', string | undefined, string, string];
  if (prefix === 'text' && r) return err('bad-ca', `'${text.slice(0, 80)}' is not a content address: 'r:' belongs to 'fixed:' only`);
  if (!/^(md5|sha1|sha256|sha512)$/.test(algo)) return err('bad-ca', `unknown hash algorithm '${algo.slice(0, 40)}' in content address`);
  if (prefix === 'text' && algo !== 'sha256') return err('bad-ca', `text content address hash should use sha256, but instead uses ${algo}`);
  // Hash::parseNonSRIUnprefixed: base 16, 32 or 64 told apart by length, never SRI.
  const hash = parseHash(`${algo}:${rest}`);
  if (!hash.ok || rest.trim() !== rest) return err('bad-ca', `'${rest.slice(0, 80)}' is not a valid ${algo} hash in content address`);
  return ok({ method: prefix === 'text' ? 'text' : r ? 'recursive' : 'flat', hash: hash.value });
}

/** `algo:<hex>`, as Nix's `Hash::to_string(Base16, true)` writes a hash into the strings it hashes. */
const base16 = (h: Hash) => `${h.algo}:${Buffer.from(h.bytes).toString('hex')}`;
const sha256 = (s: string): Hash => ({ algo: 'sha256', bytes: createHash('sha256').update(s, 'utf8').digest() });

/**
 * The store path's 32-character hash part (store-api.cc `makeStorePath`): SHA-256 of
 * `<type>:sha256:<hex>:<store dir>:<name>`, folded to 20 bytes by XOR (hash.cc `compressHash`).
 */
function storePathHash(type: string, hash: Hash, storeDir: string, name: string): string {
  const digest = sha256(`${type}:${base16(hash)}:${storeDir}:${name}`).bytes;
  const folded = new Uint8Array(20);
  digest.forEach((byte, i) => {
    folded[i % 20] = (folded[i % 20] as number) ^ byte;
  });
  return encodeBase32(folded);
}

/** store-api.cc `makeType`: the references as full store paths in StorePathSet order, then `:self`. */
function makeType(type: string, storeDir: string, references: readonly string[], self: boolean): string {
  const sorted = [...new Set(references)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return [type, ...sorted.map((r) => `${storeDir}/${r}`), ...(self ? ['self'] : [])].join(':');
}

/** What a `CA:` claim comes to: the base name it recomputes to, or why Nix cannot recompute it. */
export type ClaimedPath = { ok: true; baseName: string } | { ok: false; reason: string };

/**
 * The store path (base name) a content address claims for NAME with REFERENCES (base names), as
 * `ValidPathInfo::isContentAddressed` works it out: `makeTextPath` for text, `makeFixedOutputPath`
 * for fixed, a reference to the path itself (SELF) taken out of the references and made `:self`.
 */
export function contentAddressedPath(
  ca: ContentAddress,
  name: string,
  references: readonly string[],
  self: string,
  storeDir: string,
): ClaimedPath {
  if (ca.method === 'text')
    return { ok: true, baseName: `${storePathHash(makeType('text', storeDir, references, false), ca.hash, storeDir, name)}-${name}` };
  const others = references.filter((r) => r !== self);
  const hasSelf = others.length !== references.length;
  if (ca.hash.algo === 'sha256' && ca.method === 'recursive') {
    const type = makeType('source', storeDir, others, hasSelf);
    return { ok: true, baseName: `${storePathHash(type, ca.hash, storeDir, name)}-${name}` };
  }
  // makeFixedOutputPath asserts that such a path has no references: Nix 2.8 aborts rather than answer.
  if (others.length > 0)
    return { ok: false, reason: `a ${ca.method === 'flat' ? 'flat' : ca.hash.algo} fixed-output path cannot have references` };
  const inner = sha256(`fixed:out:${ca.method === 'recursive' ? 'r:' : ''}${base16(ca.hash)}:`);
  return { ok: true, baseName: `${storePathHash('output:out', inner, storeDir, name)}-${name}` };
}

/** What a narinfo's `CA:` field means for its signatures. */
export type ContentAddressing =
  /** No CA: field: signatures decide. */
  | { kind: 'none' }
  /** The CA recomputes to the narinfo's StorePath: Nix needs no signature (`checkSignatures` returns maxSigs). */
  | { kind: 'verified'; ca: string }
  /** A CA that does not recompute (or does not parse): Nix says "claims to be content-addressed but isn't". */
  | { kind: 'false-claim'; ca: string; reason: string };

/** Whether Nix 2.8 takes INFO as content-addressed, so that it accepts it without any signature. */
export function contentAddressing(info: NarInfo): ContentAddressing {
  if (info.ca === undefined) return { kind: 'none' };
  const parsed = parseContentAddress(info.ca);
  if (!parsed.ok) return { kind: 'false-claim', ca: info.ca, reason: parsed.error.message };
  const { storeDir, baseName, name } = info.storePath;
  const claimed = contentAddressedPath(parsed.value, name, info.references, baseName, storeDir);
  if (!claimed.ok) return { kind: 'false-claim', ca: info.ca, reason: claimed.reason };
  if (claimed.baseName !== baseName)
    return { kind: 'false-claim', ca: info.ca, reason: `it recomputes to ${storeDir}/${claimed.baseName}` };
  return { kind: 'verified', ca: info.ca };
}
