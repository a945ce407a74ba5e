import { isDeepStrictEqual } from 'node:util';
import type { ProposedEnvironmentChange } from '#events/approvals.ts';
import { type EnvironmentDefinition, definitionOf, environmentStream } from '#events/environments.ts';
import { withoutEnvironment } from '#projections/environments/lineage.ts';
import type { JsonObject } from '#events/metadata.ts';
import type { Principal } from '#infra/auth/tokens.ts';
import type { AppContext } from '#services/shared/context.ts';
import { hasPermission } from '#services/config-api/permissions.ts';
import { type OpenedChangeRequest, openChangeRequest } from '#services/approvals/open.ts';
import { type CommandContext, loadState } from '#services/shared/command-handler.ts';
import { inheritedValidationFailed } from '#services/shared/errors.ts';
import { environmentNotFound, inheritanceChangeNeedsAdmin } from './errors.ts';
import { activeValidator } from '#services/configuration/commands.ts';
import type { InheritedIssue } from '#events/configuration.ts';
import { type EnvironmentCommand, environmentDecider, initialStateFor } from './decider.ts';
import { type EffectiveDifference, impactOf, recordedImpact } from './impact.ts';

export interface DefinitionFields {
  name?: string;
  type?: EnvironmentDefinition['type'];
  inheritsFrom?: string[];
  description?: string;
}

/** What an environment change did, would do, or is waiting for. */
export type EnvironmentOutcome =
  | {
      kind: 'applied';
      definition?: EnvironmentDefinition;
      created: boolean;
      position: number;
      impact: EffectiveDifference[];
    }
  | {
      kind: 'dry-run';
      definition?: EnvironmentDefinition;
      impact: EffectiveDifference[];
      policyIds: string[];
      failing: InheritedIssue[];
    }
  | { kind: 'pending'; changeRequest: OpenedChangeRequest };

/**
 * Defines an environment or changes its definition. Anyone who may write may
 * name or describe one, or create one; changing what an existing environment
 * inherits re-routes the effective configuration of every service beneath it,
 * so it needs an admin, is judged by the approval policies on the documents
 * it would change, and records that impact with the change.
 */
export async function defineEnvironment(
  ctx: AppContext,
  principal: Principal,
  context: CommandContext,
  change: { type: 'Define' | 'Redefine'; id: string; fields: DefinitionFields; dryRun?: boolean; force?: boolean },
): Promise<EnvironmentOutcome> {
  const directory = ctx.readModels.environments;
  const current = directory.get(change.id);
  const definition: EnvironmentDefinition = {
    id: change.id,
    name: change.fields.name ?? current?.name ?? change.id,
    type: change.fields.type ?? current?.type ?? 'custom',
    inheritsFrom: change.fields.inheritsFrom ?? current?.inheritsFrom ?? [],
    ...((change.fields.description ?? current?.description) !== undefined
      ? { description: change.fields.description ?? current?.description }
      : {}),
  };
  const rewired = current !== undefined && !isDeepStrictEqual(current.inheritsFrom, definition.inheritsFrom);
  if (rewired && !hasPermission(principal, 'admin')) throw inheritanceChangeNeedsAdmin();
  // A removed environment's configurations stay in the log and come back with it: undoing a removal is the admin's too.
  if (!current && !hasPermission(principal, 'admin')) {
    const { state } = await loadState(
      ctx.store,
      environmentStream(change.id),
      environmentDecider,
      initialStateFor(change.id),
    );
    if (state.status === 'removed') throw inheritanceChangeNeedsAdmin();
  }
  const before = directory.parentsOf();
  const impact =
    rewired || !current
      ? await impactOf(ctx, change.id, before, new Map(before).set(change.id, definition.inheritsFrom))
      : [];
  const command: EnvironmentCommand = {
    type: change.type,
    definition,
    parentsOf: before,
    impact: recordedImpact(impact),
  };
  return decideGoverned(ctx, context, {
    command,
    rewired,
    impact,
    dryRun: change.dryRun,
    force: change.force,
    current: current ? definitionOf(current) : null,
  });
}

/** Removes an environment (admin): its children inherit from their other parents from then on. */
export async function removeEnvironment(
  ctx: AppContext,
  context: CommandContext,
  id: string,
  options: { dryRun?: boolean; force?: boolean } = {},
): Promise<EnvironmentOutcome> {
  const directory = ctx.readModels.environments;
  const current = directory.get(id);
  if (!current) throw environmentNotFound(id);
  const before = directory.parentsOf();
  const impact = await impactOf(ctx, id, before, withoutEnvironment(before, id));
  const command: EnvironmentCommand = { type: 'Remove', id, impact: recordedImpact(impact) };
  return decideGoverned(ctx, context, {
    command,
    rewired: true,
    impact,
    ...options,
    current: definitionOf(current),
  });
}

