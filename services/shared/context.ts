import type { EventStore } from '#infra/eventstore/port.ts';
import type { Database } from '#infra/postgres/database.ts';
import type { ReadModels } from '#projections/read-models.ts';
import type { Vault } from '#services/credentials/vault.ts';
import type { SchemaValidators } from '#services/schemas/validator.ts';
import type { Principal } from '#infra/auth/tokens.ts';
import type { CommandContext, Commands } from './command-handler.ts';

/**
 * What the application's commands and queries work with: the log and its
 * command runner, the read models, the vault and the compiled schemas. No
 * HTTP in it, so a route, the CLI or a process manager can call them alike.
 */
export interface AppContext {
  store: EventStore;
  commands: Commands;
  /** The read-model database, for the queries the in-process read side does not hold. */
  db: Database;
  readModels: ReadModels;
  vault: Vault;
  validators: SchemaValidators;
  /** How long a read with `minPosition` may wait for the projections. */
  readYourWritesTimeoutMs: number;
  /** What operators count: credential reads by outcome. */
  observe: { credentialAccess(outcome: string): void };
}

/**
 * Who asks, and what the log records of their request (actor, correlation,
 * source address, idempotency key): built by the edge from an HTTP request,
 * by the CLI or a process manager from their own facts.
 */
export interface Caller {
  principal: Principal;
  context: CommandContext;
  userAgent?: string;
}
