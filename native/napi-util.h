/* What the addons need of N-API: throwing an error, reading the arguments and typed arrays, exporting a function. */
#ifndef FACEREST_NAPI_UTIL_H
#define FACEREST_NAPI_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <node_api.h>

static inline napi_value throw_error(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

/* Fills argv with the call's arguments; false unless there are exactly `count` (the caller throws). */
static inline bool exact_args(napi_env env, napi_callback_info info, napi_value *argv, size_t count) {
  size_t argc = count;
  return napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == count;
}

/* Sets exports[name] to a function calling `callback`; returns `exports`. */
static inline napi_value export_function(napi_env env, napi_value exports, const char *name, napi_callback callback) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
  return exports;
}

/* The elements of `value` if it is a typed array of `type` (NULL otherwise: the caller throws). */
static inline void *typed_array(napi_env env, napi_value value, napi_typedarray_type type, size_t *length) {
  bool is_typed = false;
  napi_typedarray_type actual;
  void *data;
  napi_is_typedarray(env, value, &is_typed);
  if (!is_typed || napi_get_typedarray_info(env, value, &actual, length, &data, NULL, NULL) != napi_ok || actual != type) return NULL;
  return data;
}

/* The bytes of `value` if it is a Uint8Array (NULL otherwise: the caller throws). */
static inline void *uint8_array(napi_env env, napi_value value, size_t *length) {
  return typed_array(env, value, napi_uint8_array, length);
}

#endif
