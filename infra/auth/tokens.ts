import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, type JWTPayload } from 'jose';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

export interface Principal {
  subject: string;
  roles: string[];
  /** Service ids this principal may act on; `*` for all. */
  services: string[];
  /** What authenticated it: a JWT (its `jti`, when it has one) or a service token (its id). */
  credential?: { kind: 'jwt' | 'service-token'; id?: string };
  /** Epoch milliseconds after which the credential no longer holds. */
  expiresAt?: number;
}

/** The `services` claim, else all services, except for a pure `service` principal: only its own. */
export function scopeOf(subject: string, roles: string[], claim: string[] | undefined): string[] {
  if (claim) return claim;
  return roles.length > 0 && roles.every((role) => role === 'service') ? [subject] : ['*'];
}

/**
 * A token refused. `authentic` says it was one this service issued (a valid
 * signature, a known service token) that has expired or been revoked: a client
 * holding on to it is late, not guessing, so it does not count toward a lockout.
 */
export class InvalidToken extends Error {
  constructor(
    message: string,
    readonly authentic = false,
  ) {
    super(message);
  }
}

const ALGORITHM = 'HS256';
const encode = (secret: string) => new TextEncoder().encode(secret);

export type TokenVerifier = (token: string) => Promise<Principal>;

const VERIFIED_CACHE_SIZE = 10_000;

/**
 * The claims a token must carry, checked after the signature: a claim of the
 * wrong shape is a refused token, never a wider grant (a `services` string is
 * not "every service").
 */
const Claims = Type.Object({
  sub: Type.String({ minLength: 1, maxLength: 200 }),
  roles: Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: 20 }),
  services: Type.Optional(Type.Array(Type.String({ pattern: '^(\\*|[a-z0-9][a-z0-9-]{0,99})$' }), { maxItems: 1000 })),
  jti: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  // A token that never expires is one that can never be trusted less: refused.
  exp: Type.Number(),
});
const checkClaims = TypeCompiler.Compile(Claims);

function principalOf(payload: JWTPayload): Principal {
  if (!checkClaims.Check(payload)) {
    const first = checkClaims.Errors(payload).First();
    throw new InvalidToken(`malformed claim ${first?.path.slice(1) || 'set'}: ${first?.message ?? 'invalid'}`);
  }
  return {
    subject: payload.sub,
    roles: payload.roles,
    services: scopeOf(payload.sub, payload.roles, payload.services),
    credential: { kind: 'jwt', ...(payload.jti ? { id: payload.jti } : {}) },
    expiresAt: payload.exp * 1000,
  };
}

/**
 * Verifies HS256 bearer tokens. The key is imported once, and a verified token
 * is remembered (bounded, until its own expiry) so a service polling with the
 * same token does not pay for the signature check on every request.
 */
export function createTokenVerifier(secret: string): TokenVerifier {
  const key = createSecretKey(Buffer.from(secret));
  const verified = new Map<string, { principal: Principal; expiresAt: number }>();
  return async (token) => {
    const known = verified.get(token);
    if (known && known.expiresAt > Date.now()) return known.principal;
    if (known) verified.delete(token);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key, { algorithms: [ALGORITHM] }));
    } catch (error) {
      throw new InvalidToken(
        error instanceof Error ? error.message : 'invalid token',
        (error as { code?: unknown }).code === 'ERR_JWT_EXPIRED',
      );
    }
    const principal = principalOf(payload);
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
    verified.set(token, { principal, expiresAt: principal.expiresAt! });
    return principal;
  };
}

export async function mintToken(
  secret: string,
  principal: { subject: string; roles: string[]; services?: string[] },
  expiresIn = '90d',
): Promise<string> {
  return (
    new SignJWT({ roles: principal.roles, ...(principal.services ? { services: principal.services } : {}) })
      .setProtectedHeader({ alg: ALGORITHM })
      .setSubject(principal.subject)
      // An id of its own, so this one token can be revoked.
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime(expiresIn)
      .sign(encode(secret))
  );
}

export interface AuthSecrets {
  jwtSecret: string;
  /** Set only on the start that created the secret: the admin token to print once. */
  createdAdminToken?: string;
  secretsDir?: string;
}

/**
 * JWT_SECRET when given; otherwise a secret kept (mode 0600) under the data
 * directory, created with an admin token on first start.
 */
export async function loadAuthSecrets(configured: string | undefined, dataDir: string): Promise<AuthSecrets> {
  if (configured) return { jwtSecret: configured };
  const secretsDir = join(dataDir, 'secrets');
  const secretFile = join(secretsDir, 'jwt-secret');
  if (existsSync(secretFile)) return { jwtSecret: readFileSync(secretFile, 'utf8').trim(), secretsDir };
  mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
  const jwtSecret = randomBytes(48).toString('base64url');
  writePrivate(secretFile, jwtSecret);
  const createdAdminToken = await mintToken(jwtSecret, { subject: 'admin', roles: ['admin'] });
  writePrivate(join(secretsDir, 'admin-token'), createdAdminToken);
  return { jwtSecret, createdAdminToken, secretsDir };
}

/**
 * The key that signs chain checkpoints (backup manifests, the Kafka topic):
 * CHAIN_SIGNING_KEY when given, otherwise one kept (mode 0600) with the other
 * secrets under the data directory, created on first use.
 */
export function loadChainSigningKey(configured: string | undefined, dataDir: string): string {
  if (configured) return configured;
  const secretsDir = join(dataDir, 'secrets');
  const keyFile = join(secretsDir, 'chain-signing-key');
  if (existsSync(keyFile)) return readFileSync(keyFile, 'utf8').trim();
  mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32).toString('hex');
  writePrivate(keyFile, key);
  return key;
}

/** A secret a tool beside the service needs and that only the service creates. */
export class MissingSecret extends Error {}

/**
 * For tools beside the service (the CLI): the secret from its variable, else
 * the one the service keeps under its data directory; never a new one, which
 * would sign what the service refuses.
 */
export function existingSecret(
  configured: string | undefined,
  dataDir: string,
  file: 'jwt-secret' | 'chain-signing-key',
  variable: 'JWT_SECRET' | 'CHAIN_SIGNING_KEY',
): string {
  if (configured) return configured;
  const path = join(dataDir, 'secrets', file);
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  throw new MissingSecret(
    `no ${file} in ${join(dataDir, 'secrets')} (the service creates it there on its first start): set ${variable}, or DATA_DIR to the service's data directory`,
  );
}

function writePrivate(file: string, content: string): void {
  writeFileSync(file, `${content}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}
