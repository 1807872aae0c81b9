/**
 * The CLI knows vendors only through their declarations: kind lists in help, the secret mapping, the login command
 * for vendors that declare one, and check-login for those that allow it. No vendor is named in lib/cli.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../lib/cli/cli.main.js';
import { credentialsAsEnv, isSecretKey, placeholderSecrets, secretStrings } from '../../../lib/cli/read-secret.js';
import { parseConnectSource } from '../../../lib/config/connect-env.config.js';
import { KIND_LIST, VENDORS } from '../../../lib/sources/vendor.catalog.js';

async function cli(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    env,
  });
  return { code, stdout, stderr };
}

describe('help derives from the registered vendors', () => {
  it('sources add lists every kind; the main help and login help list the vendors with an interactive login', async () => {
    expect((await cli(['sources', 'add', '--help'])).stdout).toContain(`CONNECT_SOURCE: ${KIND_LIST}`);
    const main = await cli(['--help']);
    for (const vendor of VENDORS.filter((v) => v.login)) expect(main.stdout).toContain(`login --source ${vendor.kind}`);
    const login = await cli(['login', '--help']);
    expect(login.stdout).toContain('nightscout-connect login --source minimedcarelink');
    expect(login.stdout).toContain('minimedcarelink (Medtronic CareLink)');
  });

  it('lib/cli names no vendor kind: everything comes from the declarations', () => {
    const dir = new URL('../../../lib/cli/', import.meta.url);
    for (const file of readdirSync(dir)) {
      const code = readFileSync(new URL(file, dir), 'utf8');
      for (const vendor of VENDORS) {
        for (const name of [vendor.kind, ...vendor.aliases]) {
          // "nightscout" is also the target everywhere, so for it only a comparison with the kind counts.
          const pattern = name === 'nightscout' ? `(===|!==|case)\\s*['"\`]${name}['"\`]` : `\\b${name}\\b`;
          expect(code, `${file} names ${name}`).not.toMatch(new RegExp(pattern));
        }
      }
    }
  });
});

describe('login and check-login follow the declarations', () => {
  it('refuses an interactive login for a vendor that logs in with its stored password', async () => {
    const { code, stderr } = await cli(['login', '--source', 'dexcomshare'], {});
    expect(code).toBe(2);
    expect(stderr).toContain(
      `login is only needed for ${VENDORS.filter((v) => v.login)
        .map((v) => v.kind)
        .join(', ')}; dexcomshare logs in with the stored password`,
    );
    expect(stderr).toContain('minimedcarelink');
  });
});

describe('secret mapping', () => {
  it('treats every declared secret variable as secret, ignored ones included', () => {
    for (const vendor of VENDORS) {
      for (const spec of Object.values(vendor.secrets)) expect(isSecretKey(spec.variable), spec.variable).toBe(true);
      for (const variable of vendor.ignoredSecrets) expect(isSecretKey(variable), variable).toBe(true);
    }
    expect(isSecretKey('CONNECT_SHARE_REGION')).toBe(false);
  });

  it("round-trips each vendor's credentials through CONNECT_* variables under the declared keys", () => {
    for (const vendor of VENDORS) {
      const values: Record<string, string> = {};
      for (const [key, spec] of Object.entries(vendor.secrets)) values[spec.variable] = `value-of-${key}`;
      const env = {
        CONNECT_SOURCE: vendor.kind,
        CONNECT_NIGHTSCOUT_ENDPOINT: 'https://ns.example.org',
        CONNECT_API_SECRET: 'api-secret-0123456',
        ...values,
      };
      const vendorCredentials = Object.fromEntries(Object.keys(vendor.secrets).map((key) => [key, `value-of-${key}`]));
      expect(
        credentialsAsEnv(vendor.kind, { vendor: vendorCredentials, nightscout: { apiSecret: 'api-secret-0123456' } }),
      ).toEqual({ ...values, CONNECT_API_SECRET: 'api-secret-0123456' });
      // The config loader stores them under the same keys (settings validation aside).
      let parsedVendor: Record<string, string> | undefined;
      try {
        parsedVendor = parseConnectSource(env).credentials.vendor;
      } catch {
        parsedVendor = undefined; // settings a vendor requires are not given here; the mapping is checked above
      }
      if (parsedVendor) expect(parsedVendor).toEqual(vendorCredentials);
    }
  });

  it('fills placeholders only for missing required secrets, honouring a stand-in the vendor declares', () => {
    expect(Object.keys(placeholderSecrets('dexcomshare', {})).sort()).toEqual([
      'CONNECT_API_SECRET',
      'CONNECT_SHARE_ACCOUNT_NAME',
      'CONNECT_SHARE_PASSWORD',
    ]);
    expect(Object.keys(placeholderSecrets('nightscout', {})).sort()).toEqual([
      'CONNECT_API_SECRET',
      'CONNECT_SOURCE_API_SECRET',
    ]);
    expect(
      Object.keys(placeholderSecrets('nightscout', { CONNECT_SOURCE_TOKEN: 't', CONNECT_API_SECRET: 's' })),
    ).toEqual([]);
    expect(Object.keys(placeholderSecrets('minimedcarelink', { CONNECT_API_SECRET: 's' }))).toEqual([
      'CONNECT_CARELINK_REFRESH_TOKEN',
    ]);
  });

  it('does not mask what a vendor declares public (an OAuth client id printed in the login URL)', () => {
    expect(
      secretStrings({ vendor: { clientId: 'client-id-1', tokenUrl: 'https://t.example', refreshToken: 'rt-secret' } }),
    ).toEqual(['rt-secret']);
  });
});
