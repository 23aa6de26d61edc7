import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseNixConf } from '../../src/nix/conf.js';
import { EffectiveSettings, type Origin } from '../../src/nix/config.js';
import { suggestSetting } from '../../src/nix/settings.js';
import { type ConfLimits, loadNixConf } from '../../src/system/config.js';

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

describe('parseNixConf with a line limit', () => {
  it('keeps at most MAXLINES settings, includes and illegal lines, and says where it stopped', () => {
    const text = '# a comment\n\na = 1\nbogus\ninclude x.conf\nb = 2\n';
    expect(parseNixConf(text, 2)).toEqual({
      lines: [{ kind: 'set', name: 'a', value: '1', line: 3 }],
      errors: [{ line: 4, message: "illegal configuration line 'bogus'", text: 'bogus' }],
      stoppedAt: 5,
    });
    expect(parseNixConf(text, 4)).toEqual(parseNixConf(text));
    expect(parseNixConf(text).stoppedAt).toBeUndefined();
  });

  it('costs nothing for comment and blank lines: a file of comments with one setting at the end is read whole', () => {
    const text = `${'# padding padding padding\n\n'.repeat(50_000)}substituters = http://end\n`;
    expect(parseNixConf(text, 1)).toEqual({
      lines: [{ kind: 'set', name: 'substituters', value: 'http://end', line: 100_001 }],
      errors: [],
    });
  });
});

