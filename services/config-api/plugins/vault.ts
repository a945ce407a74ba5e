import fp from 'fastify-plugin';
import type { KeyProvider } from '#infra/crypto/key-provider.ts';
import { type Vault, createVault } from '#services/credentials/vault.ts';

declare module 'fastify' {
  interface FastifyInstance {
    vault: Vault;
  }
}

/** The credentials' keys: each credential's key in the read-model database, wrapped by the key provider's. */
export const vaultPlugin = fp<{ keys: KeyProvider }>(
  async (app, { keys }) => {
    const vault = createVault(app.projectionDb, keys);
    await vault.migrate();
    app.decorate('vault', vault);
  },
  { name: 'vault', dependencies: ['storage'] },
);
