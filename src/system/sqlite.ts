import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * Reads tables of a SQLite database file without opening it for writing: the file's bytes are
 * copied into memory and queried there with sql.js (SQLite compiled to WebAssembly), so nothing is
 * locked, journalled or changed, and nothing is compiled at install time. Never throws.
 */
export type SqliteRows = Record<string, (number | string | null)[][]>;

export type SqliteRead =
  | { ok: true; rows: SqliteRows; bytes: number }
  | { ok: false; code: 'ENOENT' | 'EACCES' | 'too-large' | 'corrupt' | 'other'; message: string };

/** A database larger than this is not read (Nix's narinfo cache is a few MB, tens on a busy machine). */
export const MAX_SQLITE_BYTES = 512 * 1024 * 1024;

/** Runs each QUERY (name → SQL) over the file at PATH and returns its rows as arrays of column values. */
export async function readSqlite(path: string, queries: Readonly<Record<string, string>>): Promise<SqliteRead> {
  let bytes: Buffer;
  try {
    // Without blocking, and only a regular file: a FIFO in its place would hold a thread for good.
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const info = await handle.stat();
      if (!info.isFile()) return { ok: false, code: 'other', message: `${path} is not a regular file` };
      const { size } = info;
      if (size > MAX_SQLITE_BYTES) return { ok: false, code: 'too-large', message: `${path} is larger than ${MAX_SQLITE_BYTES} bytes` };
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
    const { default: init } = await import('sql.js/dist/sql-wasm-inline.js');
    const SQL = await init();
    const db = new SQL.Database(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
    try {
      const rows: SqliteRows = {};
      for (const [name, sql] of Object.entries(queries)) {
        const statement = db.prepare(sql);
        const out: (number | string | null)[][] = [];
        try {
          while (statement.step()) out.push(statement.get().map((v) => (v instanceof Uint8Array ? null : v)));
        } finally {
          statement.free();
        }
        rows[name] = out;
      }
      return { ok: true, rows, bytes: bytes.length };
    } finally {
      db.close();
    }
  } catch (e) {
    return { ok: false, code: 'corrupt', message: `${path} is not a database Nix wrote: ${firstLine(e)}` };
  }
}

function firstLine(e: unknown): string {
  return (String(e instanceof Error ? e.message : e).split('\n')[0] ?? '').slice(0, 200);
}
