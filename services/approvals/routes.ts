import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { type ProposedChange, approvalPolicyStream, changeRequestStream } from '#events/approvals.ts';
import type { AppContext } from '#services/shared/context.ts';
import { type CommandWithoutSchema, executeConfigurationCommand } from '#services/configuration/commands.ts';
import { waitForPosition } from '#services/configuration/read.ts';
import { type CommandContext, loadState } from '#services/shared/command-handler.ts';
import { DomainError } from '#events/errors.ts';
import { validationFailed } from '#services/shared/errors.ts';
import { EnvironmentId, Position, commandContext, ok } from '#services/shared/http.ts';
import {
  type ChangeRequestCommand,
  type ChangeRequestState,
  changeRequestDecider,
  quorumReached,
} from './change-request-decider.ts';
import { type CredentialCommand, credentialDecider } from '#services/credentials/decider.ts';
import { SENSITIVITIES, credentialStream } from '#events/credentials.ts';
import { policyDecider } from './policy-decider.ts';
import { approvedChangeFailed, changeMovedOn, changeRequestNotFound } from './errors.ts';
import { applyApprovedEnvironmentChange } from '#services/environments/application.ts';
import type { Principal } from '#infra/auth/tokens.ts';
import { requireScope, unrestricted } from '#services/config-api/permissions.ts';

