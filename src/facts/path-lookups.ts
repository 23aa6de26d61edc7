import type { CacheTarget, Discovery } from '../discover/types.js';
import { parseCacheInfo } from '../nix/cache-info.js';
import { labelReading, SNIFF_BYTES, sniffCompression } from '../nix/compression.js';
import { type DiskCacheInfo, diskCacheUrl } from '../nix/disk-cache.js';
import type { PublicKey } from '../nix/keys.js';
import { describeNarProblem, judgeNarHead } from '../nix/nar-advice.js';
import { type NarInfo, parseNarInfo } from '../nix/narinfo.js';
import { credentialsFor } from '../nix/netrc.js';
import { effectiveOrder, resolvePriority } from '../nix/priority.js';
import { createSignatureVerifier } from '../nix/signature-verifier.js';
import type { SignatureVerdict } from '../nix/signatures.js';
import { parseStorePath } from '../nix/store-path.js';
import { cacheFileUrl, fileCacheDir, isHttpScheme } from '../nix/store-url.js';
import type { NarinfoWord, NarWord, SignatureWord } from '../nix/substitution.js';
import { clientSettingsApply, effectiveRequireSigs, effectiveTrustedKeys } from '../nix/trust.js';
import { formatBytes } from '../report/text.js';
import type { BulkHttp, BulkResult } from '../system/bulk-http.js';
import type { Fs } from '../system/fs.js';
import type { DiskCacheFact } from './disk-cache.js';
import type { CacheInfoFact } from './types.js';

/**
 * Nix reads a narinfo of any size; this one names about 65,000 references, far past any real one
 * (a large closure's root names a few thousand). One is read at a time on each connection: 32
 * connections streaming without end hold at most 128 MiB.
 */
const MAX_NARINFO_BYTES = 4 * 1024 * 1024;

/** A cache as why/coverage use it: where it stands in Nix's order, and whether Nix uses it at all. */
export interface CachePlan {
  target: CacheTarget;
  /** Redacted URL, as shown. */
  url: string;
  /** 1-based position in the order Nix tries the caches. */
  order: number;
  priority: number;
  prioritySource: 'url' | 'cache-info' | 'default';
  used: boolean;
  unusedReason?: string;
  /** The remedy when Nix drops the cache for a reason of its own (not the daemon's trust rules). */
  unusedFix?: string;
  /** Why no path can be looked up here (its nix-cache-info failed at the transport), if so. */
  down?: { word: NarinfoWord; detail: string };
  /** The StoreDir its nix-cache-info names when it is not ours: Nix skips the cache with a warning. */
  foreignStoreDir?: string;
  /**
   * Why Nix stops every substitution while this cache is a substituter, and the remedy: its
   * nix-cache-info has a Priority Nix 2.8 cannot read (std::stoi throws, and nothing catches it:
   * "error: stoi"), or never ends (Nix reads it whole before it asks for any path).
   */
  stopsNix?: { reason: string; fix: string };
  /** `?trusted=1`: Nix accepts its paths without signatures. */
  trusted: boolean;
}

/** One narinfo look-up, kept small: a closure of 100,000 paths holds one of these per path and cache. */
export interface Lookup {
  narinfo: NarinfoWord;
  detail?: string;
  signature: SignatureWord | null;
  keys: string[];
  narHash?: string;
  fileSize?: number;
  narSize?: number;
  /** Base names. */
  references?: string[];
  narUrl?: string;
  compression?: string;
}

/**
 * The caches in the order Nix tries them, each as Nix opens it (http-binary-cache-store.cc init):
 * a cache its narinfo disk cache (DISK) remembers is opened from that row, with the Priority it had,
 * and its nix-cache-info is not asked for at all; any other is opened by its nix-cache-info, and
 * dropped with a warning when that cannot be had.
 */
