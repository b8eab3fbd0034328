/**
 * The chaos suite's judge of good answers (stress/chaos/good-traffic.ts `mismatch`): the quick
 * round in test/chaos.test.ts only fails on a wrong answer if this judge calls it wrong, so it is
 * shown here to reject what a broken server could send (a face lost or added, an embedding
 * moved, an empty or NaN vector) and to keep what a correct one sends (the faces in another order,
 * float noise far below the 0.999 bar).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mismatch } from '../stress/chaos/good-traffic.js';

const DIM = 512;

/** A unit vector with a 1 at `i`: faces that are nothing like each other (cosine 0). */
function axis(i: number): number[] {
  const v = new Array<number>(DIM).fill(0);
  v[i] = 1;
  return v;
}

/** `v` turned towards `w` (orthogonal to it) until their cosine is `c`. */
function tilted(v: number[], w: number[], c: number): number[] {
  const s = Math.sqrt(1 - c * c);
  return v.map((x, i) => c * x + s * w[i]);
}

describe('chaos: the judge of good answers', () => {
  const reference = [axis(0), axis(1), axis(2)];

  it('keeps the quiet answer, in any face order, with float noise', () => {
    assert.equal(mismatch(reference, reference), undefined);
    assert.equal(mismatch(reference, [axis(2), axis(0), axis(1)]), undefined);
    assert.equal(mismatch(reference, [tilted(axis(0), axis(7), 0.9999), axis(1), axis(2)]), undefined);
  });

  it('rejects a face lost or added', () => {
    assert.match(mismatch(reference, [axis(0), axis(1)]) ?? '', /2 faces, quiet server found 3/);
    assert.match(mismatch(reference, [...reference, axis(0)]) ?? '', /4 faces, quiet server found 3/);
    assert.match(mismatch(reference, []) ?? '', /0 faces/);
  });

  it('rejects an embedding below cosine 0.999, another face, or garbage', () => {
    assert.match(mismatch(reference, [axis(0), tilted(axis(1), axis(7), 0.998), axis(2)]) ?? '', /face 1: best cosine 0\.998/);
    assert.match(mismatch(reference, [axis(0), axis(1), axis(9)]) ?? '', /face 2: best cosine 0\.0000/);
    assert.match(mismatch(reference, [axis(0), axis(1), new Array<number>(DIM).fill(Number.NaN)]) ?? '', /face 2/);
    assert.match(mismatch(reference, [axis(0), axis(1), []]) ?? '', /face 2/);
  });
});
