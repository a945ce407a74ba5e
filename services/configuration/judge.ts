import type { InheritedIssue } from '#events/configuration.ts';
import type { JsonObject } from '#events/metadata.ts';
import type { AppContext } from '#services/shared/context.ts';
import type { Validator } from '#services/schemas/validator.ts';
import { checksumOf } from '#infra/json/canonical.ts';
import type { DocumentJudge } from './decider.ts';
import { deepMerge } from '#events/paths.ts';
import { currentOf } from './read.ts';

/**
 * The effective configurations a write to (service, environment) reaches — its
 * own and those of every environment inheriting from it — with the other
 * layers as they stand, so a new own layer can be judged (and its effective
 * checksum told) by what services will read.
 */
export async function effectiveView(ctx: AppContext, serviceId: string, environment: string) {
  const directory = ctx.readModels.environments;
  const chains = new Map(
    directory.dependentsOf(environment).map((dependent) => [dependent, directory.lineage(dependent)]),
  );
  const layers = new Map<string, JsonObject>();
  for (const env of new Set([...chains.values()].flat())) {
    if (env === environment) continue;
    const layer = await currentOf(ctx, serviceId, env);
    if (layer) layers.set(env, layer.configuration);
  }
  const ownChain = chains.get(environment) ?? [environment];
  const alone = ownChain.length === 1 && chains.size <= 1;
  const merged = (chain: string[], own: JsonObject) =>
    chain.reduce<JsonObject>((document, env) => {
      const layer = env === environment ? own : layers.get(env);
      return layer ? deepMerge(document, layer) : document;
    }, {});

  return {
    judge(validate: Validator): DocumentJudge {
      if (alone) return (own) => ({ errors: validate(own), inherited: [] });
      return (own) => ({
        errors: validate(merged(ownChain, own)),
        inherited: [...chains]
          .filter(([dependent]) => dependent !== environment)
          .flatMap(([dependent, chain]): InheritedIssue[] =>
            validate(merged(chain, own)).map((issue) => ({ environment: dependent, ...issue })),
          ),
      });
    },
    /** The effective checksum once `own` is the environment's layer (its own checksum when nothing else is merged in). */
    checksumWith(own: JsonObject, ownChecksum: string): string {
      return ownChain.every((env) => env === environment || !layers.has(env))
        ? ownChecksum
        : checksumOf(merged(ownChain, own));
    },
  };
}
