import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseNixConf } from '../../src/nix/conf.js';
import { reviewAssignments } from '../../src/nix/conf-review.js';
import { type Assignment, EffectiveSettings } from '../../src/nix/config.js';
import { judgeOrder, type OrderInput } from '../../src/nix/priority-advice.js';
import { checkSettingValue, lookupSetting, type SettingType, suggestSetting } from '../../src/nix/settings.js';
import { loadNixConf } from '../../src/system/config.js';

/**
 * Bad input for the nix.conf judgement: random text, random names and values, random versions and
 * orders. Nothing throws; every note is one line at file:line; a suggested fix never repeats the line.
 */
const RUNS = { numRuns: 300 };
const SEED = `substituters = https://cache.nixos.org [ "https://a" ] $EXTRA \\
  https://b
extra-platforms = aarch64-linux
max-jobs = auto cores = 0
require-sigs = "false"
signed-binary-caches = *
include other.conf
`;
const versions = fc.oneof(fc.constantFrom('2.0', '2.3.16', '2.8.0', '2.18.1', '2.24.10', '2.99.1', '1.11.16', 'nix'), fc.string());
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 400 }),
  fc.constant(SEED),
  fc.string({ maxLength: 40 }).map((s) => `${SEED}${s}`),
);

const assignmentsOf = (t: string): Assignment[] =>
  parseNixConf(t).lines.flatMap((l) =>
    l.kind === 'set'
      ? [
          {
            name: l.name,
            value: l.value,
            origin: { file: 'f', line: l.line, level: 'system' as const },
            ...(l.continued ? { continued: l.continued } : {}),
          },
        ]
      : [],
  );

describe('the nix.conf judgement on bad input', () => {
  it('reviews any text for any release without throwing, every note one line naming its file:line', () => {
    fc.assert(
      fc.property(text, versions, (t, version) => {
        const review = reviewAssignments(assignmentsOf(t), { version, platform: 'linux' });
        for (const note of [...review.refused, ...review.ignored, ...review.literal]) {
          expect(note.text.startsWith(`${note.at}: `)).toBe(true);
          expect(note.text).not.toContain('\n');
        }
        new EffectiveSettings(assignmentsOf(t), { version });
      }),
      RUNS,
    );
  });

  it('parses any text with a line limit into a prefix of the unlimited parse, never more than the limit', () => {
    fc.assert(
      fc.property(text, fc.integer({ min: 0, max: 12 }), (t, max) => {
        const all = parseNixConf(t);
        const some = parseNixConf(t, max);
        expect(some.lines.length + some.errors.length).toBeLessThanOrEqual(max);
        const stop = some.stoppedAt ?? Number.POSITIVE_INFINITY;
        expect(some.lines).toEqual(all.lines.filter((l) => l.line < stop));
        expect(some.errors).toEqual(all.errors.filter((e) => e.line < stop));
        if (all.lines.length + all.errors.length <= max) expect(some).toEqual(all);
      }),
      RUNS,
    );
  });

  it('looks up, suggests for and checks values of any name without throwing', () => {
    const types: SettingType[] = [
      'bool',
      'int32',
      'int64',
      'uint32',
      'uint64',
      'max-jobs',
      'sandbox',
      'path',
      'optional-path',
      'strings',
      'other',
    ];
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.constantFrom(...types), versions, (name, value, type, version) => {
        lookupSetting(name, { version });
        suggestSetting(name, { version });
        const checked = checkSettingValue(name, type, value, { version });
        expect(typeof checked.ok).toBe('boolean');
      }),
      RUNS,
    );
  });

  it('orders any caches, suggesting only what reorders them', () => {
    const input = fc.record({
      url: fc.string({ maxLength: 10 }),
      urlPriority: fc.option(fc.integer({ min: -5, max: 200 }), { nil: undefined }),
      advertised: fc.option(fc.option(fc.integer({ min: 0, max: 200 }), { nil: null }), { nil: undefined }),
      place: fc.constantFrom('local', 'lan', 'remote', 'unusable' as const),
      working: fc.constantFrom(true, false, null),
    });
    fc.assert(
      fc.property(fc.array(input, { maxLength: 6 }), (caches) => {
        const inputs: OrderInput[] = caches.map((c, index) => ({ ...c, index }));
        const { rows, suggested } = judgeOrder(inputs);
        expect(rows).toHaveLength(inputs.length);
        for (const [index, p] of suggested) expect(inputs[index]?.urlPriority).not.toBe(p);
      }),
      RUNS,
    );
  });
});

describe('nix.conf includes on random include graphs', () => {
  const names = ['nix.conf', 'a.conf', 'b.conf', 'c.conf', 'missing.conf'];
  const line = fc.oneof(
    fc.constantFrom(...names).map((n) => `include ${n}`),
    fc.constantFrom(...names).map((n) => `!include ${n}`),
    fc.constantFrom('substituters = http://x', 'extra-substituters = http://y http://z', 'substituers = typo', 'junk'),
  );
  const file = fc.array(line, { maxLength: 6 }).map((ls) => `${ls.join('\n')}\n`);

  it('reads any graph of includes (loops, fan-outs, missing files) within the limits, every stop a read-limit problem', async () => {
    await fc.assert(
      fc.asyncProperty(fc.tuple(file, file, file, file), async ([top, a, b, c]) => {
        const dir = mkdtempSync(join(tmpdir(), 'nixcache-conf-fuzz-'));
        for (const [name, text] of [
          ['nix.conf', top],
          ['a.conf', a],
          ['b.conf', b],
          ['c.conf', c],
        ] as const)
          writeFileSync(join(dir, name), text);
        const limits = { files: 3, includes: 20, lines: 15, appended: 12, unknownNames: 2 };
        const conf = await loadNixConf({ env: { NIX_CONF_DIR: dir, NIX_USER_CONF_FILES: '' }, limits });
        expect(conf.assignments.length).toBeLessThanOrEqual(limits.lines);
        expect(new Set(conf.files.map((f) => f.path)).size).toBe(conf.files.length);
        expect(conf.files.filter((f) => f.status === 'read').length).toBeLessThanOrEqual(limits.files);
        expect(conf.problems.filter((p) => p.code === 'read-limit').length).toBeLessThanOrEqual(1);
        for (const p of conf.problems) expect(p.message).not.toContain('\n');
      }),
      { numRuns: 150 },
    );
  });
});
