import { createHash } from 'node:crypto';
import { parseHash } from './hash.js';
import type { NarInfo } from './narinfo.js';

export type NarFileVerdict = 'matches' | 'differs' | 'unchecked';

function expectedFileHash(info: NarInfo): Uint8Array | undefined {
  if (!info.fileHash || info.fileSize === undefined) return undefined;
  const expected = parseHash(info.fileHash);
  return expected.ok && expected.value.algo === 'sha256' ? expected.value.bytes : undefined;
}

/** Whether INFO says enough (FileSize and a sha256 FileHash) to check its NAR file. */
export function narFileCheckable(info: NarInfo): boolean {
  return expectedFileHash(info) !== undefined;
}

/** Whether BYTES are the compressed NAR file INFO describes. */
export function checkNarFileBytes(bytes: Uint8Array, info: NarInfo): NarFileVerdict {
  const expected = expectedFileHash(info);
  if (!expected) return 'unchecked';
  if (bytes.length !== info.fileSize) return 'differs';
  return createHash('sha256').update(bytes).digest().equals(Buffer.from(expected)) ? 'matches' : 'differs';
}
