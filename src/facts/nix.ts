import type { Io } from '../system/io.js';
import type { NixConfigView } from './types.js';

/** `nix config show --json` (Nix ≥ 2.20) or `nix show-config --json`: Nix's own view, as a cross-check. */
export async function readNixView(io: Io, env: Readonly<Record<string, string>>): Promise<NixConfigView | undefined> {
  const features = ['--extra-experimental-features', 'nix-command'];
  // `show-config` is what Nix < 2.20 knows and later Nix keeps as an alias of `config show`: one Nix
  // start-up on every version, a second only where the alias is gone.
  const commands = [
    ['show-config', '--json'],
    ['config', 'show', '--json'],
  ];
  for (const argv of commands) {
    const command = `nix ${argv.join(' ')}`;
    const r = await io.exec('nix', [...features, ...argv], { timeoutMs: 5000, env: { ...env }, quiet: true });
    if (r.missing) return undefined;
    if (r.timedOut) return { command, error: 'did not answer within 5 s' };
    if (r.exitCode === 0) {
      try {
        const values: unknown = JSON.parse(r.stdout);
        if (values && typeof values === 'object' && !Array.isArray(values)) return { command, values: { ...values } };
        return { command, error: 'printed JSON that is not an object' };
      } catch {
        return { command, error: 'printed something that is not JSON' };
      }
    }
    if (!/is not a recogni[sz]ed command|unrecogni[sz]ed (command|argument)/i.test(r.stderr)) {
      return { command, error: (r.stderr.trim().split('\n').pop() ?? '').slice(0, 300) || `exit code ${r.exitCode}` };
    }
  }
  return { command: 'nix show-config --json', error: 'neither `nix config show` nor `nix show-config` worked' };
}
