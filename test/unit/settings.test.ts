import { describe, expect, it } from 'vitest';
import { EffectiveSettings, type Origin } from '../../src/nix/config.js';
import { SETTING_ROWS, TABLE_VERSIONS } from '../../src/nix/setting-table.js';
import {
  checkSettingValue,
  learntSettings,
  lookupSetting,
  NEWEST_KNOWN_NIX,
  type NixKnowledge,
  suggestSetting,
} from '../../src/nix/settings.js';

/** Setting names, aliases and value types as each Nix release reads them (the table made from Nix's sources). */

const NIX_2_8: NixKnowledge = { version: '2.8.0', platform: 'linux' };
const at = (line: number): Origin => ({ file: '/etc/nix/nix.conf', line, level: 'system' });
const settingsOf = (text: string, knowledge: NixKnowledge = NIX_2_8) =>
  new EffectiveSettings(
    text
      .trim()
      .split('\n')
      .map((l, i) => {
        const [name, ...value] = l.split(' = ');
        return { name: name as string, value: value.join(' = '), origin: at(i + 1) };
      }),
    knowledge,
  );

describe('the setting table', () => {
  it('covers Nix 2.0 to the newest release it was made from, oldest first', () => {
    expect(TABLE_VERSIONS[0]).toBe('2.0');
    expect(TABLE_VERSIONS).toContain('2.8');
    expect(NEWEST_KNOWN_NIX).toBe(TABLE_VERSIONS[TABLE_VERSIONS.length - 1]);
  });

  it('names every setting once, with the release it appeared in no later than the last it was in', () => {
    const names = SETTING_ROWS.map((r) => r[0]);
    expect(new Set(names).size).toBe(names.length);
    for (const [name, , since, until] of SETTING_ROWS) {
      expect(TABLE_VERSIONS, name).toContain(since);
      if (until !== null) expect(TABLE_VERSIONS.indexOf(until), name).toBeGreaterThanOrEqual(TABLE_VERSIONS.indexOf(since));
    }
  });
});

describe('lookupSetting: settings whose own name starts with extra-', () => {
  it.each(['extra-platforms', 'extra-sandbox-paths', 'extra-substituters', 'extra-trusted-public-keys', 'extra-experimental-features'])(
    '%s is a setting of Nix 2.8',
    (name) => expect(lookupSetting(name, NIX_2_8).kind).toBe('setting'),
  );

  it('reads extra-platforms as the setting extra-platforms (which it replaces), not as appending to a setting "platforms"', () => {
    expect(lookupSetting('extra-platforms', NIX_2_8)).toEqual({ kind: 'setting', name: 'extra-platforms', type: 'set', append: false });
  });

  it('reads extra-sandbox-paths as appending to sandbox-paths, also through its aliases (extra-build-sandbox-paths)', () => {
    const appended = { kind: 'setting', name: 'sandbox-paths', type: 'set', append: true };
    expect(lookupSetting('extra-sandbox-paths', NIX_2_8)).toEqual(appended);
    expect(lookupSetting('extra-build-sandbox-paths', NIX_2_8)).toEqual(appended);
  });

  it('appends with extra-extra-platforms, because extra-platforms holds a set', () => {
    expect(lookupSetting('extra-extra-platforms', NIX_2_8)).toMatchObject({ kind: 'setting', name: 'extra-platforms', append: true });
  });

  it("calls extra- on a one-value setting unknown, as Nix's Config::set does", () => {
    expect(lookupSetting('extra-fallback', NIX_2_8)).toEqual({ kind: 'not-appendable', base: 'fallback', type: 'bool' });
  });

  it('knows that Nix before 2.4 had no generic extra-: extra-trusted-public-keys came with 2.4', () => {
    expect(lookupSetting('extra-trusted-public-keys', { version: '2.3.16' })).toEqual({ kind: 'newer', since: '2.4' });
    expect(lookupSetting('extra-substituters', { version: '2.3.16' })).toMatchObject({ name: 'substituters', append: true });
  });
});

