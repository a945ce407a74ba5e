import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { configurationReadRoutes } from './read-routes.ts';
import { configurationWriteRoutes } from './write-routes.ts';
import { configurationTransferRoutes } from './transfer-routes.ts';

export const configurationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(configurationReadRoutes);
  await app.register(configurationWriteRoutes);
  await app.register(configurationTransferRoutes);
};
