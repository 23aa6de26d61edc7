import type { CacheTarget, HostPaths } from '../discover/types.js';
import { parseNarInfo } from '../nix/narinfo.js';
import { credentialsFor, type NetrcEntry } from '../nix/netrc.js';
import { parseBaseName, parseStorePath } from '../nix/store-path.js';
import { cacheFileUrl, fileCacheDir } from '../nix/store-url.js';
import type { Io } from '../system/io.js';
import type { NarinfoAnswer } from './path-lookups.js';
import type { CacheInfoFact, NarInfoLookup } from './types.js';

const MAX_CACHE_INFO_BYTES = 64 * 1024;
export const MAX_CANDIDATES = 24;
/**
 * The store entries read for candidates: enough to find MAX_CANDIDATES packages among the .drv
 * files and sources (about half of a store), in the directory's own order — not all of it.
 */
const STORE_ENTRIES_READ = 4096;

/** `GET /nix-cache-info` (or the file of a file:// cache), with the credentials Nix would send. */
export async function readCacheInfo(io: Io, cache: CacheTarget, netrc: readonly NetrcEntry[]): Promise<CacheInfoFact> {
  if (cache.url.scheme === 'file') {
    const path = `${fileCacheDir(cache.url)}/nix-cache-info`;
    return { kind: 'file', path, read: await io.fs.readText(path, MAX_CACHE_INFO_BYTES) };
  }
  const base = cache.url.httpBase;
  if (!base) return { kind: 'unsupported' };
  const auth = credentialsFor(cache.url, netrc);
  const result = await io.http.get(cacheFileUrl(base, 'nix-cache-info'), {
    maxBytes: MAX_CACHE_INFO_BYTES,
    ...(auth ? { auth } : {}),
  });
  return { kind: 'http', ...(auth ? { auth } : {}), result };
}

/** Whether an s3:// cache refused an anonymous read of nix-cache-info: Nix reads it with AWS credentials. */
export function isPrivateBucket(cache: CacheTarget, fact: CacheInfoFact): boolean {
  return (
    cache.url.scheme === 's3' &&
    fact.kind === 'http' &&
    fact.result.ok &&
    (fact.result.response.status === 401 || fact.result.response.status === 403)
  );
}

/** The narinfo of PATH as the signature and nar checks read it, from the answer to its request. */
export function narInfoLookupOf(path: string, answer: NarinfoAnswer, storeDir: string): NarInfoLookup {
  if (answer.kind === 'absent') return { kind: 'miss', path };
  // Nix treats 404 and 403 (S3's answer for a missing key) as "not in this cache".
  if (answer.kind === 'status')
    return answer.status === 403 ? { kind: 'miss', path } : { kind: 'error', path, message: `HTTP ${answer.status}` };
  if (answer.kind === 'failed') return { kind: 'error', path, message: answer.message };
  const info = parseNarInfo(answer.text, storeDir);
  if (!info.ok) return { kind: 'corrupt', path, message: `${info.error.message}${info.error.line ? ` (line ${info.error.line})` : ''}` };
  return { kind: 'hit', path, info: info.value, text: answer.text };
}

/**
 * Store paths likely to be in a cache, most likely first: the NixOS system closure, the default
 * profiles, then whatever else is in the store.
 */
export async function storeCandidates(io: Io, storeDir: string, host: HostPaths): Promise<string[]> {
  const found: string[] = [];
  const add = (p: string | null | undefined) => {
    if (!p) return;
    const parsed = parseStorePath(p, storeDir);
    if (parsed.ok && !found.includes(`${storeDir}/${parsed.value.baseName}`)) found.push(`${storeDir}/${parsed.value.baseName}`);
  };
  for (const link of ['/run/current-system', '/nix/var/nix/profiles/default', `${host.home}/.nix-profile`]) {
    let target = await io.fs.readlink(link);
    for (let hops = 0; target && !target.startsWith(storeDir) && hops < 4; hops++)
      target = await io.fs.readlink(target.startsWith('/') ? target : `${link.replace(/[^/]+$/, '')}${target}`);
    add(target);
  }
  // One pass, bounded work: a real store holds 10⁵ entries, and sorting them all would cost seconds.
  // Names that look like packages come before fixed-output sources, which caches often lack.
  const packages: string[] = [];
  const sources: string[] = [];
  for (const e of (await io.fs.readdir(storeDir, STORE_ENTRIES_READ)) ?? []) {
    if (packages.length >= MAX_CANDIDATES) break;
    if (e.endsWith('.drv') || e.endsWith('.lock') || e.endsWith('.chroot') || e.endsWith('.links')) continue;
    const bucket = e.endsWith('-source') ? sources : packages;
    if (bucket.length < MAX_CANDIDATES && parseBaseName(e).ok) bucket.push(e);
  }
  for (const n of [...packages, ...sources]) {
    if (found.length >= MAX_CANDIDATES) break;
    add(`${storeDir}/${n}`);
  }
  return found.slice(0, MAX_CANDIDATES);
}