export function planCaches(
  discovery: Discovery,
  infos: ReadonlyMap<CacheTarget, CacheInfoFact>,
  disk?: DiskCacheFact,
  now = Math.floor(Date.now() / 1000),
): CachePlan[] {
  const { env, config } = discovery;
  const daemonOnly = !clientSettingsApply(env);
  const daemonAllows = new Set([
    ...config.daemonSettings.list('substituters').map((i) => i.value),
    ...config.daemonSettings.list('trusted-substituters').map((i) => i.value),
  ]);
  const plans = discovery.targets
    .filter((t) => t.role !== 'server')
    .map((target) => {
      const fact = infos.get(target);
      const remembered = rememberedCacheInfo(disk, target, env.nixVersion, now);
      let down: CachePlan['down'];
      let text: string | undefined;
      if (fact?.kind === 'http') {
        if (!fact.result.ok) {
          if (fact.result.error.kind !== 'too-large') down = { word: 'unreachable', detail: fact.result.error.message };
        } else if (fact.result.response.status === 200) text = fact.result.response.body;
      } else if (fact?.kind === 'file' && fact.read.ok) text = fact.read.text;
      const opened = remembered || text === undefined ? {} : openedAs(text, env.storeDir);
      const failure = remembered ? undefined : openFailure(discovery, target, fact, disk);
      // The daemon never opens a cache it ignores for this user: then neither what follows can happen.
      const ignored = daemonOnly && !daemonAllows.has(target.url.raw);
      const stopsNix: CachePlan['stopsNix'] = ignored
        ? undefined
        : opened.stopsNix
          ? {
              reason: opened.stopsNix,
              fix: `Write an integer Priority in ${target.url.display}/nix-cache-info on the server (e.g. Priority: 30), or remove ${target.url.display} from substituters in ${config.systemFile}`,
            }
          : failure?.stops
            ? { reason: failure.reason, fix: failure.fix }
            : undefined;
      let unused: { reason: string; fix?: string } | undefined;
      if (opened.foreignStoreDir)
        unused = {
          reason: `it serves the store directory '${opened.foreignStoreDir}', not '${env.storeDir}': Nix skips it ("binary cache '${target.url.display}' is for Nix stores with prefix '${opened.foreignStoreDir}', not '${env.storeDir}'")`,
          fix: `Use a cache made for ${env.storeDir}: replace ${target.url.display} in substituters in ${config.systemFile}`,
        };
      else if (ignored)
        unused = {
          reason: `${env.user} is not a trusted user and the daemon's own nix.conf does not list it in substituters or trusted-substituters`,
        };
      else if (stopsNix) unused = { reason: `its nix-cache-info stops Nix: ${stopsNix.reason}`, fix: stopsNix.fix };
      else if (failure) unused = failure;
      const { priority, source } = resolvePriority(target.url.priority, remembered?.priority ?? opened.priority);
      const trusted = ['1', 'true'].includes(target.url.params.trusted ?? '');
      return {
        target,
        url: target.url.display,
        order: 0,
        priority,
        prioritySource: source,
        used: unused === undefined,
        ...(unused ? { unusedReason: unused.reason } : {}),
        ...(unused?.fix ? { unusedFix: unused.fix } : {}),
        ...(down ? { down } : {}),
        ...(opened.foreignStoreDir ? { foreignStoreDir: opened.foreignStoreDir } : {}),
        ...(stopsNix ? { stopsNix } : {}),
        trusted,
      } satisfies CachePlan;
    });
  return effectiveOrder(plans).map((p, i) => ({ ...p, order: i + 1 }));
}

/**
 * How long Nix opens a cache from its disk cache row rather than its nix-cache-info: from Nix 2.10
 * on 7 days (nar-info-disk-cache.cc cacheInfoTtl); Nix 2.8 and 2.9 take any row, however old.
 */
const CACHE_INFO_TTL_SECONDS = 7 * 24 * 3600;

/** The row of Nix's disk cache (DISK) that NIXVERSION opens TARGET from instead of asking for its nix-cache-info, if any. */
function rememberedCacheInfo(
  disk: DiskCacheFact | undefined,
  target: CacheTarget,
  nixVersion: string | null,
  now: number,
): DiskCacheInfo | undefined {
  if (disk?.kind !== 'read' || target.url.scheme === 'file') return undefined;
  const row = disk.caches.find((c) => c.url === diskCacheUrl(target.url.raw));
  if (!row) return undefined;
  const m = /(\d+)\.(\d+)/.exec(nixVersion ?? '');
  const keptForGood = m !== null && Number(m[1]) === 2 && Number(m[2]) < 10;
  return keptForGood || row.timestamp > now - CACHE_INFO_TTL_SECONDS ? row : undefined;
}

/** Statuses on nix-cache-info that make Nix try to write one (and fail): "not found" or "forbidden" in filetransfer.cc. */
const ABSENT_STATUSES = new Set([404, 410, 401, 403, 407]);

