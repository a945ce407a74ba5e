import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError } from './command.ts';
import type { Connection } from './http-client.ts';

interface ProfileFields {
  url?: unknown;
  token?: unknown;
}

interface ProfileFile extends ProfileFields {
  profiles?: Record<string, ProfileFields>;
}

export const profileFile = (env: NodeJS.ProcessEnv): string =>
  join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'configledger', 'config.json');

function readProfileFile(file: string): ProfileFile | undefined {
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigurationError(`${file} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ConfigurationError(
      `${file} must hold an object: {"url": ..., "token": ...} or {"profiles": {"NAME": {...}}}`,
    );
  // A token readable by others is a token shared with them; say so, as ssh does of its keys.
  if ((statSync(file).mode & 0o077) !== 0)
    process.stderr.write(`warning: ${file} is readable by other users; chmod 600 it\n`);
  return parsed as ProfileFile;
}

const text = (value: unknown, file: string, field: string): string | undefined => {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '')
    throw new ConfigurationError(`${file}: ${field} must be a non-empty string`);
  return value;
};

/**
 * The connection: `CONFIGLEDGER_URL` and `CONFIGLEDGER_TOKEN`, each winning
 * over the profile file (`$XDG_CONFIG_HOME/configledger/config.json`, else
 * `~/.config/...`): its top-level `url` and `token`, or the profile named by
 * `--profile` (or `CONFIGLEDGER_PROFILE`) under `profiles`.
 */
export function resolveConnection(env: NodeJS.ProcessEnv, profileName?: string): Connection {
  const file = profileFile(env);
  const named = profileName ?? (env.CONFIGLEDGER_PROFILE || undefined);
  // Both given and no profile named: the file has nothing to add, and a broken one must not stand in the way.
  const contents =
    named === undefined && env.CONFIGLEDGER_URL && env.CONFIGLEDGER_TOKEN ? undefined : readProfileFile(file);
  let fields: ProfileFields = contents ?? {};
  if (named !== undefined) {
    const profile = contents?.profiles?.[named];
    if (!contents) throw new ConfigurationError(`profile ${named}: there is no profile file at ${file}`);
    if (typeof profile !== 'object' || profile === null) {
      const known = Object.keys(contents.profiles ?? {});
      throw new ConfigurationError(
        `profile ${named} is not in ${file}${known.length > 0 ? ` (it has ${known.join(', ')})` : ''}`,
      );
    }
    fields = profile;
  }
  const where = named === undefined ? file : `${file} (profile ${named})`;
  const url = env.CONFIGLEDGER_URL || text(fields.url, where, 'url');
  const token = env.CONFIGLEDGER_TOKEN || text(fields.token, where, 'token');
  const overriding = ['CONFIGLEDGER_URL', 'CONFIGLEDGER_TOKEN'].filter((name) => env[name]);
  if (named !== undefined && overriding.length > 0)
    process.stderr.write(
      `note: ${overriding.join(' and ')} ${overriding.length > 1 ? 'override' : 'overrides'} profile ${named}\n`,
    );
  if (!url)
    throw new ConfigurationError(
      `no API configured: set CONFIGLEDGER_URL (e.g. http://127.0.0.1:8011/api/v1) or ${file}`,
    );
  if (!token) throw new ConfigurationError(`no token configured: set CONFIGLEDGER_TOKEN or "token" in ${file}`);
  // A token that a header cannot carry would be quoted back by fetch's error.
  if (!/^[\x21-\x7e]+$/.test(token)) throw new ConfigurationError('the token holds characters a header cannot carry');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigurationError(`the API URL ${url} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new ConfigurationError(`the API URL ${url} must be http:// or https://`);
  return { url: url.replace(/\/+$/, ''), token };
}
