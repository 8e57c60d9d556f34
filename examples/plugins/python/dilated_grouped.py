"""Head-group dilated attention in PyTorch, as the dilated-attention packages implement it
(../shared/reference/dilated-attention-benchmarks.md), declared as dilbench's `dilated-grouped`.

    dilbench sequence-ranges --plugin examples/plugins/python/dilated_grouped.py:dilated_grouped_attention \
        --implementations dilated-grouped,torch-dilated-grouped

Heads are split into k = len(segment_lengths) contiguous groups (the first heads % k get one extra
head); group g uses pair g only, with offset g % r_g; in each segment the selected positions
attend to each other (causal within the selection when asked); unselected positions output zeros.
The packages then divide the whole output by k; dilbench's definition does not, and neither does
this function (`packaged_style` below does, and fails dilbench's validation: a different function).
"""
import torch
import torch.nn.functional as F

DILBENCH_FUNCTIONS = {"dilated_grouped_attention": "dilated-grouped", "packaged_style": "dilated-grouped"}


def dilated_grouped_attention(q, k, v, *, causal=False, scale=None, segment_lengths=(), dilation_rates=(), **params):
    B, H, N, D = q.shape
    if k.shape[1] != H:  # grouped-query: query head h reads kv head h // (H // kvHeads)
        rep = H // k.shape[1]
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    out = torch.zeros_like(q)
    pairs = list(zip(segment_lengths, dilation_rates))
    base, extra = divmod(H, len(pairs))
    h0 = 0
    for g, (w, r) in enumerate(pairs):
        heads = base + (1 if g < extra else 0)
        if heads == 0:
            continue
        hs = slice(h0, h0 + heads)
        h0 += heads
        w, off = min(int(w), N), g % int(r)
        for s0 in range(0, N, w):
            idx = torch.arange(s0 + off, min(s0 + w, N), int(r), device=q.device)
            if idx.numel() == 0:
                continue
            out[:, hs, idx] = F.scaled_dot_product_attention(q[:, hs, idx], k[:, hs, idx], v[:, hs, idx], is_causal=causal, scale=scale)
    return out


dilated_grouped_attention.dilbench_name = "torch-dilated-grouped"


def packaged_style(q, k, v, **kw):
    return dilated_grouped_attention(q, k, v, **kw) / len(kw.get("segment_lengths", (1,)))


packaged_style.dilbench_name = "torch-dilated-grouped-packaged"
