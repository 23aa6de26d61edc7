import {
  type Compression,
  compressionOf,
  labelMatches,
  labelReading,
  libarchiveDecodes,
  NOT_A_NAR,
  NOT_BROTLI,
  NOT_RECOGNIZED,
  nixDecodes,
  normaliseCompression,
  type Sniffed,
} from './compression.js';
import type { NarVerification } from './nar-verify.js';

/** What is wrong with a NAR file read end to end, first problem first, in the words Nix would use. */
export type NarProblem =
  /** A label Nix before 2.4 does not know: it fails with "unknown compression method". */
  | { kind: 'unknown-method'; declared: string }
  /** A label Nix does not name, which Nix 2.4 and later hand to libarchive: DECODES when the bytes are a compression it recognises. */
  | { kind: 'unknown-label'; declared: string; actual: Compression | 'unknown'; decodes: boolean }
  /** A method Nix reads through libarchive that the doctor cannot decompress: NarHash is not checked. */
  | { kind: 'not-checked'; declared: string }
  | { kind: 'nix-cannot-decode'; method: Compression }
  /** HARMLESS: this Nix reads the declared method through libarchive, which recognises the real format anyway. */
  | { kind: 'mislabelled'; declared: string; actual: Compression | 'unknown'; harmless: boolean }
  | { kind: 'truncated'; got: number; expected: number }
  | { kind: 'file-hash'; got: number }
  | { kind: 'corrupt'; method: string; message: string }
  | { kind: 'nar-size'; got: number; expected: number; overflow: boolean }
  | { kind: 'nar-hash' };

export function narProblems(v: NarVerification, nixVersion: string | null): NarProblem[] {
  const out = labelProblems(v.declared, v.sniffed, nixVersion);
  const declared = normaliseCompression(v.declared);
  if (!declared && labelReading(v.declared, nixVersion) === 'as-labelled' && v.decodedAs === undefined)
    out.push({ kind: 'not-checked', declared: v.declared });
  if (v.fileSize !== undefined && v.fileBytes < v.fileSize) out.push({ kind: 'truncated', got: v.fileBytes, expected: v.fileSize });
  else if (v.fileHash === 'differs' || (v.fileSize !== undefined && v.fileBytes !== v.fileSize))
    out.push({ kind: 'file-hash', got: v.fileBytes });
  const method = v.decodedAs ?? declared;
  if (v.decodeError && method) out.push({ kind: 'corrupt', method, message: v.decodeError });
  if (!v.decodeError && (v.overflow || v.narBytes !== v.narSize))
    out.push({ kind: 'nar-size', got: v.narBytes, expected: v.narSize, overflow: v.overflow === true });
  else if (v.narHash === 'differs') out.push({ kind: 'nar-hash' });
  return out;
}

/**
 * What a NAR file's LABEL and its first bytes (SNIFFED) alone say, as Nix reads them (compression.cc
 * makeDecompressionSink): none and br are read as labelled, every other label goes to libarchive,
 * which goes by the bytes. What `why` judges from the first bytes; the doctor's nar check reads on.
 */
export function labelProblems(label: string, sniffed: Sniffed, nixVersion: string | null): NarProblem[] {
  const out: NarProblem[] = [];
  const declared = normaliseCompression(label);
  const reading = labelReading(label, nixVersion);
  if (!declared && reading === 'unknown-method') out.push({ kind: 'unknown-method', declared: label });
  else if (!declared && reading === 'by-content')
    out.push({ kind: 'unknown-label', declared: label, actual: compressionOf(sniffed) ?? 'unknown', decodes: libarchiveDecodes(sniffed) });
  else if (declared && nixDecodes(declared, nixVersion) === false) out.push({ kind: 'nix-cannot-decode', method: declared });
  if (declared && !labelMatches(declared, sniffed))
    out.push({
      kind: 'mislabelled',
      declared: label || 'none',
      actual: compressionOf(sniffed) ?? 'unknown',
      harmless: sniffedByLibarchive(declared, nixVersion) && sniffedByLibarchive(compressionOf(sniffed), nixVersion),
    });
  return out;
}

/**
 * A NAR file judged by its LABEL and first bytes, in words: UNDECODABLE when Nix fails on it (the
 * first problem that stops it), else NOTE when something is off that Nix gets past.
 */
export function judgeNarHead(
  label: string,
  sniffed: Sniffed,
  fileUrl: string,
  nixVersion: string | null,
): { undecodable?: string; note?: string } {
  const problems = labelProblems(label, sniffed, nixVersion);
  const blocking = problems.find((p) => blocksSubstitution([p]));
  if (blocking) return { undecodable: describeNarProblem(blocking, fileUrl, nixVersion) };
  const first = problems[0];
  return first ? { note: describeNarProblem(first, fileUrl, nixVersion) } : {};
}

/**
 * Nix from 2.4 on decompresses everything but br and none through libarchive with every filter
 * enabled, so a file labelled xz that is really zstd still reads (observed on Nix 2.8).
 */
function sniffedByLibarchive(method: Compression | undefined, nixVersion: string | null): boolean {
  return (
    method !== undefined &&
    method !== 'br' &&
    method !== 'none' &&
    nixDecodes('zstd', nixVersion) === true &&
    nixDecodes(method, nixVersion) === true
  );
}