/**
 * Why Nix cannot open an http(s) cache by its nix-cache-info FACT (binary-cache-store.cc init): a
 * 404, 410, 401, 403 or 407 makes it upload a nix-cache-info of its own, which a cache refuses ("does
 * not appear to be a binary cache"); any other status or a failed connection throws after the
 * retries; either way the cache is dropped with a warning (store-api.cc getDefaultSubstituters). One
 * that never ends is read without end: STOPS. Undefined when Nix opens it.
 */
function openFailure(
  discovery: Discovery,
  target: CacheTarget,
  fact: CacheInfoFact | undefined,
  disk: DiskCacheFact | undefined,
): { reason: string; fix: string; stops?: boolean } | undefined {
  if (fact?.kind !== 'http' || !isHttpScheme(target.url.scheme)) return undefined;
  const file = `${target.url.base}/nix-cache-info`;
  const { systemFile } = discovery.config;
  const doctor = `nixcache doctor --cache ${target.url.display}`;
  // The database was not read: the row that would open the cache without nix-cache-info may be there.
  const unknownRow =
    disk?.kind === 'unreadable'
      ? ` — unless Nix's narinfo disk cache (${disk.path}, not readable here) remembers the cache: then Nix opens it from there without asking`
      : '';
  const r = fact.result;
  if (!r.ok) {
    if (r.error.kind === 'too-large')
      return {
        stops: true,
        reason: `${file} goes on past what nixcache reads — ${r.error.message}: Nix reads it whole before it asks for any path, and waits without end for one that never ends`,
        fix: `Serve a nix-cache-info of a few lines at ${file} (StoreDir: ${discovery.env.storeDir}), or remove ${target.url.display} from substituters in ${systemFile}`,
      };
    return {
      reason: `its nix-cache-info cannot be fetched (${r.error.message}): Nix cannot open the cache and drops it ("unable to download '${file}'")${unknownRow}`,
      fix: doctor,
    };
  }
  const status = r.response.status;
  if (status === 200) return undefined;
  if (ABSENT_STATUSES.has(status))
    return {
      reason: `its nix-cache-info answers HTTP ${status}: Nix takes it for no binary cache and drops it ("'${target.url.base}' does not appear to be a binary cache")${unknownRow}`,
      fix:
        status === 404 || status === 410
          ? `Name the cache's root in substituters (${file} must answer 200: nix-serve, harmonia and attic serve it; a directory made by nix copy --to file://DIR has one)`
          : `Give Nix credentials for it in ${discovery.config.netrc.path}: machine ${target.url.host ?? 'HOST'} login USER password PASSWORD (netrc-file; NixOS: nix.settings.netrc-file)`,
    };
  return {
    reason: `its nix-cache-info answers HTTP ${status}: Nix cannot open the cache ("unable to download '${file}': HTTP error ${status}") and drops it${unknownRow}`,
    fix: `Make ${file} answer 200 on the server (its log says why it does not): ${doctor}`,
  };
}

/**
 * What Nix makes of a cache's nix-cache-info TEXT when it opens the cache (binary-cache-store.cc
 * init, line by line): a StoreDir other than STOREDIR throws an Error, caught where the substituters
 * are opened (the cache is skipped); a Priority std::stoi cannot read throws what nothing catches,
 * and every substitution stops. Whichever line comes first decides.
 */
function openedAs(text: string, storeDir: string): { priority?: number; foreignStoreDir?: string; stopsNix?: string } {
  const info = parseCacheInfo(text);
  if (info.ok)
    return info.value.storeDir !== undefined && info.value.storeDir !== storeDir
      ? { foreignStoreDir: info.value.storeDir }
      : { ...(info.value.priority !== undefined ? { priority: info.value.priority } : {}) };
  if (info.error.code !== 'bad-priority') return {};
  const before = parseCacheInfo(
    text
      .split('\n')
      .slice(0, (info.error.line ?? 1) - 1)
      .join('\n'),
  );
  if (before.ok && before.value.storeDir !== undefined && before.value.storeDir !== storeDir)
    return { foreignStoreDir: before.value.storeDir };
  return { stopsNix: info.error.message };
}

