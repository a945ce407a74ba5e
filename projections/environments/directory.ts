import { isDeepStrictEqual } from 'node:util';
import { type EnvironmentDefinition, type EnvironmentEvent, definitionOf } from '#events/environments.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import type { SqlExecutor } from '#infra/postgres/database.ts';
import { parseEvent } from '#events/parse.ts';
import { BUILT_IN_ENVIRONMENTS } from '#events/environments.ts';
import type { ChainLink } from '../effective/effective.ts';
import { actorOf, occurredAt } from '../projection.ts';
import { dependentsOf, lineageOf } from './lineage.ts';

/** The newest event that changed what an environment inherits: its definition, or the removal of a parent. */
export interface InheritanceChange {
  position: bigint;
  changedAt: string | null;
  changedBy: string | null;
}

export interface EnvironmentEntry extends EnvironmentDefinition {
  builtIn: boolean;
  updatedAt: string | null;
  updatedBy: string | null;
  position: bigint;
  inheritance: InheritanceChange;
}

const UNCHANGED: InheritanceChange = { position: 0n, changedAt: null, changedBy: null };

/**
 * Every environment in process memory (they are few), kept current from events
 * in log order: the live read side loads it from the read model, a follower of
 * the log (the Kafka publisher) folds it from the log itself.
 */
export class EnvironmentDirectory {
  private readonly entries = new Map<string, EnvironmentEntry>();

  constructor() {
    for (const definition of BUILT_IN_ENVIRONMENTS) {
      this.entries.set(definition.id, {
        ...definition,
        builtIn: true,
        updatedAt: null,
        updatedBy: null,
        position: 0n,
        inheritance: UNCHANGED,
      });
    }
  }

  async load(db: SqlExecutor): Promise<void> {
    const { rows } = await db.query<{
      id: string;
      name: string;
      type: EnvironmentDefinition['type'];
      inherits_from: string[];
      description: string | null;
      updated_at: Date | string;
      updated_by: string;
      position: string;
      inheritance_position: string;
      inheritance_changed_at: Date | string | null;
      inheritance_changed_by: string | null;
    }>(
      `SELECT id, name, type, inherits_from, description, updated_at, updated_by, position, inheritance_position, inheritance_changed_at, inheritance_changed_by
       FROM environments`,
    );
    for (const row of rows) {
      this.entries.set(row.id, {
        id: row.id,
        name: row.name,
        type: row.type,
        inheritsFrom: row.inherits_from,
        ...(row.description !== null ? { description: row.description } : {}),
        builtIn: BUILT_IN_ENVIRONMENTS.some((builtIn) => builtIn.id === row.id),
        updatedAt: new Date(row.updated_at).toISOString(),
        updatedBy: row.updated_by,
        position: BigInt(row.position),
        inheritance: {
          position: BigInt(row.inheritance_position),
          changedAt: row.inheritance_changed_at === null ? null : new Date(row.inheritance_changed_at).toISOString(),
          changedBy: row.inheritance_changed_by,
        },
      });
    }
  }

  applyEvents(events: RecordedEvent[]): void {
    for (const recorded of events) {
      if (!recorded.type.startsWith('Environment')) continue;
      const event = parseEvent<EnvironmentEvent>(recorded);
      const change = { position: recorded.position, changedAt: occurredAt(recorded), changedBy: actorOf(recorded) };
      if (event.type === 'EnvironmentRemoved') this.remove(event.data.id, change);
      else this.define(definitionOf(event.data), change);
    }
  }

  private define(definition: EnvironmentDefinition, change: InheritanceChange): void {
    const existing = this.entries.get(definition.id);
    if (existing && existing.position >= change.position) return;
    const rewired = !existing || !isDeepStrictEqual(existing.inheritsFrom, definition.inheritsFrom);
    this.entries.set(definition.id, {
      ...definition,
      builtIn: BUILT_IN_ENVIRONMENTS.some((builtIn) => builtIn.id === definition.id),
      updatedAt: change.changedAt,
      updatedBy: change.changedBy,
      position: change.position,
      inheritance: rewired ? change : existing.inheritance,
    });
  }

  /** Gone, and no longer anybody's parent: its children's inheritance changed here (as the read model records it). */
  private remove(id: string, change: InheritanceChange): void {
    const existing = this.entries.get(id);
    if (existing && existing.position < change.position) this.entries.delete(id);
    for (const [other, entry] of this.entries) {
      if (entry.inheritsFrom.includes(id))
        this.entries.set(other, {
          ...entry,
          inheritsFrom: entry.inheritsFrom.filter((parent) => parent !== id),
          inheritance: change,
        });
    }
  }

  get(id: string): EnvironmentEntry | undefined {
    return this.entries.get(id);
  }

  list(): EnvironmentEntry[] {
    return [...this.entries.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  parentsOf(): Map<string, string[]> {
    return new Map([...this.entries.values()].map((entry) => [entry.id, entry.inheritsFrom]));
  }

  /** Environments to merge for `id`, farthest ancestor first, `id` last; each appears once. */
  lineage(id: string): string[] {
    return lineageOf(id, this.parentsOf());
  }

  /** The chain of `id` with what shaped each link, for the effective configuration. */
  chainOf(id: string): ChainLink[] {
    if (!this.entries.has(id)) return [];
    return this.lineage(id).flatMap((environment) => {
      const entry = this.entries.get(environment);
      if (!entry) return [];
      const { position, changedAt, changedBy } = entry.inheritance;
      return [{ environment, inheritsFrom: entry.inheritsFrom, position, updatedAt: changedAt, updatedBy: changedBy }];
    });
  }

  /** Every environment whose effective configuration includes `id`'s: itself and all that inherit from it. */
  dependentsOf(id: string): string[] {
    return dependentsOf(id, this.parentsOf());
  }
}
