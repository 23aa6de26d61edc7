import { describe, expect, it } from 'vitest';
import { narFileVerdict } from '../../../src/nix/nar.js';
import type { NarVerification } from '../../../src/nix/nar-verify.js';

const read = (v: Partial<NarVerification>): NarVerification => ({
  declared: 'xz',
  sniffed: 'xz',
  fileBytes: 224,
  fileSize: 224,
  fileHash: 'matches',
  narBytes: 248,
  narSize: 248,
  narHash: 'matches',
  ...v,
});

describe('narFileVerdict: the NAR file against FileSize and FileHash, from the download the nar check reads', () => {
  it.each([
    ['matches when the whole file was read and its hash matches', read({}), 'matches'],
    ['differs when the hash differs', read({ fileHash: 'differs' }), 'differs'],
    ['differs when more bytes came than FileSize says, whatever the hash', read({ fileBytes: 300 }), 'differs'],
    ['differs when the file ended before FileSize', read({ fileBytes: 100, fileHash: 'differs' }), 'differs'],
    ['is unchecked without a sha256 FileHash', read({ fileHash: 'unchecked' }), 'unchecked'],
    ['is unchecked without FileSize', read({ fileSize: undefined }), 'unchecked'],
    [
      'is unchecked when reading stopped early because the NAR outgrew NarSize',
      read({ fileBytes: 100, fileSize: 4000, fileHash: 'differs', overflow: true }),
      'unchecked',
    ],
    ['still judges a whole file whose NAR outgrew NarSize', read({ fileHash: 'differs', overflow: true }), 'differs'],
  ] as const)('%s', (_name, verification, verdict) => {
    expect(narFileVerdict(verification)).toBe(verdict);
  });
});
