/** What every parser in src/nix returns: never throws for bad input. */
export interface ParseError {
  code: string;
  message: string;
  line?: number;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ParseError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function err<T = never>(code: string, message: string, line?: number): Result<T> {
  return { ok: false, error: line === undefined ? { code, message } : { code, message, line } };
}
