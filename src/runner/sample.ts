import { type NarInfo, parseNarInfo } from '../nix/narinfo.js';
import { parseBaseName, parseStorePath } from '../nix/store-path.js';
import { cacheFileUrl } from '../nix/store-url.js';
import { credentialsFor } from './probes.js';
import type { CacheTarget, CheckContext } from './types.js';

export const MAX_CANDIDATES = 24;
const CONCURRENCY = 6;
const MAX_NARINFO_BYTES = 256 * 1024;

export type NarInfoLookup =
  | { kind: 'hit'; path: string; info: NarInfo; text: string }
  | { kind: 'miss'; path: string }
  | { kind: 'corrupt'; path: string; message: string }
  | { kind: 'error'; path: string; message: string };

/**
 * Store paths likely to be in a cache, most likely first: the NixOS system closure, Nix's own
 * store path, the default profiles, then whatever else is in the store. Shared by all caches.
 */
export async function sampleCandidates(ctx: CheckContext): Promise<string[]> {
  return ctx.options.sample ? [ctx.options.sample] : storeCandidates(ctx);
}

/** The automatic candidates, whatever --sample says: also what a second opinion is drawn from. */
export function storeCandidates(ctx: CheckContext): Promise<string[]> {
  return ctx.once('sample-candidates', async (io) => {
    const storeDir = ctx.env.storeDir;
    const found: string[] = [];
    const add = (p: string | null | undefined) => {
      if (!p) return;
      const parsed = parseStorePath(p, storeDir);
      if (parsed.ok && !found.includes(`${storeDir}/${parsed.value.baseName}`)) found.push(`${storeDir}/${parsed.value.baseName}`);
    };
    for (const link of ['/run/current-system', '/nix/var/nix/profiles/default', `${process.env.HOME ?? ''}/.nix-profile`]) {
      let target = await io.fs.readlink(link);
      for (let hops = 0; target && !target.startsWith(storeDir) && hops < 4; hops++)
        target = await io.fs.readlink(target.startsWith('/') ? target : `${link.replace(/[^/]+$/, '')}${target}`);
      add(target);
    }
    // One pass, bounded work: a real store holds 10⁵ entries, and sorting them all would cost seconds.
    // Names that look like packages come before fixed-output sources, which caches often lack.
    const packages: string[] = [];
    const sources: string[] = [];
    for (const e of (await io.fs.readdir(storeDir)) ?? []) {
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
  });
}

/** Fetches `<hash>.narinfo` for one store path from TARGET. */
export async function lookupNarInfo(ctx: CheckContext, target: CacheTarget, path: string): Promise<NarInfoLookup> {
  const parsed = parseStorePath(path, ctx.env.storeDir);
  if (!parsed.ok) return { kind: 'error', path, message: parsed.error.message };
  const file = `${parsed.value.hashPart}.narinfo`;
  let text: string;
  if (target.url.scheme === 'file') {
    const r = await ctx.fs.readText(`${target.url.base.replace(/^file:\/\//, '')}/${file}`, MAX_NARINFO_BYTES);
    if (!r.ok) return r.code === 'ENOENT' ? { kind: 'miss', path } : { kind: 'error', path, message: r.message };
    text = r.text;
  } else {
    const auth = credentialsFor(ctx, target);
    const r = await ctx.http.get(cacheFileUrl(target.url.httpBase ?? target.url.base, file), {
      maxBytes: MAX_NARINFO_BYTES,
      ...(auth ? { auth } : {}),
    });
    if (!r.ok) return { kind: 'error', path, message: r.error.message };
    // Nix treats 404 and 403 (S3's answer for a missing key) as "not in this cache".
    if (r.response.status === 404 || r.response.status === 403) return { kind: 'miss', path };
    if (r.response.status !== 200) return { kind: 'error', path, message: `HTTP ${r.response.status}` };
    text = r.response.body;
  }
  const info = parseNarInfo(text, ctx.env.storeDir);
  if (!info.ok) return { kind: 'corrupt', path, message: `${info.error.message}${info.error.line ? ` (line ${info.error.line})` : ''}` };
  return { kind: 'hit', path, info: info.value, text };
}

/**
 * Looks CANDIDATES up CONCURRENCY at a time and stops at WANT hits (in candidate order among
 * those fetched), or when every candidate was tried. Bounded in count and by the check's signal.
 */
export async function findNarInfos(
  ctx: CheckContext,
  target: CacheTarget,
  candidates: readonly string[],
  want: number,
): Promise<{ hits: NarInfoLookup[]; tried: NarInfoLookup[] }> {
  const tried: NarInfoLookup[] = [];
  let next = 0;
  const hits = () => tried.filter((t) => t.kind === 'hit' || t.kind === 'corrupt');
  const worker = async () => {
    while (next < candidates.length && hits().length < want && !ctx.signal.aborted) {
      const path = candidates[next++] as string;
      tried.push(await lookupNarInfo(ctx, target, path));
      // Three transport errors in a row: the cache is failing, not missing paths.
      if (tried.length >= 3 && tried.slice(-3).every((t) => t.kind === 'error')) return;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, candidates.length) }, worker));
  const order = (p: string) => candidates.indexOf(p);
  return { hits: hits().sort((a, b) => order(a.path) - order(b.path)), tried };
}
