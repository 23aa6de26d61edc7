import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nixConf, runCli } from '../helpers/cli.js';

const DRV = '/nix/store/00000000000000000000000000000000-hello.drv';
const OUT = '/nix/store/11111111111111111111111111111111-hello';

/**
 * A `nix-store` that writes each argv it is given to LOG and answers as for a derivation whose
 * output is not built: DRV's output is OUT, every path asked about is invalid, DRV's closure is DRV.
 */
function recordingNixStore(dir: string, log: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(
    join(bin, 'nix-store'),
    `#!/bin/sh
printf '%s\\n' "$*" >> '${log}'
case "$*" in
  *'--query --outputs'*) echo ${OUT} ;;
  *--check-validity*) for a in "$@"; do case "$a" in /nix/store/*) echo "$a" ;; esac; done ;;
  *'--query --requisites'*) echo ${DRV} ;;
esac
`,
    { mode: 0o755 },
  );
  return bin;
}

function world() {
  const conf = nixConf('substituters = http://127.0.0.1:9\n');
  const log = join(conf.dir, 'nix-store.log');
  const bin = recordingNixStore(conf.dir, log);
  const env = { ...conf.env, PATH: `${bin}:${process.env.PATH}` };
  return { env, calls: () => readFileSync(log, 'utf8').trim().split('\n') };
}

describe('coverage of a .drv', () => {
  it('asks Nix once which paths are valid, for the closure and the unbuilt derivations alike', async () => {
    const w = world();
    const r = await runCli(['coverage', '--json', '--store', 'dummy://', DRV], { env: w.env });
    const calls = w.calls();
    expect(calls.filter((c) => c.includes('--check-validity'))).toEqual([`--store dummy:// --check-validity --print-invalid ${OUT}`]);
    // The output is not built, so the derivation stands for the outputs of its closure.
    expect(calls).toContain(`--store dummy:// --query --requisites ${DRV}`);
    expect(JSON.parse(r.stdout)).toMatchObject({ roots: [OUT], paths: 1, missing: [OUT], errors: [] });
  });

  it('stands an unbuilt derivation for its closure also when its output was named before it', async () => {
    const w = world();
    await runCli(['coverage', '--json', '--store', 'dummy://', OUT, DRV], { env: w.env });
    expect(w.calls()).toContain(`--store dummy:// --query --requisites ${DRV}`);
  });
});
