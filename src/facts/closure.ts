import { parseBaseName, parseStorePath } from '../nix/store-path.js';
import type { Exec } from '../system/exec.js';
import type { Fs } from '../system/fs.js';

/** What the command line named, turned into store paths; a bad argument is a one-line problem, never a crash. */
export interface ResolvedArguments {
  /** Store paths in argument order, without repeats, each with the argument it came from. */
  paths: { path: string; from: string }[];
  /** The derivations named, each with its outputs (which are in PATHS). */
  drvs: { path: string; outputs: string[] }[];
  problems: { argument: string; message: string }[];
}

/** Paths per nix-store call: far below the kernel's argument-size limit. */
const BATCH = 1000;
/** Long enough for nix-store over a 100,000-path closure; the run's deadline still applies. */
const NIX_STORE_TIMEOUT_MS = 120_000;

export interface StoreTools {
  exec: Exec;
  fs: Fs;
  storeDir: string;
  /** --store: the Nix store paths are substituted into (default: the local store). */
  store?: string | undefined;
}

const storeArgs = (t: StoreTools) => (t.store ? ['--store', t.store] : []);

function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return (lines[lines.length - 1] ?? '').replace(/^error:\s*/, '').slice(0, 300);
}

async function nixStore(t: StoreTools, args: string[]): Promise<{ ok: true; lines: string[] } | { ok: false; message: string }> {
  const r = await t.exec('nix-store', [...storeArgs(t), ...args], { timeoutMs: NIX_STORE_TIMEOUT_MS, quiet: true });
  if (r.missing) return { ok: false, message: 'nix-store is not installed' };
  if (r.timedOut) return { ok: false, message: `nix-store ${args[0]} timed out` };
  if (r.exitCode !== 0) return { ok: false, message: lastLine(r.stderr) || `nix-store exited with ${r.exitCode}` };
  return { ok: true, lines: r.stdout.split('\n').filter(Boolean) };
}

/** The outputs of the derivations DRVS (`nix-store -q --outputs`), in batches. */
async function outputsOf(t: StoreTools, drvs: readonly string[]): Promise<{ ok: true; lines: string[] } | { ok: false; message: string }> {
  const lines: string[] = [];
  for (let i = 0; i < drvs.length; i += BATCH) {
    const r = await nixStore(t, ['--query', '--outputs', ...drvs.slice(i, i + BATCH)]);
    if (!r.ok) return r;
    lines.push(...r.lines);
  }
  return { ok: true, lines };
}

/**
 * Store paths (`/nix/store/…` or a bare `hash-name`), `.drv`s (their outputs, via Nix) and
 * installables (evaluated with `nix eval`, when Nix is there), in argument order.
 */
export async function resolveArguments(t: StoreTools, args: readonly string[]): Promise<ResolvedArguments> {
  const out: ResolvedArguments = { paths: [], drvs: [], problems: [] };
  const seen = new Set<string>();
  const add = (path: string, from: string) => {
    if (!seen.has(path)) {
      seen.add(path);
      out.paths.push({ path, from });
    }
  };
  const drvs: { arg: string; path: string }[] = [];
  const installables: string[] = [];
  for (const arg of args) {
    const text = arg.trim();
    const inStore = text.startsWith(`${t.storeDir}/`);
    const bare = !text.includes('/') && parseBaseName(text).ok;
    if (inStore || bare) {
      const parsed = parseStorePath(bare ? `${t.storeDir}/${text}` : text, t.storeDir);
      if (!parsed.ok) {
        out.problems.push({ argument: arg, message: `not a store path: ${parsed.error.message}` });
        continue;
      }
      const path = `${t.storeDir}/${parsed.value.baseName}`;
      if (parsed.value.name.endsWith('.drv')) drvs.push({ arg, path });
      else add(path, arg);
    } else if (text.startsWith('/') || text === '') {
      out.problems.push({ argument: arg, message: `not a store path: '${text.slice(0, 120)}' is not in the Nix store ${t.storeDir}` });
    } else installables.push(arg);
  }
  for (const { arg, path } of drvs) {
    if (!(await t.fs.stat(path)) && !t.store) {
      out.problems.push({ argument: arg, message: `the derivation ${path} does not exist (build or instantiate it first)` });
      continue;
    }
    const r = await outputsOf(t, [path]);
    if (!r.ok) {
      out.problems.push({ argument: arg, message: `cannot read the outputs of ${path}: ${r.message}` });
      continue;
    }
    out.drvs.push({ path, outputs: r.lines });
    for (const line of r.lines) add(line, arg);
  }
  for (const arg of installables) {
    const r = await t.exec('nix', ['--extra-experimental-features', 'nix-command flakes', 'eval', '--raw', `${arg}.outPath`], {
      timeoutMs: NIX_STORE_TIMEOUT_MS,
      quiet: true,
    });
    if (r.missing) out.problems.push({ argument: arg, message: `'${arg}' is not a store path, and nix is not installed to evaluate it` });
    else if (r.exitCode !== 0 || !r.stdout.startsWith(`${t.storeDir}/`))
      out.problems.push({ argument: arg, message: `cannot evaluate '${arg}': ${lastLine(r.stderr) || 'no store path'}` });
    else add(r.stdout.trim(), arg);
  }
  return out;
}

