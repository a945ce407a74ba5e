import type { EnvironmentDefinition, EnvironmentEvent } from '#events/environments.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import type { SqlExecutor } from '#infra/postgres/database.ts';
import { asDomainEvent } from '#services/shared/command-handler.ts';
import { BUILT_IN_ENVIRONMENTS } from '#services/environments/decider.ts';
import { actorOf, occurredAt } from '../projection.ts';

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
      if (recorded.type !== 'EnvironmentDefined' && recorded.type !== 'EnvironmentUpdated') continue;
      const { data } = asDomainEvent<EnvironmentEvent>(recorded);
      this.put({
        ...data,
        builtIn: BUILT_IN_ENVIRONMENTS.some((builtIn) => builtIn.id === data.id),
        updatedAt: occurredAt(recorded),
        updatedBy: actorOf(recorded),
        position: recorded.position,
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
    const order: string[] = [];
    const visit = (current: string, path: Set<string>) => {
      if (path.has(current) || order.includes(current)) return;
      path.add(current);
      for (const parent of this.entries.get(current)?.inheritsFrom ?? []) visit(parent, path);
      path.delete(current);
      order.push(current);
    };
    visit(id, new Set());
    return order;
  }

  /** Every environment whose effective configuration includes `id`'s: itself and all that inherit from it. */
  dependentsOf(id: string): string[] {
    return [...this.entries.keys()].filter((candidate) => this.lineage(candidate).includes(id));
  }

  private put(entry: EnvironmentEntry): void {
    const existing = this.entries.get(entry.id);
    if (!existing || existing.position <= entry.position) this.entries.set(entry.id, entry);
  }
}
