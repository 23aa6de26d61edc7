import { emptyHitRate, HASH_PART, type HitRate, isMissStatus, NARINFO_PATH, ratio, requestKind, topCounts } from './hit-rate.js';

/**
 * Access logs in the "combined" / "common" format that nginx writes by default and that
 * nix-serve's Plack access log and most proxies in front of a cache write too:
 *
 *   127.0.0.1 - - [25/Nov/2026:10:15:00 +0000] "GET /abc….narinfo HTTP/1.1" 200 521 "-" "curl/7.88.1 Nix/2.8.0"
 *
 * Every line is untrusted (clients choose paths and user agents): lines are bounded in length,
 * fields are matched, never evaluated, and nothing but numbers and validated hash parts leaves here.
 */
export interface AccessLogEntry {
  timeMs: number;
  method: string;
  /** The request path without its query string. */
  path: string;
  status: number;
  /** Body bytes sent; 0 for "-". */
  bytes: number;
}

export const MAX_LINE_LENGTH = 16 * 1024;
const TOP_MISSING = 5;
const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };
// host ident user [time] "request" status bytes — the request may hold \" (nginx escapes it as \x22).
const LINE = /^\S{1,256} \S{1,256} \S{1,512} \[([^\]]{1,40})\] "((?:[^"\\]|\\.){0,8192})" (\d{3}) (\d{1,18}|-)(?: |$)/;
const TIME = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([-+])(\d{2})(\d{2})$/;

/** The time of an access log line (`25/Nov/2026:10:15:00 +0100`) in ms since the epoch. */
export function parseLogTime(text: string): number | undefined {
  const m = TIME.exec(text);
  if (!m) return undefined;
  const month = MONTHS[m[2] as string];
  if (month === undefined) return undefined;
  const [day, year, h, min, s, oh, om] = [m[1], m[3], m[4], m[5], m[6], m[8], m[9]].map(Number) as number[];
  if (day! < 1 || day! > 31 || h! > 23 || min! > 59 || s! > 60 || oh! > 23 || om! > 59) return undefined;
  const offset = (m[7] === '-' ? -1 : 1) * (oh! * 60 + om!) * 60_000;
  return Date.UTC(year!, month, day!, h!, min!, s!) - offset;
}

export function parseAccessLogLine(line: string): AccessLogEntry | undefined {
  if (line.length > MAX_LINE_LENGTH) return undefined;
  const m = LINE.exec(line);
  if (!m) return undefined;
  const timeMs = parseLogTime(m[1] as string);
  if (timeMs === undefined) return undefined;
  const parts = (m[2] as string).split(' ');
  if (parts.length < 2 || parts.length > 3) return undefined;
  const [method, target] = parts as [string, string];
  if (!/^[A-Z]{1,16}$/.test(method) || !target.startsWith('/')) return undefined;
  const path = target.split('?')[0] as string;
  const status = Number(m[3]);
  const bytes = m[4] === '-' ? 0 : Number(m[4]);
  if (!Number.isSafeInteger(bytes)) return undefined;
  return { timeMs, method, path, status, bytes };
}

/**
 * The hit rate of the requests logged in [SINCEMS, NOWMS]. Lines that do not parse are counted
 * as skipped. Lines are independent, so a log read from its middle (a tail) works as a whole one.
 */
export function accessLogHitRate(text: string, window: { sinceMs: number; nowMs: number }): HitRate {
  const missing = new Map<string, number>();
  const out = emptyHitRate('access-log', 0);
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const raw = end - start > MAX_LINE_LENGTH ? undefined : text.slice(start, end).replace(/\r$/, '');
    start = end + 1;
    if (raw === '') continue;
    const entry = raw === undefined ? undefined : parseAccessLogLine(raw);
    if (!entry) {
      out.skipped++;
      continue;
    }
    if (entry.timeMs < window.sinceMs || entry.timeMs > window.nowMs) continue;
    first = Math.min(first, entry.timeMs);
    last = Math.max(last, entry.timeMs);
    out.requests++;
    if (entry.status >= 500 && entry.status <= 599) out.serverErrors++;
    const kind = requestKind(entry.path);
    if (kind === 'narinfo') {
      out.narinfoRequests++;
      if (entry.status === 200) out.narinfoHits++;
      else if (isMissStatus(entry.status)) {
        out.narinfoMisses++;
        const hash = NARINFO_PATH.exec(entry.path)?.[1];
        if (hash && HASH_PART.test(hash)) missing.set(hash, (missing.get(hash) ?? 0) + 1);
      }
    } else if (kind === 'nar') {
      out.narRequests++;
      if ((entry.status === 200 || entry.status === 206) && entry.method === 'GET') out.narBytes = (out.narBytes ?? 0) + entry.bytes;
    }
  }
  out.hitRatio = ratio(out.narinfoHits, out.narinfoMisses);
  out.topMissing = topCounts(missing, TOP_MISSING);
  if (out.requests > 0) {
    out.from = new Date(first).toISOString();
    out.to = new Date(last).toISOString();
  }
  return out;
}
