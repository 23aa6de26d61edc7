import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from './servers.js';

/** In CI (NIXCACHE_REQUIRE_SYSTEM_TESTS=1) a missing prerequisite fails the run instead of skipping. */
export const REQUIRED = process.env.NIXCACHE_REQUIRE_SYSTEM_TESTS === '1';

export function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export const isRoot = process.getuid?.() === 0;

/**
 * Returns the reason a suite cannot run here, printing it, or undefined when it can. When the
 * suite is required and cannot run, throws, so CI never passes by skipping.
 */
export function missing(suite: string, needs: { root?: boolean; commands?: string[] }): string | undefined {
  const reasons: string[] = [];
  if (needs.root && !isRoot) reasons.push('needs root');
  for (const c of needs.commands ?? []) if (!has(c)) reasons.push(`needs '${c}'`);
  if (reasons.length === 0) return undefined;
  const why = `${suite}: skipped because it ${reasons.join(', ')}`;
  if (REQUIRED) throw new Error(`${why} — and NIXCACHE_REQUIRE_SYSTEM_TESTS=1 says it must run`);
  console.warn(why);
  return why;
}

export const FIXTURE_PATHS = readFileSync(join(FIXTURES, 'store-paths.txt'), 'utf8').trim().split('\n');

/**
 * Makes the fixture store paths valid in this machine's Nix store (as on the machine that built
 * them), by copying them from the unsigned fixture cache with real Nix.
 */
export function ensureFixturePathsInStore(): void {
  const valid = spawnSync('nix-store', ['--check-validity', ...FIXTURE_PATHS], { stdio: 'ignore' }).status === 0;
  if (valid) return;
  execFileSync(
    'nix',
    [
      '--extra-experimental-features',
      'nix-command',
      'copy',
      '--no-check-sigs',
      '--from',
      `file://${join(FIXTURES, 'caches', 'unsigned')}`,
      ...FIXTURE_PATHS,
    ],
    { stdio: 'pipe', env: { ...process.env, NIX_CONFIG: 'sandbox = false\nsubstitute = false' } },
  );
}
