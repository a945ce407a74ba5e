import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { ApiClient } from './http-client.ts';

/** What scripts can rely on; `--help` of every command says so. */
export const EXIT = { done: 0, failed: 1, usage: 2, pending: 3 } as const;

export const EXIT_STATUS = `Exit status: 0 done; 1 failed or refused (the server's code and message on stderr, e.g.
VERSION_CONFLICT: ...); 2 usage (an unknown command or option, a missing argument, no API configured);
3 held for approval (a change request was opened; nothing is applied until it is approved).`;

/** A mistake in the command line: its usage is printed, exit 2. */
export class UsageError extends Error {}

/** No API or token configured, or a profile file that does not fit: exit 2, without the usage. */
export class ConfigurationError extends UsageError {}

/** The command did not do what was asked; the message says why, exit 1 (no stack trace unless --verbose). */
export class Failed extends Error {}

/** What every command is handed: the API client, configured when a command first asks for it. */
export interface Session {
  api(): ApiClient;
}

export interface Command {
  /** The whole `--help` text. */
  usage: string;
  run(args: string[], session: Session): Promise<number | undefined>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * The command's options and positionals, strictly: an unknown option, a
 * missing or an extra argument is a usage error.
 */
export function parse<const O extends Options>(args: string[], options: O, arity: { min?: number; max?: number } = {}) {
  const min = arity.min ?? 0;
  const max = arity.max ?? min;
  let parsed: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.positionals.length < min) throw new UsageError('missing argument');
  if (parsed.positionals.length > max) throw new UsageError(`unexpected argument: ${parsed.positionals[max]}`);
  return parsed;
}

/** Options most commands share. */
export const OUTPUT = { output: { type: 'string', default: 'table' } } as const;
export const ENV = { env: { type: 'string', default: 'production' } } as const;

export type OutputFormat = 'json' | 'table';

export function outputFormat(value: string): OutputFormat {
  if (value !== 'json' && value !== 'table') throw new UsageError('--output is json or table');
  return value;
}

export function positiveInteger(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9]\d{0,9}$/.test(value)) throw new UsageError(`${option} takes a whole number from 1`);
  return Number(value);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** A version number or an RFC 3339 instant, as the API takes them. */
export function pointInTime(value: string, option: string): string {
  if (/^[1-9]\d{0,9}$/.test(value) || (RFC3339.test(value) && !Number.isNaN(Date.parse(value)))) return value;
  throw new UsageError(`${option} takes a version number or an RFC 3339 instant (2026-11-25T14:02:07Z)`);
}

export function instant(value: string | undefined, option: string): string | undefined {
  if (value === undefined) return undefined;
  if (RFC3339.test(value) && !Number.isNaN(Date.parse(value))) return value;
  throw new UsageError(`${option} takes an RFC 3339 instant (2026-11-25T14:02:07Z)`);
}

const SERVICE_ID = /^[a-z0-9][a-z0-9-]{0,99}$/;
const ENVIRONMENT_ID = /^[a-z][a-z0-9_]{0,49}$/;

export function serviceId(value: string): string {
  if (!SERVICE_ID.test(value))
    throw new UsageError(`${value} is not a service id (lower-case letters, digits, dashes)`);
  return value;
}

export function environmentId(value: string, option = '--env'): string {
  if (!ENVIRONMENT_ID.test(value))
    throw new UsageError(`${option} ${value} is not an environment (lower-case letters, digits, underscores)`);
  return value;
}

/** `a,b` as a list, blanks dropped. */
export const list = (value: string | undefined): string[] | undefined =>
  value
    ?.split(',')
    .map((item) => item.trim())
    .filter(Boolean);
