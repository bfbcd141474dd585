"""biograd's benchmark suite: one table of paired ratios against PyTorch, numpy, scikit-learn and micrograd.

Every comparison runs both sides in the same process and moment: a warm-up first, then repeats that
alternate A, B, A, B (the order flips every repeat), and the table shows medians and the median of the
per-repeat ratios. These machines are noisy; only the ratios mean something.

Rows (issue 7):
  1. training steps/s of MLPs (forward, loss, backward, optimizer step; float32) vs PyTorch and vs the
     hand-fused numpy reference (benchmarks/handfused.py), with SGD and with Adam;
  2. the motif CNN (one-hot DNA, Conv1d, ReLU, global max pooling, Linear) vs the same net in PyTorch;
  3. one epoch on 10,000 x 784 data (batch 128) vs scikit-learn's MLPClassifier (same sizes and solver);
  4. the scalar engine micrograd on the tiny network;
  5. ``import biograd`` and ``biograd --help`` wall time vs ``import numpy`` and ``import torch``;
  6. peak memory training the large MLP for 20 steps (benchmarks/peak_memory.py, one process each);
  7. achieved GFLOP/s on the large MLP as a share of numpy's float32 matmul speed, measured in row 1;
  8. the recorded step (``biograd.record_step``) vs PyTorch eager, torch.compile, the hand-fused step,
     JAX jit (async, sync, and a 16-step scan stated as such) and biograd's eager step, for the MLPs and
     the motif CNN (with minor page faults per step), once per thread count of ``--thread-lines``.
     JAX and torch.compile are optional: the lines say so when they cannot run.

Run:  python benchmarks/run.py            # the full table, several minutes
      python benchmarks/run.py --quick    # about a minute, rougher
      python benchmarks/run.py --smoke    # seconds: checks every row runs (CI), numbers meaningless
      python benchmarks/run.py --rows 1,5 # only some rows
"""

from __future__ import annotations

import argparse
import importlib.metadata
import itertools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import biograd  # noqa: E402
from biograd import nn, optim  # noqa: E402
from biograd.data import DataLoader, TensorDataset  # noqa: E402
from handfused import HandFusedMLP  # noqa: E402
from machine import cpu_name  # noqa: E402

try:
    import torch
except ImportError:  # rows against PyTorch then say so
    torch = None

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:
    threadpool_info = threadpool_limits = None


# --------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------


@dataclass
class Settings:
    name: str
    repeats: int  # paired repeats per comparison
    sample_s: float  # seconds per timed sample (the step count is calibrated to it)
    warmup_s: float
    epoch_rows: int  # rows of the row-3 data set
    epoch_repeats: int
    micrograd_batch: int
    process_repeats: int  # subprocess timings (imports)
    memory_steps: int


MODES = {
    "full": Settings("full", 11, 0.25, 0.3, 10_000, 5, 32, 7, 20),
    "quick": Settings("quick", 5, 0.08, 0.1, 10_000, 2, 32, 3, 20),
    "smoke": Settings("smoke", 1, 0.002, 0.0, 512, 1, 4, 1, 2),
}

MLPS: list[tuple[str, list[int], int]] = [
    ("tiny", [2, 16, 16, 2], 32),
    ("small", [20, 64, 64, 2], 64),
    ("medium", [784, 128, 64, 10], 128),
    ("genomics", [2000, 256, 64, 2], 64),
    ("large", [1024, 1024, 1024, 10], 256),
]
# (minimum ratio vs PyTorch, minimum ratio vs the hand-fused reference), from issue 7
MLP_TARGETS = {
    "tiny": (3.5, 0.8),
    "small": (3.5, 0.8),
    "medium": (1.3, 0.9),
    "genomics": (1.3, 0.9),
    "large": (1.0, 0.95),
}
LR = {"sgd": 0.01, "adam": 1e-3}


# --------------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------------


def _time_calls(fn: Callable[[], Any], n: int) -> float:
    """Seconds per call; a step with a ``finish`` (JAX's asynchronous dispatch) is waited for at the end."""
    finish = getattr(fn, "finish", None)
    start = time.perf_counter()
    for _ in range(n):
        fn()
    if finish is not None:
        finish()
    return (time.perf_counter() - start) / n


