import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * Reads tables of a SQLite database file without opening it for writing: the file's bytes are
 * copied into memory and its B-trees walked here (SQLite's file format, sqlite.org/fileformat2.html),
 * so nothing is locked, journalled or changed, nothing is compiled, and a database written by
 * anyone is only ever bytes to bounds-check. Reads tables, not indexes: the doctor needs a few rows
 * of two tables of Nix's narinfo cache. Never throws.
 */
export type SqliteValue = number | string | null;

export type SqliteRead<T> =
  | { ok: true; value: T; bytes: number }
  | { ok: false; code: 'ENOENT' | 'EACCES' | 'too-large' | 'corrupt' | 'other'; message: string };

/** A database larger than this is not read (Nix's narinfo cache is a few MB, tens on a busy machine). */
export const MAX_SQLITE_BYTES = 512 * 1024 * 1024;

/** A filter on one column: only rows whose value is one of VALUES. */
export interface ColumnIn {
  column: string;
  values: ReadonlySet<SqliteValue>;
}

export interface SqliteTables {
  /**
   * The COLUMNS of every row of TABLE that passes WHERE (each filter's column read first, the others
   * only for the rows kept), in the table's order. Throws a SqliteCorrupt on a malformed file.
   */
  rows(table: string, columns: readonly string[], where?: readonly ColumnIn[]): SqliteValue[][];
}

/** The file at PATH read whole, then READ run over its tables: a malformed file is 'corrupt', never a throw. */
export async function readSqlite<T>(path: string, read: (db: SqliteTables) => T): Promise<SqliteRead<T>> {
  let bytes: Buffer;
  try {
    // Without blocking, and only a regular file: a FIFO in its place would hold a thread for good.
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const info = await handle.stat();
      if (!info.isFile()) return { ok: false, code: 'other', message: `${path} is not a regular file` };
      if (info.size > MAX_SQLITE_BYTES)
        return { ok: false, code: 'too-large', message: `${path} is larger than ${MAX_SQLITE_BYTES} bytes` };
      bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, code: 'ENOENT', message: `${path} does not exist` };
    if (code === 'EACCES' || code === 'EPERM') return { ok: false, code: 'EACCES', message: `permission denied reading ${path}` };
    return { ok: false, code: 'other', message: `cannot read ${path}: ${firstLine(e)}` };
  }
  try {
    return { ok: true, value: read(new Database(bytes)), bytes: bytes.length };
  } catch (e) {
    if (!(e instanceof SqliteCorrupt)) throw e;
    return { ok: false, code: 'corrupt', message: `${path} is not a database Nix wrote: ${e.message}` };
  }
}

/** The file breaks SQLite's format (or uses a part of it this reader does not read). */
export class SqliteCorrupt extends Error {}

const corrupt = (message: string): never => {
  throw new SqliteCorrupt(message);
};

const HEADER = Buffer.from('SQLite format 3\u0000', 'latin1');
/** Page types: table B-tree interior and leaf pages. */
const TABLE_INTERIOR = 0x05;
const TABLE_LEAF = 0x0d;
/** Deeper than this, a table B-tree of a file under MAX_SQLITE_BYTES can only be a loop. */
const MAX_DEPTH = 40;

interface TableSchema {
  root: number;
  columns: string[];
  /** The column that is the rowid itself (INTEGER PRIMARY KEY): stored as NULL in the record. */
  rowidColumn: number;
}

class Database implements SqliteTables {
  readonly #file: Buffer;
  readonly #pageSize: number;
  /** Bytes of each page that hold data (the page size less the reserved bytes at its end). */
  readonly #usable: number;
  readonly #pages: number;
  #schema: Map<string, TableSchema> | undefined;
  /** Bytes of overflowing payload the current walk may still assemble. */
  #budget = 0;

  constructor(file: Buffer) {
    this.#file = file;
    if (file.length < 100 || !file.subarray(0, 16).equals(HEADER)) corrupt('no SQLite header');
    const size = file.readUInt16BE(16);
    this.#pageSize = size === 1 ? 65536 : size;
    if (this.#pageSize < 512 || this.#pageSize > 65536 || (this.#pageSize & (this.#pageSize - 1)) !== 0)
      corrupt(`page size ${this.#pageSize}`);
    this.#usable = this.#pageSize - (file[20] as number);
    if (this.#usable < 480) corrupt('reserved space leaves less than 480 bytes a page');
    // Text is read as UTF-8, the encoding Nix's databases (and SQLite's default) use.
    const encoding = file.readUInt32BE(56);
    if (encoding !== 0 && encoding !== 1) corrupt(`text encoding ${encoding} (UTF-16) is not read`);
    this.#pages = Math.floor(file.length / this.#pageSize);
  }

  rows(table: string, columns: readonly string[], where: readonly ColumnIn[] = []): SqliteValue[][] {
    const schema = this.#tables().get(table.toLowerCase()) ?? corrupt(`no table ${table}`);
    const indexOf = (name: string) => {
      const i = schema.columns.indexOf(name.toLowerCase());
      return i >= 0 ? i : corrupt(`table ${table} has no column ${name}`);
    };
    const wanted = columns.map(indexOf);
    const filters = where.map((w) => ({ at: indexOf(w.column), values: w.values }));
    const out: SqliteValue[][] = [];
    this.#walk(schema.root, (rowid, payload) => {
      const record = new RecordReader(payload);
      const value = (i: number) => (i === schema.rowidColumn ? rowid : record.value(i));
      for (const f of filters) if (!f.values.has(value(f.at))) return;
      out.push(wanted.map(value));
    });
    return out;
  }