/** A directory with FILES (name → text) as NIX_CONF_DIR; nix.conf is the system file, no user files. */
function confDir(files: Record<string, string>): {
  dir: string;
  load: (limits?: Partial<ConfLimits>, signal?: AbortSignal) => ReturnType<typeof loadNixConf>;
} {
  const dir = mkdtempSync(join(tmpdir(), 'nixcache-conf-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const env = { NIX_CONF_DIR: dir, NIX_USER_CONF_FILES: '' };
  return { dir, load: (limits, signal) => loadNixConf({ env, ...(limits ? { limits } : {}), ...(signal ? { signal } : {}) }) };
}

/** nix.conf includes f1.conf three times, f1 includes f2 three times, … down to fDEPTH, which sets LEAF. */
function fanOut(depth: number, leaf: string, ways = 3): Record<string, string> {
  const files: Record<string, string> = { 'nix.conf': 'include f1.conf\n' };
  for (let i = 1; i < depth; i++) files[`f${i}.conf`] = `include f${i + 1}.conf\n`.repeat(ways);
  files[`f${depth}.conf`] = `${leaf}\n`;
  return files;
}

function chain(depth: number, bottom: string): Record<string, string> {
  const files: Record<string, string> = { 'nix.conf': 'include f1.conf\n' };
  for (let i = 1; i < depth; i++) files[`f${i}.conf`] = `include f${i + 1}.conf\n`;
  files[`f${depth}.conf`] = `${bottom}\n`;
  return files;
}

describe('loadNixConf: includes as Nix 2.8 follows them', () => {
  it('follows a chain of 900 includes to the setting at the bottom, as Nix does (it has no depth limit)', async () => {
    const { dir, load } = confDir(chain(900, 'substituters = http://bottom'));
    const conf = await load();
    expect(conf.problems).toEqual([]);
    expect(conf.assignments).toEqual([
      { name: 'substituters', value: 'http://bottom', origin: { file: join(dir, 'f900.conf'), line: 1, level: 'system' } },
    ]);
    expect(conf.files).toHaveLength(901);
  });

  it('applies a file included twice twice (Nix reads it again), listing it once', async () => {
    const { dir, load } = confDir({
      'nix.conf': 'include common.conf\nsubstituters = http://middle\ninclude common.conf\n',
      'common.conf': 'extra-substituters = http://common\n',
    });
    const conf = await load();
    expect(conf.problems).toEqual([]);
    expect(conf.assignments.map((a) => `${a.name} ${a.value}`)).toEqual([
      'extra-substituters http://common',
      'substituters http://middle',
      'extra-substituters http://common',
    ]);
    expect(conf.files.map((f) => f.path)).toEqual([join(dir, 'nix.conf'), join(dir, 'common.conf')]);
  });

  it('stops an include fan-out at the include limit, naming the file:line and how many reads Nix would make', async () => {
    const { dir, load } = confDir(fanOut(6, 'substituters = http://leaf'));
    const conf = await load({ includes: 50 });
    expect(conf.problems).toHaveLength(1);
    const [p] = conf.problems;
    expect(p).toMatchObject({ code: 'read-limit', file: expect.stringMatching(/\/f\d\.conf$/), line: expect.any(Number) });
    // nix.conf + 1 + 3 + 9 + 27 + 81 + 243 = 365 reads, every file read again at each include.
    expect(p?.message).toBe(
      'includes fan out: nixcache stopped after following 50 includes, and the settings from here on are not diagnosed; Nix 2.8 reads a file again each time it is included: 365 reads for this configuration',
    );
    expect(conf.files.map((f) => f.path)).toEqual(['nix.conf', ...[1, 2, 3, 4, 5, 6].map((i) => `f${i}.conf`)].map((f) => join(dir, f)));
    expect(conf.assignments.length).toBeLessThanOrEqual(50);
  });

  it('says a 17-level 3-way fan-out is minutes of work for Nix, and stops within the default limits', async () => {
    const { load } = confDir(fanOut(17, 'substituters = http://leaf'));
    const conf = await load();
    expect(conf.problems.map((p) => p.code)).toEqual(['read-limit']);
    expect(conf.problems[0]?.message).toMatch(/: 64,570,082 reads for this configuration, about 6 min of work before every nix command$/);
    expect(conf.assignments.length).toBeLessThanOrEqual(100_000);
  });

  it('stops at the settings limit, at the file:line it reached', async () => {
    const { dir, load } = confDir({ 'nix.conf': 'extra-substituters = http://x\n'.repeat(500) });
    const conf = await load({ lines: 100 });
    expect(conf.assignments).toHaveLength(100);
    expect(conf.problems).toEqual([
      {
        file: join(dir, 'nix.conf'),
        line: 101,
        code: 'read-limit',
        message:
          'more than 100 settings are applied (a file included again counted again): nixcache stopped here, where Nix goes on, and the settings from here on are not diagnosed',
      },
    ]);
  });

  it('stops where the extra- lines have added more values than the appended limit', async () => {
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}:AAAA`).join(' ');
    const { dir, load } = confDir({ 'nix.conf': `extra-trusted-public-keys = ${keys}\n`.repeat(50) });
    // 100 values a line: ten lines reach 1,000; the eleventh passes the limit.
    const conf = await load({ appended: 1000 });
    expect(conf.assignments).toHaveLength(10);
    expect(conf.problems).toEqual([
      {
        file: join(dir, 'nix.conf'),
        line: 11,
        code: 'read-limit',
        message:
          'the extra- settings add more than 1,000 values, the most nixcache reads: it stopped here, where Nix goes on, and the settings from here on are not diagnosed',
      },
    ]);
  });

  it('stops at the unknown-names limit, counting only different names no Nix 2 release has (aliases, old, newer and extra- names are known)', async () => {
    const known = 'binary-caches = http://a\nextra-substituters = http://b\nssl-cert-file = /etc/ssl/ca.pem\nbuild-use-sandbox = true\n';
    // A name repeated costs nothing more: only different ones count.
    const typos = Array.from({ length: 5 }, (_, i) => `substituers${i} = http://x\nsubstituers${i} = http://y\n`).join('');
    const { dir, load } = confDir({ 'nix.conf': `${known.repeat(10)}${typos}` });
    const conf = await load({ unknownNames: 3 });
    expect(conf.assignments).toHaveLength(46);
    expect(conf.problems).toEqual([
      {
        file: join(dir, 'nix.conf'),
        line: 47,
        code: 'read-limit',
        message:
          'more than 3 different names no Nix 2 release has are set (Nix warns "unknown setting" and goes on): nixcache stopped here, and the settings from here on are not diagnosed',
      },
    ]);
  });

  it('stops a file of more includes than the settings limit where the parse stopped, never dropping the rest in silence', async () => {
    const { dir, load } = confDir({ 'nix.conf': `${'!include nowhere.conf\n'.repeat(200)}substituters = http://after\n` });
    const conf = await load({ lines: 100 });
    expect(conf.assignments).toEqual([]);
    expect(conf.problems).toEqual([
      {
        file: join(dir, 'nix.conf'),
        line: 102,
        code: 'read-limit',
        message:
          'more than 100 settings and includes in one file: nixcache stopped here, where Nix goes on, and the settings from here on are not diagnosed',
      },
    ]);
  });

  it('stops at the different-files limit, before the file it would have read', async () => {
    const { dir, load } = confDir(chain(30, 'substituters = http://bottom'));
    const conf = await load({ files: 10 });
    expect(conf.assignments).toEqual([]);
    expect(conf.problems).toEqual([
      {
        file: join(dir, 'f9.conf'),
        line: 1,
        code: 'read-limit',
        message: `more than 10 different nix.conf files are included; nixcache stopped before '${join(dir, 'f10.conf')}' (Nix 2.8 reads on until its stack overflows, between 150,000 and 200,000 levels deep), and the settings from here on are not diagnosed`,
      },
    ]);
  });

  it('reads a nix.conf over 1 MB whole, and names one over the file limit instead of diagnosing the defaults in silence', async () => {
    const padding = `# ${'x'.repeat(77)}\n`.repeat(27_000); // 2.1 MB
    const big = confDir({ 'nix.conf': `${padding}substituters = http://end-of-big\n` });
    const read = await big.load();
    expect(read.problems).toEqual([]);
    expect(read.assignments.map((a) => a.value)).toEqual(['http://end-of-big']);

    const over = await big.load({ fileBytes: 1024 * 1024 });
    const file = join(big.dir, 'nix.conf');
    expect(over.assignments).toEqual([]);
    expect(over.files).toEqual([{ path: file, level: 'system', status: 'unreadable', message: expect.any(String) }]);
    expect(over.problems).toEqual([
      {
        file,
        code: 'read-limit',
        message: `'${file}' is larger than 1 MB, the most nixcache reads (Nix reads it all): none of its settings are diagnosed`,
      },
    ]);
  });

  it('stops at the total-bytes limit across includes, naming the file that would pass it', async () => {
    const { dir, load } = confDir({
      'nix.conf': 'include a.conf\ninclude b.conf\n',
      'a.conf': `# ${'a'.repeat(600)}\n`,
      'b.conf': `# ${'b'.repeat(600)}\n`,
    });
    const conf = await load({ totalBytes: 1000 });
    // Named where it is included: that line is where nixcache stopped.
    expect(conf.problems).toEqual([
      {
        file: join(dir, 'nix.conf'),
        line: 2,
        code: 'read-limit',
        message: `'${join(dir, 'b.conf')}' would take the nix.conf files read past 1000 bytes together, the most nixcache reads (Nix reads it all): none of its settings are diagnosed`,
      },
    ]);
  });

  it('fails a missing include as Nix does, skips a missing !include, and warns of a dangling symlink Nix skips without a word', async () => {
    const { dir, load } = confDir({
      'nix.conf': 'include nope.conf\n!include nope2.conf\ninclude dangling.conf\nsubstituters = http://after\n',
    });
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling.conf'));
    const conf = await load();
    const file = join(dir, 'nix.conf');
    expect(conf.problems).toEqual([
      { file, line: 1, code: 'include-missing', message: `file '${join(dir, 'nope.conf')}' included from '${file}' not found` },
      {
        file,
        line: 3,
        code: 'unreadable',
        message: `'${join(dir, 'dangling.conf')}' is a symbolic link to a file that does not exist; Nix skips the include without a word`,
      },
    ]);
    expect(conf.assignments.map((a) => a.value)).toEqual(['http://after']);
  });

  it('names an include loop as the crash it is for Nix', async () => {
    const { dir, load } = confDir({
      'nix.conf': 'include a.conf\n',
      'a.conf': 'include b.conf\n',
      'b.conf': 'substituters = http://b\ninclude a.conf\n',
    });
    const conf = await load();
    expect(conf.problems).toEqual([
      {
        file: join(dir, 'b.conf'),
        line: 2,
        code: 'include-loop',
        message: `'${join(dir, 'a.conf')}' includes itself (through ${dir.split('/').pop()}/a.conf → ${dir.split('/').pop()}/b.conf → ${dir.split('/').pop()}/a.conf); Nix 2.8 follows the loop until its stack overflows and it crashes (segmentation fault)`,
      },
    ]);
  });

  it('reads no FIFO, included or as nix.conf itself, and says Nix would wait on it', async () => {
    const { dir, load } = confDir({ 'nix.conf': 'include pipe.conf\nsubstituters = http://after\n' });
    execFileSync('mkfifo', [join(dir, 'pipe.conf')]);
    const conf = await load();
    expect(conf.assignments.map((a) => a.value)).toEqual(['http://after']);
    expect(conf.problems).toEqual([
      {
        file: join(dir, 'pipe.conf'),
        code: 'blocks',
        message: `'${join(dir, 'pipe.conf')}' is not a regular file (a FIFO): Nix waits on it until something writes to it, so every nix command hangs; nixcache does not read it`,
      },
    ]);
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    execFileSync('mkfifo', [join(sub, 'nix.conf')]);
    const top = await loadNixConf({ env: { NIX_CONF_DIR: sub, NIX_USER_CONF_FILES: '' } });
    expect(top.problems.map((p) => [p.file, p.code])).toEqual([[join(sub, 'nix.conf'), 'blocks']]);
  });

  it('stops reading when the signal (the run deadline) has aborted, saying so', async () => {
    const { load } = confDir(chain(3, 'substituters = http://bottom'));
    const conf = await load(undefined, AbortSignal.abort());
    expect(conf.problems).toMatchObject([
      { code: 'read-limit', message: expect.stringMatching(/^the run's deadline came while reading nix.conf/) },
    ]);
  });
});
