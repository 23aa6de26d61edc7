import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import initSqlJs from 'sql.js';
import { describe, expect, it } from 'vitest';
import { readSqlite, type SqliteValue } from '../../src/system/sqlite.js';

// The reader walks SQLite's B-trees itself; SQLite (sql.js, the real library compiled to
// WebAssembly) writes the databases and answers the same questions, as the oracle.

/** Nix 2.8's narinfo disk cache schema (src/libstore/nar-info-disk-cache.cc). */
const NIX_SCHEMA = `
create table if not exists BinaryCaches (
    id        integer primary key autoincrement not null,
    url       text unique not null,
    timestamp integer not null,
    storeDir  text not null,
    wantMassQuery integer not null,
    priority  integer not null
);
create table if not exists NARs (
    cache            integer not null,
    hashPart         text not null,
    namePart         text,
    url              text,
    compression      text,
    fileHash         text,
    fileSize         integer,
    narHash          text,
    narSize          integer,
    refs             text,
    deriver          text,
    sigs             text,
    ca               text,
    timestamp        integer not null,
    present          integer not null,
    primary key (cache, hashPart),
    foreign key (cache) references BinaryCaches(id) on delete cascade
);
create table if not exists LastPurge (dummy text primary key, value integer);
`;

const NAR_COLUMNS = ['cache', 'hashPart', 'present', 'narHash', 'url', 'timestamp', 'refs', 'sigs', 'fileSize'] as const;
const dir = mkdtempSync(join(tmpdir(), 'nixcache-sqlite-reader-'));
const SQL = await initSqlJs();

interface Nar {
  cache: number;
  hashPart: string;
  present: number;
  narHash: string | null;
  url: string | null;
  timestamp: number;
  refs: string | null;
  sigs: string | null;
  fileSize: number | null;
}

/** A database SQLite wrote with PAGESIZE, the caches and NARS, as a file. */
function database(pageSize: number, caches: string[], nars: Nar[]): string {
  const db = new SQL.Database();
  db.run(`pragma page_size = ${pageSize}`);
  db.run(NIX_SCHEMA);
  for (const [i, url] of caches.entries())
    db.run('insert into BinaryCaches (url, timestamp, storeDir, wantMassQuery, priority) values (?, ?, ?, ?, ?)', [
      url,
      1_700_000_000 + i,
      '/nix/store',
      i % 2,
      40 + i,
    ]);
  const insert = db.prepare(
    'insert or replace into NARs (cache, hashPart, present, narHash, url, timestamp, refs, sigs, fileSize) values (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  for (const n of nars) insert.run([n.cache, n.hashPart, n.present, n.narHash, n.url, n.timestamp, n.refs, n.sigs, n.fileSize]);
  insert.free();
  // Some rows deleted again: free pages and freeblocks, as a purge leaves them.
  db.run('delete from NARs where timestamp % 7 = 0');
  const file = join(dir, `db-${Math.random().toString(36).slice(2)}.sqlite`);
  writeFileSync(file, db.export());
  db.close();
  return file;
}

/** What SQLite itself answers for the same question. */
function oracle(file: string, sql: string): SqliteValue[][] {
  const db = new SQL.Database(readFileSync(file));
  try {
    return (db.exec(sql)[0]?.values ?? []) as SqliteValue[][];
  } finally {
    db.close();
  }
}

const text = (max: number) => fc.string({ unit: 'grapheme', maxLength: max });
const nar = fc.record({
  cache: fc.integer({ min: 1, max: 3 }),
  hashPart: fc.stringMatching(/^[0-9a-z]{32}$/),
  present: fc.integer({ min: 0, max: 1 }),
  narHash: fc.option(text(60), { nil: null }),
  url: fc.option(text(80), { nil: null }),
  timestamp: fc.oneof(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: -(2 ** 40), max: 2 ** 47 })),
  // Long enough, now and then, to overflow even a 64 KiB page.
  refs: fc.option(fc.oneof(text(40), fc.string({ minLength: 3000, maxLength: 90_000 })), { nil: null }),
  sigs: fc.option(text(200), { nil: null }),
  fileSize: fc.option(fc.oneof(fc.integer(), fc.maxSafeInteger()), { nil: null }),
});

