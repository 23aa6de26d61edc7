import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoverageReport } from '../../src/report/coverage.js';
import type { WhyReport } from '../../src/report/why.js';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { KEYS, type Running, serveCache } from '../helpers/servers.js';
import { missing } from '../helpers/system.js';

/**
 * Nix 2.8 accepts a content-addressed path from a substituter whatever its signatures
 * (`ValidPathInfo::checkSignatures` returns maxSigs when the narinfo's CA: recomputes to its path).
 * A cache of `nix-store --add`ed files and `builtins.toFile` texts, signed by a key nobody trusts
 * (one narinfo unsigned, one with its CA: altered), served on loopback: nixcache must say what
 * `nix-store -r` does.
 */
const skipReason = missing('content-addressed paths against real Nix', { root: true, commands: ['nix', 'nix-store'] });
const TRUSTED = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
const NIX = ['--extra-experimental-features', 'nix-command'];
const QUIET = { NIX_CONFIG: 'substituters =\nbuild-users-group =' };
const hashOf = (p: string) => p.slice('/nix/store/'.length, '/nix/store/'.length + 32);
const narinfoFile = (dir: string, p: string) => join(dir, `${hashOf(p)}.narinfo`);

let dir = '';
let server: Running | undefined;
/** Added with nix-store --add (fixed:r:sha256): signed by the untrusted key, unsigned, CA: altered. */
let signed = '';
let unsigned = '';
let falseClaim = '';
/** builtins.toFile texts (text:sha256), the second referring to the first. */
let text = '';
let textRef = '';

beforeAll(async () => {
  if (skipReason) return;
  dir = mkdtempSync(join(tmpdir(), 'nixcache-ca-'));
  const tag = randomBytes(6).toString('hex');
  for (const name of ['signed', 'unsigned', 'false-claim']) writeFileSync(join(dir, `nixcache-ca-${name}-${tag}`), `${name} ${tag}\n`);
  const added = await execa(
    'nix-store',
    ['--add', ...['signed', 'unsigned', 'false-claim'].map((n) => join(dir, `nixcache-ca-${n}-${tag}`))],
    {
      env: QUIET,
    },
  );
  [signed, unsigned, falseClaim] = String(added.stdout).trim().split('\n') as [string, string, string];
  const expr = `let a = builtins.toFile "nixcache-ca-text-${tag}" "${tag}"; in [ a (builtins.toFile "nixcache-ca-textref-${tag}" "see \${a}") ]`;
  const texts = await execa('nix-instantiate', ['--eval', '--strict', '--json', '--read-write-mode', '-E', expr], { env: QUIET });
  [textRef, text] = (JSON.parse(String(texts.stdout)) as string[]).reverse() as [string, string];

  await execa('nix-store', ['--generate-binary-cache-key', 'nobody-trusts-1', join(dir, 'other.sec'), join(dir, 'other.pub')], {
    env: QUIET,
  });
  const cache = join(dir, 'cache');
  const to = `file://${cache}?secret-key=${join(dir, 'other.sec')}&compression=none`;
  await execa('nix', [...NIX, 'copy', '--to', to, signed, unsigned, falseClaim, textRef], { env: QUIET });
  const edit = (p: string, change: (text: string) => string) =>
    writeFileSync(narinfoFile(cache, p), change(readFileSync(narinfoFile(cache, p), 'utf8')));
  edit(unsigned, (t) => t.replace(/^Sig: .*\n/gm, ''));
  edit(falseClaim, (t) => t.replace(/^CA: fixed:r:sha256:./m, (m) => `${m.slice(0, -1)}${m.endsWith('0') ? '1' : '0'}`));
  server = await serveCache(cache);
  // Out of /nix/store again: what the test added it removes.
  await execa('nix-store', ['--delete', signed, unsigned, falseClaim, textRef, text], { env: QUIET });
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (!skipReason && signed)
    await execa('nix-store', ['--delete', signed, unsigned, falseClaim, textRef, text], { env: QUIET, reject: false });
});

const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
const schemas = new Map<string, ReturnType<typeof ajv.compile>>();
function parse<T>(schema: string, stdout: string): T {
  const validate = schemas.get(schema) ?? ajv.compile(JSON.parse(readFileSync(new URL(`../../schema/${schema}`, import.meta.url), 'utf8')));
  schemas.set(schema, validate);
  const doc = JSON.parse(stdout);
  expect(validate(doc) ? [] : validate.errors).toEqual([]);
  return doc as T;
}

