/*
 * The alignment view's halving (models/inference/sampling.ts's halveRgb, used by server/worker/
 * align.ts for faces larger than the aligned crop): each output pixel the rounded mean of a 2x2
 * block. Integer arithmetic, so the same bytes as the JavaScript by construction.
 */
#include <stddef.h>
#include <stdint.h>
#include <node_api.h>
#include "../napi-util.h"
#include "sampling.h"

/* halveRgb(rgb, width, height, x0, y0, x1, y1): Buffer of ((x1-x0)>>1) x ((y1-y0)>>1) x 3. */
static napi_value halve_rgb(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!exact_args(env, info, argv, 7)) {
    return throw_error(env, "halveRgb(rgb, width, height, x0, y0, x1, y1)");
  }
  size_t length;
  const uint8_t *s = uint8_array(env, argv[0], &length);
  if (!s) return throw_error(env, "halveRgb: the pixels must be a Uint8Array");
  int32_t v[6];
  for (int i = 0; i < 6; i++) {
    if (napi_get_value_int32(env, argv[1 + i], &v[i]) != napi_ok) return throw_error(env, "halveRgb: sizes and corners must be integers");
  }
  const int32_t sw = v[0], sh = v[1], x0 = v[2], y0 = v[3], x1 = v[4], y1 = v[5];
  if (sw <= 0 || sh <= 0 || (size_t)sw * (size_t)sh * 3 > length) return throw_error(env, "halveRgb: fewer pixels than width x height x 3");
  if (x0 < 0 || y0 < 0 || x1 > sw || y1 > sh) return throw_error(env, "halveRgb: the region lies outside the image");
  const int32_t width = x1 > x0 ? (x1 - x0) >> 1 : 0, height = y1 > y0 ? (y1 - y0) >> 1 : 0;
  void *out_data;
  napi_value buffer;
  if (napi_create_buffer(env, (size_t)width * (size_t)height * 3, &out_data, &buffer) != napi_ok) {
    return throw_error(env, "halveRgb: out of memory");
  }
  uint8_t *o = out_data;
  const size_t stride = (size_t)sw * 3;
  for (int32_t row = 0; row < height; row++) {
    const uint8_t *p = s + (size_t)(y0 + 2 * row) * stride + (size_t)x0 * 3;
    const uint8_t *q = p + stride;
    for (int32_t u = 0; u < width; u++, p += 6, q += 6, o += 3) {
      o[0] = (uint8_t)((p[0] + p[3] + q[0] + q[3] + 2) >> 2);
      o[1] = (uint8_t)((p[1] + p[4] + q[1] + q[4] + 2) >> 2);
      o[2] = (uint8_t)((p[2] + p[5] + q[2] + q[5] + 2) >> 2);
    }
  }
  return buffer;
}

napi_value register_halve_rgb(napi_env env, napi_value exports) {
  return export_function(env, exports, "halveRgb", halve_rgb);
}
