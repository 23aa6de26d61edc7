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
