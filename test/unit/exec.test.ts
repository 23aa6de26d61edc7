import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Evidence } from '../../src/system/evidence.js';
import { createExec } from '../../src/system/exec.js';

/** The exec adapter against real programs: every way a child can end, and what it records. */
describe('exec adapter', () => {
  const exec = (signal = new AbortController().signal) => {
    const evidence: Evidence[] = [];
    return { run: createExec((e) => evidence.push(e), signal, 2000), evidence };
  };

  it('returns output and exit code, and records them', async () => {
    const { run, evidence } = exec();
    expect(await run('sh', ['-c', 'echo out; echo err >&2; exit 3'])).toMatchObject({
      exitCode: 3,
      stdout: 'out\n',
      stderr: 'err\n',
      missing: false,
    });
    expect(evidence[0]).toMatchObject({
      kind: 'exec',
      argv: ['sh', '-c', 'echo out; echo err >&2; exit 3'],
      exitCode: 3,
      output: 'out\nerr',
    });
  });

  it('says a program is missing or not executable, without throwing', async () => {
    const { run, evidence } = exec();
    expect(await run('no-such-program-for-nixcache', [])).toMatchObject({ missing: true, exitCode: null });
    expect(evidence[0]).toMatchObject({ error: 'not installed' });
    expect(await run('/etc/passwd', [])).toMatchObject({ denied: true, exitCode: null });
  });

  it('kills a program at its timeout and at the run deadline', async () => {
    const { run } = exec();
    expect(await run('sleep', ['30'], { timeoutMs: 200 })).toMatchObject({ timedOut: true, exitCode: null });
    const deadline = new AbortController();
    setTimeout(() => deadline.abort(), 100);
    const cut = exec(deadline.signal);
    expect(await cut.run('sleep', ['30'])).toMatchObject({ timedOut: false, exitCode: null });
    expect(cut.evidence[0]).toMatchObject({ error: 'cancelled at the deadline' });
  });

  it('keeps the output of quiet commands out of the evidence, and runs with LC_ALL=C', async () => {
    const { run, evidence } = exec();
    expect((await run('sh', ['-c', 'echo "$LC_ALL"'], { quiet: true })).stdout).toBe('C\n');
    expect(evidence[0]).toMatchObject({ output: '(output not kept)' });
  });

  it('returns when the program exits even if a background child keeps its output open', async () => {
    const { run } = exec();
    const r = await run('sh', ['-c', 'sleep 30 & echo started'], { timeoutMs: 20_000 });
    expect(r).toMatchObject({ exitCode: 0, stdout: 'started\n', timedOut: false });
  }, 5000);

  it('stops a program whose output passes 8 MB', async () => {
    const { run } = exec();
    const r = await run('sh', ['-c', 'yes 0123456789abcdef | head -c 20000000']);
    expect(r.stdout.length).toBeLessThanOrEqual(8 * 1024 * 1024);
  });
});

/** `nix --version` is remembered per binary: a later run starts no Nix while the binary stays the same. */
describe('exec memo', () => {
  const setup = () => {
    const home = mkdtempSync(join(tmpdir(), 'nixcache-memo-'));
    const bin = join(home, 'bin');
    mkdirSync(bin);
    const program = join(bin, 'fake-nix');
    /** A real executable (not a script) in the program's place: printf and echo say their own version. */
    const install = (from: string) => {
      rmSync(program, { force: true });
      copyFileSync(from, program);
      chmodSync(program, 0o755);
    };
    const script = (version: string) => {
      rmSync(program, { force: true });
      writeFileSync(program, `#!/bin/sh\necho run >> ${join(home, 'runs')}\necho "nix (Nix) ${version}"\n`, { mode: 0o755 });
    };
    const runs = () => (existsSync(join(home, 'runs')) ? readFileSync(join(home, 'runs'), 'utf8').split('\n').filter(Boolean).length : 0);
    return { home, bin, program, install, script, runs };
  };
  const withEnv = async <T>(env: Record<string, string | undefined>, f: () => Promise<T>): Promise<T> => {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
    try {
      return await f();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  };
  const run = (evidence: Evidence[] = []) =>
    createExec((e) => evidence.push(e), new AbortController().signal, 2000)('fake-nix', ['--version'], { memo: 'nix-version' });
  const remembered = (evidence: Evidence[]) => JSON.stringify(evidence).includes('earlier run');

  it('runs the program once, then answers from the memo; another binary in its place is asked again', async () => {
    const w = setup();
    w.install('/usr/bin/printf');
    await withEnv({ HOME: w.home, XDG_CACHE_HOME: undefined, PATH: `${w.bin}:${process.env.PATH}` }, async () => {
      const first: Evidence[] = [];
      expect((await run(first)).stdout).toMatch(/^printf /);
      expect(remembered(first)).toBe(false);
      const second: Evidence[] = [];
      expect((await run(second)).stdout).toMatch(/^printf /);
      expect(second[0]).toMatchObject({ kind: 'exec', exitCode: 0, durationMs: 0 });
      expect(remembered(second)).toBe(true);
      // An upgrade: another file in its place (another inode, size and time) is asked again.
      w.install('/bin/echo');
      const third: Evidence[] = [];
      expect((await run(third)).stdout).toMatch(/^echo /);
      expect(remembered(third)).toBe(false);
    });
  });

  it('never remembers a script: what it runs may change while it stays the same', async () => {
    const w = setup();
    w.script('2.8.0');
    await withEnv({ HOME: w.home, XDG_CACHE_HOME: undefined, PATH: `${w.bin}:${process.env.PATH}` }, async () => {
      await run();
      await run();
    });
    expect(w.runs()).toBe(2);
  });

  it('keeps no memo in a home that is not this user’s, nor one that others may write to', async () => {
    const w = setup();
    w.install('/usr/bin/printf');
    chmodSync(w.home, 0o777);
    const evidence: Evidence[] = [];
    await withEnv({ HOME: w.home, XDG_CACHE_HOME: undefined, PATH: `${w.bin}:${process.env.PATH}` }, async () => {
      await run();
      await run(evidence);
    });
    expect(remembered(evidence)).toBe(false);
    expect(existsSync(join(w.home, '.cache', 'nixcache'))).toBe(false);
  });

  it('reads no memo planted as a symlink or a FIFO', async () => {
    const w = setup();
    w.install('/usr/bin/printf');
    await withEnv({ HOME: w.home, XDG_CACHE_HOME: undefined, PATH: `${w.bin}:${process.env.PATH}` }, async () => {
      await run();
      const memo = join(w.home, '.cache', 'nixcache', 'nix-version.json');
      const text = readFileSync(memo, 'utf8');
      rmSync(memo);
      const elsewhere = join(w.home, 'elsewhere.json');
      writeFileSync(elsewhere, text);
      symlinkSync(elsewhere, memo);
      const viaLink: Evidence[] = [];
      await run(viaLink);
      expect(remembered(viaLink)).toBe(false);
      rmSync(memo);
      execFileSync('mkfifo', [memo]);
      const viaFifo: Evidence[] = [];
      await run(viaFifo);
      expect(remembered(viaFifo)).toBe(false);
    });
  });
});
