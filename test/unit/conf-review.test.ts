import { describe, expect, it } from 'vitest';
import { parseNixConf } from '../../src/nix/conf.js';
import { differencesFromNix, literalTokenProblem, nixErrorMessage, reviewAssignments } from '../../src/nix/conf-review.js';
import { type Assignment, EffectiveSettings } from '../../src/nix/config.js';
import type { NixKnowledge } from '../../src/nix/settings.js';

/** What the config check says about each nix.conf line, judged for a Nix release (pure: no Nix run here). */

const FILE = '/etc/nix/nix.conf';
const NIX_2_8: NixKnowledge = { version: '2.8.0', platform: 'linux' };

function assignmentsOf(text: string): Assignment[] {
  return parseNixConf(text).lines.flatMap((l) =>
    l.kind === 'set'
      ? [
          {
            name: l.name,
            value: l.value,
            origin: { file: FILE, line: l.line, level: 'system' as const },
            ...(l.continued ? { continued: l.continued } : {}),
          },
        ]
      : [],
  );
}
const review = (text: string, knowledge = NIX_2_8) => reviewAssignments(assignmentsOf(text), knowledge);

describe('values Nix takes literally', () => {
  it('names the tokens of Nix-language list syntax pasted from a README, and the line to write', () => {
    const r = review('extra-platforms = [ "aarch64-linux" ]\n');
    expect(r.literal).toEqual([
      {
        index: 0,
        at: `${FILE}:1`,
        text: `${FILE}:1: extra-platforms gets the entries '[', '"aarch64-linux"', ']' — Nix-language list syntax, which nix.conf does not have`,
        fix: `Write at ${FILE}:1: extra-platforms = aarch64-linux`,
      },
    ]);
  });

  it('names quotes around a list of substituters, and writes them without', () => {
    const r = review('substituters = "https://a.cachix.org https://b.cachix.org"\n');
    expect(r.literal[0]?.text).toContain(
      `entries '"https://a.cachix.org', 'https://b.cachix.org"' — quotes, which Nix keeps as part of the value`,
    );
    expect(r.literal[0]?.fix).toBe(`Write at ${FILE}:1: substituters = https://a.cachix.org https://b.cachix.org`);
  });

  it('names an unexpanded shell variable from a heredoc, with a placeholder and how to let the shell expand it', () => {
    const r = review('extra-substituters = https://cache.nixos.org $EXTRA_SUBSTITUTERS\n');
    expect(r.literal[0]?.text).toContain(
      "entries '$EXTRA_SUBSTITUTERS' — the shell variable $EXTRA_SUBSTITUTERS, which Nix does not expand",
    );
    expect(r.literal[0]?.fix?.split('\n')).toEqual([
      `Write at ${FILE}:1: extra-substituters = https://cache.nixos.org <value of $EXTRA_SUBSTITUTERS>`,
      "Nix does not expand variables: write the value itself (in a shell heredoc, an unquoted delimiter — <<EOF, not <<'EOF' — lets the shell expand it).",
    ]);
  });

  it('joins the lines a trailing backslash meant to continue into the one line to write', () => {
    const r = review('extra-substituters = https://a.cachix.org \\\n  https://b.cachix.org \\\n  https://c.cachix.org\nfallback = true\n');
    expect(r.literal[0]?.text).toBe(
      `${FILE}:1: extra-substituters gets the entries '\\' — a '\\' line continuation, which nix.conf does not have (and Nix reads lines 2, 3 on their own)`,
    );
    expect(r.literal[0]?.fix).toBe(
      `Write at ${FILE}:1: extra-substituters = https://a.cachix.org https://b.cachix.org https://c.cachix.org`,
    );
  });

  it('does not take the next setting for a continuation', () => {
    const r = review('trusted-public-keys = a:AAAA \\\nfallback = true\n');
    expect(r.literal[0]?.fix).toBe(`Write at ${FILE}:1: trusted-public-keys = a:AAAA`);
  });

  it('names quotes around a single value, writing it without them', () => {
    const r = review('netrc-file = "/etc/nix/netrc"\n');
    expect(r.literal[0]?.fix).toBe(`Write at ${FILE}:1: netrc-file = /etc/nix/netrc`);
  });

  it.each([
    'substituters = http://[::1]:5000 http://[fd00::5]',
    'bash-prompt = \\[\\e[1;32m\\]nix$ \\[\\e[0m\\]',
    'access-tokens = github.com=ghp_abc gitlab.com=PAT:xyz',
    'sandbox-paths = /bin/sh=/nix/store/00000000000000000000000000000000-busybox/bin/sh /dev/kvm?',
    'trusted-users = root @wheel',
    'nix-path = nixpkgs=flake:nixpkgs',
  ])('takes %j as meant', (line) => {
    expect(review(`${line}\n`).literal).toEqual([]);
  });

  it.each([
    ['\\', 'continuation'],
    ['https://a\\', 'continuation'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell variable, written as a shell would have it
    ['${CACHE}', 'shell-variable'],
    ['$(cat url)', 'shell-variable'],
    ["'https://a'", 'quote'],
    ['[', 'list-syntax'],
    ['"a"]', 'quote'],
    ['https://a,', 'list-syntax'],
    ['https://a]', 'list-syntax'],
  ])('classifies the token %j as %s', (token, kind) => {
    expect(literalTokenProblem(token)?.kind).toBe(kind);
  });
});

describe('values Nix refuses', () => {
  it('splits settings run together on one line into one line each', () => {
    const r = review('max-jobs = auto cores = 0 keep-outputs = true\n');
    expect(r.refused).toEqual([
      {
        index: 0,
        at: `${FILE}:1`,
        text: `${FILE}:1: configuration setting 'max-jobs' should be 'auto' or an integer`,
        message: "configuration setting 'max-jobs' should be 'auto' or an integer",
        fix: `Put each setting on a line of its own (${FILE}:1):\nmax-jobs = auto\ncores = 0\nkeep-outputs = true`,
      },
    ]);
  });

  it('says what a setting takes, and writes a quoted boolean without quotes', () => {
    const r = review('require-sigs = "false"\nsandbox = yes\n');
    expect(r.refused.map((x) => x.fix)).toEqual([
      `Give 'require-sigs' true or false at ${FILE}:1 — without the quotes: require-sigs = false.`,
      `Give 'sandbox' true, false or relaxed at ${FILE}:2.`,
    ]);
  });

  it('judges an integer suffix by the release: refused by Nix 2.8, accepted by 2.23', () => {
    expect(review('min-free = 1G\n').refused).toHaveLength(1);
    expect(review('min-free = 1G\n', { version: '2.23.0' }).refused).toEqual([]);
  });
});

describe('names Nix ignores', () => {
  it('says a setting of a newer Nix is one, and to upgrade, rather than calling it a typo', () => {
    const r = review('max-substitution-jobs = 32\n');
    expect(r.ignored.map((i) => [i.text, i.fix])).toEqual([
      [
        `${FILE}:1: 'max-substitution-jobs' is a setting of Nix 2.16 and later: Nix 2.8.0 ignores it ("unknown setting 'max-substitution-jobs'")`,
        `Upgrade Nix to 2.16 or later for 'max-substitution-jobs', or remove it (${FILE}:1).`,
      ],
    ]);
  });

  it('names an obsolete setting, and its name today when it has one', () => {
    const r = review('signed-binary-caches = *\nbuild-extra-sandbox-paths = /etc/ssl\n');
    expect(r.ignored.map((i) => i.text)).toEqual([
      `${FILE}:1: 'signed-binary-caches' is obsolete — Nix 2.0 dropped it: Nix 2.8.0 ignores it ("unknown setting 'signed-binary-caches'"); the setting is now 'require-sigs'`,
      `${FILE}:2: 'build-extra-sandbox-paths' is obsolete — Nix 2.3 was the last to have it: Nix 2.8.0 ignores it ("unknown setting 'build-extra-sandbox-paths'"); the setting is now 'extra-sandbox-paths'`,
    ]);
    expect(r.ignored[1]?.fix).toBe(`Rename 'build-extra-sandbox-paths' to 'extra-sandbox-paths' at ${FILE}:2.`);
    // Not a rename: require-sigs takes true or false, not the '*' signed-binary-caches took.
    expect(r.ignored[0]?.fix).toBe(`Remove 'signed-binary-caches' (${FILE}:1): Nix 2 checks signatures unless require-sigs = false.`);
  });

  it('says extra- cannot add to a one-value setting', () => {
    const r = review('extra-fallback = true\n');
    expect(r.ignored[0]?.text).toBe(
      `${FILE}:1: unknown setting 'extra-fallback' — 'fallback' holds one value, so Nix has no 'extra-fallback' to add to it`,
    );
  });

  it('hedges on an unknown name when the installed Nix is newer than the table', () => {
    const r = review('brand-new-setting = 1\n', { version: '2.99.0' });
    expect(r.ignored[0]?.text).toContain('Nix 2.99.0 is newer than the releases the doctor knows');
  });
});

describe("the files against Nix's own values", () => {
  const settings = (text: string) => new EffectiveSettings(assignmentsOf(text), NIX_2_8);

  it('compares set-valued settings as sets (Nix sorts them) and lists in order', () => {
    const s = settings('trusted-substituters = https://z.example.org https://a.example.org\nsubstituters = https://b https://a\n');
    const values = {
      'trusted-substituters': { value: ['https://a.example.org', 'https://z.example.org'] },
      substituters: { value: ['https://a', 'https://b'] },
    };
    expect(differencesFromNix(s, values, ['trusted-substituters', 'substituters'], NIX_2_8)).toEqual([
      { name: 'substituters', nix: 'https://a https://b', files: 'https://b https://a' },
    ]);
  });

  it('compares booleans as booleans', () => {
    const s = settings('require-sigs = no\n');
    expect(differencesFromNix(s, { 'require-sigs': { value: false } }, ['require-sigs'], NIX_2_8)).toEqual([]);
  });

  it("finds Nix's error: line among its other lines", () => {
    expect(
      nixErrorMessage("error: configuration setting 'max-jobs' should be 'auto' or an integer\nTry 'nix --help' for more information."),
    ).toBe("configuration setting 'max-jobs' should be 'auto' or an integer");
    expect(nixErrorMessage("Try 'nix --help' for more information.")).toBeUndefined();
  });
});
