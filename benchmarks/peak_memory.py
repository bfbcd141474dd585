"""Peak memory of training an MLP, in a fresh process: ``python benchmarks/peak_memory.py IMPL [options]``.

IMPL is ``biograd``, ``torch`` or ``handfused``. The process imports its library, makes the data, then
resets the kernel's high-water mark (``/proc/self/clear_refs``), builds the model and trains it for
``--steps`` steps. It prints one JSON line: ``peak_mb`` (max RSS of the whole process, interpreter and
libraries included), ``baseline_mb`` (RSS before the model existed) and ``training_mb`` (peak minus
baseline: the memory the model, its gradients, the optimizer and one step's intermediates need).

``benchmarks/run.py`` runs it once per implementation (row 6 of its table).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset VmHWM (Linux >= 4.0) so the peak counts from now on; False if this system cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("impl", choices=["biograd", "torch", "handfused"])
    parser.add_argument("--sizes", default="1024,1024,1024,10")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    import numpy as np

    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], size=args.batch)

    if args.impl == "biograd":
        import biograd
        from biograd import nn, optim

        xt = biograd.tensor(x)
    elif args.impl == "torch":
        import torch

        torch.set_num_threads(args.threads)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from handfused import HandFusedMLP

    reset = _reset_peak()
    baseline_kb = _status_kb("VmRSS") or 0

    if args.impl == "biograd":
        model = nn.MLP(sizes)
        loss_fn = nn.CrossEntropyLoss()
        opt = (
            optim.SGD(model.parameters(), lr=0.01)
            if args.optimizer == "sgd"
            else optim.Adam(model.parameters())
        )
        for _ in range(args.steps):
            opt.zero_grad()
            loss = loss_fn(model(xt), y)
            loss.backward()
            opt.step()
    elif args.impl == "torch":
        layers: list = []
        for i in range(len(sizes) - 1):
            layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*layers)
        loss_fn = torch.nn.CrossEntropyLoss()
        params = model.parameters()
        opt = torch.optim.SGD(params, lr=0.01) if args.optimizer == "sgd" else torch.optim.Adam(params)
        for _ in range(args.steps):
            opt.zero_grad()
            loss = loss_fn(model(xt), yt)
            loss.backward()
            opt.step()
    else:
        model = HandFusedMLP(sizes, args.batch, args.optimizer, lr=0.01 if args.optimizer == "sgd" else 1e-3)
        for _ in range(args.steps):
            model.step(x, y)

    peak_kb = _status_kb("VmHWM") if reset else None
    if peak_kb is None:  # no /proc reset: the lifetime peak (ru_maxrss is in KiB on Linux)
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "impl": args.impl,
                "peak_mb": peak_kb / 1024,
                "baseline_mb": baseline_kb / 1024,
                "training_mb": (peak_kb - baseline_kb) / 1024,
                "lifetime_max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "peak_reset": reset,
            }
        )
    )


if __name__ == "__main__":
    main()
