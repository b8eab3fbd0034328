/*
 * The calling thread's CPU time, for the per-model-role CPU counts (models/inference/onnx/
 * run-cpu.ts). Node 20 has no per-thread clock; the portable way there reads
 * /proc/thread-self/schedstat after getrusage(RUSAGE_SELF) has brought this thread's count up to
 * date, about 17 us a reading between model runs (two or three readings a run, a dozen a photo).
 * CLOCK_THREAD_CPUTIME_ID gives the same count, up to date, in one system call.
 */
#include <time.h>
#include <node_api.h>
#include "../napi-util.h"

/* threadCpuSeconds(): number */
static napi_value thread_cpu_seconds(napi_env env, napi_callback_info info) {
  (void)info;
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return throw_error(env, "threadCpuSeconds: clock_gettime failed");
  napi_value seconds;
  napi_create_double(env, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, &seconds);
  return seconds;
}

NAPI_MODULE_INIT() {
  return export_function(env, exports, "threadCpuSeconds", thread_cpu_seconds);
}
