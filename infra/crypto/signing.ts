import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalJson } from '#infra/json/canonical.ts';

/** HMAC-SHA-256 (hex) of the canonical JSON (RFC 8785) of `value`. */
export const signJson = (key: string, value: unknown): string =>
  createHmac('sha256', key).update(canonicalJson(value)).digest('hex');

export function jsonSignatureValid(key: string, value: unknown, signature: unknown): boolean {
  if (typeof signature !== 'string' || !/^[0-9a-f]{64}$/.test(signature)) return false;
  return timingSafeEqual(Buffer.from(signJson(key, value), 'hex'), Buffer.from(signature, 'hex'));
}
