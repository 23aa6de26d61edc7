import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Writes FILE so that a reader sees the old content or the new, never a half-written file: a
 * temporary file in the same directory (same file system), flushed, then renamed over FILE. This
 * is what node_exporter's textfile collector asks of the programs feeding it. Its name starts with
 * a dot and does not end in `.prom`, so the collector never reads the temporary file.
 */
export function writeFileAtomically(file: string, text: string, mode = 0o644): { ok: true } | { ok: false; message: string } {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  try {
    const fd = openSync(temp, 'wx', mode);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
    return { ok: true };
  } catch (e) {
    rmSync(temp, { force: true });
    return { ok: false, message: (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? 'write failed' };
  }
}
