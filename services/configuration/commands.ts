import { configurationStream } from '#events/configuration.ts';
import { schemaStream } from '#events/schemas.ts';
import type { JsonObject } from '#events/metadata.ts';
import type { AppContext } from '#services/shared/context.ts';
import type { CommandContext } from '#services/shared/command-handler.ts';
import { type OpenedChangeRequest, openChangeRequestIfRequired } from '#services/approvals/open.ts';
import { schemaDecider } from '#services/schemas/decider.ts';
import { acceptAll, type Validator } from '#services/schemas/validator.ts';
import { configurationDecider, type ConfigurationCommand } from './decider.ts';
import { requireEnvironment } from './read.ts';
import { eventAt } from './history.ts';
import { effectiveView } from './judge.ts';

export interface WriteAnswer {
  serviceId: string;
  environment: string;
  /** The environment's own version after the write. */
  version: number;
  /** The checksum of the effective configuration after the write. */
  checksum: string;
  /** The write's log position: the effective position it made. */
  position: number;
  changedKeys: string[];
  created: boolean;
  own: { checksum: string; version: number };
}

/**
 * The service's active JSON Schema, from its stream (or this process's copy of
 * it, which the log keeps current), never from a lagging read model.
 */
export async function activeValidator(
  ctx: AppContext,
  serviceId: string,
): Promise<{ validate: Validator; schemaVersion?: number }> {
  const { state } = await ctx.commands.loadCachedState(schemaStream(serviceId), schemaDecider);
  if (state.status === 'absent') return { validate: acceptAll };
  return { validate: ctx.validators.compile(state.schema, state.checksum), schemaVersion: state.version };
}

/** The stored document of `version`, read from the log itself (version N is stream revision N - 1). */
export async function documentAtVersion(
  ctx: AppContext,
  serviceId: string,
  environment: string,
  version: number,
): Promise<JsonObject | undefined> {
  if (!Number.isInteger(version) || version < 1) return undefined;
  const event = await eventAt(ctx.store, configurationStream(serviceId, environment), BigInt(version - 1));
  return event?.data.configuration as JsonObject | undefined;
}

export type CommandWithoutSchema = DistributiveOmit<ConfigurationCommand, 'judge' | 'schemaVersion' | 'approval'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export type WriteOutcome =
  | { kind: 'applied'; answer: WriteAnswer }
  | { kind: 'pending'; changeRequest: OpenedChangeRequest };

/**
 * Applies a configuration command, or, when an approval policy covers the
 * change, opens a change request instead. `context` says who and why (its
 * reason is the command's changeReason); an `approval` applies the change a
 * change request was approved for.
 */
export async function executeConfigurationCommand(
  ctx: AppContext,
  context: CommandContext,
  command: CommandWithoutSchema,
  /** The approval this change was held for; or `heldAsAWhole` when it is part of a change held (or not) as one, like an import. */
  options: { approval?: { changeRequestId: string; approvedBy: string[] }; heldAsAWhole?: boolean } = {},
): Promise<WriteOutcome> {
  const { approval } = options;
  await requireEnvironment(ctx, command.environment);
  const { validate, schemaVersion } = await activeValidator(ctx, command.serviceId);
  const view = await effectiveView(ctx, command.serviceId, command.environment);
  const full = {
    ...command,
    judge: view.judge(validate),
    ...(schemaVersion !== undefined ? { schemaVersion } : {}),
    ...(approval ? { approval } : {}),
  } as ConfigurationCommand;
  const stream = configurationStream(command.serviceId, command.environment);
  if (!approval && !options.heldAsAWhole) {
    const changeRequest = await openChangeRequestIfRequired(ctx, stream, command, full, context);
    if (changeRequest) return { kind: 'pending', changeRequest };
  }
  const result = await ctx.commands.handle(stream, configurationDecider, full, context);
  const state = result.state;
  if (state.status !== 'active') throw new Error('a configuration command left no configuration');
  const event = result.events[0];
  return {
    kind: 'applied',
    answer: {
      serviceId: command.serviceId,
      environment: command.environment,
      version: state.version,
      checksum: view.checksumWith(state.configuration, state.checksum),
      position: Number(result.position),
      changedKeys: event ? event.data.changedKeys : [],
      created: event?.type === 'ConfigurationCreated',
      own: { checksum: state.checksum, version: state.version },
    },
  };
}
