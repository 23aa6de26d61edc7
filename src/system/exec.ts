import { execa } from 'execa';
import { type Recorder, trimOutput } from './evidence.js';

export interface ExecResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** The program is not installed (ENOENT). */
  missing: boolean;
  timedOut: boolean;
  /** Permission denied running it, or it said so. */
  denied: boolean;
  durationMs: number;
}

export interface ExecOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Do not keep the output in the evidence log (it may hold secrets). */
  quiet?: boolean;
}

export type Exec = (file: string, args: string[], options?: ExecOptions) => Promise<ExecResult>;

/** Runs a program with no shell, no stdin, a hard timeout and SIGKILL after it; never throws. */
export function createExec(record: Recorder, signal: AbortSignal, defaultTimeoutMs: number): Exec {
  return async (file, args, options = {}) => {
    const started = performance.now();
    const timeout = options.timeoutMs ?? defaultTimeoutMs;
    const result = await execa(file, args, {
      reject: false,
      stdin: 'ignore',
      timeout,
      forceKillAfterDelay: 500,
      cancelSignal: signal,
      maxBuffer: 8 * 1024 * 1024,
      env: { LC_ALL: 'C', ...options.env },
      stripFinalNewline: false,
    });
    const durationMs = Math.round(performance.now() - started);
    const code = (result as { code?: string }).code;
    const missing = code === 'ENOENT';
    const stdout = typeof result.stdout === 'string' ? result.stdout : '';
    const stderr = typeof result.stderr === 'string' ? result.stderr : '';
    const denied = code === 'EACCES' || /permission denied|operation not permitted/i.test(stderr);
    const out: ExecResult = {
      exitCode: result.exitCode ?? null,
      stdout,
      stderr,
      missing,
      timedOut: Boolean(result.timedOut),
      denied,
      durationMs,
    };
    const error = missing
      ? 'not installed'
      : result.timedOut
        ? `timed out after ${timeout} ms`
        : result.isCanceled
          ? 'cancelled at the deadline'
          : undefined;
    record({
      kind: 'exec',
      argv: [file, ...args],
      exitCode: out.exitCode,
      output: options.quiet ? '(output not kept)' : trimOutput([stdout, stderr].filter(Boolean).join('\n')),
      durationMs,
      ...(error ? { error } : {}),
    });
    return out;
  };
}
