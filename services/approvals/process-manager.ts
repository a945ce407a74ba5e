import { type ChangeRequestApproved, type ProposedChange, changeRequestStream } from '#events/approvals.ts';
import { credentialStream } from '#events/credentials.ts';
import { DomainError } from '#events/errors.ts';
import type { EventMetadata } from '#events/metadata.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import { metadataOf } from '#projections/projection.ts';
import type { Database } from '#infra/postgres/database.ts';
import { type FollowOptions, type FollowerLogger, followLog } from '#projections/follow.ts';
import { readCheckpoint, writeCheckpoint } from '#projections/runner.ts';
import { configurationStream } from '#events/configuration.ts';
import type { JsonObject } from '#events/metadata.ts';
import { deletePath, diffDocuments, setPath } from '#events/paths.ts';
import {
  type CommandWithoutSchema,
  documentAtVersion,
  executeConfigurationCommand,
} from '#services/configuration/commands.ts';
import { type ConfigurationCommand, configurationDecider, proposedDocument } from '#services/configuration/decider.ts';
import { applyImport } from '#services/configuration/import.ts';
import { type CredentialCommand, credentialDecider } from '#services/credentials/decider.ts';
import { applyApprovedEnvironmentChange } from '#services/environments/application.ts';
import { type CommandContext, loadState } from '#services/shared/command-handler.ts';
import type { AppContext } from '#services/shared/context.ts';
import {
  type ChangeRequestCommand,
  type ChangeRequestState,
  changeRequestDecider,
  quorumReached,
} from './change-request-decider.ts';
import { approvedChangeFailed, changeMovedOn, changedPathsConflict, noLongerValid, recordedFailure } from './errors.ts';

const CHECKPOINT = 'approvals-process-manager';

export type ApprovalOutcome =
  | { applied: true; version: number; position: number; approvedBy: string[] }
  | { applied: false; error: DomainError };

export interface ApprovalsProcessManager {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The outcome of an approved change request once it is recorded, by this instance or another; undefined after `timeoutMs`. */
  outcome(id: string, timeoutMs: number): Promise<ApprovalOutcome | undefined>;
}

/**
 * Applies an approved change once its quorum is reached, driven by the log:
 * on each approval it looks at the change request, and when the quorum is
 * there applies the change as its requester made it, on the version it was
 * decided on, and records the outcome. Every instance runs it; the change's
 * events take ids derived from the change request, so whichever instance
 * applies first, the change is recorded once, and the outcome too.
 */
export function createApprovalsProcessManager(
  ctx: AppContext,
  options: { db: Database; logger?: FollowerLogger; onFailure?: FollowOptions['onFailure'] },
): ApprovalsProcessManager {
  const waiters = new Map<string, Set<(outcome: ApprovalOutcome) => void>>();
  /** Errors this instance met applying a change, richer than what the log keeps of them. */
  const failures = new Map<string, DomainError>();

  const settle = (id: string, outcome: ApprovalOutcome) => {
    for (const wake of waiters.get(id) ?? []) wake(outcome);
    waiters.delete(id);
    failures.delete(id);
  };

  async function onApproved(event: RecordedEvent): Promise<void> {
    const { id } = event.data as ChangeRequestApproved['data'];
    const { state } = await loadState(ctx.store, changeRequestStream(id), changeRequestDecider);
    if (state.status !== 'pending' || !quorumReached(state)) return;
    const outcome = await apply(ctx, state, metadataOf(event));
    if (!outcome.applied) failures.set(id, outcome.error);
  }

  function onOutcome(event: RecordedEvent, state: ChangeRequestState): void {
    const id = String(event.data.id);
    if (event.type === 'ChangeRequestApplied') {
      const approvedBy = state.status === 'absent' ? [] : state.approvals.map((decision) => decision.approver);
      settle(id, {
        applied: true,
        version: Number(event.data.version),
        position: Number(event.data.position),
        approvedBy,
      });
    } else {
      const error = failures.get(id) ?? recordedFailure(id, String(event.data.code), String(event.data.message));
      settle(id, { applied: false, error });
    }
  }

  const follower = followLog({
    name: 'approvals process manager',
    store: ctx.store,
    filter: { streamPrefixes: [changeRequestStream('')] },
    logger: options.logger,
    onFailure: options.onFailure,
    checkpoint: () => readCheckpoint(options.db, CHECKPOINT),
    handle: async (batch) => {
      for (const event of batch) {
        if (event.type === 'ChangeRequestApproved') await onApproved(event);
        else if (event.type === 'ChangeRequestApplied' || event.type === 'ChangeRequestFailed') {
          const { state } = await loadState(ctx.store, event.streamName, changeRequestDecider);
          onOutcome(event, state);
        }
      }
      await writeCheckpoint(options.db, CHECKPOINT, batch[batch.length - 1]!.position);
    },
  });

  return {
    start: () => follower.start(),
    stop: () => follower.stop(),
    async outcome(id, timeoutMs) {
      // Already recorded (it was applied before this was asked): read it from the log.
      const { state } = await loadState(ctx.store, changeRequestStream(id), changeRequestDecider);
      if (state.status === 'applied') {
        const approvedBy = state.approvals.map((decision) => decision.approver);
        return {
          applied: true,
          version: state.outcome?.version ?? 0,
          position: state.outcome?.position ?? 0,
          approvedBy,
        };
      }
      if (state.status === 'failed') {
        const error =
          failures.get(id) ??
          recordedFailure(id, state.outcome?.code ?? 'APPROVED_CHANGE_FAILED', state.outcome?.message ?? '');
        return { applied: false, error };
      }
      return new Promise((resolve) => {
        const wake = (outcome: ApprovalOutcome) => {
          clearTimeout(timer);
          resolve(outcome);
        };
        const timer = setTimeout(() => {
          waiters.get(id)?.delete(wake);
          resolve(undefined);
        }, timeoutMs);
        const set = waiters.get(id) ?? new Set();
        set.add(wake);
        waiters.set(id, set);
      });
    },
  };
}