const tags = ['approvals'];
const PolicyId = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' });
const RequestId = Type.String({ format: 'uuid' });
const DecisionBody = Type.Object(
  { comment: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
);

type OpenedState = Exclude<ChangeRequestState, { status: 'absent' }>;

/** The change request, if the principal may see it: its service must be in scope. */
async function loadVisible(ctx: AppContext, principal: Principal, id: string): Promise<OpenedState> {
  const { state } = await loadState(ctx.store, changeRequestStream(id), changeRequestDecider);
  if (state.status === 'absent') throw changeRequestNotFound(id, 'no such change request');
  requireScope(principal, state.request.change.serviceId);
  return state;
}

const viewOf = (state: OpenedState) => {
  const { request } = state;
  return {
    id: request.id,
    status: state.status,
    serviceId: request.change.serviceId,
    environment: request.change.environment,
    changedKeys: request.change.changedKeys,
    baseVersion: request.change.baseVersion,
    change: request.change.command,
    requestedBy: request.requestedBy,
    reason: request.reason ?? null,
    requiredApprovals: request.requiredApprovals,
    approverRole: request.approverRole,
    policyIds: request.policyIds,
    approvals: state.approvals,
    rejection: state.rejection ?? null,
    outcome: state.outcome ?? null,
    openedAt: request.openedAt,
    expiresAt: request.expiresAt,
  };
};

/**
 * Applies the approved change as its requester made it, on the version it was
 * decided on: if the configuration moved on meanwhile, it fails with
 * CONFIGURATION_MOVED_ON rather than overwrite what happened since.
 */
async function applyApproved(
  ctx: AppContext,
  request: FastifyRequest,
  state: Exclude<ChangeRequestState, { status: 'absent' }>,
) {
  const { id, change, requestedBy, reason } = state.request;
  const context = { ...commandContext(request, reason), actor: requestedBy, causationId: id };
  const approval = { changeRequestId: id, approvedBy: state.approvals.map((decision) => decision.approver) };
  const record = (outcome: Extract<ChangeRequestCommand, { type: 'RecordOutcome' }>['outcome']) =>
    ctx.commands.handle(
      changeRequestStream(id),
      changeRequestDecider,
      { type: 'RecordOutcome', id, outcome, now: new Date().toISOString() },
      commandContext(request),
    );
  try {
    const applied =
      change.kind === 'configuration'
        ? await applyConfiguration(ctx, request, change, approval, context)
        : change.kind === 'environment'
          ? await applyApprovedEnvironmentChange(ctx, change, context)
          : await applyCredential(ctx, change, context);
    await record({ applied: true, ...applied });
    return { status: 'applied' as const, ...applied, approvedBy: approval.approvedBy };
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    const moved = ['VERSION_CONFLICT', 'CONFIGURATION_EXISTS', 'CREDENTIAL_EXISTS', 'CREDENTIAL_NOT_FOUND'].includes(
      error.code,
    );
    const failure = moved ? changeMovedOn(id, change.kind, change.baseVersion, error) : approvedChangeFailed(id, error);
    await record({ applied: false, code: failure.code, message: failure.message });
    throw failure;
  }
}

async function applyConfiguration(
  ctx: AppContext,
  request: FastifyRequest,
  change: ProposedChange,
  approval: { changeRequestId: string; approvedBy: string[] },
  context: CommandContext,
) {
  const command = { ...change.command, expectedVersion: change.baseVersion } as unknown as CommandWithoutSchema;
  const outcome = await executeConfigurationCommand(ctx, request, command, { approval, context });
  if (outcome.kind !== 'applied') throw new Error('an approved change asked for approval again');
  return { version: outcome.answer.version, position: outcome.answer.position };
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

export const approvalRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ctx } = app;

  app.get('/approval-policies', { schema: { tags, summary: 'Approval policies in force' } }, async () =>
    ok(ctx.readModels.policies.list()),
  );

  app.put(
    '/approval-policies/:id',
    {
      schema: {
        tags,
        summary: 'Define or change an approval policy: which environments and keys need how many approvals',
        params: Type.Object({ id: PolicyId }),
        body: Type.Object(
          {
            environments: Type.Array(Type.Union([EnvironmentId, Type.Literal('*')]), { minItems: 1, maxItems: 50 }),
            keyPatterns: Type.Optional(
              Type.Array(Type.String({ pattern: '^(\\*|[A-Za-z0-9_$-]+(\\.[A-Za-z0-9_$-]+)*(\\.\\*)?)$' }), {
                maxItems: 100,
              }),
            ),
            requiredApprovals: Type.Integer({ minimum: 1, maximum: 10 }),
            approverRole: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
            expiresAfterHours: Type.Optional(Type.Integer({ minimum: 1, maximum: 24 * 30 })),
            description: Type.Optional(Type.String({ maxLength: 500 })),
            credentialSensitivity: Type.Optional(
              Type.Union(
                SENSITIVITIES.map((level) => Type.Literal(level)),
                { description: 'credential stores and rotations at or above it need approval too' },
              ),
            ),
            inheritance: Type.Optional(
              Type.Boolean({
                description: 'changing what these environments inherit, or removing one, needs approval too',
              }),
            ),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const { id } = request.params;
      const { approverRole = 'approver', expiresAfterHours = 24, keyPatterns = [], ...rest } = request.body;
      if (keyPatterns.length === 0 && !rest.credentialSensitivity && !rest.inheritance) {
        throw validationFailed(
          [{ path: 'keyPatterns', message: 'empty' }],
          'a policy needs keyPatterns, a credentialSensitivity or inheritance',
        );
      }
      const policy = { id, ...rest, keyPatterns, approverRole, expiresAfterHours };
      const result = await ctx.commands.handle(
        approvalPolicyStream(id),
        policyDecider,
        { type: 'DefinePolicy', policy },
        commandContext(request),
      );
      // In force here from the moment this answers.
      await ctx.readModels.runner.waitFor(result.position, ctx.readYourWritesTimeoutMs, 'seen');
      return ok({ ...policy, position: Number(result.position) });
    },
  );

  app.delete(
    '/approval-policies/:id',
    { schema: { tags, summary: 'Remove an approval policy', params: Type.Object({ id: PolicyId }) } },
    async (request, reply) => {
      const result = await ctx.commands.handle(
        approvalPolicyStream(request.params.id),
        policyDecider,
        { type: 'RemovePolicy', id: request.params.id },
        commandContext(request),
      );
      await ctx.readModels.runner.waitFor(result.position, ctx.readYourWritesTimeoutMs, 'seen');
      return reply.status(204).send();
    },
  );

  app.get(
    '/change-requests',
    {
      schema: {
        tags,
        summary: 'Change requests, newest first',
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Union(['pending', 'applied', 'rejected', 'failed'].map((s) => Type.Literal(s)))),
            minPosition: Type.Optional(Position),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      await waitForPosition(ctx, request.query.minPosition);
      const principal = request.principal!;
      const { rows } = await ctx.db.query(
        `SELECT id, status, service_id AS "serviceId", environment, changed_keys AS "changedKeys", requested_by AS "requestedBy", reason,
                required_approvals AS "requiredApprovals", approvals, opened_at AS "openedAt", expires_at AS "expiresAt", outcome
         FROM change_requests WHERE ($1::text IS NULL OR status = $1) AND ($2::text[] IS NULL OR service_id = ANY($2))
         ORDER BY position DESC LIMIT 500`,
        [request.query.status ?? null, unrestricted(principal) ? null : principal.services],
      );
      return ok(rows);
    },
  );

  app.get(
    '/change-requests/:id',
    {
      schema: {
        tags,
        summary: 'One change request with its decisions, from the log',
        params: Type.Object({ id: RequestId }),
      },
    },
    async (request) => ok(viewOf(await loadVisible(ctx, request.principal!, request.params.id))),
  );

  for (const decision of ['approve', 'reject'] as const) {
    app.post(
      `/change-requests/:id/${decision}`,
      {
        schema: {
          tags,
          summary:
            decision === 'approve'
              ? 'Approve; the change applies when the quorum is reached (not by the requester, once per approver, not after expiry)'
              : 'Reject; the change will not apply',
          params: Type.Object({ id: RequestId }),
          body: DecisionBody,
        },
      },
      async (request) => {
        const { id } = request.params;
        const principal = request.principal!;
        await loadVisible(ctx, principal, id);
        const result = await ctx.commands.handle(
          changeRequestStream(id),
          changeRequestDecider,
          {
            type: 'Decide',
            id,
            decision,
            approver: principal.subject,
            roles: principal.roles,
            ...(request.body.comment ? { comment: request.body.comment } : {}),
            now: new Date().toISOString(),
          },
          commandContext(request),
        );
        const state = result.state as OpenedState;
        if (state.status === 'pending' && quorumReached(state))
          return ok({ ...viewOf(state), ...(await applyApproved(ctx, request, state)) });
        return ok(viewOf(state));
      },
    );
  }
};
