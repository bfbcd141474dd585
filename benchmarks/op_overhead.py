"""Per-op overhead of biograd's engine against raw numpy and PyTorch, measured in the same run.

On 16x16 float32 arrays the arithmetic itself is tiny, so what is measured is mostly the bookkeeping each
library does per operation: for biograd and PyTorch with requires_grad=True that includes recording the
graph node for backpropagation. Runs are interleaved (numpy, biograd, torch, numpy, ...) after a warm-up,
and the table shows medians over many repeats, so a noisy moment hurts all three alike.

Run:  python benchmarks/op_overhead.py            (a few seconds)
      python benchmarks/op_overhead.py --quick    (about a second, rougher)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

# One thread everywhere (set before numpy loads its BLAS): on 16x16 arrays threads only add overhead,
# and it keeps the comparison fair.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import biograd  # noqa: E402
from machine import cpu_name  # noqa: E402

try:
    import torch
except ImportError:  # the table still shows biograd vs numpy
    torch = None


def machine_description() -> list[str]:
    cpu = cpu_name()
    blas_threads = os.environ.get("OPENBLAS_NUM_THREADS", "?")
    try:
        from threadpoolctl import threadpool_info

        blas_threads = ",".join(str(p["num_threads"]) for p in threadpool_info()) or blas_threads
    except ImportError:
        pass
    lines = [
        f"machine: {cpu} ({os.cpu_count()} logical CPUs), {platform.system()} {platform.release()}",
        f"python {platform.python_version()}, numpy {np.__version__}, biograd {biograd.__version__}"
        + (f", torch {torch.__version__}" if torch else ", torch not installed"),
        f"threads: numpy BLAS {blas_threads}" + (f", torch {torch.get_num_threads()}" if torch else ""),
    ]
    return lines


def time_per_call(fn: Callable[[], object], calls: int) -> float:
    """Seconds per call of fn, over a loop of ``calls`` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def measure(cases: dict[str, Callable[[], object]], calls: int, repeats: int) -> dict[str, float]:
    """Median seconds per call for each case, runs interleaved after a warm-up."""
    for fn in cases.values():  # warm-up: caches, lazy imports, allocator
        time_per_call(fn, calls)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            samples[name].append(time_per_call(fn, calls))
    return {name: statistics.median(times) for name, times in samples.items()}


def benchmarks(size: int = 16) -> dict[str, dict[str, Callable[[], object]]]:
    rng = np.random.default_rng(0)
    a, b = (rng.normal(size=(size, size)).astype(np.float32) for _ in range(2))
    w, c = rng.normal(size=(size, size)).astype(np.float32), rng.normal(size=size).astype(np.float32)
    x, y = biograd.tensor(a, requires_grad=True), biograd.tensor(b, requires_grad=True)
    bw, bc = biograd.tensor(w, requires_grad=True), biograd.tensor(c, requires_grad=True)

    def numpy_chain() -> None:
        """The chain below, forward and backward written out by hand in numpy (the floor)."""
        h = a @ w
        t = np.tanh(h)
        s = t * b + c
        _ = s.sum()
        g_s = np.ones_like(s)
        g_t = g_s * b
        g_h = g_t * (1 - t * t)
        _ = g_h @ w.T, a.T @ g_h, g_s.sum(axis=0)

    def biograd_chain() -> None:
        ((x @ bw).tanh() * b + bc).sum().backward()
        x.grad = bw.grad = bc.grad = None

    cases = {
        "add (a + b)": {"numpy": lambda: a + b, "biograd": lambda: x + y},
        "matmul (a @ b)": {"numpy": lambda: a @ b, "biograd": lambda: x @ y},
        "chain fwd+bwd": {"numpy": numpy_chain, "biograd": biograd_chain},
    }
    if torch is not None:
        ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
        tw, tc = torch.tensor(w, requires_grad=True), torch.tensor(c, requires_grad=True)
        tb_data = torch.tensor(b)

        def torch_chain() -> None:
            ((ta @ tw).tanh() * tb_data + tc).sum().backward()
            ta.grad = tw.grad = tc.grad = None

        cases["add (a + b)"]["torch"] = lambda: ta + tb
        cases["matmul (a @ b)"]["torch"] = lambda: ta @ tb
        cases["chain fwd+bwd"]["torch"] = torch_chain
    return cases


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a rough figure in seconds")
    args = parser.parse_args(argv)
    if torch is not None:
        torch.set_num_threads(1)
    repeats, calls = (15, 500) if args.quick else (60, 2000)

    print("\n".join(machine_description()))
    print(f"16x16 float32, requires_grad=True for biograd and torch; median of {repeats} x {calls} calls\n")
    header = f"{'op':<16}{'numpy':>10}{'biograd':>10}{'torch':>10}{'biograd/numpy':>15}{'biograd/torch':>15}"
    print(header)
    print("-" * len(header))
    for name, cases in benchmarks().items():
        chain = name.startswith("chain")
        t = measure(cases, calls // 10 if chain else calls, repeats)
        th = t.get("torch")
        torch_txt = f"{th * 1e6:>8.2f}us" if th else f"{'-':>10}"
        ratio_torch = f"{t['biograd'] / th:>14.2f}x" if th else f"{'-':>15}"
        print(
            f"{name:<16}{t['numpy'] * 1e6:>8.2f}us{t['biograd'] * 1e6:>8.2f}us{torch_txt}"
            f"{t['biograd'] / t['numpy']:>14.2f}x{ratio_torch}"
        )
    print("\nchain: ((x @ W).tanh() * b + c).sum().backward(); numpy does the same by hand.")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
