import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** The server refused or failed the request: its code and message, exit 1. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Where the API is and who the client is. */
export interface Connection {
  url: string;
  token: string;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface Answer<T> {
  status: number;
  data: T;
}

export interface WriteOptions {
  query?: Query;
  body?: unknown;
  /** The version the change was based on: `If-Match: "<version>"`. */
  ifMatch?: number;
}

export interface ApiClient {
  readonly baseUrl: string;
  readonly token: string;
  read<T>(path: string, query?: Query): Promise<T>;
  /** Every item of a list, page after page (`limit`, `cursor` -> `{items, nextCursor}`). */
  readAll<T>(path: string, query?: Query): Promise<T[]>;
  /** One intended change: one Idempotency-Key, the same on every retry of it. */
  write<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, options?: WriteOptions): Promise<Answer<T>>;
}

/** A path with each interpolated part percent-encoded: path`/configurations/${serviceId}/${key}`. */
export const path = (strings: TemplateStringsArray, ...parts: (string | number)[]): string =>
  strings.reduce((joined, literal, index) => {
    const part = parts[index];
    return joined + literal + (part === undefined ? '' : encodeURIComponent(String(part)));
  }, '');

/** Answers that say nothing was decided yet, or that a retry with the same key settles the outcome. */
const RETRYABLE = new Set([
  'STORE_UNAVAILABLE',
  'OUTCOME_UNKNOWN',
  'SHUTTING_DOWN',
  'READ_MODEL_BEHIND',
  'IDEMPOTENCY_KEY_IN_PROGRESS',
  'RATE_LIMITED',
]);

/** Failures that mean the request never reached the server. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'bad port']);

export interface RetryPolicy {
  attempts: number;
  timeoutMs: number;
  baseDelayMs: number;
}

const DEFAULT_POLICY: RetryPolicy = { attempts: 5, timeoutMs: 30_000, baseDelayMs: 250 };

/** Exponential backoff with jitter, never sooner than the server's Retry-After (up to 10 s). */
function backoff(policy: RetryPolicy, attempt: number, retryAfter: string | null | undefined): number {
  const exponential = Math.min(4_000, policy.baseDelayMs * 2 ** attempt) * (0.5 + Math.random() / 2);
  const asked = Number(retryAfter);
  return Number.isFinite(asked) && asked > 0 ? Math.max(exponential, Math.min(asked, 10) * 1000) : exponential;
}

interface Envelope {
  success?: boolean;
  data?: unknown;
  code?: string;
  error?: string;
  details?: Record<string, unknown>;
}

async function envelopeOf(response: Response): Promise<Envelope | undefined> {
  const text = await response.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as Envelope;
  } catch {
    return { error: text.slice(0, 500) };
  }
}

/**
 * Why a request got no answer (fetch hides the socket's error code in
 * `cause`); undefined when it was never sent, which no retry mends.
 */
function networkReason(error: unknown): string | undefined {
  if (error instanceof Error && error.name === 'TimeoutError') return 'timed out';
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (!cause) return undefined;
  return cause.code ?? cause.message ?? String(cause);
}

export function createApiClient(connection: Connection, policy: RetryPolicy = DEFAULT_POLICY): ApiClient {
  const urlOf = (target: string, query: Query = {}) => {
    const url = new URL(connection.url + target);
    for (const [name, value] of Object.entries(query))
      if (value !== undefined) url.searchParams.set(name, String(value));
    return url;
  };

  async function send<T>(method: string, url: URL, headers: Record<string, string>, body?: string): Promise<Answer<T>> {
    let lastFailure = '';
    let maybeApplied = false;
    for (let attempt = 0; attempt < policy.attempts; attempt++) {
      let response: Response;
      let envelope: Envelope | undefined;
      try {
        response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(policy.timeoutMs) });
        envelope = await envelopeOf(response);
      } catch (error) {
        const reason = networkReason(error);
        if (reason === undefined) throw error;
        lastFailure = reason;
        maybeApplied ||= !NOT_SENT.has(reason);
        if (attempt + 1 < policy.attempts) await sleep(backoff(policy, attempt, undefined));
        continue;
      }
      if (response.ok) return { status: response.status, data: envelope?.data as T };
      const code = envelope?.code ?? `HTTP_${response.status}`;
      const retryable = RETRYABLE.has(code) || [502, 504].includes(response.status);
      if (!retryable || attempt + 1 >= policy.attempts) {
        const hint =
          code === 'NOT_FOUND' && !/\/api\/v1\/?$/.test(connection.url)
            ? ` (CONFIGLEDGER_URL is ${connection.url}: the API is under /api/v1, e.g. http://127.0.0.1:8011/api/v1)`
            : '';
        throw new ApiError(
          response.status,
          code,
          `${envelope?.error ?? response.statusText}${hint}`,
          envelope?.details,
        );
      }
      lastFailure = `${code}: ${envelope?.error ?? response.statusText}`;
      maybeApplied ||= ['OUTCOME_UNKNOWN', 'IDEMPOTENCY_KEY_IN_PROGRESS', 'HTTP_502', 'HTTP_504'].includes(code);
      await sleep(backoff(policy, attempt, response.headers.get('retry-after')));
    }
    const outcome =
      method === 'GET'
        ? ''
        : maybeApplied
          ? '; the change may or may not have been applied: read the history before writing again'
          : '; nothing was sent';
    throw new ApiError(
      0,
      'NO_ANSWER',
      `no answer from ${connection.url} after ${policy.attempts} attempts (${lastFailure})${outcome}`,
    );
  }

  const common = {
    authorization: `Bearer ${connection.token}`,
    accept: 'application/json',
    'user-agent': 'configledger-cli/0.1',
  };

  return {
    baseUrl: connection.url,
    token: connection.token,
    async read<T>(target: string, query?: Query) {
      return (await send<T>('GET', urlOf(target, query), common)).data;
    },
    async readAll<T>(target: string, query: Query = {}) {
      const items: T[] = [];
      let cursor: string | undefined;
      do {
        const page = (
          await send<{ items: T[]; nextCursor?: string | null }>(
            'GET',
            urlOf(target, { ...query, limit: 1000, cursor }),
            common,
          )
        ).data;
        items.push(...page.items);
        // A cursor that does not move on would page forever.
        cursor = page.nextCursor && page.nextCursor !== cursor ? page.nextCursor : undefined;
      } while (cursor);
      return items;
    },
    async write<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', target: string, options: WriteOptions = {}) {
      const headers: Record<string, string> = { ...common, 'idempotency-key': `"${randomUUID()}"` };
      if (options.ifMatch !== undefined) headers['if-match'] = `"${options.ifMatch}"`;
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      const body = options.body === undefined ? undefined : JSON.stringify(options.body);
      return send<T>(method, urlOf(target, options.query), headers, body);
    },
  };
}