export interface LookupDeps {
  http: BulkHttp;
  fs: Fs;
  storeDir: string;
  netrc: Discovery['config']['netrc']['entries'];
  trustedKeys: readonly PublicKey[];
  requireSigs: boolean;
  /** classifySignatures over trustedKeys (see createSignatureVerifier). */
  verify: (info: NarInfo) => Promise<SignatureVerdict>;
  /** The narinfo requests, when not fetchNarinfo over HTTP and FS: the doctor's checks share one per cache and path. */
  narinfo?: (cache: CacheTarget, hashPart: string) => Promise<NarinfoAnswer>;
  /** The installed Nix's version (`nix --version`): which `Compression:` labels it decodes. */
  nixVersion: string | null;
  /**
   * The first bytes of a file over HTTP, raw (the look-up pool hands bodies over as text): for a NAR
   * whose label Nix does not name, which Nix decodes by its content. Without it such a NAR is not read.
   */
  readHead?: (url: string, auth: { user: string; password: string } | undefined, bytes: number) => Promise<HeadAnswer>;
}

/** The first bytes of a file, or why there are none. */
export type HeadAnswer = { ok: true; status: number; head: Uint8Array } | { ok: false; message: string };

/** What a look-up goes through: the narinfo and NAR requests, a file:// cache's files. */
export type LookupTransport = Pick<LookupDeps, 'http' | 'fs' | 'narinfo' | 'readHead'>;

/**
 * LookupDeps for DISCOVERY over each transport given: the trusted keys, require-sigs and the
 * signature verifier are worked out once (the verifier, made at the first look-up, remembers
 * verdicts across caches when REMEMBERVERDICTS). The doctor, why and coverage look paths up alike.
 */
export function lookupDepsFor(discovery: Discovery, rememberVerdicts = true): (transport: LookupTransport) => LookupDeps {
  const { config, env } = discovery;
  const trustedKeys = effectiveTrustedKeys(config, env);
  const requireSigs = effectiveRequireSigs(config, env);
  let verify: LookupDeps['verify'] | undefined;
  return (transport) => {
    verify ??= createSignatureVerifier(trustedKeys, undefined, rememberVerdicts);
    return {
      ...transport,
      storeDir: env.storeDir,
      netrc: config.netrc.entries,
      trustedKeys,
      requireSigs,
      verify,
      nixVersion: env.nixVersion,
    };
  };
}

/** `<hash>.narinfo` as a cache answered the request for it, before anyone reads it. */
export type NarinfoAnswer =
  | { kind: 'text'; text: string }
  /** 404, or no such file in a file:// cache. */
  | { kind: 'absent' }
  /** Any other status but 200. */
  | { kind: 'status'; status: number }
  | { kind: 'failed'; word: Extract<NarinfoWord, 'unreachable' | 'error'>; message: string };

/** Requests HASHPART's narinfo from CACHE with the credentials Nix would send (reads the file of a file:// cache). */
export async function fetchNarinfo(
  deps: Pick<LookupDeps, 'http' | 'fs' | 'netrc'>,
  cache: CacheTarget,
  hashPart: string,
): Promise<NarinfoAnswer> {
  const file = `${hashPart}.narinfo`;
  if (cache.url.scheme === 'file') {
    const r = await deps.fs.readText(`${fileCacheDir(cache.url)}/${file}`, MAX_NARINFO_BYTES);
    if (r.ok) return { kind: 'text', text: r.text };
    return r.code === 'ENOENT' ? { kind: 'absent' } : { kind: 'failed', word: 'error', message: r.message };
  }
  if (!cache.url.httpBase)
    return { kind: 'failed', word: 'unreachable', message: `${cache.url.scheme}:// stores are not read by nixcache` };
  const auth = credentialsFor(cache.url, deps.netrc);
  const r = await deps.http.request({
    method: 'GET',
    url: cacheFileUrl(cache.url.httpBase, file),
    maxBytes: MAX_NARINFO_BYTES,
    ...(auth ? { auth: { user: auth.user, password: auth.password } } : {}),
  });
  if (!r.ok) return { kind: 'failed', word: answered(r) ? 'error' : 'unreachable', message: r.message };
  if (r.status === 404) return { kind: 'absent' };
  if (r.truncated) return { kind: 'failed', word: 'error', message: `the narinfo is larger than ${formatBytes(MAX_NARINFO_BYTES)}` };
  if (r.status !== 200) return { kind: 'status', status: r.status };
  return { kind: 'text', text: r.body };
}

