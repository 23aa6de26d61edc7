/** What a NAR file's first bytes say it is (`nar`: an uncompressed NAR, `unknown`: no known magic — brotli has none). */
export type Sniffed = 'xz' | 'zstd' | 'bzip2' | 'gzip' | 'nar' | 'unknown';

/** The `Compression:` values the doctor can decode, as Nix spells them. */
export type Compression = 'xz' | 'zstd' | 'bzip2' | 'br' | 'gzip' | 'none';

const NAR_MAGIC = Buffer.concat([Buffer.from([13, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('nix-archive-1')]);
const MAGIC: [Exclude<Sniffed, 'unknown'>, Buffer][] = [
  ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
  ['bzip2', Buffer.from('BZh')],
  ['gzip', Buffer.from([0x1f, 0x8b])],
  ['nar', NAR_MAGIC],
];

/** Bytes needed to tell the formats apart. */
export const SNIFF_BYTES = NAR_MAGIC.length;

export function sniffCompression(head: Uint8Array): Sniffed {
  for (const [kind, magic] of MAGIC)
    if (head.length >= magic.length && Buffer.from(head.buffer, head.byteOffset, magic.length).equals(magic)) return kind;
  return 'unknown';
}

/** Nix's names for the field's value: an empty or missing `Compression:` means none (nar-info.cc). */
export function normaliseCompression(field: string): Compression | undefined {
  const v = field.trim() || 'none';
  return (['xz', 'zstd', 'bzip2', 'br', 'gzip', 'none'] as const).find((c) => c === v);
}

/** The field value a sniffed file would need. */
export function compressionOf(sniffed: Sniffed): Compression | undefined {
  return sniffed === 'nar' ? 'none' : sniffed === 'unknown' ? undefined : sniffed;
}

/**
 * Whether a file labelled DECLARED can really be SNIFFED. Brotli has no magic bytes, so a `br` file
 * is only contradicted when its bytes are another known format.
 */
export function labelMatches(declared: Compression, sniffed: Sniffed): boolean {
  if (declared === 'br') return sniffed === 'unknown';
  return compressionOf(sniffed) === declared;
}

/**
 * Whether this Nix decompresses METHOD. Nix 2.3's compression.cc knows xz, bzip2 and br (and none);
 * from 2.4 on everything else goes through libarchive, which reads zstd and gzip too.
 */
export function nixDecodes(method: Compression, nixVersion: string | null): boolean | undefined {
  if (method === 'xz' || method === 'bzip2' || method === 'br' || method === 'none') return true;
  const m = nixVersion ? /(\d+)\.(\d+)/.exec(nixVersion) : null;
  if (!m) return undefined;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 2 || (major === 2 && minor >= 4);
}
