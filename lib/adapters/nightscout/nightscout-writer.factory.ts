/**
 * Chooses the Nightscout writer for a target: API v1 (default; `api-secret` or token) or v3 (JWT from an access
 * token). Writers are cached per target and credential so a warm process reuses its v3 JWT for its lifetime.
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '../../domain/errors.js';
import type { NightscoutTarget, SourceCredentials } from '../../domain/source.js';
import type { NightscoutWriter } from '../../ports/nightscout.writer.port.js';
import { NightscoutV1Writer } from './nightscout-v1.writer.js';
import { NightscoutV3Writer } from './nightscout-v3.writer.js';

const writers = new Map<string, NightscoutWriter>();

export function nightscoutWriterFor(
  target: NightscoutTarget,
  credentials: SourceCredentials['nightscout'],
): NightscoutWriter {
  // The cache key holds a digest, never the secret itself.
  const key = createHash('sha256')
    .update(JSON.stringify([target, credentials]))
    .digest('hex');
  let writer = writers.get(key);
  if (!writer) {
    if (target.apiVersion === 'v3') {
      if (!credentials.token)
        throw new ConfigError([
          'CONNECT_NIGHTSCOUT_API_VERSION=v3 needs an access token (CONNECT_NIGHTSCOUT_TOKEN): API v3 does not accept the API secret',
        ]);
      writer = new NightscoutV3Writer({ endpoint: target.endpoint, token: credentials.token });
    } else {
      writer = new NightscoutV1Writer({
        endpoint: target.endpoint,
        apiSecret: credentials.apiSecret,
        token: credentials.token,
      });
    }
    writers.set(key, writer);
  }
  return writer;
}
