import type { CacheTarget } from '../src/discover/types.js';
import { isPrivateBucket } from '../src/facts/cache.js';
import { unreadableNote } from '../src/facts/disk-cache.js';
import { rememberedMissing } from '../src/facts/path-view.js';
import type { Facts } from '../src/facts/types.js';
import { contentAddressing } from '../src/nix/content-address.js';
import { isoTime } from '../src/nix/disk-cache.js';
import type { PublicKey } from '../src/nix/keys.js';
import type { NarInfo } from '../src/nix/narinfo.js';
import { classifySignatures, explainMismatch, type SignatureVerdict, verifySignatures } from '../src/nix/signatures.js';
import { parseStorePath } from '../src/nix/store-path.js';
import { fileCacheDir } from '../src/nix/store-url.js';
import { effectiveRequireSigs, effectiveTrustedKeys } from '../src/nix/trust.js';
import type { CacheCheck, Finding } from '../src/runner/check.js';
import { fail, pass, skip, warn } from '../src/runner/finding.js';

// Every command and config value in a fix stands after ': ' or at the start of a line, never inside
// prose: the table wraps prose at spaces but prints a command whole (src/report/text.ts).
const SERVER_SIGNS = [
  'On the cache server, nix-serve signs with services.nix-serve.secretKeyFile (harmonia: services.harmonia.signKeyPaths).',
  'A cache filled with nix copy serves the signatures its paths carry — sign them before copying: nix store sign --key-file SECRET --recursive PATH',
].join('\n');
const GET_PUBLIC_KEY =
  'Get the public key on the server — the .pub file written beside the secret key, or: nix key convert-secret-to-public < SECRET_KEY_FILE';