describe('lookupSetting: aliases, per release', () => {
  it.each([
    ['binary-caches-parallel-connections', 'http-connections'],
    ['build-repeat', 'repeat'],
    ['build-impersonate-linux-26', 'impersonate-linux-26'],
    ['binary-caches', 'substituters'],
    ['build-use-substitutes', 'substitute'],
  ])('reads %s as %s in Nix 2.8', (alias, setting) => {
    expect(lookupSetting(alias, NIX_2_8)).toMatchObject({ kind: 'setting', name: setting, append: false });
  });

  it('has no signed-binary-caches since Nix 2.0 (it was a Nix 1 setting), and names it obsolete', () => {
    expect(lookupSetting('signed-binary-caches', NIX_2_8)).toEqual({ kind: 'removed', until: '1.11' });
  });

  it('has build-extra-sandbox-paths only up to Nix 2.3, and build-extra-platforms never', () => {
    expect(lookupSetting('build-extra-sandbox-paths', { version: '2.3' })).toMatchObject({ kind: 'setting', name: 'sandbox-paths' });
    expect(lookupSetting('build-extra-sandbox-paths', NIX_2_8)).toEqual({ kind: 'removed', until: '2.3' });
    expect(lookupSetting('build-extra-platforms', NIX_2_8).kind).toBe('unknown');
  });

  it('names a setting of a newer Nix as such, not as a typo', () => {
    expect(lookupSetting('max-substitution-jobs', NIX_2_8)).toEqual({ kind: 'newer', since: '2.16' });
    expect(lookupSetting('ssl-cert-file', NIX_2_8)).toEqual({ kind: 'newer', since: '2.15' });
    expect(lookupSetting('max-substitution-jobs', { version: '2.18.1' }).kind).toBe('setting');
  });

  it('names a setting a later Nix dropped as obsolete, with the last release that had it', () => {
    expect(lookupSetting('repeat', { version: '2.18.1' })).toEqual({ kind: 'removed', until: '2.12' });
    expect(lookupSetting('repeat', NIX_2_8).kind).toBe('setting');
  });

  it("calls a setting of another platform's Nix unknown here, naming the platform", () => {
    expect(lookupSetting('darwin-log-sandbox-violations', NIX_2_8)).toEqual({ kind: 'platform', platform: 'darwin' });
    expect(lookupSetting('darwin-log-sandbox-violations', { ...NIX_2_8, platform: 'darwin' }).kind).toBe('setting');
  });

  it('reads a release newer than the table as the newest it knows, and one without a version likewise', () => {
    expect(lookupSetting('max-substitution-jobs', { version: '2.99.0' }).kind).toBe('setting');
    expect(lookupSetting('max-substitution-jobs', {}).kind).toBe('setting');
  });

  it('knows a name the installed Nix listed itself, with its aliases and extra- when its value is a list', () => {
    const learnt = learntSettings({
      'plugin-setting': { value: ['a'], aliases: ['old-plugin-setting'] },
      'plugin-flag': { value: true, aliases: [] },
    });
    const knowledge = { ...NIX_2_8, learnt };
    expect(lookupSetting('plugin-setting', knowledge)).toMatchObject({ kind: 'setting', name: 'plugin-setting' });
    expect(lookupSetting('old-plugin-setting', knowledge)).toMatchObject({ kind: 'setting', name: 'plugin-setting' });
    expect(lookupSetting('extra-plugin-setting', knowledge)).toMatchObject({ kind: 'setting', name: 'plugin-setting', append: true });
    expect(lookupSetting('extra-plugin-flag', knowledge)).toMatchObject({ kind: 'not-appendable', base: 'plugin-flag' });
    expect(lookupSetting('plugin-flag', knowledge)).toMatchObject({ kind: 'setting', type: 'bool' });
  });
});

describe('suggestSetting', () => {
  it.each([
    ['substituers', 'substituters'],
    ['substituter', 'substituters'],
    ['extra-substituter', 'extra-substituters'],
    ['trusted-public-key', 'trusted-public-keys'],
    ['trusted-user', 'trusted-users'],
    ['requre-sigs', 'require-sigs'],
    ['binary-cache', 'substituters'],
  ])('suggests %s → %s, preferring the name that shares the longest beginning among equally close ones', (typo, real) => {
    expect(suggestSetting(typo, NIX_2_8)).toBe(real);
  });

  it('suggests only names the given Nix has', () => {
    expect(suggestSetting('max-substitution-job', NIX_2_8)).toBeUndefined();
    expect(suggestSetting('max-substitution-job', { version: '2.18' })).toBe('max-substitution-jobs');
  });

  it('suggests nothing for a word that is not close to any setting', () => {
    expect(suggestSetting('completely-unrelated-thing', NIX_2_8)).toBeUndefined();
  });
});

