import { join } from 'node:path';
import { parseNixConfigText, type TrustedSettings } from '../nix/flake-config.js';
import type { Io } from '../system/io.js';

/** The flake in the working directory, its nixConfig, and the user's saved answers. */
export type FlakeFact =
  | { kind: 'none'; dir: string }
  | {
      kind: 'flake';
      path: string;
      nixConfig: Record<string, unknown>;
      /** `nix-instantiate`, or `parse` when Nix could not evaluate it (a conservative reading). */
      source: 'nix' | 'parse';
      trustedSettingsPath: string;
      saved: TrustedSettings;
      savedProblem?: string;
    };

export async function readFlake(io: Io, dir: string, env: NodeJS.ProcessEnv): Promise<FlakeFact> {
  const path = join(dir, 'flake.nix');
  const text = await io.fs.readText(path, 1024 * 1024);
  if (!text.ok) return { kind: 'none', dir };
  // flake.nix is a plain attribute set: nixConfig reads without fetching inputs or evaluating outputs.
  const expr = `(import ${JSON.stringify(path)}).nixConfig or {}`;
  // Read-only and without import-from-derivation: a hostile flake.nix cannot make Nix build or write anything.
  const evaluated = await io.exec(
    'nix-instantiate',
    ['--eval', '--strict', '--json', '--readonly-mode', '--option', 'allow-import-from-derivation', 'false', '-E', expr],
    { timeoutMs: 10_000 },
  );
  let nixConfig: Record<string, unknown> | undefined;
  if (evaluated.exitCode === 0) {
    try {
      const v = JSON.parse(evaluated.stdout) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) nixConfig = v as Record<string, unknown>;
    } catch {
      nixConfig = undefined;
    }
  }
  const data = env.XDG_DATA_HOME || join(env.HOME ?? '/', '.local', 'share');
  const trustedSettingsPath = join(data, 'nix', 'trusted-settings.json');
  const savedText = await io.fs.readText(trustedSettingsPath, 1024 * 1024);
  let saved: TrustedSettings = {};
  let savedProblem: string | undefined;
  if (savedText.ok) {
    try {
      saved = JSON.parse(savedText.text) as TrustedSettings;
    } catch (e) {
      savedProblem = `not JSON: ${(e as Error).message}`;
    }
  }
  return {
    kind: 'flake',
    path,
    nixConfig: nixConfig ?? parseNixConfigText(text.text),
    source: nixConfig ? 'nix' : 'parse',
    trustedSettingsPath,
    saved,
    ...(savedProblem ? { savedProblem } : {}),
  };
}
