/**
 * A value made on first use and shared: calls while it is being made wait for the same promise.
 * A failure is not kept: the next call tries again, so that one failed attempt (a session that
 * could not be opened while memory was short) does not fail every later image.
 */
export function lazy<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => {
    made ??= make().catch((err: unknown) => {
      made = undefined;
      throw err;
    });
    return made;
  };
}