def paired(cases: dict[str, Callable[[], Any]], s: Settings, max_calls: int = 100_000) -> dict[str, list]:
    """Seconds per call of each case, one sample per repeat, cases alternating within each repeat.

    Each case first runs for ``s.warmup_s`` (at least twice: caches, lazy imports, the allocator), then
    its call count is set so that one sample takes about ``s.sample_s``.
    """
    calls = {}
    for name, fn in cases.items():
        start, n = time.perf_counter(), 0
        while n < 1 or time.perf_counter() - start < s.warmup_s:
            fn()
            n += 1
        per_call = (time.perf_counter() - start) / n
        calls[name] = max(1, min(max_calls, round(s.sample_s / max(per_call, 1e-9))))
    samples: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for r in range(s.repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            samples[name].append(_time_calls(cases[name], calls[name]))
    return samples


def med(values: Sequence[float]) -> float:
    return statistics.median(values)


def speedup(samples: dict[str, list[float]], fast: str, slow: str) -> float:
    """Median over repeats of time(slow) / time(fast): how many times faster ``fast`` ran."""
    return med([b / a for a, b in zip(samples[fast], samples[slow], strict=True)])


# --------------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------------


@dataclass
class Row:
    number: int
    case: str
    ours: str  # biograd's figure
    peer: str  # the peer's name and figure
    ratio: float | None  # None: the comparison could not run (the note says why)
    target: str = "-"
    holds: bool | None = None  # None: no target for this line
    note: str = ""


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(_format_row(row), flush=True)


HEADER = f"{'#':<2} {'case':<44} {'biograd':>12}  {'peer':<28} {'ratio':>8}  {'target':<8} holds"


def _format_row(r: Row) -> str:
    ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x" if r.ratio < 100 else f"{r.ratio:,.0f}x"
    holds = "-" if r.holds is None else "yes" if r.holds else "NO"
    text = f"{r.number:<2} {r.case:<44} {r.ours:>12}  {r.peer:<28} {ratio:>8}  {r.target:<8} {holds}"
    return text + (f"  ({r.note})" if r.note else "")


def _rate(seconds: float, unit: str = "st/s") -> str:
    per_s = 1.0 / seconds
    return f"{per_s:,.0f} {unit}" if per_s >= 10 else f"{per_s:.2f} {unit}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


def _at_least(ratio: float, target: float) -> tuple[str, bool]:
    return f">= {target:g}x", ratio >= target


def _at_most(ratio: float, target: float) -> tuple[str, bool]:
    return f"<= {target:g}x", ratio <= target


# --------------------------------------------------------------------------------------------------
# Row 1: MLP training steps
# --------------------------------------------------------------------------------------------------


def _data(sizes: Sequence[int], batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], size=batch)
    return x, y


# Each step trains on the same inputs with the next of LABEL_SETS random label vectors. With one fixed
# batch, thousands of steps would memorize it: the softmax saturates, values become subnormal floats and
# every implementation slows down by a different amount (they are at different steps when timed). With
# labels that change every step nothing can be memorized, so a step costs the same at step 10 and 10,000.
LABEL_SETS = 16


def _label_pool(n_classes: int, shape: tuple[int, ...], seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n_classes, size=shape) for _ in range(LABEL_SETS)]


def _cycle(pool: Sequence[Any]) -> Callable[[], Any]:
    """A function returning the pool's items in turn, forever."""
    it = itertools.cycle(pool)
    return it.__next__


def _torch_step(model: Any, opt: Any, loss_fn: Any, x: np.ndarray, pool: Sequence[np.ndarray]) -> Callable:
    """One PyTorch training step on x, with the next label vector of the pool each time."""
    tx, labels = torch.from_numpy(x), _cycle([torch.from_numpy(y) for y in pool])

    def torch_step() -> Any:
        opt.zero_grad()
        loss = loss_fn(model(tx), labels())
        loss.backward()
        opt.step()
        return loss

    return torch_step


def _torch_mlp(sizes: Sequence[int]) -> Any:
    layers: list[Any] = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def _start_weights(sizes: Sequence[int], seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    ws, bs = [], []
    for n_in, n_out in itertools.pairwise(sizes):
        bound = 1.0 / math.sqrt(n_in)
        ws.append(rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32))
        bs.append(rng.uniform(-bound, bound, n_out).astype(np.float32))
    return ws, bs


