import type { Facts, NixConfigView } from '../src/facts/types.js';
import { type ConfNote, type ConfReview, differencesFromNix, nixErrorMessage, reviewAssignments } from '../src/nix/conf-review.js';
import { formatOrigin, type UnknownSetting } from '../src/nix/config.js';
import { learntSettings } from '../src/nix/settings.js';
import type { HostCheck } from '../src/runner/check.js';
import { fail, pass, warn } from '../src/runner/finding.js';
import type { ConfProblem } from '../src/system/config.js';

/** Settings whose effective values the doctor derives itself and compares with Nix's. */
const COMPARED = ['substituters', 'trusted-public-keys', 'require-sigs', 'trusted-substituters'];

/** Step 1: which nix.conf files Nix reads, whether it accepts them, and what it makes of each line. */
export const config: HostCheck = {
  id: 'config',
  title: 'nix.conf files and settings',
  scope: 'host',
  async run(facts) {
    const conf = facts.config;
    const read = conf.files.filter((f) => f.status === 'read');
    const nix = await facts.nixView();
    const learnt = nix && 'values' in nix ? learntSettings(nix.values) : undefined;
    const knowledge = { version: facts.env.nixVersion, platform: facts.env.os, learnt };
    const review = reviewAssignments(conf.settings.assignments, knowledge);

    const problems = conf.problems.map((p) => `${where(p)}: ${p.message}`);
    const fixes = conf.problems.flatMap((p) => problemFix(p, review));
    for (const note of [...review.refused, ...review.ignored, ...review.literal].sort((a, b) => a.index - b.index))
      if (note.fix) fixes.push(note.fix);
    if (conf.settings.bool('substitute') === false) {
      problems.push('substitute = false: Nix never downloads from any substituter.');
      fixes.push('Remove substitute = false (NixOS: nix.settings.substitute = true;).');
    }
    const crossCheck = compareWithNix(facts, nix, knowledge);
    // Where reading stopped, an unset substituters only means nixcache did not get to it.
    const stopped = conf.problems.some((p) => p.code === 'read-limit' || p.code === 'blocks');
    const notes =
      conf.settings.isSet('substituters') || stopped ? [] : ["substituters is not set: Nix's default applies (https://cache.nixos.org/)."];
    if (stopped)
      notes.push('The caches checked come from the settings read before nixcache stopped; the rest of the configuration may name others.');
    // Names Nix ignores and values it takes literally, in the order Nix reads them.
    const noted: (ConfNote & { setting?: UnknownSetting })[] = [...review.ignored, ...review.literal].sort((a, b) => a.index - b.index);
    const lines = [...problems, ...review.refused.map((r) => r.text), ...noted.map((n) => n.text)];

    const data = {
      files: read.map((f) => f.path),
      searched: conf.searched.map((f) => f.path),
      missing: conf.files.filter((f) => f.status === 'missing').map((f) => f.path),
      problems: conf.problems.map((p) => ({ file: p.file, line: p.line ?? null, code: p.code, message: p.message })),
      refused: review.refused.map((r) => ({ at: r.at, message: r.message })),
      unknownSettings: review.ignored.map(({ setting: u }) => ({
        name: u.name,
        at: formatOrigin(u.origin),
        kind: u.lookup?.kind ?? 'unknown',
        suggestion: u.suggestion ?? null,
        ...(u.lookup?.kind === 'newer' ? { since: u.lookup.since } : u.lookup?.kind === 'removed' ? { until: u.lookup.until } : {}),
      })),
      literalValues: review.literal.map((l) => ({ at: l.at, note: l.text })),
      nixCrossCheck: crossCheck.status,
    };
    const detail = [...lines, ...crossCheck.mismatch, ...notes, ...crossCheck.notes].join('\n') || undefined;
    const fix = fixes.length ? [...new Set(fixes)].join('\n') : undefined;

    // A FIFO where Nix reads nix.conf: Nix does not refuse it, it waits on it, in every command.
    const blocking = conf.problems.find((p) => p.code === 'blocks');
    if (blocking) return fail(`every nix command hangs reading ${blocking.file}: ${blocking.message}`, { detail, fix, data });
    const refusal = refusalSummary(conf.problems, review, crossCheck.nixError);
    if (refusal) return fail(`Nix refuses this configuration: ${refusal}`, { detail, fix, data });
    // Past a read limit Nix reads on (or spends minutes re-reading includes): the rest is not diagnosed.
    const limit = conf.problems.find((p) => p.code === 'read-limit');
    if (limit) return fail(`nixcache stopped reading nix.conf at ${where(limit)}: ${limit.message}`, { detail, fix, data });
    const others = lines.length + crossCheck.mismatch.length - 1;
    const more = others > 0 ? ` (+${others} more)` : '';
    const first = noted[0];
    if (first && problems.length === 0) {
      const u = first.setting;
      const typo = u && (u.lookup?.kind ?? 'unknown') === 'unknown';
      const summary = typo
        ? `unknown setting '${u.name}' at ${first.at}${u.suggestion ? ` — did you mean '${u.suggestion}'?` : ''}`
        : first.text;
      return warn(`${summary}${more}`, { detail, fix, data });
    }
    const firstLine = lines[0] ?? crossCheck.mismatch[0];
    if (firstLine) return warn(`${firstLine}${more}`, { detail, fix, data });
    const count = conf.settings.names().length;
    const files = read.length ? read.map((f) => f.path).join(', ') : 'no nix.conf file';
    return pass(`read ${files}; ${count} setting${count === 1 ? '' : 's'}, no problems`, { detail, data });
  },
};

