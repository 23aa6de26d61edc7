import { createHash } from 'node:crypto';
import { parseHash } from '../src/nix/hash.js';
import type { NarInfo } from '../src/nix/narinfo.js';
import { classifySignatures, type SignatureVerdict } from '../src/nix/signatures.js';
import { cacheFileUrl } from '../src/nix/store-url.js';
import { fail, pass, skip, warn } from '../src/runner/finding.js';
import { credentialsFor } from '../src/runner/probes.js';
import { findNarInfos, type NarInfoLookup, sampleCandidates, storeCandidates } from '../src/runner/sample.js';
import type { CacheTarget, Check, CheckContext, Finding } from '../src/runner/types.js';

const MAX_NAR_CHECK_BYTES = 4 * 1024 * 1024;

/** Step 6: would Nix accept what this cache serves? A sample narinfo's Sig: against trusted-public-keys. */
export const signature: Check = {
  id: 'signature',
  title: 'Signed by a trusted key',
  scope: 'cache',
  needs: ['cache-info'],
  timeoutMs: (o) => o.timeoutMs * 3 + 2000,
  async run(ctx, target) {
    if (!target) throw new Error('cache check without a cache');
    if (target.url.scheme !== 'file' && !target.url.httpBase)
      return skip(
        `the doctor fetches narinfos only from http(s), s3 and file caches, not ${target.url.scheme}`,
        `${target.url.scheme} store`,
      );
    if (ctx.result('cache-info', target)?.reason === 'private bucket')
      return skip('the bucket is private: narinfos cannot be read without the AWS credentials Nix uses', 'private bucket');
    const candidates = await sampleCandidates(ctx);
    if (candidates.length === 0)
      return skip(`no store paths on this machine to look up (${ctx.env.storeDir} is empty)`, 'no sample', {
        fix: 'Name a path the cache has: nixcache doctor --sample /nix/store/<hash>-<name>',
      });
    const { hits, tried } = await findNarInfos(ctx, target, candidates, 1);
    const hit = hits[0];
    if (!hit) {
      const errors = tried.filter((t) => t.kind === 'error');
      if (errors.length > 0 && errors.length === tried.length)
        return fail(`looking up narinfos failed: ${(errors[0] as { message: string }).message}`, { data: { tried: tried.length } });
      return skip(`none of the ${tried.length} store paths tried is in this cache`, 'no sample', {
        fix: `Pass a path the cache has: nixcache doctor --sample /nix/store/<hash>-<name> (on the server: nix path-info --all | head)`,
        data: { tried: tried.length },
      });
    }
    if (hit.kind === 'corrupt') {
      return fail(`NAR info file for '${hit.path}' is corrupt: ${hit.message}`, {
        fix: 'The cache serves a broken .narinfo: regenerate it (nix copy --to … again) or fix the server.',
        data: { sample: hit.path },
      });
    }
    if (hit.kind !== 'hit') throw new Error('unreachable');
    const keys = effectiveKeys(ctx);
    const verdict = classifySignatures(
      hit.info,
      keys.map((k) => k.key),
    );
    const data = {
      sample: hit.path,
      verdict: verdict.kind,
      signedBy: 'signedBy' in verdict ? verdict.signedBy : [],
      trustedKeys: keys.map((k) => k.key.name),
      ...(verdict.kind === 'valid' ? { key: verdict.key } : {}),
    };
    const finding = await judge(ctx, target, hit.info, verdict, data);
    const lenient = !ctx.config.requireSigs
      ? 'require-sigs = false'
      : target.url.params.trusted === 'true' || target.url.params.trusted === '1'
        ? `?trusted=${target.url.params.trusted} in the URL`
        : undefined;
    if (lenient && finding.status !== 'pass') {
      return warn(`${lenient}: Nix accepts this cache's paths without checking signatures (${finding.summary})`, {
        detail: 'Anyone who can answer for this cache (or sit between you and it) can put anything in your store.',
        fix: `Remove ${lenient} and trust the cache's key instead.\n${finding.fix ?? ''}`.trim(),
        data: { ...data, requireSigs: ctx.config.requireSigs },
      });
    }
    if (lenient)
      return warn(`${finding.summary}, but ${lenient}: nothing from this cache is actually verified`, {
        fix: `Remove ${lenient}: Nix then checks signatures.`,
        data,
      });
    return finding;
  },
};

/** The keys Nix will check with: a multi-user daemon ignores keys an untrusted user sets. */
function effectiveKeys(ctx: CheckContext) {
  const ignoreClient = ctx.env.multiUser && ctx.env.trustedUser === false;
  const fromClient = new Set(
    ctx.config.settings
      .list('trusted-public-keys')
      .filter((i) => i.origin.level === 'user' || i.origin.level === 'env')
      .map((i) => i.value),
  );
  return ctx.config.trustedKeys.keys.map((key) => ({ key })).filter(({ key }) => !(ignoreClient && fromClient.has(key.text)));
}

