import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { service } from '../../checks/service.js';
import { signingKey } from '../../checks/signing-key.js';
import { cacheTarget, fakeFacts, fakeResults, type Script } from '../helpers/facts.js';
import { FIXTURES, KEYS } from '../helpers/servers.js';

/**
 * Checks against scripted adapters (DESIGN.md, Testing): the systemd side of the server checks,
 * which cannot run for real where systemd is not PID 1, fed the outputs recorded from a real
 * systemd 252 (fixtures/host/README in fixtures/README.md).
 */
const host = (name: string) => readFileSync(join(FIXTURES, 'host', name), 'utf8');

const scripted = (script: Script) => fakeFacts({ run: { server: true }, env: { root: true, user: 'root' }, script });

const target = cacheTarget('http://127.0.0.1:5000', 0, 'server', true);
const SYSTEMD = { '/run/systemd/system': { directory: true } };
const listening = 'LISTEN 0      5        0.0.0.0:5000 0.0.0.0:* users:(("python3",pid=251,fd=3))\n';

describe('service check with systemd (recorded systemctl show / journalctl)', () => {
  it('passes an active unit listening on 0.0.0.0, naming its state and start time', async () => {
    const { facts } = scripted({
      exec: { 'systemctl show': host('systemctl-show-nix-serve-active.txt'), 'ss -ltnpH': listening },
      files: SYSTEMD,
    });
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
    expect(f.summary).toContain('nix-serve.service active (running) since Wed 2026-11-25 03:51:59 UTC');
    expect(f.data).toMatchObject({
      unit: { id: 'nix-serve.service', mainPid: 251, execStart: expect.stringContaining('--listen 0.0.0.0:5000') },
    });
  });

  it('fails a failed unit with nothing listening, quoting the journal and the restart count', async () => {
    const { facts, calls } = scripted({
      exec: {
        'systemctl show': host('systemctl-show-nix-serve-failed.txt'),
        'journalctl -u nix-serve.service': host('journalctl-nix-serve-failed.txt'),
        'ss -ltnpH': '',
      },
      files: SYSTEMD,
    });
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('nix-serve.service has failed (exit-code) and nothing listens on port 5000');
    expect(f.detail).toContain('restarted 5 times');
    expect(f.detail).toContain("cannot read secret key file '/run/credentials/nix-serve.service/NIX_SECRET_KEY_FILE'");
    expect(f.fix).toContain('journalctl -u nix-serve.service');
    expect(calls).toContain('journalctl -u nix-serve.service -n 20 --no-pager');
  });

  it('says systemd is not running, and still judges the socket, when /run/systemd/system is absent', async () => {
    const { facts } = scripted({ exec: { 'ss -ltnpH': listening } });
    const f = await service.run(facts, target, fakeResults());
    expect(f.status).toBe('pass');
    expect(f.detail).toMatch(/systemd is not running/);
  });
});

describe('signing-key check reads the key the unit loads (LoadCredential from systemctl cat)', () => {
  it('finds the credential path and derives the public key, never printing the secret', async () => {
    const secret = readFileSync(join(KEYS, 'lan.sec'), 'utf8').trim();
    const credentialPath = '/opt/nixcache-rec/secrets/cache-priv-key.pem';
    const { facts } = scripted({
      // In this recording Environment names only %d/NIX_SECRET_KEY_FILE under /run/credentials:
      // the real path comes from the unit file's LoadCredential= line.
      exec: {
        'systemctl show': host('systemctl-show-nix-serve-failed.txt'),
        'systemctl cat nix-serve.service': host('systemctl-cat-nix-serve.txt'),
      },
      files: { ...SYSTEMD, [credentialPath]: { text: `${secret}\n`, mode: 0o600 } },
    });
    const f = await signingKey.run(facts, fakeResults());
    expect(f.data).toMatchObject({ file: credentialPath, from: 'nix-serve.service LoadCredential' });
    expect(JSON.stringify(f)).toContain(readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim());
    expect(JSON.stringify(f)).not.toContain(secret.split(':')[1] as string);
  });
});