async function decideGoverned(
  ctx: AppContext,
  context: CommandContext,
  change: {
    command: EnvironmentCommand;
    rewired: boolean;
    impact: EffectiveDifference[];
    dryRun?: boolean;
    force?: boolean;
    current: EnvironmentDefinition | null;
  },
): Promise<EnvironmentOutcome> {
  const { command, impact } = change;
  const id = command.type === 'Remove' ? command.id : command.definition.id;
  const definition = command.type === 'Remove' ? undefined : command.definition;
  const policies = change.rewired ? ctx.readModels.policies.matchingEnvironmentChange(id, command.impact) : [];
  const failing = await inheritedIssues(ctx, impact);
  if (change.dryRun)
    return {
      kind: 'dry-run',
      ...(definition ? { definition } : {}),
      impact,
      policyIds: policies.map((policy) => policy.id),
      failing,
    };
  if (failing.length > 0 && !change.force) throw inheritedValidationFailed(failing);
  if (failing.length > 0) command.forced = { inheritedErrors: failing };
  if (policies.length > 0) {
    const proposed: ProposedEnvironmentChange = {
      kind: 'environment',
      serviceId: '*',
      environment: id,
      command: (command.type === 'Remove'
        ? { type: 'Remove', id, force: Boolean(change.force) }
        : { type: command.type, definition, force: Boolean(change.force) }) as unknown as JsonObject,
      decidedOn: change.current as unknown as JsonObject | null,
      baseVersion: 0,
      changedKeys: [
        command.type === 'Remove' ? 'removed' : 'inheritsFrom',
        ...impact.flatMap((entry) => entry.changedKeys.map((key) => `${entry.serviceId}:${key}`)),
      ],
    };
    return {
      kind: 'pending',
      changeRequest: await openChangeRequest(ctx, context, proposed, policies, context.reason),
    };
  }
  const result = await ctx.commands.handle(
    environmentStream(id),
    environmentDecider,
    command,
    context,
    initialStateFor(id),
  );
  await ctx.readModels.runner.waitFor(result.position, ctx.readYourWritesTimeoutMs, 'seen');
  return {
    kind: 'applied',
    ...(definition ? { definition } : {}),
    created: result.events[0]?.type === 'EnvironmentDefined',
    position: Number(result.position),
    impact,
  };
}

/**
 * Applies an approved environment change as it was proposed, onto the
 * definition it was decided on, with its impact measured again now.
 */
export async function applyApprovedEnvironmentChange(
  ctx: AppContext,
  change: ProposedEnvironmentChange,
  context: CommandContext,
) {
  const proposed = change.command as unknown as (
    | { type: 'Redefine' | 'Define'; definition: EnvironmentDefinition }
    | { type: 'Remove'; id: string }
  ) & { force?: boolean };
  const decidedOn = change.decidedOn as unknown as EnvironmentDefinition | null;
  const directory = ctx.readModels.environments;
  const before = directory.parentsOf();
  const command: EnvironmentCommand =
    proposed.type === 'Remove'
      ? { type: 'Remove', id: proposed.id, decidedOn, impact: [] }
      : { type: proposed.type, definition: proposed.definition, parentsOf: before, decidedOn, impact: [] };
  const after =
    proposed.type === 'Remove'
      ? withoutEnvironment(before, proposed.id)
      : new Map(before).set(proposed.definition.id, proposed.definition.inheritsFrom);
  const impact = await impactOf(ctx, change.environment, before, after);
  command.impact = recordedImpact(impact);
  const failing = await inheritedIssues(ctx, impact);
  if (failing.length > 0 && !proposed.force) throw inheritedValidationFailed(failing);
  if (failing.length > 0) command.forced = { inheritedErrors: failing };
  const result = await ctx.commands.handle(
    environmentStream(change.environment),
    environmentDecider,
    command,
    context,
    initialStateFor(change.environment),
  );
  await ctx.readModels.runner.waitFor(result.position, ctx.readYourWritesTimeoutMs, 'seen');
  return { version: Number(result.revision) + 1, position: Number(result.position) };
}

/** The schema errors the change would cause in the effective configurations it changes, each service by its own schema. */
async function inheritedIssues(ctx: AppContext, impact: EffectiveDifference[]): Promise<InheritedIssue[]> {
  const issues: InheritedIssue[] = [];
  for (const { serviceId, environment, after } of impact) {
    const { validate } = await activeValidator(ctx, serviceId);
    issues.push(...validate(after).map((issue) => ({ environment, serviceId, ...issue })));
  }
  return issues;
}