describe('checkSettingValue: values as Nix parses them', () => {
  it.each(['true', 'yes', '1'])('reads the boolean %s as true', (v) =>
    expect(checkSettingValue('fallback', 'bool', v)).toEqual({ ok: true, value: 'true' }),
  );
  it.each(['false', 'no', '0'])('reads the boolean %s as false', (v) =>
    expect(checkSettingValue('fallback', 'bool', v)).toEqual({ ok: true, value: 'false' }),
  );

  it.each([
    ['require-sigs', 'bool', 'TRUE', "Boolean setting 'require-sigs' has invalid value 'TRUE'"],
    ['require-sigs', 'bool', '"false"', `Boolean setting 'require-sigs' has invalid value '"false"'`],
    ['cores', 'uint32', '-1', "setting 'cores' has invalid value '-1'"],
    ['cores', 'uint32', '4294967296', "setting 'cores' has invalid value '4294967296'"],
    ['max-silent-time', 'int64', '', "setting 'max-silent-time' has invalid value ''"],
    ['connect-timeout', 'uint64', '5s', "setting 'connect-timeout' has invalid value '5s'"],
    ['min-free', 'uint64', '1G', "setting 'min-free' has invalid value '1G'"],
    ['max-jobs', 'max-jobs', 'auto cores = 0', "configuration setting 'max-jobs' should be 'auto' or an integer"],
    ['sandbox', 'sandbox', 'yes', "option 'sandbox' has invalid value 'yes'"],
    ['diff-hook', 'path', '~/bin/diff', "not an absolute path: '~/bin/diff'"],
  ] as const)('Nix 2.8 refuses %s = %j (%s): %s', (name, type, value, message) => {
    expect(checkSettingValue(name, type, value, NIX_2_8)).toEqual({ ok: false, message });
  });

  it.each([
    ['cores', 'uint32', '+5'],
    ['cores', 'uint32', '007'],
    ['cores', 'uint32', '4294967295'],
    ['timeout', 'int64', '-1'],
    ['max-jobs', 'max-jobs', 'auto'],
    ['max-jobs', 'max-jobs', '+3'],
    ['sandbox', 'sandbox', 'relaxed'],
    ['build-hook', 'path', ''],
  ] as const)('Nix 2.8 accepts %s = %j (%s)', (name, type, value) => {
    expect(checkSettingValue(name, type, value, NIX_2_8).ok).toBe(true);
  });

  it('accepts K, M, G and T suffixes on integers from Nix 2.23 on, and no other letter', () => {
    expect(checkSettingValue('min-free', 'uint64', '1G', { version: '2.23.0' }).ok).toBe(true);
    expect(checkSettingValue('min-free', 'uint64', '512m', { version: '2.24.1' }).ok).toBe(true);
    expect(checkSettingValue('min-free', 'uint64', '1X', { version: '2.24.1' }).ok).toBe(false);
  });
});

describe('EffectiveSettings under a given Nix release', () => {
  it('keeps booleans as Nix prints them, so yes, 1, no and 0 read as true and false', () => {
    const s = settingsOf('require-sigs = no\nfallback = 1\nsubstitute = 0\nkeep-going = yes');
    expect([s.bool('require-sigs'), s.bool('fallback'), s.bool('substitute'), s.bool('keep-going')]).toEqual([false, true, false, true]);
    expect(s.get('require-sigs')).toBe('false');
  });

  it('applies neither a value Nix refuses nor a name it ignores, keeping them apart with their lines', () => {
    const s = settingsOf('require-sigs = "false"\nsigned-binary-caches = *\nextra-platforms = aarch64-linux');
    expect(s.invalid).toEqual([
      {
        name: 'require-sigs',
        setting: 'require-sigs',
        value: '"false"',
        origin: at(1),
        message: `Boolean setting 'require-sigs' has invalid value '"false"'`,
      },
    ]);
    expect(s.unknown.map((u) => [u.name, u.lookup?.kind])).toEqual([['signed-binary-caches', 'removed']]);
    expect(s.bool('require-sigs')).toBe(true);
    expect(s.list('extra-platforms').map((i) => i.value)).toEqual(['aarch64-linux']);
  });

  it('lets extra-sandbox-paths and its alias extra-build-sandbox-paths add to sandbox-paths', () => {
    const s = settingsOf('sandbox-paths = /bin/sh\nextra-sandbox-paths = /etc/ssl\nextra-build-sandbox-paths = /usr/share/zoneinfo');
    expect(s.list('sandbox-paths').map((i) => i.value)).toEqual(['/bin/sh', '/etc/ssl', '/usr/share/zoneinfo']);
  });
});
