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
  | { kind: 'output'; task: Promise<Event<T, R>>; value: R }
  | { kind: 'stop' };

/**
 * Streams `source` through `fn` with at most `limit` items in flight, yielding results as they
 * complete. Input is read only while there is room, so a producer faster than the models is
 * held back (flow control), and a consumer that stops pulling stops the reading too. Reading
 * and completing race each other, so a client that waits for one answer before sending the
 * next image does not deadlock.
 *
 * When `stop` aborts (the server drains), nothing more is read; the items in flight are
 * answered, then the generator throws the signal's reason.
 */
export async function* mapUnordered<T, R>(
  source: AsyncIterable<T>, limit: number, fn: (item: T) => Promise<R>, stop?: AbortSignal,
): AsyncGenerator<R> {
  const input = source[Symbol.asyncIterator]();
  const running = new Set<Promise<Event<T, R>>>();
  let reading: Promise<Event<T, R>> | undefined;
  let ended = false;
  // Each wait gets its own stop promise: racing one long-lived promise again and again would
  // pile up a reaction per race on it, each holding a result (memory grew 450 MB over a
  // 5,000-image stream).
  let wake: (() => void) | undefined;
  const onStop = () => wake?.();
  stop?.addEventListener('abort', onStop, { once: true });
  try {
    while ((!ended && !stop?.aborted) || running.size > 0) {
      if (!ended && !reading && !stop?.aborted && running.size < limit) {
        reading = input.next().then((result) => ({ kind: 'input', result }));
      }
      const racers = [...running];
      if (reading && !stop?.aborted) racers.push(reading);
      if (stop && !stop.aborted) racers.push(new Promise<Event<T, R>>((resolve) => { wake = () => resolve({ kind: 'stop' }); }));
      const event = await Promise.race(racers);
      if (event.kind === 'stop') continue;
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
    if (stop?.aborted && !ended) throw stop.reason;
  } finally {
    // The stop signal lives as long as the server: one listener per stream would pile up.
    stop?.removeEventListener('abort', onStop);
    // Items still running when the stream fails are abandoned: their outcome must not surface
    // as an unhandled rejection.
    for (const task of running) task.catch(() => undefined);
    if (!ended) {
      // A read may still be waiting for the client's next message: an async generator's
      // return() would queue behind it, and the stream would hang until the client sent
      // something. Close the source without waiting for it.
      reading?.catch(() => undefined);
      void Promise.resolve(input.return?.()).catch(() => undefined);
    }
  }
}
