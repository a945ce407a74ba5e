import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/** The OpenAPI 3.1 document, from the same route schemas that validate requests, and the page that shows it. */
export async function registerOpenApi(app: FastifyInstance, prefix: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'configledger',
        version: '1.0.0',
        description:
          'Event-sourced configuration service. Every change is an event; every past state can be read back.',
      },
      components: {
        securitySchemes: {
          BearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          ServiceToken: {
            type: 'apiKey',
            in: 'header',
            name: 'X-Service-Token',
            description: 'a service token (clst_...)',
          },
        },
      },
      // Either scheme; the routes anyone may call say so with an empty list.
      security: [{ BearerAuth: [] }, { ServiceToken: [] }],
    },
  });
  // The docs page loads its own scripts and styles: it carries swagger-ui's policy instead of the API's.
  await app.register(swaggerUi, { routePrefix: `${prefix}/docs`, uiConfig: { deepLinking: true }, staticCSP: true });
  app.get(`${prefix}/openapi.json`, { schema: { hide: true } }, async () => app.swagger());
}
