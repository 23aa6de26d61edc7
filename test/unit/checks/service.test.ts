import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { service } from '../../../checks/service.js';
import { fakeFacts, fakeResults, type Script } from '../../helpers/facts.js';
import { FIXTURES } from '../../helpers/servers.js';

/**
 * The service check (is the cache server running, and listening where other machines reach it?)
 * over the real facts layer, fed recorded `systemctl show`, `journalctl`, `ss -ltnpH` and
 * /proc/net/tcp{,6} outputs (fixtures/host, described in fixtures/README.md).
 */
const host = (name: string) => readFileSync(join(FIXTURES, 'host', name), 'utf8');

const SYSTEMD = { '/run/systemd/system': { directory: true } } as const;
const SHOW_ACTIVE = host('systemctl-show-nix-serve-active.txt');
const SHOW_FAILED = host('systemctl-show-nix-serve-failed.txt');
const JOURNAL_FAILED = host('journalctl-nix-serve-failed.txt');
/** nix-serve 0.0.0.0:5000, atticd [::]:8080, sshd 0.0.0.0:22 + [::]:22, cupsd 127.0.0.1:631 + [::1]:631, harmonia 127.0.0.1:5001. */
const SS = host('ss-ltnpH.txt');

/** One block of `systemctl show` output, shaped like the recorded ones. */
function unitBlock(props: Record<string, string>): string {
  return Object.entries({
    MainPID: '0',
    Result: 'success',
    NRestarts: '0',
    ExecMainStartTimestamp: '',
    Environment: '',
    User: '',
    DynamicUser: 'no',
    LoadCredential: '[unprintable]',
    LoadState: 'loaded',
    ActiveState: 'inactive',
    SubState: 'dead',
    ...props,
  })
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}
const notFound = (id: string) => unitBlock({ Id: id, LoadState: 'not-found' });
/** `systemctl show nix-serve.service harmonia.service atticd.service`: one block per unit, in that order. */
const show = (nixServe: string, harmonia: string, atticd: string) => `${[nixServe, harmonia, atticd].join('\n\n')}\n`;

const ssLine = (address: string, port: number, proc: string) =>
  `LISTEN 0      511    ${address}:${port} 0.0.0.0:* users:(("${proc}",pid=4242,fd=3))\n`;

/** A --server run for the cache at URL on this machine, as root. */
function server(script: Script, url = 'http://127.0.0.1:5000') {
  const fake = fakeFacts({ env: { root: true, user: 'root', uid: 0 }, caches: [{ url, role: 'server', local: true }], script });
  return { ...fake, target: fake.caches[0]! };
}

describe('service check: caches it does not judge', () => {
  it.each([
    ['file:///var/cache/nix', 'file', 'a file store has no cache server to check'],
    ['ssh://builder.lan', 'ssh', 'an ssh store has no cache server to check'],
  ])('skips %s, which has no cache server, without looking at the machine', async (url, scheme, summary) => {
    const { facts, target, calls } = server({ exec: { 'ss -ltnpH': SS, 'systemctl show': SHOW_ACTIVE }, files: SYSTEMD }, url);
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('skip');
    expect(f.summary).toBe(summary);
    expect(f.reason).toBe(`${scheme} store`);
    expect(calls).toEqual([]);
  });

  it('skips a cache on another host and tells to run the doctor there with --server --port', async () => {
    const fake = fakeFacts({
      caches: [{ url: 'http://cache.lan:8080', role: 'substituter', local: false }],
      script: { exec: { 'ss -ltnpH': SS } },
    });
    const f = await service.run(fake.facts, fake.caches[0]!, fakeResults());
    expect(f.status).toBe('skip');
    expect(f.reason).toBe('remote cache');
    expect(f.summary).toContain('another host (cache.lan)');
    expect(f.fix).toContain('On cache.lan: nixcache doctor --server --port 8080');
    expect(f.fix).toContain('journalctl -u nix-serve -n 20');
    expect(f.fix?.split('\n')).toContain("  ss -ltnp 'sport = :8080'");
    expect(fake.calls).toEqual([]);
  });
});

