"""Instructions per training step, counted by valgrind: a measure a busy machine cannot blur.

Wall time on a shared 2-core machine moves 2x and more from run to run; the number of machine
instructions a step executes does not. Each implementation trains the tiny MLP (2-16-16-2, batch 32,
float32, one BLAS thread) for N1 and then N2 steps in two fresh processes under ``valgrind
--tool=callgrind``; (instructions(N2) - instructions(N1)) / (N2 - N1) is the cost of one step, with
start-up and imports cancelled out.

    python benchmarks/instructions.py                 # every implementation, SGD and Adam (minutes)
    python benchmarks/instructions.py --impl rec      # one of: rec, eager, hand, torch, jax

A single run of one implementation (what valgrind executes):

    python benchmarks/instructions.py --run rec adam 600

JAX runs its compiled step on XLA's own threads; its count includes them (valgrind serializes threads).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES, BATCH = [2, 16, 16, 2], 32
IMPLS = ("rec", "eager", "hand", "torch", "jax")


def _run(impl: str, opt_name: str, n: int) -> None:
    """Train ``n`` steps of the tiny MLP with one implementation."""
    sys.path.insert(0, HERE)
    import numpy as np
    from threadpoolctl import threadpool_limits

    import run as suite

    threadpool_limits(1)
    lr = suite.LR[opt_name]
    x, _ = suite._data(SIZES, BATCH)
    pool = suite._label_pool(SIZES[-1], (BATCH,))
    if impl == "rec":
        step = suite._recorded_mlp(SIZES, BATCH, opt_name)
    elif impl in ("eager", "hand", "torch"):
        if impl == "torch":
            suite.torch.set_num_threads(1)
        step = suite.mlp_steps(SIZES, BATCH, opt_name)["biograd" if impl == "eager" else impl]
    else:
        from peers import jax_steps

        ws, bs = suite._start_weights(SIZES)
        step = jax_steps("mlp", list(zip(ws, bs, strict=True)), opt_name, lr, x, pool)["jax_sync"]
    for _ in range(n):
        step()
    np.asarray(0)


def _count(impl: str, opt_name: str, n: int) -> int:
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        os.path.abspath(__file__),
        "--run",
        impl,
        opt_name,
        str(n),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    match = re.search(r"Collected : ([\d,]+)", done.stderr)
    if match is None:
        raise SystemExit(f"valgrind printed no count for {impl}: {done.stderr[-500:]}")
    return int(match.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", choices=IMPLS, action="append", help="implementations (default: all)")
    parser.add_argument("--steps", default="100,600", help="N1,N2 (default 100,600)")
    parser.add_argument("--run", nargs=3, metavar=("IMPL", "OPT", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        _run(args.run[0], args.run[1], int(args.run[2]))
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    n1, n2 = (int(v) for v in args.steps.split(","))
    print(
        f"instructions per training step, MLP 2-16-16-2 b{BATCH} float32, 1 BLAS thread ({n1} vs {n2} steps)"
    )
    for opt_name in ("sgd", "adam"):
        for impl in args.impl or IMPLS:
            try:
                per_step = (_count(impl, opt_name, n2) - _count(impl, opt_name, n1)) / (n2 - n1)
            except subprocess.CalledProcessError as err:
                print(f"{opt_name:<5} {impl:<6} could not run: {err.stderr.strip().splitlines()[-1][:80]}")
                continue
            print(f"{opt_name:<5} {impl:<6} {per_step / 1e3:8,.0f}k", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
