import { createInterface } from 'node:readline/promises';
import { CREDENTIAL_TYPES, SENSITIVITIES } from '#events/credentials.ts';
import {
  type Command,
  ENV,
  EXIT,
  OUTPUT,
  UsageError,
  environmentId,
  instant,
  list,
  outputFormat,
  parse,
  positiveInteger,
  serviceId,
} from './command.ts';
import { path } from './http-client.ts';
import { type ChangeRequestOpened, note, printJson, printTable, reportPending, write } from './output.ts';
import { argumentText } from './write-commands.ts';

interface Metadata {
  key: string;
  serviceId: string;
  environment: string;
  type: string;
  sensitivity: string;
  version: number;
  expiresAt: string | null;
  nextRotationAt: string | null;
  rotatedAt: string | null;
}

const KEY = /^[a-zA-Z0-9._-]{1,200}$/;
const credentialKey = (value: string) => {
  if (!KEY.test(value)) throw new UsageError(`${value} is not a credential key (letters, digits, . _ -)`);
  return value;
};

/** A secret on the command line is in the shell's history and in `ps`: `@FILE` or `-` (standard input) keep it out. */
const secretText = (value: string) => {
  const text = argumentText(value === '-' ? '@-' : value);
  return value.startsWith('@') || value === '-' ? text.replace(/\r?\n$/, '') : text;
};

const VALUE_HELP = 'VALUE may be @FILE or - (standard input), which keeps it out of the shell history and ps.';

export const credentialsList: Command = {
  usage: `configledger credentials list [--service S] [--env ENV] [--output json|table]

Credential metadata (never values), of every service and environment unless --service or --env narrow it.`,
  async run(args, session) {
    const { values } = parse(args, { ...OUTPUT, service: { type: 'string' }, env: { type: 'string' } });
    const output = outputFormat(values.output);
    const rows = await session.api().readAll<Metadata>('/credentials', {
      serviceId: values.service === undefined ? undefined : serviceId(values.service),
      environment: values.env === undefined ? undefined : environmentId(values.env),
    });
    if (output === 'json') printJson(rows);
    else
      printTable(
        ['key', 'service', 'environment', 'type', 'sensitivity', 'version', 'next rotation', 'expires at'],
        rows.map((row) => [
          row.key,
          row.serviceId,
          row.environment,
          row.type,
          row.sensitivity,
          row.version,
          row.nextRotationAt ?? '',
          row.expiresAt ?? '',
        ]),
      );
    return undefined;
  },
};

export const credentialsGet: Command = {
  usage: `configledger credentials get KEY [--previous] [--output json|table]

Decrypt credential KEY and print its value (recorded in the credential's access log). --previous reads
the value before the last rotation while its grace period lasts.`,
  async run(args, session) {
    const { values, positionals } = parse(args, { ...OUTPUT, previous: { type: 'boolean' } }, { min: 1 });
    const output = outputFormat(values.output);
    const key = credentialKey(positionals[0]!);
    const credential = await session
      .api()
      .read<{ value: string }>(path`/credentials/${key}`, { version: values.previous ? 'previous' : undefined });
    if (output === 'json') printJson(credential);
    else write(credential.value);
    return undefined;
  },
};

