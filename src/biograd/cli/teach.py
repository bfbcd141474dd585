"""The commands that teach: ``biograd demo``, ``datasets``, ``tour`` and ``playground``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from biograd.cli.console import _out, _table
from biograd.tensor import tensor
from biograd.tracing import Trace


def _demo(args: argparse.Namespace) -> int:
    """The notes' chain-rule example, traced; then one neuron fitted by gradient descent."""
    import numpy as np

    print("1. The chain rule, as backpropagation computes it: y = sin(x^2) at x = 1.5\n")
    x = tensor(1.5, requires_grad=True, name="x")
    u = x**2
    u.name = "u"
    y = u.sin()
    y.name = "y"
    with Trace() as steps:
        y.backward()
    print(steps)
    print(f"\n   closed form 2x cos(x^2) = {2 * 1.5 * np.cos(1.5**2):.6f}\n")

    print("2. One neuron, y = w*x + b, fitted by gradient descent to points on the line y = 3x - 1\n")
    xs = tensor(np.linspace(-1, 1, 20).reshape(-1, 1))
    ys = xs * 3.0 - 1.0
    w = tensor([[0.0]], requires_grad=True, name="w")
    b = tensor([0.0], requires_grad=True, name="b")
    lr = 0.5
    for step in range(args.steps):
        loss = ((xs @ w + b - ys) ** 2).mean()
        w.grad = b.grad = None
        loss.backward()
        if step % max(1, args.steps // 8) == 0 or step == args.steps - 1:
            print(f"   step {step:3d}  loss {loss.item():.6f}  w {w.item():+.4f}  b {b.item():+.4f}")
        w.data -= lr * w.grad  # w <- w - lr * dL/dw
        b.data -= lr * b.grad
    print(f"\n   learned w = {w.item():.4f} (true 3), b = {b.item():.4f} (true -1)")
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from biograd import datasets

    rows = [[name, n, task, desc] for name, desc, n, task in datasets.available()]
    _out(_table(rows, ["name", "samples", "task", "description"]))
    _out("\nTrain on one: biograd train --dataset NAME --out runs/NAME")
    return 0


def _tour(args: argparse.Namespace) -> int:
    from biograd import tour

    out = Path(args.out)
    _out(f"The guided tour: ten steps, computed now (under a minute). Writing {out / 'index.html'}")

    def progress(number: int, title: str) -> None:
        _out(f"  {number:2d}/10  {title}")
        sys.stdout.flush()

    page = tour.write(out, seed=args.seed, on_step=progress)
    _out(f"Written to {page}: open it in a browser. The notebooks behind it are in docs/tutorials.")
    return 0


def _playground(args: argparse.Namespace) -> int:
    from biograd.playground.server import serve

    def ready(url: str) -> None:
        _out(f"biograd playground: {url}")
        _out("Open that address (with its token) in a browser. Press Ctrl-C to stop.")
        sys.stdout.flush()

    serve(port=args.port, open_browser=not args.no_browser, ready=ready)
    _out("Playground stopped.")
    return 0
