import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { approvalPolicyStream, changeRequestStream } from '#events/approvals.ts';
import type { AppContext } from '#services/shared/context.ts';
import { waitForPosition } from '#services/configuration/read.ts';
import { loadState } from '#services/shared/command-handler.ts';
import { validationFailed } from '#services/shared/errors.ts';
import { commandContext, EnvironmentId, ok, PAGE, Position } from '#services/shared/http.ts';
import { type ChangeRequestState, changeRequestDecider, quorumReached } from './change-request-decider.ts';
import { SENSITIVITIES } from '#events/credentials.ts';
import { listChangeRequests } from '#projections/approvals/queries.ts';
import { policyDecider } from './policy-decider.ts';
import { changeRequestNotFound } from './errors.ts';
import type { Principal } from '#infra/auth/tokens.ts';
import { requireScope, unrestricted } from '#services/config-api/permissions.ts';

const tags = ['approvals'];
/** How long an approval that reaches the quorum waits for the change to be applied before answering `approved`. */
const APPLY_WAIT_MS = 15_000;
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
            ...PAGE,
            cursor: Type.Optional(
              Type.String({
                pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{6}Z_[0-9a-f-]{36}$',
                description: 'the nextCursor of the previous page',
              }),
            ),
            minPosition: Type.Optional(Position),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const { status, limit = 100, cursor, minPosition } = request.query;
      await waitForPosition(ctx, minPosition);
      const principal = request.principal!;
      return ok(
        await listChangeRequests(ctx.db, {
          limit,
          ...(status ? { status } : {}),
          ...(cursor ? { cursor } : {}),
          ...(unrestricted(principal) ? {} : { services: principal.services }),
        }),
      );
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
        if (state.status !== 'pending' || !quorumReached(state)) return ok(viewOf(state));
        // The quorum is reached: the process manager applies the change; the answer waits for its outcome.
        const outcome = await app.approvals?.outcome(id, APPLY_WAIT_MS);
        if (!outcome) return ok({ ...viewOf(state), status: 'approved' });
        if (!outcome.applied) throw outcome.error;
        const { applied: _applied, ...applied } = outcome;
        return ok({ ...viewOf(state), status: 'applied', ...applied });
      },
    );
  }
};