describe('service check: when the sockets cannot be listed', () => {
  it('skips when ss fails and /proc/net/tcp cannot be read, still describing the unit', async () => {
    const { facts, target } = server({
      exec: { 'systemctl show': SHOW_ACTIVE, 'ss -ltnpH': { exitCode: 1, stderr: 'Cannot open netlink socket: Permission denied' } },
      files: SYSTEMD,
    });
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('skip');
    expect(f.reason).toBe('no socket list');
    expect(f.summary).toBe('cannot see which sockets listen: neither ss nor /proc/net/tcp could be read');
    expect(f.detail).toContain('nix-serve.service active (running) since Wed 2026-11-25 03:51:59 UTC');
    expect(f.data).toMatchObject({ listenersFrom: 'neither ss nor /proc/net/tcp could be read', listeners: [] });
  });
});

describe('service check: nothing listens on the port', () => {
  it('fails with a fix that enables nix-serve when no known server unit is installed', async () => {
    const { facts, target } = server({
      exec: {
        'systemctl show': show(notFound('nix-serve.service'), notFound('harmonia.service'), notFound('atticd.service')),
        'ss -ltnpH': ssLine('0.0.0.0', 22, 'sshd'),
      },
      files: SYSTEMD,
    });
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('nothing listens on port 5000 on this machine');
    expect(f.detail).toBe('no nix-serve, harmonia or atticd unit is installed');
    expect(f.fix).toBe('Start the cache server: systemctl enable --now nix-serve.service  (NixOS: services.nix-serve.enable = true;)');
    expect(f.data).toMatchObject({ port: 5000, unit: null, systemd: 'available', listeners: [], listenersFrom: 'ss -ltnp' });
  });

  it('names the port in the enable fix when the cache uses a port other than the server default', async () => {
    // The recorded host: nix-serve active on 5000, but the cache is looked for on 5002.
    const { facts, target } = server({ exec: { 'systemctl show': SHOW_ACTIVE, 'ss -ltnpH': SS }, files: SYSTEMD }, 'http://127.0.0.1:5002');
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('nothing listens on port 5002 on this machine');
    expect(f.detail).toContain('nix-serve.service active (running)');
    expect(f.fix).toContain('systemctl enable --now nix-serve.service');
    expect(f.fix).toContain('services.nix-serve.enable = true; and its port 5002');
    expect(f.data).toMatchObject({ port: 5002, listeners: [], unit: { id: 'nix-serve.service', activeState: 'active', mainPid: 251 } });
  });

  it.each([
    ['http://127.0.0.1:8080', false],
    ['http://127.0.0.1:5000', true],
  ])('picks atticd.service and its NixOS option for the start fix when atticd is the installed unit (%s)', async (url, portNamed) => {
    const { facts, target } = server(
      {
        exec: {
          'systemctl show': show(notFound('nix-serve.service'), notFound('harmonia.service'), unitBlock({ Id: 'atticd.service' })),
          'ss -ltnpH': '',
        },
        files: SYSTEMD,
      },
      url,
    );
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.detail).toBe('atticd.service inactive (dead)');
    expect(f.fix).toContain('systemctl enable --now atticd.service');
    expect(f.fix).toContain('services.atticd.enable = true;');
    expect(f.fix).not.toContain('nix-serve');
    if (portNamed) expect(f.fix).toContain('and its port 5000');
    else expect(f.fix).not.toContain('and its port');
  });

  it('picks harmonia.service and its NixOS option for the start fix when harmonia is the installed unit', async () => {
    const { facts, target } = server({
      exec: {
        'systemctl show': show(notFound('nix-serve.service'), unitBlock({ Id: 'harmonia.service' }), notFound('atticd.service')),
        'ss -ltnpH': '',
      },
      files: SYSTEMD,
    });
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.fix).toBe('Start the cache server: systemctl enable --now harmonia.service  (NixOS: services.harmonia.enable = true;)');
    expect(f.data).toMatchObject({ unit: { id: 'harmonia.service', activeState: 'inactive' } });
  });

  it('describes the active unit rather than a failed one when both are installed', async () => {
    const { facts, target } = server({
      exec: {
        'systemctl show': show(
          unitBlock({ Id: 'nix-serve.service', ActiveState: 'failed', SubState: 'failed', Result: 'exit-code' }),
          unitBlock({ Id: 'harmonia.service', ActiveState: 'active', SubState: 'running', MainPID: '77' }),
          notFound('atticd.service'),
        ),
        'ss -ltnpH': '',
      },
      files: SYSTEMD,
    });
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('nothing listens on port 5000 on this machine');
    expect(f.fix).toContain('systemctl enable --now harmonia.service');
    expect(f.data).toMatchObject({ unit: { id: 'harmonia.service', mainPid: 77 } });
  });

  it('describes a failed unit rather than an inactive one listed before it', async () => {
    const { facts, target } = server({
      exec: {
        'systemctl show': show(
          unitBlock({ Id: 'nix-serve.service' }),
          unitBlock({ Id: 'harmonia.service', ActiveState: 'failed', SubState: 'failed', Result: 'signal' }),
          notFound('atticd.service'),
        ),
        'ss -ltnpH': '',
      },
      files: SYSTEMD,
    });
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('harmonia.service has failed (signal) and nothing listens on port 5000');
    expect(f.fix).toContain('systemctl restart harmonia.service');
  });

  it('fails a failed unit with nothing listening, quoting its last journal lines and telling to read the journal and restart', async () => {
    const { facts, target, calls } = server({
      exec: {
        'systemctl show': SHOW_FAILED,
        'journalctl -u nix-serve.service': JOURNAL_FAILED,
        'ss -ltnpH': SS.replace(/.*nix-serve.*\n/, ''),
      },
      files: SYSTEMD,
    });
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('nix-serve.service has failed (exit-code) and nothing listens on port 5000');
    expect(f.detail).toContain('nix-serve.service failed (failed) since Wed 2026-11-25 03:51:50 UTC, restarted 5 times');
    expect(f.detail).toContain('Last journal lines:\n');
    expect(f.detail).toContain('nix-serve.service: Start request repeated too quickly.');
    expect(f.fix).toBe('See why: journalctl -u nix-serve.service -n 50; then systemctl restart nix-serve.service.');
    expect(f.data).toMatchObject({
      unit: { id: 'nix-serve.service', activeState: 'failed', result: 'exit-code', restarts: 5, mainPid: null },
    });
    expect(f.data?.unit).toMatchObject({ execStart: expect.stringContaining('--listen 0.0.0.0:5000') });
    expect(calls).toContain('journalctl -u nix-serve.service -n 20 --no-pager');
  });

  it('fails a failed unit without a journal section when journalctl cannot be read', async () => {
    const { facts, target } = server({ exec: { 'systemctl show': SHOW_FAILED, 'ss -ltnpH': '' }, files: SYSTEMD });
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toContain('has failed (exit-code)');
    expect(f.detail).toBe('nix-serve.service failed (failed) since Wed 2026-11-25 03:51:50 UTC, restarted 5 times');
  });

  it('does not read the journal of a unit that has not failed', async () => {
    const { facts, target, calls } = server({
      exec: { 'systemctl show': SHOW_ACTIVE, 'journalctl -u': JOURNAL_FAILED, 'ss -ltnpH': '' },
      files: SYSTEMD,
    });
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.detail).not.toContain('Last journal lines');
    expect(calls.some((c) => c.startsWith('journalctl'))).toBe(false);
  });

  it('says in the detail that systemd is not running when /run/systemd/system is absent, and does not ask systemctl', async () => {
    const { facts, target, calls } = server({ exec: { 'ss -ltnpH': '', 'systemctl show': SHOW_ACTIVE } });
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('nothing listens on port 5000 on this machine');
    expect(f.detail).toMatch(/^systemd is not running on this machine/);
    expect(f.fix).toContain('systemctl enable --now nix-serve.service');
    expect(f.data).toMatchObject({ unit: null, systemd: expect.stringMatching(/systemd is not running/) });
    expect(calls.some((c) => c.startsWith('systemctl'))).toBe(false);
  });
});