/** Whether the problems stop Nix from substituting (else they are worth a warning only). */
export function blocksSubstitution(problems: readonly NarProblem[]): boolean {
  return problems.some((p) =>
    p.kind === 'mislabelled' ? !p.harmless : p.kind === 'unknown-label' ? !p.decodes : p.kind !== 'not-checked',
  );
}

/** Nix 2.8's own words when decompressing fails (observed), so the user can match them. */
const NIX_DECODE_ERROR: Partial<Record<string, string>> = {
  xz: 'failed to read compressed data (Lzma library error: …)',
  zstd: 'failed to read compressed data (Truncated zstd input)',
  bzip2: 'Failed to open archive (truncated bzip2 input)',
};

/** One line per problem, quoting Nix where the user will have seen its message. */
export function describeNarProblem(p: NarProblem, fileUrl: string, nixVersion: string | null): string {
  switch (p.kind) {
    case 'unknown-method':
      return `Compression: ${p.declared} is no method Nix ${nixVersion ?? ''} knows — Nix fails with "unknown compression method '${p.declared}'"`;
    case 'unknown-label':
      return p.decodes
        ? `the narinfo says Compression: ${p.declared}, which Nix does not name, so Nix ${nixVersion ?? ''} hands the file to libarchive, which recognises it as ${p.actual} and decodes it — but Nix before 2.4 fails with "unknown compression method '${p.declared}'"`
        : `the narinfo says Compression: ${p.declared}, which Nix does not name, so Nix ${nixVersion ?? ''} hands the file to libarchive, which finds ${p.actual === 'none' ? 'an uncompressed NAR' : 'no compression it recognises'} in it — Nix fails with "${NOT_RECOGNIZED}"`;
    case 'not-checked':
      return `Compression: ${p.declared}, which Nix reads through libarchive but the doctor cannot decompress: NarHash was not checked`;
    case 'nix-cannot-decode':
      return `Compression: ${p.method}, which the installed Nix ${nixVersion ?? ''} cannot decompress (Nix reads ${p.method} from 2.4 on)`;
    case 'mislabelled':
      return `the narinfo says Compression: ${p.declared}, but the file is ${p.actual === 'unknown' ? 'in no format the doctor recognises' : p.actual === 'none' ? 'an uncompressed NAR' : `${p.actual}-compressed`} — ${p.harmless ? `Nix ${nixVersion ?? ''} still reads it (libarchive recognises the format), but tools and Nix before 2.4 that trust the label fail` : mislabelFailure(p.declared, nixVersion)}`;
    case 'truncated':
      return `the NAR file is truncated: ${p.got} of the ${p.expected} bytes in FileSize`;
    case 'file-hash':
      // "hash mismatch in file downloaded from" is fetchurl's message: substitution does not check FileHash.
      return `the NAR file from ${fileUrl} does not match FileHash/FileSize (${p.got} bytes): it is not the file the narinfo describes — Nix then fails decompressing it or on NarHash ("hash mismatch importing path")`;
    case 'corrupt':
      return `decompressing it as ${p.method} fails: ${friendlyDecodeError(p.method, p.message)}${NIX_DECODE_ERROR[p.method] ? ` — Nix reports "${NIX_DECODE_ERROR[p.method]}"` : p.method === 'br' ? ' — Nix 2.8 spins without end on a truncated brotli file (observed)' : ''}`;
    case 'nar-size':
      return p.overflow
        ? `the NAR decompresses to more than twice NarSize (${p.expected} bytes); reading stopped`
        : `the NAR is ${p.got} bytes, NarSize says ${p.expected}`;
    case 'nar-hash':
      return 'the NAR does not match NarHash — Nix refuses the path with a hash mismatch ("hash mismatch importing path"): the narinfo and the NAR file disagree';
  }
}

/** How Nix fails on a file that is not what its label DECLARED says (compression.cc makeDecompressionSink), in its words. */
function mislabelFailure(declared: string, nixVersion: string | null): string {
  const method = normaliseCompression(declared);
  if (method === 'none') return `Nix takes the bytes for the NAR itself and fails with "${NOT_A_NAR}"`;
  if (method === 'br') return `Nix decompresses it as brotli and fails with "${NOT_BROTLI}"`;
  if (method && sniffedByLibarchive(method, nixVersion))
    return `Nix ${nixVersion ?? ''} hands it to libarchive, which finds no compression it recognises — Nix fails with "${NOT_RECOGNIZED}"`;
  return `Nix decompresses it as ${declared} and fails`;
}

/** XZ Embedded's return codes (xz.h) in words. */
const XZ_CODES: Record<string, string> = {
  '5': 'not xz data',
  '6': 'unsupported xz options',
  '7': 'the xz data is corrupt',
  '8': 'the xz stream ends early (truncated)',
};

function friendlyDecodeError(method: string, message: string): string {
  const code = /error code (\d+)/.exec(message)?.[1];
  if (method === 'xz' && code && XZ_CODES[code]) return XZ_CODES[code];
  if (method === 'bzip2' && /undefined|null/.test(message)) return 'the bzip2 stream is corrupt or ends early';
  return message;
}