/**
 * Where a `--store /ROOT` chroot store keeps its files (ROOT + the store directory), or undefined
 * for any other store (the default one may be redirected by nix.conf's `store`; remote stores have
 * no files here).
 */
function chrootStoreDir(t: StoreTools): string | undefined {
  return t.store?.startsWith('/') ? `${t.store.replace(/\/+$/, '')}${t.storeDir}` : undefined;
}

/**
 * Which of PATHS are valid in the store (`nix-store --check-validity --print-invalid`); undefined
 * when Nix cannot say. In a chroot store, a path with no file there cannot be valid, so Nix is not
 * started for those (opening a store costs it ~100 ms: most of `coverage --store EMPTY` on 1,000 paths).
 */
export async function validPaths(t: StoreTools, paths: readonly string[]): Promise<Set<string> | undefined> {
  const dir = chrootStoreDir(t);
  const invalid = new Set<string>();
  let candidates = paths;
  if (dir) {
    const onDisk = await Promise.all(
      paths.map(async (p) => {
        const file = `${dir}${p.slice(t.storeDir.length)}`;
        return (await t.fs.stat(file)) !== null || (await t.fs.readlink(file)) !== null;
      }),
    );
    candidates = paths.filter((_, i) => onDisk[i]);
    for (let i = 0; i < paths.length; i++) if (!onDisk[i]) invalid.add(paths[i] as string);
  }
  for (let i = 0; i < candidates.length; i += BATCH) {
    const r = await nixStore(t, ['--check-validity', '--print-invalid', ...candidates.slice(i, i + BATCH)]);
    if (!r.ok) return undefined;
    for (const l of r.lines) invalid.add(l);
  }
  return new Set(paths.filter((p) => !invalid.has(p)));
}

/**
 * The closure of ROOTS in the store (`nix-store -qR`), for the roots that are valid there; the
 * others are returned as they are (their references come from the caches' narinfos). A derivation
 * of DRVS whose outputs are not all built stands for the outputs of every derivation in its closure.
 * Nix is asked once which paths are valid: the same answer decides both.
 */
export async function localClosure(
  t: StoreTools,
  roots: readonly string[],
  drvs: readonly { path: string; outputs: readonly string[] }[],
): Promise<{ paths: string[]; problems: string[] }> {
  const problems: string[] = [];
  const result = new Set<string>();
  const valid = (await validPaths(t, roots)) ?? new Set<string>();
  const unknown = roots.filter((p) => !valid.has(p));
  const validRoots = roots.filter((p) => valid.has(p));
  const unbuilt = drvs.filter((d) => d.outputs.some((o) => !valid.has(o))).map((d) => d.path);
  for (let i = 0; i < validRoots.length; i += BATCH) {
    const r = await nixStore(t, ['--query', '--requisites', ...validRoots.slice(i, i + BATCH)]);
    if (!r.ok) problems.push(r.message);
    else for (const l of r.lines) result.add(l);
  }
  for (const drv of unbuilt) {
    const r = await nixStore(t, ['--query', '--requisites', drv]);
    if (!r.ok) {
      problems.push(r.message);
      continue;
    }
    const outs = await outputsOf(
      t,
      r.lines.filter((l) => l.endsWith('.drv')),
    );
    if (!outs.ok) problems.push(outs.message);
    else for (const l of outs.lines) result.add(l);
  }
  for (const p of unknown) result.add(p);
  return { paths: [...result], problems };
}

/** The system closure's root: /run/current-system on NixOS, else the default profile. */
export async function systemRoot(fs: Fs, storeDir: string): Promise<{ path: string; from: string } | undefined> {
  for (const link of ['/run/current-system', '/nix/var/nix/profiles/default']) {
    let target = await fs.readlink(link);
    let from = link;
    for (let hops = 0; target && !target.startsWith(`${storeDir}/`) && hops < 8; hops++) {
      from = target.startsWith('/') ? target : `${from.replace(/[^/]+$/, '')}${target}`;
      target = await fs.readlink(from);
    }
    if (target?.startsWith(`${storeDir}/`)) {
      const parsed = parseStorePath(target, storeDir);
      if (parsed.ok) return { path: `${storeDir}/${parsed.value.baseName}`, from: link };
    }
  }
  return undefined;
}