/**
 * Whether a failed request still reached a server that answered, badly — rate-limited, redirecting
 * without end, too large, or a body still incomplete at the timeout (`error`) — rather than none
 * that answered at all (`unreachable`).
 */
function answered(r: Extract<BulkResult, { ok: false }>): boolean {
  if (r.kind === 'rate-limited' || r.kind === 'too-large' || r.kind === 'redirect-loop') return true;
  return r.kind === 'timeout' && /incomplete/.test(r.message);
}

/** `<hash>.narinfo` of PATH in CACHE, classified with the words `why` and `coverage` print. */
export async function lookupPath(deps: LookupDeps, plan: CachePlan, path: string): Promise<Lookup> {
  if (plan.down) return { narinfo: plan.down.word, detail: plan.down.detail, signature: null, keys: [] };
  const parsed = parseStorePath(path, deps.storeDir);
  if (!parsed.ok) return { narinfo: 'error', detail: parsed.error.message, signature: null, keys: [] };
  const { hashPart } = parsed.value;
  const answer = await (deps.narinfo ? deps.narinfo(plan.target, hashPart) : fetchNarinfo(deps, plan.target, hashPart));
  if (answer.kind === 'absent') return miss('missing');
  if (answer.kind === 'failed') return miss(answer.word, answer.message);
  // Nix treats 401, 403 and 407 on a narinfo as "not in this cache".
  if (answer.kind === 'status') return miss([401, 403, 407].includes(answer.status) ? 'auth' : 'error', `HTTP ${answer.status}`);
  const info = parseNarInfo(answer.text, deps.storeDir);
  if (!info.ok) return miss('error', `bad narinfo: ${info.error.message}`);
  if (info.value.storePath.baseName !== parsed.value.baseName)
    return miss('error', `the narinfo is for ${info.value.storePath.baseName}, not ${parsed.value.baseName}`);
  let signature: SignatureWord;
  let keys: string[] = [];
  if (!deps.requireSigs || plan.trusted) signature = 'not-required';
  else {
    const v = await deps.verify(info.value);
    if (v.kind === 'valid') {
      signature = 'trusted';
      keys = [v.key];
    } else if (v.kind === 'content-addressed') signature = 'content-addressed';
    else if (v.kind === 'unsigned') signature = 'unsigned';
    else if (v.kind === 'untrusted') {
      signature = 'untrusted';
      keys = v.signedBy;
    } else {
      signature = 'invalid';
      keys = v.kind === 'mismatch' ? v.keys : v.signedBy;
    }
  }
  return {
    narinfo: 'present',
    signature,
    keys,
    narHash: info.value.narHash,
    narSize: info.value.narSize,
    ...(info.value.fileSize !== undefined ? { fileSize: info.value.fileSize } : {}),
    references: info.value.references,
    narUrl: info.value.url,
    compression: info.value.compression,
  };
}

function miss(narinfo: NarinfoWord, detail?: string): Lookup {
  return { narinfo, ...(detail ? { detail } : {}), signature: null, keys: [] };
}

/** A NAR file as a narinfo names it: whether it downloads, and whether Nix can decode it. */
export interface NarProbe {
  nar: NarWord;
  detail?: string;
  /** Nix's words when the download fails (http-binary-cache-store.cc getFile), so that a user can match them. */
  nixSays?: string;
  /**
   * Why this Nix cannot use the file although it downloads, in Nix's words: its label, and what its
   * bytes are when they were read. Absent when it can (or when that was not read).
   */
  undecodable?: string;
}

/**
 * The NAR file a narinfo names, as Nix will read it. READ `first-bytes` (why, the doctor): its first
 * bytes, judged against its COMPRESSION label as Nix reads each label (nar-advice.ts judgeNarHead,
 * the doctor's nar check's judgment). READ `head` (coverage: thousands of files, pipelined): HEAD
 * (GET cut off after the status, where HEAD is not allowed), and the first bytes only for a label Nix
 * does not name, which it decodes by the bytes (Nix 2.4 and later hand such labels to libarchive).
 * A file:// cache's file is only looked for.
 */
