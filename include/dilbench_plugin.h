/* dilbench plugin ABI: bring your own attention kernel as a shared library.
 *
 * Plain C, no dependencies. A plugin exports ONE symbol, dilbench_plugin_init (the PJRT pattern:
 * one dlsym, then a versioned table). dilbench owns timing, memory accounting of what it
 * allocates, validation against the float64 reference of the function a kernel declares, and
 * reporting; the kernel only computes.
 *
 * Versioning: every struct starts with struct_size (sizeof as the plugin was compiled), so fields
 * can be appended in a minor version without breaking old plugins. dilbench loads a plugin whose
 * abi_major equals its own and whose abi_minor is <= its own, and refuses a newer one by name.
 *
 * Tensors (DLPack-like, fixed layout): contiguous row-major
 *   q, o: [batch, heads, seq_len, head_dim]     k, v: [batch, kv_heads, seq_len, head_dim]
 * in the problem's dtype, on the kernel's device (host pointers for "cpu", device pointers for
 * "cuda"; a CUDA kernel must launch on `stream` and must not synchronize the device).
 */
#ifndef DILBENCH_PLUGIN_H
#define DILBENCH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DILBENCH_PLUGIN_ABI_MAJOR 1
#define DILBENCH_PLUGIN_ABI_MINOR 0

/* dtype bits for dilbench_kernel.dtypes */
#define DILBENCH_DTYPE_FP32 1u
#define DILBENCH_DTYPE_FP16 2u
#define DILBENCH_DTYPE_BF16 4u

typedef enum dilbench_dtype { DILBENCH_FP32 = 0, DILBENCH_FP16 = 1, DILBENCH_BF16 = 2 } dilbench_dtype;

/* One attention problem; read only. Parameters of functions the kernel does not compute keep
 * dilbench's defaults. scale is already resolved (1/sqrt(head_dim) unless the run sets one). */
typedef struct dilbench_problem {
  size_t struct_size;
  int64_t batch, heads, kv_heads, seq_len, head_dim;
  int32_t causal; /* 0 or 1 */
  int32_t dtype;  /* dilbench_dtype */
  double scale;
  /* dilated / dilated-grouped: num_segments (segment length, dilation rate) pairs, already
   * shrunk to seq_len */
  int64_t num_segments;
  const int64_t* segment_lengths;
  const int64_t* dilation_rates;
  /* kv-cache: prompt_len + new_tokens == seq_len (resolved) */
  int64_t prompt_len, new_tokens;
  /* block-sparse */
  const char* block_pattern; /* "local" | "strided" | "dilated" | "random" */
  int64_t block_size, window, stride;
  double density;
  uint64_t seed;
} dilbench_problem;

typedef struct dilbench_tensors {
  size_t struct_size;
  const void* q;
  const void* k;
  const void* v;
  void* o;
  void* workspace; /* workspace_bytes(problem) bytes from dilbench's memory pool, or NULL */
  size_t workspace_bytes;
  void* stream;    /* cudaStream_t for "cuda" kernels, NULL on the CPU */
  int32_t threads; /* CPU threads the run may use */
} dilbench_tensors;

/* Optional exact work of one call (flops: a multiply-add counts 2). */
typedef struct dilbench_counts {
  size_t struct_size;
  double flops;
  double bytes_moved;
} dilbench_counts;

typedef struct dilbench_kernel {
  size_t struct_size;
  const char* name;   /* unique among every implementation dilbench knows */
  const char* device; /* "cpu" | "cuda" */
  uint32_t dtypes;    /* DILBENCH_DTYPE_* bits */
  /* The function computed, as attention-definitions.md names it: "dense", "kv-cache",
   * "dilated", "dilated-grouped", "block-sparse". NULL or anything else: dilbench cannot
   * validate it and every row says "unvalidated". */
  const char* function;
  const char* description; /* may be NULL */
  void* user;              /* passed back to every callback */
  /* Workspace bytes run() needs for this problem (0: none). May be NULL. */
  size_t (*workspace_bytes)(void* user, const dilbench_problem* problem);
  /* 0 on success; otherwise an error code, with a message written to err (err_len bytes). */
  int (*run)(void* user, const dilbench_problem* problem, const dilbench_tensors* tensors, char* err,
             size_t err_len);
  /* Optional: fill counts and return 0; NULL or nonzero: dilbench counts the declared function. */
  int (*counts)(void* user, const dilbench_problem* problem, dilbench_counts* out);
  /* Called once when dilbench unloads the plugin. May be NULL. */
  void (*destroy)(void* user);
} dilbench_kernel;

typedef struct dilbench_plugin {
  size_t struct_size;
  uint32_t abi_major; /* DILBENCH_PLUGIN_ABI_MAJOR the plugin was built against */
  uint32_t abi_minor;
  const char* plugin_name;
  int32_t num_kernels;
  const dilbench_kernel* kernels; /* num_kernels entries, each starting with its struct_size */
} dilbench_plugin;

/* The one entry symbol. host_abi_major/minor: dilbench's version (a plugin may refuse an older
 * host by returning NULL). The returned table must stay valid until the library is unloaded. */
typedef const dilbench_plugin* (*dilbench_plugin_init_fn)(uint32_t host_abi_major, uint32_t host_abi_minor);
#define DILBENCH_PLUGIN_ENTRY "dilbench_plugin_init"

#if defined(_WIN32)
#define DILBENCH_PLUGIN_EXPORT __declspec(dllexport)
#else
#define DILBENCH_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
}
#endif
#endif /* DILBENCH_PLUGIN_H */
