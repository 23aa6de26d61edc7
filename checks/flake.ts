import { type FlakeSetting, judgeFlakeConfig, nixSays } from '../src/nix/flake-config.js';
import type { HostCheck } from '../src/runner/check.js';
import { pass, skip, warn } from '../src/runner/finding.js';

/** Step 10: a flake here asks for caches in nixConfig — will Nix use them for this user, ask, or ignore them? */
export const flake: HostCheck = {
  id: 'flake',
  title: "The flake's nixConfig caches",
  scope: 'host',
  async run(facts) {
    const f = await facts.flake();
    if (f.kind === 'none') return skip(`no flake.nix in ${f.dir}`, 'no flake');
    const settings = facts.config.settings;
    const judged = judgeFlakeConfig(f.nixConfig, {
      acceptFlakeConfig: settings.bool('accept-flake-config') === true,
      saved: f.saved,
      untrustedClient: facts.env.multiUser && facts.env.trustedUser === false,
      trustedSubstituters: settings.list('trusted-substituters').map((i) => i.value),
    });
    const caches = judged.filter((s) => /substituters|trusted-public-keys/.test(s.name));
    const data = {
      flake: f.path,
      source: f.source,
      trustedSettings: f.trustedSettingsPath,
      settings: judged.map((s) => ({ name: s.name, decision: s.decision.kind, droppedByDaemon: s.droppedByDaemon })),
    };
    if (caches.length === 0) return pass(`${f.path} sets no substituters or keys in nixConfig`, { data });
    const lost = caches.filter((s) => s.decision.kind !== 'used' || s.droppedByDaemon.length > 0);
    if (lost.length === 0)
      return pass(`Nix uses the flake's ${caches.map((s) => s.name).join(', ')} (${caches.map(why).join(', ')})`, { data });
    const urls = caches.filter((s) => s.name.endsWith('substituters')).flatMap((s) => s.value.split(/\s+/));
    const keys = caches.filter((s) => s.name.endsWith('trusted-public-keys')).flatMap((s) => s.value.split(/\s+/));
    return warn(`Nix will not use ${lost.map((s) => s.name).join(', ')} from ${f.path}: ${lost.map(what).join('; ')}`, {
      detail: `Nix says:\n${lost.map(nixSays).filter(Boolean).join('\n')}${f.source === 'parse' ? '\n(nixConfig read without Nix: a conservative parse)' : ''}`,
      fix: [
        `Safest, once for every user — /etc/nix/nix.conf: trusted-substituters = ${urls.join(' ')}`,
        keys.length ? `  and: trusted-public-keys = ${keys.join(' ')}  (added to the ones you have)` : '',
        `NixOS: nix.settings.trusted-substituters = [ ${urls.map((u) => `"${u}"`).join(' ')} ];${keys.length ? ` nix.settings.trusted-public-keys = [ ${keys.map((k) => `"${k}"`).join(' ')} ];` : ''}`,
        'then accept the flake’s settings: ~/.config/nix/nix.conf: accept-flake-config = true (or answer y once in a terminal) — rather than putting yourself in trusted-users, which lets you do anything as root.',
      ]
        .filter(Boolean)
        .join('\n'),
      data,
    });
  },
};

function why(s: FlakeSetting): string {
  return s.decision.kind === 'used' ? (s.decision.why === 'saved' ? 'saved in trusted-settings.json' : s.decision.why) : s.decision.kind;
}

function what(s: FlakeSetting): string {
  if (s.decision.kind === 'refused') return `${s.name} was answered no (trusted-settings.json)`;
  if (s.decision.kind === 'ask')
    return `${s.name} is neither accepted (accept-flake-config) nor saved: Nix asks in a terminal and ignores it elsewhere`;
  return `the daemon drops ${s.droppedByDaemon.join(' ')} for an untrusted user`;
}
