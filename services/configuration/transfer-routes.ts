import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { JsonObject } from '#events/metadata.ts';
import { schemaStream } from '#events/schemas.ts';
import { loadState } from '#services/shared/command-handler.ts';
import { validationFailed } from '#services/shared/errors.ts';
import { exportEdited, keyNotFound } from './errors.ts';
import { checksumOf } from '#infra/json/canonical.ts';
import {
  ChangeReason,
  EnvironmentId,
  ExpectedVersion,
  JsonDocument,
  Key,
  commandContext,
  expectedVersionOf,
  ok,
} from '#services/shared/http.ts';
import { schemaDecider } from '#services/schemas/decider.ts';
import { activeValidator, executeConfigurationCommand } from './commands.ts';
import { type ImportPlan, applyImport, policiesHolding } from './import.ts';
import { openChangeRequest } from '#services/approvals/open.ts';
import { ServiceParams, tags } from './http-schemas.ts';
import { getPath } from '#events/paths.ts';
import { type ConfigurationView, effectiveNow, readConfiguration, requireEnvironment, viewOf } from './read.ts';

const EXPORT_FORMAT = 'configledger-export';

const ExportDocument = Type.Object(
  {
    format: Type.Literal(EXPORT_FORMAT),
    version: Type.Literal(1),
    serviceId: Type.String(),
    exportedAt: Type.String(),
    schema: Type.Union([Type.Object({ version: Type.Integer(), schema: JsonDocument }), Type.Null()]),
    environments: Type.Record(
      Type.String(),
      Type.Object(
        {
          version: Type.Integer(),
          checksum: Type.String(),
          configuration: JsonDocument,
          position: Type.Optional(Type.Integer()),
          inheritedFrom: Type.Optional(Type.Array(Type.String())),
          own: Type.Optional(
            Type.Union(
              [
                Type.Object({
                  configuration: JsonDocument,
                  checksum: Type.String(),
                  version: Type.Integer(),
                  position: Type.Integer(),
                }),
                Type.Null(),
              ],
              {
                description:
                  "the environment's own layer (what import writes); absent in older exports, whose configuration is the own layer",
              },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const outcomeOf = (outcome: Awaited<ReturnType<typeof executeConfigurationCommand>>) =>
  outcome.kind === 'applied'
    ? { status: 'applied', ...outcome.answer }
    : { status: 'pending approval', changeRequest: outcome.changeRequest };

export const configurationTransferRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ctx } = app;

  app.post(
    '/configurations/:serviceId/promote',
    {
      schema: {
        tags,
        summary:
          'Copy the effective configuration, or chosen keys, from one environment to another as one change (validation, concurrency and approvals apply)',
        params: ServiceParams,
        body: Type.Object(
          {
            fromEnvironment: EnvironmentId,
            toEnvironment: EnvironmentId,
            keys: Type.Optional(Type.Array(Key, { minItems: 1, maxItems: 1000, uniqueItems: true })),
            changeReason: Type.Optional(ChangeReason),
            expectedVersion: Type.Optional(ExpectedVersion),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const { serviceId } = request.params;
      const { fromEnvironment, toEnvironment, keys, changeReason } = request.body;
      await requireEnvironment(ctx, toEnvironment);
      const source = await readConfiguration(ctx, serviceId, fromEnvironment);
      const reason = changeReason ?? `promoted from ${fromEnvironment} version ${source.version}`;
      const common = {
        serviceId,
        environment: toEnvironment,
        changeReason: reason,
        expectedVersion: expectedVersionOf(request, request.body.expectedVersion),
      };
      const outcome = keys
        ? await executeConfigurationCommand(ctx, commandContext(request, reason), {
            type: 'Batch',
            ...common,
            operations: keys.map((key, index) => {
              const value = getPath(source.configuration, key);
              if (value === undefined) throw keyNotFound(key);
              return { id: String(index + 1), type: 'SET' as const, key, value };
            }),
          })
        : await executeConfigurationCommand(ctx, commandContext(request, reason), {
            type: 'Replace',
            ...common,
            configuration: source.configuration,
          });
      return reply
        .status(outcome.kind === 'pending' ? 202 : 200)
        .send(ok({ from: { environment: fromEnvironment, version: source.version }, ...outcomeOf(outcome) }));
    },
  );

  app.get(
    '/configurations/:serviceId/export',
    {
      schema: {
        tags,
        summary: "A service's configuration in every environment, its schema and versions, as one JSON document",
        params: ServiceParams,
      },
    },
    async (request) => {
      const { serviceId } = request.params;
      const environments: Record<
        string,
        Omit<ConfigurationView, 'serviceId' | 'environment' | 'updatedAt' | 'updatedBy' | 'epoch'>
      > = {};
      for (const environment of ctx.readModels.environments.list()) {
        const effective = await effectiveNow(ctx, serviceId, environment.id);
        if (effective) {
          // A document of configurations, not of a log: the epoch stays out (positions say when, within the source log).
          const {
            serviceId: _service,
            environment: _environment,
            updatedAt: _at,
            updatedBy: _by,
            epoch: _epoch,
            ...entry
          } = viewOf(effective, ctx.readModels.epoch.current);
          environments[environment.id] = entry;
        }
      }
      const { state } = await loadState(ctx.store, schemaStream(serviceId), schemaDecider);
      return ok({
        format: EXPORT_FORMAT,
        version: 1,
        serviceId,
        exportedAt: new Date().toISOString(),
        schema: state.status === 'active' ? { version: state.version, schema: state.schema } : null,
        environments,
      });
    },
  );

  app.post(
    '/configurations/:serviceId/import',
    {
      schema: {
        tags,
        summary:
          'Apply what export gives (its answer as it is, the bare document, or {document, changeReason}): the schema and every environment, all or nothing; held as one change request when an approval policy covers any of it',
        params: ServiceParams,
        body: Type.Object(
          { document: ExportDocument, changeReason: Type.Optional(ChangeReason) },
          { additionalProperties: false },
        ),
      },
      // Export's answer, or its document alone, is taken as it is: the round trip needs no editing.
      preValidation: async (request) => {
        const body = request.body as Record<string, unknown> | undefined;
        // Checked by the route's schema right after: here only moved into place.
        if (body && typeof body.data === 'object' && 'success' in body) request.body = { document: body.data } as never;
        else if (body && body.format === EXPORT_FORMAT) request.body = { document: body } as never;
      },
    },
    async (request, reply) => {
      const { serviceId } = request.params;
      const { document, changeReason = `imported from ${document.serviceId}, exported ${document.exportedAt}` } =
        request.body;
      for (const [environment, entry] of Object.entries(document.environments)) {
        await requireEnvironment(ctx, environment);
        // With its own layer beside it, the effective document is there to read, not to edit.
        if (entry.own && checksumOf(entry.configuration as JsonObject) !== entry.checksum)
          throw exportEdited(environment);
      }
      // Every document is checked against the schema it will live under before anything is written.
      const validate = document.schema
        ? ctx.validators.compile(document.schema.schema as JsonObject)
        : (await activeValidator(ctx, serviceId)).validate;
      const errors = Object.entries(document.environments).flatMap(([environment, entry]) =>
        validate(entry.configuration as JsonObject).map((issue) => ({
          ...issue,
          path: `${environment}:${issue.path}`,
        })),
      );
      if (errors.length > 0)
        throw validationFailed(errors, 'the imported configurations do not match the schema; nothing was written');
      const plan: ImportPlan = {
        schema: (document.schema?.schema as JsonObject | undefined) ?? null,
        environments: {},
      };
      for (const [environment, entry] of Object.entries(document.environments)) {
        // An environment's own layer is what it holds; one that only inherits has nothing of its own to write.
        const own = entry.own === undefined ? entry.configuration : entry.own?.configuration;
        if (own) plan.environments[environment] = own as JsonObject;
      }
      const context = commandContext(request, changeReason);
      const { policies, held, changed, versions } = await policiesHolding(ctx, serviceId, plan);
      if (policies.length > 0) {
        const changeRequest = await openChangeRequest(
          ctx,
          context,
          {
            kind: 'import',
            serviceId,
            environment: held[0]!.environment,
            command: {
              schema: plan.schema,
              environments: Object.fromEntries(
                Object.entries(plan.environments).map(([environment, configuration]) => [
                  environment,
                  { configuration, baseVersion: versions[environment] ?? 0 },
                ]),
              ),
            },
            baseVersion: 0,
            // All of it: what a policy holds, and what would apply with it.
            changedKeys: changed.flatMap(({ environment, changedKeys }) =>
              changedKeys.map((key) => `${environment}:${key}`),
            ),
          },
          policies,
          changeReason,
        );
        return reply.status(202).send(ok({ serviceId, changeRequest }));
      }
      const answers = await applyImport(ctx, context, serviceId, plan);
      return ok({
        serviceId,
        environments: Object.fromEntries(
          Object.entries(answers).map(([environment, answer]) => [environment, { status: 'applied', ...answer }]),
        ),
      });
    },
  );
};
