import { withStoreParam } from './store-url.js';
/**
 * What Nix does with one store path and its substituters (substitution-goal.cc, Nix 2.8): caches in
 * order; a cache whose narinfo it cannot get (missing, denied, failing, or remembered as missing) is
 * skipped silently; a narinfo without a trusted signature is ignored; a NAR that cannot be
 * downloaded fails that substituter and Nix tries the next. Pure: words in, one verdict out.
 */

export type NarinfoWord = 'present' | 'missing' | 'auth' | 'error' | 'unreachable';
/** `content-addressed`: the narinfo's CA: recomputes to its store path, and Nix asks no signature of such a path. */
export type SignatureWord = 'trusted' | 'untrusted' | 'unsigned' | 'invalid' | 'not-required' | 'content-addressed';
export type NarWord = 'ok' | 'missing' | 'error';
export type DiskWord = 'negative' | 'positive-stale' | 'positive' | 'none' | 'unreadable';
export type Verdict = 'valid' | 'substitute' | 'build';

/** One cache as this path meets it. */
export interface CacheView {
  url: string;
  /** False when Nix will not use this substituter (with why): the daemon's trust rules, or Nix could not open it. */
  used: boolean;
  unusedReason?: string;
  /** The remedy when Nix itself drops the cache (absent: the daemon does not use it for this user). */
  unusedFix?: string;
  narinfo: NarinfoWord;
  /** Status code or transport message behind auth/error/unreachable. */
  narinfoDetail?: string;
  signature: SignatureWord | null;
  /** Key names: the trusted key that verified, or the names that signed. */
  keys: string[];
  nar: NarWord | null;
  narDetail?: string;
  /** Nix's words when the NAR download fails. */
  narError?: string;
  /** Why the installed Nix cannot use the NAR file, in its words (it fails the download). */
  undecodable?: string;
  disk: DiskWord;
  /** Unix seconds when a negative entry expires. */
  diskExpires?: number;
}

export interface PathVerdict {
  verdict: Verdict;
  from: string | null;
  reason: string;
  fix: string | null;
}

export interface VerdictContext {
  path: string;
  hashPart: string;
  valid: boolean;
  fallback: boolean;
  /** The disk cache database, for the fix that removes a row. */
  diskCachePath?: string;
  /** nix.conf the fixes name. */
  confFile: string;
  netrcFile: string;
  /** Formats unix seconds for a person. */
  at(seconds: number): string;
}

type Blocker = { rank: number; cache: string; reason: string; fix: string | null };

