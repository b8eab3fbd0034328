/*
 * The plain-JPEG decoder (issue 14): libjpeg-turbo's TurboJPEG API called directly, for JPEGs
 * with no rotation and no colour transform for lcms (decode.ts decides). Kept at its size, a
 * 640-px photo costs 0.86 ms here against 2.3 through sharp, whose libvips pipeline adds a
 * thread wake-up per 16-row strip and its per-call setup around the same libjpeg-turbo decode;
 * the pixels are the same to the bit. Shrunk to max_size, it is decoded at the DCT scale sharp
 * would use and shrunk the rest of the way by shrink.c: 12 against 16 ms for the shared
 * original photos (test/jpeg-decoder.test.ts compares both with sharp's).
 *
 * libturbojpeg.so.0 is opened at load with dlopen, not linked: the addon builds with only Node's
 * headers and a C compiler (as better-sqlite3 does), and where the library is missing the module
 * still loads and says why, and decode.ts keeps to sharp. The few declarations below are
 * TurboJPEG's stable 2.x API (turbojpeg.h), so no -dev package is needed to build.
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <node_api.h>
#include "../napi-util.h"
#include "shrink.h"

typedef void *tjhandle;
#define TJPF_RGB 0
/* The accurate integer IDCT (libvips' choice too); a libjpeg warning (truncated or damaged
 * data) is an error, as sharp's failOn: 'warning'; a progressive file with an absurd number of
 * scans is refused rather than decoded for seconds. */
#define TJFLAG_ACCURATEDCT 4096
#define TJFLAG_STOPONWARNING 8192
#define TJFLAG_LIMITSCANS 32768

static tjhandle (*tj_init_decompress)(void);
static int (*tj_decompress_header3)(tjhandle, const unsigned char *, unsigned long, int *, int *, int *, int *);
static int (*tj_decompress2)(tjhandle, const unsigned char *, unsigned long, unsigned char *, int, int, int, int, int);
static char *(*tj_get_error_str2)(tjhandle);
static int (*tj_destroy)(tjhandle);

static const char *load_error = NULL;
/* dlerror()'s text lives in a buffer the next dl call may overwrite: kept here instead. */
static char load_error_text[256];
/* Every worker thread loads the addon; the library is opened once, by whichever comes first. */
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load_library(void) {
  void *lib = dlopen("libturbojpeg.so.0", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *why = dlerror();
    snprintf(load_error_text, sizeof load_error_text, "%s", why ? why : "libturbojpeg.so.0 cannot be opened");
    load_error = load_error_text;
    return;
  }
  tj_init_decompress = (tjhandle (*)(void))dlsym(lib, "tjInitDecompress");
  tj_decompress_header3 = (int (*)(tjhandle, const unsigned char *, unsigned long, int *, int *, int *, int *))dlsym(lib, "tjDecompressHeader3");
  tj_decompress2 = (int (*)(tjhandle, const unsigned char *, unsigned long, unsigned char *, int, int, int, int, int))dlsym(lib, "tjDecompress2");
  tj_get_error_str2 = (char *(*)(tjhandle))dlsym(lib, "tjGetErrorStr2");
  tj_destroy = (int (*)(tjhandle))dlsym(lib, "tjDestroy");
  if (!tj_init_decompress || !tj_decompress_header3 || !tj_decompress2 || !tj_get_error_str2 || !tj_destroy) {
    load_error = "libturbojpeg.so.0 lacks the TurboJPEG 2.x functions";
  }
}

/* One decompressor per thread: each worker thread is its own napi_env, and a handle is not
 * safe to share between threads. */
static void destroy_handle(napi_env env, void *handle, void *hint) {
  (void)env;
  (void)hint;
  if (handle) tj_destroy(handle);
}

