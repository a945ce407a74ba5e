import { type EnvironmentDefinition, type EnvironmentEvent, definitionOf } from '#events/environments.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import type { SqlExecutor } from '#infra/postgres/database.ts';
import { asDomainEvent } from '#services/shared/command-handler.ts';
import { BUILT_IN_ENVIRONMENTS } from '#services/environments/decider.ts';
import { actorOf, occurredAt } from '../projection.ts';
import { dependentsOf, lineageOf } from './lineage.ts';

export interface EnvironmentEntry extends EnvironmentDefinition {
  builtIn: boolean;
  updatedAt: string | null;
  updatedBy: string | null;
  position: bigint;
}

/** Every environment in process memory (they are few), loaded from the read model and kept current from events. */
export class EnvironmentDirectory {
  private readonly entries = new Map<string, EnvironmentEntry>();

  constructor() {
    for (const definition of BUILT_IN_ENVIRONMENTS) {
      this.entries.set(definition.id, { ...definition, builtIn: true, updatedAt: null, updatedBy: null, position: 0n });
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
    }>('SELECT id, name, type, inherits_from, description, updated_at, updated_by, position FROM environments');
    for (const row of rows) {
      this.put({
        id: row.id,
        name: row.name,
        type: row.type,
        inheritsFrom: row.inherits_from,
        ...(row.description !== null ? { description: row.description } : {}),
        builtIn: BUILT_IN_ENVIRONMENTS.some((builtIn) => builtIn.id === row.id),
        updatedAt: new Date(row.updated_at).toISOString(),
        updatedBy: row.updated_by,
        position: BigInt(row.position),
      });
    }
  }

  applyEvents(events: RecordedEvent[]): void {
    for (const recorded of events) {
      if (!recorded.type.startsWith('Environment')) continue;
      const event = asDomainEvent<EnvironmentEvent>(recorded);
      if (event.type === 'EnvironmentRemoved') {
        this.remove(event.data.id, recorded.position);
        continue;
      }
      const data = definitionOf(event.data);
      this.put({
        ...data,
        builtIn: BUILT_IN_ENVIRONMENTS.some((builtIn) => builtIn.id === data.id),
        updatedAt: occurredAt(recorded),
        updatedBy: actorOf(recorded),
        position: recorded.position,
      });
    }
  }

  /** Gone, and no longer anybody's parent (as the read model does it). */
  private remove(id: string, position: bigint): void {
    const existing = this.entries.get(id);
    if (existing && existing.position < position) this.entries.delete(id);
    for (const [other, entry] of this.entries) {
      if (entry.inheritsFrom.includes(id)) this.entries.set(other, { ...entry, inheritsFrom: entry.inheritsFrom.filter((parent) => parent !== id) });
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

  /** Every environment whose effective configuration includes `id`'s: itself and all that inherit from it. */
  dependentsOf(id: string): string[] {
    return dependentsOf(id, this.parentsOf());
  }

  private put(entry: EnvironmentEntry): void {
    const existing = this.entries.get(entry.id);
    if (!existing || existing.position <= entry.position) this.entries.set(entry.id, entry);
  }
}
