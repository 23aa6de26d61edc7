import { chmodSync, cpSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { execa } from 'execa';
import { expect } from 'vitest';
import type { Report } from '../../src/report/model.js';

export const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;
const schema = JSON.parse(readFileSync(new URL('../../schema/doctor.schema.json', import.meta.url), 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
const validate = ajv.compile(schema);

export interface CliRun {
  stdout: string;
  stderr: string;
  exitCode: number;
  durationMs: number;
}

/** A scratch directory with a nix.conf: the doctor reads only it (no user files, no NIX_CONFIG). */
export function nixConf(text: string, extra: Record<string, string> = {}): { dir: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'nixcache-test-'));
  writeFileSync(join(dir, 'nix.conf'), text);
  for (const [name, content] of Object.entries(extra)) writeFileSync(join(dir, name), content);
  return { dir, env: { NIX_CONF_DIR: dir, NIX_USER_CONF_FILES: '', HOME: dir, XDG_CONFIG_HOME: join(dir, 'xdg') } };
}

let sharedCli: string | undefined;

/**
 * The built CLI copied where any user can read it (the bundle in dist/ is self-contained), for
 * tests that run it as another user: the checkout may sit under a directory only root can enter.
 */
export function worldReadableCli(): string {
  if (sharedCli) return sharedCli;
  const dir = mkdtempSync(join(tmpdir(), 'nixcache-cli-'));
  cpSync(new URL('../../dist/', import.meta.url).pathname, dir, { recursive: true });
  const open = (path: string) => {
    chmodSync(path, statSync(path).isDirectory() ? 0o755 : 0o644);
    if (statSync(path).isDirectory()) for (const e of readdirSync(path)) open(join(path, e));
  };
  open(dir);
  sharedCli = join(dir, 'cli.js');
  return sharedCli;
}

/** setpriv to the unprivileged user nobody, for runCli's `wrap`. */
export const AS_NOBODY = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--'];

export async function runCli(
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number; cwd?: string; wrap?: string[]; nodeArgs?: string[] } = {},
): Promise<CliRun> {
  const started = performance.now();
  // WRAP runs the CLI through another program, e.g. setpriv to become another user.
  const [file, ...pre] = [...(opts.wrap ?? []), process.execPath];
  const cli = opts.wrap?.includes('setpriv') ? worldReadableCli() : CLI;
  const r = await execa(file as string, [...pre, ...(opts.nodeArgs ?? []), cli, ...args], {
    reject: false,
    stdin: 'ignore',
    timeout: opts.timeoutMs ?? 60_000,
    env: { NIX_CONFIG: undefined as unknown as string, CI: 'true', ...opts.env },
    extendEnv: true,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1, durationMs: performance.now() - started };
}

/** Parses --json output, asserting it is exactly one document that validates against the shipped schema. */
export function parseReport(stdout: string): Report {
  const report = JSON.parse(stdout) as Report;
  const valid = validate(report);
  expect(valid ? [] : validate.errors).toEqual([]);
  return report;
}

export function checkOf(report: Report, id: string, cache: string | null = null) {
  const found = report.checks.find((c) => c.id === id && (cache === null ? true : c.cache === cache));
  if (!found) throw new Error(`no '${id}' check for ${cache ?? 'host'} in ${report.checks.map((c) => `${c.id}@${c.cache}`).join(', ')}`);
  return found;
}
