"""A Python plugin wrapping torch.nn.functional.scaled_dot_product_attention.

    dilbench sequence-ranges --plugin examples/plugins/python/sdpa_attention.py:attention

The convention is SDPA's own: fn(q, k, v, *, causal=False, scale=None, **params) -> out, tensors
[batch, heads, seqLen, headDim] (k, v may have fewer heads), on the device and in the dtype dilbench
asks for. Undeclared, a callable is taken to compute dense attention; dilbench checks that against
its float64 reference before timing it.
"""
import torch.nn.functional as F


def attention(q, k, v, *, causal=False, scale=None, **params):
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale, enable_gqa=k.shape[1] != q.shape[1])


attention.dilbench_name = "torch-sdpa"
attention.dilbench_function = "dense"
