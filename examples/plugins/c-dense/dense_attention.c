/* A straightforward CPU dense-attention kernel as a dilbench plugin (fp32, causal or not,
 * grouped-query). One query row at a time with an online softmax; no SIMD, no threads: the point
 * is the plugin ABI, not speed. Build: cmake -S . -B build && cmake --build build */
#include "dense_core.h"

static int run_dense(void* user, const dilbench_problem* p, const dilbench_tensors* t, char* err,
                     size_t err_len) {
  (void)user;
  if (p->dtype != DILBENCH_FP32) {
    if (err_len) strncpy(err, "only fp32 is supported", err_len);
    return 1;
  }
  dense_attention_f32(p, t, (float)p->scale, p->seq_len);
  return 0;
}

/* The kv-cache function computed in one pass: its output rows are those of a prompt of prompt_len
 * tokens (dilbench passes the resolved split) followed by new_tokens decode steps. */
static int run_kv_cache(void* user, const dilbench_problem* p, const dilbench_tensors* t, char* err,
                        size_t err_len) {
  (void)user;
  if (p->dtype != DILBENCH_FP32) {
    if (err_len) strncpy(err, "only fp32 is supported", err_len);
    return 1;
  }
  dense_attention_f32(p, t, (float)p->scale, p->prompt_len);
  return 0;
}

static size_t workspace_dense(void* user, const dilbench_problem* p) {
  (void)user;
  return (size_t)p->head_dim * sizeof(float);
}

static const dilbench_kernel kKernels[] = {
    {sizeof(dilbench_kernel), "c-dense", "cpu", DILBENCH_DTYPE_FP32, "dense",
     "plain C dense attention, one row at a time (examples/plugins/c-dense)", NULL, workspace_dense,
     run_dense, NULL, NULL},
    {sizeof(dilbench_kernel), "c-kv-cache", "cpu", DILBENCH_DTYPE_FP32, "kv-cache",
     "the kv-cache function's output rows in one pass (examples/plugins/c-dense)", NULL, workspace_dense,
     run_kv_cache, NULL, NULL},
};

static const dilbench_plugin kPlugin = {
    sizeof(dilbench_plugin),
    DILBENCH_PLUGIN_ABI_MAJOR,
    DILBENCH_PLUGIN_ABI_MINOR,
    "c-dense-example",
    2,
    kKernels,
};

DILBENCH_PLUGIN_EXPORT const dilbench_plugin* dilbench_plugin_init(uint32_t host_major, uint32_t host_minor) {
  (void)host_minor;
  return host_major == DILBENCH_PLUGIN_ABI_MAJOR ? &kPlugin : NULL;
}
