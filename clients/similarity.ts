/** Face comparison shared by the clients (CLI, web page): no Node or DOM dependencies. */

/** Cosine similarity of two embeddings (facerest's are L2-normalised, so this is their dot product). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

interface Boxed {
  box?: { x1: number; y1: number; x2: number; y2: number };
}

/** The face with the largest box, or undefined when there is none. */
export function largestFace<F extends Boxed>(faces: readonly F[]): F | undefined {
  const area = (f: F) => (f.box ? (f.box.x2 - f.box.x1) * (f.box.y2 - f.box.y1) : 0);
  let best: F | undefined;
  for (const f of faces) if (!best || area(f) > area(best)) best = f;
  return best;
}
