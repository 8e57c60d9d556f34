#!/usr/bin/env python3
"""dilbench frameworks: PyTorch side (torch.nn.functional.scaled_dot_product_attention on CPU).

spec.dtype fp16 / bf16: the fp32 inputs (already representable in that type: dilbench rounded them)
are cast with .to(), the output is cast back to fp32 for the comparison (not timed).

Protocol (one JSON object per line):
  argv[1]: JSON spec {batch, heads, seqLen, headDim, causal, threads, scale, input, dtype,
                      torchImplementation, segmentLengths, dilationRates}
           input: path of a .bin with q, k, v as float32 little-endian [B, H, S, D] back to back.
           torchImplementation: "sdpa" (default) or "dilated" / "dilated-grouped" (torch_dilated.py,
           fp32, with segmentLengths and dilationRates).
  stdout first line: {"ready": true, "version": ..., "setupMs": ..., "rssBeforeBytes": ...,
                      "threads": ..., "sdpaBackend": "FLASH_ATTENTION" | "MATH" | ... | null,
                      "cpuCapability": "AVX512" | "AVX2" | ... | null}
  stdin  "sample N"    -> {"ns": [...]}   N timed iterations (time.perf_counter_ns)
  stdin  "output PATH" -> {"written": PATH}  writes the output [B, H, S, D] float32 to PATH
  stdin  "memory"      -> {"peakRssBytes": ..., "rssBeforeBytes": ...}
  stdin  "quit" or EOF -> exits
"""
import json
import resource
import sys
import time


def max_rss_bytes():
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024


def main():
    spec = json.loads(sys.argv[1])
    t0 = time.perf_counter()
    import numpy as np  # noqa: E402
    import torch  # noqa: E402
    import torch.nn.functional as F  # noqa: E402

    torch.set_num_threads(int(spec["threads"]))
    torch.set_grad_enabled(False)
    # after the imports: the ~200 MB of torch's own libraries are not attention memory; from here
    # on the growth is the inputs, the output and the kernel's workspace (as dilbench's pool counts)
    rss_before = max_rss_bytes()
    B, H, S, D = (int(spec[k]) for k in ("batch", "heads", "seqLen", "headDim"))
    n = B * H * S * D
    raw = np.fromfile(spec["input"], dtype="<f4")
    if raw.size != 3 * n:
        raise SystemExit(f"input file holds {raw.size} floats, expected {3 * n}")
    # views of the one file buffer (no second copy of the inputs)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[spec.get("dtype", "fp32")]
    q, k, v = (torch.from_numpy(raw[i * n:(i + 1) * n]).reshape(B, H, S, D).to(dtype) for i in range(3))
    if dtype != torch.float32:
        del raw  # the half copies are the inputs now
    causal = bool(spec["causal"])
    scale = float(spec["scale"])

    which = spec.get("torchImplementation") or "sdpa"
    if which == "sdpa":
        def run():
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)
    else:
        sys.dont_write_bytecode = True  # leave no __pycache__ in the installed package
        import torch_dilated  # noqa: E402  (next to this script, which Python puts on sys.path)
        if which not in torch_dilated.IMPLEMENTATIONS:
            raise SystemExit(f"torchImplementation {which!r} unknown (sdpa, {', '.join(torch_dilated.IMPLEMENTATIONS)})")
        if dtype != torch.float32:
            raise SystemExit(f"torchImplementation {which!r} runs fp32 only")
        fn = torch_dilated.IMPLEMENTATIONS[which]
        pairs = list(zip(spec["segmentLengths"], spec["dilationRates"]))
        if not pairs or len(spec["segmentLengths"]) != len(spec["dilationRates"]):
            raise SystemExit("segmentLengths and dilationRates: one rate per length, at least one pair")

        def run():
            return fn(q, k, v, pairs, causal, scale)

    # which SDPA kernel torch dispatches to for these inputs (private API: None when it moves)
    try:
        from torch.nn.attention import SDPBackend
        backend = SDPBackend(torch._fused_sdp_choice(q, k, v, None, 0.0, causal, scale=scale)).name
    except Exception:  # noqa: BLE001
        backend = None
    if which != "sdpa":
        backend = "FLASH_ATTENTION"  # torch_dilated calls the CPU flash kernel itself

    try:  # the ISA ATen's kernels dispatch to (ATEN_CPU_CAPABILITY=avx2 lowers it)
        capability = torch.backends.cpu.get_cpu_capability()
    except Exception:  # noqa: BLE001
        capability = None

    setup_ms = (time.perf_counter() - t0) * 1000.0
    print(json.dumps({"ready": True, "version": f"torch {torch.__version__}", "setupMs": setup_ms,
                      "rssBeforeBytes": rss_before, "threads": torch.get_num_threads(),
                      "sdpaBackend": backend, "cpuCapability": capability}), flush=True)
    for line in sys.stdin:
        cmd = line.strip().split(" ", 1)
        if not cmd or not cmd[0]:
            continue
        if cmd[0] == "sample":
            times = []
            for _ in range(int(cmd[1])):
                a = time.perf_counter_ns()
                run()
                times.append(time.perf_counter_ns() - a)
            print(json.dumps({"ns": times}), flush=True)
        elif cmd[0] == "output":
            run().float().contiguous().numpy().astype("<f4").tofile(cmd[1])
            print(json.dumps({"written": cmd[1]}), flush=True)
        elif cmd[0] == "memory":
            print(json.dumps({"peakRssBytes": max_rss_bytes(), "rssBeforeBytes": rss_before}), flush=True)
        elif cmd[0] == "quit":
            break
        else:
            print(json.dumps({"error": f"unknown command {cmd[0]}"}), flush=True)


if __name__ == "__main__":
    main()
