import fp from 'fastify-plugin';
import type { EventStore } from '#infra/eventstore/port.ts';

export type Check = { status: 'up' | 'down'; latencyMs: number; error?: string } & Record<string, unknown>;

/** One dependency's part of `/health`: critical ones make the service unhealthy (503), the others degraded. */
export interface HealthContribution {
  name: string;
  critical: boolean;
  /** `head` is the log's head, read once per health request. */
  check(head: () => Promise<bigint>): Promise<Check>;
}

declare module 'fastify' {
  interface FastifyInstance {
    health: { add(contribution: HealthContribution): void; readonly contributions: readonly HealthContribution[] };
  }
}

/** Where each resource plugin adds its own health check, in the order they start. */
export const healthRegistry = fp(
  async (app) => {
    const contributions: HealthContribution[] = [];
    app.decorate('health', {
      add: (contribution: HealthContribution) => contributions.push(contribution),
      contributions,
    });
  },
  { name: 'health-registry' },
);

// biome-ignore lint/suspicious/noConfusingVoidType: a probe may have nothing to add.
export async function timed(probe: () => Promise<Record<string, unknown> | void>): Promise<Check> {
  const started = performance.now();
  try {
    const extra = (await probe()) ?? {};
    return { status: 'up', latencyMs: Math.round((performance.now() - started) * 100) / 100, ...extra };
  } catch (error) {
    return {
      status: 'down',
      latencyMs: Math.round(performance.now() - started),
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

/** Events between a follower's position and the head, as the store counts them (null when it cannot tell cheaply). */
export async function eventsBehind(store: EventStore, position: bigint, head: bigint): Promise<number | null> {
  if (position >= head) return 0;
  return (await store.eventsAfter(position, head).catch(() => undefined)) ?? null;
}
