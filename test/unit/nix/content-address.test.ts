import { describe, expect, it } from 'vitest';
import { contentAddressedPath, contentAddressing, parseContentAddress } from '../../../src/nix/content-address.js';
import { parseNarInfo } from '../../../src/nix/narinfo.js';
import { createSignatureVerifier } from '../../../src/nix/signature-verifier.js';
import { classifySignatures } from '../../../src/nix/signatures.js';

/**
 * Store paths real Nix 2.8 made on this machine, with their `ca` and references from
 * `nix path-info --json`: nix-store --add (fixed:r:sha256), --add-fixed sha256 / sha1 (flat),
 * --add-fixed --recursive sha256 / sha512, builtins.toFile with and without references (text), a
 * fixed-output derivation (outputHashMode = "flat"), and `nix store make-content-addressed` of a
 * derivation output that refers to itself and to another path.
 */
const MADE_BY_NIX: { how: string; path: string; ca: string; references: string[] }[] = [
  {
    how: 'nix-store --add',
    path: 'a6y8agx9n62r6pwznl7f45fk3d4mjn8v-flat.txt',
    ca: 'fixed:r:sha256:1b25p565bqlixnc4rz5gq341id9l3acr2r2xcw680f71f28yjgvl',
    references: [],
  },
  {
    how: 'nix-store --add-fixed sha256',
    path: 'kdqj206ncd6x0v24sjz3r53nw67bh3fs-flat.txt',
    ca: 'fixed:sha256:1ffb67ynwdxr2p5rvycx7prnzdrb65g7ljq8xg2bsm1fz7kx0y4f',
    references: [],
  },
  {
    how: 'nix-store --add-fixed sha1',
    path: 'ngv1sb2agxdmg62lqnjwzizv9ficx1c6-flat.txt',
    ca: 'fixed:sha1:h1nl68vqz3bx3z9byz52891kwjbjl152',
    references: [],
  },
  {
    how: 'nix-store --add-fixed --recursive sha256 DIR',
    path: '9cw6hnijkz5ji9b564hfbxqh2pwvwjv3-dir',
    ca: 'fixed:r:sha256:01j4c1fqis9ig0vkrica66rscglr8gfdcn4xyqg6rcqg5g47yb50',
    references: [],
  },
  {
    how: 'nix-store --add-fixed --recursive sha512 DIR',
    path: '07i6bwql7a90xnmgq352a89vdc6bzgj8-dir',
    ca: 'fixed:r:sha512:36vnjlqrbv21117ihha0ld6w21x3q0pkkkv3mcx5gsl7gg8abyzzkcwvd1frxjhfzq1ddfpm1560db7n981a1f589h7fxk75snh0f23',
    references: [],
  },
  {
    how: 'builtins.toFile',
    path: 'vpi6w6r1j29kp020mdd1aw8h7h7kiiwl-ca-ref-a',
    ca: 'text:sha256:1zfziyh8h6pkxs85bragx1r9bm5b0pfqqw8975fpkmb4hb8fm6jm',
    references: [],
  },
  {
    how: 'builtins.toFile with references',
    path: 'sq5p2bdx6gpwqrjws37gcnkrjv98q45i-ca-with-refs',
    ca: 'text:sha256:0kcv5jq8yij8pm7qpf5pwb87vq1i00vzsjvrvbq3zzsv8sa8y1hw',
    references: ['vpi6w6r1j29kp020mdd1aw8h7h7kiiwl-ca-ref-a', 'kb802441l11pnvkcyzaand94gc25brns-ca-ref-b'],
  },
  {
    how: 'a fixed-output derivation',
    path: 'vnjphfiy54a0b38nr8c7qg1ldf7i42pq-ca-fod-out',
    ca: 'fixed:sha256:1zx2s3c01dhc5h16hw3gzvxka5ym2gfpc8y67kj1k04zv02l23zp',
    references: [],
  },
  {
    how: 'make-content-addressed, self-reference only',
    path: 'nb60qxnwzpalcmd66v3rxj5zyqvgibcl-ca-selfref',
    ca: 'fixed:r:sha256:1j1rm2mn4rn1fzs0yn99hglas1yhnaz6109j9gys1dmg508ng95b',
    references: ['nb60qxnwzpalcmd66v3rxj5zyqvgibcl-ca-selfref'],
  },
  {
    how: 'make-content-addressed, a reference and itself',
    path: 'wwxbhb7hxazp395zyw00rblza581dj0j-ca-withref',
    ca: 'fixed:r:sha256:049vbwlsq5wndhxdhy8z27z9g8gfgrx1ncanlwl4q17lf511vx7j',
    references: ['wwxbhb7hxazp395zyw00rblza581dj0j-ca-withref', 'a86f2r1j37j37qzcch9lqx298v5bj987-ca-ref-a'],
  },
];

