import type { ValueChange } from '#events/configuration.ts';
import type { EffectiveChange } from '#events/environments.ts';
import type { JsonObject } from '#events/metadata.ts';
import { servicesIn } from '#projections/configurations/queries.ts';
import { type ParentsOf, dependentsOf, lineageOf } from '#projections/environments/lineage.ts';
import type { AppContext } from '#services/shared/context.ts';
import { currentOf } from '#services/configuration/read.ts';
import { deepMerge, diffDocuments } from '#events/paths.ts';
import { readModelBehind } from '#services/shared/errors.ts';

export interface EffectiveDifference extends EffectiveChange {
  changes: ValueChange[];
  /** The effective configuration after the change (empty when none is left). */
  after: JsonObject;
}

/**
 * Every effective configuration that differs between two inheritance graphs,
 * for the environments whose lineage contains `changed` in either graph: the
 * documents a re-parenting, a new environment or a removal would change, and
 * how. Read from the read models once they hold the whole log, so an approval
 * policy never judges a change on stale documents.
 */
export async function impactOf(
  ctx: AppContext,
  changed: string,
  before: ParentsOf,
  after: ParentsOf,
): Promise<EffectiveDifference[]> {
  await readModelsAtHead(ctx);
  const affected = [...new Set([...dependentsOf(changed, before), ...dependentsOf(changed, after)])]
    .filter((id) => after.has(id))
    .sort();
  const lineages = affected.map((environment) => ({
    environment,
    before: lineageOf(environment, before),
    after: lineageOf(environment, after),
  }));
  const involved = [...new Set(lineages.flatMap((lineage) => [...lineage.before, ...lineage.after]))];
  const layers = new Map<string, JsonObject | undefined>();
  const layer = async (serviceId: string, environment: string) => {
    const key = `${serviceId}\u0000${environment}`;
    if (!layers.has(key)) layers.set(key, (await currentOf(ctx, serviceId, environment))?.configuration);
    return layers.get(key);
  };
  const effective = async (serviceId: string, lineage: string[]) => {
    let merged: JsonObject = {};
    for (const environment of lineage) {
      const own = await layer(serviceId, environment);
      if (own) merged = deepMerge(merged, own);
    }
    return merged;
  };
  const differences: EffectiveDifference[] = [];
  for (const serviceId of await servicesIn(ctx.db, involved)) {
    for (const lineage of lineages) {
      const after = await effective(serviceId, lineage.after);
      const changes = diffDocuments(await effective(serviceId, lineage.before), after);
      if (changes.length > 0)
        differences.push({
          serviceId,
          environment: lineage.environment,
          changedKeys: changes.map((change) => change.path),
          changes,
          after,
        });
    }
  }
  return differences;
}

async function readModelsAtHead(ctx: AppContext): Promise<void> {
  const head = await ctx.store.headPosition();
  if (!(await ctx.readModels.runner.waitFor(head, ctx.readYourWritesTimeoutMs, 'applied')))
    throw readModelBehind({ head: Number(head) });
}

/** What is recorded in the event: which configurations changed, and which keys. */
export const recordedImpact = (differences: EffectiveDifference[]): EffectiveChange[] =>
  differences.map(({ serviceId, environment, changedKeys }) => ({ serviceId, environment, changedKeys }));