/** A nix.conf that trusts only the fixtures' LAN key, an empty store to substitute into, a fresh narinfo disk cache. */
function world() {
  const conf = nixConf(`substituters = ${server?.url}\ntrusted-public-keys = ${TRUSTED}\n`);
  mkdirSync(join(conf.dir, 'cache'));
  return { ...conf, store: join(conf.dir, 'store'), env: { ...conf.env, XDG_CACHE_HOME: join(conf.dir, 'cache') } };
}

/** The oracle: real Nix substituting PATH into the world's empty store. */
async function nixSubstitutes(w: ReturnType<typeof world>, path: string): Promise<{ ok: boolean; stderr: string }> {
  const r = await execa('nix-store', ['--store', w.store, '-r', path, '--option', 'build-users-group', ''], {
    env: w.env,
    reject: false,
    timeout: 60_000,
  });
  return { ok: r.exitCode === 0, stderr: String(r.stderr) };
}

describe.skipIf(skipReason)('content-addressed paths need no trusted signature (Nix 2.8 as the oracle)', () => {
  it('why says substitute for CA paths signed by an untrusted key or unsigned, as nix-store -r does', async () => {
    const w = world();
    const r = await runCli(['why', '--json', '--store', w.store, signed, unsigned, textRef], { env: w.env });
    const report = parse<WhyReport>('why.schema.json', r.stdout);
    for (const p of report.paths) {
      expect(p).toMatchObject({ verdict: 'substitute', from: server?.url });
      expect(p.caches[0]).toMatchObject({ narinfo: 'present', signature: 'content-addressed', nar: 'ok' });
      expect(p.reason).toMatch(/content-addressed: its CA: recomputes to the path, so Nix needs no signature/);
    }
    expect(r.exitCode).toBe(0);
    for (const p of [signed, unsigned, textRef]) expect((await nixSubstitutes(w, p)).ok).toBe(true);
  });

  it('why says build for a path whose CA: was altered, which Nix calls not content-addressed and refuses', async () => {
    const w = world();
    const r = await runCli(['why', '--json', '--store', w.store, falseClaim], { env: w.env });
    const p = parse<WhyReport>('why.schema.json', r.stdout).paths[0];
    expect(p).toMatchObject({ verdict: 'build' });
    expect(p?.caches[0]).toMatchObject({ narinfo: 'present', signature: 'untrusted', keys: ['nobody-trusts-1'] });
    const nix = await nixSubstitutes(w, falseClaim);
    expect(nix.ok).toBe(false);
    expect(nix.stderr).toContain("claims to be content-addressed but isn't");
    expect(nix.stderr).toContain("is not signed by any of the keys in 'trusted-public-keys'");
  });

  it('coverage counts the CA paths present and the altered one untrusted', async () => {
    const w = world();
    const r = await runCli(['coverage', '--json', '--store', w.store, signed, unsigned, falseClaim, textRef, text], { env: w.env });
    const report = parse<CoverageReport>('coverage.schema.json', r.stdout);
    expect(report.caches[0]).toMatchObject({ present: 4, untrusted: 1, missing: 0 });
  });

  it('the doctor’s signature check passes a CA sample signed by an untrusted key, and names what still needs one', async () => {
    const { env } = world();
    for (const sample of [signed, unsigned]) {
      const r = await runCli(['doctor', '--json', '--sample', sample, '--only', 'connect,cache-info,signature'], { env });
      const check = checkOf(parseReport(r.stdout), 'signature', server?.url);
      expect(check).toMatchObject({ status: 'pass', summary: expect.stringContaining('content-addressed') });
      expect(check.detail).toMatch(/recomputes to its store path/);
    }
    const r = await runCli(['doctor', '--json', '--sample', falseClaim, '--only', 'connect,cache-info,signature'], { env });
    const check = checkOf(parseReport(r.stdout), 'signature', server?.url);
    expect(check).toMatchObject({ status: 'fail', summary: expect.stringContaining('nobody-trusts-1') });
    expect(check.detail).toMatch(/claims to be content-addressed but isn't/);
  });
});