describe('service check: listening on loopback only', () => {
  it('warns when the server listens only on 127.0.0.1, with the bindAddress fix for nix-serve', async () => {
    // The recorded host: harmonia on 127.0.0.1:5001, no systemd.
    const { facts, target } = server({ exec: { 'ss -ltnpH': SS } }, 'http://127.0.0.1:5001');
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(
      'the cache server listens only on 127.0.0.1:5001 (harmonia): this machine can use it, other machines cannot (bindAddress)',
    );
    expect(f.fix).toContain('services.nix-serve.bindAddress = "0.0.0.0";');
    expect(f.fix).toContain('nix-serve --listen 0.0.0.0:5001');
    expect(f.detail).toMatch(/systemd is not running/);
    expect(f.data).toMatchObject({ listeners: [{ address: '127.0.0.1', process: 'harmonia' }] });
  });

  it('gives harmonia its own bind option when harmonia.service is the unit listening on loopback', async () => {
    const { facts, target } = server({
      exec: {
        'systemctl show': show(
          notFound('nix-serve.service'),
          unitBlock({ Id: 'harmonia.service', ActiveState: 'active', SubState: 'running' }),
          notFound('atticd.service'),
        ),
        'ss -ltnpH': ssLine('127.0.0.1', 5000, 'harmonia'),
      },
      files: SYSTEMD,
    });
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('warn');
    expect(f.summary).toContain('listens only on 127.0.0.1:5000 (harmonia)');
    expect(f.detail).toBe('harmonia.service active (running)');
    expect(f.fix).toContain('services.harmonia.settings.bind = "[::]:5000";');
    expect(f.fix).not.toContain('services.nix-serve.bindAddress');
  });

  it('warns when every listener on the port is loopback, IPv6 ::1 included, naming each in brackets', async () => {
    // The recorded host: cupsd on 127.0.0.1:631 and [::1]:631.
    const { facts, target } = server({ exec: { 'ss -ltnpH': SS } }, 'http://127.0.0.1:631');
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('warn');
    expect(f.summary).toContain('listens only on 127.0.0.1:631 (cupsd), [::1]:631 (cupsd)');
  });

  it('does not warn when a loopback listener is joined by one on every interface', async () => {
    const { facts, target } = server({ exec: { 'ss -ltnpH': ssLine('127.0.0.1', 5000, 'a') + ssLine('[::]', 5000, 'b') } });
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('listening on 127.0.0.1:5000 (a), [::]:5000 (b)');
  });
});

