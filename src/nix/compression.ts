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
 * Whether NIXVERSION decompresses through libarchive (compression.cc makeDecompressionSink, Nix 2.4
 * and later): every `Compression:` but none, empty and br goes to libarchive with every filter
 * enabled, which recognises the format from the bytes and ignores the label. Unknown: assumed, as
 * every Nix still supported does.
 */
export function decodesByContent(nixVersion: string | null): boolean {
  return nixDecodes('zstd', nixVersion) !== false;
}

/** The formats libarchive recognises whose magic the doctor knows. */
const LIBARCHIVE_READS: ReadonlySet<Sniffed> = new Set(['xz', 'zstd', 'bzip2', 'gzip']);

/**
 * How Nix reads a NAR file labelled LABEL:
 * - `as-labelled`: none, br, or a method Nix knows by that name (its bytes are taken to match);
 * - `by-content`: a label Nix does not know, which libarchive reads by the bytes (Nix 2.4 and later);
 * - `unknown-method`: a label Nix before 2.4 refuses ("unknown compression method").
 */
export function labelReading(label: string, nixVersion: string | null): 'as-labelled' | 'by-content' | 'unknown-method' {
  const method = normaliseCompression(label);
  if (method && nixDecodes(method, nixVersion) !== false) return 'as-labelled';
  if (!decodesByContent(nixVersion)) return 'unknown-method';
  return LIBARCHIVE_FILTERS.has(label.trim()) ? 'as-labelled' : 'by-content';
}

/** libarchive's other filter names, which `nix copy --to '…?compression=NAME'` writes (ArchiveCompressionSink). */
const LIBARCHIVE_FILTERS: ReadonlySet<string> = new Set(['lzip', 'lz4', 'lrzip', 'grzip', 'lzma', 'lzop']);

/**
 * Whether Nix's libarchive decodes a file whose first bytes are SNIFFED, whatever its label says:
 * an uncompressed NAR (or anything without a compression libarchive recognises) is refused with
 * "input compression not recognized" (Nix 2.8 ArchiveDecompressionSource checks for a filter).
 */
export function libarchiveDecodes(sniffed: Sniffed): boolean {
  return LIBARCHIVE_READS.has(sniffed);
}

/** Nix 2.8's words when libarchive finds no compression it knows in a NAR file (compression.cc). */
export const NOT_RECOGNIZED = 'input compression not recognized';

/** Nix 2.8's words when a NAR file labelled none (or empty) is not a NAR (archive.cc parseDump). */
export const NOT_A_NAR = "bad archive: input doesn't look like a Nix archive";

/** Nix 2.8's words when a NAR file labelled br is not brotli (compression.cc BrotliDecompressionSink). */
export const NOT_BROTLI = 'error while decompressing brotli file';

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
