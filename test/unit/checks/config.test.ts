import { describe, expect, it } from 'vitest';
import { config } from '../../../checks/config.js';
import type { Facts, NixConfigView } from '../../../src/facts/types.js';
import { NIXOS_CACHE, NIXOS_CACHE_KEY } from '../../../src/nix/settings.js';
import type { ConfFileRecord, ConfProblem } from '../../../src/system/config.js';
import { fakeFacts, fakeResults, type World } from '../../helpers/facts.js';

/** The config check (step 1) over scripted nix.conf files and Nix's own view of them. */

const SYSTEM = '/etc/nix/nix.conf';
const USER = '/home/alice/.config/nix/nix.conf';
const SHOW = 'nix show-config --json';
const CLEAN = `substituters = ${NIXOS_CACHE}\ntrusted-public-keys = ${NIXOS_CACHE_KEY}\n`;

const run = (facts: Facts) => config.run(facts, fakeResults());

/** Facts whose discovery recorded PROBLEMS (fakeFacts itself never records any). */
function withProblems(world: World, problems: ConfProblem[], files?: ConfFileRecord[]): Facts {
  const f = fakeFacts(world);
  return { ...f.facts, config: { ...f.facts.config, problems, files: files ?? f.facts.config.files } };
}

/** What `nix show-config --json` prints for CLEAN. */
const agreeing: NixConfigView = {
  command: SHOW,
  values: {
    substituters: { value: [NIXOS_CACHE] },
    'trusted-public-keys': { value: [NIXOS_CACHE_KEY] },
    'require-sigs': { value: true },
    'trusted-substituters': { value: [] },
  },
};

describe('config check: a configuration without problems', () => {
  it('passes a clean system nix.conf, naming the file read and how many settings it sets', async () => {
    const f = await run(fakeFacts({ conf: CLEAN }).facts);
    expect(f.status).toBe('pass');
    expect(f.summary).toBe(`read ${SYSTEM}; 2 settings, no problems`);
    expect(f.fix).toBeUndefined();
    expect(f.data).toMatchObject({ files: [SYSTEM], searched: [SYSTEM], missing: [], problems: [], unknownSettings: [] });
  });

  it("passes without any nix.conf, noting that Nix's default substituter applies", async () => {
    const f = await run(fakeFacts().facts);
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('read no nix.conf file; 0 settings, no problems');
    expect(f.detail).toContain("substituters is not set: Nix's default applies (https://cache.nixos.org/).");
  });

  it('does not note the default substituter when nix.conf sets substituters', async () => {
    const f = await run(fakeFacts({ conf: CLEAN }).facts);
    expect(f.detail ?? '').not.toContain('substituters is not set');
  });

  it('lists the files discovery found missing in its data', async () => {
    const facts = withProblems(
      { conf: CLEAN },
      [],
      [
        { path: SYSTEM, level: 'system', status: 'read' },
        { path: USER, level: 'user', status: 'missing', message: `'${USER}' does not exist` },
      ],
    );
    const f = await run(facts);
    expect(f.status).toBe('pass');
    expect(f.data).toMatchObject({ files: [SYSTEM], missing: [USER] });
  });
});

