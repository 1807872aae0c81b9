/**
 * Stand-in for the SDK's region lookup in the EC2 instance metadata service
 * (`@smithy/core/.../regionConfig/getInstanceMetadataRegion.js`) in the Lambda bundles only (a file stand-in in
 * lib/config/bundling.config.ts). The SDK asks it when the environment names no region (Lambda always sets
 * AWS_REGION) or, in the `auto` defaults mode, when AWS_EXECUTION_ENV is unset (Lambda always sets it). Lambda has no
 * instance metadata service, so the real lookup answers `undefined` there after up to a second of timeouts; this
 * answers the same at once.
 */
export const getInstanceMetadataRegion = async (): Promise<string | undefined> => undefined;
