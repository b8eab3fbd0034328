/** Bounded concurrency for batches and streams, so a large request never floods the pool. */

/** Applies `fn` to every item with at most `limit` running; results in input order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  });
  await Promise.all(lanes);
  return results;
}

type Event<T, R> =
  | { kind: 'input'; result: IteratorResult<T> }
  | { kind: 'output'; task: Promise<Event<T, R>>; value: R };

/**
 * Streams `source` through `fn` with at most `limit` items in flight, yielding results as they
 * complete. Input is read only while there is room, so a producer faster than the models is
 * held back (flow control), and a consumer that stops pulling stops the reading too. Reading
 * and completing race each other, so a client that waits for one answer before sending the
 * next image does not deadlock.
 */
export async function* mapUnordered<T, R>(
  source: AsyncIterable<T>, limit: number, fn: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  const input = source[Symbol.asyncIterator]();
  const running = new Set<Promise<Event<T, R>>>();
  let reading: Promise<Event<T, R>> | undefined;
  let ended = false;
  try {
    while (!ended || running.size > 0) {
      if (!ended && !reading && running.size < limit) {
        reading = input.next().then((result) => ({ kind: 'input', result }));
      }
      const event = await Promise.race(reading ? [...running, reading] : running);
      if (event.kind === 'input') {
        reading = undefined;
        if (event.result.done) {
          ended = true;
        } else {
          const task: Promise<Event<T, R>> = fn(event.result.value)
            .then((value) => ({ kind: 'output', task, value }));
          running.add(task);
        }
      } else {
        running.delete(event.task);
        yield event.value;
      }
    }
  } finally {
    if (!ended) await input.return?.();
  }
}