/** Decides the verdict and the one reason that decides it, with the fix. */
export function decideSubstitution(caches: readonly CacheView[], ctx: VerdictContext): PathVerdict {
  if (ctx.valid) return { verdict: 'valid', from: null, reason: `${ctx.path} is already valid in the local store`, fix: null };
  const blockers: Blocker[] = [];
  for (const c of caches) {
    if (!c.used) {
      blockers.push(
        c.unusedFix
          ? { rank: 7, cache: c.url, reason: `Nix does not use ${c.url}: ${c.unusedReason ?? 'it cannot open it'}`, fix: c.unusedFix }
          : {
              rank: 7,
              cache: c.url,
              reason: `the nix-daemon does not use ${c.url} for this user (${c.unusedReason ?? 'untrusted substituter'})`,
              fix: `Add it for every user — ${ctx.confFile}: extra-substituters = ${c.url} (or trusted-substituters, and pass it per build); see nixcache doctor's trust check`,
            },
      );
      continue;
    }
    if (c.disk === 'negative') {
      if (c.narinfo === 'present') {
        const until = c.diskExpires !== undefined ? ctx.at(c.diskExpires) : 'the negative TTL ends';
        blockers.push({
          rank: 1,
          cache: c.url,
          reason: `${c.url} has it, but Nix remembers it as missing until ${until} (narinfo disk cache) and will not ask again before then`,
          fix: [
            `nix-store -r ${ctx.path} --option narinfo-cache-negative-ttl 0   (or nix build --refresh …)`,
            ctx.diskCachePath
              ? `or forget the answer: sqlite3 ${ctx.diskCachePath} "delete from NARs where hashPart = '${ctx.hashPart}' and present = 0"`
              : null,
          ]
            .filter(Boolean)
            .join('\n'),
        });
      }
      continue;
    }
    switch (c.narinfo) {
      case 'missing':
        continue;
      case 'auth':
        blockers.push({
          rank: 3,
          cache: c.url,
          reason: `${c.url} refuses the narinfo (${c.narinfoDetail ?? 'HTTP 401'}): Nix treats this as missing, silently`,
          fix: `Give Nix credentials for it in ${ctx.netrcFile}: machine ${hostOf(c.url)} login USER password PASSWORD (netrc-file; NixOS: nix.settings.netrc-file)`,
        });
        continue;
      case 'error':
        blockers.push({
          rank: 5,
          cache: c.url,
          reason: `${c.url} answers the narinfo with an error (${c.narinfoDetail ?? 'error'})`,
          fix: `nixcache doctor --cache ${c.url}`,
        });
        continue;
      case 'unreachable':
        blockers.push({
          rank: 6,
          cache: c.url,
          reason: `${c.url} cannot be reached (${c.narinfoDetail ?? 'no answer'})`,
          fix: `nixcache doctor --cache ${c.url}`,
        });
        continue;
      case 'present':
        break;
    }
    if (c.signature === 'untrusted' || c.signature === 'unsigned' || c.signature === 'invalid') {
      const names = c.keys.join(', ');
      blockers.push({
        rank: 2,
        cache: c.url,
        reason:
          c.signature === 'unsigned'
            ? `${c.url} has it, but unsigned: Nix ignores it while require-sigs = true`
            : c.signature === 'untrusted'
              ? `${c.url} has it, signed by ${names || 'a key'}, which trusted-public-keys does not name: Nix ignores it ("not signed by any of the keys in 'trusted-public-keys'")`
              : `${c.url} has it, signed by the trusted name ${names}, but the signature does not verify (key regenerated, or narinfo altered)`,
        fix:
          c.signature === 'untrusted'
            ? `Trust its key — ${ctx.confFile}: extra-trusted-public-keys = ${c.keys[0] ?? 'NAME'}:<public key>`
            : c.signature === 'unsigned'
              ? `Sign it on the server: nix store sign --key-file SECRET_KEY_FILE --recursive --store ${c.url} ${ctx.path}`
              : `Check the server's key: nixcache doctor --cache ${c.url}`,
      });
      continue;
    }
    if (c.undecodable) {
      blockers.push({
        rank: 4,
        cache: c.url,
        reason: `${c.url} has it, but Nix cannot use its NAR file: ${c.undecodable}`,
        fix: `Serve the NAR file as its narinfo's Compression: says — push it again: nix copy --to '${withStoreParam(c.url, 'compression', 'xz')}' ${ctx.path}`,
      });
      continue;
    }
    if (c.nar === 'missing' || c.nar === 'error') {
      blockers.push({
        rank: 4,
        cache: c.url,
        reason: `${c.url} has the narinfo but its NAR file is ${c.nar === 'missing' ? `missing (${(c.narDetail ?? 'HTTP 404').replace(/^HTTP /, '')})` : `not downloadable (${c.narDetail ?? 'error'})`}: Nix fails this substituter ("${c.narError ?? 'does not exist in binary cache'}")${ctx.fallback ? '' : ' and, without fallback = true, stops with an error instead of building'}`,
        fix:
          c.nar === 'missing'
            ? `Push it again from a machine that has it: nix copy --to ${c.url} ${ctx.path}`
            : `Make the server serve its NAR files again (its log says why it does not): nixcache doctor --cache ${c.url}; or push it again: nix copy --to ${c.url} ${ctx.path}`,
      });
      continue;
    }
    const signed =
      c.signature === 'trusted'
        ? `, signed by trusted key ${c.keys[0] ?? ''}`
        : c.signature === 'not-required'
          ? ' (signatures not required)'
          : c.signature === 'content-addressed'
            ? ' (content-addressed: its CA: recomputes to the path, so Nix needs no signature)'
            : '';
    const before = blockers.length > 0 ? `; tried first: ${blockers.map((b) => b.reason).join('; ')}` : '';
    const stale = c.disk === 'positive-stale' ? ' (Nix remembers an older narinfo for it: it will use that one)' : '';
    return { verdict: 'substitute', from: c.url, reason: `${c.url} has it${signed}${stale}${before}`, fix: null };
  }
  const decisive = [...blockers].sort((a, b) => a.rank - b.rank)[0];
  if (decisive) return { verdict: 'build', from: null, reason: decisive.reason, fix: decisive.fix };
  return {
    verdict: 'build',
    from: null,
    reason: caches.length === 0 ? 'no substituters are configured' : 'no cache has it',
    fix:
      caches.length === 0 ? `Add a cache — ${ctx.confFile}: substituters = URL` : `Push it to a cache: nix copy --to CACHE_URL ${ctx.path}`,
  };
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return 'HOST';
  }
}
