import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDiskCache } from '../../src/facts/disk-cache.js';
import { DEFAULT_TTLS } from '../../src/nix/disk-cache.js';
import { createFs } from '../../src/system/fs.js';

/**
 * readDiskCache over a database with Nix 2.8's schema (nar-info-disk-cache.cc), written here with
 * sql.js (real SQLite): the doctor reads only the rows of the paths it samples.
 */

const CACHE = 'http://10.0.0.5:5000';
const NOW = 1_800_000_000;
const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const C = 'c'.repeat(32);
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nixcache-disk-cache-'));
  mkdirSync(join(dir, 'nix'));
  const { default: init } = await import('sql.js');
  const SQL = await init();
  const db = new SQL.Database();
  db.run(`create table BinaryCaches (id integer primary key autoincrement not null, url text unique not null, timestamp integer not null,
    storeDir text not null, wantMassQuery integer not null, priority integer not null)`);
  db.run(`create table NARs (cache integer not null, hashPart text not null, namePart text, url text, compression text, fileHash text,
    fileSize integer, narHash text, narSize integer, refs text, deriver text, sigs text, ca text, timestamp integer not null,
    present integer not null, primary key (cache, hashPart))`);
  db.run(`insert into BinaryCaches values (1, '${CACHE}', ${NOW}, '/nix/store', 1, 40)`);
  for (const hash of [A, B, C]) db.run(`insert into NARs (cache, hashPart, timestamp, present) values (1, '${hash}', ${NOW - 60}, 0)`);
  writeFileSync(join(dir, 'nix', 'binary-cache-v6.sqlite'), db.export());
  db.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const read = (hashParts?: string[]) =>
  readDiskCache(
    createFs(() => {}),
    { owner: 'root', dir: join(dir, 'nix') },
    [CACHE],
    DEFAULT_TTLS,
    () => NOW,
    hashParts,
  );

describe('readDiskCache', () => {
  it('judges every row of the configured caches when no hash parts are given', async () => {
    const fact = await read();
    if (fact.kind !== 'read') throw new Error(fact.kind);
    expect(fact.hashParts).toBeUndefined();
    for (const h of [A, B, C]) expect(fact.judge(CACHE, h).kind).toBe('negative');
  });

  it('keeps only the rows of the hash parts asked for, and says which those are', async () => {
    const fact = await read([A, C]);
    if (fact.kind !== 'read') throw new Error(fact.kind);
    expect([...(fact.hashParts ?? [])]).toEqual([A, C]);
    expect(fact.judge(CACHE, A)).toEqual({ kind: 'negative', expires: NOW - 60 + 3600, recorded: NOW - 60 });
    expect(fact.judge(CACHE, B).kind).toBe('none');
    expect(fact.judge(CACHE, C).kind).toBe('negative');
  });

  it('reads no rows for an empty list, and escapes what it is given', async () => {
    const none = await read([]);
    if (none.kind !== 'read') throw new Error(none.kind);
    expect(none.judge(CACHE, A).kind).toBe('none');
    const quoted = await read([`${A}' or '1'='1`]);
    if (quoted.kind !== 'read') throw new Error(quoted.kind);
    expect(quoted.judge(CACHE, B).kind).toBe('none');
  });
});
