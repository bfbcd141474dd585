"""One epoch on an atlas-sized table, biograd vs PyTorch: time, and peak memory against the data's own size.

    python benchmarks/large_table.py             # 100,000 x 2,000 float32 (763 MiB), MLP 2000-256-64-10
    python benchmarks/large_table.py --quick     # 2,000 x 200, a smoke test (seconds)

The table stands in for a single-cell matrix of an atlas (cells x genes, dense float32), generated with a
fixed seed (standard normal features, 10 random classes: the time of an epoch does not depend on what the
numbers mean). Each side runs in its own fresh process, so their memory does not mix, and the runs
alternate (biograd, torch, biograd, torch, ...) so that a change in the machine's load hits both alike;
the table prints medians with the range. Before the clock starts, each process takes two
steps on 8 rows, so that first-use imports and set-up are not counted as the epoch.

What one epoch is, on both sides: ``biograd.fit``'s default user path, a random 20% of the rows held
out for validation, shuffled mini-batches of ``--batch`` training rows (the last short one included),
cross-entropy, Adam (lr 1e-3), then the loss on the training rows and on the validation rows in eval mode
(``biograd.fit`` records both after every epoch); the PyTorch loop holds out 20% too and does the same
work, reading the rows of each part by index from the one table (as ``fit`` does), never as copies.
Both start from the same weights (drawn once with numpy, loaded into each). biograd runs its user path,
``biograd.fit``; PyTorch runs the usual hand loop over ``torch.from_numpy(x)`` (no copy) with
``randperm`` batches.

Memory: each process records its resident memory after importing its library and before making the
data (the interpreter + import footprint, subtracted), then its peak (``ru_maxrss``, the kernel's
high-water mark of the whole process). ``peak - baseline`` is what the data and the training took
together; divided by the data's size it says how many copies of the table the library needed (1.0 = the
table itself and nothing else).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time


def _vm_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise OSError("no VmRSS in /proc/self/status")


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _warm_up(impl: str) -> None:
    """Two steps on 8 rows, so that modules loaded on first use are loaded before the clock and the
    memory baseline start (biograd loads its training package on first use of ``fit``)."""
    import warnings

    import numpy as np

    x, y = np.ones((8, 3), np.float32), np.arange(8) % 2
    if impl == "biograd":
        import biograd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            biograd.fit(biograd.nn.MLP([3, 2, 2]), x, y, loss="cross_entropy", epochs=1, batch_size=4, seed=0)
    else:
        import torch

        model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 2))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for rows in (slice(0, 4), slice(4, 8)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(
                model(torch.from_numpy(x[rows])), torch.from_numpy(y[rows])
            ).backward()
            opt.step()
        with torch.no_grad():
            model.eval()(torch.from_numpy(x))


def worker(args: argparse.Namespace) -> dict:
    """One epoch of one library in this process; returns its figures (printed as one JSON line)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    if args.impl == "biograd":
        import biograd
        from biograd import nn, optim
    else:
        import torch

        torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    _warm_up(args.impl)
    baseline = _vm_rss_mb()  # interpreter + numpy + the library, before any data

    sizes = [args.cols, *(int(s) for s in args.hidden.split(",")), args.classes]
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.rows, args.cols), dtype=np.float32)
    y = rng.integers(0, args.classes, size=args.rows)
    data_mb = (x.nbytes + y.nbytes) / 2**20
    init = np.random.default_rng(1)
    weights = {}
    for i in range(len(sizes) - 1):  # PyTorch's default Linear init, drawn once with numpy
        bound = 1 / np.sqrt(sizes[i])
        weights[f"{2 * i}.weight"] = init.uniform(-bound, bound, (sizes[i + 1], sizes[i])).astype(np.float32)
        weights[f"{2 * i}.bias"] = init.uniform(-bound, bound, sizes[i + 1]).astype(np.float32)

    if args.impl == "biograd":
        import warnings

        model = nn.MLP(sizes)
        model.load_state_dict(weights)
        opt = optim.Adam(model.parameters(), lr=1e-3)
        start, cpu_start = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # one epoch does not converge
            history = biograd.fit(
                model, x, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=args.batch, seed=0
            )
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        loss = float(history["loss"][-1])
    else:
        layers: list = []
        for i in range(len(sizes) - 1):
            layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*layers)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        torch.manual_seed(0)
        start, cpu_start = time.perf_counter(), time.process_time()
        held_out = torch.randperm(len(xt))
        n_val = -(-len(xt) // 5)  # ceil(20%), as fit's validation_split=0.2
        train_rows, val_rows = held_out[n_val:], held_out[:n_val]
        model.train()
        order = train_rows[torch.randperm(len(train_rows))]
        for first in range(0, len(order), args.batch):
            rows = order[first : first + args.batch]
            opt.zero_grad()
            loss_fn(model(xt[rows]), yt[rows]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            losses = []
            for part in (train_rows, val_rows):  # in chunks of 4,096 rows, as fit evaluates
                total = sum(float(loss_fn(model(xt[c]), yt[c])) * len(c) for c in torch.split(part, 4096))
                losses.append(total / len(part))
            loss = losses[0]
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak = _peak_mb()
    return {
        "impl": args.impl,
        "epoch_s": seconds,
        "cpu_s": cpu,  # CPU time of the process during the epoch: less sensitive to a busy machine
        "loss": loss,
        "data_mb": data_mb,
        "baseline_mb": baseline,
        "peak_mb": peak,
        "above_baseline_mb": peak - baseline,
        "threads": args.threads,
    }


def _run_worker(impl: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--worker", impl]
    for name in ("rows", "cols", "hidden", "classes", "batch", "threads", "seed"):
        command += [f"--{name}", str(getattr(args, name))]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {impl} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 x 200, hidden 64,16, 1 repeat")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cols", type=int, default=2_000)
    parser.add_argument("--hidden", default="256,64", help="hidden layer sizes, comma-separated")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side, alternating")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/torch threads in each process")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", choices=["biograd", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.impl = args.worker
        print(json.dumps(worker(args)))
        return
    if args.quick:
        args.rows, args.cols, args.hidden, args.repeats = 2_000, 200, "64,16", 1

    sizes = f"{args.cols}-{args.hidden.replace(',', '-')}-{args.classes}"
    print(
        f"large table: {args.rows:,} x {args.cols:,} float32, MLP {sizes}, batch {args.batch}, Adam, 1 epoch"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
        f"{' '.join(f'{v:.1f}' for v in os.getloadavg())} (before); threads per process: {args.threads}"
    )
    runs: dict[str, list[dict]] = {"biograd": [], "torch": []}
    for _ in range(args.repeats):
        for impl in ("biograd", "torch"):
            runs[impl].append(run := _run_worker(impl, args))
            print(
                f"  {impl}: epoch {run['epoch_s']:.2f} s wall, {run['cpu_s']:.2f} s CPU, "
                f"peak {run['peak_mb']:.0f} MiB, loss {run['loss']:.4f}",
                flush=True,
            )
    data_mb = runs["biograd"][0]["data_mb"]
    print(f"data: {data_mb:.1f} MiB (x float32 + y int64)")
    print(
        f"{'':8} {'epoch s, median (range)':>26} {'baseline MiB':>13} {'peak-baseline MiB':>18} {'x data':>7}"
    )
    for impl, rows in runs.items():
        above = statistics.median(r["above_baseline_mb"] for r in rows)
        baseline = statistics.median(r["baseline_mb"] for r in rows)
        print(
            f"{impl:8} {_spread([r['epoch_s'] for r in rows]):>26} "
            f"{baseline:>13.0f} {above:>18.0f} {above / data_mb:>7.2f}"
        )
    ours = statistics.median(r["epoch_s"] for r in runs["biograd"])
    theirs = statistics.median(r["epoch_s"] for r in runs["torch"])
    mem_ours = statistics.median(r["above_baseline_mb"] for r in runs["biograd"])
    mem_theirs = statistics.median(r["above_baseline_mb"] for r in runs["torch"])
    cpu_ours = statistics.median(r["cpu_s"] for r in runs["biograd"])
    cpu_theirs = statistics.median(r["cpu_s"] for r in runs["torch"])
    print(f"epoch speed biograd / torch: {theirs / ours:.2f}x wall, {cpu_theirs / cpu_ours:.2f}x CPU time")
    print(
        f"memory above baseline / data: biograd {mem_ours / data_mb:.2f}x, torch {mem_theirs / data_mb:.2f}x"
    )
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
