"""dilbench's `dilated` and `dilated-grouped` (docs/attention-definitions.md) written in plain
PyTorch, the way a PyTorch user would: strided views select the rows, torch's CPU flash kernel
(scaled_dot_product_attention's, with its log-sum-exp) attends them, views write them back.
torch_attention.py times these against dilbench's native kernels (`npm run bench`, section
dilated-vs-torch).

Tensors are [B, H, L, D] (kvHeads == heads). pairs: [(w, r), ...] as given; w larger than L
shrinks to L, as dilbench resolves it.

Selection without gathers by index: in pair (w, r) head h uses offset off = h mod r, so the heads
sharing an offset are the slice h = off::r, and the rows a segment selects are the slice off::r of
the segment. Full segments are one view [B, Hs, L // w, w, D][..., off::r, :]; the short last
segment (L % w rows) is attended separately. Within a segment the selected rows are ascending, so
`causal` over the gathered rows is exactly the definition's causal mask.
"""
import torch


def _flash(q, k, v, causal, scale):
    """(out, lse) of SDPA on [B, H', n, D] through torch's CPU flash kernel."""
    out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
        q.contiguous(), k.contiguous(), v.contiguous(), 0.0, causal, scale=scale)
    return out, lse


def _segment_views(t, heads, w, off, r):
    """Views of t[:, heads] selecting rows off::r of each segment: (full segments
    [B, Hs, L // w, n, D] or None, last short segment [B, Hs, m, D] or None)."""
    B, _, L, D = t.shape
    th = t[:, heads]
    full = L // w
    main = None
    if full > 0 and off < w:
        main = th[:, :, :full * w].unflatten(2, (full, w))[:, :, :, off::r]
    rest = None
    if L % w and off < L % w:
        rest = th[:, :, full * w + off::r]
    return main, rest


def _attend_views(q, k, v, heads, w, off, r, causal, scale):
    """[(out, lse, target view of rows) ...] of the selected rows of heads with offset `off`."""
    B = q.shape[0]
    qm, qr = _segment_views(q, heads, w, off, r)
    km, kr = _segment_views(k, heads, w, off, r)
    vm, vr = _segment_views(v, heads, w, off, r)
    parts = []
    if qm is not None:
        Hs, S, n, D = qm.shape[1:]
        o, lse = _flash(*(x.reshape(B, Hs * S, n, D) for x in (qm, km, vm)), causal, scale)
        parts.append(("main", o.view(B, Hs, S, n, D), lse.view(B, Hs, S, n)))
    if qr is not None:
        o, lse = _flash(qr, kr, vr, causal, scale)
        parts.append(("rest", o, lse))
    return parts


def _resolve(pairs, L):
    return [(min(int(w), L), int(r)) for w, r in pairs]


def dilated(q, k, v, pairs, causal, scale):
    """LongNet `dilated`: every pair at head offset h mod r; per position the pairs' outputs are
    weighted by exp(lse_i) / sum_j exp(lse_j), done as a running log-add-exp merge."""
    B, H, L, D = q.shape
    out = torch.zeros_like(q)
    lse_all = torch.full((B, H, L), float("-inf"), dtype=torch.float32)
    for w, r in _resolve(pairs, L):
        for off in range(min(r, H)):
            heads = slice(off, H, r)
            for kind, o, lse in _attend_views(q, k, v, heads, w, off, r, causal, scale):
                om, orest = _segment_views(out, heads, w, off, r)
                lm, lrest = _segment_views(lse_all.unsqueeze(-1), heads, w, off, r)
                ot, lt = (om, lm) if kind == "main" else (orest, lrest)
                lt = lt.squeeze(-1)
                # Every selected query attends at least itself, so lse is finite and `new` too.
                new = torch.logaddexp(lt, lse)
                ot.mul_(torch.exp(lt - new).unsqueeze(-1)).add_(o * torch.exp(lse - new).unsqueeze(-1))
                lt.copy_(new)
    return out


def head_groups(heads, k):
    """Contiguous head ranges of k groups; the first heads mod k groups get one extra head."""
    base, extra = divmod(heads, k)
    groups, h = [], 0
    for g in range(k):
        n = base + (1 if g < extra else 0)
        groups.append((h, h + n))
        h += n
    return groups


def dilated_grouped(q, k, v, pairs, causal, scale):
    """`dilated-grouped`: head group g uses only pair g at offset g mod r_g; rows a group does not
    select stay zero (no division by the number of groups)."""
    B, H, L, D = q.shape
    resolved = _resolve(pairs, L)
    out = torch.zeros_like(q)
    for g, (h0, h1) in enumerate(head_groups(H, len(resolved))):
        if h1 <= h0:
            continue
        w, r = resolved[g]
        off = g % r
        heads = slice(h0, h1)
        om, orest = _segment_views(out, heads, w, off, r)
        for kind, o, _lse in _attend_views(q, k, v, heads, w, off, r, causal, scale):
            (om if kind == "main" else orest).copy_(o)
    return out


IMPLEMENTATIONS = {"dilated": dilated, "dilated-grouped": dilated_grouped}
