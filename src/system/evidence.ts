/** One external call, recorded by an adapter (never by a check) so every verdict shows what it saw. */
export type Evidence =
  | { kind: 'exec'; argv: string[]; exitCode: number | null; output: string; durationMs: number; error?: string }
  | { kind: 'http'; method: string; url: string; status: number | null; bytes: number; durationMs: number; error?: string }
  | { kind: 'dns'; host: string; addresses: string[]; durationMs: number; error?: string }
  | { kind: 'tcp'; host: string; address: string; port: number; result: string; durationMs: number }
  /** A DNS question asked over UDP (to systemd-resolved's stub). */
  | { kind: 'udp'; host: string; address: string; port: number; result: string; durationMs: number }
  | { kind: 'tls'; host: string; port: number; result: string; durationMs: number; error?: string }
  | { kind: 'ping'; host: string; alive: boolean; rttMs: number | null; loss: number | null; durationMs: number; error?: string }
  | { kind: 'file'; path: string; op: string; result: string };

export type Recorder = (entry: Evidence) => void;

/** Keeps output short enough for a report: the first and last lines of long output. */
export function trimOutput(text: string, maxLines = 20, maxChars = 4000): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  let out =
    lines.length > maxLines
      ? [...lines.slice(0, maxLines - 5), `… (${lines.length - maxLines + 1} lines omitted)`, ...lines.slice(-4)].join('\n')
      : lines.join('\n');
  if (out.length > maxChars) out = `${out.slice(0, maxChars)}… (truncated)`;
  return out;
}