/* decodeRgb(jpeg: Uint8Array, width, height[, outWidth, outHeight, scale]): Buffer of
 * width x height x 3 (RGB, top-down), or of outWidth x outHeight: decoded at 1/scale (1, 2, 4
 * or 8; the caller's choice, turbojpeg.ts), then shrunk the rest of the way (shrink.c). width and
 * height are what the caller read from the header; a file that says otherwise to libjpeg-turbo
 * is refused, so the buffer is never sized by one reading and filled by another. */
static napi_value decode_rgb(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || (argc != 3 && argc != 6)) {
    return throw_error(env, "decodeRgb(jpeg, width, height[, outWidth, outHeight, scale])");
  }
  size_t length;
  void *data = uint8_array(env, argv[0], &length);
  if (!data) return throw_error(env, "decodeRgb: the JPEG must be a Uint8Array");
  int32_t want_w, want_h;
  if (napi_get_value_int32(env, argv[1], &want_w) != napi_ok || napi_get_value_int32(env, argv[2], &want_h) != napi_ok
      || want_w <= 0 || want_h <= 0 || (size_t)want_w > (size_t)INT_MAX / 3 / (size_t)want_h) {
    return throw_error(env, "decodeRgb: bad width or height");
  }
  int32_t out_w = want_w, out_h = want_h, k = 1;
  if (argc == 6 && (napi_get_value_int32(env, argv[3], &out_w) != napi_ok || napi_get_value_int32(env, argv[4], &out_h) != napi_ok
      || napi_get_value_int32(env, argv[5], &k) != napi_ok || (k != 1 && k != 2 && k != 4 && k != 8) || out_w <= 0 || out_h <= 0
      || out_w > (want_w + k - 1) / k || out_h > (want_h + k - 1) / k)) {
    return throw_error(env, "decodeRgb: bad output size or scale");
  }
  tjhandle handle = NULL;
  napi_get_instance_data(env, &handle);
  if (!handle) {
    handle = tj_init_decompress();
    if (!handle) return throw_error(env, "libjpeg-turbo: cannot make a decompressor");
    napi_set_instance_data(env, handle, destroy_handle, NULL);
  }
  int w, h, subsampling, colorspace;
  if (tj_decompress_header3(handle, data, length, &w, &h, &subsampling, &colorspace) != 0) return throw_error(env, tj_get_error_str2(handle));
  if (w != want_w || h != want_h) return throw_error(env, "decodeRgb: the header's size is not the one expected");
  void *out;
  napi_value buffer;
  if (napi_create_buffer(env, (size_t)out_w * (size_t)out_h * 3, &out, &buffer) != napi_ok) return throw_error(env, "decodeRgb: out of memory");
  const int flags = TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS;
  // TurboJPEG picks the largest scale whose size fits the one given: 1/k exactly.
  const int sw = (w + k - 1) / k, sh = (h + k - 1) / k;
  if (sw == out_w && sh == out_h) {
    if (tj_decompress2(handle, data, length, out, sw, sw * 3, sh, TJPF_RGB, flags) != 0) return throw_error(env, tj_get_error_str2(handle));
    return buffer;
  }
  unsigned char *scaled = malloc((size_t)sw * (size_t)sh * 3);
  if (!scaled) return throw_error(env, "decodeRgb: out of memory");
  if (tj_decompress2(handle, data, length, scaled, sw, sw * 3, sh, TJPF_RGB, flags) != 0) {
    free(scaled);
    return throw_error(env, tj_get_error_str2(handle));
  }
  const int shrunk = shrink_rgb(scaled, sw, sh, (double)w / k, (double)h / k, out, out_w, out_h);
  free(scaled);
  if (shrunk != 0) return throw_error(env, "decodeRgb: out of memory");
  return buffer;
}

NAPI_MODULE_INIT() {
  pthread_once(&load_once, load_library);
  napi_value value;
  if (load_error) {
    napi_create_string_utf8(env, load_error, NAPI_AUTO_LENGTH, &value);
    napi_set_named_property(env, exports, "unavailable", value);
    return exports;
  }
  return export_function(env, exports, "decodeRgb", decode_rgb);
}
