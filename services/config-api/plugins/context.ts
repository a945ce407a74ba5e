import fp from 'fastify-plugin';
import { createSchemaValidators } from '#services/schemas/validator.ts';

/** The application context the routes call into, from the resources the other plugins started. */
export const contextPlugin = fp<{ readYourWritesTimeoutMs: number }>(
  async (app, { readYourWritesTimeoutMs }) => {
    app.decorate('ctx', {
      store: app.eventStore,
      commands: app.commands,
      db: app.readModelDb,
      readModels: app.readModels,
      vault: app.vault,
      validators: createSchemaValidators(),
      readYourWritesTimeoutMs,
      observe: { credentialAccess: (outcome: string) => app.metrics.credentialAccess.inc({ outcome }) },
    });
  },
  { name: 'context', dependencies: ['storage', 'read-models', 'vault'] },
);
