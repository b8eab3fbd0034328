/* facerest_sampling: the face crops' sampling into model inputs (models/inference/native-sampling.ts). */
#include <node_api.h>
#include "sampling.h"

NAPI_MODULE_INIT() {
  register_sample_affine(env, exports);
  register_halve_rgb(env, exports);
  return register_shrink_gray(env, exports);
}
