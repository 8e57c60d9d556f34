"""Deliberately broken Python plugins for dilbench's tests."""
import torch.nn.functional as F


def raises(q, k, v, **kw):
    raise RuntimeError("this plugin raises on purpose")


def wrong_scale(q, k, v, *, causal=False, scale=None, **params):
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=1.0)


def crashes(q, k, v, **kw):
    import os
    import signal

    os.kill(os.getpid(), signal.SIGSEGV)


raises.dilbench_name = "py-raises"
wrong_scale.dilbench_name = "py-wrong-scale"
crashes.dilbench_name = "py-crashes"
