/**
 * The browser-assisted first CareLink login (OAuth 2 authorization code + PKCE S256). Medtronic's Auth0 login shows
 * CAPTCHA and MFA, so a person logs in in a real browser; we only build the authorize URL and exchange the code the
 * browser lands with. The result is a refresh token for the credential store (see carelink.source.ts for how it then
 * rotates). Nothing here prints, logs or puts into an error a token, code or verifier.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SourceRejectedError } from '../../domain/errors.js';
import type { CareLinkSettings } from './carelink.settings.js';
import { discoverCareLinkSso, requestCareLinkTokens } from './carelink-oauth.client.js';

export interface PendingCareLinkLogin {
  /** Open this in a browser. */
  authorizeUrl: string;
  /** Secret until the login completes (CSRF binding of the redirect). */
  state: string;
  /** Secret PKCE verifier; only its S256 challenge is in the URL. */
  codeVerifier: string;
  redirectUri: string;
  clientId: string;
  tokenUrl: string;
}

/** What goes into the credential store as `vendor`. */
export interface CareLinkVendorCredentials extends Record<string, string> {
  refreshToken: string;
  clientId: string;
  tokenUrl: string;
}

export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

export async function startCareLinkLogin(settings: CareLinkSettings): Promise<PendingCareLinkLogin> {
  const sso = await discoverCareLinkSso(settings);
  // 32 random bytes → 43 base64url characters: the RFC 7636 minimum length, full entropy.
  const codeVerifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const url = new URL(sso.authorizeUrl);
  const params: Record<string, string> = {
    client_id: sso.clientId,
    response_type: 'code',
    scope: sso.scope,
    redirect_uri: sso.redirectUri,
    code_challenge: pkceChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    ...(sso.audience ? { audience: sso.audience } : {}),
  };
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return {
    authorizeUrl: url.href,
    state,
    codeVerifier,
    redirectUri: sso.redirectUri,
    clientId: sso.clientId,
    tokenUrl: sso.tokenUrl,
  };
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Verify the redirect (same login, no error) and exchange its code for tokens. */
export async function completeCareLinkLogin(
  settings: CareLinkSettings,
  pending: PendingCareLinkLogin,
  redirectedUrl: string,
  now: number = Date.now(),
): Promise<CareLinkVendorCredentials> {
  let url: URL;
  try {
    url = new URL(redirectedUrl.trim());
  } catch {
    throw new SourceRejectedError(
      `That is not a URL; paste the full address that starts with ${pending.redirectUri}`,
      'CARELINK.LOGIN_BAD_URL',
    );
  }
  const params = url.searchParams;
  const error = params.get('error');
  if (error) {
    const code = /^[a-z_]{1,40}$/.test(error) ? error : 'error';
    throw new SourceRejectedError(
      `CareLink login did not complete (${code}); start the login again`,
      'CARELINK.LOGIN_DENIED',
    );
  }
  const state = params.get('state');
  if (!state || !sameSecret(state, pending.state)) {
    // A stale tab or a URL from another attempt: exchanging it would bind the wrong login.
    throw new SourceRejectedError(
      'That URL belongs to a different login attempt; start the login again and use the newest browser tab',
      'CARELINK.LOGIN_STATE_MISMATCH',
    );
  }
  const code = params.get('code');
  if (!code)
    throw new SourceRejectedError(
      'That URL carries no authorization code; paste the full address you landed on',
      'CARELINK.LOGIN_NO_CODE',
    );

  const tokens = await requestCareLinkTokens(
    {
      tokenUrl: pending.tokenUrl,
      clientId: pending.clientId,
      timeoutMs: settings.httpTimeoutMs,
      now,
      rejectedCode: 'CARELINK.LOGIN_CODE_REJECTED',
    },
    { grant_type: 'authorization_code', code, code_verifier: pending.codeVerifier, redirect_uri: pending.redirectUri },
  );
  return { refreshToken: tokens.refreshToken, clientId: tokens.clientId, tokenUrl: tokens.tokenUrl };
}

export interface CareLinkLoginCommandOptions {
  settings: CareLinkSettings;
  prompt: (question: string) => Promise<string>;
  print: (line: string) => void;
  /** Persist the vendor credentials (the CLI merges them into the source's credential entry). */
  store: (vendorCredentials: CareLinkVendorCredentials) => Promise<void>;
  now?: () => number;
}

/** Interactive flow for the `login` command: print the URL, read back the landing URL, store the tokens silently. */
export async function runCareLinkLoginCommand(
  options: CareLinkLoginCommandOptions,
): Promise<{ clientId: string; tokenUrl: string }> {
  const { settings, prompt, print, store } = options;
  const pending = await startCareLinkLogin(settings);
  print('CareLink login (Medtronic CarePartner). Open this address in a browser and log in with the CareLink account:');
  print('');
  print(`  ${pending.authorizeUrl}`);
  print('');
  print(`After logging in, the browser is sent to an address that starts with ${pending.redirectUri}`);
  print('It may show an error page or nothing at all: that is expected. Copy that full address (if the page stays');
  print(
    'blank, open the developer tools, Network tab, and copy the request URL that starts with it) and paste it here.',
  );
  const answer = await prompt('Paste the full URL you landed on: ');
  const credentials = await completeCareLinkLogin(settings, pending, answer, (options.now ?? Date.now)());
  await store(credentials);
  print(
    'CareLink tokens stored. The source will use them from its next frame; run this login again if CareLink is ever',
  );
  print('reported as "auth rejected".');
  return { clientId: credentials.clientId, tokenUrl: credentials.tokenUrl };
}
