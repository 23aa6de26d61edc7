// The part of sql.js (1.16, pinned exactly) the tests use: real SQLite, compiled to WebAssembly, to
// write databases as Nix does and to answer as the oracle for src/system/sqlite.ts's reader.
declare module 'sql.js' {
  export type SqlValue = number | string | Uint8Array | null;
  export interface Statement {
    run(values?: SqlValue[]): void;
    free(): boolean;
  }
  export interface Database {
    run(sql: string, values?: SqlValue[]): Database;
    prepare(sql: string): Statement;
    exec(sql: string): { columns: string[]; values: SqlValue[][] }[];
    export(): Uint8Array;
    close(): void;
  }
  export interface SqlJsStatic {
    Database: new (data?: Uint8Array) => Database;
  }
  export default function initSqlJs(config?: Record<string, unknown>): Promise<SqlJsStatic>;
}
