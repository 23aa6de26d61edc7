import { parseCacheInfo } from '../src/nix/cache-info.js';
import { cacheFileUrl } from '../src/nix/store-url.js';
import { fail, pass, skip, warn } from '../src/runner/finding.js';
import { type Credentials, credentialsFor, deadCacheAdvice } from '../src/runner/probes.js';
import type { CacheTarget, Check, CheckContext, Finding } from '../src/runner/types.js';
import type { HttpFailure } from '../src/system/http.js';

const MAX_CACHE_INFO_BYTES = 64 * 1024;

/** Step 5: `curl http://server:5000/nix-cache-info` — is this a binary cache for our store? */
export const cacheInfo: Check = {
  id: 'cache-info',
  title: 'Binary cache answers /nix-cache-info',
  scope: 'cache',
  needs: ['connect'],
  async run(ctx, target) {
    if (!target) throw new Error('cache check without a cache');
    const scheme = target.url.scheme;
    if (scheme === 'file') {
      const file = `${target.url.base.replace(/^file:\/\//, '')}/nix-cache-info`;
      const r = await ctx.fs.readText(file, MAX_CACHE_INFO_BYTES);
      if (!r.ok) return fail(`'${target.url.display}' does not appear to be a binary cache: ${r.message}`);
      return judge(ctx, target, r.text, { source: file });
    }
    const base = target.url.httpBase;
    if (!base) return skip(`the doctor reads nix-cache-info only from http(s), s3 and file caches, not ${scheme}`, `${scheme} store`);

    const auth = credentialsFor(ctx, target);
    const url = cacheFileUrl(base, 'nix-cache-info');
    const res = await ctx.http.get(url, { maxBytes: MAX_CACHE_INFO_BYTES, maxRedirects: 5, ...(auth ? { auth } : {}) });
    if (!res.ok) return transportFailure(ctx, target, res.error);
    const { status, body, durationMs, bytes, redirects } = res.response;
    const data = { status, latencyMs: durationMs, bytes, redirects };
    if (scheme === 's3' && (status === 401 || status === 403)) return privateBucket(target, status, data);
    if (status === 401 || status === 403) return authFailure(ctx, target, status, auth, data);
    if (status === 404) {
      return fail(`'${target.url.display}' does not appear to be a binary cache: /nix-cache-info answered 404`, {
        fix:
          scheme === 's3'
            ? `Check the bucket name and endpoint; a bucket becomes a binary cache when nix copy --to '${target.url.display}' writes nix-cache-info into it.`
            : 'Check the URL: it must be the cache root (atticd serves each cache under /<cache-name>, e.g. http://host:8080/main).',
        data,
      });
    }
    if (status !== 200) {
      return fail(`GET /nix-cache-info answered HTTP ${status}${status >= 500 ? ': the cache server has an internal error' : ''}`, {
        fix: status >= 500 ? 'Look at the cache server’s log: journalctl -u nix-serve -n 50 (or harmonia, atticd).' : undefined,
        detail: deadCacheAdvice(ctx, target),
        data,
      });
    }
    return judge(ctx, target, body, data);
  },
};

function judge(ctx: CheckContext, target: CacheTarget, body: string, data: Record<string, unknown>): Finding {
  const parsed = parseCacheInfo(body);
  if (!parsed.ok) {
    return fail(`'${target.url.display}' does not appear to be a binary cache: ${parsed.error.message}`, {
      detail: `The first characters of the answer: ${JSON.stringify(body.slice(0, 120))}`,
      fix: 'Point substituters at the binary cache itself (nix-serve, harmonia, atticd, an S3/HTTP copy made by nix copy), not at a web page or proxy login.',
      data,
    });
  }
  const info = parsed.value;
  const full = { ...data, storeDir: info.storeDir ?? null, wantMassQuery: info.wantMassQuery ?? null, priority: info.priority ?? null };
  const ours = ctx.env.storeDir;
  if (info.storeDir !== undefined && info.storeDir !== ours) {
    return fail(`binary cache '${target.url.display}' is for Nix stores with prefix '${info.storeDir}', not '${ours}'`, {
      fix: `This cache was made for another store directory (${info.storeDir}); Nix on this machine cannot use it. Remove it from substituters or point it at a cache for ${ours}.`,
      data: full,
    });
  }
  const parts = [`StoreDir ${info.storeDir ?? `(none; Nix assumes ${ours})`}`];
  if (info.priority !== undefined) parts.push(`Priority ${info.priority}`);
  if (info.wantMassQuery !== undefined) parts.push(`WantMassQuery ${info.wantMassQuery ? 1 : 0}`);
  const latency = typeof data.latencyMs === 'number' ? ` in ${data.latencyMs} ms` : '';
  if (typeof data.latencyMs === 'number' && data.latencyMs > ctx.timeoutMs / 2) {
    return warn(`answers, but slowly: ${data.latencyMs} ms for a ${data.bytes} B file (${parts.join(', ')})`, {
      detail: 'Every narinfo lookup pays this latency; builds will feel slow to start.',
      data: full,
    });
  }
  return pass(`${parts.join(', ')}${latency}`, { data: full });
}

