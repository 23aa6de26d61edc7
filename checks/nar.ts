import type { CacheTarget } from '../src/discover/types.js';
import { NAR_BUDGET_OPERATIONS, type NarFact } from '../src/facts/nar.js';
import type { Facts } from '../src/facts/types.js';
import { blocksSubstitution, describeNarProblem, narProblems } from '../src/nix/nar-advice.js';
import type { NarInfo } from '../src/nix/narinfo.js';
import { withStoreParam } from '../src/nix/store-url.js';
import { formatBytes } from '../src/report/text.js';
import type { CacheCheck, Finding } from '../src/runner/check.js';
import { fail, pass, skip, warn } from '../src/runner/finding.js';

const storePathOf = (info: NarInfo) => `${info.storePath.storeDir}/${info.storePath.baseName}`;

const FALLBACK =
  'Meanwhile let Nix build what it cannot download — /etc/nix/nix.conf: fallback = true\nNixOS: nix.settings.fallback = true;';
const RECOPY = (cache: CacheTarget, info: NarInfo) =>
  `On the cache server, push the path again: nix copy --to '${cache.url.display}' ${storePathOf(info)}  (nix-serve and harmonia serve the store itself: nix-store --verify-path ${storePathOf(info)}, then --repair-path)`;

/** Step 7: does the sample's NAR file download, decompress and match the narinfo, as Nix checks it when it substitutes? */
export const nar: CacheCheck = {
  id: 'nar',
  title: 'NAR file downloads and matches its hashes',
  scope: 'cache',
  needs: ['cache-info'],
  uses: ['signature'],
  reads: ['nar'],
  timeoutMs: (operation) => operation * (NAR_BUDGET_OPERATIONS + 3) + 2000,
  async run(facts, cache) {
    if (!cache.url.httpBase)
      return skip(`the doctor downloads NAR files only from http(s) and s3 caches, not ${cache.url.scheme}`, `${cache.url.scheme} store`);
    const { hits } = await facts.findNarInfos(cache, await facts.sampleCandidates(), 1);
    const hit = hits[0];
    if (hit?.kind !== 'hit') return skip('no narinfo of this cache to take a NAR from', 'no sample');
    const info = hit.info;
    const fact = await facts.nar(cache, info);
    return judge(facts, cache, info, fact);
  },
};

function judge(facts: Facts, cache: CacheTarget, info: NarInfo, fact: NarFact): Finding {
  const data: Record<string, unknown> = {
    sample: storePathOf(info),
    url: info.url,
    compression: info.compression,
    fileSize: info.fileSize ?? null,
    narSize: info.narSize,
  };
  switch (fact.kind) {
    case 'unsupported':
      return skip(fact.why, `${cache.url.scheme} store`, { data });
    case 'status':
      if (fact.status === 401 || fact.status === 407)
        return fail(
          `the narinfo is served but its NAR file answered ${fact.status}: the NAR needs credentials the doctor (and the daemon) did not send`,
          {
            fix: `Add a machine entry for ${cache.url.host ?? 'HOST'} to netrc-file (default /etc/nix/netrc) — nix.conf: netrc-file = /etc/nix/netrc\nNixOS: nix.settings.netrc-file = "/etc/nix/netrc";`,
            data: { ...data, status: fact.status },
          },
        );
      return fail(
        `the narinfo of ${info.storePath.baseName} is served but its NAR file answers ${fact.status}: the cache lost its NAR files or was pruned — Nix fails with "file '${info.url}' does not exist in binary cache '${cache.url.display}'"`,
        {
          fix: `${RECOPY(cache, info)}\nOr delete the stale narinfos on the server so Nix stops being offered the path.\n${FALLBACK}`,
          data: { ...data, status: fact.status },
        },
      );
    case 'transport':
      return fail(`downloading ${info.url} failed after ${formatBytes(fact.error.bytes)}: ${fact.error.message}`, {
        detail: info.fileSize ? `FileSize is ${formatBytes(info.fileSize)}.` : undefined,
        fix: FALLBACK,
        data: { ...data, error: fact.error.kind, bytes: fact.error.bytes },
      });
    case 'too-slow': {
      const size = fact.fileSize ? formatBytes(fact.fileSize) : 'unknown size';
      return skip(
        `the NAR file is ${size}: at ${formatBytes(fact.bytesPerSecond)}/s it would not download within ${(fact.budgetMs / 1000).toFixed(0)} s`,
        'too large for the deadline',
        {
          fix: 'Check it with more time: nixcache doctor --only nar --timeout 30 (or name a smaller path with --sample)',
          data: { ...data, bytesRead: fact.bytes, bytesPerSecond: fact.bytesPerSecond },
        },
      );
    }
    case 'read': {
      const v = fact.verification;
      const problems = narProblems(v, facts.env.nixVersion);
      const full = {
        ...data,
        sniffed: v.sniffed,
        fileBytes: v.fileBytes,
        narBytes: v.narBytes,
        fileHash: v.fileHash,
        narHash: v.narHash,
        problems: problems.map((p) => p.kind),
      };
      if (problems.length === 0)
        return pass(
          `${info.url}: ${formatBytes(v.fileBytes)} ${v.declared || 'none'} → ${formatBytes(v.narBytes)} NAR, FileHash and NarHash match (${fact.durationMs} ms)`,
          { data: full },
        );
      const [first, ...rest] = problems.map((p) => describeNarProblem(p, fact.url, facts.env.nixVersion));
      const mislabel = problems.find((p) => p.kind === 'mislabelled' || p.kind === 'unknown-label');
      const cannot = problems.find((p) => p.kind === 'nix-cannot-decode');
      const fix = [
        mislabel && 'actual' in mislabel && mislabel.actual !== 'unknown'
          ? `The server must say what it serves: Compression: ${mislabel.actual} (regenerate the narinfo, or push again: nix copy --to '${withStoreParam(cache.url.display, 'compression', mislabel.actual)}' ${storePathOf(info)})`
          : undefined,
        cannot && cannot.kind === 'nix-cannot-decode'
          ? `Upgrade Nix on this machine (NixOS: nix.package = pkgs.nixVersions.stable;), or push with a method it reads: nix copy --to '${withStoreParam(cache.url.display, 'compression', 'xz')}' ${storePathOf(info)}`
          : undefined,
        RECOPY(cache, info),
        FALLBACK,
      ].filter(Boolean);
      const verdict = blocksSubstitution(problems) ? fail : warn;
      return verdict(`${info.storePath.baseName}: ${first}`, {
        detail: rest.length ? rest.join('\n') : undefined,
        fix: fix.join('\n'),
        data: full,
      });
    }
  }
}