/** Applies the approved change and records the outcome; a change whose target moved on fails with *_MOVED_ON rather than overwrite. */
async function apply(
  ctx: AppContext,
  state: Exclude<ChangeRequestState, { status: 'absent' }>,
  approval: Partial<EventMetadata>,
): Promise<ApprovalOutcome> {
  const { id, change, requestedBy, reason } = state.request;
  // The request that completed the quorum is where the change comes from: its correlation, address and client.
  const correlationId = approval.correlationId ?? id;
  const lastApprover = approval.actor ?? 'approvals';
  const origin = {
    ...(approval.sourceIp ? { sourceIp: approval.sourceIp } : {}),
    ...(approval.userAgent ? { userAgent: approval.userAgent } : {}),
  };
  // Ids derived from the change request: applied by two instances, or again after a crash, it is recorded once.
  const context: CommandContext = {
    actor: requestedBy,
    correlationId,
    causationId: id,
    ...(reason ? { reason } : {}),
    ...origin,
    now: new Date(),
    idempotencyKey: `change-request:${id}`,
  };
  const approvedBy = state.approvals.map((decision) => decision.approver);
  const record = (outcome: Extract<ChangeRequestCommand, { type: 'RecordOutcome' }>['outcome']) =>
    ctx.commands
      .handle(
        changeRequestStream(id),
        changeRequestDecider,
        { type: 'RecordOutcome', id, outcome, now: new Date().toISOString() },
        {
          actor: lastApprover,
          correlationId,
          causationId: id,
          ...origin,
          now: new Date(),
          idempotencyKey: `change-request-outcome:${id}`,
        },
      )
      .catch((error: unknown) => {
        // Another instance recorded it first.
        if (!(error instanceof DomainError && error.code === 'CHANGE_REQUEST_CLOSED')) throw error;
      });
  try {
    const applied =
      change.kind === 'configuration'
        ? await applyConfiguration(ctx, change, { changeRequestId: id, approvedBy }, context)
        : change.kind === 'import'
          ? await applyHeldImport(ctx, change, { changeRequestId: id, approvedBy }, context)
          : change.kind === 'environment'
            ? await applyApprovedEnvironmentChange(ctx, change, context)
            : await applyCredential(ctx, change, context);
    await record({ applied: true, ...applied });
    return { applied: true, ...applied, approvedBy };
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    const moved = ['VERSION_CONFLICT', 'CONFIGURATION_EXISTS', 'CREDENTIAL_EXISTS', 'CREDENTIAL_NOT_FOUND'].includes(
      error.code,
    );
    const invalid =
      change.kind === 'configuration' && ['VALIDATION_ERROR', 'INHERITED_VALIDATION_FAILED'].includes(error.code);
    const failure = moved
      ? changeMovedOn(id, change.kind, change.baseVersion, error)
      : invalid
        ? noLongerValid(id, change.baseVersion, change.changedKeys, error)
        : approvedChangeFailed(id, error);
    await record({ applied: false, code: failure.code, message: failure.message });
    return { applied: false, error: failure };
  }
}

/** Two dotted paths touch the same value when one is the other or lies within it. */
const overlaps = (a: string, b: string) => a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);

