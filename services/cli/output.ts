import type { ValueChange } from '#events/configuration.ts';
import type { JsonValue } from '#events/metadata.ts';
import { isObject } from '#events/paths.ts';
import { EXIT, type OutputFormat } from './command.ts';
import type { Answer } from './http-client.ts';

export const write = (text: string): void => {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
};

export const note = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

export const printJson = (value: unknown): void => write(JSON.stringify(value, null, 2));

/** A value in a cell or a line: text as it is, anything else as JSON. */
export const show = (value: unknown): string =>
  typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);

/** Columns padded to their widest cell; the header in capitals. */
export function printTable(columns: string[], rows: unknown[][]): void {
  const cells = [columns.map((column) => column.toUpperCase()), ...rows.map((row) => row.map(show))];
  const widths = columns.map((_, index) => Math.max(...cells.map((row) => (row[index] ?? '').length)));
  for (const row of cells)
    write(
      row
        .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index]!)))
        .join('  ')
        .trimEnd(),
    );
}

/** Each leaf of a document with its dotted path; arrays and empty objects are leaves. */
export function leaves(value: JsonValue, prefix = ''): [string, JsonValue][] {
  if (!isObject(value) || (Object.keys(value).length === 0 && prefix !== '')) return [[prefix, value]];
  return Object.keys(value)
    .sort()
    .flatMap((key) => leaves(value[key]!, prefix ? `${prefix}.${key}` : key));
}

/** `~ path: old -> new`, `+ path: new`, `- path: old`. */
export function describeChange(change: ValueChange): string {
  if (!('oldValue' in change)) return `+ ${change.path}: ${JSON.stringify(change.newValue)}`;
  if (!('newValue' in change)) return `- ${change.path}: ${JSON.stringify(change.oldValue)}`;
  return `~ ${change.path}: ${JSON.stringify(change.oldValue)} -> ${JSON.stringify(change.newValue)}`;
}

export interface WriteAnswer {
  serviceId: string;
  environment: string;
  version: number;
  changedKeys: string[];
  position: number;
}

export interface ChangeRequestOpened {
  changeRequest: { id: string; requiredApprovals: number; approverRole: string; expiresAt: string };
}

/** A change that needs approval answers 202 with its change request: exit 3, nothing applied yet. */
export function reportPending(answer: ChangeRequestOpened, output: OutputFormat, data: unknown = answer): number {
  const { id, requiredApprovals, approverRole, expiresAt } = answer.changeRequest;
  if (output === 'json') printJson(data);
  else
    write(
      `held for approval: change request ${id} needs ${requiredApprovals} approval(s) by ${approverRole} before ${expiresAt}; nothing is applied yet`,
    );
  return EXIT.pending;
}

/** The answer of a configuration write, or of its change request. */
export function reportWrite(answer: Answer<WriteAnswer | ChangeRequestOpened>, output: OutputFormat): number {
  if (answer.status === 202) return reportPending(answer.data as ChangeRequestOpened, output);
  const data = answer.data as WriteAnswer;
  if (output === 'json') printJson(data);
  else
    write(
      `${data.serviceId} in ${data.environment}: version ${data.version} (position ${data.position})${
        data.changedKeys.length > 0 ? `, changed ${data.changedKeys.join(', ')}` : ', nothing changed'
      }`,
    );
  return EXIT.done;
}
