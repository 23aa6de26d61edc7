import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nar } from '../../../checks/nar.js';
import { createDecoder } from '../../../src/nix/decompress.js';
import type { Finding } from '../../../src/runner/check.js';
import { fakeFacts, fakeResults, type World } from '../../helpers/facts.js';
import { CACHES, KEYS } from '../../helpers/servers.js';

const LAN = 'http://10.0.0.5:5000';
const DIR = join(CACHES, 'signed-lan');
const narinfoFile = readdirSync(DIR).find((f) => f.endsWith('.narinfo') && readFileSync(join(DIR, f), 'utf8').includes('leaf-a')) as string;
const narinfo = readFileSync(join(DIR, narinfoFile), 'utf8');
const storePath = /^StorePath: (.*)$/m.exec(narinfo)?.[1] as string;
const narUrl = /^URL: (.*)$/m.exec(narinfo)?.[1] as string;
const narBytes = readFileSync(join(DIR, narUrl));
const LAN_KEY = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();

/** The LAN cache serving the fixture narinfo of leaf-a, with its NAR file answering as NARANSWER. */
async function runNar(narAnswer: NonNullable<NonNullable<World['script']>['http']>[string], text = narinfo): Promise<Finding> {
  const { facts, caches } = fakeFacts({
    conf: `substituters = ${LAN}\ntrusted-public-keys = ${LAN_KEY}`,
    run: { samples: [storePath] },
    script: {
      resolve: {},
      http: {
        [`${LAN}/${narinfoFile}`]: { status: 200, body: text },
        [`${LAN}/${narUrl}`]: narAnswer,
      },
    },
  });
  return nar.run(facts, caches[0]!, fakeResults());
}

describe('nar check: scripted verdicts over the real leaf-a NAR of the signed fixture cache', () => {
  it('passes the real xz NAR file, with both hashes matching', async () => {
    const f = await runNar({ status: 200, body: narBytes });
    expect(f.status).toBe('pass');
    expect(f.data).toMatchObject({ fileHash: 'matches', narHash: 'matches', sniffed: 'xz', problems: [] });
  });

  it('fails a NAR answering 404 after its narinfo as a pruned cache, quoting Nix', async () => {
    const f = await runNar({ status: 404 });
    expect(f.status).toBe('fail');
    expect(f.summary).toContain(`Nix fails with "file '${narUrl}' does not exist in binary cache '${LAN}'"`);
    expect(f.fix).toContain('nix.settings.fallback = true;');
  });

  it('fails a NAR file that needs credentials the narinfo did not, with the netrc line', async () => {
    const f = await runNar({ status: 401 });
    expect(f.status).toBe('fail');
    expect(f.fix).toContain('nix.settings.netrc-file');
  });

  it('fails an altered byte as a FileHash mismatch, without the fetchurl wording substitution never prints', async () => {
    const bad = Buffer.from(narBytes);
    bad[bad.length - 20] = (bad[bad.length - 20] ?? 0) ^ 0xff;
    const f = await runNar({ status: 200, body: bad });
    expect(f.status).toBe('fail');
    expect(f.data?.problems).toContain('file-hash');
    expect(f.summary).toContain(`the NAR file from ${LAN}/${narUrl} does not match FileHash/FileSize`);
    expect(JSON.stringify(f)).not.toContain('hash mismatch in file downloaded from');
  });

  it('warns, not fails, on a label Nix does not name over xz bytes: Nix 2.8 hands it to libarchive, which decodes it by its bytes', async () => {
    const f = await runNar({ status: 200, body: narBytes }, narinfo.replace('Compression: xz', 'Compression: lz9'));
    expect(f.status).toBe('warn');
    expect(f.data).toMatchObject({ problems: ['unknown-label'], narHash: 'matches' });
    expect(f.summary).toContain('recognises it as xz and decodes it');
    expect(f.summary).not.toMatch(/Nix fails/);
    expect(f.fix).toContain('Compression: xz');
  });

  it('fails a label Nix does not name over an uncompressed NAR, quoting libarchive’s "input compression not recognized"', async () => {
    const plain: Uint8Array[] = [];
    const decoder = await createDecoder('xz', (out) => plain.push(out));
    await decoder.write(narBytes);
    await decoder.end();
    const f = await runNar({ status: 200, body: Buffer.concat(plain) }, narinfo.replace('Compression: xz', 'Compression: lz9'));
    expect(f.status).toBe('fail');
    expect(f.data?.problems).toContain('unknown-label');
    expect(f.summary).toContain('finds an uncompressed NAR in it — Nix fails with "input compression not recognized"');
    expect(f.fix).toContain('Compression: none');
  });

  it('fails a label Nix before 2.4 does not know with its "unknown compression method"', async () => {
    const { facts, caches } = fakeFacts({
      conf: `substituters = ${LAN}`,
      env: { nixVersion: '2.3.16' },
      run: { samples: [storePath] },
      script: {
        http: {
          [`${LAN}/${narinfoFile}`]: { status: 200, body: narinfo.replace('Compression: xz', 'Compression: lz9') },
          [`${LAN}/${narUrl}`]: { status: 200, body: narBytes },
        },
      },
    });
    const f = await nar.run(facts, caches[0]!, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toContain("unknown compression method 'lz9'");
  });

  it('fails a zstd label on a file that is xz when this Nix could not read zstd (before 2.4)', async () => {
    const { facts, caches } = fakeFacts({
      conf: `substituters = ${LAN}`,
      env: { nixVersion: '2.3.16' },
      run: { samples: [storePath] },
      script: {
        http: {
          [`${LAN}/${narinfoFile}`]: { status: 200, body: narinfo.replace('Compression: xz', 'Compression: zstd') },
          [`${LAN}/${narUrl}`]: { status: 200, body: narBytes },
        },
      },
    });
    const f = await nar.run(facts, caches[0]!, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.data?.problems).toEqual(expect.arrayContaining(['nix-cannot-decode', 'mislabelled']));
  });
});
