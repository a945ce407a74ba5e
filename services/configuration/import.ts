import type { ApprovalPolicy } from '#events/approvals.ts';
import { configurationStream } from '#events/configuration.ts';
import type { JsonObject } from '#events/metadata.ts';
import { diffDocuments } from '#events/paths.ts';
import { schemaStream } from '#events/schemas.ts';
import { schemaDecider } from '#services/schemas/decider.ts';
import { type CommandContext, loadState } from '#services/shared/command-handler.ts';
import type { AppContext } from '#services/shared/context.ts';
import { type WriteAnswer, executeConfigurationCommand } from './commands.ts';
import { configurationDecider } from './decider.ts';

/** What an import writes: the schema (when the document has one) and each environment's own layer. */
export interface ImportPlan {
  schema: JsonObject | null;
  environments: Record<string, JsonObject>;
}

/** The approval policies that hold any part of an import, the environments they hold, and each environment's current version. */
export async function policiesHolding(
  ctx: AppContext,
  serviceId: string,
  plan: ImportPlan,
): Promise<{
  policies: ApprovalPolicy[];
  held: { environment: string; changedKeys: string[] }[];
  /** Every environment the import changes, with its changed keys: what approvers of a held import are shown. */
  changed: { environment: string; changedKeys: string[] }[];
  versions: Record<string, number>;
}> {
  const policies = new Map<string, ApprovalPolicy>();
  const held: { environment: string; changedKeys: string[] }[] = [];
  const changed: { environment: string; changedKeys: string[] }[] = [];
  const versions: Record<string, number> = {};
  for (const [environment, configuration] of Object.entries(plan.environments)) {
    const { state } = await loadState(ctx.store, configurationStream(serviceId, environment), configurationDecider);
    versions[environment] = state.status === 'active' ? state.version : 0;
    const changedKeys = diffDocuments(state.status === 'active' ? state.configuration : {}, configuration).map(
      (change) => change.path,
    );
    if (changedKeys.length > 0) changed.push({ environment, changedKeys });
    const matching = changedKeys.length > 0 ? ctx.readModels.policies.matching(environment, changedKeys) : [];
    if (matching.length === 0) continue;
    held.push({ environment, changedKeys });
    for (const policy of matching) policies.set(policy.id, policy);
  }
  return { policies: [...policies.values()], held, changed, versions };
}

/**
 * Writes an import: the schema, then each environment as one change. Every
 * document was validated before, so what can still stop it midway is the
 * store; a retry with the same Idempotency-Key then finds what was written
 * (the events' ids derive from the key) and writes the rest.
 */
export async function applyImport(
  ctx: AppContext,
  context: CommandContext,
  serviceId: string,
  plan: ImportPlan,
  approval?: { changeRequestId: string; approvedBy: string[] },
): Promise<Record<string, WriteAnswer>> {
  if (plan.schema) {
    await ctx.commands.handle(
      schemaStream(serviceId),
      schemaDecider,
      { type: 'RegisterSchema', serviceId, schema: plan.schema, problem: ctx.validators.problemOf(plan.schema) },
      context,
    );
  }
  const answers: Record<string, WriteAnswer> = {};
  for (const [environment, configuration] of Object.entries(plan.environments)) {
    const outcome = await executeConfigurationCommand(
      ctx,
      context,
      {
        type: 'Replace',
        serviceId,
        environment,
        configuration,
        ...(context.reason ? { changeReason: context.reason } : {}),
      },
      // Held as a whole already (or by nothing): no environment opens a change request of its own.
      { ...(approval ? { approval } : {}), heldAsAWhole: true },
    );
    if (outcome.kind === 'applied') answers[environment] = outcome.answer;
  }
  return answers;
}