def mlp_steps(sizes: Sequence[int], batch: int, opt_name: str) -> dict[str, Callable[[], float]]:
    """One training step of the same MLP (same starting weights, same batch) in each implementation."""
    x, _ = _data(sizes, batch)
    pool = _label_pool(sizes[-1], (batch,))
    ws, bs = _start_weights(sizes)
    lr = LR[opt_name]

    model = nn.MLP(list(sizes))
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for layer, w, b in zip(linears, ws, bs, strict=True):
        layer.weight.data[...] = w
        layer.bias.data[...] = b
    opt = optim.SGD(model.parameters(), lr=lr) if opt_name == "sgd" else optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    xt = biograd.tensor(x)
    labels = _cycle(pool)

    def biograd_step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(xt), labels())
        loss.backward()
        opt.step()
        return loss

    hand = HandFusedMLP(sizes, batch, opt_name, lr=lr, weights=ws, biases=bs)
    hand_labels = _cycle(pool)
    steps: dict[str, Callable[[], Any]] = {
        "biograd": biograd_step,
        "hand": lambda: hand.step(x, hand_labels()),
    }

    if torch is not None:
        tmodel = _torch_mlp(sizes)
        tlinears = [m for m in tmodel if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for layer, w, b in zip(tlinears, ws, bs, strict=True):
                layer.weight.copy_(torch.from_numpy(w))
                layer.bias.copy_(torch.from_numpy(b))
        params = tmodel.parameters()
        topt = torch.optim.SGD(params, lr=lr) if opt_name == "sgd" else torch.optim.Adam(params, lr=lr)
        steps["torch"] = _torch_step(tmodel, topt, torch.nn.CrossEntropyLoss(), x, pool)
    return steps


def check_same_work(steps: dict[str, Callable[[], Any]], what: str, n: int = 3) -> None:
    """The implementations start from the same weights: their first losses must agree, else the
    timings would compare different work. A step that runs several steps per call (JAX's scan) returns
    their losses, of which the first n are compared."""

    def values(step: Callable[[], Any]) -> list[float]:
        if getattr(step, "steps_per_call", 1) > 1:
            return [float(v) for v in np.asarray(step())[:n]]
        out = []
        for _ in range(n):
            loss = step()
            out.append(float(loss.item() if hasattr(loss, "item") else loss))
        return out

    losses = {name: values(step) for name, step in steps.items()}
    ref = losses["biograd"]
    for name, got in losses.items():
        if not np.allclose(got, ref, rtol=2e-3, atol=2e-4):
            raise SystemExit(f"{what}: {name} losses {got} differ from biograd's {ref}: not the same work")


def flops_per_step(sizes: Sequence[int], batch: int) -> float:
    """Matrix-product FLOPs of one training step: forward x W^T, dL/dW, and dL/dx except for layer 1."""
    macs = [n_in * n_out for n_in, n_out in itertools.pairwise(sizes)]
    return 2.0 * batch * (2 * sum(macs) + sum(macs[1:]))


def row_mlps(table: Table, s: Settings, peak: dict[str, Any]) -> None:
    for label, sizes, batch in MLPS:
        for opt_name in ("sgd", "adam"):
            steps = mlp_steps(sizes, batch, opt_name)
            opt_label = "SGD" if opt_name == "sgd" else "Adam"
            what = f"MLP {'-'.join(map(str, sizes))} b{batch} {opt_label}"
            check_same_work(steps, what)
            cases: dict[str, Callable[[], Any]] = dict(steps)
            if label == "large" and opt_name == "sgd":
                cases["matmul"] = _matmul_case(sizes, batch)
            samples = paired(cases, s)
            t_bg = med(samples["biograd"])
            to_torch, to_hand = MLP_TARGETS[label]
            if "torch" in samples:
                r = speedup(samples, "biograd", "torch")
                target, ok = _at_least(r, to_torch)
                peer = f"torch {_rate(med(samples['torch']))}"
                table.add(Row(1, f"{what} vs torch", _rate(t_bg), peer, r, target, ok))
            else:
                table.add(Row(1, f"{what} vs torch", _rate(t_bg), "torch not installed", None))
            r = speedup(samples, "biograd", "hand")
            target, ok = _at_least(r, to_hand)
            table.add(
                Row(
                    1,
                    f"{what} vs hand",
                    _rate(t_bg),
                    f"hand-fused {_rate(med(samples['hand']))}",
                    r,
                    target,
                    ok,
                )
            )
            if "matmul" in samples:
                peak.update(samples=samples, sizes=sizes, batch=batch)


def _matmul_case(sizes: Sequence[int], batch: int) -> Callable[[], Any]:
    """The three float32 products of the widest layer's step (x W^T, g^T x, g W) with numpy alone."""
    n = max(sizes)
    rng = np.random.default_rng(1)
    x, g = (rng.normal(size=(batch, n)).astype(np.float32) for _ in range(2))
    w = rng.normal(size=(n, n)).astype(np.float32)
    out_y, out_gw, out_gx = (
        np.empty((batch, n), np.float32),
        np.empty((n, n), np.float32),
        np.empty((batch, n), np.float32),
    )

    def products() -> None:
        np.matmul(x, w.T, out=out_y)
        np.matmul(g.T, x, out=out_gw)
        np.matmul(g, w, out=out_gx)

    products.flops = 3 * 2.0 * batch * n * n  # type: ignore[attr-defined]
    products.n = n  # type: ignore[attr-defined]
    return products


# --------------------------------------------------------------------------------------------------
# Row 7: GFLOP/s share of numpy's own matmul, from row 1's large-MLP SGD samples
# --------------------------------------------------------------------------------------------------


def row_gflops(table: Table, s: Settings, peak: dict[str, Any]) -> None:
    if not peak:  # row 1 was not run: measure the large SGD step and the products now
        label, sizes, batch = MLPS[-1]
        cases: dict[str, Callable[[], Any]] = dict(mlp_steps(sizes, batch, "sgd"))
        cases["matmul"] = _matmul_case(sizes, batch)
        peak.update(samples=paired(cases, s), sizes=sizes, batch=batch)
    samples, sizes, batch = peak["samples"], peak["sizes"], peak["batch"]
    n = max(sizes)
    mm_flops = 3 * 2.0 * batch * n * n
    step_flops = flops_per_step(sizes, batch)

    # per repeat: achieved GFLOP/s / matmul GFLOP/s = (step_flops / t_step) / (mm_flops / t_mm)
    def share(name: str) -> float:
        return med(
            [
                (step_flops / t) / (mm_flops / tm)
                for t, tm in zip(samples[name], samples["matmul"], strict=True)
            ]
        )

    peak_gf = mm_flops / med(samples["matmul"]) / 1e9
    what = f"GFLOP/s, MLP {'-'.join(map(str, sizes))} b{batch} SGD"
    r = share("biograd")
    gf = step_flops / med(samples["biograd"]) / 1e9
    target, ok = f">= {0.75:.0%}", r >= 0.75
    table.add(
        Row(
            7,
            what,
            f"{gf:.1f} GF/s",
            f"numpy matmul {peak_gf:.1f} GF/s",
            r,
            target,
            ok,
            "ratio = share of matmul peak",
        )
    )
    for name, label in (("hand", "hand-fused"), ("torch", "torch")):
        if name in samples:
            g = step_flops / med(samples[name]) / 1e9
            table.add(
                Row(
                    7,
                    f"  same, {label} for comparison",
                    f"{gf:.1f} GF/s",
                    f"{label} {g:.1f} GF/s",
                    share(name),
                    note=f"{label}'s share of matmul peak",
                )
            )


# --------------------------------------------------------------------------------------------------
# Row 2: motif CNN
# --------------------------------------------------------------------------------------------------


def cnn_steps(
    batch: int = 64, length: int = 200, filters: int = 32, kernel: int = 12
) -> dict[str, Callable[[], Any]]:
    """The CLI's default sequence model (pipeline.build_model): Conv1d(4, 32, 12) -> ReLU ->
    GlobalMaxPool1d -> Linear(32, 1), BCEWithLogitsLoss, Adam, on one-hot DNA."""
    rng = np.random.default_rng(0)
    bases = rng.integers(0, 4, size=(batch, length))
    x = np.zeros((batch, 4, length), dtype=np.float32)
    np.put_along_axis(x, bases[:, None, :], 1.0, axis=1)
    pool = [y.astype(np.float32) for y in _label_pool(2, (batch, 1))]
    model = nn.Sequential(
        nn.Conv1d(4, filters, kernel), nn.ReLU(), nn.GlobalMaxPool1d(), nn.Linear(filters, 1)
    )
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    xt = biograd.tensor(x)
    labels = _cycle(pool)

    def biograd_step() -> Any:
        opt.zero_grad()
        loss = loss_fn(model(xt), labels())
        loss.backward()
        opt.step()
        return loss

    biograd_step.model = model  # type: ignore[attr-defined]  (row 8 copies its weights)
    biograd_step.data = (x, pool)  # type: ignore[attr-defined]
    steps: dict[str, Callable[[], Any]] = {"biograd": biograd_step}
    if torch is not None:
        tmodel = torch.nn.Sequential(
            torch.nn.Conv1d(4, filters, kernel),
            torch.nn.ReLU(),
            torch.nn.AdaptiveMaxPool1d(1),
            torch.nn.Flatten(),
            torch.nn.Linear(filters, 1),
        )
        with torch.no_grad():
            tmodel[0].weight.copy_(torch.from_numpy(model[0].weight.data))
            tmodel[0].bias.copy_(torch.from_numpy(model[0].bias.data))
            tmodel[4].weight.copy_(torch.from_numpy(model[3].weight.data))
            tmodel[4].bias.copy_(torch.from_numpy(model[3].bias.data))
        topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
        steps["torch"] = _torch_step(tmodel, topt, torch.nn.BCEWithLogitsLoss(), x, pool)
    return steps


def row_cnn(table: Table, s: Settings) -> None:
    what = "motif CNN b64 L200 Conv1d(4,32,12) Adam"
    steps = cnn_steps()
    if "torch" not in steps:
        table.add(Row(2, what, "-", "torch not installed", None))
        return
    check_same_work(steps, what)
    samples = paired(steps, s)
    r = speedup(samples, "biograd", "torch")
    target, ok = _at_least(r, 1.0)
    table.add(
        Row(2, what, _rate(med(samples["biograd"])), f"torch {_rate(med(samples['torch']))}", r, target, ok)
    )


# --------------------------------------------------------------------------------------------------
# Row 3: one epoch vs scikit-learn's MLPClassifier
# --------------------------------------------------------------------------------------------------


def row_sklearn(table: Table, s: Settings) -> None:
    sizes, batch = [784, 128, 64, 10], 128
    rng = np.random.default_rng(0)
    x = rng.normal(size=(s.epoch_rows, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], size=s.epoch_rows)
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        table.add(Row(3, "epoch 784-128-64-10 b128", "-", "scikit-learn not installed", None))
        return
    for solver in ("sgd", "adam"):
        lr = LR[solver]

        def biograd_epoch(solver: str = solver, lr: float = lr) -> None:
            model = nn.MLP(sizes)
            params = model.parameters()
            opt = optim.SGD(params, lr=lr) if solver == "sgd" else optim.Adam(params, lr=lr)
            loss_fn = nn.CrossEntropyLoss()
            for xb, yb in DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True, seed=0):
                opt.zero_grad()
                loss_fn(model(xb), yb).backward()
                opt.step()

        def sklearn_epoch(solver: str = solver, lr: float = lr) -> None:
            # the same work: no L2 penalty, plain SGD without momentum, one pass, float32 kept
            clf = MLPClassifier(
                hidden_layer_sizes=tuple(sizes[1:-1]),
                solver=solver,
                batch_size=batch,
                learning_rate_init=lr,
                max_iter=1,
                alpha=0.0,
                momentum=0.0,
                shuffle=True,
                random_state=0,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(x, y)

        settings = Settings(**{**s.__dict__, "repeats": s.epoch_repeats, "sample_s": 0.0})
        samples = paired({"biograd": biograd_epoch, "sklearn": sklearn_epoch}, settings, max_calls=1)
        r = speedup(samples, "biograd", "sklearn")
        target, ok = _at_least(r, 1.6)
        what = f"epoch {s.epoch_rows:,}x784 b128 {solver}"
        table.add(
            Row(
                3,
                what,
                _ms(med(samples["biograd"])),
                f"MLPClassifier {_ms(med(samples['sklearn']))}",
                r,
                target,
                ok,
            )
        )


# --------------------------------------------------------------------------------------------------
# Row 4: micrograd (scalar engine) on the tiny network
# --------------------------------------------------------------------------------------------------


def row_micrograd(table: Table, s: Settings) -> None:
    sizes, batch = [2, 16, 16, 2], s.micrograd_batch
    what = f"MLP 2-16-16-2 b{batch} SGD, MSE"
    try:
        from micrograd.nn import MLP as ScalarMLP
    except ImportError:
        table.add(
            Row(4, what, "-", "micrograd not installed", None, ">= 1000x", None, "pip install micrograd")
        )
        return
    x, labels = _data(sizes, batch)
    onehot = np.eye(sizes[-1], dtype=np.float32)[labels]
    lr = 0.01

    model = nn.MLP(sizes)
    opt = optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    xt, yt = biograd.tensor(x), biograd.tensor(onehot)

    def biograd_step() -> None:
        opt.zero_grad()
        loss_fn(model(xt), yt).backward()
        opt.step()

    scalar = ScalarMLP(sizes[0], sizes[1:])
    rows, targets = x.astype(float).tolist(), onehot.astype(float).tolist()
    scale = 1.0 / (batch * sizes[-1])

    def micrograd_step() -> None:
        scalar.zero_grad()
        terms = []
        for row, target in zip(rows, targets, strict=True):
            for out, t in zip(scalar(row), target, strict=True):
                terms.append((out - t) ** 2)
        loss = sum(terms) * scale
        loss.backward()
        for p in scalar.parameters():
            p.data -= lr * p.grad

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))  # micrograd's topological sort is recursive
    try:
        samples = paired({"biograd": biograd_step, "micrograd": micrograd_step}, s)
    finally:
        sys.setrecursionlimit(limit)
    r = speedup(samples, "biograd", "micrograd")
    target, ok = _at_least(r, 1000)
    table.add(
        Row(
            4,
            what,
            _rate(med(samples["biograd"])),
            f"micrograd {_rate(med(samples['micrograd']))}",
            r,
            target,
            ok,
        )
    )


