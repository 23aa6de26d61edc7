import type { CacheTarget, Discovery } from '../discover/types.js';
import { labelReading } from '../nix/compression.js';
import { type DiskCacheVerdict, formatTime } from '../nix/disk-cache.js';
import { describeNarProblem } from '../nix/nar-advice.js';
import { type CacheView, type DiskWord, decideSubstitution, type PathVerdict, type VerdictContext } from '../nix/substitution.js';
import type { BulkHttp, BulkResult } from '../system/bulk-http.js';
import type { Http } from '../system/http.js';
import type { DiskCacheFact } from './disk-cache.js';
import { type CachePlan, type Lookup, type LookupDeps, type NarProbe, planCaches } from './path-lookups.js';
import type { CacheInfoFact, Facts } from './types.js';

/** One named path in one cache, as `nixcache why` sees it (the doctor's coverage and signature checks read it). */
export interface PathLookupFact {
  path: string;
  /** '' when PATH is not a store path. */
  hashPart: string;
  lookup: Lookup;
  /** HEAD of the NAR file the narinfo names; null when there is no narinfo. */
  nar: NarProbe | null;
  /** Nix's disk cache row for it, judged now; undefined when the database was not read. */
  disk: DiskCacheVerdict | undefined;
  /** What `decideSubstitution` weighs for this cache. */
  view: CacheView;
  /** The database the row is in, for the fix that removes it. */
  diskCachePath?: string;
}

/**
 * CACHE's place as `why` plans it, alone (its order among the others is the priority check's
 * business); opened from Nix's disk cache (DISK) when that remembers it, as Nix opens it.
 */
export function planFor(discovery: Discovery, cache: CacheTarget, info: CacheInfoFact, disk?: DiskCacheFact): CachePlan {
  // A --server target is looked up as if named with --cache: Nix would use it only if configured.
  const target: CacheTarget = cache.role === 'server' ? { ...cache, role: 'cli' } : cache;
  const plan = planCaches({ ...discovery, targets: [target] }, new Map([[target, info]]), disk)[0];
  if (!plan) throw new Error(`no plan for ${cache.url.display}`);
  return { ...plan, target: cache };
}

/**
 * Why NIXVERSION cannot use the NAR file a narinfo names, in Nix's words: what its probe read from
 * the bytes, else what the label alone says (a label Nix names nothing under).
 */
export function undecodableOf(lookup: Lookup, nar: NarProbe | null, nixVersion: string | null): string | undefined {
  if (nar?.undecodable) return nar.undecodable;
  const compression = lookup.compression;
  return compression !== undefined && labelReading(compression, nixVersion) === 'unknown-method'
    ? describeNarProblem({ kind: 'unknown-method', declared: compression }, lookup.narUrl ?? '', nixVersion)
    : undefined;
}

/** The words `why` prints for PATH in one cache (src/commands/why.ts builds the same view per cache). */
export function cacheViewOf(
  plan: CachePlan,
  lookup: Lookup,
  nar: PathLookupFact['nar'],
  disk: DiskCacheFact,
  verdict: DiskCacheVerdict | undefined,
  nixVersion: string | null = null,
): CacheView {
  const diskWord: DiskWord = disk.kind === 'unreadable' ? 'unreadable' : (verdict?.kind ?? 'none');
  const undecodable = undecodableOf(lookup, nar, nixVersion);
  return {
    url: plan.url,
    used: plan.used,
    ...(plan.unusedReason ? { unusedReason: plan.unusedReason } : {}),
    ...(plan.unusedFix ? { unusedFix: plan.unusedFix } : {}),
    narinfo: lookup.narinfo,
    ...(lookup.detail ? { narinfoDetail: lookup.detail } : {}),
    signature: lookup.signature,
    keys: lookup.keys,
    nar: nar?.nar ?? null,
    ...(nar?.detail ? { narDetail: nar.detail } : {}),
    ...(nar?.nixSays ? { narError: nar.nixSays } : {}),
    ...(undecodable ? { undecodable } : {}),
    disk: diskWord,
    ...(verdict && verdict.kind !== 'none' ? { diskExpires: verdict.expires } : {}),
  };
}

/**
 * The look-up pool `why` uses, over the doctor's recording adapters: each request is evidence of
 * the check that reads it. A HEAD is a GET cut off after the status (what `probeNar` falls back to).
 */