describe('config check: problems that make Nix refuse the configuration', () => {
  it("fails on an illegal line, naming it at file:line without the message's trailing file name, and says how to write a setting", async () => {
    const facts = withProblems({ conf: CLEAN }, [
      { file: SYSTEM, line: 3, code: 'illegal-line', message: `illegal configuration line 'substituters https://x' in '${SYSTEM}'` },
    ]);
    const f = await run(facts);
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(`Nix refuses this configuration: illegal configuration line 'substituters https://x' at ${SYSTEM}:3`);
    expect(f.fix).toContain(
      `Fix or delete line 3 of ${SYSTEM}: every setting is 'name = value' (spaces around '='), comments start with '#'.`,
    );
    expect(f.detail).toContain(`${SYSTEM}:3: illegal configuration line 'substituters https://x'`);
    expect(f.data).toMatchObject({ problems: [{ file: SYSTEM, line: 3, code: 'illegal-line' }] });
  });

  it("fails on a missing include, suggesting '!include' to make it optional", async () => {
    const message = `file '/etc/nix/extra.conf' included from '${SYSTEM}' not found`;
    const f = await run(withProblems({ conf: CLEAN }, [{ file: SYSTEM, line: 2, code: 'include-missing', message }]));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(`Nix refuses this configuration: ${message} at ${SYSTEM}:2`);
    expect(f.fix).toBe(`Create the included file, or write '!include' to make it optional (${SYSTEM}:2).`);
  });

  it('fails on an include loop, saying to remove the include that leads back', async () => {
    const message = "'/etc/nix/a.conf' includes itself (through nix/a.conf → nix/b.conf → nix/a.conf); Nix would recurse without end";
    const f = await run(withProblems({ conf: CLEAN }, [{ file: '/etc/nix/b.conf', line: 1, code: 'include-loop', message }]));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(`Nix refuses this configuration: ${message} at /etc/nix/b.conf:1`);
    expect(f.fix).toBe('Remove the include that leads back to its own file (/etc/nix/b.conf:1).');
  });

  it('fails past a read limit without saying Nix refuses: nixcache stopped, the rest is not diagnosed', async () => {
    const message = 'Nix 2.8 reads a file again each time it is included: 64,570,082 reads for this configuration';
    // Reading stopped before any substituters line.
    const f = await run(
      withProblems({ conf: `trusted-public-keys = ${NIXOS_CACHE_KEY}\n` }, [
        { file: '/etc/nix/f17.conf', line: 1, code: 'read-limit', message },
      ]),
    );
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(`nixcache stopped reading nix.conf at /etc/nix/f17.conf:1: ${message}`);
    expect(f.summary).not.toContain('Nix refuses');
    expect(f.fix).toContain('/etc/nix/f17.conf:1');
    // Not "substituters is not set": reading stopped before it could tell.
    expect(f.detail).not.toContain('is not set');
    expect(f.detail).toContain('before nixcache stopped');
  });

  it('fails a FIFO where Nix reads nix.conf as a hang, not a refusal', async () => {
    const message =
      "'/etc/nix/nix.conf' is not a regular file (a FIFO): Nix waits on it until something writes to it, so every nix command hangs";
    const f = await run(withProblems({ conf: CLEAN }, [{ file: '/etc/nix/nix.conf', code: 'blocks', message }]));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(`every nix command hangs reading /etc/nix/nix.conf: ${message}`);
    expect(f.fix).toMatch(/^Put a regular file in its place: rm \/etc\/nix\/nix\.conf/);
  });

  it('names a refusal before a read limit', async () => {
    const f = await run(
      withProblems({ conf: CLEAN }, [
        { file: '/etc/nix/big.conf', line: 9, code: 'read-limit', message: 'more than 5,000 settings' },
        { file: SYSTEM, line: 5, code: 'illegal-line', message: `illegal configuration line 'oops' in '${SYSTEM}'` },
      ]),
    );
    expect(f.summary).toBe(`Nix refuses this configuration: illegal configuration line 'oops' at ${SYSTEM}:5`);
  });

  it('names the first fatal problem, not an unreadable file before it, and counts the rest', async () => {
    const facts = withProblems({ conf: CLEAN }, [
      { file: USER, code: 'unreadable', message: `'${USER}' cannot be read (EACCES)` },
      { file: SYSTEM, line: 5, code: 'illegal-line', message: `illegal configuration line 'oops' in '${SYSTEM}'` },
      { file: SYSTEM, line: 6, code: 'include-missing', message: `file '/etc/nix/x.conf' included from '${SYSTEM}' not found` },
    ]);
    const f = await run(facts);
    expect(f.status).toBe('fail');
    // "+1 more": the other reason Nix refuses the files; the unreadable one Nix skips is in the detail.
    expect(f.summary).toBe(`Nix refuses this configuration: illegal configuration line 'oops' at ${SYSTEM}:5 (+1 more)`);
    expect(f.fix).toContain(`Fix or delete line 5 of ${SYSTEM}`);
    expect(f.fix).toContain(`Create the included file, or write '!include' to make it optional (${SYSTEM}:6).`);
    expect(f.detail).toContain(`${USER}: '${USER}' cannot be read (EACCES)`);
  });

  it('still fails on a fatal problem when there are unknown settings too', async () => {
    const facts = withProblems({ conf: `${CLEAN}trusted-public-key = x\n` }, [
      { file: SYSTEM, line: 9, code: 'illegal-line', message: `illegal configuration line 'x' in '${SYSTEM}'` },
    ]);
    const f = await run(facts);
    expect(f.status).toBe('fail');
    expect(f.summary).toContain('Nix refuses this configuration');
    expect(f.fix).toContain(`Rename 'trusted-public-key' to 'trusted-public-keys' at ${SYSTEM}:3.`);
  });
});

