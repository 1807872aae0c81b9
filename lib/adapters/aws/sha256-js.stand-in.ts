/**
 * Stand-in for the SDK's pure-JavaScript SHA-256 (`@smithy/core/.../checksum/sha256/Sha256Js.js`) in the Lambda bundles
 * only (a file stand-in in lib/config/bundling.config.ts). The SDK signs with `node:crypto` and falls back to this class
 * only when `createHash('sha256')` throws, which no Node build does (SHA-256 is in every OpenSSL configuration, FIPS
 * included). ~3 KB per bundle; should the fallback ever be taken, building a hash fails with this error.
 */
export class Sha256Js {
  constructor(_secret?: unknown) {
    throw new Error('node:crypto has no sha256 here, and the Lambda bundles carry no JavaScript fallback (Sha256Js)');
  }
}
