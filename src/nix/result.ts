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

/**
 * Errors quote the input they reject; whatever that input holds, the message stays one printable
 * line of bounded length (control characters escaped, long quotes cut).
 */
export function err<T = never>(code: string, message: string, line?: number): Result<T> {
  const oneLine = oneLineMessage(message);
  return { ok: false, error: line === undefined ? { code, message: oneLine } : { code, message: oneLine, line } };
}

export function oneLineMessage(message: string, max = 300): string {
  const printable = message.replace(/[\u0000-\u001f\u007f]/g, (c) =>
    c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return printable.length > max ? `${printable.slice(0, max - 1)}…` : printable;
}