export function bulkOverHttp(http: Http, timeoutMs: number): BulkHttp {
  let requests = 0;
  return {
    stats: () => ({ requests, retries: 0, rateLimited: 0 }),
    close: async () => {},
    async request(req): Promise<BulkResult> {
      requests++;
      const auth = req.auth ? { auth: req.auth } : {};
      if (req.method === 'HEAD') {
        const r = await http.stream(req.url, { ...auth, timeoutMs, totalMs: timeoutMs }, async () => 'stop');
        if (r.ok) return { ok: true, status: r.status, body: '', headers: r.headers, attempts: 1 };
        if (r.status !== undefined) return { ok: true, status: r.status, body: '', headers: {}, attempts: 1 };
        return { ok: false, kind: r.error.kind, message: r.error.message, attempts: 1 };
      }
      const r = await http.get(req.url, { ...auth, maxBytes: req.maxBytes });
      if (r.ok) return { ok: true, status: r.response.status, body: r.response.body, headers: r.response.headers, attempts: 1 };
      if (r.error.kind === 'too-large') return { ok: true, status: 200, body: '', headers: {}, attempts: 1, truncated: true };
      return { ok: false, kind: r.error.kind, message: r.error.message, attempts: 1 };
    },
  };
}

/**
 * The verdict for one path over VIEWS (one per PLANS, in the same order), with what Nix decides when
 * it opens the substituters, before it asks for any path: a cache whose nix-cache-info stops Nix (a
 * Priority std::stoi cannot read) stops every substitution. A cache Nix skips when it opens it (for
 * another store directory, a nix-cache-info it cannot fetch) is a view with `used: false` and its
 * reason and fix, which decideSubstitution weighs like any other.
 */
export function decidePath(plans: readonly CachePlan[], views: readonly CacheView[], ctx: VerdictContext): PathVerdict {
  const stopper = plans.find((p) => p.stopsNix);
  if (stopper?.stopsNix && !ctx.valid)
    return {
      verdict: 'build',
      from: null,
      reason: `Nix substitutes nothing while ${stopper.url} is a substituter: ${stopper.stopsNix.reason} — nix-store -r and nix build stop there, whichever cache has the path`,
      fix: stopper.stopsNix.fix,
    };
  return decideSubstitution(views, ctx);
}

/** What `nixcache why` weighs a path with (the fixes name nix.conf, the netrc and the disk cache database). */
export function whyContext(facts: Facts, fact: PathLookupFact): VerdictContext {
  return {
    path: fact.path,
    hashPart: fact.hashPart,
    // The question is what this cache gives Nix, whatever this machine already has.
    valid: false,
    fallback: facts.config.settings.get('fallback') === 'true',
    ...(fact.diskCachePath ? { diskCachePath: fact.diskCachePath } : {}),
    confFile: facts.config.systemFile,
    netrcFile: facts.config.netrc.path,
    at: formatTime,
  };
}

/** `why`'s verdict for PATH from this cache alone: substitute, or build with the reason and fix. */
export function whyVerdict(facts: Facts, fact: PathLookupFact): PathVerdict {
  return decideSubstitution([fact.view], whyContext(facts, fact));
}

/**
 * Whether Nix's disk cache remembers PATH as missing from CACHE although the cache has it: then Nix
 * does not ask the server until the entry expires. `why`'s verdict then, with its reason and fix.
 */
export async function rememberedMissing(facts: Facts, cache: CacheTarget, path: string, hashPart: string, narHash: string) {
  const disk = await facts.diskCache();
  if (disk.kind !== 'read' || disk.judge(cache.url.raw, hashPart, narHash).kind !== 'negative') return undefined;
  const fact = await facts.pathLookup(cache, path);
  if (fact.view.disk !== 'negative' || fact.view.narinfo !== 'present') return undefined;
  const verdict = whyVerdict(facts, fact);
  return { verdict, expires: fact.view.diskExpires, database: disk.path };
}

/** LookupDeps.readHead over HTTP's streaming GET: the first bytes of a file, the rest not read. */
export function headReader(http: Http, timeoutMs: number): NonNullable<LookupDeps['readHead']> {
  return async (url, auth, bytes) => {
    const chunks: Uint8Array[] = [];
    let got = 0;
    const r = await http.stream(url, { ...(auth ? { auth } : {}), timeoutMs, totalMs: timeoutMs }, async (chunk) => {
      chunks.push(chunk);
      got += chunk.length;
      return got >= bytes ? 'stop' : 'more';
    });
    if (r.ok) return { ok: true, status: r.status, head: Buffer.concat(chunks).subarray(0, bytes) };
    if (r.status !== undefined) return { ok: true, status: r.status, head: new Uint8Array(0) };
    return { ok: false, message: r.error.message };
  };
}
