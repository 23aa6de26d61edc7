import type { CacheTarget } from '../discover/types.js';
import { narFileCheckable, narFileVerdict } from '../nix/nar.js';
import { createNarVerifier, type NarVerification } from '../nix/nar-verify.js';
import type { NarInfo } from '../nix/narinfo.js';
import { credentialsFor, type NetrcEntry } from '../nix/netrc.js';
import { cacheFileUrl } from '../nix/store-url.js';
import type { HttpFailure } from '../system/http.js';
import type { Io } from '../system/io.js';
import type { NarFileFact } from './types.js';

/** The NAR file of a narinfo, downloaded and verified as a stream (or why not). */
export type NarFact =
  | { kind: 'unsupported'; why: string }
  | { kind: 'status'; status: number; url: string }
  | { kind: 'transport'; url: string; error: HttpFailure }
  /** Reading it all would not finish in time: BYTES came in RATE bytes/s, the file has FILESIZE. */
  | { kind: 'too-slow'; url: string; bytes: number; fileSize?: number; bytesPerSecond: number; budgetMs: number }
  | { kind: 'read'; url: string; verification: NarVerification; durationMs: number };

export interface NarBudget {
  /** Per network operation (to the first byte, and between chunks). */
  timeoutMs: number;
  /** For the whole download. */
  totalMs: number;
}

/** The time a NAR download may take, in network operation timeouts (whichever check starts it). */
export const NAR_BUDGET_OPERATIONS = 8;

/** NAR files up to this size are read for the signature check, to compare with FileHash. */
const MAX_NAR_FILE_CHECK_BYTES = 4 * 1024 * 1024;

/** NAR files up to this size are fetched whole (bounded memory all the same). */
const SMALL_NAR_BYTES = 1024 * 1024;

/** After this long, the download's rate says whether it can finish within the budget. */
const PROJECT_AFTER_MS = 1000;

export async function readNar(
  io: Io,
  cache: CacheTarget,
  info: NarInfo,
  netrc: readonly NetrcEntry[],
  budget: NarBudget,
): Promise<NarFact> {
  const base = cache.url.httpBase;
  if (!base) return { kind: 'unsupported', why: `the doctor downloads NAR files only from http(s) and s3 caches, not ${cache.url.scheme}` };
  const url = cacheFileUrl(base, info.url);
  const auth = credentialsFor(cache.url, netrc);
  const verifier = createNarVerifier(info);
  // A small file comes whole over the pool's warm connection; only large ones are streamed.
  if (info.fileSize !== undefined && info.fileSize <= SMALL_NAR_BYTES) {
    const r = await io.http.get(url, { maxBytes: SMALL_NAR_BYTES * 2, timeoutMs: budget.totalMs, ...(auth ? { auth } : {}) });
    if (!r.ok) return { kind: 'transport', url, error: r.error };
    if (r.response.status !== 200) return { kind: 'status', status: r.response.status, url };
    for (let at = 0; at < r.response.raw.length; at += 64 * 1024) await verifier.write(r.response.raw.subarray(at, at + 64 * 1024));
    return { kind: 'read', url, verification: await verifier.finish(), durationMs: r.response.durationMs };
  }
  const started = performance.now();
  let tooSlow: { bytes: number; bytesPerSecond: number } | undefined;
  let bytes = 0;
  const r = await io.http.stream(
    url,
    { timeoutMs: budget.timeoutMs, totalMs: budget.totalMs, ...(auth ? { auth } : {}) },
    async (chunk) => {
      bytes += chunk.length;
      const verdict = await verifier.write(chunk);
      const ms = performance.now() - started;
      if (info.fileSize && ms > PROJECT_AFTER_MS) {
        const bytesPerSecond = (bytes / ms) * 1000;
        if (((info.fileSize - bytes) / bytesPerSecond) * 1000 > budget.totalMs - ms) {
          tooSlow = { bytes, bytesPerSecond: Math.round(bytesPerSecond) };
          return 'stop';
        }
      }
      return verdict;
    },
  );
  if (tooSlow)
    return { kind: 'too-slow', url, ...tooSlow, ...(info.fileSize ? { fileSize: info.fileSize } : {}), budgetMs: budget.totalMs };
  if (!r.ok) return { kind: 'transport', url, error: r.error };
  if (r.status !== 200) return { kind: 'status', status: r.status, url };
  return { kind: 'read', url, verification: await verifier.finish(), durationMs: r.durationMs };
}

/** Why the signature check leaves INFO's NAR file unread, if it does: it reads small ones to compare with FileHash. */
export function narFileUnread(info: NarInfo): string | undefined {
  if (!narFileCheckable(info)) return 'no sha256 FileHash and FileSize to check it with';
  if ((info.fileSize ?? 0) > MAX_NAR_FILE_CHECK_BYTES) return 'too large';
  return undefined;
}

/** What the download of a NAR file says of the compressed file alone: FileSize and FileHash. */
export function narFileOf(fact: NarFact): NarFileFact {
  switch (fact.kind) {
    case 'unsupported':
      return { kind: 'unread', why: fact.why };
    case 'status':
      return { kind: 'unread', why: `HTTP ${fact.status}` };
    case 'transport':
      return { kind: 'unread', why: fact.error.message };
    case 'too-slow':
      return { kind: 'unread', why: `it would not download within ${(fact.budgetMs / 1000).toFixed(0)} s` };
    case 'read':
      return { kind: 'read', verdict: narFileVerdict(fact.verification) };
  }
}