/**
 * Applies an approved configuration change. On the version it was decided on,
 * as it was made; on a later version (someone wrote since), as a three-way
 * merge over paths: the change's own changes (the base against what its
 * command makes of the base) go on top of the current document, unless a
 * change made since touches one of its paths — then it fails, naming them.
 * The result is validated like any write.
 */
async function applyConfiguration(
  ctx: AppContext,
  change: ProposedChange,
  approval: { changeRequestId: string; approvedBy: string[] },
  context: CommandContext,
) {
  const command = change.command as unknown as CommandWithoutSchema;
  const stream = configurationStream(change.serviceId, change.environment);
  for (let attempt = 1; ; attempt++) {
    const { state } = await loadState(ctx.store, stream, configurationDecider);
    const currentVersion = state.status === 'active' ? state.version : 0;
    const onVersion = async (toApply: CommandWithoutSchema, expectedVersion: number) => {
      const outcome = await executeConfigurationCommand(
        ctx,
        context,
        { ...toApply, expectedVersion } as CommandWithoutSchema,
        { approval },
      );
      if (outcome.kind !== 'applied') throw new Error('an approved change asked for approval again');
      return { version: outcome.answer.version, position: outcome.answer.position };
    };
    try {
      if (currentVersion === change.baseVersion || state.status !== 'active' || change.baseVersion === 0)
        return await onVersion(command, change.baseVersion);
      const base =
        (await documentAtVersion(ctx, change.serviceId, change.environment, change.baseVersion)) ?? ({} as JsonObject);
      const ours = diffDocuments(base, proposedDocument(command as ConfigurationCommand, base, change.baseVersion));
      const theirs = diffDocuments(base, state.configuration);
      const conflicts = ours
        .map((mine) => mine.path)
        .filter((path) => theirs.some((their) => overlaps(path, their.path)));
      if (conflicts.length > 0) throw changedPathsConflict(approval.changeRequestId, change.baseVersion, conflicts);
      let merged = state.configuration;
      for (const mine of ours)
        merged =
          'newValue' in mine ? setPath(merged, mine.path, mine.newValue!) : (deletePath(merged, mine.path) ?? merged);
      return await onVersion(
        {
          type: 'Replace',
          serviceId: change.serviceId,
          environment: change.environment,
          configuration: merged,
          changeReason: command.changeReason,
        } as CommandWithoutSchema,
        currentVersion,
      );
    } catch (error) {
      // Someone wrote between reading and applying: merge again onto what is there now.
      if (!(error instanceof DomainError && error.code === 'VERSION_CONFLICT') || attempt >= 3) throw error;
    }
  }
}

/**
 * An import held as one change: applied whole, and only if no environment of
 * it changed since it was decided (it replaces each one's own layer).
 */
async function applyHeldImport(
  ctx: AppContext,
  change: ProposedChange,
  approval: { changeRequestId: string; approvedBy: string[] },
  context: CommandContext,
) {
  const held = change.command as unknown as {
    schema: JsonObject | null;
    environments: Record<string, { configuration: JsonObject; baseVersion: number }>;
  };
  const moved: string[] = [];
  for (const [environment, { baseVersion }] of Object.entries(held.environments)) {
    const { state } = await loadState(
      ctx.store,
      configurationStream(change.serviceId, environment),
      configurationDecider,
    );
    if ((state.status === 'active' ? state.version : 0) !== baseVersion) moved.push(environment);
  }
  if (moved.length > 0) throw changedPathsConflict(approval.changeRequestId, 0, moved);
  const plan = {
    schema: held.schema,
    environments: Object.fromEntries(
      Object.entries(held.environments).map(([environment, { configuration }]) => [environment, configuration]),
    ),
  };
  const answers = Object.values(await applyImport(ctx, context, change.serviceId, plan, approval));
  const last = answers[answers.length - 1];
  return { version: last?.version ?? 0, position: last?.position ?? 0 };
}

/** The sealed value is bound to its version: if the credential moved on, the append is refused. */
async function applyCredential(ctx: AppContext, change: ProposedChange, context: CommandContext) {
  const command = { ...change.command, now: context.now.toISOString() } as unknown as CredentialCommand;
  const key =
    command.type === 'StoreCredential'
      ? command.description.key
      : command.type === 'RotateCredential'
        ? command.key
        : undefined;
  if (!key) throw new Error(`a ${command.type} cannot wait for approval`);
  const result = await ctx.commands.handle(credentialStream(key), credentialDecider, command, context);
  if (result.state.status !== 'active') throw new Error('an approved credential change left no credential');
  return { version: result.state.current.secret.version, position: Number(result.position) };
}
