import { isPrivateBucket } from '../src/facts/cache.js';
import { type PathLookupFact, whyVerdict } from '../src/facts/path-view.js';
import { isoTime } from '../src/nix/disk-cache.js';
import { parseStorePath } from '../src/nix/store-path.js';
import { plural } from '../src/report/text.js';
import type { CacheCheck } from '../src/runner/check.js';
import { fail, pass, skip, warn } from '../src/runner/finding.js';

/** Paths named in a summary; the rest are counted. */
const NAMED_IN_SUMMARY = 3;
/** Paths given a detail line each. */
const NAMED_IN_DETAIL = 10;
/** Paths looked up at once per cache (each a narinfo and a NAR HEAD). */
const AT_ONCE = 8;

/** The store path's hash-name, also for a path inside it (/nix/store/…-hello/bin/hello). */
const baseName = (path: string) => path.split('/').find((s) => /^[0-9a-z]{32}-/.test(s)) ?? path;
const firstFew = (paths: readonly string[]) =>
  `${paths.slice(0, NAMED_IN_SUMMARY).map(baseName).join(', ')}${paths.length > NAMED_IN_SUMMARY ? ` (+${paths.length - NAMED_IN_SUMMARY} more)` : ''}`;

/** Step 8: the paths named with --sample, each looked up here as `nixcache why` does. */
export const coverage: CacheCheck = {
  id: 'coverage',
  title: 'Has the paths named',
  scope: 'cache',
  // Not cache-info: narinfos answering 401 fail it, and which named paths that hides is this step's answer.
  needs: ['connect'],
  // A failed signature check already says what a wrongly signed cache costs: not said twice.
  uses: ['signature'],
  // Each round of AT_ONCE paths may take the narinfo, NAR and disk-cache look-ups in turn.
  timeoutMs: (operation, run) => (operation * 4 + 2000) * Math.max(1, Math.ceil(new Set(run.samples).size / AT_ONCE)),
  async run(facts, cache, results) {
    const all = [...new Set(facts.run.samples)];
    if (all.length === 0)
      return skip('no paths named: nixcache doctor --sample PATH (repeatable) checks that every cache has them', 'no paths named');
    // A path of another store directory is no cache's to have: said, not blamed on the cache.
    const named = all.filter((p) => parseStorePath(p, facts.env.storeDir).ok);
    const foreign = all.filter((p) => !named.includes(p));
    if (named.length === 0)
      return skip(`--sample ${foreign[0]} is not in this machine's store ${facts.env.storeDir}`, 'sample not in store', {
        data: { foreign },
      });
    const { scheme } = cache.url;
    if (scheme !== 'file' && !cache.url.httpBase)
      return skip(`the doctor looks paths up only in http(s), s3 and file caches, not ${scheme}`, `${scheme} store`);
    if (isPrivateBucket(cache, await facts.cacheInfo(cache)))
      return skip('the bucket is private: narinfos cannot be read without the AWS credentials Nix uses', 'private bucket');

    const found: PathLookupFact[] = [];
    let next = 0;
    const worker = async () => {
      while (next < named.length) {
        const i = next++;
        found[i] = await facts.pathLookup(cache, named[i] as string);
      }
    };
    await Promise.all(Array.from({ length: Math.min(AT_ONCE, named.length) }, worker));
    const paths = found.map((fact) => ({ fact, verdict: whyVerdict(facts, fact) }));
    // Missing: the cache does not have it. Blocked: Nix would not get it from here although it may (a 401 hides which).
    const missing = paths.filter((p) => p.fact.lookup.narinfo === 'missing');
    const blocked = paths.filter((p) => p.fact.lookup.narinfo !== 'missing' && p.verdict.verdict !== 'substitute');
    const disk = found[0]?.view.disk === 'unreadable' ? await facts.diskCache() : undefined;
    const data = {
      named: named.length,
      ...(foreign.length > 0 ? { foreign } : {}),
      usable: named.length - missing.length - blocked.length,
      missing: missing.map((p) => p.fact.path),
      blocked: blocked.map((p) => p.fact.path),
      paths: paths.map(({ fact, verdict }) => ({
        path: fact.path,
        verdict: verdict.verdict,
        reason: verdict.reason,
        fix: verdict.fix,
        narinfo: fact.lookup.narinfo,
        narinfoDetail: fact.lookup.detail ?? null,
        signature: fact.lookup.signature,
        keys: fact.lookup.keys,
        nar: fact.nar?.nar ?? null,
        narDetail: fact.nar?.detail ?? null,
        diskCache: fact.view.disk,
        diskCacheExpires: fact.view.diskExpires !== undefined ? isoTime(fact.view.diskExpires) : null,
      })),
      ...(disk?.kind === 'unreadable' ? { diskCache: { state: 'unreadable', path: disk.path, owner: disk.owner } } : {}),
    };
    const problems = [...blocked, ...missing];
    const detail = [
      // why's reason for a path no cache has ("no cache has it") is, for one cache, that this one lacks it.
      ...problems
        .slice(0, NAMED_IN_DETAIL)
        .map((p) => `${baseName(p.fact.path)}: ${p.fact.lookup.narinfo === 'missing' ? 'not in this cache' : p.verdict.reason}`),
      ...(problems.length > NAMED_IN_DETAIL ? [`… and ${plural(problems.length - NAMED_IN_DETAIL, 'more path')} (data.paths)`] : []),
    ].join('\n');
    // The fixes exactly as `why` gives them, each once, for the first few paths.
    const fix = [...new Set(problems.slice(0, NAMED_IN_SUMMARY).flatMap((p) => (p.verdict.fix ? [p.verdict.fix] : [])))].join('\n');
    const count = (n: number) =>
      n === named.length ? (n === 1 ? 'the named path' : `all ${n} named paths`) : `${n} of ${plural(named.length, 'named path')}`;

    const bySignature = (p: (typeof blocked)[number]) => ['untrusted', 'unsigned', 'invalid'].includes(p.fact.lookup.signature ?? '');
    if (blocked.length > 0 && missing.length === 0 && blocked.every(bySignature) && results.get('signature', cache)?.status === 'fail')
      return skip(`every named path here is signed as the signature check's sample is: ${blocked[0]?.verdict.reason}`, 'needs signature', {
        detail,
        data,
      });
    if (blocked.length > 0) {
      const first = blocked[0] as (typeof blocked)[number];
      const also = missing.length > 0 ? `; ${missing.length} missing` : '';
      const which = firstFew(blocked.map((p) => p.fact.path));
      return fail(`Nix would not get ${count(blocked.length)} from this cache (${which}): ${first.verdict.reason}${also}`, {
        detail,
        fix,
        data,
      });
    }
    if (missing.length > 0)
      return warn(`lacks ${count(missing.length)}: ${firstFew(missing.map((p) => p.fact.path))}`, { detail, fix, data });
    const keys = [...new Set(found.flatMap((f) => (f.lookup.signature === 'trusted' ? f.lookup.keys : [])))];
    const signed = keys.length > 0 ? `, signed by trusted key ${keys.join(', ')}` : '';
    return pass(`has ${count(named.length)}, usable by Nix${signed}`, { data });
  },
};
