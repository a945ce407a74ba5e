import type { JsonObject } from '#events/metadata.ts';
import { checksumOf } from '#infra/json/canonical.ts';
import { deepMerge } from '#events/paths.ts';

/** One environment's own configuration of a service: a layer of the effective one. */
export interface Layer {
  environment: string;
  configuration: JsonObject;
  version: number;
  checksum: string;
  position: bigint;
  updatedAt: string;
  updatedBy: string;
}

/** One environment of an inheritance chain, with the position of the newest event that shaped its definition. */
export interface ChainLink {
  environment: string;
  inheritsFrom: string[];
  position: bigint;
  updatedAt: string | null;
  updatedBy: string | null;
}

/**
 * What a service reads in an environment, the same on every road (HTTP, the
 * state topic, WebSocket pushes, the SDK, export, diff, promote): the layers
 * of its inheritance chain merged in order, their checksum, and the effective
 * position — the newest position among the layers and the chain's environment
 * definitions, so it only ever moves forward.
 */
export interface EffectiveConfiguration {
  serviceId: string;
  environment: string;
  configuration: JsonObject;
  /** SHA-256 of the canonical JSON (RFC 8785) of `configuration`. */
  checksum: string;
  position: bigint;
  /** The environment's own version; 0 when it only inherits. */
  version: number;
  /** The environments merged before this one, farthest first. */
  inheritedFrom: string[];
  layers: { environment: string; version: number; checksum: string; position: bigint }[];
  /** The environment's own layer, when it has one. */
  own: { configuration: JsonObject; checksum: string; version: number; position: bigint } | null;
  /** Who made, and when, the newest change folded in (a layer or a definition of the chain). */
  updatedAt: string;
  updatedBy: string;
}

/**
 * The effective configuration from a chain (farthest ancestor first, the
 * environment itself last) and a way to find each environment's layer;
 * undefined when no environment of the chain has a layer.
 */
export function effectiveConfiguration(
  serviceId: string,
  chain: ChainLink[],
  layerOf: (environment: string) => Layer | undefined,
): EffectiveConfiguration | undefined {
  const self = chain[chain.length - 1];
  if (!self) return undefined;
  const layers = chain.map((link) => layerOf(link.environment)).filter((layer): layer is Layer => layer !== undefined);
  if (layers.length === 0) return undefined;
  const configuration = layers.reduce<JsonObject>((merged, layer) => deepMerge(merged, layer.configuration), {});
  const own = layers.find((layer) => layer.environment === self.environment);
  let newest: { position: bigint; updatedAt: string; updatedBy: string } = layers[0]!;
  for (const layer of layers) if (layer.position > newest.position) newest = layer;
  for (const link of chain) {
    if (link.position > newest.position && link.updatedAt && link.updatedBy)
      newest = { position: link.position, updatedAt: link.updatedAt, updatedBy: link.updatedBy };
  }
  return {
    serviceId,
    environment: self.environment,
    configuration,
    checksum: layers.length === 1 ? layers[0]!.checksum : checksumOf(configuration),
    position: newest.position,
    version: own?.version ?? 0,
    inheritedFrom: chain.slice(0, -1).map((link) => link.environment),
    layers: layers.map(({ environment, version, checksum, position }) => ({
      environment,
      version,
      checksum,
      position,
    })),
    own: own
      ? { configuration: own.configuration, checksum: own.checksum, version: own.version, position: own.position }
      : null,
    updatedAt: newest.updatedAt,
    updatedBy: newest.updatedBy,
  };
}