describe('service check: listening on every interface', () => {
  it('passes an active unit listening on 0.0.0.0, naming the listener and the unit state', async () => {
    const { facts, target } = server({ exec: { 'systemctl show': SHOW_ACTIVE, 'ss -ltnpH': SS }, files: SYSTEMD });
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('listening on 0.0.0.0:5000 (nix-serve); nix-serve.service active (running) since Wed 2026-11-25 03:51:59 UTC');
    expect(f.detail).toBeUndefined();
    expect(f.fix).toBeUndefined();
    expect(f.data).toMatchObject({
      port: 5000,
      systemd: 'available',
      listeners: [{ address: '0.0.0.0', process: 'nix-serve' }],
      listenersFrom: 'ss -ltnp',
      unit: { id: 'nix-serve.service', activeState: 'active', subState: 'running', restarts: 0 },
    });
  });

  it('passes an active atticd.service listening on [::]', async () => {
    const { facts, target } = server(
      {
        exec: {
          'systemctl show': show(
            notFound('nix-serve.service'),
            notFound('harmonia.service'),
            unitBlock({ Id: 'atticd.service', ActiveState: 'active', SubState: 'running', MainPID: '13555' }),
          ),
          'ss -ltnpH': SS,
        },
        files: SYSTEMD,
      },
      // ss shows an IPv6-only socket as [::] (a dual-stack one as *): the URL names ::1.
      'http://[::1]:8080',
    );
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('listening on [::]:8080 (atticd); atticd.service active (running)');
    expect(f.data).toMatchObject({ listeners: [{ address: '::', process: 'atticd' }], unit: { id: 'atticd.service', mainPid: 13555 } });
  });

  it('reads /proc/net/tcp and tcp6 where ss is not installed, and says systemd is not running in the detail', async () => {
    const files = { '/proc/net/tcp': host('proc-net-tcp.txt'), '/proc/net/tcp6': host('proc-net-tcp6.txt') };
    for (const [url, where] of [
      ['http://127.0.0.1:5000', '0.0.0.0:5000'],
      ['http://127.0.0.1:8080', '[::]:8080'],
    ] as const) {
      const { facts, target } = server({ files }, url);
      const f = await service.run(facts, target, fakeResults());
      expect(f.status).toBe('pass');
      expect(f.summary).toBe(`listening on ${where}`);
      expect(f.detail).toMatch(/^systemd is not running on this machine/);
      expect(f.data).toMatchObject({ listenersFrom: '/proc/net/tcp', unit: null });
    }
  });

  it('says systemctl is not installed in the detail when systemd runs but systemctl is missing', async () => {
    const { facts, target } = server({ exec: { 'ss -ltnpH': SS }, files: SYSTEMD });
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('listening on 0.0.0.0:5000 (nix-serve)');
    expect(f.detail).toBe("'systemctl' is not installed");
  });
});

