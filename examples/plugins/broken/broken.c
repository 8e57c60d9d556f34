/* Deliberately broken plugins for dilbench's tests, one per BROKEN_* definition (CMakeLists.txt
 * builds each as its own library). Each must give a clear error or one failed row while the
 * suite goes on. */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "../c-dense/dense_core.h"

#ifndef KERNEL_NAME
#define KERNEL_NAME "broken"
#endif
#ifndef KERNEL_FUNCTION
#define KERNEL_FUNCTION "dense"
#endif
#ifndef PLUGIN_ABI_MAJOR
#define PLUGIN_ABI_MAJOR DILBENCH_PLUGIN_ABI_MAJOR
#endif

static int run_broken(void* user, const dilbench_problem* p, const dilbench_tensors* t, char* err,
                      size_t err_len) {
  (void)user;
  (void)err;
  (void)err_len;
#if defined(BROKEN_CRASH)
  raise(SIGSEGV);
#elif defined(BROKEN_CRASH_LONG)
  if (p->seq_len > 256) raise(SIGSEGV); /* passes validation (256 tokens), crashes when timed */
#elif defined(BROKEN_ABORT)
  abort();
#elif defined(BROKEN_HANG)
  for (;;) pause();
#elif defined(BROKEN_ERROR)
  if (err_len) strncpy(err, "the kernel reports an error on purpose", err_len);
  return 7;
#endif
#if defined(BROKEN_WRONG_SCALE)
  dense_attention_f32(p, t, 1.0f, p->seq_len); /* forgets 1/sqrt(head_dim) */
#else
  dense_attention_f32(p, t, (float)p->scale, p->seq_len);
#endif
  return 0;
}

static size_t workspace(void* user, const dilbench_problem* p) {
  (void)user;
  return (size_t)p->head_dim * sizeof(float);
}

#ifdef WITH_COUNTS
/* its own counts: dense attention's 4 * B * H * N^2 * D flops, q, k, v read and o written once */
static int counts(void* user, const dilbench_problem* p, dilbench_counts* out) {
  (void)user;
  const double n = (double)p->seq_len, bh = (double)(p->batch * p->heads),
               bkv = (double)(p->batch * p->kv_heads);
  out->flops = 4.0 * bh * n * n * (double)p->head_dim;
  out->bytes_moved = 4.0 * (2.0 * bh + 2.0 * bkv) * n * (double)p->head_dim;
  return 0;
}
#define COUNTS counts
#else
#define COUNTS NULL
#endif

static const dilbench_kernel kKernels[] = {{
    sizeof(dilbench_kernel),
    KERNEL_NAME,
    "cpu",
    DILBENCH_DTYPE_FP32,
    KERNEL_FUNCTION,
    "a broken plugin (tests)",
    NULL,
    workspace,
    run_broken,
    COUNTS,
    NULL,
}};

static const dilbench_plugin kPlugin = {
    sizeof(dilbench_plugin), PLUGIN_ABI_MAJOR, DILBENCH_PLUGIN_ABI_MINOR, "broken", 1, kKernels,
};

#ifndef BROKEN_MISSING_SYMBOL
DILBENCH_PLUGIN_EXPORT const dilbench_plugin* dilbench_plugin_init(uint32_t host_major, uint32_t host_minor) {
  (void)host_major;
  (void)host_minor;
#ifdef BROKEN_INIT_CRASH
  raise(SIGSEGV); /* crashes while dilbench loads it */
#endif
  return &kPlugin;
}
#else
/* exported under another name: dilbench finds no entry symbol */
DILBENCH_PLUGIN_EXPORT const dilbench_plugin* dilbench_plugin_entry(void) { return &kPlugin; }
#endif
