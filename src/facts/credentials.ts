import type { CacheTarget } from '../discover/types.js';
import { credentialsFor, type NetrcEntry } from '../nix/netrc.js';
import { cacheFileUrl } from '../nix/store-url.js';
import type { Io } from '../system/io.js';

/** A store path hash no cache holds: a public cache answers 404 for it, one that wants credentials 401/403. */
export const ABSENT_HASH = '00000000000000000000000000000000';

/** How a cache answers a narinfo request, with the credentials Nix would send. */
export type NarinfoProbe =
  | { kind: 'answered'; url: string; status: number; headers: Record<string, string>; credentials: 'url' | 'netrc' | null }
  | { kind: 'failed'; url: string; message: string };

export async function probeNarinfo(io: Io, cache: CacheTarget, netrc: readonly NetrcEntry[]): Promise<NarinfoProbe | undefined> {
  const base = cache.url.httpBase;
  if (!base || cache.url.scheme === 's3') return undefined;
  const url = cacheFileUrl(base, `${ABSENT_HASH}.narinfo`);
  const auth = credentialsFor(cache.url, netrc);
  const r = await io.http.get(url, { maxBytes: 64 * 1024, ...(auth ? { auth } : {}) });
  if (!r.ok) return { kind: 'failed', url, message: r.error.message };
  return { kind: 'answered', url, status: r.response.status, headers: r.response.headers, credentials: auth?.source ?? null };
}
