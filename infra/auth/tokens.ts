import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, jwtVerify } from 'jose';

export interface Principal {
  subject: string;
  roles: string[];
}

export class InvalidToken extends Error {}

const ALGORITHM = 'HS256';
const encode = (secret: string) => new TextEncoder().encode(secret);

export async function verifyToken(token: string, secret: string): Promise<Principal> {
  try {
    const { payload } = await jwtVerify(token, encode(secret), { algorithms: [ALGORITHM] });
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new InvalidToken('the token has no subject');
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((role): role is string => typeof role === 'string') : [];
    return { subject: payload.sub, roles };
  } catch (error) {
    if (error instanceof InvalidToken) throw error;
    throw new InvalidToken(error instanceof Error ? error.message : 'invalid token');
  }
}

export async function mintToken(secret: string, principal: Principal, expiresIn = '90d'): Promise<string> {
  return new SignJWT({ roles: principal.roles })
    .setProtectedHeader({ alg: ALGORITHM })
    .setSubject(principal.subject)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(encode(secret));
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
export async function loadAuthSecrets(env: NodeJS.ProcessEnv, dataDir: string): Promise<AuthSecrets> {
  if (env.JWT_SECRET) {
    if (env.JWT_SECRET.length < 32) throw new Error('JWT_SECRET must be at least 32 characters');
    return { jwtSecret: env.JWT_SECRET };
  }
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

function writePrivate(file: string, content: string): void {
  writeFileSync(file, `${content}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}
