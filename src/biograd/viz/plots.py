"""Training as pictures (matplotlib): activations, loss curves, gradient-descent variants, learning rates,
optimizer paths, decision boundaries, a regression fit over time, and under- vs overfitting.

Every function returns a :class:`matplotlib.figure.Figure` (never calls ``plt.show()``; in Jupyter the
figure displays itself; ``fig.savefig("name.png")`` saves it). Each line has its own color *and* line style
and marker (Okabe-Ito colors), so the figures read in greyscale and for color-blind readers. The small
trainings inside the teaching plots use biograd's own networks, optimizers and DataLoader and run in seconds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from biograd.ops import stable_sigmoid, stable_softmax
from biograd.random import manual_seed
from biograd.tensor import Tensor, no_grad
from biograd.viz.palette import BLACK, BLUE, GREEN, ORANGE, SKY, line_style


def _figure(ncols: int = 1, nrows: int = 1, width: float = 5.2, height: float = 4.0):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _style(i: int, every: int | None = None) -> dict[str, Any]:
    color, ls, marker = line_style(i)
    out: dict[str, Any] = {"color": color, "linestyle": ls, "marker": marker, "markersize": 5}
    if every:
        out["markevery"] = every
    return out


def _mlp(sizes: Sequence[int], activation: str = "tanh", seed: int = 0):
    from biograd import nn

    manual_seed(seed)
    return nn.MLP(list(sizes), activation=activation).double()


def _train(model, x, y, opt, epochs: int, batch_size: int | str, seed: int, loss_fn=None) -> dict[str, list]:
    """Plain training loop: per epoch the full-data loss and the cumulative compute time (seconds)."""
    from biograd import nn
    from biograd.data import DataLoader, TensorDataset

    loss_fn = loss_fn or nn.MSELoss()
    loader = DataLoader(TensorDataset(x, y, dtype=np.float64), batch_size=batch_size, shuffle=True, seed=seed)
    xt, yt = Tensor(x, dtype=np.float64), Tensor(y, dtype=np.float64)
    losses, seconds, spent = [], [], 0.0
    with no_grad():
        losses.append(float(loss_fn(model(xt), yt).data))
    seconds.append(0.0)
    for _ in range(epochs):
        start = time.perf_counter()
        for xb, yb in loader:
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()
        spent += time.perf_counter() - start
        with no_grad():
            value = float(loss_fn(model(xt), yt).data)
        losses.append(value)
        seconds.append(spent)
        if not np.isfinite(value) or value > 1e6:
            break
    return {"loss": losses, "seconds": seconds}


def _wave(n: int, seed: int, noise: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """A noisy dose-response-like curve: y = sin(1.5 x) + 0.3 x + noise, x in [-2.5, 2.5]."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2.5, 2.5, n))[:, None]
    y = np.sin(1.5 * x) + 0.3 * x + noise * rng.standard_normal((n, 1))
    return x, y


# --------------------------------------------------------------------------------------------------
# Activation functions
# --------------------------------------------------------------------------------------------------


def activation_functions(names: Sequence[str] = ("relu", "sigmoid", "tanh", "leaky_relu", "gelu")):
    """Each activation a = f(z) (solid) with its derivative f'(z) (dashed), computed by the engine's backward.

    The derivative is what backpropagation multiplies by at each neuron: where it is 0 (ReLU for z < 0,
    the flat tails of sigmoid and tanh) no error passes, so the weights before it stop learning.
    """
    from biograd.nn import get_activation

    z = np.linspace(-4, 4, 401)
    fig, axes = _figure(len(names), 1, width=3.3, height=3.3)
    for ax, name in zip(axes[0], names, strict=True):
        act = get_activation(name if name != "leaky_relu" else _leaky())
        zt = Tensor(z, requires_grad=True, dtype=np.float64)
        a = act(zt)
        a.backward(np.ones_like(z))  # d/dz of the sum = f'(z) at every point: the engine's derivative
        ax.axhline(0, color="#999999", linewidth=0.8)
        ax.axvline(0, color="#999999", linewidth=0.8)
        ax.plot(z, a.data, label="f(z)", **_style(0, 50))
        ax.plot(z, zt.grad, label="f'(z) (engine)", **_style(1, 50))
        ax.set_title(type(act).__name__ + (" (slope 0.1)" if name == "leaky_relu" else ""))
        ax.set_xlabel("pre-activation z (unitless)")
        ax.set_ylim(-1.5, 4)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("activation f(z), derivative f'(z)")
    axes[0][0].legend(loc="upper left")
    fig.suptitle("Activation functions and their derivatives (what backpropagation multiplies by)")
    return fig


