import { request } from 'node:http';
import { redactUrl } from '../nix/store-url.js';
import type { Recorder } from './evidence.js';
import { basicAuth, classifyNetworkError } from './http.js';

/** A request made through a proxy as curl would: absolute-form GET for http://, CONNECT for https://. */
export type ProxyProbe =
  /** The proxy passed the request on; STATUS is the cache's answer (http) or the tunnel's (https: 200). */
  | { kind: 'through'; status: number; tunnel: boolean; durationMs: number }
  /** The proxy itself answered with an error (407 wants credentials, 502/503/504 could not reach the cache). */
  | { kind: 'proxy-status'; status: number; durationMs: number }
  /** The proxy could not be reached at all. */
  | { kind: 'proxy-unreachable'; message: string; code?: string; durationMs: number };

export async function probeViaProxy(
  proxy: string,
  target: string,
  timeoutMs: number,
  signal: AbortSignal,
  record: Recorder,
): Promise<ProxyProbe> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const p = new URL(proxy.includes('://') ? proxy : `http://${proxy}`);
  const t = new URL(target);
  const tunnel = t.protocol === 'https:';
  const auth = p.username
    ? {
        'proxy-authorization': basicAuth({ user: decodeURIComponent(p.username), password: decodeURIComponent(p.password) }),
      }
    : {};
  const targetPort = t.port || (tunnel ? '443' : '80');
  const result = await new Promise<ProxyProbe>((resolve) => {
    const req = request({
      host: p.hostname.replace(/^\[|\]$/g, ''),
      port: Number(p.port || 1080),
      method: tunnel ? 'CONNECT' : 'GET',
      path: tunnel ? `${t.hostname}:${targetPort}` : t.toString(),
      headers: { host: `${t.hostname}:${targetPort}`, 'user-agent': 'nixcache-doctor (like curl/Nix)', ...auth },
      signal,
      timeout: timeoutMs,
      agent: false,
    });
    const answered = (status: number) => {
      const own = status === 407 || (status >= 502 && status <= 504);
      resolve(own ? { kind: 'proxy-status', status, durationMs: elapsed() } : { kind: 'through', status, tunnel, durationMs: elapsed() });
    };
    req.on('connect', (res, socket) => {
      socket.destroy();
      answered(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      answered(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => {
      const c = classifyNetworkError(e);
      resolve({ kind: 'proxy-unreachable', message: c.message, ...(c.code ? { code: c.code } : {}), durationMs: elapsed() });
    });
    req.end();
  });
  record({
    kind: 'http',
    method: tunnel ? 'CONNECT' : 'GET',
    url: `${redactUrl(target)} via proxy ${redactUrl(p.toString())}`,
    status: result.kind === 'proxy-unreachable' ? null : result.status,
    bytes: 0,
    durationMs: result.durationMs,
    ...(result.kind === 'proxy-unreachable' ? { error: result.message } : {}),
  });
  return result;
}