function narinfo(path: string, ca: string | undefined, references: string[]): string {
  return [
    `StorePath: /nix/store/${path}`,
    'URL: nar/x.nar',
    'Compression: none',
    'NarHash: sha256:10q11zvqirdpp4a2mkmy6xxf0vgz99qzli9ywb334bqga4bg78ys',
    'NarSize: 128',
    `References: ${references.join(' ')}`,
    ...(ca === undefined ? [] : [`CA: ${ca}`]),
    '',
  ].join('\n');
}

const infoOf = (path: string, ca: string | undefined, references: string[]) => {
  const parsed = parseNarInfo(narinfo(path, ca, references));
  if (!parsed.ok) throw new Error(parsed.error.message);
  return parsed.value;
};

describe('content addresses recompute to the store paths Nix made', () => {
  it.each(MADE_BY_NIX)('recomputes the path of $how', ({ path, ca, references }) => {
    const parsed = parseContentAddress(ca);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const name = path.slice(33);
    expect(contentAddressedPath(parsed.value, name, references, path, '/nix/store')).toEqual({ ok: true, baseName: path });
    expect(contentAddressing(infoOf(path, ca, references))).toEqual({ kind: 'verified', ca });
  });

  it('reads the hash in base 16 and base 64 too, as Hash::parseNonSRIUnprefixed does', () => {
    const { path, references } = MADE_BY_NIX[0] as (typeof MADE_BY_NIX)[0];
    const hex = parseContentAddress('fixed:r:sha256:1b25p565bqlixnc4rz5gq341id9l3acr2r2xcw680f71f28yjgvl');
    if (!hex.ok) throw new Error('unparsed');
    const b16 = `fixed:r:sha256:${Buffer.from(hex.value.hash.bytes).toString('hex')}`;
    const b64 = `fixed:r:sha256:${Buffer.from(hex.value.hash.bytes).toString('base64')}`;
    expect(contentAddressing(infoOf(path, b16, references)).kind).toBe('verified');
    expect(contentAddressing(infoOf(path, b64, references)).kind).toBe('verified');
  });
});

describe('a content address that does not recompute is a false claim', () => {
  const [add, , , , , , withRefs, , selfRef] = MADE_BY_NIX as Required<typeof MADE_BY_NIX>;
  it.each([
    ['another hash', add?.path, 'fixed:r:sha256:0b25p565bqlixnc4rz5gq341id9l3acr2r2xcw680f71f28yjgvl', []],
    ['flat instead of recursive', add?.path, 'fixed:sha256:1b25p565bqlixnc4rz5gq341id9l3acr2r2xcw680f71f28yjgvl', []],
    ['text instead of fixed', add?.path, 'text:sha256:1b25p565bqlixnc4rz5gq341id9l3acr2r2xcw680f71f28yjgvl', []],
    ['a reference left out', withRefs?.path, withRefs?.ca, withRefs?.references.slice(1)],
    ['a reference added', add?.path, add?.ca, ['vpi6w6r1j29kp020mdd1aw8h7h7kiiwl-ca-ref-a']],
    ['its self-reference left out', selfRef?.path, selfRef?.ca, []],
  ] as [string, string, string, string[]][])('recomputes elsewhere with %s', (_, path, ca, refs) => {
    const verdict = contentAddressing(infoOf(path, ca, refs));
    expect(verdict).toMatchObject({
      kind: 'false-claim',
      ca,
      reason: expect.stringMatching(/^it recomputes to \/nix\/store\/[0-9a-z]{32}-/),
    });
  });

  it('refuses a flat fixed-output path with references (Nix asserts it has none)', () => {
    const fod = MADE_BY_NIX[7] as (typeof MADE_BY_NIX)[0];
    expect(contentAddressing(infoOf(fod.path, fod.ca, ['vpi6w6r1j29kp020mdd1aw8h7h7kiiwl-ca-ref-a']))).toMatchObject({
      kind: 'false-claim',
      reason: expect.stringContaining('cannot have references'),
    });
  });

  it('says nothing about a narinfo without CA', () => {
    expect(contentAddressing(infoOf((MADE_BY_NIX[0] as (typeof MADE_BY_NIX)[0]).path, undefined, []))).toEqual({ kind: 'none' });
  });
});

