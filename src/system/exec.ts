import { spawn } from 'node:child_process';
import { type Recorder, trimOutput } from './evidence.js';
import { programIdentity, readMemo, writeMemo } from './memo.js';

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
  /**
   * The output depends on the program's binary alone (`nix --version`): a successful answer is
   * remembered under this name and given back, without running it, while the binary stays the same.
   */
  memo?: string;
}

export type Exec = (file: string, args: string[], options?: ExecOptions) => Promise<ExecResult>;

const MAX_OUTPUT = 8 * 1024 * 1024;

interface Finished {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** The spawn error code: ENOENT (not installed), EACCES (not executable). */
  code?: string;
  timedOut: boolean;
  cancelled: boolean;
}

/**
 * Runs a program with no shell, stdin closed, its output capped, SIGKILL at the timeout or when
 * SIGNAL aborts (the run's deadline); never throws. Plain `child_process`: the doctor starts about
 * ten short programs per run, and execa's per-call work cost ~50 ms of a ~300 ms run (measured).
 */
function run(file: string, args: string[], timeoutMs: number, signal: AbortSignal, env: NodeJS.ProcessEnv): Promise<Finished> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let timedOut = false;
    let cancelled = false;
    let spawnError: string | undefined;
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    const kill = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    const onAbort = () => {
      cancelled = true;
      kill();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT) return kill();
      into.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = e.code ?? 'EUNKNOWN';
    });
    let done = false;
    const finish = (exitCode: number | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({
        exitCode: spawnError ? null : exitCode,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ...(spawnError ? { code: spawnError } : {}),
        timedOut,
        cancelled,
      });
    };
    child.on('close', (exitCode) => finish(exitCode));
    // A program that leaves a background child holding its output open must not hold us: once it
    // has exited, what it wrote arrives within moments.
    child.on('exit', (exitCode) => setTimeout(() => finish(exitCode), 200).unref());
  });
}

/** Runs a program with no shell, no stdin, a hard timeout and SIGKILL after it; never throws. */
export function createExec(record: Recorder, signal: AbortSignal, defaultTimeoutMs: number): Exec {
  return async (file, args, options = {}) => {
    const started = performance.now();
    const timeout = options.timeoutMs ?? defaultTimeoutMs;
    const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', ...options.env };
    const binary = options.memo ? programIdentity(file, (env.PATH ?? '').split(':').filter(Boolean)) : undefined;
    const remembered = options.memo && binary ? readMemo(process.env, options.memo, binary) : undefined;
    if (remembered !== undefined) {
      record({
        kind: 'exec',
        argv: [file, ...args],
        exitCode: 0,
        output: `${trimOutput(remembered.trimEnd())} (this binary's answer in an earlier run)`,
        durationMs: 0,
      });
      return { exitCode: 0, stdout: remembered, stderr: '', missing: false, timedOut: false, denied: false, durationMs: 0 };
    }
    const result = await run(file, args, timeout, signal, env);
    if (options.memo && binary && result.exitCode === 0 && !result.timedOut) writeMemo(process.env, options.memo, binary, result.stdout);
    const durationMs = Math.round(performance.now() - started);
    const code = result.code;
    const missing = code === 'ENOENT';
    const { stdout, stderr } = result;
    const denied = code === 'EACCES' || /permission denied|operation not permitted/i.test(stderr);
    const out: ExecResult = {
      exitCode: result.exitCode,
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
        : result.cancelled
          ? 'cancelled at the deadline'
          : undefined;
    record({
      kind: 'exec',
      argv: [file, ...args],
      exitCode: out.exitCode,
      output: options.quiet ? '(output not kept)' : trimOutput([stdout.trimEnd(), stderr.trimEnd()].filter(Boolean).join('\n')),
      durationMs,
      ...(error ? { error } : {}),
    });
    return out;
  };
}
