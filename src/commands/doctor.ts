import { accessSync, constants, existsSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CHECKS } from '../../checks/index.js';
import { type Report, runDoctor } from '../doctor.js';
import { renderJson } from '../report/json.js';
import { redactPatterns } from '../report/redact.js';
import type { Check } from '../runner/types.js';
import { SCHEMA_VERSION, VERSION } from '../version.js';

type UsageErrorClass = new (message: string) => Error;

export async function doctorCommand(opts: Record<string, unknown>, UsageError: UsageErrorClass): Promise<number> {
  const json = Boolean(opts.json);
  const reportOpt = opts.report as string | boolean | undefined;
  if (json && reportOpt === true)
    throw new UsageError('--report without a FILE writes to stdout, which --json already uses: give --report a file name');
  if (typeof reportOpt === 'string') requireWritable(reportOpt, UsageError);
  const conf = opts.conf as string | undefined;
  if (conf) requireReadable(conf, '--conf', UsageError);
  const secretKeyFile = opts.secretKeyFile as string | undefined;
  if (secretKeyFile) requireExists(secretKeyFile, '--secret-key-file', UsageError);

  const plugins = await loadPlugins((opts.plugin as string[]) ?? [], UsageError);
  const registry = [...CHECKS, ...plugins];
  const known = registry.map((c) => c.id);
  const only = (opts.only as string[] | undefined) ?? [];
  const skip = (opts.skip as string[] | undefined) ?? [];
  for (const id of [...only, ...skip]) {
    if (!known.includes(id)) throw new UsageError(`unknown check id '${id}' (known: ${known.join(', ')})`);
  }
  const checks = registry.filter((c) => (only.length === 0 || only.includes(c.id)) && !skip.includes(c.id));

  const env = process.env;
  const color = opts.color !== false && !env.NO_COLOR && (env.FORCE_COLOR ? env.FORCE_COLOR !== '0' : Boolean(process.stdout.isTTY));
  const spinner =
    process.stderr.isTTY && !env.CI
      ? (await import('ora')).default({ stream: process.stderr, color: 'cyan', isEnabled: true }).start('nixcache doctor')
      : undefined;
  const verbose = Boolean(opts.verbose);
  const strict = Boolean(opts.strict);

  let report: Report;
  try {
    ({ report } = await runDoctor({
      checks,
      timeoutMs: Math.round((opts.timeout as number) * 1000),
      deadlineMs: Math.round((opts.deadline as number) * 1000),
      strict,
      verbose,
      server: Boolean(opts.server),
      ...(opts.port !== undefined ? { port: opts.port as number } : {}),
      ...(secretKeyFile ? { secretKeyFile: resolve(secretKeyFile) } : {}),
      ...(opts.sample ? { sample: opts.sample as string } : {}),
      trustedKeys: (opts.trustedKey as string[]) ?? [],
      caches: (opts.cache as string[]) ?? [],
      ...(conf ? { conf } : {}),
      onProgress: (text) => {
        if (spinner) spinner.text = redactPatterns(text);
      },
    }));
  } catch (e) {
    // The doctor itself failed (not one check): still one valid document, and a one-line reason.
    report = crashReport(e, verbose);
  } finally {
    spinner?.stop();
  }

  if (json) process.stdout.write(renderJson(report));
  if (typeof reportOpt === 'string') {
    try {
      writeFileSync(reportOpt, (await import('../report/markdown.js')).renderMarkdown(report));
      if (!json) process.stderr.write(`nixcache: report written to ${reportOpt}\n`);
    } catch (e) {
      process.stderr.write(`nixcache: could not write the report to ${reportOpt}: ${(e as Error).message.split('\n')[0]}\n`);
    }
  }
  // Renderers load on demand: a --json run never compiles cli-table3.
  if (reportOpt === true) process.stdout.write((await import('../report/markdown.js')).renderMarkdown(report));
  else if (!json)
    process.stdout.write((await import('../report/table.js')).renderTable(report, { color, verbose, width: process.stdout.columns }));

  const failed = report.summary.fail > 0 || (strict && report.summary.warn > 0);
  return failed ? 1 : 0;
}

