const NOTHING_READY = Symbol('nothing-ready');

/**
 * Groups an async iterable into batches: each batch holds what is already
 * available without waiting (up to `maxSize`), so a catch-up replay commits
 * in large transactions while a single live event is handled at once.
 */
export async function* batches<T>(source: AsyncIterable<T>, maxSize: number): AsyncGenerator<T[]> {
  const iterator = source[Symbol.asyncIterator]();
  let pending = iterator.next();
  try {
    while (true) {
      const first = await pending;
      if (first.done) return;
      const batch = [first.value];
      pending = iterator.next();
      while (batch.length < maxSize) {
        const ready = await Promise.race([
          pending,
          new Promise<typeof NOTHING_READY>((resolve) => setImmediate(() => resolve(NOTHING_READY))),
        ]);
        if (ready === NOTHING_READY) break;
        if (ready.done) {
          yield batch;
          return;
        }
        batch.push(ready.value);
        pending = iterator.next();
      }
      yield batch;
    }
  } finally {
    await iterator.return?.();
  }
}
