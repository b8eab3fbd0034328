/** Verification metrics for same-person / different-person scores. */

/** Area under the ROC curve: the chance a same-person pair outscores a different-person pair. */
export function auc(scores: number[], same: boolean[]): number {
  const pos = scores.filter((_, i) => same[i]);
  const neg = scores.filter((_, i) => !same[i]);
  let wins = 0;
  for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

/** The best accuracy of any threshold, and that threshold (the midpoint between neighbours). */
export function bestAccuracy(scores: number[], same: boolean[]): { accuracy: number; threshold: number } {
  const order = scores.map((s, i) => ({ s, same: same[i] })).sort((a, b) => a.s - b.s);
  const positives = same.filter(Boolean).length;
  // Threshold below everything: all called "same".
  let correct = positives;
  let best = { accuracy: correct / order.length, threshold: order[0].s - 1e-6 };
  for (let i = 0; i < order.length; i++) {
    correct += order[i].same ? -1 : 1;
    const threshold = i + 1 < order.length ? (order[i].s + order[i + 1].s) / 2 : order[i].s + 1e-6;
    if (correct / order.length > best.accuracy) best = { accuracy: correct / order.length, threshold };
  }
  return best;
}

/** The share of pairs called right when "same" means score >= threshold. */
export function accuracyAt(scores: number[], same: boolean[], threshold: number): number {
  return scores.filter((s, i) => (s >= threshold) === same[i]).length / scores.length;
}

export { cosine } from '../../clients/similarity.js';