/** Step 6: would Nix accept what this cache serves? A sample narinfo's Sig: against trusted-public-keys. */
export const signature: CacheCheck = {
  id: 'signature',
  title: 'Signed by a trusted key',
  scope: 'cache',
  needs: ['cache-info'],
  timeoutMs: (operation) => operation * 3 + 2000,
  async run(facts, cache) {
    const { scheme } = cache.url;
    if (scheme !== 'file' && !cache.url.httpBase)
      return skip(`the doctor fetches narinfos only from http(s), s3 and file caches, not ${scheme}`, `${scheme} store`);
    if (isPrivateBucket(cache, await facts.cacheInfo(cache)))
      return skip('the bucket is private: narinfos cannot be read without the AWS credentials Nix uses', 'private bucket');
    const candidates = (await facts.sampleCandidates()).filter((p) => parseStorePath(p, facts.env.storeDir).ok);
    const foreign = facts.run.samples.find((p) => !parseStorePath(p, facts.env.storeDir).ok);
    if (candidates.length === 0 && foreign)
      return skip(`--sample ${foreign} is not in this machine's store ${facts.env.storeDir}`, 'sample not in store', {
        fix: `Name a path of ${facts.env.storeDir}: nixcache doctor --sample ${facts.env.storeDir}/<hash>-<name>`,
      });
    if (candidates.length === 0)
      return skip(`no store paths on this machine to look up (${facts.env.storeDir} is empty)`, 'no sample', {
        fix: 'Name a path the cache has: nixcache doctor --sample /nix/store/<hash>-<name>',
      });
    const { hits, tried } = await facts.findNarInfos(cache, candidates, 1);
    const hit = hits[0];
    if (!hit) {
      const errors = tried.flatMap((t) => (t.kind === 'error' ? [t.message] : []));
      if (errors.length > 0 && errors.length === tried.length)
        return fail(`looking up narinfos failed: ${errors[0]}`, {
          fix: lookupFailedFix(cache, facts.env.storeDir, tried[0]?.path),
          data: { tried: tried.length },
        });
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
    if (hit.kind !== 'hit') return fail(`looking up ${hit.path} failed`, { fix: lookupFailedFix(cache, facts.env.storeDir, hit.path) });
    return withDiskCache(facts, cache, hit.path, hit.info, await judgeSample(facts, cache, hit.info));
  },
};

/** The sample's Sig: lines against the trusted keys, and what require-sigs / ?trusted= make of the verdict. */
async function judgeSample(facts: Facts, cache: CacheTarget, info: NarInfo): Promise<Finding> {
  const keys = effectiveTrustedKeys(facts.config, facts.env);
  const verdict = classifySignatures(info, keys);
  const data = {
    sample: `${info.storePath.storeDir}/${info.storePath.baseName}`,
    verdict: verdict.kind,
    signedBy: 'signedBy' in verdict ? verdict.signedBy : [],
    trustedKeys: keys.map((k) => k.name),
    ...(verdict.kind === 'valid' ? { key: verdict.key } : {}),
    ...(info.ca !== undefined ? { contentAddress: info.ca } : {}),
  };
  const finding = withFalseClaim(info, await judge(facts, cache, info, verdict, keys, data));
  const requireSigs = effectiveRequireSigs(facts.config, facts.env);
  const trustedParam = cache.url.params.trusted;
  const lenient = !requireSigs
    ? 'require-sigs = false'
    : trustedParam === 'true' || trustedParam === '1'
      ? `?trusted=${trustedParam} in the URL`
      : undefined;
  if (lenient && finding.status !== 'pass') {
    return warn(`${lenient}: Nix accepts this cache's paths without checking signatures (${finding.summary})`, {
      detail: 'Anyone who can answer for this cache (or sit between you and it) can put anything in your store.',
      fix: `Remove ${lenient} and trust the cache's key instead.\n${finding.fix ?? ''}`.trim(),
      data: { ...data, requireSigs },
    });
  }
  if (lenient)
    return warn(`${finding.summary}, but ${lenient}: nothing from this cache is actually verified`, {
      fix: `Remove ${lenient}: Nix then checks signatures.`,
      data,
    });
  return finding;
}

/**
 * Nix's disk cache may remember the sample as missing from this cache: until that entry expires, Nix
 * does not ask the server, whatever it serves now. An unreadable database is said once (first cache).
 */
async function withDiskCache(facts: Facts, cache: CacheTarget, path: string, info: NarInfo, finding: Finding): Promise<Finding> {
  const disk = await facts.diskCache();
  if (disk.kind === 'unreadable') {
    const first = facts.caches.find((c) => c.url.scheme === 'file' || c.url.httpBase);
    const note = first?.index === cache.index ? `Nix's narinfo disk cache: ${unreadableNote(disk)}` : undefined;
    return {
      ...finding,
      ...(note ? { detail: [finding.detail, note].filter(Boolean).join('\n') } : {}),
      data: { ...finding.data, diskCache: { state: 'unreadable', path: disk.path, owner: disk.owner } },
    };
  }
  const remembered = await rememberedMissing(facts, cache, path, info.storePath.hashPart, info.narHash);
  if (!remembered) return finding;
  const { verdict, expires, database } = remembered;
  const data = {
    ...finding.data,
    diskCache: { state: 'negative', path: database, expires: expires === undefined ? null : isoTime(expires) },
  };
  const fix = [verdict.fix, finding.fix].filter(Boolean).join('\n');
  if (finding.status === 'pass') return warn(`${info.storePath.baseName}: ${verdict.reason}`, { detail: finding.summary, fix, data });
  return { ...finding, detail: [finding.detail, verdict.reason].filter(Boolean).join('\n'), fix, data };
}

async function judge(
  facts: Facts,
  cache: CacheTarget,
  info: NarInfo,
  verdict: SignatureVerdict,
  keys: readonly PublicKey[],
  data: Record<string, unknown>,
): Promise<Finding> {
  const name = info.storePath.baseName;
  const file = facts.config.systemFile;
  switch (verdict.kind) {
    case 'valid':
      return pass(`${name} is signed by trusted key ${verdict.key}`, { data });
    case 'content-addressed': {
      const sigs = verifySignatures(info, keys);
      const also = sigs.kind === 'valid' ? ` (and signed by trusted key ${sigs.key})` : '';
      const signers = verdict.signedBy.length > 0 ? `signed by ${verdict.signedBy.join(', ')}` : 'unsigned';
      return pass(`${name} is content-addressed: Nix accepts it without a trusted signature${also}`, {
        detail: [
          `Its CA: ${verdict.ca} recomputes to its store path, so Nix needs no signature for it.`,
          ...(sigs.kind === 'valid'
            ? []
            : [
                `It is ${signers}, which Nix would not accept for paths that are not content-addressed (most build outputs): check one of those with --sample.`,
              ]),
        ].join('\n'),
        data,
      });
    }
    case 'unsigned':
      return fail(`the cache does not sign: ${name} has no Sig: line — Nix refuses it: "lacks a signature by a trusted key"`, {
        fix: `${SERVER_SIGNS}\nGenerate a key pair if there is none: nix-store --generate-binary-cache-key NAME-1 /var/secrets/cache-priv-key.pem /var/secrets/cache-pub-key.pem`,
        data,
      });
    case 'untrusted':
      if (verdict.signedBy.length === 0)
        return fail(
          `${name} has ${info.sigs.length} Sig: line(s), none of the form name:signature — Nix finds no key to check them with and ignores this cache's paths`,
          {
            fix: `${SERVER_SIGNS}\nRe-sign what the cache serves: nix store sign --key-file SECRET --recursive PATH`,
            data,
          },
        );
      return fail(
        `signed by ${verdict.signedBy.join(', ')}, which trusted-public-keys does not name — Nix ignores this cache's paths ("not signed by any of the keys in 'trusted-public-keys'")`,
        {
          fix: [
            `Trust the cache's public key — ${file}: extra-trusted-public-keys = ${verdict.signedBy[0]}:<public key>`,
            `NixOS: nix.settings.trusted-public-keys = [ "${verdict.signedBy[0]}:<public key>" ];`,
            GET_PUBLIC_KEY,
            'Or on the command line for a test: nixcache doctor --trusted-key NAME:KEY',
          ].join('\n'),
          data,
        },
      );
    case 'mismatch': {
      const cause = await narrowMismatch(facts, cache, info, verdict.keys);
      const ours = facts.config.trustedKeys.keys.filter((k) => verdict.keys.includes(k.name)).map((k) => k.text);
      return fail(`signed by ${verdict.keys.join(', ')}, which you trust, but the signature does not verify: ${cause.summary}`, {
        detail: cause.detail,
        fix: [
          "Compare the server's public key with yours — on the server: nix key convert-secret-to-public < SECRET_KEY_FILE",
          `(or the .pub file beside the secret key); here, trusted-public-keys has: ${ours.join(' ')}`,
          'If the key was regenerated, put the new public key in trusted-public-keys (NixOS: nix.settings.trusted-public-keys), or restore the old secret key on the server.',
          'If the narinfo was altered, re-sign it on the server: nix store sign --key-file SECRET --recursive PATH',
          '(or copy the path to the cache again), and find out what changed it.',
        ].join('\n'),
        data: { ...data, ...cause.data },
      });
    }
    case 'unverifiable':
      return fail(`cannot check the signature of ${name}: ${verdict.reason}`, {
        fix: `Look at the key in ${file} (trusted-public-keys: NAME:BASE64 of 32 bytes) and the narinfo's Sig: line (NAME:BASE64 of 64 bytes); re-sign on the server if the Sig: line is broken: nix store sign --key-file SECRET --recursive PATH`,
        data,
      });
  }
}

/**
 * A CA: that does not recompute to the path: Nix prints "claims to be content-addressed but isn't" and
 * wants a signature; and even a trusted one does not help, Nix 2.8 fails importing the path (it aborts
 * on "Assertion `info->path == info2->path' failed" without references, else "ca hash mismatch").
 */
function withFalseClaim(info: NarInfo, finding: Finding): Finding {
  const ca = contentAddressing(info);
  if (ca.kind !== 'false-claim') return finding;
  const path = `${info.storePath.storeDir}/${info.storePath.baseName}`;
  const claim = `its CA: ${ca.ca} is false (${ca.reason}): Nix says "path '${path}' claims to be content-addressed but isn't"`;
  if (finding.status !== 'pass')
    return { ...finding, detail: [finding.detail, `Also, ${claim} and requires a signature.`].filter(Boolean).join('\n') };
  return fail(`${finding.summary}, but ${claim} and fails to import it`, {
    detail:
      info.references.length === 0
        ? 'Nix 2.8 aborts copying such a path ("Assertion `info->path == info2->path\' failed").'
        : 'Nix 2.8 stops importing such a path with "ca hash mismatch importing path".',
    fix: `The narinfo's CA: line was changed after the path was copied: copy it to the cache again (nix copy --to CACHE_URL ${path}) or regenerate its .narinfo on the server.`,
    data: finding.data,
  });
}

/** What to do when the cache errs on narinfo requests: its log, and the request by hand. */
function lookupFailedFix(cache: CacheTarget, storeDir: string, path: string | undefined): string {
  const parsed = path === undefined ? undefined : parseStorePath(path, storeDir);
  const hash = parsed?.ok ? parsed.value.hashPart : '<hash>';
  const request = cache.url.httpBase
    ? `curl -sSi ${cache.url.httpBase}/${hash}.narinfo`
    : `ls -l ${fileCacheDir(cache.url)}/${hash}.narinfo`;
  return [
    "The cache errs on narinfo requests: its server's log says why (NixOS: journalctl -u nix-serve, or harmonia's, or the web server's error log).",
    `Try one by hand: ${request}`,
  ].join('\n');
}

/** Tells a regenerated key from an altered narinfo by other narinfos of the cache and the NAR file itself. */
async function narrowMismatch(facts: Facts, cache: CacheTarget, info: NarInfo, keyNames: string[]) {
  const others = (await facts.storeCandidates()).filter((c) => !c.endsWith(info.storePath.baseName));
  const { hits } = await facts.findNarInfos(cache, others, 3);
  const keys = facts.config.trustedKeys.keys.filter((k) => keyNames.includes(k.name));
  const verdicts = hits.flatMap((h) => (h.kind === 'hit' ? [verifySignatures(h.info, keys).kind] : []));
  const nar = await facts.narFile(cache, info);
  return explainMismatch(verdicts, nar.kind === 'read' ? nar.verdict : 'unchecked', keyNames);
}
