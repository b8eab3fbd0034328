/* What both addons need of N-API: throwing an error, and reading a Uint8Array argument. */
#ifndef FACEREST_NAPI_UTIL_H
#define FACEREST_NAPI_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <node_api.h>

static inline napi_value throw_error(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

/* The bytes of `value` if it is a Uint8Array (NULL otherwise: the caller throws). */
static inline void *uint8_array(napi_env env, napi_value value, size_t *length) {
  bool is_typed = false;
  napi_typedarray_type type;
  void *data;
  napi_is_typedarray(env, value, &is_typed);
  if (!is_typed || napi_get_typedarray_info(env, value, &type, length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) return NULL;
  return data;
}

#endif