function requireExists(file: string, flag: string, UsageError: UsageErrorClass): void {
  try {
    statSync(file);
  } catch {
    throw new UsageError(`${flag} ${file}: no such file`);
  }
}

/** --report FILE: checked before the run, so a typo in the path does not cost a whole run. */
function requireWritable(file: string, UsageError: UsageErrorClass): void {
  if (existsSync(file) && statSync(file).isDirectory()) throw new UsageError(`--report ${file}: is a directory; give a file name`);
  const target = existsSync(file) ? file : dirname(resolve(file));
  try {
    if (!existsSync(file) && !statSync(target).isDirectory()) throw new Error('not a directory');
    accessSync(target, constants.W_OK);
  } catch {
    throw new UsageError(
      `--report ${file}: cannot write it (${target === file ? 'not writable' : `${target} is not an existing, writable directory`})`,
    );
  }
}

function requireReadable(file: string, flag: string, UsageError: UsageErrorClass): void {
  requireExists(file, flag, UsageError);
  try {
    accessSync(file, constants.R_OK);
    if (statSync(file).isDirectory()) throw new Error('directory');
  } catch {
    throw new UsageError(`${flag} ${file}: cannot read it`);
  }
}

/** Loads `--plugin` modules: each exports a Check, an array of them, or `checks`. */
async function loadPlugins(specs: string[], UsageError: UsageErrorClass): Promise<Check[]> {
  const out: Check[] = [];
  const builtin = new Set(CHECKS.map((c) => c.id));
  for (const spec of specs) {
    let url: string;
    try {
      const local = spec.startsWith('.') || isAbsolute(spec) || /\.[cm]?js$/.test(spec);
      url = local ? pathToFileURL(resolve(spec)).href : pathToFileURL(createRequire(`${process.cwd()}/`).resolve(spec)).href;
      if (local && !existsSync(resolve(spec))) throw new Error('missing');
    } catch {
      throw new UsageError(`--plugin ${spec}: cannot find that module`);
    }
    let mod: Record<string, unknown>;
    try {
      mod = (await import(url)) as Record<string, unknown>;
    } catch (e) {
      throw new UsageError(`--plugin ${spec}: loading it failed: ${String((e as Error).message).split('\n')[0]}`);
    }
    const exported = mod.checks ?? mod.default ?? mod.check;
    const list = Array.isArray(exported) ? exported : [exported];
    for (const c of list as Partial<Check>[]) {
      if (
        !c ||
        typeof c.id !== 'string' ||
        !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(c.id) ||
        typeof c.run !== 'function' ||
        (c.scope !== 'host' && c.scope !== 'cache')
      ) {
        throw new UsageError(`--plugin ${spec}: does not export a check ({ id: 'kebab-case', title, scope: 'host' | 'cache', run })`);
      }
      if (builtin.has(c.id) || out.some((o) => o.id === c.id))
        throw new UsageError(`--plugin ${spec}: check id '${c.id}' is already taken`);
      out.push({ ...c, title: typeof c.title === 'string' ? c.title : c.id } as Check);
    }
  }
  return out;
}

function crashReport(e: unknown, verbose: boolean): Report {
  const message = redactPatterns(String((e as Error)?.message ?? e).split('\n')[0] ?? 'unknown error');
  return {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: 'nixcache', version: VERSION },
    generatedAt: new Date().toISOString(),
    durationMs: 0,
    environment: {
      os: process.platform,
      arch: process.arch,
      nixVersion: null,
      user: process.env.USER ?? 'unknown',
      uid: -1,
      groups: [],
      root: false,
      multiUser: false,
      trustedUser: null,
      storeDir: '/nix/store',
      sandbox: null,
    },
    config: { files: [], substituters: [], trustedPublicKeys: [], requireSigs: true },
    caches: [],
    checks: [
      {
        id: 'doctor',
        title: 'nixcache doctor',
        cache: null,
        status: 'fail',
        summary: `the doctor could not run: ${message}`,
        detail: verbose ? redactPatterns(String((e as Error)?.stack ?? '')) : null,
        fix: null,
        reason: null,
        data: {},
        evidence: [],
        durationMs: 0,
      },
    ],
    summary: { pass: 0, warn: 0, fail: 1, skip: 0 },
  };
}
