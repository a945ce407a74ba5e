import type { Principal } from '#infra/auth/tokens.ts';
import type { AppContext } from '#services/shared/context.ts';

export interface RegisteredRoute {
  method: string;
  url: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The application context the routes call into (see the plugins that build it). */
    ctx: AppContext;
    routeTable: RegisteredRoute[];
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}
