import { accessSync, constants, existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** How the process talks to a person: what stdout and stderr are, and writing to them. */
export interface Terminal {
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  columns: number | undefined;
  stdout(text: string): void;
  stderr(text: string): void;
}

export const terminal: Terminal = {
  stdoutIsTTY: Boolean(process.stdout.isTTY),
  stderrIsTTY: Boolean(process.stderr.isTTY),
  columns: process.stdout.columns,
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

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

/** Why the report cannot be written to FILE (undefined when it can), checked before the run. */
export function unwritableFileProblem(file: string): string | undefined {
  if (existsSync(file) && statSync(file).isDirectory()) return 'is a directory; give a file name';
  const target = existsSync(file) ? file : dirname(resolve(file));
  try {
    if (!existsSync(file) && !statSync(target).isDirectory()) throw new Error('not a directory');
    accessSync(target, constants.W_OK);
  } catch {
    return `cannot write it (${target === file ? 'not writable' : `${target} is not an existing, writable directory`})`;
  }
  return undefined;
}

/** Writes the report; a failure comes back as one line. */
export function writeTextFile(file: string, text: string): { ok: true } | { ok: false; message: string } {
  try {
    writeFileSync(file, text);
    return { ok: true };
  } catch (e) {
    return { ok: false, message: (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? 'write failed' };
  }
}
