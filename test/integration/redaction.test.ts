import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { CACHES, KEYS, type Running, serveCache } from '../helpers/servers.js';

/**
 * The redaction audit: secrets planted everywhere a user keeps them — a substituter URL, a netrc,
 * NIX_CONFIG's access-tokens, a cache's secret key file, the environment — and every output the
 * doctor can produce (table, -v table, JSON, Markdown report, stderr) searched for each of them.
 */
const SECRETS = {
  urlPassword: 'url-pass-1357-Zq',
  netrcPassword: 'netrc-pass-2468-Yw',
  accessToken: 'ghp_accessToken9999Xv',
  envToken: 'cachix-env-token-8642-Uu',
  secretKey: readFileSync(join(KEYS, 'backup.sec'), 'utf8').trim().split(':')[1] as string,
};

describe('redaction audit', () => {
  let urlAuth: Running;
  let netrcAuth: Running;
  beforeAll(async () => {
    urlAuth = await serveCache(join(CACHES, 'signed-lan'), { auth: { user: 'alice', password: SECRETS.urlPassword } });
    netrcAuth = await serveCache(join(CACHES, 'signed-lan'), { auth: { user: 'bob', password: SECRETS.netrcPassword } });
  });
  afterAll(async () => {
    await urlAuth.close();
    await netrcAuth.close();
  });

  it('keeps every planted secret out of the table, -v, JSON, the report and stderr', async () => {
    const urlWithPassword = urlAuth.url.replace('http://', `http://alice:${SECRETS.urlPassword}@`);
    const netrcCache = netrcAuth.url.replace('127.0.0.1', 'localhost');
    const { dir, env } = nixConf(
      [
        `substituters = ${urlWithPassword} ${netrcCache}`,
        `netrc-file = NETRC`,
        // Junk that quotes secrets back: an unknown setting and an illegal line.
        `cachix-auth-token = ${SECRETS.envToken}`,
        `this line is not a setting ${SECRETS.envToken}`,
        '',
      ].join('\n'),
      { netrc: `machine localhost login bob password ${SECRETS.netrcPassword}\n` },
    );
    const confFile = join(dir, 'nix.conf');
    const conf = readFileSync(confFile, 'utf8').replace('NETRC', join(dir, 'netrc'));
    const runEnv = {
      ...env,
      NIX_CONF_DIR: dir,
      NIX_CONFIG: `access-tokens = github.com=${SECRETS.accessToken}`,
      CACHIX_AUTH_TOKEN: SECRETS.envToken,
    };
    await import('node:fs').then((fs) => fs.writeFileSync(confFile, conf));
    const secretArgs = ['--server', '--port', String(urlAuth.port), '--secret-key-file', join(KEYS, 'backup.sec')];
    const reportFile = join(dir, 'report.md');

    const runs = await Promise.all([
      runCli(['doctor', ...secretArgs], { env: runEnv }),
      runCli(['doctor', '-v', ...secretArgs], { env: runEnv }),
      runCli(['doctor', '--json', '-v', ...secretArgs], { env: runEnv }),
      runCli(['doctor', '--report', reportFile, ...secretArgs], { env: runEnv }),
      runCli(['doctor', '--report', ...secretArgs], { env: runEnv }),
    ]);
    // The secrets did their work: the URL and netrc credentials were sent and accepted.
    const report = parseReport((runs[2] as { stdout: string }).stdout);
    expect(checkOf(report, 'cache-info', urlWithPassword.replace(SECRETS.urlPassword, '***')).status).toBe('pass');
    expect(checkOf(report, 'cache-info', netrcCache).status).toBe('pass');
    expect(checkOf(report, 'signing-key').summary).toMatch(/backup-cache-1/);

    const outputs = [...runs.flatMap((r) => [r.stdout, r.stderr]), readFileSync(reportFile, 'utf8')];
    for (const [name, secret] of Object.entries(SECRETS)) {
      for (const [i, text] of outputs.entries()) {
        expect(text.includes(secret), `${name} leaked into output ${i}`).toBe(false);
        expect(text.includes(encodeURIComponent(secret)), `${name} (URL-encoded) leaked into output ${i}`).toBe(false);
      }
    }
    // What stands in for them is visible, so a reader knows something was there.
    expect(outputs.some((o) => o.includes('alice:***@'))).toBe(true);
  });
});

describe('redaction by structure, where no parser could register the secret', () => {
  it('hides URL passwords with @ and /, credential query values, a broken access-tokens line and a quoted netrc password', async () => {
    const planted = {
      atPassword: 'P@SSW0RD-at-4711',
      slashPassword: 'pa/ss-slash-0815',
      apiKey: 'apikey-9a8b7c6d',
      sig: 'sigvalue-1f2e3d',
      brokenToken: 'ghp_brokenLine7777Qq',
      quotedNetrc: 'quoted netrc 5150',
    };
    const { dir, env } = nixConf(
      [
        `substituters = http://alice:${planted.atPassword}@127.0.0.1:9 http://bob:${planted.slashPassword}@127.0.0.1:9/x https://127.0.0.1:9/c?api_key=${planted.apiKey}&sig=${planted.sig}`,
        // The line someone attaches to a ticket: '=' missing, so Nix (and the doctor) quote it back as illegal.
        `access-tokens github.com=${planted.brokenToken}`,
        'netrc-file = NETRC',
        '',
      ].join('\n'),
      { netrc: `machine 127.0.0.1 login carol password "${planted.quotedNetrc}" port 443\n` },
    );
    const confFile = join(dir, 'nix.conf');
    await import('node:fs').then((fs) => fs.writeFileSync(confFile, readFileSync(confFile, 'utf8').replace('NETRC', join(dir, 'netrc'))));
    const reportFile = join(dir, 'report.md');
    const runs = await Promise.all([
      runCli(['doctor', '--timeout', '1'], { env }),
      runCli(['doctor', '-v', '--timeout', '1'], { env }),
      runCli(['doctor', '--json', '-v', '--timeout', '1', '--report', reportFile], { env }),
      runCli(['doctor', '--report', '--timeout', '1'], { env }),
    ]);
    const outputs = [...runs.flatMap((r) => [r.stdout, r.stderr]), readFileSync(reportFile, 'utf8')];
    expect(outputs.join('\n')).toContain('illegal configuration line');
    for (const [name, secret] of Object.entries(planted)) {
      for (const [i, text] of outputs.entries()) {
        for (const piece of [secret, encodeURIComponent(secret), ...secret.split(/[@/ ]/).filter((p) => p.length >= 5)]) {
          expect(text.includes(piece), `${name} (${piece}) leaked into output ${i}`).toBe(false);
        }
      }
    }
    expect(outputs.some((o) => o.includes('alice:***@127.0.0.1:9'))).toBe(true);
    expect(outputs.some((o) => o.includes('api_key=***'))).toBe(true);
  });
});

describe('garbage nix.conf, end to end', () => {
  it('still prints one schema-valid JSON document, exit 0 or 1, and no stack trace', async () => {
    const texts = fc.sample(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc
          .array(
            fc.oneof(fc.constantFrom('substituters =', 'include', '!include x', '= =', 'extra-', '\\', '"'), fc.string({ maxLength: 20 })),
            { maxLength: 30 },
          )
          .map((a) => a.join(' \n')),
      ),
      { numRuns: 6, seed: 20261125 },
    );
    for (const text of texts) {
      const { env } = nixConf(text);
      const r = await runCli(['doctor', '--json', '--only', 'config,trust,priority', '--timeout', '1'], { env });
      parseReport(r.stdout);
      expect([0, 1]).toContain(r.exitCode);
      expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
  });
});