# --------------------------------------------------------------------------------------------------
# Row 5: import and CLI start-up (fresh processes)
# --------------------------------------------------------------------------------------------------

_IMPORT = "import time; t = time.perf_counter(); import {}; print(time.perf_counter() - t)"


def _run_seconds(cmd: list[str]) -> float:
    """Wall time of a whole process."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _import_seconds(module: str) -> float:
    """Time of the import statement alone, measured inside a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT.format(module)], check=True, capture_output=True, text=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def _cli_command() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "biograd")
    return [script, "--help"] if os.path.exists(script) else [sys.executable, "-m", "biograd", "--help"]


def row_imports(table: Table, s: Settings) -> None:
    with_torch = torch is not None and s.name != "smoke"  # smoke: skip the seconds-long torch import
    modules = ["numpy", "biograd"] + (["torch"] if with_torch else [])
    cases: dict[str, Callable[[], float]] = {m: (lambda m=m: _import_seconds(m)) for m in modules}
    cases["biograd --help"] = lambda: _run_seconds(_cli_command())
    cases["python -c 'import numpy'"] = lambda: _run_seconds([sys.executable, "-c", "import numpy"])
    if s.name != "smoke":
        for fn in cases.values():  # warm-up: compiled .pyc files, the page cache
            fn()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for r in range(s.process_repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            samples[name].append(cases[name]())
    t = {name: med(v) for name, v in samples.items()}
    ratio = med([b / n for b, n in zip(samples["biograd"], samples["numpy"], strict=True)])
    target, ok = _at_most(ratio, 2.0)
    table.add(
        Row(
            5,
            "import biograd vs import numpy",
            _ms(t["biograd"]),
            f"numpy {_ms(t['numpy'])}",
            ratio,
            target,
            ok,
            "ratio = time ratio",
        )
    )
    if "torch" not in t:
        why = "skipped in --smoke" if torch is not None else "torch not installed"
        table.add(Row(5, "import biograd vs import torch", _ms(t["biograd"]), why, None))
    else:
        ratio = med([b / n for b, n in zip(samples["biograd"], samples["torch"], strict=True)])
        table.add(
            Row(
                5,
                "import biograd vs import torch",
                _ms(t["biograd"]),
                f"torch {_ms(t['torch'])}",
                ratio,
                note="ratio = time ratio",
            )
        )
    key = "python -c 'import numpy'"
    ratio = med([b / n for b, n in zip(samples["biograd --help"], samples[key], strict=True)])
    table.add(
        Row(
            5,
            "biograd --help (whole process)",
            _ms(t["biograd --help"]),
            f"python+numpy {_ms(t[key])}",
            ratio,
            note="ratio = time ratio",
        )
    )


# --------------------------------------------------------------------------------------------------
# Row 6: peak memory (fresh processes)
# --------------------------------------------------------------------------------------------------


def _peak_memory(impl: str, s: Settings, threads: int) -> dict[str, Any]:
    cmd = [sys.executable, os.path.join(HERE, "peak_memory.py"), impl, "--steps", str(s.memory_steps)]
    out = subprocess.run([*cmd, "--threads", str(threads)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def row_memory(table: Table, s: Settings, threads: int) -> None:
    with_torch = torch is not None and s.name != "smoke"  # smoke: skip the seconds-long torch import
    impls = ["biograd", "handfused"] + (["torch"] if with_torch else [])
    results: dict[str, list[dict[str, Any]]] = {impl: [] for impl in impls}
    for r in range(1 if s.name == "smoke" else 3):
        for impl in impls if r % 2 == 0 else impls[::-1]:
            results[impl].append(_peak_memory(impl, s, threads))

    def mb(impl: str, key: str) -> float:
        return med([res[key] for res in results[impl]])

    what = f"peak RSS, MLP 1024-1024-1024-10 b256 {s.memory_steps} st"
    ours = f"{mb('biograd', 'training_mb'):.1f} MB"
    r = mb("biograd", "training_mb") / mb("handfused", "training_mb")
    target, ok = _at_most(r, 1.25)
    note = "training memory; whole process "
    note += f"{mb('biograd', 'peak_mb'):.0f} vs {mb('handfused', 'peak_mb'):.0f} MB"
    table.add(Row(6, what, ours, f"hand-fused {mb('handfused', 'training_mb'):.1f} MB", r, target, ok, note))
    if "torch" not in results:
        why = "skipped in --smoke" if torch is not None else "torch not installed"
        table.add(Row(6, "  same vs torch", ours, why, None))
    else:
        r = mb("biograd", "training_mb") / mb("torch", "training_mb")
        note = f"whole process {mb('biograd', 'peak_mb'):.0f} vs {mb('torch', 'peak_mb'):.0f} MB"
        table.add(Row(6, "  same vs torch", ours, f"torch {mb('torch', 'training_mb'):.1f} MB", r, note=note))


# --------------------------------------------------------------------------------------------------
# Row 8: the recorded step (biograd.record_step) against every peer, at 1 and 2 threads
# --------------------------------------------------------------------------------------------------

# minimum ratios of the recorded step (issue 18): vs torch eager, hand-fused, JAX jit (async dispatch),
# JAX jit synchronous (Adam only)
REC_TARGETS: dict[str, dict[str, float]] = {
    "tiny": {"torch": 5.0, "hand": 1.3, "jax": 1.0, "jax_sync_adam": 0.95},
    "small": {"torch": 5.0, "hand": 1.3, "jax": 1.0, "jax_sync_adam": 0.95},
    "medium": {"torch": 1.8, "hand": 1.0},
    "large": {"torch": 1.0, "hand": 0.95},
    "cnn": {"torch": 1.3},
}
REC_PEERS = (
    ("torch", "torch"),
    ("torch_compile", "torch.compile"),
    ("hand", "hand-fused"),
    ("jax", "JAX jit"),
    ("jax_sync", "JAX jit sync"),
    ("jax_scan16", "JAX scan16"),
    ("biograd", "biograd eager"),
)
# JAX jit: the compiled step with JAX's default (asynchronous) dispatch; sync: blocking on every step's
# result; scan16: 16 steps in one compiled call (lax.scan), time per step = time per call / 16.


def _recorded_mlp(sizes: Sequence[int], batch: int, opt_name: str) -> Callable[[], Any]:
    x, _ = _data(sizes, batch)
    pool = _label_pool(sizes[-1], (batch,))
    ws, bs = _start_weights(sizes)
    model = nn.MLP(list(sizes))
    for layer, w, b in zip([m for m in model if isinstance(m, nn.Linear)], ws, bs, strict=True):
        layer.weight.data[...] = w
        layer.bias.data[...] = b
    lr = LR[opt_name]
    opt = optim.SGD(model.parameters(), lr=lr) if opt_name == "sgd" else optim.Adam(model.parameters(), lr=lr)
    step = biograd.record_step(model, nn.CrossEntropyLoss(), opt)
    labels = _cycle(pool)
    return lambda: step(x, labels())


def _minor_faults_per_step(fn: Callable[[], Any], n: int = 20) -> float:
    """Minor page faults per call (fresh pages the kernel had to map): the cost of allocating big
    arrays anew every step."""
    import resource

    fn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / n


def _rec_cases(label: str, sizes: Sequence[int] | None, batch: int, opt_name: str, s: Settings) -> tuple:
    """(cases, reasons a peer is missing) for one line group of row 8."""
    from peers import PeerMissing, jax_steps, torch_compiled_step

    missing: dict[str, str] = {}
    lr = LR[opt_name]
    if label == "cnn":
        cases = cnn_steps()
        model = cases["biograd"].model  # type: ignore[attr-defined]
        x, pool = cases["biograd"].data  # type: ignore[attr-defined]
        twin = nn.Sequential(nn.Conv1d(4, 32, 12), nn.ReLU(), nn.GlobalMaxPool1d(), nn.Linear(32, 1))
        twin.load_state_dict(model.state_dict())
        step = biograd.record_step(twin, nn.BCEWithLogitsLoss(), optim.Adam(twin.parameters(), lr=lr))
        labels = _cycle(pool)
        cases = {"rec": lambda: step(x, labels()), **cases}
        weights = [(twin[0].weight.data.copy(), twin[0].bias.data.copy())]
        weights.append((twin[3].weight.data.copy(), twin[3].bias.data.copy()))
        missing["hand"] = "no hand-fused CNN"
        missing["torch_compile"] = "not run for the CNN"
    else:
        cases = {"rec": _recorded_mlp(sizes, batch, opt_name), **mlp_steps(sizes, batch, opt_name)}
        x, _ = _data(sizes, batch)
        pool = _label_pool(sizes[-1], (batch,))
        ws, bs = _start_weights(sizes)
        weights = list(zip(ws, bs, strict=True))
        if torch is None:
            missing["torch_compile"] = "torch not installed"
        elif s.name == "smoke":
            missing["torch_compile"] = "skipped in --smoke (compiling takes a minute)"
        else:
            tmodel = _torch_mlp(sizes)
            with torch.no_grad():
                tl = [m for m in tmodel if isinstance(m, torch.nn.Linear)]
                for layer, w, b in zip(tl, ws, bs, strict=True):
                    layer.weight.copy_(torch.from_numpy(w))
                    layer.bias.copy_(torch.from_numpy(b))
            topt = (torch.optim.SGD if opt_name == "sgd" else torch.optim.Adam)(tmodel.parameters(), lr=lr)
            try:
                cases["torch_compile"] = torch_compiled_step(
                    tmodel, topt, torch.nn.CrossEntropyLoss(), x, pool
                )
            except PeerMissing as err:
                missing["torch_compile"] = str(err)
    try:
        cases.update(jax_steps("cnn" if label == "cnn" else "mlp", weights, opt_name, lr, x, pool))
    except PeerMissing as err:
        for name in ("jax", "jax_sync", "jax_scan16"):
            missing[name] = str(err)
    if "torch" not in cases:
        missing["torch"] = "torch not installed"
    return cases, missing


def row_recorded(table: Table, s: Settings, thread_counts: Sequence[int]) -> None:
    from peers import jax_threads

    groups = [(label, sizes, batch) for label, sizes, batch in MLPS if label in REC_TARGETS]
    if s.name == "smoke":  # one MLP and the CNN: enough to see that every line runs
        groups = groups[:1]
    groups.append(("cnn", None, 64))
    for threads in thread_counts:
        limit = threadpool_limits(threads) if threadpool_limits is not None else None
        if torch is not None:
            torch.set_num_threads(threads)
        try:
            for label, sizes, batch in groups:
                for opt_name in ("sgd", "adam") if label != "cnn" else ("adam",):
                    _row_recorded_group(table, s, threads, label, sizes, batch, opt_name, jax_threads())
        finally:
            if limit is not None:
                limit.restore_original_limits()


def _row_recorded_group(
    table: Table,
    s: Settings,
    threads: int,
    label: str,
    sizes: Sequence[int] | None,
    batch: int,
    opt_name: str,
    jax_threads: str,
) -> None:
    opt_label = "SGD" if opt_name == "sgd" else "Adam"
    if label == "cnn":
        what = f"rec CNN b64 Adam {threads}t"
    else:
        what = f"rec {'-'.join(map(str, sizes))} b{batch} {opt_label} {threads}t"
    cases, missing = _rec_cases(label, sizes, batch, opt_name, s)
    check = {"biograd": cases["rec"], **{k: v for k, v in cases.items() if k != "rec"}}
    check_same_work(check, what)
    samples = paired(cases, s)
    for name, fn in cases.items():
        per_call = getattr(fn, "steps_per_call", 1)
        if per_call > 1:
            samples[name] = [t / per_call for t in samples[name]]
    t_rec = med(samples["rec"])
    targets = dict(REC_TARGETS[label])
    if opt_name == "adam" and "jax_sync_adam" in targets:
        targets["jax_sync"] = targets["jax_sync_adam"]
    first = True
    for name, peer_label in REC_PEERS:
        case = what if first else "  same"
        case = f"{case} vs {peer_label}"
        if name not in samples:
            if name in missing:
                table.add(Row(8, case, _rate(t_rec), missing[name][:28], None))
                first = False
            continue
        r = speedup(samples, "rec", name)
        spread = _spread(samples, "rec", name)
        target, ok = _at_least(r, targets[name]) if name in targets else ("-", None)
        note = f"ratio spread {spread}"
        if name.startswith("jax"):
            note += f"; JAX threads: {jax_threads}"
        table.add(
            Row(
                8,
                case,
                _rate(t_rec),
                f"{peer_label} {_rate(med(samples[name]))}",
                r,
                target,
                ok,
                note,
            )
        )
        first = False
    if label == "cnn" and s.name == "smoke":
        table.add(Row(8, "  minor page faults per step", "-", "skipped in --smoke", None))
    elif label == "cnn":
        faults = _cnn_faults_fresh(threads)
        text = ", ".join(f"{k} {v:,.0f}" for k, v in faults.items())
        note = f"each in a fresh process: earlier rows' big arrays change the allocator's state; {text}"
        table.add(Row(8, "  minor page faults per step", f"{faults['rec']:,.0f}", text[:28], None, note=note))


def _cnn_faults_fresh(threads: int) -> dict[str, float]:
    """Minor page faults per CNN step of each implementation, each measured in a fresh process."""
    out = {}
    for name in ("rec", "biograd", "torch"):
        if name == "torch" and torch is None:
            continue
        cmd = [sys.executable, os.path.abspath(__file__), "--cnn-faults", name, "--threads", str(threads)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out[name] = float(done.stdout.strip().splitlines()[-1])
    return out


def _print_cnn_faults(name: str) -> None:
    """(--cnn-faults NAME) print the minor page faults per step of one CNN implementation."""
    cases = cnn_steps()
    if name == "rec":
        model = cases["biograd"].model  # type: ignore[attr-defined]
        x, pool = cases["biograd"].data  # type: ignore[attr-defined]
        step = biograd.record_step(model, nn.BCEWithLogitsLoss(), optim.Adam(model.parameters(), lr=1e-3))
        labels = _cycle(pool)
        fn: Callable[[], Any] = lambda: step(x, labels())  # noqa: E731
    else:
        fn = cases[name]
    for _ in range(3):  # recorded and replayed once; the allocator settles
        fn()
    print(_minor_faults_per_step(fn))


def _spread(samples: dict[str, list[float]], fast: str, slow: str) -> str:
    """The lowest and highest per-repeat ratio: how much the machine's noise moved this line."""
    ratios = [b / a for a, b in zip(samples[fast], samples[slow], strict=True)]
    return f"{min(ratios):.2f}-{max(ratios):.2f}x"


# --------------------------------------------------------------------------------------------------
# Header and main
# --------------------------------------------------------------------------------------------------


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def header(threads: int, s: Settings) -> list[str]:
    cpu = cpu_name()
    blas = "unknown (threadpoolctl not installed)"
    if threadpool_info is not None:
        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        blas = (
            "; ".join(
                f"{p.get('internal_api')} {p.get('version')} {p.get('architecture', '')} "
                f"({p.get('threading_layer', '')}, {p.get('num_threads')} threads)"
                for p in pools
            )
            or "none found"
        )
    versions = [
        f"python {platform.python_version()}",
        f"numpy {np.__version__}",
        f"biograd {biograd.__version__}",
    ]
    for dist in ("torch", "scikit-learn", "micrograd"):
        v = _version(dist)
        versions.append(f"{dist} {v}" if v else f"{dist} not installed")
    torch_threads = f"torch {torch.get_num_threads()}" if torch is not None else "torch -"
    return [
        f"biograd benchmark suite, mode {s.name}: {s.repeats} paired repeats per line, medians; "
        "ratio = median of per-repeat ratios",
        f"machine: {cpu} ({os.cpu_count()} logical CPUs), {platform.system()} {platform.release()}",
        "versions: " + ", ".join(versions),
        f"BLAS kernel (numpy): {blas}",
        f"threads: {threads} for everyone (BLAS via threadpoolctl, {torch_threads} via "
        "torch.set_num_threads)",
        "float32 everywhere; ratio = biograd speed / peer speed unless the line says otherwise",
    ]


ROWS = (1, 2, 3, 4, 5, 6, 7, 8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="fewer, shorter repeats (about a minute)")
    mode.add_argument("--smoke", action="store_true", help="tiny repetitions: checks every row runs")
    parser.add_argument("--rows", default=",".join(map(str, ROWS)), help="which rows, e.g. 1,5 (default all)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads for BLAS and torch")
    parser.add_argument(
        "--thread-lines",
        default=None,
        help="row 8: thread counts to run it at, e.g. 1,2 (default 1,2; --smoke: 1)",
    )
    parser.add_argument("--cnn-faults", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    s = MODES["smoke" if args.smoke else "quick" if args.quick else "full"]
    rows = {int(r) for r in args.rows.split(",") if r.strip()}
    default_lines = "1" if args.smoke else "1,2"
    thread_lines = [int(t) for t in (args.thread_lines or default_lines).split(",") if t.strip()]
    if not rows <= set(ROWS):
        parser.error(f"--rows takes numbers among {ROWS}; got {args.rows!r}")

    if threadpool_limits is not None:
        threadpool_limits(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    if args.cnn_faults:
        _print_cnn_faults(args.cnn_faults)
        return 0
    print("\n".join(header(args.threads, s)))
    print()
    print(HEADER)
    print("-" * len(HEADER), flush=True)
    start = time.perf_counter()
    table = Table()
    peak: dict[str, Any] = {}
    if 1 in rows:
        row_mlps(table, s, peak)
    if 2 in rows:
        row_cnn(table, s)
    if 3 in rows:
        row_sklearn(table, s)
    if 4 in rows:
        row_micrograd(table, s)
    if 5 in rows:
        row_imports(table, s)
    if 6 in rows:
        row_memory(table, s, args.threads)
    if 7 in rows:
        row_gflops(table, s, peak)
    if 8 in rows:
        row_recorded(table, s, thread_lines)
    judged = [r for r in table.rows if r.holds is not None]
    print("-" * len(HEADER))
    print(
        f"targets holding: {sum(r.holds for r in judged)} of {len(judged)}; "
        f"{time.perf_counter() - start:.0f} s; "
        f"command: python benchmarks/run.py {' '.join(sys.argv[1:] if argv is None else argv)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
