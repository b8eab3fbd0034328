/*
 * The last step of a plain JPEG decoded smaller than it is (decode.c): libjpeg-turbo's DCT
 * scaling brings it to 1/1, 1/2, 1/4 or 1/8 of its size, at least the size asked, and this
 * shrinks the rest of the way (less than 2x, or any shrink from a tiny DCT scale) with a
 * triangle filter as wide as the shrink: libvips' 'linear' kernel, which sharp uses for the same
 * step (server/pipeline/decode.ts), pixel centres aligned, edges extended.
 *
 * Vertical pass first: it reads whole source rows, which the compiler vectorises; the horizontal
 * pass then runs on the fewer output rows.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include "shrink.h"

typedef struct {
  int32_t first, count;
  float *weights;
} taps;

/* Output i of `out` covers source positions around (i + 0.5) * scale - 0.5, scale = extent / out,
 * within max(1, scale); positions past the edges read the edge pixel. NULL when out of memory.
 * `extent` is the source's size in source pixels: at a DCT scale of 1/k, the original's size
 * over k, not the rounded-up size of the decoded buffer (`in`), whose last pixel covers less:
 * 544 rows for 2173 / 4 = 543.25 would shift the last output row by three original pixels. */
static taps *axis_taps(int32_t in, double extent, int32_t out, float **store) {
  const double scale = extent / (double)out;
  const double radius = scale > 1.0 ? scale : 1.0;
  const int32_t span = (int32_t)ceil(radius) * 2 + 1;
  taps *t = malloc(sizeof(taps) * (size_t)out);
  float *w = malloc(sizeof(float) * (size_t)out * (size_t)span);
  if (!t || !w) {
    free(t);
    free(w);
    return NULL;
  }
  for (int32_t i = 0; i < out; i++) {
    const double centre = (i + 0.5) * scale - 0.5;
    const int32_t lo = (int32_t)ceil(centre - radius), hi = (int32_t)floor(centre + radius);
    int32_t from = lo < 0 ? 0 : lo, to = hi > in - 1 ? in - 1 : hi;
    float *wi = w + (size_t)i * (size_t)span;
    double total = 0;
    int32_t n = 0;
    for (int32_t k = 0; k < span; k++) wi[k] = 0;
    // Edge extension: a tap beyond the image adds its weight to the edge pixel.
    for (int32_t j = lo; j <= hi; j++) {
      const double d = fabs(j - centre) / radius;
      if (d >= 1.0) continue;
      const int32_t at = (j < 0 ? 0 : j > in - 1 ? in - 1 : j) - from;
      wi[at] += (float)(1.0 - d);
      total += 1.0 - d;
    }
    if (total <= 0) { /* cannot happen (radius >= 1 always covers a centre), kept safe */
      wi[0] = 1;
      total = 1;
    }
    for (int32_t k = 0; k < to - from + 1; k++) {
      wi[k] = (float)(wi[k] / total);
      if (wi[k] != 0) n = k + 1;
    }
    t[i].first = from;
    t[i].count = n;
    t[i].weights = wi;
  }
  *store = w;
  return t;
}

/* The weights are positive and sum to 1: only rounding can pass 255. Written as a comparison,
 * which compiles to one instruction, where fminf was a call into libm (a fifth of the time). */
static inline uint8_t to_level(float v) {
  v += 0.5f;
  return (uint8_t)(v < 255.0f ? v : 255.0f);
}

/* One output row of the horizontal pass, every output reading n taps (zero weights past its
 * own): with n a constant at each call below, the compiler unrolls the loop. */
static inline __attribute__((always_inline)) void horizontal(const taps *xs, const float *line, uint8_t *d, int32_t dw, int32_t n) {
  for (int32_t x = 0; x < dw; x++) {
    const taps *tx = &xs[x];
    const float *l = line + (size_t)tx->first * 3;
    float r = 0, g = 0, b = 0;
    for (int32_t k = 0; k < n; k++, l += 3) {
      const float w = tx->weights[k];
      r += w * l[0];
      g += w * l[1];
      b += w * l[2];
    }
    d[x * 3] = to_level(r);
    d[x * 3 + 1] = to_level(g);
    d[x * 3 + 2] = to_level(b);
  }
}

int shrink_rgb(const uint8_t *src, int32_t sw, int32_t sh, double extent_w, double extent_h, uint8_t *dst, int32_t dw, int32_t dh) {
  float *xw = NULL, *yw = NULL;
  taps *xs = axis_taps(sw, extent_w, dw, &xw);
  taps *ys = axis_taps(sh, extent_h, dh, &yw);
  const size_t row = (size_t)sw * 3;
  int32_t n = 1;
  for (int32_t x = 0; x < dw; x++) n = xs && xs[x].count > n ? xs[x].count : n;
  // Room for the zero-weight taps past the last pixel.
  float *line = calloc(row + (size_t)n * 3, sizeof(float));
  if (!xs || !ys || !line) {
    free(xs); free(xw); free(ys); free(yw); free(line);
    return -1;
  }
  for (int32_t y = 0; y < dh; y++) {
    const taps *ty = &ys[y];
    const uint8_t *s0 = src + (size_t)ty->first * row;
    const float w0 = ty->weights[0];
    for (size_t x = 0; x < row; x++) line[x] = w0 * (float)s0[x];
    for (int32_t k = 1; k < ty->count; k++) {
      const float w = ty->weights[k];
      const uint8_t *s = src + (size_t)(ty->first + k) * row;
      for (size_t x = 0; x < row; x++) line[x] += w * (float)s[x];
    }
    uint8_t *d = dst + (size_t)y * (size_t)dw * 3;
    switch (n) {
      case 1: horizontal(xs, line, d, dw, 1); break;
      case 2: horizontal(xs, line, d, dw, 2); break;
      case 3: horizontal(xs, line, d, dw, 3); break;
      case 4: horizontal(xs, line, d, dw, 4); break;
      case 5: horizontal(xs, line, d, dw, 5); break;
      case 6: horizontal(xs, line, d, dw, 6); break;
      case 7: horizontal(xs, line, d, dw, 7); break;
      default: horizontal(xs, line, d, dw, n); break;
    }
  }
  free(xs); free(xw); free(ys); free(yw); free(line);
  return 0;
}
