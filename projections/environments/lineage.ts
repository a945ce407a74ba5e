/** Parents of each environment, as the inheritance graph. */
export type ParentsOf = ReadonlyMap<string, readonly string[]>;

/**
 * Environments to merge for `id`, farthest ancestor first and `id` last; each
 * appears once, a parent that is not defined is skipped, and a cycle (refused
 * when written, but never trusted) ends the walk.
 */
export function lineageOf(id: string, parentsOf: ParentsOf): string[] {
  const order: string[] = [];
  const visit = (current: string, path: Set<string>) => {
    if (path.has(current) || order.includes(current)) return;
    path.add(current);
    for (const parent of parentsOf.get(current) ?? []) if (parentsOf.has(parent)) visit(parent, path);
    path.delete(current);
    order.push(current);
  };
  visit(id, new Set());
  return order;
}

/** Every environment whose effective configuration includes `id`'s: itself and all that inherit from it. */
export const dependentsOf = (id: string, parentsOf: ParentsOf): string[] =>
  [...parentsOf.keys()].filter((candidate) => lineageOf(candidate, parentsOf).includes(id));

/** The graph once `id` is removed: gone, and nobody's parent any more. */
export const withoutEnvironment = (parentsOf: ParentsOf, id: string): Map<string, string[]> =>
  new Map(
    [...parentsOf]
      .filter(([environment]) => environment !== id)
      .map(([environment, parents]) => [environment, parents.filter((parent) => parent !== id)]),
  );
