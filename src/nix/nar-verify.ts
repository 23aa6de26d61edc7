import { createHash, type Hash as Hasher } from 'node:crypto';
import {
  type Compression,
  compressionOf,
  labelMatches,
  normaliseCompression,
  SNIFF_BYTES,
  type Sniffed,
  sniffCompression,
} from './compression.js';
import { createDecoder, type Decoder } from './decompress.js';
import { parseHash } from './hash.js';
import type { NarInfo } from './narinfo.js';

export type HashVerdict = 'matches' | 'differs' | 'unchecked';

/** A NAR file read end to end as Nix would: the compressed file against FileSize/FileHash, the NAR against NarSize/NarHash. */
export interface NarVerification {
  /** The `Compression:` field as written. */
  declared: string;
  /** What the first bytes say the file is. */
  sniffed: Sniffed;
  /** The format the doctor decoded with: the sniffed one when known, else the declared one. */
  decodedAs?: Compression;
  fileBytes: number;
  fileSize?: number;
  fileHash: HashVerdict;
  narBytes: number;
  narSize: number;
  narHash: HashVerdict;
  /** The decompressor's complaint (corrupt or truncated input). */
  decodeError?: string;
  /** The decompressed stream outgrew NarSize by far, and reading stopped there. */
  overflow?: boolean;
}

export interface NarVerifier {
  /** 'stop' once reading on would tell nothing more (the NAR already outgrew NarSize). */
  write(chunk: Uint8Array): Promise<'more' | 'stop'>;
  finish(): Promise<NarVerification>;
}

const sha256Of = (text: string | undefined) => {
  if (!text) return undefined;
  const h = parseHash(text);
  return h.ok && h.value.algo === 'sha256' ? Buffer.from(h.value.bytes) : undefined;
};

/** Streams a NAR file through hashes and the decompressor; memory stays at a chunk plus the decoder's window. */
export function createNarVerifier(info: NarInfo): NarVerifier {
  const fileHasher = createHash('sha256');
  const narHasher: Hasher = createHash('sha256');
  const result: NarVerification = {
    declared: info.compression,
    sniffed: 'unknown',
    fileBytes: 0,
    ...(info.fileSize !== undefined ? { fileSize: info.fileSize } : {}),
    fileHash: 'unchecked',
    narBytes: 0,
    narSize: info.narSize,
    narHash: 'unchecked',
  };
  // A decompression bomb must not keep the doctor busy: stop well past the NAR's announced size.
  const narLimit = info.narSize * 2 + 1024 * 1024;
  let head: Buffer = Buffer.alloc(0);
  let decoder: Decoder | undefined;
  let started = false;
  const emit = (out: Uint8Array) => {
    result.narBytes += out.length;
    if (result.narBytes <= narLimit) narHasher.update(out);
    else result.overflow = true;
  };
  const start = async () => {
    started = true;
    result.sniffed = sniffCompression(head);
    const declared = normaliseCompression(info.compression);
    const method = compressionOf(result.sniffed) ?? (declared && labelMatches(declared, result.sniffed) ? declared : undefined);
    if (!method) {
      result.decodeError = `unknown compression method '${info.compression}'`;
      return;
    }
    result.decodedAs = method;
    decoder = await createDecoder(method, emit);
    await feed(head);
  };
  const feed = async (chunk: Uint8Array) => {
    if (!decoder || result.decodeError) return;
    try {
      await decoder.write(chunk);
    } catch (e) {
      result.decodeError = messageOf(e);
    }
  };
  return {
    async write(chunk) {
      result.fileBytes += chunk.length;
      fileHasher.update(chunk);
      if (!started) {
        head = Buffer.concat([head, chunk]);
        if (head.length >= SNIFF_BYTES) await start();
      } else await feed(chunk);
      return result.overflow ? 'stop' : 'more';
    },
    async finish() {
      if (!started) await start();
      if (decoder && !result.decodeError && !result.overflow) {
        try {
          await decoder.end();
        } catch (e) {
          result.decodeError = messageOf(e);
        }
      }
      const fileExpected = sha256Of(info.fileHash);
      if (fileExpected) result.fileHash = fileHasher.digest().equals(fileExpected) ? 'matches' : 'differs';
      const narExpected = sha256Of(info.narHash);
      if (narExpected && !result.decodeError && !result.overflow)
        result.narHash = narHasher.digest().equals(narExpected) ? 'matches' : 'differs';
      return result;
    },
  };
}

function messageOf(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return (text.split('\n')[0] ?? '').slice(0, 200);
}
