import type { Detection } from './types.js';

/**
 * Candidates kept before non-maximum suppression, the highest scores first (the top_k of
 * RetinaFace's reference code). A real crowd needs far fewer: lumia.jpg at max_size 0 gives
 * YuNet-s 2,440 candidates for its 493 faces. At threshold 0 a 12-megapixel image gave YuNet-s
 * and RetinaFace hundreds of thousands, and suppressing them took seconds.
 */
export const MAX_CANDIDATES = 5000;

function iou(a: Detection, b: Detection): number {
  const [ax1, ay1, ax2, ay2] = a.box;
  const [bx1, by1, bx2, by2] = b.box;
  const iw = Math.min(ax2, bx2) - Math.max(ax1, bx1);
  const ih = Math.min(ay2, by2) - Math.max(ay1, by1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / ((ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter);
}

/** The `k` highest-scoring candidates (or a few more on equal scores), in no particular order. */
function highest(candidates: Detection[], k: number): Detection[] {
  // A typed-array sort of the scores alone is far cheaper than sorting the objects.
  const scores = Float32Array.from(candidates, (c) => c.score).sort();
  const cutoff = scores[scores.length - k];
  return candidates.filter((c) => c.score >= cutoff);
}

/** Greedy non-maximum suppression; returns the kept detections, highest score first. */
export function nonMaxSuppression(candidates: Detection[], iouThreshold: number, maxKeep = 1000,
  maxCandidates = MAX_CANDIDATES): Detection[] {
  const pool = candidates.length > maxCandidates ? highest(candidates, maxCandidates) : candidates;
  const sorted = [...pool].sort((p, q) => q.score - p.score).slice(0, maxCandidates);
  const kept: Detection[] = [];
  for (const c of sorted) {
    if (kept.length >= maxKeep) break;
    if (kept.every((k) => iou(k, c) <= iouThreshold)) kept.push(c);
  }
  return kept;
}
