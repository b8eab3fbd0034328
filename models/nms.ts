import type { Detection } from './types.js';

function iou(a: Detection, b: Detection): number {
  const [ax1, ay1, ax2, ay2] = a.box;
  const [bx1, by1, bx2, by2] = b.box;
  const iw = Math.min(ax2, bx2) - Math.max(ax1, bx1);
  const ih = Math.min(ay2, by2) - Math.max(ay1, by1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / ((ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter);
}

/** Greedy non-maximum suppression; returns the kept detections, highest score first. */
export function nonMaxSuppression(candidates: Detection[], iouThreshold: number, maxKeep = 1000): Detection[] {
  const sorted = [...candidates].sort((p, q) => q.score - p.score);
  const kept: Detection[] = [];
  for (const c of sorted) {
    if (kept.length >= maxKeep) break;
    if (kept.every((k) => iou(k, c) <= iouThreshold)) kept.push(c);
  }
  return kept;
}
