/*
 * The landmark model's crop: an axis-aligned shrink of the face's box to a gray tensor with a
 * tent filter (models/inference/sampling.ts's resizeSeparable for a gray target: a 303-px face
 * into 64x64, 0.47 to 0.52 ms in JavaScript, 0.17 here, bench/sampling.ts). The taps come from
 * sampling.ts (axisTaps); the arithmetic is its loops', in the same order and precision: gray in
 * doubles, the horizontal sums in doubles rounded to float, the vertical sums in doubles over
 * those floats, each output rounded to float once. So the values are the same to the bit
 * (test/native-sampling.test.ts), and this file too is built without floating-point contraction.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <node_api.h>
#include "../napi-util.h"
#include "sampling.h"

typedef struct {
  const int32_t *first, *count;
  const float *weights;
  int32_t span, size;
} taps;

/* Reads one axis's taps (first, count, weights, span) from argv, each tap inside [0, source). */
static int read_taps(napi_env env, napi_value *argv, int32_t source, taps *t) {
  size_t nf, nc, nw;
  t->first = typed_array(env, argv[0], napi_int32_array, &nf);
  t->count = typed_array(env, argv[1], napi_int32_array, &nc);
  t->weights = typed_array(env, argv[2], napi_float32_array, &nw);
  if (!t->first || !t->count || !t->weights || nf != nc || napi_get_value_int32(env, argv[3], &t->span) != napi_ok || t->span <= 0) return 0;
  t->size = (int32_t)nf;
  if ((size_t)t->size * (size_t)t->span > nw) return 0;
  for (int32_t i = 0; i < t->size; i++) {
    if (t->count[i] < 0 || t->count[i] > t->span) return 0;
    if (t->count[i] > 0 && (t->first[i] < 0 || t->first[i] > source - t->count[i])) return 0;
  }
  return 1;
}

/* The source range the taps read: [*lo, *hi], empty when *hi < *lo. */
static void span_of(const taps *t, int32_t source, int32_t *lo, int32_t *hi) {
  *lo = source;
  *hi = -1;
  for (int32_t i = 0; i < t->size; i++) {
    if (t->count[i] == 0) continue;
    if (t->first[i] < *lo) *lo = t->first[i];
    if (t->first[i] + t->count[i] - 1 > *hi) *hi = t->first[i] + t->count[i] - 1;
  }
}

/* shrinkGray(rgb, width, height, xFirst, xCount, xWeights, xSpan, yFirst, yCount, yWeights, ySpan,
 *            out, offset, mean, invStd): out[offset + v * xs + u] for the taps' xs x ys grid. */
static napi_value shrink_gray(napi_env env, napi_callback_info info) {
  napi_value argv[15];
  if (!exact_args(env, info, argv, 15)) {
    return throw_error(env, "shrinkGray: expects 15 arguments");
  }
  size_t length, out_length;
  const uint8_t *data = uint8_array(env, argv[0], &length);
  float *out = typed_array(env, argv[11], napi_float32_array, &out_length);
  if (!data || !out) return throw_error(env, "shrinkGray: the pixels must be a Uint8Array and the tensor a Float32Array");
  int32_t sw, sh, offset;
  double mean, inv;
  if (napi_get_value_int32(env, argv[1], &sw) != napi_ok || napi_get_value_int32(env, argv[2], &sh) != napi_ok
      || napi_get_value_int32(env, argv[12], &offset) != napi_ok || napi_get_value_double(env, argv[13], &mean) != napi_ok
      || napi_get_value_double(env, argv[14], &inv) != napi_ok) {
    return throw_error(env, "shrinkGray: sizes and the offset must be integers, the normalisation numbers");
  }
  if (sw <= 0 || sh <= 0 || (size_t)sw * (size_t)sh * 3 > length) return throw_error(env, "shrinkGray: fewer pixels than width x height x 3");
  taps xs, ys;
  if (!read_taps(env, argv + 3, sw, &xs) || !read_taps(env, argv + 7, sh, &ys)) return throw_error(env, "shrinkGray: taps outside the image");
  const int32_t dw = xs.size, dh = ys.size;
  if (offset < 0 || (size_t)offset + (size_t)dw * (size_t)dh > out_length) return throw_error(env, "shrinkGray: the output lies outside the tensor");
  int32_t row_lo, row_hi, col_lo, col_hi;
  span_of(&ys, sh, &row_lo, &row_hi);
  span_of(&xs, sw, &col_lo, &col_hi);
  const int32_t rows = row_hi >= row_lo ? row_hi - row_lo + 1 : 0;
  const int32_t cols = col_hi >= col_lo ? col_hi - col_lo + 1 : 0;
  double *line = malloc(sizeof(double) * ((size_t)cols + (size_t)dw + 1));
  double *sums = line + cols;
  float *tmp = malloc(sizeof(float) * ((size_t)rows * (size_t)dw + 1));
  if (!line || !tmp) {
    free(line);
    free(tmp);
    return throw_error(env, "shrinkGray: out of memory");
  }
  /* Horizontal pass over the source rows the vertical pass reads, each pixel's gray once. */
  for (int32_t r = 0; r < rows; r++) {
    const uint8_t *p = data + ((size_t)(row_lo + r) * (size_t)sw + (size_t)col_lo) * 3;
    for (int32_t x = 0; x < cols; x++, p += 3) line[x] = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    float *row = tmp + (size_t)r * (size_t)dw;
    for (int32_t u = 0; u < dw; u++) {
      const float *w = xs.weights + (size_t)u * (size_t)xs.span;
      double acc = 0;
      /* A column without taps may name a first tap outside the image: not read. */
      for (int32_t k = 0; k < xs.count[u]; k++) acc += (double)w[k] * line[xs.first[u] - col_lo + k];
      row[u] = (float)acc;
    }
  }
  /* Vertical pass, a row of sums at a time: each sum still adds its terms in the same order. */
  for (int32_t v = 0; v < dh; v++) {
    const float *w = ys.weights + (size_t)v * (size_t)ys.span;
    const int32_t n = ys.count[v];
    for (int32_t u = 0; u < dw; u++) sums[u] = 0;
    for (int32_t k = 0; k < n; k++) {
      const float *src = tmp + (size_t)(ys.first[v] - row_lo + k) * (size_t)dw;
      const double wk = w[k];
      for (int32_t u = 0; u < dw; u++) sums[u] += wk * src[u];
    }
    float *o = out + offset + (size_t)v * (size_t)dw;
    for (int32_t u = 0; u < dw; u++) o[u] = (float)((sums[u] - mean) * inv);
  }
  free(line);
  free(tmp);
  return NULL;
}

napi_value register_shrink_gray(napi_env env, napi_value exports) {
  return export_function(env, exports, "shrinkGray", shrink_gray);
}
