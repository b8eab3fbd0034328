/* The sampling addon's functions, each in its own file; addon.c exports them. */
#ifndef FACEREST_SAMPLING_H
#define FACEREST_SAMPLING_H
#include <node_api.h>

napi_value register_sample_affine(napi_env env, napi_value exports);
napi_value register_shrink_gray(napi_env env, napi_value exports);
napi_value register_halve_rgb(napi_env env, napi_value exports);

#endif
