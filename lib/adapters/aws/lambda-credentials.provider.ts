/**
 * Stand-in for `@aws-sdk/credential-provider-node` in the Lambda bundles only (an esbuild alias in
 * lib/config/bundling.config.ts). Lambda always hands a function its role's credentials in the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), so the default chain's SSO, INI, process,
 * web-identity, container and instance-metadata providers (with the STS and SSO clients they bring, ~100 KB
 * minified) can never answer there. The CLI and local runs keep the full chain: they are not bundled with this alias.
 *
 * Same export as the real package: `defaultProvider(init)` returns a credential provider. It reads the environment
 * on every call, as the SDK's env provider does; the client memoises the result.
 */

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export class LambdaCredentialsMissingError extends Error {
  override readonly name = 'LambdaCredentialsMissingError';
  /** The SDK's credential chains look at this flag; nothing follows this provider. */
  readonly tryNextLink = false;
}

export function defaultProvider(_init: unknown = {}): () => Promise<Credentials> {
  return async () => {
    const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) {
      throw new LambdaCredentialsMissingError(
        'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set: this bundle takes credentials only from the Lambda environment',
      );
    }
    const sessionToken = process.env.AWS_SESSION_TOKEN;
    const expiry = process.env.AWS_CREDENTIAL_EXPIRATION;
    return {
      accessKeyId,
      secretAccessKey,
      ...(sessionToken ? { sessionToken } : {}),
      ...(expiry ? { expiration: new Date(expiry) } : {}),
    };
  };
}
