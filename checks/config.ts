import type { Facts, NixConfigView } from '../src/facts/types.js';
import { formatOrigin } from '../src/nix/config.js';
import { isKnownSetting } from '../src/nix/settings.js';
import type { HostCheck } from '../src/runner/check.js';
import { fail, pass, warn } from '../src/runner/finding.js';

/** Step 1: which nix.conf files Nix reads, and whether it can read them at all. */
export const config: HostCheck = {
  id: 'config',
  title: 'nix.conf files and settings',
  scope: 'host',
  async run(facts) {
    const conf = facts.config;
    const read = conf.files.filter((f) => f.status === 'read');
    const problems: string[] = [];
    const fixes: string[] = [];
    let fatal = false;

    for (const p of conf.problems) {
      const where = p.line ? `${p.file}:${p.line}` : p.file;
      problems.push(`${where}: ${p.message}`);
      if (p.code === 'illegal-line')
        fixes.push(
          `Fix or delete line ${p.line} of ${p.file}: every setting is 'name = value' (spaces around '='), comments start with '#'.`,
        );
      if (p.code === 'include-missing') fixes.push(`Create the included file, or write '!include' to make it optional (${where}).`);
      if (p.code === 'include-loop') fixes.push(`Remove the include that leads back to its own file (${where}).`);
      if (p.code !== 'unreadable') fatal = true;
    }
    const nix = await facts.nixView();
    // A setting the installed Nix knows (a newer Nix than the doctor's list) is not unknown.
    const nixKnows = new Set(nix && 'values' in nix ? Object.keys(nix.values) : []);
    const unknownSettings = conf.settings.unknown.filter((u) => !isKnownSetting(u.name, nixKnows));
    const unknown = unknownSettings.map((u) => {
      const where = formatOrigin(u.origin);
      if (u.suggestion) fixes.push(`Rename '${u.name}' to '${u.suggestion}' at ${where}.`);
      return `${where}: unknown setting '${u.name}'${u.suggestion ? ` — did you mean '${u.suggestion}'?` : ''}`;
    });

    const notes: string[] = [];
    if (!conf.settings.isSet('substituters')) notes.push("substituters is not set: Nix's default applies (https://cache.nixos.org/).");
    if (conf.settings.get('substitute') === 'false') {
      problems.push('substitute = false: Nix never downloads from any substituter.');
      fixes.push('Remove substitute = false (NixOS: nix.settings.substitute = true;).');
    }
    const crossCheck = compareWithNix(facts, nix);
    if (crossCheck.mismatch.length > 0) problems.push(...crossCheck.mismatch);

    const data = {
      files: read.map((f) => f.path),
      searched: conf.searched.map((f) => f.path),
      missing: conf.files.filter((f) => f.status === 'missing').map((f) => f.path),
      problems: conf.problems.map((p) => ({ file: p.file, line: p.line ?? null, code: p.code, message: p.message })),
      unknownSettings: unknownSettings.map((u) => ({ name: u.name, at: formatOrigin(u.origin), suggestion: u.suggestion ?? null })),
      nixCrossCheck: crossCheck.status,
    };
    const detail = [...problems, ...unknown, ...notes, ...crossCheck.notes].join('\n') || undefined;
    const fix = fixes.length ? [...new Set(fixes)].join('\n') : undefined;
    const files = read.length ? read.map((f) => f.path).join(', ') : 'no nix.conf file';

    if (fatal) {
      const first = conf.problems.find((p) => p.code !== 'unreadable');
      const where = first?.line ? `${first.file}:${first.line}` : first?.file;
      return fail(
        `Nix refuses this configuration: ${first?.message.replace(/ in '.*'$/, '')} at ${where}${conf.problems.length > 1 ? ` (+${conf.problems.length - 1} more)` : ''}`,
        { detail, fix, data },
      );
    }
    if (problems.length || unknown.length) {
      const firstUnknown = unknownSettings[0];
      const summary = firstUnknown
        ? `unknown setting '${firstUnknown.name}' at ${formatOrigin(firstUnknown.origin)}${firstUnknown.suggestion ? ` — did you mean '${firstUnknown.suggestion}'?` : ''}${unknown.length > 1 ? ` (+${unknown.length - 1} more)` : ''}`
        : (problems[0] as string);
      return warn(summary, { detail, fix, data });
    }
    return pass(`read ${files}; ${conf.settings.names().length} settings, no problems`, { detail, data });
  },
};

/** Nix's own effective values, when `nix` runs here, against what the doctor derived. */
function compareWithNix(facts: Facts, nix: NixConfigView | undefined): { status: string; mismatch: string[]; notes: string[] } {
  if (facts.run.confFile) return { status: 'not compared (--conf)', mismatch: [], notes: [] };
  if (!nix) return { status: 'nix not installed', mismatch: [], notes: [] };
  if ('error' in nix) return { status: 'nix failed', mismatch: [], notes: [`\`${nix.command}\` failed: ${nix.error}`] };
  const mismatch: string[] = [];
  for (const name of ['substituters', 'trusted-public-keys', 'require-sigs', 'trusted-substituters']) {
    const theirs = nix.values[name];
    if (!theirs || typeof theirs !== 'object' || !('value' in theirs)) continue;
    const nixValue = Array.isArray(theirs.value) ? theirs.value.map(String) : [String(theirs.value)];
    const ours = facts.config.settings.list(name).map((i) => i.value);
    const mine = name === 'require-sigs' ? [String(facts.config.settings.get(name) !== 'false')] : ours;
    if (mine.join(' ') !== nixValue.join(' ')) {
      mismatch.push(`${name}: Nix (\`${nix.command}\`) says '${nixValue.join(' ')}', the files say '${mine.join(' ')}'`);
    }
  }
  return { status: mismatch.length ? 'differs' : 'agrees', mismatch, notes: [] };
}
