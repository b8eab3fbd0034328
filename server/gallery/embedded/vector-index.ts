/**
 * The embedded backend's search index: every embedding of one collection in memory, searched
 * exactly. Candidates come from an 8-bit copy scanned by usearch's SIMD exact search (about
 * 3 ms for 100,000 x 512 on one core, against about 40 ms for the same scan in JavaScript over
 * floats); the candidates are then scored again on the float vectors, so the scores returned are
 * the true cosines and the order is exact unless the 8-bit scan drops a true neighbour out of
 * `candidates` (bench:gallery measures recall against a float scan).
 */
import usearch, { type Matches } from 'usearch';
import type { Match } from '../store.js';

/**
 * The 8-bit copy of a vector: scaled so its largest component is 127, nothing clipped whatever
 * the model's value range. The 8-bit scan uses the cosine metric, which does not see the scale.
 */
function quantize(v: Float32Array, out: Int8Array, at: number): void {
  let max = 0;
  for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]));
  const k = max > 0 ? 127 / max : 0;
  for (let i = 0; i < v.length; i++) out[at + i] = Math.round(v[i] * k);
}

/** Below this many vectors the float scan alone is as fast as the 8-bit pass. */
const SMALL = 4096;

export class VectorIndex {
  private count = 0;
  private f32: Float32Array;
  private i8: Int8Array;
  private ids: string[] = [];
  private subjects: string[] = [];
  private rows = new Map<string, number>();

  constructor(readonly dim: number, capacity = 1024) {
    this.f32 = new Float32Array(capacity * dim);
    this.i8 = new Int8Array(capacity * dim);
  }

  get size(): number {
    return this.count;
  }

  add(id: string, subject: string, v: Float32Array): void {
    if (v.length !== this.dim) throw new Error(`embedding of ${v.length} values in an index of ${this.dim}`);
    if ((this.count + 1) * this.dim > this.f32.length) this.grow();
    const row = this.count++;
    this.f32.set(v, row * this.dim);
    quantize(v, this.i8, row * this.dim);
    this.ids[row] = id;
    this.subjects[row] = subject;
    this.rows.set(id, row);
  }

  /** Moves the last row into the hole, so the rows stay dense. */
  remove(id: string): boolean {
    const row = this.rows.get(id);
    if (row === undefined) return false;
    const last = --this.count;
    if (row !== last) {
      const d = this.dim;
      this.f32.copyWithin(row * d, last * d, (last + 1) * d);
      this.i8.copyWithin(row * d, last * d, (last + 1) * d);
      this.ids[row] = this.ids[last];
      this.subjects[row] = this.subjects[last];
      this.rows.set(this.ids[row], row);
    }
    this.ids.length = last;
    this.subjects.length = last;
    this.rows.delete(id);
    return true;
  }

  removeSubject(subject: string): void {
    for (const id of this.ids.filter((_, row) => this.subjects[row] === subject)) this.remove(id);
  }

  /** The float vector of a face, or undefined. */
  vector(id: string): Float32Array | undefined {
    const row = this.rows.get(id);
    return row === undefined ? undefined : this.f32.slice(row * this.dim, (row + 1) * this.dim);
  }

  /** Up to `topK` subjects with a face scoring at least `minScore`, each by its best face, best first. */
  search(query: Float32Array, topK: number, minScore: number): Match[] {
    if (this.count === 0 || topK <= 0) return [];
    let candidates = Math.min(this.count, topK * 8 + 64);
    for (;;) {
      const matches = this.best(this.candidateRows(query, candidates), query, topK, minScore);
      // Enough distinct subjects, or every row looked at, or the last candidate already below
      // the threshold: a larger candidate set cannot change the answer.
      if (matches.done || candidates >= this.count) return matches.list;
      candidates = Math.min(this.count, candidates * 4);
    }
  }

  private candidateRows(query: Float32Array, n: number): Int32Array {
    if (this.count <= SMALL || n >= this.count) return Int32Array.from({ length: this.count }, (_, i) => i);
    const q = new Int8Array(this.dim);
    quantize(query, q, 0);
    // The live rows only. usearch reads a typed array from its buffer's start (it ignores
    // byteOffset), so the view must start at 0, as this one does.
    const data = this.i8.subarray(0, this.count * this.dim);
    const found = usearch.exactSearch(data, q, this.dim, n, usearch.MetricKind.Cos, 1) as Matches;
    return Int32Array.from(found.keys, (k) => Number(k));
  }

  private best(rows: Int32Array, query: Float32Array, topK: number, minScore: number): { list: Match[]; done: boolean } {
    const d = this.dim;
    const scored: { row: number; score: number }[] = [];
    for (const row of rows) {
      let s = 0;
      const at = row * d;
      for (let i = 0; i < d; i++) s += this.f32[at + i] * query[i];
      scored.push({ row, score: s });
    }
    scored.sort((a, b) => b.score - a.score);
    const list: Match[] = [];
    const seen = new Set<string>();
    let lowest = Infinity;
    for (const { row, score } of scored) {
      lowest = score;
      if (score < minScore) break;
      const subject = this.subjects[row];
      if (seen.has(subject)) continue;
      seen.add(subject);
      list.push({ faceId: this.ids[row], subject, score });
      if (list.length === topK) break;
    }
    return { list, done: list.length === topK || lowest < minScore };
  }

  private grow(): void {
    const capacity = Math.max(1024, (this.f32.length / this.dim) * 2);
    const f32 = new Float32Array(capacity * this.dim);
    f32.set(this.f32.subarray(0, this.count * this.dim));
    const i8 = new Int8Array(capacity * this.dim);
    i8.set(this.i8.subarray(0, this.count * this.dim));
    this.f32 = f32;
    this.i8 = i8;
  }
}