describe('the SQLite reader, against SQLite itself', () => {
  it('reads every row and column SQLite reads, with filters, on every page size (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(512, 1024, 4096, 65536),
        fc.array(nar, { maxLength: 400 }),
        fc.array(fc.stringMatching(/^[0-9a-z]{32}$/), { maxLength: 5 }),
        async (pageSize, nars, extraHashes) => {
          const caches = ['https://cache.nixos.org', 'http://127.0.0.1:5000', "http://it's-quoted"];
          const file = database(pageSize, caches, nars);
          const wanted = [...new Set([...nars.slice(0, 3).map((n) => n.hashPart), ...extraHashes])];
          const read = await readSqlite(file, (db) => ({
            caches: db.rows('BinaryCaches', ['id', 'url', 'timestamp', 'storeDir', 'wantMassQuery', 'priority']),
            all: db.rows('NARs', [...NAR_COLUMNS]),
            some: db.rows(
              'NARs',
              [...NAR_COLUMNS],
              [
                { column: 'cache', values: new Set([2]) },
                { column: 'hashPart', values: new Set(wanted) },
              ],
            ),
          }));
          if (!read.ok) throw new Error(read.message);
          expect(read.value.caches).toEqual(
            oracle(file, 'select id, url, timestamp, storeDir, wantMassQuery, priority from BinaryCaches order by rowid'),
          );
          expect(read.value.all).toEqual(oracle(file, `select ${NAR_COLUMNS.join(', ')} from NARs order by rowid`));
          const list = wanted.length ? wanted.map((h) => `'${h}'`).join(', ') : "''";
          expect(read.value.some).toEqual(
            oracle(file, `select ${NAR_COLUMNS.join(', ')} from NARs where cache = 2 and hashPart in (${list}) order by rowid`),
          );
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);

  it('reads 100,000 rows of a busy machine’s database, and finds a few of them by hash', async () => {
    const nars: Nar[] = Array.from({ length: 100_000 }, (_, i) => ({
      cache: 1 + (i % 2),
      hashPart: i.toString(32).padStart(32, '0'),
      present: i % 3 === 0 ? 0 : 1,
      narHash: `sha256:${i.toString(16).padStart(52, '0')}`,
      url: `nar/${i}.nar.xz`,
      timestamp: 1_700_000_001 + i * 7 + 1,
      refs: null,
      sigs: 'cache.nixos.org-1:abc',
      fileSize: i,
    }));
    const file = database(4096, ['https://cache.nixos.org', 'http://lan:5000'], nars);
    const wanted = new Set(['00000000000000000000000000000042'.slice(-32), (99_999).toString(32).padStart(32, '0')]);
    const read = await readSqlite(file, (db) => db.rows('NARs', ['hashPart', 'present'], [{ column: 'hashPart', values: wanted }]));
    if (!read.ok) throw new Error(read.message);
    expect(read.value).toEqual(
      oracle(file, `select hashPart, present from NARs where hashPart in (${[...wanted].map((h) => `'${h}'`).join(', ')}) order by rowid`),
    );
  });
});

describe('a database written by someone else is only bytes', () => {
  it('never throws nor loops on a damaged file: every answer is rows or "corrupt" (property)', async () => {
    const nars = Array.from({ length: 300 }, (_, i) => ({
      cache: 1,
      hashPart: i.toString(32).padStart(32, '0'),
      present: 1,
      narHash: 'sha256:x',
      url: `nar/${i}`,
      timestamp: i,
      refs: i % 50 === 0 ? 'r'.repeat(3000) : null,
      sigs: null,
      fileSize: i,
    }));
    const good = readFileSync(database(1024, ['http://a'], nars));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(good.length - 1), fc.nat(255)), { minLength: 1, maxLength: 20 }), async (edits) => {
        const bad = Buffer.from(good);
        for (const [at, byte] of edits) bad[at] = byte;
        const file = join(dir, 'damaged.sqlite');
        writeFileSync(file, bad);
        const read = await readSqlite(file, (db) => db.rows('NARs', ['hashPart', 'refs']).length);
        expect(read.ok || read.code === 'corrupt').toBe(true);
        if (!read.ok) expect(read.message).not.toContain('\n');
      }),
      { numRuns: 300 },
    );
  });

  it('says a table that is not there, or a column that is not, is not what Nix wrote', async () => {
    const file = database(4096, [], []);
    expect(await readSqlite(file, (db) => db.rows('Nope', ['x']))).toMatchObject({
      ok: false,
      code: 'corrupt',
      message: expect.stringContaining('no table Nope'),
    });
    expect(await readSqlite(file, (db) => db.rows('NARs', ['nope']))).toMatchObject({
      ok: false,
      code: 'corrupt',
      message: expect.stringContaining('no column nope'),
    });
  });
});
