import type { ValueChange } from '#events/configuration.ts';
import type { JsonObject, JsonValue } from '#events/metadata.ts';
import {
  type Command,
  ENV,
  OUTPUT,
  UsageError,
  environmentId,
  instant,
  outputFormat,
  parse,
  pointInTime,
  positiveInteger,
  serviceId,
} from './command.ts';
import { path } from './http-client.ts';
import { describeChange, leaves, printJson, printTable, write } from './output.ts';

interface ServiceSummary {
  serviceId: string;
  environments: { environment: string; version: number; checksum: string; updatedAt: string; updatedBy: string }[];
  lastChangedAt: string;
}

export const services: Command = {
  usage: `configledger services [--prefix P] [--env ENV] [--output json|table]

List every service that has a configuration, with each environment's version and last change
(all environments unless --env names one). Follows the pages of GET /configurations to the end.`,
  async run(args, session) {
    const { values } = parse(args, { ...OUTPUT, prefix: { type: 'string' }, env: { type: 'string' } });
    const output = outputFormat(values.output);
    const environment = values.env === undefined ? undefined : environmentId(values.env);
    const items = await session
      .api()
      .readAll<ServiceSummary>('/configurations', { prefix: values.prefix, environment });
    if (output === 'json') printJson(items);
    else
      printTable(
        ['service', 'environment', 'version', 'updated at', 'updated by'],
        items.flatMap((item) =>
          item.environments.map((env) => [item.serviceId, env.environment, env.version, env.updatedAt, env.updatedBy]),
        ),
      );
    return undefined;
  },
};

interface ConfigurationView {
  serviceId: string;
  environment: string;
  configuration: JsonObject;
  version: number;
  checksum: string;
  position: number;
  updatedAt: string;
  updatedBy: string;
  inheritedFrom?: string[];
}

export const get: Command = {
  usage: `configledger get SERVICE [KEY] [--env ENV] [--as-of RFC3339 | --version N] [--min-position N]
                       [--output json|table]

Print the effective configuration of SERVICE in an environment (default production), or one dotted KEY
of it. --as-of and --version read the past from the log; --min-position waits until the answer holds a
write at that log position (read-your-writes). As a table: one line per key; a KEY alone prints its value.`,
  async run(args, session) {
    const { values, positionals } = parse(
      args,
      {
        ...OUTPUT,
        ...ENV,
        'as-of': { type: 'string' },
        version: { type: 'string' },
        'min-position': { type: 'string' },
      },
      { min: 1, max: 2 },
    );
    const output = outputFormat(values.output);
    if (values['as-of'] !== undefined && values.version !== undefined)
      throw new UsageError('give --as-of or --version, not both');
    const [service, key] = [serviceId(positionals[0]!), positionals[1]];
    const query = {
      environment: environmentId(values.env),
      asOf: instant(values['as-of'], '--as-of'),
      version: positiveInteger(values.version, '--version'),
      minPosition: positiveInteger(values['min-position'], '--min-position'),
    };
    const api = session.api();
    if (key !== undefined) {
      const answer = await api.read<{ key: string; value: JsonValue; version: number }>(
        path`/configurations/${service}/${key}`,
        query,
      );
      if (output === 'json') printJson(answer);
      else write(typeof answer.value === 'string' ? answer.value : JSON.stringify(answer.value, null, 2));
      return undefined;
    }
    const view = await api.read<ConfigurationView>(path`/configurations/${service}`, query);
    if (output === 'json') printJson(view);
    else {
      const inherits = view.inheritedFrom?.length ? `, inheriting from ${view.inheritedFrom.join(', ')}` : '';
      write(
        `${view.serviceId} in ${view.environment}: version ${view.version}, updated ${view.updatedAt} by ${view.updatedBy}${inherits}`,
      );
      printTable(['key', 'value'], leaves(view.configuration));
    }
    return undefined;
  },
};

interface VersionEntry {
  version: number;
  changeType: string;
  changedKeys: string[];
  changedBy: string;
  changeReason: string | null;
  restoredVersion: number | null;
  changedAt: string;
}

const HISTORY_PAGE = 1000;

export const history: Command = {
  usage: `configledger history SERVICE [--env ENV] [--limit N] [--min-position N] [--output json|table]

The versions of SERVICE in an environment, newest first (default the last 20), each with who changed
what and why; --output json adds every changed path with its old and new value.`,
  async run(args, session) {
    const { values, positionals } = parse(
      args,
      { ...OUTPUT, ...ENV, limit: { type: 'string', default: '20' }, 'min-position': { type: 'string' } },
      { min: 1 },
    );
    const output = outputFormat(values.output);
    const service = serviceId(positionals[0]!);
    const limit = positiveInteger(values.limit, '--limit')!;
    const api = session.api();
    const entries: VersionEntry[] = [];
    let before: number | undefined;
    while (entries.length < limit) {
      const size = Math.min(HISTORY_PAGE, limit - entries.length);
      const page = await api.read<VersionEntry[]>(path`/configurations/${service}/versions`, {
        environment: environmentId(values.env),
        limit: size,
        before,
        minPosition: positiveInteger(values['min-position'], '--min-position'),
      });
      entries.push(...page);
      if (page.length < size) break;
      before = page[page.length - 1]!.version;
    }
    if (output === 'json') printJson(entries);
    else
      printTable(
        ['version', 'changed at', 'by', 'change', 'reason', 'keys'],
        entries.map((entry) => [
          entry.version,
          entry.changedAt,
          entry.changedBy,
          entry.restoredVersion ? `${entry.changeType} to ${entry.restoredVersion}` : entry.changeType,
          entry.changeReason ?? '',
          entry.changedKeys.join(', '),
        ]),
      );
    return undefined;
  },
};

interface DiffAnswer {
  from: { environment: string; version: number };
  to: { environment: string; version: number };
  changes: ValueChange[];
}

export const diff: Command = {
  usage: `configledger diff SERVICE --from VERSION|RFC3339 [--to VERSION|RFC3339] [--env ENV] [--output json|table]

Every path that differs between two versions or instants of SERVICE in an environment (--to defaults to
the current configuration), with its old and new value: ~ changed, + added, - removed.`,
  async run(args, session) {
    const { values, positionals } = parse(
      args,
      { ...OUTPUT, ...ENV, from: { type: 'string' }, to: { type: 'string' } },
      { min: 1 },
    );
    const output = outputFormat(values.output);
    if (values.from === undefined) throw new UsageError('diff needs --from VERSION|RFC3339');
    const service = serviceId(positionals[0]!);
    const answer = await session.api().read<DiffAnswer>(path`/configurations/${service}/diff`, {
      environment: environmentId(values.env),
      from: pointInTime(values.from, '--from'),
      to: values.to === undefined ? undefined : pointInTime(values.to, '--to'),
    });
    if (output === 'json') printJson(answer);
    else {
      write(`${service} in ${answer.to.environment}: version ${answer.from.version} -> ${answer.to.version}`);
      for (const change of answer.changes) write(describeChange(change));
      if (answer.changes.length === 0) write('no differences');
    }
    return undefined;
  },
};