def _leaky():
    from biograd.nn import LeakyReLU

    return LeakyReLU(0.1)  # a visible slope; PyTorch's default 0.01 looks like ReLU at this scale


# --------------------------------------------------------------------------------------------------
# Loss curves from a History
# --------------------------------------------------------------------------------------------------


_STOPS = {"early_stopping": "early stop", "interrupted": "interrupted", "diverged": "diverged"}


def loss_curves(history: Any, title: str = "Learning curves", metric: str | None = None):
    """Training and validation loss per epoch from ``biograd.fit``'s History: the best epoch, where training
    stopped (early stopping, Ctrl-C, divergence), and the overfitting region (validation loss rising while
    training loss falls) shaded.

    ``metric`` (e.g. ``"accuracy"`` or ``"r2"``, if the History recorded it) adds a second panel with that
    metric per epoch, training vs validation, the best epoch marked. The run report draws its learning
    curves with this function.
    """
    if not hasattr(history, "history") or "loss" not in getattr(history, "history", {}):
        raise TypeError("loss_curves needs the History returned by biograd.fit (with a 'loss' entry).")
    epochs = np.asarray(history.epochs)
    panels = ["loss"] + ([metric] if metric and metric in history.history else [])
    fig, axes = _figure(len(panels), 1, width=7 if len(panels) == 1 else 5.4, height=4.3)
    every = max(1, len(epochs) // 15)
    best = history.best_epoch
    for ax, key in zip(axes[0], panels, strict=True):
        is_loss = key == "loss"
        train = np.asarray(history.history[key], dtype=np.float64)
        val = history.history.get(f"val_{key}")
        ax.plot(epochs, train, label=f"training {key}", **_style(0, every))
        if val is not None and np.isfinite(np.asarray(val, dtype=float)).any():
            val = np.asarray(val, dtype=np.float64)
            ax.plot(epochs, val, label=f"validation {key}", **_style(1, every))
            if best is not None and best in list(epochs):
                bi = list(epochs).index(best)
                ax.axvline(best, color=BLACK, linestyle=":", linewidth=1.2)
                ax.plot(
                    [best],
                    [val[bi]],
                    marker="*",
                    markersize=14,
                    color=BLACK,
                    linestyle="none",
                    label=f"best epoch {best} (val {key} {val[bi]:.3g})",
                )
                if is_loss and best < epochs[-1] and np.nanmax(val[bi:]) > val[bi] * 1.02:
                    ax.axvspan(
                        best,
                        epochs[-1],
                        facecolor=ORANGE,
                        alpha=0.12,
                        hatch="//",
                        edgecolor=ORANGE,
                        label="overfitting: validation loss rises",
                    )
        stop = getattr(history, "stop_reason", "")
        if stop in _STOPS and len(epochs):
            ax.axvline(
                epochs[-1],
                color=GREEN,
                linestyle="-.",
                linewidth=1.5,
                label=f"{_STOPS[stop]} (epoch {epochs[-1]})",
            )
        ax.set_xlabel("epoch (passes over the training data)")
        ax.set_ylabel("loss (lower is better)" if is_loss else key)
        ax.set_title(title if len(panels) == 1 else f"{key} per epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8 if len(panels) > 1 else None)
    if len(panels) > 1:
        fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------------------------------
# Gradient descent: batch, stochastic, mini-batch; learning rates; optimizers
# --------------------------------------------------------------------------------------------------


def gradient_descent_variants(epochs: int = 15, n: int = 128, seed: int = 0):
    """Batch (all samples per step), stochastic (1 sample per step) and mini-batch (16) gradient descent on
    the same data and starting weights: loss per epoch and per second of compute.

    Stochastic descent makes many small noisy steps (fast progress per epoch, jittery); batch descent one
    smooth step per epoch (slow per epoch); mini-batch is the compromise used in practice.
    """
    from biograd.optim import SGD

    x, y = _wave(n, seed)
    variants = [
        ("batch (all samples)", "full", 0.15),
        ("stochastic (1 sample)", 1, 0.02),
        ("mini-batch (16)", 16, 0.1),
    ]
    fig, axes = _figure(2, 1, width=5.2, height=4.0)
    for i, (label, batch, lr) in enumerate(variants):
        model = _mlp([1, 16, 1], seed=seed)
        run = _train(model, x, y, SGD(model.parameters(), lr=lr), epochs, batch, seed)
        axes[0][0].plot(range(len(run["loss"])), run["loss"], label=f"{label}, lr={lr}", **_style(i, 2))
        axes[0][1].plot(run["seconds"], run["loss"], label=label, **_style(i, 2))
    axes[0][0].set_xlabel("epoch (passes over all samples)")
    axes[0][1].set_xlabel("compute time (seconds)")
    for ax in axes[0]:
        ax.set_ylabel("training loss (MSE)")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    # one legend for both panels, below them: inside a panel it hid part of a curve
    handles, labels = axes[0][0].get_legend_handles_labels()
    try:
        fig.legend(handles, labels, loc="outside lower center", ncols=3)
    except ValueError:  # matplotlib < 3.7 has no "outside" placement: below the figure's bottom edge
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=3)
    axes[0][0].set_title("Loss per epoch")
    axes[0][1].set_title("Loss per second of compute")
    fig.suptitle(
        f"Batch vs stochastic vs mini-batch gradient descent (a 1-16-1 network, {n} points, same start)"
    )
    return fig


def learning_rates(lrs: Sequence[float] = (0.005, 0.1, 1.2), epochs: int = 60, seed: int = 0):
    """The same model trained with a too small, a good and a too large learning rate (full-batch SGD).

    Too small: the loss creeps down. Good: it falls fast and settles. Too large: each step overshoots the
    valley and the loss grows (diverges).
    """
    from biograd.optim import SGD

    x, y = _wave(64, seed)
    fig, axes = _figure(1, 1, width=7, height=4.3)
    ax = axes[0][0]
    words = ["too small", "good", "too large"] if len(lrs) == 3 else [""] * len(lrs)
    for i, lr in enumerate(lrs):
        model = _mlp([1, 16, 1], seed=seed)
        with np.errstate(all="ignore"):
            run = _train(model, x, y, SGD(model.parameters(), lr=lr), epochs, "full", seed)
        loss = np.asarray(run["loss"])
        label = f"lr = {lr:g}" + (f" ({words[i]})" if words[i] else "")
        if not np.isfinite(loss[-1]) or loss[-1] > 1e6 or loss[-1] > loss[0] * 10:
            label += ": diverged"
        ax.plot(
            range(len(loss)), np.clip(loss, None, 1e6), label=label, **_style(i, 5 if len(loss) > 10 else 1)
        )
        top = loss[0] * 40  # the chart shows up to 40x the starting loss, so the other curves stay readable
        if "diverged" in label:
            above = np.flatnonzero(~(loss <= top))  # also catches inf/nan
            x_exit = float(above[0]) if above.size else float(len(loss) - 1)
            ax.annotate(
                f"lr = {lr:g}: the loss shoots up\n(off the chart: diverges)",
                xy=(x_exit, top * 0.9),
                xytext=(x_exit + epochs * 0.12, top * 0.2),
                arrowprops={"arrowstyle": "->", "color": BLACK},
                fontsize=9,
            )
    ax.set_yscale("log")
    ax.set_ylim(top=top)
    ax.set_xlabel("epoch (one full-batch gradient step each)")
    ax.set_ylabel("training loss (MSE, log scale)")
    ax.set_title("Learning rate: too small, good, too large")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def _valley(w: Any) -> Any:
    """A long, narrow valley (like many real loss surfaces):
    L = 0.1 (w1 - 1)^2 + 2 (w2 - 0.5)^2 + 0.5 w1 w2."""
    return 0.1 * (w[0] - 1.0) ** 2 + 2.0 * (w[1] - 0.5) ** 2 + 0.5 * (w[0] * w[1])


def optimizer_paths(steps: int = 60, start: Sequence[float] = (-4.0, 2.5)):
    """Paths of SGD, SGD with momentum and Adam on a 2-parameter loss surface (contours).

    Each optimizer from ``biograd.optim`` updates a tensor w = (w1, w2); the loss and its gradient come
    from the engine. Plain SGD zig-zags across the narrow valley and crawls along it; momentum builds speed
    along it (and overshoots); Adam scales each parameter's step by its gradient's history.
    """
    from biograd.optim import SGD, Adam

    runs = [
        ("SGD (lr 0.45)", SGD, {"lr": 0.45}),
        ("SGD + momentum 0.9 (lr 0.05)", SGD, {"lr": 0.05, "momentum": 0.9}),
        ("Adam (lr 0.3)", Adam, {"lr": 0.3}),
    ]
    fig, axes = _figure(1, 1, width=7, height=5)
    ax = axes[0][0]
    g1, g2 = np.meshgrid(np.linspace(-5, 5, 200), np.linspace(-2, 3.5, 200))
    surface = _valley(np.stack([g1, g2]))
    levels = np.quantile(surface, np.linspace(0.01, 0.95, 14))
    cs = ax.contour(g1, g2, surface, levels=levels, colors="#888888", linewidths=0.8)
    ax.clabel(cs, fontsize=7, fmt="%.2g")
    for i, (label, cls, kwargs) in enumerate(runs):
        w = Tensor(np.asarray(start, dtype=np.float64), requires_grad=True)
        opt = cls([w], **kwargs)
        path = [w.data.copy()]
        for _ in range(steps):
            opt.zero_grad()
            _valley(w).backward()
            opt.step()
            path.append(w.data.copy())
        path = np.asarray(path)
        ax.plot(
            path[:, 0],
            path[:, 1],
            label=f"{label}: final loss {float(_valley(path[-1])):.3g}",
            **_style(i, 3),
            linewidth=1.6,
        )
    best = np.linalg.solve(np.array([[0.2, 0.5], [0.5, 4.0]]), np.array([0.2, 2.0]))
    ax.plot(*best, marker="*", markersize=16, color=BLACK, linestyle="none", label="minimum")
    ax.plot(*start, marker="X", markersize=11, color="#555555", linestyle="none", label="start")
    ax.set_xlabel("weight w1 (unitless)")
    ax.set_ylabel("weight w2 (unitless)")
    ax.set_title(f"Optimizer paths on a loss surface ({steps} steps each; contours: equal loss)")
    ax.legend(loc="lower right", fontsize=8)
    return fig


# --------------------------------------------------------------------------------------------------
# What a model learned
# --------------------------------------------------------------------------------------------------


def decision_boundary(
    model: Any,
    x: Any,
    y: Any,
    feature_names: Sequence[str] | None = None,
    title: str = "Decision boundary",
    class_names: Sequence[str] | None = None,
):
    """For 2 input features: the model's predicted probability of class 1 over the plane (shaded, with the
    0.5 boundary as a thick line), and the samples as markers (a different shape per class).

    Works for one output (a logit: sigmoid) or k outputs (logits: softmax; the shading shows class 1 for two
    classes and the predicted class for more). Each class has one color for its markers and its region.
    ``class_names`` (e.g. ``["benign", "malignant"]``) label the classes in the legend.
    """
    from matplotlib.colors import LinearSegmentedColormap, ListedColormap

    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(y).reshape(-1)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(
            f"decision_boundary needs x with exactly 2 features (shape (n, 2)); got shape {x.shape}."
        )
    pad = 0.1 * (x.max(axis=0) - x.min(axis=0)) + 1e-9
    g1, g2 = np.meshgrid(
        np.linspace(x[:, 0].min() - pad[0], x[:, 0].max() + pad[0], 150),
        np.linspace(x[:, 1].min() - pad[1], x[:, 1].max() + pad[1], 150),
    )
    grid = np.column_stack([g1.ravel(), g2.ravel()])
    dtype = next(iter(model.parameters())).dtype
    was_training = model.training
    model.eval()
    with no_grad():
        out = np.asarray(model(Tensor(grid, dtype=dtype)).data, dtype=np.float64)
    model.train(was_training)
    out = out.reshape(len(grid), -1)
    if out.shape[1] == 1:
        surface = stable_sigmoid(out[:, 0])
    else:
        p = stable_softmax(out)
        surface = p[:, 1] if p.shape[1] == 2 else p.argmax(axis=1).astype(float)
    surface = surface.reshape(g1.shape)
    fig, axes = _figure(1, 1, width=6.2, height=5)
    ax = axes[0][0]
    classes = np.unique(labels)
    multi = out.shape[1] > 2
    names = [str(c) for c in classes] if class_names is None else [str(c) for c in class_names]
    if len(names) < len(classes):
        raise ValueError(f"class_names has {len(names)} names but y has {len(classes)} classes.")
    if multi:  # one color per predicted class, the same as its markers
        k = out.shape[1]
        cmap = ListedColormap([line_style(i)[0] for i in range(k)])
        shade = ax.contourf(g1, g2, surface, levels=np.arange(k + 1) - 0.5, cmap=cmap, alpha=0.3)
        bar = fig.colorbar(shade, ax=ax, ticks=range(k), label="predicted class")
        bar.ax.set_yticklabels([names[i] if i < len(names) else str(i) for i in range(k)])
    else:  # class 0's color (blue) where class 1 is unlikely, class 1's (orange) where it is likely
        cmap = LinearSegmentedColormap.from_list("blue_white_orange", [BLUE, "#ffffff", ORANGE])
        shade = ax.contourf(g1, g2, surface, levels=np.linspace(0, 1, 21), cmap=cmap, alpha=0.55)
        ax.contour(g1, g2, surface, levels=[0.5], colors=BLACK, linewidths=2.2)
        label_1 = names[1] if len(names) > 1 else "class 1"
        fig.colorbar(shade, ax=ax, ticks=np.linspace(0, 1, 6), label=f"predicted probability of {label_1}")
    for i, c in enumerate(classes):
        color, _, marker = line_style(i)
        mask = labels == c
        ax.scatter(
            x[mask, 0],
            x[mask, 1],
            marker=marker,
            s=36,
            c=color,
            edgecolors=BLACK,
            linewidths=0.7,
            label=names[i] if class_names is not None else f"class {c}",
        )
    # the user's names may carry their units, e.g. "radius (µm)"; without names, say what the axes are
    names = list(feature_names) if feature_names is not None else ["feature 1", "feature 2"]
    units = "" if feature_names is not None and all("(" in n for n in names) else " (input units)"
    ax.set_xlabel(f"{names[0]}{units}")
    ax.set_ylabel(f"{names[1]}{units}")
    ax.set_title(title + ("" if multi else " (black line: probability 0.5)"))
    ax.legend(loc="best")
    return fig


def regression_fit(
    x: Any = None,
    y: Any = None,
    epochs: int = 300,
    snapshots: Sequence[int] = (0, 10, 50, 300),
    lr: float = 0.01,
    seed: int = 0,
):
    """The notes' "find the function f that interpolates these data points": a small network's curve at
    several epochs of training (full-batch Adam), over the data points.

    Without x and y, a noisy curve of 40 points is used. x and y are 1-D (one feature, one target).
    """
    from biograd.optim import Adam

    if x is None or y is None:
        x, y = _wave(40, seed)
    x = np.asarray(x, dtype=np.float64).reshape(-1, 1)
    y = np.asarray(y, dtype=np.float64).reshape(-1, 1)
    model = _mlp([1, 16, 16, 1], seed=seed)
    opt = Adam(model.parameters(), lr=lr)
    from biograd import nn

    loss_fn = nn.MSELoss()
    grid = np.linspace(x.min(), x.max(), 200)[:, None]
    curves = {}
    xt, yt = Tensor(x), Tensor(y)
    for epoch in range(max(snapshots) + 1):
        if epoch in snapshots:
            with no_grad():
                curves[epoch] = (
                    np.asarray(model(Tensor(grid)).data).ravel(),
                    float(loss_fn(model(xt), yt).data),
                )
        if epoch == max(snapshots):
            break
        opt.zero_grad()
        loss_fn(model(xt), yt).backward()
        opt.step()
    fig, axes = _figure(1, 1, width=7, height=4.5)
    ax = axes[0][0]
    ax.scatter(x.ravel(), y.ravel(), s=22, c="#555555", marker="o", label="data points", zorder=5)
    for i, (epoch, (curve, loss)) in enumerate(curves.items()):
        ax.plot(grid.ravel(), curve, label=f"epoch {epoch}: loss {loss:.3g}", **_style(i, 25), linewidth=2)
    ax.set_xlabel("input x (e.g. dose, arbitrary units)")
    ax.set_ylabel("output y (e.g. response, arbitrary units)")
    ax.set_title("A network learning the curve through the data, epoch by epoch")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def fitting_regimes(seed: int = 0):
    """Under-, good and overfitting side by side: the same 14 noisy training points, three capacities.

    A single linear neuron cannot bend (underfits: high loss everywhere); a small network follows the trend
    (good fit); a big network trained long threads through every noisy point (overfits: low training loss,
    high loss on new points from the same curve).
    """
    from biograd import nn
    from biograd.optim import Adam

    x, y = _wave(14, seed, noise=0.3)
    x_new, y_new = _wave(200, seed + 1, noise=0.3)
    grid = np.linspace(-2.6, 2.6, 300)[:, None]
    setups = [
        ("underfit: 1 linear neuron", [1, 1], 400),
        ("good fit: 1 hidden layer of 4", [1, 4, 1], 700),
        ("overfit: 2 hidden layers of 64", [1, 64, 64, 1], 2500),
    ]
    fig, axes = _figure(3, 1, width=4.3, height=4.0)
    loss_fn = nn.MSELoss()
    for i, (label, sizes, epochs) in enumerate(setups):
        model = _mlp(sizes, seed=seed)
        opt = Adam(model.parameters(), lr=0.02 if len(sizes) < 4 else 0.01)
        xt, yt = Tensor(x), Tensor(y)
        for _ in range(epochs):
            opt.zero_grad()
            loss_fn(model(xt), yt).backward()
            opt.step()
        with no_grad():
            train = float(loss_fn(model(xt), yt).data)
            test = float(loss_fn(model(Tensor(x_new)), Tensor(y_new)).data)
            curve = np.asarray(model(Tensor(grid)).data).ravel()
        ax = axes[0][i]
        ax.scatter(
            x_new.ravel(),
            y_new.ravel(),
            s=8,
            c=SKY,
            marker="^",
            alpha=0.6,
            label="new points (not trained on)",
        )
        ax.scatter(x.ravel(), y.ravel(), s=30, c=BLACK, marker="o", label="training points", zorder=5)
        ax.plot(grid.ravel(), curve, label="model", **{**_style(1), "marker": None}, linewidth=2.2)
        ax.set_title(f"{label}\ntraining loss {train:.3g}, new-data loss {test:.3g}", fontsize=10)
        ax.set_xlabel("input x (arbitrary units)")
        ax.set_ylim(-3, 3)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("output y (arbitrary units)")
    axes[0][0].legend(loc="lower right", fontsize=8)
    fig.suptitle("Underfitting, good fit, overfitting: same data, three model sizes")
    return fig
