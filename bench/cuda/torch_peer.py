#!/usr/bin/env python3
"""PyTorch peer for the CUDA benchmark (issue 7): times dense torch.matmul (cuBLAS) and
torch.sparse CSR matmul (cuSPARSE) on the shapes and sparsities of `cuda_test --bench`
(native/cuda/test/cuda_test.cc), on the same GPU, and prints JSON rows to compare with it.

    python3 bench/cuda/torch_peer.py [--device cuda] [--reps 15] [--inner 20] [--quick]

Run on the GPU machine (it has PyTorch and nvcc, not Node) next to
`CUDA_TEST_ARGS=--bench bash scripts/build-cuda.sh`. --device cpu runs the same code on the
CPU, only to check the script itself.
"""
import argparse
import json
import statistics
import time

import torch

SHAPES = [(3072, 768, 256), (768, 3072, 256), (4096, 4096, 256)]  # (m, k, n): Y[m x n] = A[m x k] X[k x n]
SPARSITIES = [0.7, 0.9, 0.95]


def timed(fn, device, reps, inner):
    """Median of `reps` batches of `inner` calls, ms per call (synchronised around each batch)."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    fn()
    sync()
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        samples.append((time.perf_counter() - t0) * 1000 / inner)
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--inner", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="one small shape (for checking the script)")
    a = ap.parse_args()
    shapes = [(256, 128, 32)] if a.quick else SHAPES
    g = torch.Generator().manual_seed(1)
    rows = []
    for m, k, n in shapes:
        x = (torch.rand(k, n, generator=g) * 2 - 1).to(a.device)
        for s in SPARSITIES:
            w = torch.rand(m, k, generator=g) * 2 - 1
            w[torch.rand(m, k, generator=g) < s] = 0
            dense = w.to(a.device)
            csr = w.to_sparse_csr().to(a.device)
            # The two must agree before either is timed.
            diff = (torch.matmul(dense, x) - torch.sparse.mm(csr, x)).abs().max().item()
            dense_ms = timed(lambda: torch.matmul(dense, x), a.device, a.reps, a.inner)
            sparse_ms = timed(lambda: torch.sparse.mm(csr, x), a.device, a.reps, a.inner)
            half = dense.half()
            xh = x.half()
            half_ms = timed(lambda: torch.matmul(half, xh), a.device, a.reps, a.inner) if a.device == "cuda" else None
            rows.append({"m": m, "k": k, "n": n, "sparsity": s, "torch_dense_f32_ms": dense_ms, "torch_sparse_csr_ms": sparse_ms,
                         "torch_dense_f16_ms": half_ms, "max_abs_diff": diff})
    print(json.dumps({"device": torch.cuda.get_device_name(0) if a.device == "cuda" else "cpu", "torch": torch.__version__, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