function where(p: ConfProblem): string {
  return p.line ? `${p.file}:${p.line}` : p.file;
}

function problemFix(p: ConfProblem, review: ConfReview): string[] {
  const at = where(p);
  if (p.code === 'illegal-line' && p.continues) {
    const joined = review.literal.find((l) => l.at === `${p.file}:${p.continues}`)?.fix;
    return [`nix.conf has no line continuation: line ${p.line} of ${p.file} is read on its own. ${joined ?? 'Join the lines into one.'}`];
  }
  if (p.code === 'illegal-line')
    return [`Fix or delete line ${p.line} of ${p.file}: every setting is 'name = value' (spaces around '='), comments start with '#'.`];
  if (p.code === 'include-missing') return [`Create the included file, or write '!include' to make it optional (${at}).`];
  if (p.code === 'include-loop') return [`Remove the include that leads back to its own file (${at}).`];
  if (p.code === 'blocks')
    return [
      `Put a regular file in its place: rm ${p.file}, then write the settings into a new ${p.file} (NixOS: nix.settings / nix.extraOptions).`,
    ];
  if (p.code === 'read-limit')
    return [
      `Make the configuration at ${at} one Nix reads in a moment: include each file once (no fan-out), and keep settings in files of ordinary size.`,
    ];
  return [];
}

/** Why Nix refuses the configuration — Nix's own `error:` line when it ran — or undefined when it accepts it. */
function refusalSummary(problems: readonly ConfProblem[], review: ConfReview, nixError: string | undefined): string | undefined {
  const fatal = problems.filter((p) => p.code === 'illegal-line' || p.code === 'include-missing' || p.code === 'include-loop');
  // The file name Nix appends (` in '<file>'`) is said once, as file:line.
  const predicted = [
    ...fatal.map((p) => ({
      message: p.message.endsWith(` in '${p.file}'`) ? p.message.slice(0, -` in '${p.file}'`.length) : p.message,
      at: where(p),
    })),
    ...review.refused.map((r) => ({ message: r.message, at: r.at })),
  ];
  const more = predicted.length > 1 ? ` (+${predicted.length - 1} more)` : '';
  const ours = predicted[0];
  const nixSays = nixError ? nixErrorMessage(nixError) : undefined;
  if (nixSays && isConfigError(nixSays)) {
    const located = predicted.find((p) => nixSays === p.message || nixSays.startsWith(`${p.message} in '`));
    return located ? `${located.message} at ${located.at}${more}` : `${nixSays}${more}`;
  }
  return ours ? `${ours.message} at ${ours.at}${more}` : undefined;
}

/** Nix's messages for a configuration it will not load (config.cc, globals.cc, for every setting type). */
function isConfigError(message: string): boolean {
  return /configuration|setting '|option '|included from|not an absolute path/.test(message);
}

/** Nix's own effective values, when `nix` runs here, against what the doctor derived. */
function compareWithNix(facts: Facts, nix: NixConfigView | undefined, knowledge: Parameters<typeof differencesFromNix>[3]) {
  const none = { mismatch: [] as string[], notes: [] as string[], nixError: undefined as string | undefined };
  if (facts.run.confFile) return { ...none, status: 'not compared (--conf)' };
  if (!nix) return { ...none, status: 'nix not installed' };
  if ('error' in nix) return { ...none, status: 'nix failed', notes: [`\`${nix.command}\` failed: ${nix.error}`], nixError: nix.error };
  const mismatch = differencesFromNix(facts.config.settings, nix.values, COMPARED, knowledge).map(
    (d) => `${d.name}: Nix (\`${nix.command}\`) says '${d.nix}', the files say '${d.files}'`,
  );
  return { ...none, status: mismatch.length ? 'differs' : 'agrees', mismatch };
}
