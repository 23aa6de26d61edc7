import { describe, expect, it } from 'vitest';
import { formatBytes } from '../../src/report/text.js';
import { formatBytes as httpFormatBytes } from '../../src/system/http.js';

describe('byte counts', () => {
  it('read as the doctor’s messages have always said them, so that src/system/http.ts can use this one', () => {
    for (const n of [0, 1023, 1024, 65_536, 1024 ** 2 - 1, 100_000_000, 1024 ** 3 - 1]) expect(formatBytes(n)).toBe(httpFormatBytes(n));
  });

  it('go on to GB for a closure of several gigabytes instead of thousands of MB', () => {
    expect(formatBytes(3.2 * 1024 ** 3)).toBe('3.2 GB');
  });
});
