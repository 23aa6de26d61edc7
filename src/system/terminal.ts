import { accessSync, constants, existsSync, fstatSync, lstatSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export type WriteResult = { ok: true } | { ok: false; code: string; message: string };

/** How the process talks to a person: what stdout and stderr are, and writing to them. */
export interface Terminal {
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  columns: number | undefined;
  /** Resolves once the text is handed over, or with why it could not be (ENOSPC, EPIPE …). */
  stdout(text: string): Promise<WriteResult>;
  stderr(text: string): Promise<WriteResult>;
}

let listening = false;
function write(stream: NodeJS.WriteStream, text: string): Promise<WriteResult> {
  if (!listening) {
    // A full disk or a closed pipe is an answer for the caller, not an uncaught 'error' event.
    process.stdout.on('error', () => {});
    process.stderr.on('error', () => {});
    listening = true;
  }
  return new Promise((resolve) => {
    try {
      stream.write(text, (e) => {
        const code = (e as NodeJS.ErrnoException | null | undefined)?.code;
        resolve(e ? { ok: false, code: code ?? 'EIO', message: e.message.split('\n')[0] ?? 'write failed' } : { ok: true });
      });
    } catch (e) {
      resolve({ ok: false, code: 'EIO', message: e instanceof Error ? e.message : String(e) });
    }
  });
}

export const terminal: Terminal = {
  stdoutIsTTY: Boolean(process.stdout.isTTY),
  stderrIsTTY: Boolean(process.stderr.isTTY),
  columns: process.stdout.columns,
  stdout: (text) => write(process.stdout, text),
  stderr: (text) => write(process.stderr, text),
};

/** Whether PATH is the very file one of the process's standard streams or FILES is (same device and inode). */
export function sameFileAsAny(path: string, files: readonly string[], fds: readonly number[] = [1, 2]): boolean {
  let target: { dev: number; ino: number };
  try {
    target = statSync(path);
  } catch {
    return false;
  }
  const same = (s: { dev: number; ino: number }) => s.dev === target.dev && s.ino === target.ino;
  for (const fd of fds) {
    try {
      if (same(fstatSync(fd))) return true;
    } catch {
      // not open
    }
  }
  return files.some((f) => {
    try {
      return same(statSync(f));
    } catch {
      return false;
    }
  });
}

/** A spinner on stderr while the run goes on; undefined when stderr is not a terminal. */
export async function startSpinner(
  text: string,
  env: Readonly<NodeJS.ProcessEnv>,
): Promise<{ update(text: string): void; stop(): void } | undefined> {
  if (!terminal.stderrIsTTY || env.CI) return undefined;
  const spinner = (await import('ora')).default({ stream: process.stderr, color: 'cyan', isEnabled: true }).start(text);
  return {
    update: (t) => {
      spinner.text = t;
    },
    stop: () => void spinner.stop(),
  };
}

/** Why FILE cannot be used as a flag's input (undefined when it can): missing, a directory, unreadable. */
export function unreadableFileProblem(file: string, mustRead: boolean): string | undefined {
  try {
    statSync(file);
  } catch {
    return 'no such file';
  }
  if (!mustRead) return undefined;
  try {
    accessSync(file, constants.R_OK);
    if (statSync(file).isDirectory()) return 'cannot read it';
  } catch {
    return 'cannot read it';
  }
  return undefined;
}

/**
 * Why the report cannot be written to FILE (undefined when it can), checked before the run: it is
 * replaced by rename, so it must be a regular file or not exist yet; a symbolic link (/dev/stdout
 * is one), a device, a FIFO, or one of the run's INPUTS is refused rather than written through.
 */
export function unwritableFileProblem(file: string, inputs: readonly string[] = []): string | undefined {
  try {
    const l = lstatSync(file);
    if (l.isSymbolicLink()) return 'is a symbolic link; give the file it points to, or a new file name';
    if (l.isDirectory()) return 'is a directory; give a file name';
    if (!l.isFile()) return 'is not a regular file (a device, FIFO or socket); give a file name';
  } catch {
    // does not exist yet: its directory must be writable
  }
  if (sameFileAsAny(file, inputs))
    return 'is one of the files this run reads or writes (stdout, stderr, --conf, --secret-key-file, a plugin); give another file name';
  const target = existsSync(file) ? file : dirname(resolve(file));
  try {
    if (!existsSync(file) && !statSync(target).isDirectory()) throw new Error('not a directory');
    accessSync(target, constants.W_OK);
  } catch {
    return `cannot write it (${target === file ? 'not writable' : `${target} is not an existing, writable directory`})`;
  }
  return undefined;
}
