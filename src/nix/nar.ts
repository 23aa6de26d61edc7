import { parseHash } from './hash.js';
import type { NarVerification } from './nar-verify.js';
import type { NarInfo } from './narinfo.js';

export type NarFileVerdict = 'matches' | 'differs' | 'unchecked';

/** Whether INFO says enough (FileSize and a sha256 FileHash) to check its NAR file. */
export function narFileCheckable(info: NarInfo): boolean {
  if (!info.fileHash || info.fileSize === undefined) return false;
  const expected = parseHash(info.fileHash);
  return expected.ok && expected.value.algo === 'sha256';
}

/** Whether the NAR file read through a verifier is the compressed file its narinfo's FileSize and FileHash describe. */
export function narFileVerdict(v: NarVerification): NarFileVerdict {
  if (v.fileHash === 'unchecked' || v.fileSize === undefined) return 'unchecked';
  // Reading stopped when the NAR outgrew NarSize: the hash is of the first part of the file only.
  if (v.overflow && v.fileBytes < v.fileSize) return 'unchecked';
  if (v.fileBytes !== v.fileSize) return 'differs';
  return v.fileHash;
}