describe('parseContentAddress reads what content-address.cc reads', () => {
  it.each([
    ['sha256:1b25p565bqlixnc4rz5gq341id9l3acr2r2xcw680f71f28yjgvl', /prefix 'sha256' is unrecognized/],
    ['nar:sha256:1b25p565bqlixnc4rz5gq341id9l3acr2r2xcw680f71f28yjgvl', /prefix 'nar' is unrecognized/],
    ['text:sha1:h1nl68vqz3bx3z9byz52891kwjbjl152', /should use sha256/],
    ['fixed:sha3:h1nl68vqz3bx3z9byz52891kwjbjl152', /unknown hash algorithm 'sha3'/],
    ['fixed:sha256:abc', /not a valid sha256 hash/],
    ['fixed:sha256-1b25p565bqlixnc4rz5gq341id9l3acr2r2xcw680f71f28yjgvl', /not a content address/],
    ['garbage', /not a content address/],
  ])('refuses %s', (text, message) => {
    const parsed = parseContentAddress(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toMatch(message);
  });

  it('tells the three methods apart', () => {
    expect(parseContentAddress('text:sha256:1zfziyh8h6pkxs85bragx1r9bm5b0pfqqw8975fpkmb4hb8fm6jm')).toMatchObject({
      ok: true,
      value: { method: 'text' },
    });
    expect(parseContentAddress('fixed:sha1:h1nl68vqz3bx3z9byz52891kwjbjl152')).toMatchObject({
      ok: true,
      value: { method: 'flat', hash: { algo: 'sha1' } },
    });
    expect(parseContentAddress('fixed:r:sha256:01j4c1fqis9ig0vkrica66rscglr8gfdcn4xyqg6rcqg5g47yb50')).toMatchObject({
      ok: true,
      value: { method: 'recursive' },
    });
  });
});

describe('signatures of content-addressed narinfos, as checkSignatures judges them', () => {
  const other = 'other-1:9EPD/A/IE2US2TonpXBqJGSe0kXTX7s/t5byCGYjVPU8hxZIgJqj8igVsJtEmOfRGuCQBhGNB916GpQGf0VQBQ==';
  const add = MADE_BY_NIX[0] as (typeof MADE_BY_NIX)[0];
  const signed = (ca: string | undefined, sigs: string[]) => {
    const text = narinfo(add.path, ca, add.references) + sigs.map((s) => `Sig: ${s}\n`).join('');
    const parsed = parseNarInfo(text);
    if (!parsed.ok) throw new Error(parsed.error.message);
    return parsed.value;
  };

  it.each([
    ['unsigned', []],
    ['signed by a key nobody trusts', [other]],
  ])('needs no signature when its CA recomputes to its path (%s)', async (_, sigs) => {
    const info = signed(add.ca, sigs);
    const expected = { kind: 'content-addressed', ca: add.ca, signedBy: sigs.length ? ['other-1'] : [] };
    expect(classifySignatures(info, [])).toEqual(expected);
    expect(await createSignatureVerifier([])(info)).toEqual(expected);
  });

  it('needs a signature as before when its CA does not recompute', async () => {
    const altered = 'fixed:r:sha256:0b25p565bqlixnc4rz5gq341id9l3acr2r2xcw680f71f28yjgvl';
    expect(classifySignatures(signed(altered, []), []).kind).toBe('unsigned');
    expect(classifySignatures(signed(altered, [other]), []).kind).toBe('untrusted');
    expect((await createSignatureVerifier([])(signed(altered, [other]))).kind).toBe('untrusted');
    expect(classifySignatures(signed(undefined, [other]), []).kind).toBe('untrusted');
  });

  it('makes a narinfo whose CA: Nix cannot read an error, as nar-info.cc does', () => {
    const parsed = parseNarInfo(narinfo(add.path, 'bogus', []));
    expect(parsed).toMatchObject({ ok: false, error: { code: 'bad-ca', line: 7 } });
    expect(parseNarInfo(narinfo(add.path, '', [])).ok).toBe(true);
  });
});
