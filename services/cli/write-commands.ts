import { readFileSync } from 'node:fs';
import { assertSafeDocument } from '#events/documents.ts';
import { DomainError } from '#events/errors.ts';
import type { JsonValue } from '#events/metadata.ts';
import { isObject, setPath } from '#events/paths.ts';
import {
  type Command,
  ENV,
  EXIT,
  OUTPUT,
  UsageError,
  environmentId,
  list,
  outputFormat,
  parse,
  positiveInteger,
  serviceId,
} from './command.ts';
import { ApiError, path } from './http-client.ts';
import { type ChangeRequestOpened, printJson, reportPending, reportWrite, type WriteAnswer, write } from './output.ts';

/** Options of every configuration write. */
const CHANGE = { reason: { type: 'string' }, 'if-version': { type: 'string' } } as const;

/** `@file` is the file's contents, `@-` standard input, anything else the text itself. */
export function argumentText(value: string): string {
  if (!value.startsWith('@')) return value;
  const file = value.slice(1);
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file === '-' ? 'standard input' : file}: ${(error as Error).message}`);
  }
}

/**
 * What JSON.parse gives but the API cannot take, said before anything is
 * sent: a number beyond ±1.8e308 (parsed as Infinity, it would be sent as
 * null) and nesting past the document bound (which would also exhaust the
 * stack serializing it). `what` names the input in the message.
 */
export function sendable<T>(value: T, what: string): T {
  try {
    assertSafeDocument(value);
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    if (error.code === 'NUMBER_OUT_OF_RANGE')
      throw new UsageError(`${what} is too large for a JSON number and cannot be stored (--string keeps it as text)`);
    if (error.code === 'DOCUMENT_TOO_DEEP') throw new UsageError(`${what} is nested too deeply: ${error.message}`);
    // Keys and text the server refuses are its to name (INVALID_KEY, INVALID_STRING).
  }
  return value;
}

/** JSON when it parses as JSON, else the text as a string. */
export function jsonOrText(text: string): JsonValue {
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
  return sendable(value, text.length <= 40 ? text : 'a number in VALUE');
}

export const put: Command = {
  usage: `configledger put SERVICE KEY VALUE [--env ENV] [--reason TEXT] [--if-version N] [--string]
                       [--output json|table]

Set one dotted KEY of SERVICE's configuration (missing parents are created; the first key of a service
creates its configuration) as a new version. VALUE is
taken as JSON when it parses as JSON (100, true, {"a":1}, "\\"quoted\\""), else as a string; --string
always takes it as a string. @FILE reads VALUE from a file, @- from standard input. A VALUE starting with - goes after --: put svc offset -- -5.
--if-version refuses the change (VERSION_CONFLICT) unless the configuration is still at version N.`,
  async run(args, session) {
    const { values, positionals } = parse(
      args,
      { ...OUTPUT, ...ENV, ...CHANGE, string: { type: 'boolean' } },
      { min: 3 },
    );
    const output = outputFormat(values.output);
    const [service, key, text] = [serviceId(positionals[0]!), positionals[1]!, argumentText(positionals[2]!)];
    const value = values.string ? text : jsonOrText(text);
    const query = { environment: environmentId(values.env) };
    const expected = positiveInteger(values['if-version'], '--if-version');
    const api = session.api();
    const answer = await api
      .write<WriteAnswer | ChangeRequestOpened>('PUT', path`/configurations/${service}/${key}`, {
        query,
        body: { value, changeReason: values.reason },
        ifMatch: expected,
      })
      .catch((error: unknown) => {
        // Setting a key needs a configuration to set it in: the first key creates one, unless one appeared meanwhile.
        if (!(error instanceof ApiError && error.code === 'CONFIGURATION_NOT_FOUND')) throw error;
        return api.write<WriteAnswer | ChangeRequestOpened>('PUT', path`/configurations/${service}`, {
          query,
          body: { configuration: setPath({}, key, value), changeReason: values.reason },
          ifMatch: expected ?? 0,
        });
      });
    return reportWrite(answer, output);
  },
};

export const patch: Command = {
  usage: `configledger patch SERVICE JSON|@FILE|@- [--env ENV] [--reason TEXT] [--if-version N] [--output json|table]