export const credentialsStore: Command = {
  usage: `configledger credentials store KEY VALUE --type TYPE --service S [--env ENV] [--sensitivity LEVEL]
                       [--description TEXT] [--expires-at RFC3339] [--rotation-days N] [--granted-to a,b]
                       [--output json|table]

Store a credential, encrypted. TYPE is ${CREDENTIAL_TYPES.join(', ')}; LEVEL is
${SENSITIVITIES.join(', ')} (default internal). ${VALUE_HELP}`,
  async run(args, session) {
    const { values, positionals } = parse(
      args,
      {
        ...OUTPUT,
        ...ENV,
        type: { type: 'string' },
        service: { type: 'string' },
        sensitivity: { type: 'string' },
        description: { type: 'string' },
        'expires-at': { type: 'string' },
        'rotation-days': { type: 'string' },
        'granted-to': { type: 'string' },
      },
      { min: 2 },
    );
    const output = outputFormat(values.output);
    if (!values.type || !(CREDENTIAL_TYPES as readonly string[]).includes(values.type))
      throw new UsageError(`--type is one of ${CREDENTIAL_TYPES.join(', ')}`);
    if (!values.service) throw new UsageError('store needs --service S');
    if (values.sensitivity !== undefined && !(SENSITIVITIES as readonly string[]).includes(values.sensitivity))
      throw new UsageError(`--sensitivity is one of ${SENSITIVITIES.join(', ')}`);
    const key = credentialKey(positionals[0]!);
    const answer = await session.api().write<Metadata | ChangeRequestOpened>('POST', '/credentials', {
      body: {
        key,
        value: secretText(positionals[1]!),
        type: values.type,
        serviceId: serviceId(values.service),
        environment: environmentId(values.env),
        sensitivity: values.sensitivity,
        description: values.description,
        expiresAt: instant(values['expires-at'], '--expires-at'),
        rotationIntervalDays: positiveInteger(values['rotation-days'], '--rotation-days'),
        grantedTo: list(values['granted-to']),
      },
    });
    if (answer.status === 202) return reportPending(answer.data as ChangeRequestOpened, output);
    const stored = answer.data as Metadata;
    if (output === 'json') printJson(stored);
    else write(`stored ${stored.key} for ${stored.serviceId} in ${stored.environment}: version ${stored.version}`);
    return EXIT.done;
  },
};

export const credentialsRotate: Command = {
  usage: `configledger credentials rotate KEY [--value VALUE] [--grace SECONDS] [--reason TEXT] [--output json|table]

Rotate credential KEY to VALUE, or to one generated for its type (certificates must be given). The
previous value still reads for --grace seconds (default 3600). ${VALUE_HELP}`,
  async run(args, session) {
    const { values, positionals } = parse(
      args,
      { ...OUTPUT, value: { type: 'string' }, grace: { type: 'string' }, reason: { type: 'string' } },
      { min: 1 },
    );
    const output = outputFormat(values.output);
    const key = credentialKey(positionals[0]!);
    if (values.grace !== undefined && !/^\d{1,7}$/.test(values.grace))
      throw new UsageError('--grace takes a number of seconds');
    const answer = await session
      .api()
      .write<{ version: number; graceUntil: string | null } | ChangeRequestOpened>(
        'POST',
        path`/credentials/${key}/rotate`,
        {
          body: {
            value: values.value === undefined ? undefined : secretText(values.value),
            gracePeriodSeconds: values.grace === undefined ? undefined : Number(values.grace),
            reason: values.reason,
          },
        },
      );
    if (answer.status === 202) return reportPending(answer.data as ChangeRequestOpened, output);
    const rotated = answer.data as { version: number; graceUntil: string | null };
    if (output === 'json') printJson(rotated);
    else
      write(
        `rotated ${key} to version ${rotated.version}${rotated.graceUntil ? `; the previous value reads until ${rotated.graceUntil}` : ''}`,
      );
    return EXIT.done;
  },
};

export const credentialsDelete: Command = {
  usage: `configledger credentials delete KEY [--yes]

Delete credential KEY for good: its key is destroyed, and no version of it can ever be decrypted again
(crypto-shredding). Asks first on a terminal; elsewhere it needs --yes.`,
  async run(args, session) {
    const { values, positionals } = parse(args, { yes: { type: 'boolean' } }, { min: 1 });
    const key = credentialKey(positionals[0]!);
    if (!values.yes) {
      if (!process.stdin.isTTY) throw new UsageError('deleting a credential cannot be undone: give --yes');
      const prompt = createInterface({ input: process.stdin, output: process.stderr });
      const answer = await prompt.question(`delete ${key}? no value of it can ever be read again [y/N] `);
      prompt.close();
      if (!/^y(es)?$/i.test(answer.trim())) {
        note('not deleted');
        return EXIT.failed;
      }
    }
    await session.api().write('DELETE', path`/credentials/${key}`);
    write(`deleted ${key}`);
    return EXIT.done;
  },
};
