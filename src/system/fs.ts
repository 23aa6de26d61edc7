import { constants } from 'node:fs';
import { access, open, opendir, readdir, readlink, stat } from 'node:fs/promises';
import type { Recorder } from './evidence.js';

/** FIFO: the path is a FIFO, which a reader (Nix) would wait on until something writes to it. */
export type ReadResult = { ok: true; text: string } | { ok: false; code: string; message: string; fifo?: boolean };
export interface FileStat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  isFile: boolean;
  isDirectory: boolean;
}

export interface Fs {
  /** Reads a text file of at most MAXBYTES. The content never enters the evidence log. */
  readText(path: string, maxBytes?: number): Promise<ReadResult>;
  stat(path: string): Promise<FileStat | null>;
  /**
   * The names in directory PATH, sorted; with MAX, only the first MAX the directory yields (a store
   * holds 10⁵ entries), sorted — all of them, like without MAX, when it holds no more.
   */
  readdir(path: string, max?: number): Promise<string[] | null>;
  readlink(path: string): Promise<string | null>;
  exists(path: string): Promise<boolean>;
  canRead(path: string): Promise<boolean>;
  /** Whether this process may create files in PATH (a directory) or write it. */
  canWrite(path: string): Promise<boolean>;
}

/**
 * Reads a regular file of at most MAXBYTES. Opened without blocking and checked before reading: a
 * FIFO, socket or device named where a file is expected (nix.conf, netrc-file, a key) is refused at
 * once instead of holding a thread until someone writes to it.
 */
export async function readTextFile(path: string, maxBytes = 1024 * 1024): Promise<ReadResult> {
  // /dev/null is how people say "none" (NIX_USER_CONF_FILES=/dev/null, netrc-file = /dev/null): the
  // empty file Nix reads there; any other device is refused unread below.
  if (path === '/dev/null') return { ok: true, text: '' };
  try {
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const info = await handle.stat();
      if (info.isDirectory()) return { ok: false, code: 'EISDIR', message: `'${path}' is a directory` };
      if (!info.isFile())
        return {
          ok: false,
          code: 'ENOTREG',
          message: `'${path}' is not a regular file (${specialKind(info)})`,
          ...(info.isFIFO() ? { fifo: true } : {}),
        };
      // A regular file says its size: one over the limit is refused unread.
      if (info.size > maxBytes) return tooLarge(path, maxBytes, info.size);
      // Read to EOF rather than trusting the size: files under /proc say they are empty. A file
      // that has a size is read in one go (a short read of a regular file is its end), so the
      // thousands of files of an include chain cost one read each.
      const sized = info.size > 0;
      let chunk = Buffer.allocUnsafe(Math.min(maxBytes + 1, sized ? info.size + 1 : 64 * 1024));
      let length = 0;
      for (;;) {
        const { bytesRead } = await handle.read(chunk, length, chunk.length - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
        if (length > maxBytes) return tooLarge(path, maxBytes);
        if (sized && length < chunk.length) break;
        if (length === chunk.length) {
          const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, chunk.length * 2));
          chunk.copy(bigger, 0, 0, length);
          chunk = bigger;
        }
      }
      return { ok: true, text: chunk.subarray(0, length).toString('utf8') };
    } finally {
      await handle.close();
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this user' : `cannot be read (${code})`;
    return { ok: false, code, message: `'${path}' ${why}` };
  }
}

function specialKind(info: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean }): string {
  if (info.isFIFO()) return 'a FIFO';
  if (info.isSocket()) return 'a socket';
  return info.isCharacterDevice() ? 'a character device' : 'a block device';
}

function tooLarge(path: string, maxBytes: number, size?: number): ReadResult {
  const is = size === undefined ? 'is larger than' : `is ${size} bytes, larger than`;
  return { ok: false, code: 'EFBIG', message: `'${path}' ${is} ${maxBytes} bytes` };
}

export function createFs(record: Recorder): Fs {
  return {
    async readText(path, maxBytes) {
      const r = await readTextFile(path, maxBytes);
      record({ kind: 'file', path, op: 'read', result: r.ok ? `${r.text.length} characters` : r.code });
      return r;
    },
    async stat(path) {
      try {
        const s = await stat(path);
        return { mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, size: s.size, isFile: s.isFile(), isDirectory: s.isDirectory() };
      } catch {
        return null;
      }
    },
    async readdir(path, max) {
      try {
        if (max === undefined) return await readdir(path);
        // Read in batches and stopped early: listing all of a 100,000-entry store took ~75 ms.
        const dir = await opendir(path, { bufferSize: Math.min(Math.max(max, 32), 4096) });
        const names: string[] = [];
        try {
          for (let entry = await dir.read(); entry && names.length < max; entry = await dir.read()) names.push(entry.name);
        } finally {
          await dir.close();
        }
        return names.sort();
      } catch {
        return null;
      }
    },
    async readlink(path) {
      try {
        return await readlink(path);
      } catch {
        return null;
      }
    },
    exists: (path) => accessible(path, constants.F_OK),
    canWrite: (path) => accessible(path, constants.W_OK),
    canRead: (path) => accessible(path, constants.R_OK),
  };
}

/** Whether this process may use PATH in MODE (access(2)); any error is a no. */
function accessible(path: string, mode: number): Promise<boolean> {
  return access(path, mode).then(
    () => true,
    () => false,
  );
}
