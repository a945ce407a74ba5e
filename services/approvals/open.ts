import { randomUUID } from 'node:crypto';
import { type ApprovalPolicy, type ProposedChange, changeRequestStream } from '#events/approvals.ts';
import type { JsonObject } from '#events/metadata.ts';
import type { AppContext } from '#services/shared/context.ts';
import { type ConfigurationCommand, configurationDecider } from '#services/configuration/decider.ts';
import { type CommandContext, loadState, nameBasedUuid } from '#services/shared/command-handler.ts';
import { changeRequestDecider } from './change-request-decider.ts';

export interface OpenedChangeRequest {
  id: string;
  status: 'pending';
  requiredApprovals: number;
  approverRole: string;
  policyIds: string[];
  changedKeys: string[];
  baseVersion: number;
  expiresAt: string;
  position: number;
}

/** Records a change request for `change` under `policies` (the strictest quorum, the shortest expiry wins). */
export async function openChangeRequest(
  ctx: AppContext,
  context: CommandContext,
  change: ProposedChange,
  policies: ApprovalPolicy[],
  reason?: string,
): Promise<OpenedChangeRequest> {
  const strictest = policies.reduce((a, b) => (b.requiredApprovals > a.requiredApprovals ? b : a));
  const expiresAfterHours = Math.min(...policies.map((policy) => policy.expiresAfterHours));
  // A repeat of the request (its answer lost) opens the same change request, not a second one.
  const id = context.idempotencyKey ? nameBasedUuid(`${context.idempotencyKey}\u0000change-request`) : randomUUID();
  const expiresAt = new Date(context.now.getTime() + expiresAfterHours * 3_600_000).toISOString();
  const result = await ctx.commands.handle(
    changeRequestStream(id),
    changeRequestDecider,
    {
      type: 'OpenChangeRequest',
      request: {
        id,
        change,
        requestedBy: context.actor,
        ...(reason ? { reason } : {}),
        policyIds: policies.map((policy) => policy.id),
        requiredApprovals: strictest.requiredApprovals,
        approverRole: strictest.approverRole,
        openedAt: context.now.toISOString(),
        expiresAt,
      },
    },
    context,
  );
  return {
    id,
    status: 'pending',
    requiredApprovals: strictest.requiredApprovals,
    approverRole: strictest.approverRole,
    policyIds: policies.map((policy) => policy.id),
    changedKeys: change.changedKeys,
    baseVersion: change.baseVersion,
    expiresAt,
    position: Number(result.position),
  };
}

/**
 * Decides the command against the stored configuration (validation included)
 * to learn what it would change; if an approval policy covers that, records a
 * change request instead of the change. Answers undefined when no policy applies.
 */
export async function openChangeRequestIfRequired(
  ctx: AppContext,
  stream: string,
  command: Omit<ConfigurationCommand, 'judge' | 'schemaVersion' | 'approval'>,
  full: ConfigurationCommand,
  context: CommandContext,
): Promise<OpenedChangeRequest | undefined> {
  if (ctx.readModels.policies.size === 0) return undefined;
  const { state } = await loadState(ctx.store, stream, configurationDecider);
  const events = configurationDecider.decide(full, state);
  if (events.length === 0) return undefined;
  const changedKeys = events[0]!.data.changedKeys;
  const policies = ctx.readModels.policies.matching(command.environment, changedKeys);
  if (policies.length === 0) return undefined;
  const { expectedVersion: _ignored, ...proposed } = command as typeof command & { expectedVersion?: number };
  const change: ProposedChange = {
    kind: 'configuration',
    serviceId: command.serviceId,
    environment: command.environment,
    command: proposed as unknown as JsonObject,
    baseVersion: state.status === 'active' ? state.version : 0,
    changedKeys,
  };
  return openChangeRequest(ctx, context, change, policies, command.changeReason);
}