  /** sqlite_schema (page 1): each table's root page and columns, from its CREATE TABLE statement. */
  #tables(): Map<string, TableSchema> {
    if (this.#schema) return this.#schema;
    const tables = new Map<string, TableSchema>();
    this.#walk(1, (_rowid, payload) => {
      const record = new RecordReader(payload);
      const [type, name, , root, sql] = [0, 1, 2, 3, 4].map((i) => record.value(i));
      if (type !== 'table' || typeof name !== 'string' || typeof root !== 'number' || typeof sql !== 'string') return;
      tables.set(name.toLowerCase(), { root, ...columnsOf(sql) });
    });
    this.#schema = tables;
    return tables;
  }

  /** Every row of the table B-tree rooted at ROOT, in rowid order: VISIT gets its rowid and whole payload. */
  #walk(root: number, visit: (rowid: number, payload: Buffer) => void): void {
    // A table's payloads together are no larger than the file: cells that share overflow pages to
    // claim more would make the walk quadratic.
    this.#budget = this.#file.length;
    const seen = new Set<number>();
    const stack: { page: number; depth: number }[] = [{ page: root, depth: 0 }];
    while (stack.length > 0) {
      const { page, depth } = stack.pop() as { page: number; depth: number };
      if (depth > MAX_DEPTH) corrupt('table B-tree too deep');
      if (seen.has(page)) corrupt(`page ${page} reached twice`);
      seen.add(page);
      const start = this.#pageStart(page);
      const head = page === 1 ? 100 : 0;
      const type = this.#file[start + head];
      const cells = this.#file.readUInt16BE(start + head + 3);
      if (type === TABLE_LEAF) {
        const pointers = start + head + 8;
        if (pointers + 2 * cells > start + this.#usable) corrupt(`page ${page}: ${cells} cells do not fit`);
        for (let i = 0; i < cells; i++) this.#leafCell(page, start + this.#file.readUInt16BE(pointers + 2 * i), visit);
      } else if (type === TABLE_INTERIOR) {
        const pointers = start + head + 12;
        if (pointers + 2 * cells > start + this.#usable) corrupt(`page ${page}: ${cells} cells do not fit`);
        // Pushed right to left, so that the leftmost child is read first.
        stack.push({ page: this.#file.readUInt32BE(start + head + 8), depth: depth + 1 });
        for (let i = cells - 1; i >= 0; i--) {
          const cell = start + this.#file.readUInt16BE(pointers + 2 * i);
          this.#within(page, cell, 4);
          stack.push({ page: this.#file.readUInt32BE(cell), depth: depth + 1 });
        }
      } else corrupt(`page ${page} is not a table B-tree page (type ${type})`);
    }
  }

  /** One cell of a table leaf page: payload size, rowid, the payload's first bytes here and the rest in overflow pages. */
  #leafCell(page: number, cell: number, visit: (rowid: number, payload: Buffer) => void): void {
    this.#within(page, cell, 1);
    const [size, afterSize] = varint(this.#file, cell);
    const [rowid, at] = varint(this.#file, afterSize);
    if (size > this.#file.length) corrupt(`page ${page}: a payload of ${size} bytes`);
    const local = this.#localBytes(size);
    this.#within(page, at, local + (local < size ? 4 : 0));
    if (local === size) {
      visit(rowid, this.#file.subarray(at, at + size));
      return;
    }
    this.#budget -= size;
    if (this.#budget < 0) corrupt('overflowing payloads larger than the file');
    const parts = [this.#file.subarray(at, at + local)];
    let left = size - local;
    const seen = new Set<number>();
    for (let next = this.#file.readUInt32BE(at + local); left > 0; ) {
      if (seen.has(next)) corrupt(`overflow page ${next} reached twice`);
      seen.add(next);
      const start = this.#pageStart(next);
      const take = Math.min(left, this.#usable - 4);
      parts.push(this.#file.subarray(start + 4, start + 4 + take));
      left -= take;
      next = this.#file.readUInt32BE(start);
    }
    visit(rowid, Buffer.concat(parts, size));
  }

  /** How much of a table leaf payload of SIZE bytes stays on its page (the rest overflows). */
  #localBytes(size: number): number {
    const max = this.#usable - 35;
    if (size <= max) return size;
    const min = Math.floor(((this.#usable - 12) * 32) / 255) - 23;
    const k = min + ((size - min) % (this.#usable - 4));
    return k <= max ? k : min;
  }

  #pageStart(page: number): number {
    if (!Number.isInteger(page) || page < 1 || page > this.#pages) corrupt(`page ${page} is outside the file`);
    return (page - 1) * this.#pageSize;
  }

  /** Corrupt unless LENGTH bytes at AT lie within PAGE's usable bytes. */
  #within(page: number, at: number, length: number): void {
    const start = (page - 1) * this.#pageSize;
    if (at < start || at + length > start + this.#usable) corrupt(`page ${page}: a cell runs past the page`);
  }
}

/** One record (sqlite.org/fileformat2.html#record_format): its header read once, a column decoded when asked. */
class RecordReader {
  readonly #payload: Buffer;
  readonly #types: number[] = [];
  readonly #offsets: number[] = [];

  constructor(payload: Buffer) {
    this.#payload = payload;
    const [headerSize, first] = varint(payload, 0);
    if (headerSize > payload.length) corrupt('a record header runs past its payload');
    let body = headerSize;
    for (let at = first; at < headerSize; ) {
      const [type, next] = varint(payload, at);
      at = next;
      this.#types.push(type);
      this.#offsets.push(body);
      body += contentSize(type);
    }
    if (body > payload.length) corrupt('a record runs past its payload');
  }

  /** Column I's value; a column past the record's end (added by ALTER TABLE since) is NULL. */
  value(i: number): SqliteValue {
    const type = this.#types[i];
    if (type === undefined) return null;
    const at = this.#offsets[i] as number;
    const p = this.#payload;
    switch (type) {
      case 0:
        return null;
      case 1:
        return p.readInt8(at);
      case 2:
        return p.readInt16BE(at);
      case 3:
        return p.readIntBE(at, 3);
      case 4:
        return p.readInt32BE(at);
      case 5:
        return p.readIntBE(at, 6);
      case 6:
        return Number(p.readBigInt64BE(at));
      case 7:
        return p.readDoubleBE(at);
      case 8:
        return 0;
      case 9:
        return 1;
      default:
        if (type >= 13 && type % 2 === 1) return p.toString('utf8', at, at + (type - 13) / 2);
        // A blob (nothing Nix stores in these tables) reads as NULL; 10 and 11 are reserved.
        return null;
    }
  }
}

function contentSize(type: number): number {
  if (type <= 4) return type;
  if (type === 5) return 6;
  if (type === 6 || type === 7) return 8;
  if (type >= 12) return Math.floor((type - 12) / 2);
  return 0;
}

/** SQLite's big-endian varint (1–9 bytes) at AT: [value, the offset after it]. */
function varint(bytes: Buffer, at: number): [number, number] {
  let value = 0;
  for (let i = 0; i < 8; i++) {
    const b = bytes[at + i] ?? corrupt('a varint runs past the data');
    value = value * 128 + (b & 0x7f);
    if (b < 0x80) return [value, at + i + 1];
  }
  const last = bytes[at + 8] ?? corrupt('a varint runs past the data');
  return [value * 256 + last, at + 9];
}

/**
 * The column names of a CREATE TABLE statement, and which one is the rowid (INTEGER PRIMARY KEY):
 * the items of its parenthesised list at depth 0, table constraints left out.
 */
function columnsOf(sql: string): { columns: string[]; rowidColumn: number } {
  const open = sql.indexOf('(');
  const close = sql.lastIndexOf(')');
  if (open < 0 || close < open) corrupt('a CREATE TABLE without columns');
  const items: string[] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open + 1; i < close; i++) {
    const c = sql[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      items.push(sql.slice(start, i));
      start = i + 1;
    }
  }
  items.push(sql.slice(start, close));
  const columns: string[] = [];
  let rowidColumn = -1;
  for (const raw of items) {
    const item = raw.trim();
    if (/^(constraint|primary\s+key|foreign\s+key|unique|check)\b/i.test(item)) continue;
    const name = /^(?:"((?:[^"]|"")*)"|`([^`]*)`|\[([^\]]*)\]|(\S+))/.exec(item);
    if (!name) continue;
    if (/^\S+\s+integer\s+primary\s+key\b/i.test(item) && !/\bdesc\b/i.test(item)) rowidColumn = columns.length;
    columns.push((name[1]?.replace(/""/g, '"') ?? name[2] ?? name[3] ?? name[4] ?? '').toLowerCase());
  }
  return { columns, rowidColumn };
}

function firstLine(e: unknown): string {
  return (String(e instanceof Error ? e.message : e).split('\n')[0] ?? '').slice(0, 200);
}