function transportFailure(ctx: CheckContext, target: CacheTarget, error: HttpFailure): Finding {
  const data = { error: error.kind, bytes: error.bytes, latencyMs: error.durationMs };
  const advice = deadCacheAdvice(ctx, target);
  switch (error.kind) {
    case 'too-large':
      return fail(`GET /nix-cache-info: ${error.message} — a nix-cache-info is a few bytes, so this is not a binary cache`, { data });
    case 'no-answer':
      return fail(`the server accepted the connection but sent no answer to GET /nix-cache-info: ${error.message}`, {
        detail: advice,
        fix: 'The cache server is hung or overloaded: restart it (systemctl restart nix-serve) and look at its log (journalctl -u nix-serve).',
        data,
      });
    case 'timeout':
      return fail(`the server is too slow: ${error.message}`, {
        detail: advice,
        fix: 'Look at the cache server’s load and its network path; Nix gives up after stalled-download-timeout.',
        data,
      });
    case 'redirect-loop':
      return fail(`GET /nix-cache-info: ${error.message} (a redirect loop?)`, {
        fix: 'Fix the redirect on the server or proxy, or use the final URL in substituters.',
        data,
      });
    default:
      return fail(`GET /nix-cache-info failed: ${error.message}`, { detail: advice, data });
  }
}

/** Nix signs S3 requests with AWS credentials; the doctor reads only what a bucket serves to anyone. */
function privateBucket(target: CacheTarget, status: number, data: Record<string, unknown>): Finding {
  const profile = target.url.params.profile || 'default';
  return skip(
    `bucket '${target.url.bucket}' answered ${status} to an anonymous read: it is private, and Nix reads it with AWS credentials (profile '${profile}'), which the doctor does not use`,
    'private bucket',
    {
      detail: `Read from ${target.url.httpBase}. A 403 also comes back for keys that do not exist when the bucket does not grant s3:ListBucket.`,
      fix: [
        `Check the credentials the nix-daemon sees: as root, aws s3 ls s3://${target.url.bucket}/nix-cache-info --profile ${profile}${target.url.params.region ? ` --region ${target.url.params.region}` : ''}`,
        'The daemon reads ~root/.aws/credentials (or AWS_* variables in its environment), not your user’s.',
      ].join('\n'),
      data,
    },
  );
}

function authFailure(
  ctx: CheckContext,
  target: CacheTarget,
  status: number,
  auth: Credentials | undefined,
  data: Record<string, unknown>,
): Finding {
  const netrc = ctx.config.netrc;
  const host = target.url.host ?? 'HOST';
  const how = auth
    ? `credentials from ${auth.source === 'url' ? 'the URL' : netrc.path} were sent and refused`
    : `no credentials: Nix sends them from netrc-file (now ${netrc.path}${netrc.entries.length ? ', which has no entry for this host' : ', which does not exist or is empty'})`;
  const note403 =
    status === 403
      ? ' (Nix treats a 403 on a .narinfo as "not in cache", as S3 answers 403 for missing keys, so builds silently compile instead)'
      : '';
  return fail(`GET /nix-cache-info answered ${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'}: ${how}${note403}`, {
    fix: [
      `Add to ${netrc.path} (mode 600, readable by the nix-daemon):`,
      `  machine ${host} login ${auth?.user || 'USER'} password ***`,
      `and make sure nix.conf names it: netrc-file = ${netrc.path}  (NixOS: nix.settings.netrc-file = "${netrc.path}";)`,
    ].join('\n'),
    data: { ...data, credentials: auth?.source ?? null, netrcFile: netrc.path },
  });
}