Apply an RFC 7396 JSON merge patch to SERVICE's configuration as one new version: objects merge key by
key, null removes a key. The patch is given inline, read from a file (@FILE) or from standard input (@-).`,
  async run(args, session) {
    const { values, positionals } = parse(args, { ...OUTPUT, ...ENV, ...CHANGE }, { min: 2 });
    const output = outputFormat(values.output);
    const service = serviceId(positionals[0]!);
    const text = argumentText(positionals[1]!);
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`the patch is not JSON: ${(error as Error).message}`);
    }
    if (!isObject(document)) throw new UsageError('the patch must be a JSON object');
    sendable(document, 'the patch');
    const answer = await session
      .api()
      .write<WriteAnswer | ChangeRequestOpened>('PATCH', path`/configurations/${service}`, {
        query: { environment: environmentId(values.env) },
        body: { patch: document, changeReason: values.reason },
        ifMatch: positiveInteger(values['if-version'], '--if-version'),
      });
    return reportWrite(answer, output);
  },
};

export const rollback: Command = {
  usage: `configledger rollback SERVICE VERSION [--env ENV] [--reason TEXT] [--if-version N] [--output json|table]

Restore VERSION of SERVICE's configuration as a new version (the history is never rewritten).`,
  async run(args, session) {
    const { values, positionals } = parse(args, { ...OUTPUT, ...ENV, ...CHANGE }, { min: 2 });
    const output = outputFormat(values.output);
    const service = serviceId(positionals[0]!);
    const version = positiveInteger(positionals[1], 'VERSION')!;
    const answer = await session
      .api()
      .write<WriteAnswer | ChangeRequestOpened>('POST', path`/configurations/${service}/versions/${version}/rollback`, {
        query: { environment: environmentId(values.env) },
        body: { changeReason: values.reason },
        ifMatch: positiveInteger(values['if-version'], '--if-version'),
      });
    return reportWrite(answer, output);
  },
};

type PromoteAnswer = { from: { environment: string; version: number } } & (
  | ({ status: 'applied' } & WriteAnswer)
  | ({ status: 'pending approval' } & ChangeRequestOpened)
);

export const promote: Command = {
  usage: `configledger promote SERVICE --from ENV --to ENV [--keys a,b] [--reason TEXT] [--if-version N]
                           [--output json|table]

Copy SERVICE's effective configuration in --from (or only the --keys named) into --to as one change,
through the same validation and approval rules; --if-version is the version of --to it was based on.`,
  async run(args, session) {
    const { values, positionals } = parse(
      args,
      { ...OUTPUT, ...CHANGE, from: { type: 'string' }, to: { type: 'string' }, keys: { type: 'string' } },
      { min: 1 },
    );
    const output = outputFormat(values.output);
    if (values.from === undefined || values.to === undefined) throw new UsageError('promote needs --from and --to');
    const service = serviceId(positionals[0]!);
    const keys = list(values.keys);
    const answer = await session.api().write<PromoteAnswer>('POST', path`/configurations/${service}/promote`, {
      body: {
        fromEnvironment: environmentId(values.from, '--from'),
        toEnvironment: environmentId(values.to, '--to'),
        ...(keys && keys.length > 0 ? { keys } : {}),
        changeReason: values.reason,
      },
      ifMatch: positiveInteger(values['if-version'], '--if-version'),
    });
    const data = answer.data;
    if (data.status === 'pending approval') return reportPending(data, output, data);
    if (output === 'json') printJson(data);
    else
      write(
        `promoted ${service} from ${data.from.environment} (version ${data.from.version}) to ${data.environment}: version ${data.version}${
          data.changedKeys.length > 0 ? `, changed ${data.changedKeys.join(', ')}` : ', nothing changed'
        }`,
      );
    return EXIT.done;
  },
};
