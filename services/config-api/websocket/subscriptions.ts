import type { Connection } from './connection.ts';

/**
 * Which connections may want a push for a service: those with a pattern
 * naming the service, and those whose pattern names every service (`*`).
 * A push is matched against these few instead of every open connection;
 * each candidate still checks its own patterns and permission.
 */
export class SubscriptionIndex {
  private readonly byService = new Map<string, Set<Connection>>();
  private readonly anyService = new Set<Connection>();
  private readonly services = new Map<Connection, string[]>();

  /** Files the connection under the services its patterns name now. */
  update(connection: Connection): void {
    this.remove(connection);
    const services = [...new Set([...connection.patterns].map((pattern) => pattern.split('.')[1]!))];
    for (const service of services) {
      if (service === '*') this.anyService.add(connection);
      else {
        const set = this.byService.get(service) ?? new Set<Connection>();
        set.add(connection);
        this.byService.set(service, set);
      }
    }
    if (services.length > 0) this.services.set(connection, services);
  }

  remove(connection: Connection): void {
    for (const service of this.services.get(connection) ?? []) {
      if (service === '*') this.anyService.delete(connection);
      else {
        const set = this.byService.get(service);
        set?.delete(connection);
        if (set?.size === 0) this.byService.delete(service);
      }
    }
    this.services.delete(connection);
  }

  /** Each connection that may want a push for `serviceId`, once. */
  *candidates(serviceId: string): Iterable<Connection> {
    yield* this.anyService;
    for (const connection of this.byService.get(serviceId) ?? [])
      if (!this.anyService.has(connection)) yield connection;
  }
}
