import { emptyHitRate, type HitRate, isMissStatus, ratio } from './hit-rate.js';
import { parseExposition } from './prom-text.js';

/**
 * harmonia's `/metrics` (nix-community/harmonia, harmonia-cache/src/prometheus.rs): the counter
 * `harmonia_http_requests_total{method,path,status}`, where `path` is the route's pattern
 * (`/{hash}.narinfo`, `/nar/{narhash:…}.nar`, `/nix-cache-info` …), counted since harmonia started.
 * It has no byte counts and no store paths. Undefined when the text has no such counter.
 */
export const HARMONIA_REQUESTS = 'harmonia_http_requests_total';

export function harmoniaHitRate(text: string): HitRate | undefined {
  const parsed = parseExposition(text);
  const requests = parsed.samples.filter((s) => s.name === HARMONIA_REQUESTS);
  if (requests.length === 0) return undefined;
  const out = emptyHitRate('harmonia', null, parsed.skipped);
  for (const s of requests) {
    // A counter is a finite, non-negative count; anything else is not believed.
    if (!Number.isFinite(s.value) || s.value < 0) {
      out.skipped++;
      continue;
    }
    const status = Number(s.labels.status);
    const path = s.labels.path ?? '';
    out.requests += s.value;
    if (status >= 500 && status <= 599) out.serverErrors += s.value;
    if (path.endsWith('.narinfo')) {
      out.narinfoRequests += s.value;
      if (status === 200) out.narinfoHits += s.value;
      else if (isMissStatus(status)) out.narinfoMisses += s.value;
    } else if (path.startsWith('/nar/')) out.narRequests += s.value;
  }
  out.hitRatio = ratio(out.narinfoHits, out.narinfoMisses);
  return out;
}
