import { describe, expect, it } from 'vitest';
import { parseNixConf } from '../../src/nix/conf.js';
import { EffectiveSettings, type Origin } from '../../src/nix/config.js';
import { suggestSetting } from '../../src/nix/settings.js';

const at = (line: number, level: Origin['level'] = 'system'): Origin => ({ file: '/etc/nix/nix.conf', line, level });

describe('parseNixConf', () => {
  it.each([
    ['substituters = http://a http://b', { kind: 'set', name: 'substituters', value: 'http://a http://b', line: 1 }],
    ['  trusted-users   =   root @wheel  # admins', { kind: 'set', name: 'trusted-users', value: 'root @wheel', line: 1 }],
    ['fallback =', { kind: 'set', name: 'fallback', value: '', line: 1 }],
    ['include ./more.conf', { kind: 'include', path: './more.conf', optional: false, line: 1 }],
    ['!include /nowhere', { kind: 'include', path: '/nowhere', optional: true, line: 1 }],
  ])('reads %j as Nix does', (text, expected) => {
    expect(parseNixConf(text)).toEqual({ lines: [expected], errors: [] });
  });

  it.each([['substituters=http://a'], ['just-a-word'], ['include'], ['include a b'], ['a : b'], ['name value = x']])(
    'reports %j as an illegal configuration line with its line number',
    (text) => {
      const parsed = parseNixConf(`# comment\n\n${text}\n`);
      expect(parsed.lines).toEqual([]);
      expect(parsed.errors).toHaveLength(1);
      expect(parsed.errors[0]?.line).toBe(3);
      expect(parsed.errors[0]?.message).toMatch(/^illegal configuration line/);
    },
  );

  it('treats # anywhere as a comment, even inside a value', () => {
    expect(parseNixConf('substituters = http://a#frag http://b').lines).toEqual([
      { kind: 'set', name: 'substituters', value: 'http://a', line: 1 },
    ]);
  });
});

describe('EffectiveSettings', () => {
  it('lets later assignments win and extra- append, keeping each token’s origin', () => {
    const s = new EffectiveSettings([
      { name: 'substituters', value: 'http://a', origin: at(1) },
      { name: 'extra-substituters', value: 'http://b', origin: at(2, 'user') },
      { name: 'binary-caches', value: 'http://c', origin: at(3) },
      { name: 'extra-substituters', value: 'http://d http://e', origin: at(4, 'env') },
    ]);
    expect(s.list('substituters').map((i) => i.value)).toEqual(['http://c', 'http://d', 'http://e']);
    expect(s.list('substituters').map((i) => i.origin.level)).toEqual(['system', 'env', 'env']);
  });

  it('falls back to Nix’s defaults', () => {
    const s = new EffectiveSettings([]);
    expect(s.list('substituters').map((i) => i.value)).toEqual(['https://cache.nixos.org/']);
    expect(s.get('require-sigs')).toBe('true');
    expect(s.isSet('substituters')).toBe(false);
  });

  it('extra- appends to the default when the setting was never set', () => {
    const s = new EffectiveSettings([{ name: 'extra-trusted-public-keys', value: 'k-1:AAAA', origin: at(1) }]);
    expect(s.list('trusted-public-keys').map((i) => i.value)).toEqual([
      'cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=',
      'k-1:AAAA',
    ]);
  });

  it('records unknown settings with a suggestion', () => {
    const s = new EffectiveSettings([{ name: 'substituers', value: 'http://a', origin: at(7) }]);
    expect(s.unknown).toEqual([
      { name: 'substituers', origin: at(7), suggestion: 'substituters', lookup: { kind: 'unknown', suggestion: 'substituters' } },
    ]);
    expect(s.isSet('substituters')).toBe(false);
  });
});

describe('suggestSetting', () => {
  it.each([
    ['substituers', 'substituters'],
    ['trusted-public-key', 'trusted-public-keys'],
    ['extra-substituers', 'extra-substituters'],
    ['trusted-user', 'trusted-users'],
    ['requre-sigs', 'require-sigs'],
  ])('suggests %s → %s', (typo, real) => expect(suggestSetting(typo)).toBe(real));

  it('suggests nothing for a word that is not close to any setting', () => {
    expect(suggestSetting('completely-unrelated-thing')).toBeUndefined();
  });
});