async function judge(
  ctx: CheckContext,
  target: CacheTarget,
  info: NarInfo,
  verdict: SignatureVerdict,
  data: Record<string, unknown>,
): Promise<Finding> {
  const path = `${info.storePath.storeDir}/${info.storePath.baseName}`;
  const server =
    'On the cache server: nix-serve signs with services.nix-serve.secretKeyFile (harmonia: services.harmonia.signKeyPaths); a cache made with nix copy needs --option secret-key-files or nix store sign --key-file SECRET --recursive PATH.';
  const howToGetKey =
    'Get the public key on the server: cat the .pub file written by nix-store --generate-binary-cache-key, or nix key convert-secret-to-public < SECRET_KEY_FILE.';
  switch (verdict.kind) {
    case 'valid':
      return pass(`${path.split('/').pop()} is signed by trusted key ${verdict.key}`, { data });
    case 'unsigned':
      return fail(
        `the cache does not sign: ${path.split('/').pop()} has no Sig: line — Nix refuses it: "lacks a signature by a trusted key"`,
        {
          fix: `${server}\nGenerate a key pair if there is none: nix-store --generate-binary-cache-key NAME-1 /var/secrets/cache-priv-key.pem /var/secrets/cache-pub-key.pem`,
          data,
        },
      );
    case 'untrusted': {
      const names = verdict.signedBy.join(', ');
      return fail(
        `signed by ${names}, which trusted-public-keys does not name — Nix ignores this cache's paths ("not signed by any of the keys in 'trusted-public-keys'")`,
        {
          fix: [
            howToGetKey,
            `Then add it — ${ctx.config.systemFile}: extra-trusted-public-keys = ${verdict.signedBy[0]}:<public key>`,
            `NixOS: nix.settings.trusted-public-keys = [ "${verdict.signedBy[0]}:<public key>" ];`,
            'Or on the command line for a test: nixcache doctor --trusted-key NAME:KEY',
          ].join('\n'),
          data,
        },
      );
    }
    case 'mismatch': {
      const cause = await narrowMismatch(ctx, target, info, verdict.keys);
      return fail(`signed by ${verdict.keys.join(', ')}, which you trust, but the signature does not verify: ${cause.summary}`, {
        detail: cause.detail,
        fix: [
          `Compare the server's public key with yours: on the server, nix key convert-secret-to-public < SECRET_KEY_FILE (or its .pub file); here, trusted-public-keys has ${ctx.config.trustedKeys.keys
            .filter((k) => verdict.keys.includes(k.name))
            .map((k) => k.text)
            .join(' ')}.`,
          'If the key was regenerated: put the new public key in trusted-public-keys (NixOS: nix.settings.trusted-public-keys), or restore the old secret key on the server.',
          'If the narinfo was altered: re-sign on the server (nix store sign --key-file SECRET --recursive PATH) or recopy the path, and find out what changed it.',
        ].join('\n'),
        data: { ...data, ...cause.data },
      });
    }
    case 'unverifiable':
      return fail(`cannot check the signature of ${path.split('/').pop()}: ${verdict.reason}`, { data });
  }
}

/**
 * Key regenerated, or narinfo altered? Other narinfos signed by the same key name tell: if any
 * verifies, the key is the one we trust and this file was changed; if none does, the key changed.
 */
async function narrowMismatch(ctx: CheckContext, target: CacheTarget, info: NarInfo, keyNames: string[]) {
  const others = (await storeCandidates(ctx)).filter((c) => !c.endsWith(info.storePath.baseName));
  const { hits } = await findNarInfos(ctx, target, others, 3);
  const verdicts = hits
    .filter((h): h is Extract<NarInfoLookup, { kind: 'hit' }> => h.kind === 'hit')
    .map(
      (h) =>
        classifySignatures(
          h.info,
          ctx.config.trustedKeys.keys.filter((k) => keyNames.includes(k.name)),
        ).kind,
    );
  const fileCheck = await checkNarFile(ctx, target, info);
  const data = { otherSamples: verdicts.length, otherValid: verdicts.filter((v) => v === 'valid').length, narFile: fileCheck };
  const fileNote =
    fileCheck === 'matches'
      ? ' The NAR file it points to matches its FileHash.'
      : fileCheck === 'differs'
        ? ' The NAR file it points to does not match its FileHash either.'
        : '';
  if (data.otherValid > 0) {
    return {
      summary: `this narinfo was altered after signing (${data.otherValid} of ${verdicts.length} other narinfos signed by the same key verify)`,
      detail: `The key you trust is the one the cache signs with, so the fields of this narinfo (NarHash, NarSize, References or StorePath) no longer match what was signed.${fileNote}`,
      data,
    };
  }
  if (verdicts.length > 0) {
    return {
      summary: `the key was probably regenerated on the server under the same name (none of ${verdicts.length + 1} narinfos verify)`,
      detail: `Every narinfo looked at is signed by '${keyNames.join(', ')}' with material that does not match the public key you trust.${fileNote}`,
      data,
    };
  }
  return {
    summary: 'either the key was regenerated on the server under the same name, or this narinfo was altered after signing',
    detail: `Only one narinfo could be looked at, so the two cannot be told apart here; pass another path with --sample.${fileNote}`,
    data,
  };
}

/** Downloads the NAR file when small and compares it with FileHash/FileSize. */
async function checkNarFile(ctx: CheckContext, target: CacheTarget, info: NarInfo): Promise<'matches' | 'differs' | 'unchecked'> {
  if (!info.fileHash || info.fileSize === undefined || info.fileSize > MAX_NAR_CHECK_BYTES || target.url.scheme === 'file')
    return 'unchecked';
  const expected = parseHash(info.fileHash);
  if (!expected.ok || expected.value.algo !== 'sha256') return 'unchecked';
  const auth = credentialsFor(ctx, target);
  const r = await ctx.http.get(cacheFileUrl(target.url.httpBase ?? target.url.base, info.url), {
    maxBytes: MAX_NAR_CHECK_BYTES,
    ...(auth ? { auth } : {}),
  });
  if (!r.ok || r.response.status !== 200) return 'unchecked';
  const bytes = r.response.raw;
  if (bytes.length !== info.fileSize) return 'differs';
  return createHash('sha256').update(bytes).digest().equals(Buffer.from(expected.value.bytes)) ? 'matches' : 'differs';
}
