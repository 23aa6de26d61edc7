import type { CacheTarget } from '../src/discover/types.js';
import type { Facts } from '../src/facts/types.js';
import { deadCacheAdvice, FALLBACK_ADVICE } from '../src/nix/advice.js';
import { parseCacheInfo } from '../src/nix/cache-info.js';
import { accessTokensFor, cacheInfoAuthProblem, type NetrcView, narinfoAuthProblem } from '../src/nix/credentials.js';
import type { Credentials } from '../src/nix/netrc.js';
import type { CacheCheck, Finding } from '../src/runner/check.js';
import { fail, pass, skip, warn } from '../src/runner/finding.js';
import type { HttpFailure } from '../src/system/http.js';

/** Step 5: `curl http://server:5000/nix-cache-info` — is this a binary cache for our store? */
export const cacheInfo: CacheCheck = {
  id: 'cache-info',
  title: 'Binary cache answers /nix-cache-info',
  scope: 'cache',
  needs: ['connect'],
  async run(facts, cache) {
    const fact = await facts.cacheInfo(cache);
    if (fact.kind === 'file') {
      if (!fact.read.ok)
        return fail(`'${cache.url.display}' does not appear to be a binary cache: ${fact.read.message}`, {
          fix: `A file:// cache is a directory nix copy wrote (nix-cache-info, *.narinfo, nar/): fill it with: nix copy --to '${cache.url.display}' PATH`,
        });
      return judge(facts, cache, fact.read.text, { source: fact.path });
    }
    if (fact.kind === 'unsupported')
      return skip(
        `the doctor reads nix-cache-info only from http(s), s3 and file caches, not ${cache.url.scheme}`,
        `${cache.url.scheme} store`,
      );
    if (!fact.result.ok) return transportFailure(facts, cache, fact.result.error);
    const { status, body, durationMs, bytes, redirects } = fact.result.response;
    const data = { status, latencyMs: durationMs, bytes, redirects };
    if (cache.url.scheme === 's3' && (status === 401 || status === 403)) return privateBucket(cache, status, data);
    if (status === 401 || status === 403) return authFailure(facts, cache, status, fact.auth, data);
    if (status === 404) {
      return fail(`'${cache.url.display}' does not appear to be a binary cache: /nix-cache-info answered 404`, {
        fix:
          cache.url.scheme === 's3'
            ? `Check the bucket name and endpoint; a bucket becomes a binary cache when nix copy writes nix-cache-info into it: nix copy --to '${cache.url.display}' PATH`
            : 'Check the URL: it must be the cache root (atticd serves each cache under its name, e.g. http://host:8080/main).',
        data,
      });
    }
    if (status !== 200) {
      return fail(`GET /nix-cache-info answered HTTP ${status}${status >= 500 ? ': the cache server has an internal error' : ''}`, {
        fix: status >= 500 ? 'Look at the cache server’s log: journalctl -u nix-serve -n 50 (or harmonia, atticd).' : undefined,
        detail: status >= 500 ? serverErrorAdvice(facts, cache, status) : advice(facts, cache),
        data,
      });
    }
    const verdict = judge(facts, cache, body, data);
    const probe = verdict.status === 'fail' ? undefined : await facts.narinfoProbe(cache);
    const auth =
      probe?.kind === 'answered' ? narinfoAuthProblem(cache.url, probe, netrcView(facts), accessTokens(facts, cache)) : undefined;
    return auth ? { ...auth, data: { ...verdict.data, ...auth.data } } : verdict;
  },
};

const netrcView = (facts: Facts): NetrcView => ({ ...facts.config.netrc, root: facts.env.root, multiUser: facts.env.multiUser });

/** access-tokens entries written for this cache's host: Nix never sends them to a binary cache. */
const accessTokens = (facts: Facts, cache: CacheTarget) => accessTokensFor(cache.url, facts.config.settings.list('access-tokens'));

/** What Nix does with a cache whose nix-cache-info answers 5xx: it retries, then gives up on it with curl's words. */
function serverErrorAdvice(facts: Facts, cache: CacheTarget, status: number): string {
  const attempts = Number(facts.config.settings.get('download-attempts') ?? '5') || 5;
  return [
    `Nix asks again (download-attempts = ${attempts}, waiting longer each time) and then gives up on this cache: "unable to download '${cache.url.display}/nix-cache-info': HTTP error ${status}".`,
    ...(facts.config.settings.get('fallback') === 'true' ? [] : [FALLBACK_ADVICE]),
  ].join('\n');
}

const advice = (facts: Facts, cache: CacheTarget) =>
  cache.role === 'substituter' ? deadCacheAdvice(facts.config.settings, cache.url.display) : undefined;

