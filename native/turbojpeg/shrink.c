/*
 * The last step of a plain JPEG decoded smaller than it is (decode.c): libjpeg-turbo's DCT
 * scaling brings it to 1/1, 1/2, 1/4 or 1/8 of its size, at least the size asked, and this
 * shrinks the rest of the way (less than 2x, or any shrink from a tiny DCT scale) with a
 * triangle filter as wide as the shrink: libvips' 'linear' kernel, which sharp uses for the same
 * step (server/pipeline/decode.ts), pixel centres aligned, edges extended.
 *
 * Vertical pass first: it reads whole source rows, which the compiler vectorises; the horizontal
 * pass then runs on the fewer output rows, a pixel's three channels in one vector. Every sum is
 * taken in the same order as one float at a time, so the bytes do not depend on the vector width
 * (checked on 119 decodes of the shared photos at 640 and 320, SSE2 and AVX2 builds against the
 * scalar one). On the shared originals at max_size 640 the shrink took 1.77 ms a photo
 * written one channel at a time, 1.24 with SSE2 vectors and 0.78 with AVX2 (round eight,
 * bench/throughput-history.md).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "shrink.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* AVX2 where the CPU has it, chosen when the library loads (an ifunc: glibc on x86-64 only).
 * Not AVX-512: no faster here, and it changed the bytes of 2 of those 119 decodes. */
#if defined(__x86_64__) && defined(__GLIBC__)
#define WIDEST_VECTORS __attribute__((target_clones("avx2", "default")))
#else
#define WIDEST_VECTORS
#endif

/* The most taps a vertical pass sums in registers. */
#define MAX_UNROLLED 8

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

typedef float v4f __attribute__((vector_size(16)));

/* Four floats from anywhere (an unaligned load). */
static inline v4f load4(const float *p) {
  v4f v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* One output row of the horizontal pass, every output reading n taps (zero weights past its
 * own): with n a constant at each call below, the compiler unrolls the loop. A pixel's r, g, b
 * (and the next pixel's r, unused) are summed as one 4-float vector: a third of the scalar
 * multiply-adds, each lane in the same order, so the same sums as one channel at a time. */
static inline __attribute__((always_inline)) void horizontal(const taps *xs, const float *line, uint8_t *d, int32_t dw, int32_t n) {
  for (int32_t x = 0; x < dw; x++) {
    const taps *tx = &xs[x];
    const float *l = line + (size_t)tx->first * 3;
    v4f sum = tx->weights[0] * load4(l);
    for (int32_t k = 1; k < n; k++) sum += tx->weights[k] * load4(l + k * 3);
    // The weights are positive and sum to 1, so a level is at least 0, and the saturating packs
    // keep rounding from passing 255.
#if defined(__SSE2__)
    const __m128i level = _mm_cvttps_epi32((__m128)(sum + 0.5f));
    const __m128i packed = _mm_packus_epi16(_mm_packs_epi32(level, level), level);
    const uint32_t bytes = (uint32_t)_mm_cvtsi128_si32(packed);
#else
    uint8_t bytes[4];
    for (int c = 0; c < 4; c++) bytes[c] = (uint8_t)(sum[c] + 0.5f < 255.0f ? sum[c] + 0.5f : 255.0f);
#endif
    // Four bytes stored at once (the fourth is the next pixel's r, written over next), but the
    // last pixel's three: the row ends there.
    memcpy(d + x * 3, &bytes, x + 1 < dw ? 4 : 3);
  }
}

/* One row of the vertical pass: `line` = the n source rows weighted, summed one element at a
 * time (in registers, where adding each row into `line` in turn read and wrote it n times). */
static inline __attribute__((always_inline)) void vertical(const uint8_t *const *rows, const float *w, float *line, size_t len, int32_t n) {
  for (size_t x = 0; x < len; x++) {
    float sum = w[0] * (float)rows[0][x];
    for (int32_t k = 1; k < n; k++) sum += w[k] * (float)rows[k][x];
    line[x] = sum;
  }
}

WIDEST_VECTORS int shrink_rgb(const uint8_t *src, int32_t sw, int32_t sh, double extent_w, double extent_h, uint8_t *dst, int32_t dw, int32_t dh) {
  float *xw = NULL, *yw = NULL;
  taps *xs = axis_taps(sw, extent_w, dw, &xw);
  taps *ys = axis_taps(sh, extent_h, dh, &yw);
  const size_t row = (size_t)sw * 3;
  int32_t n = 1;
  for (int32_t x = 0; x < dw; x++) n = xs && xs[x].count > n ? xs[x].count : n;
  // Room for the zero-weight taps past the last pixel, and the fourth float of the last load4.
  float *line = calloc(row + (size_t)n * 3 + 1, sizeof(float));
  if (!xs || !ys || !line) {
    free(xs); free(xw); free(ys); free(yw); free(line);
    return -1;
  }
  for (int32_t y = 0; y < dh; y++) {
    const taps *ty = &ys[y];
    const uint8_t *rows[MAX_UNROLLED];
    const int32_t m = ty->count < MAX_UNROLLED ? ty->count : MAX_UNROLLED;
    for (int32_t k = 0; k < m; k++) rows[k] = src + (size_t)(ty->first + k) * row;
    switch (m) {
      case 1: vertical(rows, ty->weights, line, row, 1); break;
      case 2: vertical(rows, ty->weights, line, row, 2); break;
      case 3: vertical(rows, ty->weights, line, row, 3); break;
      case 4: vertical(rows, ty->weights, line, row, 4); break;
      case 5: vertical(rows, ty->weights, line, row, 5); break;
      case 6: vertical(rows, ty->weights, line, row, 6); break;
      case 7: vertical(rows, ty->weights, line, row, 7); break;
      default: vertical(rows, ty->weights, line, row, 8); break;
    }
    // Taps past the eighth (a shrink of more than 4x, from a tiny DCT scale): added a row at a time.
    for (int32_t k = MAX_UNROLLED; k < ty->count; k++) {
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