describe('config check: problems Nix survives', () => {
  it('warns, not fails, when a nix.conf cannot be read (Nix skips it)', async () => {
    const message = `'${USER}' cannot be read (EACCES)`;
    const facts = withProblems(
      { conf: CLEAN },
      [{ file: USER, code: 'unreadable', message }],
      [
        { path: SYSTEM, level: 'system', status: 'read' },
        { path: USER, level: 'user', status: 'unreadable', message },
      ],
    );
    const f = await run(facts);
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(`${USER}: ${message}`);
    expect(f.fix).toBeUndefined();
    expect(f.data).toMatchObject({ files: [SYSTEM], problems: [{ file: USER, line: null, code: 'unreadable' }] });
  });

  it('warns about a misspelt setting at file:line, suggesting the real name and the rename', async () => {
    const f = await run(fakeFacts({ conf: `trusted-public-key = ${NIXOS_CACHE_KEY}\n` }).facts);
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(`unknown setting 'trusted-public-key' at ${SYSTEM}:1 — did you mean 'trusted-public-keys'?`);
    expect(f.fix).toBe(`Rename 'trusted-public-key' to 'trusted-public-keys' at ${SYSTEM}:1.`);
    expect(f.data).toMatchObject({
      unknownSettings: [{ name: 'trusted-public-key', at: `${SYSTEM}:1`, suggestion: 'trusted-public-keys' }],
    });
  });

  it("keeps the 'extra-' prefix in the suggested name", async () => {
    const f = await run(fakeFacts({ conf: `extra-trusted-public-key = ${NIXOS_CACHE_KEY}\n` }).facts);
    expect(f.status).toBe('warn');
    expect(f.summary).toContain("did you mean 'extra-trusted-public-keys'?");
    expect(f.fix).toBe(`Rename 'extra-trusted-public-key' to 'extra-trusted-public-keys' at ${SYSTEM}:1.`);
  });

  it('warns about an unknown setting with nothing close, without a suggestion or fix, and counts the others', async () => {
    const f = await run(fakeFacts({ conf: `frobnicate-widgets = 1\n${CLEAN}quuxification-level = 3\n` }).facts);
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(`unknown setting 'frobnicate-widgets' at ${SYSTEM}:1 (+1 more)`);
    expect(f.summary).not.toContain('did you mean');
    expect(f.fix).toBeUndefined();
    expect(f.detail).toContain(`${SYSTEM}:4: unknown setting 'quuxification-level'`);
    expect(f.data).toMatchObject({ unknownSettings: [{ name: 'frobnicate-widgets', suggestion: null }, { name: 'quuxification-level' }] });
  });

  it('does not report a setting the installed Nix knows, though the doctor’s list does not', async () => {
    const conf = `${CLEAN}external-builders = []\n`;
    const unknownToUs = await run(fakeFacts({ conf }).facts);
    expect(unknownToUs.status).toBe('warn');
    expect(unknownToUs.summary).toContain("unknown setting 'external-builders'");

    const nixView: NixConfigView = { command: SHOW, values: { ...agreeing.values, 'external-builders': { value: [] } } };
    const f = await run(fakeFacts({ conf, nixView }).facts);
    expect(f.status).toBe('pass');
    expect(f.data).toMatchObject({ unknownSettings: [], nixCrossCheck: 'agrees' });
    expect(f.detail ?? '').not.toContain('external-builders');
  });

  it('warns that substitute = false stops every download, and says to remove it', async () => {
    const f = await run(fakeFacts({ conf: `${CLEAN}substitute = false\n` }).facts);
    expect(f.status).toBe('warn');
    expect(f.summary).toBe('substitute = false: Nix never downloads from any substituter.');
    expect(f.fix).toBe('Remove substitute = false (NixOS: nix.settings.substitute = true;).');
  });

  it('reads the old alias build-use-substitutes = false as substitute = false', async () => {
    const f = await run(fakeFacts({ conf: `${CLEAN}build-use-substitutes = false\n` }).facts);
    expect(f.status).toBe('warn');
    expect(f.summary).toBe('substitute = false: Nix never downloads from any substituter.');
  });

  it('passes substitute = true', async () => {
    const f = await run(fakeFacts({ conf: `${CLEAN}substitute = true\n` }).facts);
    expect(f.status).toBe('pass');
    expect(f.summary).toBe(`read ${SYSTEM}; 3 settings, no problems`);
  });
});