function judge(facts: Facts, cache: CacheTarget, body: string, data: Record<string, unknown>): Finding {
  const parsed = parseCacheInfo(body);
  if (!parsed.ok && parsed.error.code === 'bad-priority') {
    // A real cache whose nix-cache-info Nix cannot read: every substitution stops, from any cache.
    return fail(`${parsed.error.message}; Nix substitutes nothing while this cache is in substituters`, {
      detail: `The first characters of the answer: ${JSON.stringify(body.slice(0, 120))}`,
      fix: `On the server, make Priority in nix-cache-info a whole number (e.g. Priority: 30), or remove ${cache.url.display} from substituters in ${facts.config.systemFile}.`,
      data,
    });
  }
  if (!parsed.ok) {
    return fail(`'${cache.url.display}' does not appear to be a binary cache: ${parsed.error.message}`, {
      detail: `The first characters of the answer: ${JSON.stringify(body.slice(0, 120))}`,
      fix: 'Point substituters at the binary cache itself (nix-serve, harmonia, atticd, an S3/HTTP copy made by nix copy), not at a web page or proxy login.',
      data,
    });
  }
  const info = parsed.value;
  const full = { ...data, storeDir: info.storeDir ?? null, wantMassQuery: info.wantMassQuery ?? null, priority: info.priority ?? null };
  const ours = facts.env.storeDir;
  if (info.storeDir !== undefined && info.storeDir !== ours) {
    return fail(`binary cache '${cache.url.display}' is for Nix stores with prefix '${info.storeDir}', not '${ours}'`, {
      fix: `This cache was made for another store directory (${info.storeDir}); Nix on this machine cannot use it. Remove it from substituters or point it at a cache for ${ours}.`,
      data: full,
    });
  }
  const parts = [`StoreDir ${info.storeDir ?? `(none; Nix assumes ${ours})`}`];
  if (info.priority !== undefined) parts.push(`Priority ${info.priority}`);
  if (info.wantMassQuery !== undefined) parts.push(`WantMassQuery ${info.wantMassQuery ? 1 : 0}`);
  const latency = typeof data.latencyMs === 'number' ? ` in ${data.latencyMs} ms` : '';
  if (typeof data.latencyMs === 'number' && data.latencyMs > facts.run.timeoutMs / 2) {
    return warn(`answers, but slowly: ${data.latencyMs} ms for a ${data.bytes} B file (${parts.join(', ')})`, {
      detail: 'Every narinfo lookup pays this latency; builds will feel slow to start.',
      data: full,
    });
  }
  return pass(`${parts.join(', ')}${latency}`, { data: full });
}

function transportFailure(facts: Facts, cache: CacheTarget, error: HttpFailure): Finding {
  const data = { error: error.kind, bytes: error.bytes, latencyMs: error.durationMs };
  const detail = advice(facts, cache);
  switch (error.kind) {
    case 'too-large':
      return fail(`GET /nix-cache-info: ${error.message} — a nix-cache-info is a few bytes, so this is not a binary cache`, {
        fix: 'Check the URL in substituters: it must be the cache root, where nix-cache-info is a few lines of text.',
        data,
      });
    case 'no-answer':
      return fail(`the server accepted the connection but sent no answer to GET /nix-cache-info: ${error.message}`, {
        detail,
        fix: 'The cache server is hung or overloaded: restart it (systemctl restart nix-serve) and look at its log (journalctl -u nix-serve).',
        data,
      });
    case 'timeout':
      return fail(`the server is too slow: ${error.message}`, {
        detail,
        fix: 'Look at the cache server’s load and its network path; Nix gives up after stalled-download-timeout.',
        data,
      });
    case 'redirect-loop':
      return fail(`GET /nix-cache-info: ${error.message} (a redirect loop?)`, {
        fix: 'Fix the redirect on the server or proxy, or use the final URL in substituters.',
        data,
      });
    default:
      return fail(`GET /nix-cache-info failed: ${error.message}`, {
        detail,
        fix: `Try the request by hand to see the failure whole: curl -sSv ${cache.url.httpBase ?? cache.url.display}/nix-cache-info`,
        data,
      });
  }
}

/** Nix signs S3 requests with AWS credentials; the doctor reads only what a bucket serves to anyone. */
function privateBucket(cache: CacheTarget, status: number, data: Record<string, unknown>): Finding {
  const profile = cache.url.params.profile || 'default';
  const region = cache.url.params.region ? ` --region ${cache.url.params.region}` : '';
  return skip(
    `bucket '${cache.url.bucket}' answered ${status} to an anonymous read: it is private, and Nix reads it with AWS credentials (profile '${profile}'), which the doctor does not use`,
    'private bucket',
    {
      detail: `Read from ${cache.url.httpBase}. A 403 also comes back for keys that do not exist when the bucket does not grant s3:ListBucket.`,
      fix: [
        `Check the credentials the nix-daemon sees: as root, aws s3 ls s3://${cache.url.bucket}/nix-cache-info --profile ${profile}${region}`,
        'The daemon reads ~root/.aws/credentials (or AWS_* variables in its environment), not your user’s.',
      ].join('\n'),
      data,
    },
  );
}

function authFailure(
  facts: Facts,
  cache: CacheTarget,
  status: number,
  auth: Credentials | undefined,
  data: Record<string, unknown>,
): Finding {
  const problem = cacheInfoAuthProblem(cache.url, status, auth, netrcView(facts), accessTokens(facts, cache));
  return fail(problem.summary, { detail: problem.detail, fix: problem.fix, data: { ...data, ...problem.data } });
}
