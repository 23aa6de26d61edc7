import { err, ok, type Result } from '../nix/result.js';

export type UnitProperties = Record<string, string>;

/**
 * Parses `systemctl show UNIT… --property=…`: blocks of `Key=Value` lines, one block per unit,
 * separated by a blank line.
 */
export function parseSystemctlShow(text: string): Result<UnitProperties[]> {
  const units: UnitProperties[] = [];
  let current: UnitProperties = {};
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') {
      if (Object.keys(current).length) units.push(current);
      current = {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) return err('malformed', `line ${index + 1} is not 'Key=Value': '${line.slice(0, 60)}'`, index + 1);
    current[line.slice(0, eq)] = line.slice(eq + 1);
  }
  if (Object.keys(current).length) units.push(current);
  return ok(units);
}

/** `{ path=/nix/store/…/bin/nix-serve ; argv[]=nix-serve --listen 0.0.0.0:5000 ; … }` → the argv words. */
export function execStartArgv(execStart: string | undefined): string[] {
  const m = /argv\[\]=([^;]*)/.exec(execStart ?? '');
  return m ? (m[1] as string).trim().split(/\s+/) : [];
}

/** The listen address and port a known cache server's command line asks for. */
export function listenFromArgv(argv: string[]): { host: string; port: number } | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value =
      a.includes('=') && /^--(listen|bind|port)=/.test(a)
        ? a.split('=')[1]
        : ['--listen', '-l', '--bind', '--port', '-p'].includes(a)
          ? argv[i + 1]
          : undefined;
    if (!value) continue;
    if (/^\d+$/.test(value)) return { host: '*', port: Number(value) };
    const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(value);
    if (m) return { host: m[1] || '*', port: Number(m[2]) };
  }
  return undefined;
}

/**
 * The credentials systemd hands a unit, `NAME:PATH` items. `systemctl show` prints `LoadCredential=[unprintable]`
 * (systemd 252), so the doctor reads them from the unit file text (`systemctl cat`): every `LoadCredential=` line,
 * drop-ins included, an empty assignment clearing what came before.
 */
export function loadCredentials(value: string | undefined): Record<string, string> {
  let out: Record<string, string> = {};
  const lines = (value ?? '').split('\n');
  const fromUnitFile = lines.some((l) => /^\s*LoadCredential\s*=/.test(l));
  for (const line of lines) {
    const rhs = fromUnitFile ? /^\s*LoadCredential\s*=(.*)$/.exec(line)?.[1] : line;
    if (rhs === undefined) continue;
    if (fromUnitFile && !rhs.trim()) out = {};
    for (const part of rhs.trim().split(/\s+/)) {
      const colon = part.indexOf(':');
      if (colon > 0) out[part.slice(0, colon)] = part.slice(colon + 1);
    }
  }
  return out;
}
