import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFs } from '../../src/system/fs.js';

describe('listing a directory as large as a store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nixcache-readdir-'));
  for (let i = 0; i < 5000; i++) writeFileSync(join(dir, `${i.toString(32).padStart(32, '0')}-p-${i}`), '');
  const fs = createFs(() => {});

  it('reads only the first MAX entries the directory yields when MAX is given, sorted, and all of a smaller one', async () => {
    const all = readdirSync(dir);
    expect(await fs.readdir(dir)).toEqual(all);
    for (const max of [1, 31, 4096]) {
      const some = (await fs.readdir(dir, max)) ?? [];
      expect(some).toHaveLength(max);
      expect(some).toEqual([...some].sort());
      expect(all).toEqual(expect.arrayContaining(some));
    }
    expect(await fs.readdir(dir, 10_000)).toEqual(all);
  });

  it('answers null for what is not a readable directory', async () => {
    expect(await fs.readdir(join(dir, 'nope'), 10)).toBeNull();
    expect(await fs.readdir(join(dir, readdirSync(dir)[0] as string), 10)).toBeNull();
  });
});
