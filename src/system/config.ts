import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseNixConf } from '../nix/conf.js';
import type { Assignment, ConfLevel } from '../nix/config.js';
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
  code: 'illegal-line' | 'include-missing' | 'include-loop' | 'unreadable' | 'too-deep';
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

const MAX_INCLUDE_DEPTH = 16;

/**
 * Reads nix.conf files as Nix would, keeping every assignment's file:line. Unlike Nix, it does
 * not stop at the first bad line or run away on an include loop: it records them and goes on.
 */
export async function loadNixConf(options: { env: NodeJS.ProcessEnv; confFile?: string; home?: string }): Promise<LoadedConf> {
  const out: LoadedConf = { files: [], assignments: [], problems: [], searched: [] };
  const searched = options.confFile
    ? [{ path: resolve(options.confFile), level: 'system' as const }]
    : confSearchPath(options.env, options.home);
  out.searched = searched;

  const applyText = async (text: string, file: string, level: ConfLevel, stack: string[]) => {
    const parsed = parseNixConf(text);
    for (const e of parsed.errors) {
      const continues = parsed.lines.find((l) => l.kind === 'set' && l.continued?.lines.includes(e.line))?.line;
      out.problems.push({
        file,
        line: e.line,
        code: 'illegal-line',
        message: `${e.message} in '${file}'`,
        ...(continues ? { continues } : {}),
      });
    }
    for (const line of parsed.lines) {
      if (line.kind === 'set') {
        const { name, value, continued } = line;
        out.assignments.push({ name, value, origin: { file, line: line.line, level }, ...(continued ? { continued } : {}) });
        continue;
      }
      const target = resolve(file === 'NIX_CONFIG' ? process.cwd() : dirname(file), line.path);
      if (stack.includes(target)) {
        out.problems.push({
          file,
          line: line.line,
          code: 'include-loop',
          message: `'${target}' includes itself (through ${[...stack, target].map(shortName).join(' → ')}); Nix would recurse without end`,
        });
        continue;
      }
      if (stack.length >= MAX_INCLUDE_DEPTH) {
        out.problems.push({ file, line: line.line, code: 'too-deep', message: `includes nested more than ${MAX_INCLUDE_DEPTH} deep` });
        continue;
      }
      await applyFile(target, level, [...stack, target], file, line.optional, line.line);
    }
  };

  const applyFile = async (path: string, level: ConfLevel, stack: string[], includedFrom?: string, optional = true, fromLine?: number) => {
    const r = await readTextFile(path);
    if (!r.ok) {
      const missing = r.code === 'ENOENT';
      out.files.push({
        path,
        level,
        status: missing ? 'missing' : 'unreadable',
        message: r.message,
        ...(includedFrom ? { includedFrom } : {}),
      });
      if (missing && includedFrom && !optional) {
        out.problems.push({
          file: includedFrom,
          ...(fromLine ? { line: fromLine } : {}),
          code: 'include-missing',
          message: `file '${path}' included from '${includedFrom}' not found`,
        });
      } else if (!missing) {
        out.problems.push({ file: path, code: 'unreadable', message: r.message });
      }
      return;
    }
    out.files.push({ path, level, status: 'read', ...(includedFrom ? { includedFrom } : {}) });
    await applyText(r.text, path, level, stack);
  };

  for (const { path, level } of searched) await applyFile(path, level, [path]);
  if (!options.confFile && options.env.NIX_CONFIG !== undefined) {
    out.files.push({ path: 'NIX_CONFIG', level: 'env', status: 'read' });
    await applyText(options.env.NIX_CONFIG, 'NIX_CONFIG', 'env', ['NIX_CONFIG']);
  }
  return out;
}

function shortName(p: string): string {
  return p.split('/').slice(-2).join('/');
}
