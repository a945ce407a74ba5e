import fp from 'fastify-plugin';
import type { FailureStage } from '#projections/follow.ts';
import { type ApprovalsProcessManager, createApprovalsProcessManager } from '#services/approvals/process-manager.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Applies approved changes; absent on a replica, which writes nothing. */
    approvals: ApprovalsProcessManager | undefined;
  }
}

/** The approvals process manager, following the log from its own checkpoint on every writing instance. */
export const approvalsPlugin = fp<{ enabled: boolean }>(
  async (app, { enabled }) => {
    if (!enabled) {
      app.decorate('approvals', undefined);
      return;
    }
    const manager = createApprovalsProcessManager(app.ctx, {
      db: app.projectionDb,
      logger: app.log,
      onFailure: (stage: FailureStage) => app.metrics.followerFailures.inc({ follower: 'approvals', stage }),
    });
    await manager.start();
    app.decorate('approvals', manager);
    app.addHook('onClose', async () => manager.stop());
  },
  { name: 'approvals', dependencies: ['context'] },
);
