#!/usr/bin/env python3
"""PyTorch scaled_dot_product_attention (flash backend) on the shapes of `cuda_bench bench`,
timed with CUDA events (median), and a side-by-side table with cuda_bench's CSV.

  python3 sdpa_compare.py --csv sdpa.csv              # measure SDPA
  python3 sdpa_compare.py --merge ours.csv sdpa.csv   # print the side-by-side table
"""
import argparse, csv, sys


def flops(b, h, n, d, causal):
    pairs = n * (n + 1) / 2 if causal else n * n
    return 4.0 * b * h * d * pairs


def measure(path, reps):
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    torch.manual_seed(0)
    rows = []
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
    print(f"{'impl':6} {'dtype':5} {'b':>2} {'h':>3} {'n':>6} {'d':>4} {'causal':6} {'median_ms':>10} {'TFLOP/s':>9}")
    for dt_name, dt in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
        for d in (64, 128):
            for b, n in ((4, 4096), (2, 8192), (1, 16384)):
                for causal in (0, 1):
                    q = torch.randn(b, 16, n, d, device="cuda", dtype=dt)
                    k = torch.randn_like(q)
                    v = torch.randn_like(q)
                    with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
                        for _ in range(3):
                            F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal))
                        torch.cuda.synchronize()
                        ms = []
                        for _ in range(reps):
                            e0 = torch.cuda.Event(enable_timing=True)
                            e1 = torch.cuda.Event(enable_timing=True)
                            e0.record()
                            F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal))
                            e1.record()
                            e1.synchronize()
                            ms.append(e0.elapsed_time(e1))
                    ms.sort()
                    med = ms[len(ms) // 2]
                    tf = flops(b, 16, n, d, causal) / (med * 1e-3) / 1e12
                    print(f"{'sdpa':6} {dt_name:5} {b:2d} {16:3d} {n:6d} {d:4d} {'yes' if causal else 'no':6} {med:10.3f} {tf:9.1f}", flush=True)
                    rows.append(dict(impl="sdpa", dtype=dt_name, batch=b, heads=16, seqLen=n, headDim=d,
                                     causal=causal, medianMs=f"{med:.4f}", tflops=f"{tf:.2f}"))
                    del q, k, v
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)


def merge(ours, sdpa):
    def load(p):
        out = {}
        for r in csv.DictReader(open(p)):
            out[(r["dtype"], int(r["batch"]), int(r["seqLen"]), int(r["headDim"]), int(r["causal"]))] = float(r["tflops"])
        return out
    a, b = load(ours), load(sdpa)
    print(f"{'dtype':5} {'b':>2} {'n':>6} {'d':>4} {'causal':6} {'flash':>8} {'sdpa':>8} {'ratio':>6}")
    ratios = []
    for key in sorted(b):
        if key in a:
            r = a[key] / b[key]
            ratios.append(r)
            print(f"{key[0]:5} {key[1]:2d} {key[2]:6d} {key[3]:4d} {'yes' if key[4] else 'no':6} {a[key]:8.1f} {b[key]:8.1f} {r:6.2f}")
    if ratios:
        print(f"ratio flash/sdpa: min {min(ratios):.2f}, max {max(ratios):.2f}, geomean "
              f"{__import__('math').exp(sum(__import__('math').log(x) for x in ratios) / len(ratios)):.2f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", default="sdpa.csv")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--merge", nargs=2)
    args = ap.parse_args()
    if args.merge:
        merge(*args.merge)
    else:
        measure(args.csv, args.reps)
