import { isIP } from 'node:net';
import type { Recorder } from './evidence.js';

export interface PingResult {
  alive: boolean;
  /** Average round-trip time of the replies, in ms. */
  rttMs: number | null;
  /** Packet loss in percent. */
  loss: number | null;
  /** Why no verdict could be had: `ping` missing, or not allowed to send ICMP. */
  unavailable?: string;
  durationMs: number;
}

export type Ping = (address: string, host?: string) => Promise<PingResult>;

const COUNT = 3;

/**
 * ICMP echo through the system `ping` (the `ping` package). `-w` bounds ping's own lifetime to
 * the operation timeout, so no child outlives it; three probes 2 ms apart (the least iputils allows an unprivileged user) keep a healthy host cheap.
 */
export function createPing(record: Recorder, timeoutMs: number, deadlineAt = Number.POSITIVE_INFINITY): Ping {
  return async (address, host = address) => {
    const started = performance.now();
    // ping cannot be cancelled once started, so its own -w deadline also ends before the run's does.
    const left = Math.floor((deadlineAt - started) / 1000);
    const seconds = Math.max(1, Math.min(Math.ceil(timeoutMs / 1000), left));
    let result: PingResult;
    try {
      const { default: ping } = await import('ping');
      const r = await ping.promise.probe(address, {
        numeric: true,
        timeout: seconds,
        deadline: seconds,
        min_reply: COUNT,
        v6: false,
        // isIP, not isIPv6: an IPv4 address never reaches the IPv6 pattern, which costs ~3 ms to compile.
        extra: [...(isIP(address) === 6 ? ['-6'] : []), '-i', '0.002'],
      });
      const output = String(r.output ?? '');
      const loss =
        typeof r.packetLoss === 'string' || typeof r.packetLoss === 'number' ? Number.parseFloat(String(r.packetLoss)) : Number.NaN;
      const avg = Number.parseFloat(String(r.avg));
      result = {
        alive: Boolean(r.alive),
        rttMs: Number.isFinite(avg) ? avg : null,
        loss: Number.isFinite(loss) ? loss : null,
        durationMs: Math.round(performance.now() - started),
      };
      const refused = /operation not permitted|permission denied|cannot flood|socket: /i.exec(output);
      if (!result.alive && refused) result.unavailable = `ping may not send ICMP here (${refused[0].trim()})`;
    } catch (e) {
      result = {
        alive: false,
        rttMs: null,
        loss: null,
        unavailable: /executing the ping program/.test(String((e as Error).message))
          ? "the 'ping' program is not installed or not executable"
          : String((e as Error).message).slice(0, 200),
        durationMs: Math.round(performance.now() - started),
      };
    }
    record({
      kind: 'ping',
      host,
      alive: result.alive,
      rttMs: result.rttMs,
      loss: result.loss,
      durationMs: result.durationMs,
      ...(result.unavailable ? { error: result.unavailable } : {}),
    });
    return result;
  };
}
