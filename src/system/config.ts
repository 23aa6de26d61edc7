import { lstat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { type ParsedConf, parseNixConf, splitList } from '../nix/conf.js';
import type { Assignment, ConfLevel } from '../nix/config.js';
import { isEverKnownSetting } from '../nix/settings.js';
import { readTextFile } from './fs.js';

export interface ConfFileRecord {
  path: string;
  level: ConfLevel;
  /** `read`, or why not: `missing`, or the read error. */
  status: 'read' | 'missing' | 'unreadable';
  message?: string;
  includedFrom?: string;
}

export interface ConfProblem {
  file: string;
  line?: number;
  /**
   * `unreadable`: a file nixcache did not read (Nix skips some of these and hangs on a FIFO: the
   * message says which). `read-limit`: nixcache stopped at one of its CONF_LIMITS, where Nix goes on
   * (for minutes, on an include fan-out). `blocks`: a FIFO where Nix reads a file: Nix waits on it.
   */
  code: 'illegal-line' | 'include-missing' | 'include-loop' | 'unreadable' | 'read-limit' | 'blocks';
  message: string;
  /** For an illegal line that a `\` at the end of an earlier setting meant to continue: that setting's line. */
  continues?: number;
}

export interface LoadedConf {
  files: ConfFileRecord[];
  assignments: Assignment[];
  problems: ConfProblem[];
  /** The files Nix would look at, in the order it applies them. */
  searched: { path: string; level: ConfLevel }[];
}

/**
 * How much nix.conf nixcache reads. Nix 2.8 has no limits of its own: config.cc `applyConfigFile`
 * reads any size, follows includes until its stack overflows (measured: 150,000 levels read,
 * 200,000 a SIGSEGV) and reads an included file again each time it is included. These limits are
 * far beyond any real configuration, and keep an include fan-out, a huge file or a hostile one
 * within the run's time and memory; reaching one is a `read-limit` problem, never silence.
 */
export interface ConfLimits {
  /** Bytes of one file (a real nix.conf is a few kB; Nix reads any size). */
  fileBytes: number;
  /** Bytes of all the different files together. */
  totalBytes: number;
  /** Different files read (a chain of includes reads one per level). */
  files: number;
  /** Include lines followed, a file included again counted again (Nix reads it again). */
  includes: number;
  /** Settings and illegal lines applied, again for a file included again (includes are counted above). */
  lines: number;
  /** Values the `extra-` lines add, over all of them (each one a list item kept with its origin). */
  appended: number;
  /** Different names no Nix 2 release has: each costs one did-you-mean search (about 0.5 ms). */
  unknownNames: number;
}

export const CONF_LIMITS: Readonly<ConfLimits> = {
  fileBytes: 16 * 1024 * 1024,
  totalBytes: 64 * 1024 * 1024,
  files: 5_000,
  includes: 100_000,
  lines: 100_000,
  appended: 100_000,
  unknownNames: 1_000,
};

/** The nix.conf files Nix reads, in the order it applies them (globals.cc `loadConfFile`). */
export function confSearchPath(env: NodeJS.ProcessEnv, home = homedir()): { path: string; level: ConfLevel }[] {
  const system = `${env.NIX_CONF_DIR || '/etc/nix'}/nix.conf`;
  let user: string[];
  if (env.NIX_USER_CONF_FILES !== undefined) {
    user = env.NIX_USER_CONF_FILES.split(':').filter(Boolean);
  } else {
    const configHome = env.XDG_CONFIG_HOME || `${home}/.config`;
    const dirs = (env.XDG_CONFIG_DIRS || '/etc/xdg').split(':').filter(Boolean);
    user = [configHome, ...dirs].map((d) => `${d}/nix/nix.conf`);
  }
  // Nix applies the user files last-to-first, so the first (XDG_CONFIG_HOME) wins.
  return [{ path: system, level: 'system' }, ...user.reverse().map((path) => ({ path, level: 'user' as const }))];
}

type FileRead = { ok: true; parsed: ParsedConf } | { ok: false; code: string; message: string; fifo?: boolean };

/** Thrown inside loadNixConf only, to stop reading at a limit or the deadline; never escapes it. */
class Stop extends Error {}

/**
 * Reads nix.conf files as Nix would, keeping every assignment's file:line. Unlike Nix, it does
 * not stop at the first bad line or run away on an include loop or fan-out: it records them and
 * goes on, within CONF_LIMITS and until SIGNAL (the run's deadline) aborts.
 */
export async function loadNixConf(options: {
  env: NodeJS.ProcessEnv;
  confFile?: string;
  home?: string;
  signal?: AbortSignal;
  limits?: Partial<ConfLimits>;
}): Promise<LoadedConf> {
  const limits: ConfLimits = { ...CONF_LIMITS, ...options.limits };
  const out: LoadedConf = { files: [], assignments: [], problems: [], searched: [] };
  const searched = options.confFile
    ? [{ path: resolve(options.confFile), level: 'system' as const }]
    : confSearchPath(options.env, options.home);
  out.searched = searched;

  // Each file is read from disk once; Nix reads it again at every include, with the same result.
  const reads = new Map<string, FileRead>();
  const recorded = new Set<string>();
  const said = new Set<string>();
  let bytes = 0;
  let includes = 0;
  let applied = 0;
  let appended = 0;
  const unknownNames = new Set<string>();
  /** The files being applied, outermost first: an include of one of them is a loop. */
  const chain: string[] = [];
  const onChain = new Set<string>();
  /** What Nix makes of the includes, when a file was included more than once. */
  const roots = searched.map((s) => s.path);
  const fanOut = () => (includes + roots.length > reads.size ? `; ${nixReads(reads, roots)}` : '');

  const problem = (p: ConfProblem) => {
    const key = `${p.file}\0${p.line ?? ''}\0${p.code}`;
    if (said.has(key)) return;
    said.add(key);
    out.problems.push(p);
  };
  const stop = (p: ConfProblem): never => {
    problem(p);
    throw new Stop();
  };
  const record = (r: ConfFileRecord) => {
    if (recorded.has(r.path)) return;
    recorded.add(r.path);
    out.files.push(r);
  };

  const readOnce = async (path: string, at: { file: string; line?: number }): Promise<FileRead> => {
    const known = reads.get(path);
    if (known) return known;
    if (reads.size >= limits.files) {
      stop({
        ...at,
        code: 'read-limit',
        message: `more than ${count(limits.files)} different nix.conf files are included; nixcache stopped before '${path}' (Nix 2.8 reads on until its stack overflows, between 150,000 and 200,000 levels deep), and the settings from here on are not diagnosed`,
      });
    }
    const r = await readTextFile(path, Math.min(limits.fileBytes, limits.totalBytes - bytes));
    let read: FileRead;
    if (r.ok) {
      bytes += Buffer.byteLength(r.text);
      read = { ok: true, parsed: parseNixConf(r.text, limits.lines + 1) };
    } else if (r.code === 'EFBIG') {
      const limit =
        limits.totalBytes - bytes < limits.fileBytes
          ? `would take the nix.conf files read past ${size(limits.totalBytes)} together`
          : `is larger than ${size(limits.fileBytes)}`;
      read = {
        ok: false,
        code: r.code,
        message: `'${path}' ${limit}, the most nixcache reads (Nix reads it all): none of its settings are diagnosed`,
      };
    } else if (r.fifo) {
      read = {
        ok: false,
        code: r.code,
        fifo: true,
        message: `${r.message}: Nix waits on it until something writes to it, so every nix command hangs; nixcache does not read it`,
      };
    } else if (r.code === 'ENOENT') {
      read = { ok: false, code: r.code, message: r.message };
    } else {
      // config.cc `applyConfigFile` ignores every error opening or reading a file.
      read = { ok: false, code: r.code, message: `${r.message}; Nix skips it without a word` };
    }
    reads.set(path, read);
    return read;
  };

  const applyText = async (parsed: ParsedConf, file: string, level: ConfLevel) => {
    const take = (line: number) => {
      applied++;
      if (applied > limits.lines) {
        stop({
          file,
          line,
          code: 'read-limit',
          message: `more than ${count(limits.lines)} settings are applied (a file included again counted again): nixcache stopped here, where Nix goes on, and the settings from here on are not diagnosed${fanOut()}`,
        });
      }
    };
    const continuing = new Map<number, number>();
    if (parsed.errors.length > 0) {
      for (const l of parsed.lines) if (l.kind === 'set') for (const n of l.continued?.lines ?? []) continuing.set(n, l.line);
    }
    let e = 0;
    const errorsBefore = (line: number) => {
      for (; e < parsed.errors.length && (parsed.errors[e]?.line ?? 0) < line; e++) {
        const error = parsed.errors[e] as ParsedConf['errors'][number];
        take(error.line);
        const continues = continuing.get(error.line);
        problem({
          file,
          line: error.line,
          code: 'illegal-line',
          message: `${error.message} in '${file}'`,
          ...(continues ? { continues } : {}),
        });
      }
    };
    for (const line of parsed.lines) {
      errorsBefore(line.line);
      if (line.kind === 'set') {
        take(line.line);
        const { name, value, continued } = line;
        if (name.startsWith('extra-')) appended += splitList(value).length;
        if (!isEverKnownSetting(name) && !unknownNames.has(name) && unknownNames.add(name).size > limits.unknownNames) {
          stop({
            file,
            line: line.line,
            code: 'read-limit',
            message: `more than ${count(limits.unknownNames)} different names no Nix 2 release has are set (Nix warns "unknown setting" and goes on): nixcache stopped here, and the settings from here on are not diagnosed${fanOut()}`,
          });
        }
        if (appended > limits.appended) {
          stop({
            file,
            line: line.line,
            code: 'read-limit',
            message: `the extra- settings add more than ${count(limits.appended)} values, the most nixcache reads: it stopped here, where Nix goes on, and the settings from here on are not diagnosed${fanOut()}`,
          });
        }
        out.assignments.push({ name, value, origin: { file, line: line.line, level }, ...(continued ? { continued } : {}) });
        continue;
      }
      const target = resolve(file === 'NIX_CONFIG' ? process.cwd() : dirname(file), line.path);
      if (onChain.has(target)) {
        const through = [...chain.slice(chain.indexOf(target)), target].map(shortName).join(' → ');
        problem({
          file,
          line: line.line,
          code: 'include-loop',
          message: `'${target}' includes itself (through ${through}); Nix 2.8 follows the loop until its stack overflows and it crashes (segmentation fault)`,
        });
        continue;
      }
      includes++;
      if (includes > limits.includes) {
        stop({
          file,
          line: line.line,
          code: 'read-limit',
          message: `includes fan out: nixcache stopped after following ${count(limits.includes)} includes, and the settings from here on are not diagnosed${fanOut()}`,
        });
      }
      await applyFile(target, level, { from: file, line: line.line, optional: line.optional });
    }
    errorsBefore(Number.POSITIVE_INFINITY);
    if (parsed.stoppedAt !== undefined) {
      // The parse kept lines + 1 lines; when includes were among them, the rest is cut here.
      stop({
        file,
        line: parsed.stoppedAt,
        code: 'read-limit',
        message: `more than ${count(limits.lines)} settings and includes in one file: nixcache stopped here, where Nix goes on, and the settings from here on are not diagnosed`,
      });
    }
  };

  const applyFile = async (path: string, level: ConfLevel, include?: { from: string; line: number; optional: boolean }) => {
    if (options.signal?.aborted) {
      stop({
        file: include?.from ?? path,
        ...(include ? { line: include.line } : {}),
        code: 'read-limit',
        message: `the run's deadline came while reading nix.conf; nixcache stopped before '${path}', and the settings from here on are not diagnosed`,
      });
    }
    const at = include ? { file: include.from, line: include.line } : { file: path };
    const r = await readOnce(path, at);
    const from = include ? { includedFrom: include.from } : {};
    if (!r.ok) {
      const missing = r.code === 'ENOENT';
      // Nix looks with lstat: a symbolic link to nothing "exists", and opening it fails quietly.
      const dangling =
        missing &&
        include &&
        (await lstat(path).then(
          () => true,
          () => false,
        ));
      record({ path, level, status: missing ? 'missing' : 'unreadable', message: r.message, ...from });
      if (dangling) {
        problem({
          ...at,
          code: 'unreadable',
          message: `'${path}' is a symbolic link to a file that does not exist; Nix skips the include without a word`,
        });
      } else if (missing && include && !include.optional) {
        problem({ ...at, code: 'include-missing', message: `file '${path}' included from '${include.from}' not found` });
      } else if (r.code === 'EFBIG') {
        // Past nixcache's size limits Nix reads on: a read limit, where the file is included.
        problem({ ...at, code: 'read-limit', message: r.message });
      } else if (!missing) {
        problem({ file: path, code: r.fifo ? 'blocks' : 'unreadable', message: r.message });
      }
      return;
    }
    record({ path, level, status: 'read', ...from });
    chain.push(path);
    onChain.add(path);
    try {
      await applyText(r.parsed, path, level);
    } finally {
      chain.pop();
      onChain.delete(path);
    }
  };

  try {
    for (const { path, level } of searched) await applyFile(path, level);
    if (!options.confFile && options.env.NIX_CONFIG !== undefined) {
      out.files.push({ path: 'NIX_CONFIG', level: 'env', status: 'read' });
      await applyText(parseNixConf(options.env.NIX_CONFIG, limits.lines + 1), 'NIX_CONFIG', 'env');
    }
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
  }
  return out;
}

/**
 * How many files Nix 2.8 reads for these nix.conf files: it reads an included file again at every
 * include (config.cc), so includes that fan out cost it exponentially many reads. Counted over the
 * files nixcache read, each once; a file it did not get to counts as one read, and says "at least".
 */
function nixReads(reads: ReadonlyMap<string, FileRead>, roots: readonly string[]): string {
  const memo = new Map<string, number>();
  let partial = false;
  const visit = (path: string, depth: number): number => {
    const known = memo.get(path);
    if (known !== undefined) return known;
    const r = reads.get(path);
    if (!r || depth > 2000) {
      partial = true;
      return 1;
    }
    memo.set(path, Number.POSITIVE_INFINITY); // a loop, should one be met
    let n = 1;
    if (r.ok) {
      for (const l of r.parsed.lines) if (l.kind === 'include') n += visit(resolve(dirname(path), l.path), depth + 1);
    }
    memo.set(path, n);
    return n;
  };
  const total = roots.reduce((sum, p) => sum + visit(p, 0), 0);
  if (!Number.isFinite(total)) return 'Nix 2.8 follows these includes around a loop until it crashes';
  // Measured with Nix 2.8 on a 3-way fan-out: about 6 µs a read.
  const minutes = (total * 6e-6) / 60;
  const slow = minutes >= 1 ? `, about ${Math.round(minutes)} min of work before every nix command` : '';
  return `Nix 2.8 reads a file again each time it is included: ${partial ? 'at least ' : ''}${count(total)} reads for this configuration${slow}`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function size(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round(n / 1024 / 1024)} MB` : `${n} bytes`;
}

function shortName(p: string): string {
  return p.split('/').slice(-2).join('/');
}
