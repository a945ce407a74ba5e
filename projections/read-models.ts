import type { Database } from '#infra/postgres/database.ts';
import type { EventStore, RecordedEvent } from '#infra/eventstore/port.ts';
import { auditProjection } from './audit/apply.ts';
import { ConfigurationCache } from './configurations/cache.ts';
import { configurationsProjection } from './configurations/apply.ts';
import { credentialsProjection } from './credentials/apply.ts';
import { ServiceTokenDirectory, serviceTokensProjection } from './service-tokens/directory.ts';
import { approvalsProjection } from './approvals/apply.ts';
import { AUDIT_CHAIN_SCHEMA, auditChainProjection } from './audit/chain.ts';
import { PolicyDirectory } from '#projections/approvals/policies.ts';
import { environmentsProjection } from './environments/apply.ts';
import { EnvironmentDirectory } from './environments/directory.ts';
import { type ProjectionRunner, createProjectionRunner } from './runner.ts';
import type { FollowOptions, FollowerLogger } from './follow.ts';
import { READ_MODEL_SCHEMA } from './schema.ts';
import { schemasProjection } from './schemas/apply.ts';
import { LogEpoch } from './log-epoch.ts';
import { RevokedTokens, revocationsProjection } from './security/revocations.ts';

export const READ_MODEL_PROJECTIONS = [
  configurationsProjection,
  schemasProjection,
  environmentsProjection,
  credentialsProjection,
  serviceTokensProjection,
  approvalsProjection,
  auditProjection,
  revocationsProjection,
  auditChainProjection,
];
export const READ_MODEL_CHECKPOINT = 'read-models';

export async function migrateReadModels(db: Database): Promise<void> {
  await db.exec(READ_MODEL_SCHEMA);
  await db.exec(AUDIT_CHAIN_SCHEMA);
}

export interface ReadModels {
  runner: ProjectionRunner;
  cache: ConfigurationCache;
  environments: EnvironmentDirectory;
  serviceTokens: ServiceTokenDirectory;
  policies: PolicyDirectory;
  /** JWT ids refused from their revocation on. */
  revokedTokens: RevokedTokens;
  /** The epoch of the log: published beside every position. */
  epoch: LogEpoch;
  stop(): Promise<void>;
}

/** 64 MiB: 10,000 configurations of about 3 KB each. */
export const DEFAULT_CACHE_BYTES = 64 * 2 ** 20;

/** Creates the tables if needed, loads what is in memory, and follows the log from the checkpoint. */
export async function startReadModels(
  store: EventStore,
  db: Database,
  follow: {
    logger?: FollowerLogger;
    onFailure?: FollowOptions['onFailure'];
    /** Told of every event as it is seen, before the database has it (caches that must not outlive a newer revision). */
    onSeen?: (events: RecordedEvent[]) => void;
    /** The weight of the configurations held in memory; beyond it the least recently read are read from the database again. */
    cacheMaxBytes?: number;
  } = {},
): Promise<ReadModels> {
  await migrateReadModels(db);
  const cache = new ConfigurationCache(follow.cacheMaxBytes ?? DEFAULT_CACHE_BYTES);
  const environments = new EnvironmentDirectory();
  await environments.load(db);
  const serviceTokens = new ServiceTokenDirectory();
  await serviceTokens.load(db);
  const policies = new PolicyDirectory();
  await policies.load(db);
  const revokedTokens = new RevokedTokens();
  await revokedTokens.load(db);
  const epoch = await LogEpoch.of(store);
  const runner = createProjectionRunner({
    store,
    db,
    projections: READ_MODEL_PROJECTIONS,
    checkpointName: READ_MODEL_CHECKPOINT,
    ...follow,
    onSeen: (events) => {
      follow.onSeen?.(events);
      epoch.observe(events);
      cache.applyEvents(events);
      environments.applyEvents(events);
      serviceTokens.applyEvents(events);
      policies.applyEvents(events);
      revokedTokens.applyEvents(events);
    },
  });
  await runner.start();
  return { runner, cache, environments, serviceTokens, policies, revokedTokens, epoch, stop: () => runner.stop() };
}
