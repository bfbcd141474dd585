"""The ``biograd`` command line: the only place in biograd that prints or exits."""

from __future__ import annotations

import argparse
import sys

import biograd

EPILOG = """\
examples:
  biograd demo            the chain rule and gradient descent, step by step, on a tiny example
  biograd --version
"""


def _demo(args: argparse.Namespace) -> int:
    """The notes' chain-rule example, traced; then one neuron fitted by gradient descent."""
    import numpy as np

    print("1. The chain rule, as backpropagation computes it: y = sin(x^2) at x = 1.5\n")
    x = biograd.tensor(1.5, requires_grad=True, name="x")
    u = x**2
    u.name = "u"
    y = u.sin()
    y.name = "y"
    with biograd.trace() as steps:
        y.backward()
    print(steps)
    print(f"\n   closed form 2x cos(x^2) = {2 * 1.5 * np.cos(1.5**2):.6f}\n")

    print("2. One neuron, y = w*x + b, fitted by gradient descent to points on the line y = 3x - 1\n")
    xs = biograd.tensor(np.linspace(-1, 1, 20).reshape(-1, 1))
    ys = xs * 3.0 - 1.0
    w = biograd.tensor([[0.0]], requires_grad=True, name="w")
    b = biograd.tensor([0.0], requires_grad=True, name="b")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="biograd",
        description="Deep learning from first principles, for biologists.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"biograd {biograd.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="the chain rule and gradient descent on a tiny example")
    demo.add_argument("--steps", type=int, default=60, help="gradient-descent steps (default 60)")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