describe('service check: something listens but the unit is not active', () => {
  it('warns when the port is served while the unit has failed, naming both', async () => {
    const { facts, target } = server({
      exec: { 'systemctl show': SHOW_FAILED, 'journalctl -u nix-serve.service': JOURNAL_FAILED, 'ss -ltnpH': SS },
      files: SYSTEMD,
    });
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(
      'listening on 0.0.0.0:5000 (nix-serve); nix-serve.service failed (failed) since Wed 2026-11-25 03:51:50 UTC, restarted 5 times',
    );
    expect(f.detail).toBeUndefined();
    expect(f.data).toMatchObject({ unit: { activeState: 'failed' }, listeners: [{ address: '0.0.0.0' }] });
  });

  it('warns when the port is served by something else while the installed unit is inactive', async () => {
    const { facts, target } = server(
      {
        exec: {
          'systemctl show': show(notFound('nix-serve.service'), notFound('harmonia.service'), unitBlock({ Id: 'atticd.service' })),
          'ss -ltnpH': SS,
        },
        files: SYSTEMD,
      },
      'http://[::1]:8080',
    );
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('warn');
    expect(f.summary).toBe('listening on [::]:8080 (atticd); atticd.service inactive (dead)');
  });

  it.each([
    ['an IPv4 URL, the server on an IPv6 address only', 'http://10.77.0.1:5000', '[fd77::1]', 'fail'],
    ['an IPv4 URL, the server IPv6-only on [::]', 'http://10.77.0.1:5000', '[::]', 'fail'],
    ['the LAN address in the URL, the server on 127.0.0.1', 'http://10.77.0.1:5000', '127.0.0.1', 'fail'],
    ['an IPv6 URL, the server on 0.0.0.0', 'http://[fd77::1]:5000', '0.0.0.0', 'fail'],
    ['an IPv4 URL, the server dual-stack (ss shows *)', 'http://10.77.0.1:5000', '*', 'pass'],
    ['an IPv6 URL, the server on that address', 'http://[fd77::1]:5000', '[fd77::1]', 'pass'],
  ] as const)('checks the address the URL names against where the server listens: %s', async (_, url, listening, status) => {
    const { facts, target } = server({ exec: { 'ss -ltnpH': ssLine(listening, 5000, 'nix-serve') } }, url);
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe(status);
    if (status === 'fail')
      expect(f.summary).toMatch(/, not on [0-9a-f.:]+, the address the cache's URL names: connections to it are refused$/);
  });
});
