/* The dense-attention loop of the C example, shared with the deliberately broken plugins. */
#ifndef DILBENCH_EXAMPLE_DENSE_CORE_H
#define DILBENCH_EXAMPLE_DENSE_CORE_H
#include <math.h>
#include <string.h>

#include "dilbench_plugin.h"

/* o = softmax(q k^T * scale) v per (batch, head), fp32; acc: head_dim floats of workspace.
 * Not causal: rows before `prefix` see keys [0, prefix), later rows keys [0, i] (prefix = seq_len:
 * dense attention; prefix = prompt_len: the kv-cache function's prefix-LM rows). Causal: [0, i]. */
static void dense_attention_f32(const dilbench_problem* p, const dilbench_tensors* t, float scale,
                                int64_t prefix) {
  const int64_t B = p->batch, H = p->heads, KH = p->kv_heads, N = p->seq_len, D = p->head_dim;
  const int64_t group = H / KH;
  const float* q = (const float*)t->q;
  const float* k = (const float*)t->k;
  const float* v = (const float*)t->v;
  float* o = (float*)t->o;
  float* acc = (float*)t->workspace; /* D floats */
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      const float* qh = q + ((b * H + h) * N) * D;
      const float* kh = k + ((b * KH + h / group) * N) * D;
      const float* vh = v + ((b * KH + h / group) * N) * D;
      float* oh = o + ((b * H + h) * N) * D;
      for (int64_t i = 0; i < N; ++i) {
        const int64_t last = (p->causal || i >= prefix) ? i : prefix - 1;
        float m = -INFINITY, l = 0.0f;
        memset(acc, 0, (size_t)D * sizeof(float));
        for (int64_t j = 0; j <= last; ++j) {
          float s = 0.0f;
          for (int64_t d = 0; d < D; ++d) s += qh[i * D + d] * kh[j * D + d];
          s *= scale;
          const float mNew = s > m ? s : m;
          const float corr = expf(m - mNew), w = expf(s - mNew);
          l = l * corr + w;
          for (int64_t d = 0; d < D; ++d) acc[d] = acc[d] * corr + w * vh[j * D + d];
          m = mNew;
        }
        for (int64_t d = 0; d < D; ++d) oh[i * D + d] = acc[d] / l;
      }
    }
  }
}

#endif
