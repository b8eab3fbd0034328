/*
 * A decoded image's colours from a matrix profile (Display P3, Adobe RGB) to sRGB, in place:
 * the loop of server/pipeline/to-srgb.ts's applySrgb, which builds the tables and keeps the same
 * loop in JavaScript for where this addon is not built. For each value, three entries of the
 * curve-times-matrix tables summed, and that sum looked up in the encoding table, which clips.
 * 0.64 ms for 640x480 against 1.69 in JavaScript (issue 14, round eight).
 */
#include <stdint.h>
#include <node_api.h>
#include "../napi-util.h"

/* Three outputs x three inputs x 256 levels (to-srgb.ts's SrgbConversion). */
#define PRODUCTS (9 * 256)

/* Whether every sum of the tables is an index into an encoding table of `length`: checked
 * here, so that no table from JavaScript can make the loop read outside it. */
static int sums_fit(const int32_t *t, size_t length) {
  for (int o = 0; o < 3; o++) {
    int64_t low = 0, high = 0;
    for (int c = 0; c < 3; c++) {
      const int32_t *row = t + (o * 3 + c) * 256;
      int32_t min = row[0], max = row[0];
      for (int v = 1; v < 256; v++) {
        if (row[v] < min) min = row[v];
        if (row[v] > max) max = row[v];
      }
      low += min;
      high += max;
    }
    if (low < 0 || high >= (int64_t)length) return 0;
  }
  return 1;
}

static napi_value to_srgb(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!exact_args(env, info, argv, 3)) {
    return throw_error(env, "toSrgb(rgb, products, encode)");
  }
  size_t length, count, levels;
  uint8_t *d = uint8_array(env, argv[0], &length);
  const int32_t *t = typed_array(env, argv[1], napi_int32_array, &count);
  const uint8_t *out = uint8_array(env, argv[2], &levels);
  if (!d || !t || !out) return throw_error(env, "toSrgb: the pixels and the encoding table must be Uint8Arrays, the products an Int32Array");
  if (count != PRODUCTS) return throw_error(env, "toSrgb: the products must be 9 x 256");
  if (!sums_fit(t, levels)) return throw_error(env, "toSrgb: the products' sums reach past the encoding table");
  for (size_t p = 0; p + 2 < length; p += 3) {
    const int32_t r = d[p], g = d[p + 1] + 256, b = d[p + 2] + 512;
    d[p] = out[t[r] + t[g] + t[b]];
    d[p + 1] = out[t[r + 768] + t[g + 768] + t[b + 768]];
    d[p + 2] = out[t[r + 1536] + t[g + 1536] + t[b + 1536]];
  }
  return NULL;
}

NAPI_MODULE_INIT() {
  return export_function(env, exports, "toSrgb", to_srgb);
}