describe("config check: the files against Nix's own view", () => {
  it('passes and records agreement when Nix reports the same substituters, keys and require-sigs', async () => {
    const f = await run(fakeFacts({ conf: CLEAN, nixView: agreeing }).facts);
    expect(f.status).toBe('pass');
    expect(f.data).toMatchObject({ nixCrossCheck: 'agrees' });
  });

  it('warns when Nix reports other substituters than the files, quoting both and the command', async () => {
    const nixView: NixConfigView = {
      command: SHOW,
      values: { ...agreeing.values, substituters: { value: ['https://other.example.org'] } },
    };
    const f = await run(fakeFacts({ conf: CLEAN, nixView }).facts);
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(`substituters: Nix (\`${SHOW}\`) says 'https://other.example.org', the files say '${NIXOS_CACHE}'`);
    expect(f.data).toMatchObject({ nixCrossCheck: 'differs' });
  });

  it('compares require-sigs as a boolean, warning when the files turn it off but Nix has it on', async () => {
    const f = await run(fakeFacts({ conf: `${CLEAN}require-sigs = false\n`, nixView: agreeing }).facts);
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(`require-sigs: Nix (\`${SHOW}\`) says 'true', the files say 'false'`);
  });

  it("reads require-sigs = yes as true, agreeing with Nix's true", async () => {
    const f = await run(fakeFacts({ conf: `${CLEAN}require-sigs = yes\n`, nixView: agreeing }).facts);
    expect(f.status).toBe('pass');
    expect(f.data).toMatchObject({ nixCrossCheck: 'agrees' });
  });

  it('skips a value Nix reports without a value field', async () => {
    const nixView: NixConfigView = { command: SHOW, values: { substituters: 'https://other.example.org' } };
    const f = await run(fakeFacts({ conf: CLEAN, nixView }).facts);
    expect(f.status).toBe('pass');
    expect(f.data).toMatchObject({ nixCrossCheck: 'agrees' });
  });

  it('passes with a note quoting the error when nix show-config failed for a reason other than the configuration', async () => {
    const nixView: NixConfigView = { command: SHOW, error: "error: unknown command 'show-config'" };
    const f = await run(fakeFacts({ conf: CLEAN, nixView }).facts);
    expect(f.status).toBe('pass');
    expect(f.detail).toContain(`\`${SHOW}\` failed: error: unknown command 'show-config'`);
    expect(f.data).toMatchObject({ nixCrossCheck: 'nix failed' });
  });

  it('records that Nix is not installed when there is no view of it', async () => {
    const f = await run(fakeFacts({ conf: CLEAN }).facts);
    expect(f.status).toBe('pass');
    expect(f.data).toMatchObject({ nixCrossCheck: 'nix not installed' });
  });

  it('does not compare with Nix under --conf, where Nix reads other files than the doctor', async () => {
    const nixView: NixConfigView = { command: SHOW, values: { substituters: { value: ['https://other.example.org'] } } };
    const f = await run(fakeFacts({ conf: CLEAN, nixView, run: { confFile: '/tmp/test.conf' } }).facts);
    expect(f.status).toBe('pass');
    expect(f.data).toMatchObject({ nixCrossCheck: 'not compared (--conf)' });
  });
});

