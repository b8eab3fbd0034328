/*
 * The detector input's resize (issue 14): 8-bit RGB, two-tap linear with half-pixel centres,
 * giving the same bytes as ONNX Runtime's Resize node on the same pixels (models/inference/
 * preprocess.ts's resizeNode, antialias off; test/native-resize.test.ts checks it on every shared
 * photo and on odd sizes). That node cost about 1.1 ms a 640-px photo for UltraFace's 320x240
 * input, most of it its kernel plus a session run and a copy of its output into JavaScript;
 * this costs about 0.4 on the inference worker's own thread.
 *
 * The arithmetic is ONNX Runtime's integer path for 8-bit NHWC images: source coordinates in
 * float ((o + 0.5) / scale - 0.5, clamped to the image, scale = out / in as float), the weights in
 * tenths of 1024, and the four-term sum shifted down by 20 bits (truncated, not rounded). Any other
 * order or rounding moves 40% of the values by one level, so it is kept exactly as it is, and the
 * file is built without floating-point contraction (-ffp-contract=off). Where the height does not
 * change, ONNX Runtime reads the image as NCHW and takes its float path instead; preprocess.ts
 * leaves that case to the graph.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>
#include "../napi-util.h"

/* One output index's two source indices and their weights (d1 toward i2, d2 toward i1, in 1/1024). */
typedef struct {
  int32_t i1, i2, d1, d2;
} tap;

static void setup_axis(tap *t, int32_t in, int32_t out) {
  const float scale = (float)out / (float)in;
  for (int32_t o = 0; o < out; o++) {
    float v = scale == 1.0f ? (float)o : ((float)o + 0.5f) / scale - 0.5f;
    v = fmaxf(0.0f, fminf(v, (float)(in - 1)));
    const int32_t s10 = (int32_t)(v * 1024.0f);
    int32_t i1 = (int32_t)v;
    if (i1 > in - 1) i1 = in - 1;
    const int32_t i2 = i1 + 1 < in ? i1 + 1 : in - 1;
    t[o].i1 = i1;
    t[o].i2 = i2;
    if (i1 == i2) {
      t[o].d1 = 512;
      t[o].d2 = 512;
    } else {
      t[o].d1 = abs(s10 - i1 * 1024);
      t[o].d2 = abs(s10 - i2 * 1024);
    }
  }
}

static int get_int(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok && *out > 0;
}

/* resizeLinear(rgb: Uint8Array, width, height, contentW, contentH, outW, outH): Buffer of
 * outW x outH x 3, the image resized to contentW x contentH at its top left, black elsewhere
 * (the detector's letterbox padding). */
static napi_value resize_linear(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!exact_args(env, info, argv, 7)) {
    return throw_error(env, "resizeLinear(rgb, width, height, contentW, contentH, outW, outH)");
  }
  size_t length;
  void *data = uint8_array(env, argv[0], &length);
  if (!data) return throw_error(env, "resizeLinear: the pixels must be a Uint8Array");
  int32_t sw, sh, cw, ch, ow, oh;
  if (!get_int(env, argv[1], &sw) || !get_int(env, argv[2], &sh) || !get_int(env, argv[3], &cw) || !get_int(env, argv[4], &ch)
      || !get_int(env, argv[5], &ow) || !get_int(env, argv[6], &oh) || cw > ow || ch > oh
      || (size_t)sw > (size_t)INT_MAX / 3 / (size_t)sh || (size_t)ow > (size_t)INT_MAX / 3 / (size_t)oh) {
    return throw_error(env, "resizeLinear: bad sizes");
  }
  if (length < (size_t)sw * (size_t)sh * 3) return throw_error(env, "resizeLinear: fewer pixels than width x height x 3");
  tap *xs = malloc(sizeof(tap) * ((size_t)cw + (size_t)ch));
  if (!xs) return throw_error(env, "resizeLinear: out of memory");
  tap *ys = xs + cw;
  setup_axis(xs, sw, cw);
  setup_axis(ys, sh, ch);
  for (int32_t x = 0; x < cw; x++) {
    xs[x].i1 *= 3;
    xs[x].i2 *= 3;
  }
  void *out_data;
  napi_value buffer;
  if (napi_create_buffer(env, (size_t)ow * (size_t)oh * 3, &out_data, &buffer) != napi_ok) {
    free(xs);
    return throw_error(env, "resizeLinear: out of memory");
  }
  const uint8_t *src = data;
  uint8_t *out = out_data;
  const size_t stride = (size_t)sw * 3;
  for (int32_t y = 0; y < ch; y++) {
    const uint8_t *r1 = src + (size_t)ys[y].i1 * stride;
    const uint8_t *r2 = src + (size_t)ys[y].i2 * stride;
    const int32_t dy1 = ys[y].d1, dy2 = ys[y].d2;
    uint8_t *row = out + (size_t)y * (size_t)ow * 3;
    for (int32_t x = 0; x < cw; x++) {
      const int32_t a = xs[x].i1, b = xs[x].i2;
      const int32_t w11 = xs[x].d2 * dy2, w21 = xs[x].d1 * dy2, w12 = xs[x].d2 * dy1, w22 = xs[x].d1 * dy1;
      uint8_t *q = row + (size_t)x * 3;
      q[0] = (uint8_t)((w11 * r1[a] + w21 * r1[b] + w12 * r2[a] + w22 * r2[b]) >> 20);
      q[1] = (uint8_t)((w11 * r1[a + 1] + w21 * r1[b + 1] + w12 * r2[a + 1] + w22 * r2[b + 1]) >> 20);
      q[2] = (uint8_t)((w11 * r1[a + 2] + w21 * r1[b + 2] + w12 * r2[a + 2] + w22 * r2[b + 2]) >> 20);
    }
    if (ow > cw) memset(row + (size_t)cw * 3, 0, (size_t)(ow - cw) * 3);
  }
  if (oh > ch) memset(out + (size_t)ch * (size_t)ow * 3, 0, (size_t)(oh - ch) * (size_t)ow * 3);
  free(xs);
  return buffer;
}

NAPI_MODULE_INIT() {
  return export_function(env, exports, "resizeLinear", resize_linear);
}
