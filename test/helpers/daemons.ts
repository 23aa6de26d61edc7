import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { CLI } from './cli.js';

/** A long-running program a test started: its output so far, and how to stop it. */
export interface Daemon {
  child: ChildProcess;
  /** stdout and stderr so far (the last 256 kB). */
  output(): string;
  stop(): Promise<void>;
}

/** A loopback port nothing listens on right now (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function startDaemon(file: string, args: string[], env: Record<string, string> = {}): Daemon {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let text = '';
  const keep = (chunk: Buffer) => {
    text = (text + chunk.toString('utf8')).slice(-256 * 1024);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (e) => keep(Buffer.from(`spawn error: ${e.message}\n`)));
  return {
    child,
    output: () => text,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** Thrown by a condition to stop waiting at once (the daemon died). */
export class GiveUp extends Error {}

/**
 * Polls CONDITION every 100 ms until it returns a value, for at most TIMEOUTMS (a bounded loop:
 * waiting on a daemon that has no event to wait on, such as Prometheus's first scrape).
 */
export async function waitFor<T>(what: string, condition: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const until = performance.now() + timeoutMs;
  let last: unknown;
  for (let i = 0; performance.now() < until && i < 10_000; i++) {
    try {
      const value = await condition();
      if (value !== undefined) return value;
    } catch (e) {
      if (e instanceof GiveUp) throw e;
      last = e;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

/** GET URL with a time limit; the body as text. */
export async function get(url: string, timeoutMs = 10_000): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** `nixcache serve-metrics` from the built CLI, listening on a port it chose; resolves once it serves. */
export async function startServeMetrics(args: string[], env: Record<string, string> = {}): Promise<Daemon & { url: string }> {
  const daemon = startDaemon(process.execPath, [CLI, 'serve-metrics', '--listen', '127.0.0.1:0', ...args], {
    CI: 'true',
    NIX_CONFIG: '',
    ...env,
  });
  const url = await waitFor('serve-metrics to listen', () => {
    if (daemon.child.exitCode !== null) throw new GiveUp(`serve-metrics exited ${daemon.child.exitCode}: ${daemon.output()}`);
    return /serving metrics on (http:\/\/\S+)\/metrics/.exec(daemon.output())?.[1];
  });
  return { ...daemon, url };
}