describe('config check: as the installed Nix release reads the files', () => {
  it('says "1 setting", not "1 settings"', async () => {
    const f = await run(fakeFacts({ conf: `substituters = ${NIXOS_CACHE}\n` }).facts);
    expect(f.summary).toBe(`read ${SYSTEM}; 1 setting, no problems`);
  });

  it('does not call extra-platforms, a setting whose own name starts with extra-, unknown', async () => {
    const f = await run(fakeFacts({ conf: `${CLEAN}extra-platforms = aarch64-linux\nextra-sandbox-paths = /etc/ssl\n` }).facts);
    expect(f.status).toBe('pass');
    expect(f.data).toMatchObject({ unknownSettings: [] });
  });

  it('names a setting of a newer Nix as such for the installed release, and knows it on a release that has it', async () => {
    const conf = `${CLEAN}max-substitution-jobs = 32\n`;
    const old = await run(fakeFacts({ conf, env: { nixVersion: '2.8.0' } }).facts);
    expect(old.status).toBe('warn');
    expect(old.summary).toBe(
      `${SYSTEM}:3: 'max-substitution-jobs' is a setting of Nix 2.16 and later: Nix 2.8.0 ignores it ("unknown setting 'max-substitution-jobs'")`,
    );
    expect(old.data).toMatchObject({ unknownSettings: [{ name: 'max-substitution-jobs', kind: 'newer', since: '2.16' }] });
    const current = await run(fakeFacts({ conf, env: { nixVersion: '2.18.1' } }).facts);
    expect(current.status).toBe('pass');
  });

  it('fails on a value Nix refuses, with the message Nix prints and the file:line', async () => {
    const f = await run(fakeFacts({ conf: `${CLEAN}max-jobs = auto cores = 0\n` }).facts);
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(
      `Nix refuses this configuration: configuration setting 'max-jobs' should be 'auto' or an integer at ${SYSTEM}:3`,
    );
    expect(f.fix).toBe(`Put each setting on a line of its own (${SYSTEM}:3):\nmax-jobs = auto\ncores = 0`);
    expect(f.data).toMatchObject({
      refused: [{ at: `${SYSTEM}:3`, message: "configuration setting 'max-jobs' should be 'auto' or an integer" }],
    });
  });

  it("quotes Nix's own error: line when nix show-config refused the files, even one the doctor did not foresee", async () => {
    const nixView: NixConfigView = {
      command: SHOW,
      error: "error: setting 'plugin-thing' has invalid value 'x'\nTry 'nix --help' for more information.",
    };
    const f = await run(fakeFacts({ conf: CLEAN, nixView }).facts);
    expect(f.status).toBe('fail');
    expect(f.summary).toBe("Nix refuses this configuration: setting 'plugin-thing' has invalid value 'x'");
  });

  it("uses its own reading of the refusal when Nix's output kept only its last hint line", async () => {
    const nixView: NixConfigView = { command: SHOW, error: "Try 'nix --help' for more information." };
    const f = await run(fakeFacts({ conf: `${CLEAN}require-sigs = "false"\n`, nixView }).facts);
    expect(f.summary).toBe(`Nix refuses this configuration: Boolean setting 'require-sigs' has invalid value '"false"' at ${SYSTEM}:3`);
  });

  it("cuts only the file name Nix appends from an illegal line's message, whatever the line holds", async () => {
    const text = `substituters https://a in 'b'`;
    const facts = withProblems({ conf: CLEAN }, [
      { file: SYSTEM, line: 4, code: 'illegal-line', message: `illegal configuration line '${text}' in '${SYSTEM}'` },
    ]);
    const f = await run(facts);
    expect(f.summary).toBe(`Nix refuses this configuration: illegal configuration line '${text}' at ${SYSTEM}:4`);
  });

  it('warns about values Nix keeps literally, with the line to write', async () => {
    const f = await run(fakeFacts({ conf: `${CLEAN}extra-substituters = "https://a.cachix.org"\n` }).facts);
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(
      `${SYSTEM}:3: extra-substituters gets the entries '"https://a.cachix.org"' — quotes, which Nix keeps as part of the value`,
    );
    expect(f.fix).toBe(`Write at ${SYSTEM}:3: extra-substituters = https://a.cachix.org`);
  });

  it('reads substitute = no and substitute = 0 as false, as Nix does', async () => {
    for (const value of ['no', '0']) {
      const f = await run(fakeFacts({ conf: `${CLEAN}substitute = ${value}\n` }).facts);
      expect(f.summary).toBe('substitute = false: Nix never downloads from any substituter.');
    }
  });

  it('summarises the first line Nix reads with a problem, whichever kind it is', async () => {
    const f = await run(fakeFacts({ conf: `extra-platforms = [ "aarch64-linux" ]\nsubstituers = ${NIXOS_CACHE}\n` }).facts);
    expect(f.summary).toBe(
      `${SYSTEM}:1: extra-platforms gets the entries '[', '"aarch64-linux"', ']' — Nix-language list syntax, which nix.conf does not have (+1 more)`,
    );
    expect(f.detail?.split('\n').slice(0, 2)).toEqual([
      `${SYSTEM}:1: extra-platforms gets the entries '[', '"aarch64-linux"', ']' — Nix-language list syntax, which nix.conf does not have`,
      `${SYSTEM}:2: unknown setting 'substituers' — did you mean 'substituters'?`,
    ]);
  });
});
