import { describe, expect, it } from 'vitest';
import { formatBytes } from '../../src/report/text.js';

describe('byte counts', () => {
  it('read as the doctor’s messages have always said them', () => {
    expect([0, 1023, 1024, 65_536, 1024 ** 2 - 1, 100_000_000, 1024 ** 3 - 1].map(formatBytes)).toEqual([
      '0 B',
      '1023 B',
      '1.0 kB',
      '64.0 kB',
      '1024.0 kB',
      '95.4 MB',
      '1024.0 MB',
    ]);
  });

  it('go on to GB for a closure of several gigabytes instead of thousands of MB', () => {
    expect(formatBytes(3.2 * 1024 ** 3)).toBe('3.2 GB');
  });
});
