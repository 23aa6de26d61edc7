import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  realpathSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/**
 * Answers that depend only on an installed program's file (`nix --version`), kept between runs in
 * the user's cache directory under that file's identity: a run skips starting Nix when the same
 * binary answered before, and an upgrade (another path, inode, size or time) asks again. Nothing
 * secret is kept. A directory that is not this user's own, a symlink, or anything unexpected means
 * no memo: the caller asks the program, as it would without one.
 */
const MAX_MEMO_BYTES = 4096;

/** Where the memos live: $XDG_CACHE_HOME/nixcache, else ~/.cache/nixcache; undefined without either. */
export function memoDir(env: Readonly<NodeJS.ProcessEnv>): string | undefined {
  const base = env.XDG_CACHE_HOME?.startsWith('/') ? env.XDG_CACHE_HOME : env.HOME?.startsWith('/') ? join(env.HOME, '.cache') : undefined;
  return base ? join(base, 'nixcache') : undefined;
}

/** The identity of the first executable NAME on PATH (after symlinks; NAME itself when it has a slash), or undefined. */
export function programIdentity(name: string, pathDirs: readonly string[]): string | undefined {
  for (const candidate of name.includes('/') ? [name] : pathDirs.map((dir) => join(dir, name))) {
    try {
      const real = realpathSync(candidate);
      const s = statSync(real);
      if (!s.isFile() || (s.mode & 0o111) === 0) continue;
      // A script (`#!`) may run another binary that changes while it stays the same: no identity.
      if (startsWithShebang(real)) return undefined;
      return `${real}\u0000${s.dev}\u0000${s.ino}\u0000${s.size}\u0000${s.mtimeMs}\u0000${s.ctimeMs}`;
    } catch {
      // not here: the next directory of PATH
    }
  }
  return undefined;
}

function startsWithShebang(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head.toString('latin1') === '#!';
  } catch {
    return true;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A directory this user owns and nobody else may write to. */
function ownDirectory(dir: string): boolean {
  try {
    const s = lstatSync(dir);
    return s.isDirectory() && s.uid === process.getuid?.() && (s.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** The value remembered for KEY under NAME, or undefined. */
export function readMemo(env: Readonly<NodeJS.ProcessEnv>, name: string, key: string): string | undefined {
  const dir = memoDir(env);
  if (!dir || !ownDirectory(dir)) return undefined;
  let fd: number | undefined;
  try {
    // Never a FIFO or a symlink planted in its place: non-blocking, not followed, a regular file of ours.
    fd = openSync(join(dir, `${name}.json`), constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    const s = fstatSync(fd);
    if (!s.isFile() || s.uid !== process.getuid?.() || s.size > MAX_MEMO_BYTES) return undefined;
    const buffer = Buffer.alloc(s.size);
    const n = readSync(fd, buffer, 0, s.size, 0);
    const memo: unknown = JSON.parse(buffer.subarray(0, n).toString('utf8'));
    if (memo && typeof memo === 'object' && 'key' in memo && 'value' in memo && memo.key === key && typeof memo.value === 'string')
      return memo.value;
    return undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Remembers VALUE for KEY under NAME; any failure only means the next run asks again. */
export function writeMemo(env: Readonly<NodeJS.ProcessEnv>, name: string, key: string, value: string): void {
  const dir = memoDir(env);
  const base = env.XDG_CACHE_HOME?.startsWith('/') ? env.XDG_CACHE_HOME : env.HOME;
  // Never a directory of ours in someone else's home (sudo keeps the user's HOME).
  if (!dir || !base || !ownDirectory(base.replace(/\/+$/, '') || '/')) return;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!ownDirectory(dir)) return;
    const temp = join(dir, `.${name}.${process.pid}.tmp`);
    writeFileSync(temp, JSON.stringify({ key, value }), { mode: 0o600, flag: 'w' });
    renameSync(temp, join(dir, `${name}.json`));
  } catch {
    // a read-only or full home: no memo
  }
}
