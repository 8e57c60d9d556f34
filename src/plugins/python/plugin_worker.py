#!/usr/bin/env python3
"""dilbench Python plugins: a persistent worker running attention callables (issue 15).

A callable follows torch.nn.functional.scaled_dot_product_attention's convention:
    fn(q, k, v, *, causal=False, scale=None, **params) -> out
tensors [batch, heads, seqLen, headDim] (k, v may have fewer heads: grouped-query), on the device
and in the dtype dilbench asks for. What it computes is declared by, in order: the attribute
fn.dilbench_function, a module-level DILBENCH_FUNCTIONS = {"fn_name": "..."} or DILBENCH_FUNCTION;
undeclared means "dense". Optional attributes: dilbench_name (default "<module>.<function>"),
dilbench_dtypes (default fp32, fp16, bf16), dilbench_devices (default cpu, plus cuda when torch
sees one). params are the declared function's resolved parameters in snake_case
(segment_lengths, dilation_rates; prompt_len, new_tokens; block_pattern, block_size, window,
stride, density).

Protocol (the same shape as src/frameworks/python/torch_attention.py: one JSON object per line):
  argv[1]: JSON {"specs": ["file.py:fn" | "pkg.mod:fn", ...], "threads": n}
  stdout first line: {"ready": true, "python": ..., "torch": ..., "callables": [...]} or {"error": ...}
  stdin {"op": "prepare", "sid", "name", "problem", "params", "input": path|null}
        session sid's inputs from the .bin (q, k, v float32 back to back) or seeded N(0, 1)
        -> {"ok": true}
  stdin {"op": "sample", "sid", "iterations": n} -> {"ns": [...]}   each call timed by
        perf_counter_ns on the CPU; on CUDA by a pair of CUDA events around it, after a synchronize
  stdin {"op": "output", "sid", "path": p} -> {"written": p}   one call's output as float32
  stdin {"op": "dispose", "sid"} -> {"ok": true}
  stdin {"op": "quit"} or EOF -> exits
Any exception answers {"error": "...", "traceback": "..."} and the worker goes on.
"""
import hashlib
import importlib
import importlib.util
import json
import os
import sys
import time
import traceback

DTYPES = ("fp32", "fp16", "bf16")


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def load_callable(spec):
    target, _, fn_name = spec.rpartition(":")
    if target.endswith(".py"):
        path = os.path.abspath(target)
        if not os.path.isfile(path):
            raise ValueError(f"plugin '{spec}': file not found ({path})")
        mod_name = "dilbench_plugin_" + hashlib.sha1(path.encode()).hexdigest()[:12]
        module_spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[mod_name] = module
        sys.path.insert(0, os.path.dirname(path))
        module_spec.loader.exec_module(module)
        stem = os.path.splitext(os.path.basename(path))[0]
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as e:
            raise ValueError(f"plugin '{spec}': cannot import module '{target}' ({e})") from e
        path = os.path.abspath(getattr(module, "__file__", "") or target)
        stem = target
    fn = getattr(module, fn_name, None)
    if fn is None or not callable(fn):
        raise ValueError(f"plugin '{spec}': {path} has no function '{fn_name}'")
    declared = getattr(fn, "dilbench_function", None)
    if declared is None:
        declared = getattr(module, "DILBENCH_FUNCTIONS", {}).get(fn_name)
    if declared is None:
        declared = getattr(module, "DILBENCH_FUNCTION", "dense")
    import torch  # noqa: E402

    devices = list(getattr(fn, "dilbench_devices", ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])))
    dtypes = [d for d in getattr(fn, "dilbench_dtypes", DTYPES) if d in DTYPES]
    return fn, {
        "spec": spec,
        "name": getattr(fn, "dilbench_name", f"{stem}.{fn_name}"),
        "function": declared,
        "path": path,
        "devices": devices,
        "dtypes": dtypes,
    }


