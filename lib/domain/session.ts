/**
 * Whether session material carries a refresh token. Such a session must outlive its access-token `expiresAt`: when
 * the vendor rotates refresh tokens (CareLink), the stored copy is the only live one, and losing it to an expiry
 * means a person has to log in again in a browser. Stores therefore keep it until it is cleared (the source is
 * removed, its credentials change, or the vendor rejects it), however long the source sits paused or failing.
 */
export function holdsRefreshToken(material: unknown): boolean {
  if (material === null || typeof material !== 'object' || Array.isArray(material)) return false;
  const token = (material as { refreshToken?: unknown }).refreshToken;
  return typeof token === 'string' && token !== '';
}