export async function probeNar(
  deps: LookupDeps,
  plan: CachePlan,
  narUrl: string,
  label: string | undefined,
  read: 'first-bytes' | 'head' = 'first-bytes',
): Promise<NarProbe> {
  // A narinfo without Compression: is bzip2 to Nix (NarInfo's default).
  const compression = label ?? 'bzip2';
  const reading = labelReading(compression, deps.nixVersion);
  if (plan.target.url.httpBase && deps.readHead && (read === 'first-bytes' || reading === 'by-content'))
    return readNarHead(deps, plan, narUrl, compression);
  const probe = await headNar(deps, plan, narUrl);
  if (reading === 'unknown-method')
    return { ...probe, undecodable: describeNarProblem({ kind: 'unknown-method', declared: compression }, narUrl, deps.nixVersion) };
  if (reading === 'by-content' && probe.nar === 'ok')
    return {
      ...probe,
      detail: `Compression: ${compression} is no method Nix names: Nix reads the file by its bytes (libarchive); not read here`,
    };
  return probe;
}

async function headNar(deps: LookupDeps, plan: CachePlan, narUrl: string): Promise<NarProbe> {
  const cache = plan.target;
  if (cache.url.scheme === 'file') {
    const stat = await deps.fs.stat(`${fileCacheDir(cache.url)}/${narUrl}`);
    return stat ? { nar: 'ok' } : { nar: 'missing', detail: 'no such file', nixSays: noSuchFile(plan, narUrl) };
  }
  if (!cache.url.httpBase) return { nar: 'error', detail: 'not an HTTP cache' };
  const auth = credentialsFor(cache.url, deps.netrc);
  const request = (method: 'HEAD' | 'GET') =>
    deps.http.request({
      method,
      url: cacheFileUrl(cache.url.httpBase as string, narUrl),
      maxBytes: 0,
      ...(auth ? { auth: { user: auth.user, password: auth.password } } : {}),
    });
  let r = await request('HEAD');
  if (r.ok && (r.status === 405 || r.status === 501)) r = await request('GET');
  if (!r.ok) return { nar: 'error', detail: r.message, nixSays: `unable to download '${narFileUrl(plan, narUrl)}'` };
  return narStatus(plan, narUrl, r.status);
}

/**
 * The NAR file's STATUS as Nix meets it: 404 and 410 ("not found"), 401, 403 and 407 ("forbidden")
 * are "does not exist in binary cache" to Nix; any other failure is the download's own error, after
 * Nix's retries.
 */
function narStatus(plan: CachePlan, narUrl: string, status: number): NarProbe {
  if (status >= 200 && status < 300) return { nar: 'ok' };
  if (status === 404 || status === 410) return { nar: 'missing', detail: `HTTP ${status}`, nixSays: noSuchFile(plan, narUrl) };
  if (status === 401 || status === 403 || status === 407)
    return { nar: 'error', detail: `HTTP ${status}`, nixSays: noSuchFile(plan, narUrl) };
  return { nar: 'error', detail: `HTTP ${status}`, nixSays: `unable to download '${narFileUrl(plan, narUrl)}': HTTP error ${status}` };
}

const noSuchFile = (plan: CachePlan, narUrl: string) => `file '${narUrl}' does not exist in binary cache '${plan.target.url.base}'`;
const narFileUrl = (plan: CachePlan, narUrl: string) => cacheFileUrl(plan.target.url.base, narUrl);

/** The first bytes of the NAR file of an http(s) cache, judged as Nix reads a file labelled COMPRESSION. */
async function readNarHead(deps: LookupDeps, plan: CachePlan, narUrl: string, compression: string): Promise<NarProbe> {
  const url = plan.target.url;
  const auth = credentialsFor(url, deps.netrc);
  const r = await (deps.readHead as NonNullable<LookupDeps['readHead']>)(
    cacheFileUrl(url.httpBase as string, narUrl),
    auth ? { user: auth.user, password: auth.password } : undefined,
    SNIFF_BYTES,
  );
  if (!r.ok) return { nar: 'error', detail: r.message, nixSays: `unable to download '${narFileUrl(plan, narUrl)}'` };
  const probe = narStatus(plan, narUrl, r.status);
  if (probe.nar !== 'ok') return probe;
  const { undecodable, note } = judgeNarHead(compression, sniffCompression(r.head), narFileUrl(plan, narUrl), deps.nixVersion);
  return { nar: 'ok', ...(note ? { detail: note } : {}), ...(undecodable ? { undecodable } : {}) };
}