def main():
    config = json.loads(sys.argv[1])
    try:
        import torch  # noqa: E402
    except ImportError as e:
        reply({"error": f"torch is not importable by {sys.executable} ({e}); install torch or set DILBENCH_PYTHON"})
        return
    torch.set_num_threads(max(1, int(config.get("threads", 1))))
    torch.set_grad_enabled(False)
    callables = {}
    infos = []
    try:
        for spec in config["specs"]:
            fn, info = load_callable(spec)
            if info["name"] in callables:
                raise ValueError(f"plugin '{spec}': duplicate implementation name '{info['name']}'")
            callables[info["name"]] = fn
            infos.append(info)
    except Exception as e:  # noqa: BLE001
        reply({"error": str(e), "traceback": traceback.format_exc()})
        return
    reply({"ready": True, "python": sys.version.split()[0], "executable": sys.executable, "torch": torch.__version__, "callables": infos})

    sessions = {}
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            op = req["op"]
            if op == "quit":
                break
            if op == "prepare":
                p = req["problem"]
                B, H, KH, S, D = (int(p[k]) for k in ("batch", "heads", "kvHeads", "seqLen", "headDim"))
                device = p.get("device", "cpu")
                dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[p.get("dtype", "fp32")]
                if req.get("input"):
                    import numpy as np  # noqa: E402

                    raw = np.fromfile(req["input"], dtype="<f4")
                    nq, nkv = B * H * S * D, B * KH * S * D
                    if raw.size != nq + 2 * nkv:
                        raise ValueError(f"input file holds {raw.size} floats, expected {nq + 2 * nkv}")
                    t = torch.from_numpy(raw)
                    q = t[:nq].reshape(B, H, S, D)
                    k = t[nq:nq + nkv].reshape(B, KH, S, D)
                    v = t[nq + nkv:].reshape(B, KH, S, D)
                else:
                    g = torch.Generator().manual_seed(int(p.get("seed", 42)))
                    q = torch.randn(B, H, S, D, generator=g)
                    k = torch.randn(B, KH, S, D, generator=g)
                    v = torch.randn(B, KH, S, D, generator=g)
                q, k, v = (x.to(device=device, dtype=dtype).contiguous() for x in (q, k, v))
                scale = p.get("scale")
                sessions[req["sid"]] = {
                    "fn": callables[req["name"]],
                    "args": (q, k, v),
                    "kwargs": {"causal": bool(p.get("causal", False)), "scale": float(scale) if scale else None, **req.get("params", {})},
                    "cuda": device == "cuda",
                }
                reply({"ok": True})
            elif op == "sample":
                s = sessions[req["sid"]]
                fn, args, kwargs, cuda = s["fn"], s["args"], s["kwargs"], s["cuda"]
                ns = []
                for _ in range(int(req["iterations"])):
                    if cuda:
                        # CUDA events around the call on the current stream, read after a synchronize
                        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                        torch.cuda.synchronize()
                        start.record()
                        fn(*args, **kwargs)
                        end.record()
                        end.synchronize()
                        ns.append(int(start.elapsed_time(end) * 1e6))
                    else:
                        t0 = time.perf_counter_ns()
                        fn(*args, **kwargs)
                        ns.append(time.perf_counter_ns() - t0)
                reply({"ns": ns})
            elif op == "output":
                s = sessions[req["sid"]]
                out = s["fn"](*s["args"], **s["kwargs"])
                q = s["args"][0]
                if tuple(out.shape) != tuple(q.shape):
                    raise ValueError(f"the output has shape {tuple(out.shape)}, expected {tuple(q.shape)} (= q)")
                out.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4").tofile(req["path"])
                reply({"written": req["path"]})
            elif op == "dispose":
                sessions.pop(req["sid"], None)
                reply({"ok": True})
            else:
                raise ValueError(f"unknown op {op}")
        except Exception as e:  # noqa: BLE001
            reply({"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-2000:]})


if __name__ == "__main__":
    main()
