import { type Listener, parseProcNetTcp, parseSs } from '../host/sockets.js';
import { parseSystemctlShow, type UnitProperties } from '../host/systemd.js';
import type { CheckContext, Io } from './types.js';

export interface KnownServer {
  unit: string;
  name: string;
  defaultPort: number;
  /** The NixOS option that makes it listen on every interface. */
  bindFix: string;
  enableFix: string;
}

/** Cache servers the doctor knows (nix-serve-ng runs as nix-serve.service). */
export const KNOWN_SERVERS: readonly KnownServer[] = [
  {
    unit: 'nix-serve.service',
    name: 'nix-serve',
    defaultPort: 5000,
    bindFix: 'services.nix-serve.bindAddress = "0.0.0.0";',
    enableFix: 'services.nix-serve.enable = true;',
  },
  {
    unit: 'harmonia.service',
    name: 'harmonia',
    defaultPort: 5000,
    bindFix: 'services.harmonia.settings.bind = "[::]:5000";',
    enableFix: 'services.harmonia.enable = true;',
  },
  {
    unit: 'atticd.service',
    name: 'atticd',
    defaultPort: 8080,
    bindFix: 'services.atticd.settings.listen = "[::]:8080";',
    enableFix: 'services.atticd.enable = true;',
  },
];

const PROPERTIES =
  'Id,LoadState,ActiveState,SubState,Result,MainPID,ExecMainStartTimestamp,NRestarts,ExecStart,LoadCredential,Environment,User,DynamicUser';

export type SystemdState = { available: true; units: UnitProperties[] } | { available: false; reason: string };

/** What systemd says about the known units. Without systemd as init, says why. */
export async function readSystemdUnits(io: Io): Promise<SystemdState> {
  if (!(await io.fs.exists('/run/systemd/system')))
    return { available: false, reason: 'systemd is not running on this machine (PID 1 is not systemd), so unit states cannot be read' };
  const r = await io.exec('systemctl', ['show', ...KNOWN_SERVERS.map((s) => s.unit), `--property=${PROPERTIES}`, '--no-pager']);
  if (r.missing) return { available: false, reason: "'systemctl' is not installed" };
  if (r.exitCode !== 0) return { available: false, reason: `systemctl show failed: ${r.stderr.trim().split('\n')[0] ?? r.exitCode}` };
  const parsed = parseSystemctlShow(r.stdout);
  if (!parsed.ok) return { available: false, reason: `systemctl show printed something unexpected: ${parsed.error.message}` };
  return { available: true, units: parsed.value.filter((u) => u.LoadState === 'loaded') };
}

/** readSystemdUnits once per run, shared by the checks that need it (and its evidence with them). */
export function systemdState(ctx: CheckContext): Promise<SystemdState> {
  return ctx.once('systemd', readSystemdUnits);
}

/** TCP listening sockets: `ss -ltnpH`, or /proc/net/tcp{,6} where ss is missing; once per run. */
export function listeners(ctx: CheckContext): Promise<{ list: Listener[]; source: string } | { error: string }> {
  return ctx.once('listeners', async (io) => {
    const r = await io.exec('ss', ['-ltnpH']);
    if (!r.missing && r.exitCode === 0) {
      const parsed = parseSs(r.stdout);
      if (parsed.ok) return { list: parsed.value, source: 'ss -ltnp' };
    }
    const list: Listener[] = [];
    for (const [file, v6] of [
      ['/proc/net/tcp', false],
      ['/proc/net/tcp6', true],
    ] as const) {
      const t = await io.fs.readText(file, 4 * 1024 * 1024);
      if (!t.ok) continue;
      const parsed = parseProcNetTcp(t.text, v6);
      if (parsed.ok) list.push(...parsed.value);
    }
    return list.length || r.missing ? { list, source: '/proc/net/tcp' } : { error: 'neither ss nor /proc/net/tcp could be read' };
  });
}
