/*
 * The aligned face's bilinear sampling into the recognizer's input (models/inference/
 * sampling.ts's sampleToTensor for maps that rotate: every aligned face; a 112x112 face 0.20 to
 * 0.25 ms in JavaScript, 0.11 here, bench/sampling.ts). The arithmetic is the JavaScript's, in
 * doubles and in the same order, each value rounded to float once when stored, so the tensors
 * are the same to the bit (test/native-sampling.test.ts); that is why this file is built without
 * floating-point contraction (-ffp-contract=off), which would fuse the multiply-adds.
 */
#include <stddef.h>
#include <stdint.h>
#include <node_api.h>
#include "../napi-util.h"
#include "sampling.h"

#define ARGS 22

/* Each 8-bit level as a double: a load in place of a conversion, which also waits on its
 * register's previous value. */
static double level[256];

/* sampleAffine(rgb, width, height, a, b, c, d, e, f, out, outWidth, outHeight, gray,
 *              rPlane, gPlane, bPlane, meanR, meanG, meanB, invStdR, invStdG, invStdB)
 * Tensor pixel (u, v) samples image point (a*u + b*v + c, d*u + e*v + f); pixels beyond the
 * image read as black. Planes are element offsets into `out`; with gray, rPlane is the one plane. */
static napi_value sample_affine(napi_env env, napi_callback_info info) {
  napi_value argv[ARGS];
  if (!exact_args(env, info, argv, ARGS)) {
    return throw_error(env, "sampleAffine: expects 22 arguments");
  }
  size_t length, out_length;
  const uint8_t *data = uint8_array(env, argv[0], &length);
  float *out = typed_array(env, argv[9], napi_float32_array, &out_length);
  if (!data || !out) return throw_error(env, "sampleAffine: the pixels must be a Uint8Array and the tensor a Float32Array");
  int32_t sw, sh, tw, th, rp, gp, bp;
  bool gray;
  double m[6], mean[3], inv[3];
  if (napi_get_value_int32(env, argv[1], &sw) != napi_ok || napi_get_value_int32(env, argv[2], &sh) != napi_ok
      || napi_get_value_int32(env, argv[10], &tw) != napi_ok || napi_get_value_int32(env, argv[11], &th) != napi_ok
      || napi_get_value_bool(env, argv[12], &gray) != napi_ok || napi_get_value_int32(env, argv[13], &rp) != napi_ok
      || napi_get_value_int32(env, argv[14], &gp) != napi_ok || napi_get_value_int32(env, argv[15], &bp) != napi_ok) {
    return throw_error(env, "sampleAffine: sizes and planes must be integers, gray a boolean");
  }
  for (int i = 0; i < 6; i++) {
    if (napi_get_value_double(env, argv[3 + i], &m[i]) != napi_ok) return throw_error(env, "sampleAffine: the map must be numbers");
  }
  for (int i = 0; i < 3; i++) {
    if (napi_get_value_double(env, argv[16 + i], &mean[i]) != napi_ok || napi_get_value_double(env, argv[19 + i], &inv[i]) != napi_ok) {
      return throw_error(env, "sampleAffine: means and inverse deviations must be numbers");
    }
  }
  if (sw <= 0 || sh <= 0 || tw <= 0 || th <= 0 || (size_t)sw * (size_t)sh * 3 > length) {
    return throw_error(env, "sampleAffine: fewer pixels than width x height x 3, or a size not above 0");
  }
  const size_t plane = (size_t)tw * (size_t)th;
  const int32_t planes[3] = {rp, gp, bp};
  for (int i = 0; i < (gray ? 1 : 3); i++) {
    if (planes[i] < 0 || (size_t)planes[i] + plane > out_length) return throw_error(env, "sampleAffine: a plane lies outside the tensor");
  }
  const size_t stride = (size_t)sw * 3;
  for (int32_t v = 0; v < th; v++) {
    for (int32_t u = 0; u < tw; u++) {
      const double x = m[0] * u + m[1] * v + m[2];
      const double y = m[3] * u + m[4] * v + m[5];
      double r = 0, g = 0, bl = 0;
      /* floor(x) >= -1 and floor(x) < sw, compared as doubles before any cast: NaN and far-away
       * points read as black, as in JavaScript. Within that range floor is the truncation, less
       * one below zero: without SSE4.1 (the portable build) floor() is a call per use. */
      if (x >= -1 && y >= -1 && x < sw && y < sh) {
        int32_t x0 = (int32_t)x, y0 = (int32_t)y;
        if (x0 > x) x0--;
        if (y0 > y) y0--;
        const double fx = x - x0, fy = y - y0;
        const double k00 = (1 - fy) * (1 - fx), k01 = (1 - fy) * fx, k10 = fy * (1 - fx), k11 = fy * fx;
        /* Indices, not pointers: at the border they start before the image. */
        const ptrdiff_t p = (ptrdiff_t)y0 * (ptrdiff_t)stride + (ptrdiff_t)x0 * 3;
        const ptrdiff_t q = p + (ptrdiff_t)stride;
        if (x0 >= 0 && y0 >= 0 && x0 + 1 < sw && y0 + 1 < sh) {
          r = k00 * level[data[p]] + k01 * level[data[p + 3]] + k10 * level[data[q]] + k11 * level[data[q + 3]];
          g = k00 * level[data[p + 1]] + k01 * level[data[p + 4]] + k10 * level[data[q + 1]] + k11 * level[data[q + 4]];
          bl = k00 * level[data[p + 2]] + k01 * level[data[p + 5]] + k10 * level[data[q + 2]] + k11 * level[data[q + 5]];
        } else {
          /* The border: only the neighbours inside, added in the same order. */
          const int in_x0 = x0 >= 0, in_x1 = x0 + 1 < sw;
          if (y0 >= 0) {
            if (in_x0) { r += k00 * level[data[p]]; g += k00 * level[data[p + 1]]; bl += k00 * level[data[p + 2]]; }
            if (in_x1) { r += k01 * level[data[p + 3]]; g += k01 * level[data[p + 4]]; bl += k01 * level[data[p + 5]]; }
          }
          if (y0 + 1 < sh) {
            if (in_x0) { r += k10 * level[data[q]]; g += k10 * level[data[q + 1]]; bl += k10 * level[data[q + 2]]; }
            if (in_x1) { r += k11 * level[data[q + 3]]; g += k11 * level[data[q + 4]]; bl += k11 * level[data[q + 5]]; }
          }
        }
      }
      const size_t i = (size_t)v * (size_t)tw + (size_t)u;
      if (gray) {
        out[rp + i] = (float)((0.299 * r + 0.587 * g + 0.114 * bl - mean[0]) * inv[0]);
      } else {
        out[rp + i] = (float)((r - mean[0]) * inv[0]);
        out[gp + i] = (float)((g - mean[1]) * inv[1]);
        out[bp + i] = (float)((bl - mean[2]) * inv[2]);
      }
    }
  }
  return NULL;
}

napi_value register_sample_affine(napi_env env, napi_value exports) {
  for (int i = 0; i < 256; i++) level[i] = i;
  return export_function(env, exports, "sampleAffine", sample_affine);
}
