"""The guided tour in one page: a compact run of the ten tutorials in ``docs/tutorials``, every figure
and a short explanation per step, written as one self-contained HTML file (``biograd tour --out DIR``).

Each step trains or computes something small with biograd's own engine, networks, optimizers and
pictures, so the numbers on the page are real. Pictures are embedded in the page (PNG and SVG as data:
URIs): the page opens offline, in any browser, and can be mailed as a single file.

>>> from biograd import tour                                               # doctest: +SKIP
>>> page = tour.write("tour")          # tour/index.html
"""

from __future__ import annotations

import base64
import contextlib
import io
import re
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biograd import datasets, explain, nn, viz
from biograd._version import __version__
from biograd.nn.summary import summary
from biograd.optim import SGD, Adam
from biograd.random import manual_seed
from biograd.tensor import tensor
from biograd.tracing import Trace
from biograd.training import ConvergenceWarning, EarlyStopping, fit, predict
from biograd.viz._draw import BLUE, GREEN, ORANGE, Picture, html_page
from biograd.viz.markup import Markup, html, join

TUTORIALS = "docs/tutorials"


@dataclass
class Step:
    """One stop of the tour: its title, what to notice (HTML paragraphs), its figures as ``<img>`` tags,
    the tutorial that goes deeper, and the numbers behind the text (``facts``)."""

    number: int
    title: str
    text: str
    figures: list[str] = field(default_factory=list)
    tutorial: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


# --------------------------------------------------------------------------------------------------
# Pictures as <img> tags with data: URIs
# --------------------------------------------------------------------------------------------------


def _img(picture: Any, alt: str) -> str:
    """A matplotlib Figure (PNG) or a biograd Picture (SVG) as a self-contained ``<img>`` tag."""
    if isinstance(picture, Picture):
        data = base64.b64encode(picture.svg.encode("utf-8")).decode("ascii")
        uri = f"data:image/svg+xml;base64,{data}"
    else:
        buf = io.BytesIO()
        picture.savefig(buf, format="png", dpi=96, facecolor="white")
        uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return html('<img src="{}" alt="{}">', uri, alt)


def _figure(width: float = 6.5, height: float = 4.0, ncols: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """The tour's matrices are small: one BLAS thread is faster than several, most of all on a busy
    machine (threads wait for each other). threadpoolctl comes with scikit-learn; it limits only the BLAS
    libraries already loaded, so NumPy's and SciPy's are loaded first."""
    try:
        import scipy.linalg  # noqa: F401  (SciPy's own BLAS, used by the optimizers, must be loaded first)
        import sklearn.linear_model  # noqa: F401
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings all three
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):  # every BLAS loaded so far
        yield


def _quiet_fit(*args: Any, **kwargs: Any) -> Any:
    """biograd.fit without progress output, and without the convergence warning of short demo runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(*args, verbose=False, **kwargs)


def _standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return [(a - mean) / std for a in (train, *others)]


def _split(n: int, test_fraction: float, labels: np.ndarray | None, seed: int) -> tuple[np.ndarray, ...]:
    from sklearn.model_selection import train_test_split

    return tuple(train_test_split(np.arange(n), test_size=test_fraction, stratify=labels, random_state=seed))


def _motif_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv1d(4, 8, kernel_size=12), nn.ReLU(), nn.GlobalMaxPool1d(), nn.Linear(8, 1))


# --------------------------------------------------------------------------------------------------
# The ten steps
# --------------------------------------------------------------------------------------------------


def _step_ai_ml_dl(seed: int, shared: dict[str, Any]) -> Step:
    from sklearn.linear_model import LogisticRegression

    cancer = datasets.breast_cancer()
    tr, te = _split(len(cancer.y), 0.3, cancer.y, seed)
    x_tr, x_te = _standardize(cancer.x[tr].astype(np.float64), cancer.x[te].astype(np.float64))
    logistic = LogisticRegression(max_iter=1000).fit(x_tr, cancer.y[tr]).score(x_te, cancer.y[te])
    manual_seed(seed)
    mlp = nn.MLP([30, 16, 1])
    _quiet_fit(mlp, x_tr, cancer.y[tr], epochs=60, seed=seed)
    network = float(np.mean(predict(mlp, x_te) == cancer.y[te]))

    dna = datasets.motifs(n=600, seed=seed + 1)
    motif = dna.extra["motif"]
    rule = float(np.mean(np.array([motif in s for s in dna.sequences]) == (dna.y == 1)))
    tr, te = _split(len(dna.y), 0.3, dna.y, seed)
    flat = dna.x.reshape(len(dna.y), -1)
    logistic_dna = LogisticRegression(max_iter=2000).fit(flat[tr], dna.y[tr]).score(flat[te], dna.y[te])
    manual_seed(seed)
    cnn = _motif_cnn()
    _quiet_fit(cnn, dna.x[tr], dna.y[tr], epochs=20, lr=0.01, seed=seed)
    cnn_acc = float(np.mean(predict(cnn, dna.x[te]) == dna.y[te]))
    shared.update(dna=dna, cnn=cnn, dna_test=te)  # step 10 opens this network up

    fig, (ax,) = _figure(7.5, 3.8)
    names = ["DNA: hand-written\nrule (AI)", "tumours:\nlogistic (ML)", "tumours:\nnetwork (DL)"]
    names += ["DNA:\nlogistic (ML)", "DNA:\nnetwork (DL)"]
    values = [rule, logistic, network, logistic_dna, cnn_acc]
    bars = ax.bar(names, values, color=[GREEN, BLUE, ORANGE, BLUE, ORANGE], edgecolor="black")
    for bar, hatch in zip(bars, ["", "", "//", "", "//"], strict=True):
        bar.set_hatch(hatch)
    ax.bar_label(bars, fmt="%.2f")
    ax.axhline(0.5, color="black", linestyle=":", label="coin toss (0.5)")
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("accuracy on held-out samples (fraction)")
    ax.set_title("A rule, classical ML and a network on tumours and on raw DNA")
    ax.legend(loc="lower right")
    text = (
        "<p><b>AI</b> is any program that does something clever, even a rule written by hand. "
        "<b>Machine learning</b> learns the rule from examples, using features a person chose. "
        "<b>Deep learning</b> uses networks of several layers that also learn which features matter.</p>"
        f"<p>On 30 measurements of breast tumours, logistic regression ({logistic:.2f}) and a small network "
        f"({network:.2f}) are equally good: for a table of good measurements, start with the classical "
        f"model. On raw DNA, where a binding motif can sit anywhere in 50 bases, logistic regression on "
        f"the one-hot bases gets {logistic_dna:.2f}, while a small convolutional network learns the motif "
        f"by itself ({cnn_acc:.2f}). The hand-written rule is perfect ({rule:.2f}), but only because we "
        "knew the motif.</p>"
    )
    facts = dict(
        logistic_table=logistic, network_table=network, rule=rule, logistic_dna=logistic_dna, cnn=cnn_acc
    )
    return Step(1, "AI, machine learning, deep learning", text, [_img(fig, "accuracy bars")], "01", facts)


def _step_neuron(seed: int, shared: dict[str, Any]) -> Step:
    conc = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1.5])  # mg/mL
    absorb = np.array([0.05, 0.21, 0.33, 0.52, 0.63, 0.97])  # A595
    w = tensor(1.0, requires_grad=True, dtype=np.float64)
    b = tensor(0.0, requires_grad=True, dtype=np.float64)
    xs, ys = tensor(conc), tensor(absorb)
    snapshots = {}
    for step in range(301):
        if step in (0, 3, 20, 300):
            snapshots[step] = (w.item(), b.item())
        loss = ((xs * w + b - ys) ** 2).mean()
        w.grad = b.grad = None
        loss.backward()
        w.data -= 0.3 * w.grad
        b.data -= 0.3 * b.grad
    fig, (ax,) = _figure(6.5, 4.0)
    grid = np.linspace(0, 1.6, 50)
    ax.scatter(conc, absorb, color="black", zorder=3, label="measurements")
    for i, (step, (wi, bi)) in enumerate(snapshots.items()):
        color, style = [(ORANGE, ":"), (GREEN, "-."), (BLUE, "--"), ("#000000", "-")][i]
        ax.plot(
            grid, wi * grid + bi, color=color, linestyle=style, label=f"step {step}: y = {wi:.3f}x + {bi:.3f}"
        )
    ax.set_xlabel("protein concentration (mg/mL)")
    ax.set_ylabel("absorbance at 595 nm (A595)")
    ax.set_title("One neuron y = w·x + b fitted to a standard curve by gradient descent")
    ax.legend(fontsize=8)
    slope, intercept = np.polyfit(conc, absorb, 1)
    text = (
        "<p>A neuron computes <code>y = activation(x·w + b)</code>. With no activation it is the straight "
        "line of school algebra: w is the slope, b the intercept. Training means finding w and b.</p>"
        "<p>Gradient descent starts from a guess and repeats <code>w ← w − lr·dL/dw</code>, where L is the "
        f"mean squared error. After 300 steps it reaches w = {w.item():.4f}, b = {b.item():.4f}: the "
        f"least-squares line (w = {slope:.4f}, b = {intercept:.4f}).</p>"
    )
    return Step(2, "The neuron", text, [_img(fig, "neuron fit")], "02", {"w": w.item(), "slope": slope})


def _step_activations(seed: int, shared: dict[str, Any]) -> Step:
    manual_seed(seed)
    stack = nn.Sequential(nn.Linear(1, 8), nn.Linear(8, 8), nn.Linear(8, 1))
    (w1, b1), (w2, b2), (w3, b3) = [(layer.weight.data, layer.bias.data) for layer in stack]
    x = np.linspace(-2, 2, 9).reshape(-1, 1)
    one_line = x @ (w3 @ w2 @ w1).T + (w3 @ (w2 @ b1 + b2) + b3)
    gap = float(np.abs(stack(x).data - one_line).max())
    text = (
        "<p>After the weighted sum z, each neuron applies an activation a = f(z). Solid lines: the "
        "functions; dashed: their derivatives, computed by biograd's backward pass. Training multiplies "
        "by the derivative, so where it is 0 (ReLU left of 0) nothing is learned.</p>"
        "<p>Why bother? Without activations, layers collapse: three Linear layers (97 parameters) give "
        "exactly one straight line x·W + b with W = W3·W2·W1 (largest difference over 9 inputs: "
        f"{gap:.1e}). Only a nonlinear activation lets a network bend.</p>"
    )
    fit = viz.regression_fit(seed=seed)
    text += (
        "<p>Below the functions: a network of two tanh layers, MLP([1, 16, 16, 1]), bending its curve "
        "through 40 noisy points as training goes on (the loss of each curve is in the legend).</p>"
    )
    fig = viz.activation_functions(["relu", "sigmoid", "tanh"])
    figures = [_img(fig, "activation functions"), _img(fit, "a network fitting a curve")]
    return Step(3, "Activation functions", text, figures, "03", {"gap": gap})


def _step_layers(seed: int, shared: dict[str, Any]) -> Step:
    manual_seed(seed)
    small = nn.MLP([4, 5, 3, 1])
    model = nn.MLP([30, 16, 8, 1])
    report = summary(model, (30,))
    text = (
        "<p>A layer is many neurons side by side; a network stacks layers. Each line in the picture is "
        "one weight, and each neuron also has a bias: MLP([4, 5, 3, 1]) has 9 neurons but "
        "4·5+5 + 5·3+3 + 3·1+1 = 47 parameters.</p>"
        f"<p>A network for the breast-cancer table, MLP([30, 16, 8, 1]), has {report.total_neurons:d} "
        f"neurons and {report.total_parameters:,} parameters ({report.total_weights:,} weights + "
        f"{report.total_biases:d} biases). Parameters, not neurons, are what must be learned from your "
        "samples.</p>"
    )
    picture = viz.network(small, title="MLP([4, 5, 3, 1]): circles are neurons, lines are weights")
    cancer = datasets.breast_cancer()
    names = ["mean radius", "mean texture"]
    (two,) = _standardize(cancer.x[:, [cancer.feature_names.index(n) for n in names]].astype(np.float64))
    manual_seed(seed)
    hidden = nn.MLP([2, 8, 1])
    _quiet_fit(hidden, two, cancer.y, epochs=60, seed=seed)
    accuracy = float(np.mean(predict(hidden, two) == cancer.y))
    boundary = viz.decision_boundary(
        hidden,
        two,
        cancer.y,
        feature_names=[f"{n} (standardized)" for n in names],
        class_names=list(cancer.target_names),
        title="MLP([2, 8, 1]) on two tumour measurements",
    )
    text += (
        "<p>What a hidden layer buys: MLP([2, 8, 1]) trained on two measurements of the 569 tumours "
        "draws a curved line between the classes (its training accuracy: "
        f"{accuracy:.2f}). The shading is the predicted probability of the second class.</p>"
    )
    figures = [_img(picture, "network diagram"), _img(boundary, "decision boundary")]
    facts = {"parameters": report.total_parameters, "neurons": report.total_neurons, "accuracy": accuracy}
    return Step(4, "Layers and networks", text, figures, "04", facts)


def _step_losses(seed: int, shared: dict[str, Any]) -> Step:
    fig, (ax1, ax2) = _figure(10, 3.8, ncols=2)
    error = np.linspace(-3, 3, 121)
    ax1.plot(error, error**2, color=BLUE, label="squared error (MSE)")
    ax1.plot(error, np.abs(error), color=ORANGE, linestyle="--", label="absolute error (L1)")
    ax1.set_xlabel("prediction − truth (units of y)")
    ax1.set_ylabel("loss for one sample")
    ax1.set_title("MSE: big errors cost much more")
    ax1.legend()
    p = np.linspace(0.01, 0.99, 99)
    ax2.plot(p, -np.log(p), color=BLUE, label="truth: class 1, −log(p)")
    ax2.plot(p, -np.log(1 - p), color=ORANGE, linestyle="--", label="truth: class 0, −log(1 − p)")
    ax2.set_xlabel("predicted probability of class 1, p")
    ax2.set_ylabel("cross-entropy for one sample")
    ax2.set_title("Cross-entropy: confident mistakes cost most")
    ax2.legend()
    diabetes = datasets.diabetes()
    guess = tensor(0.0, requires_grad=True, dtype=np.float64)
    y = tensor(diabetes.y.astype(np.float64))
    for _ in range(200):
        loss = ((guess - y) ** 2).mean()
        guess.grad = None
        loss.backward()
        guess.data -= 0.1 * guess.grad
    text = (
        "<p>The loss is one number saying how wrong the predictions are. <b>MSE</b> (mean squared error) "
        "for numbers squares each error, so one error of 300 costs three times more than three errors "
        "of 100. <b>Cross-entropy</b> for classes is −log(probability given to the true class): 0.11 for "
        "a right answer given with p = 0.9, 4.6 for a confident wrong one (p = 0.01).</p>"
        "<p>What does MSE reward? If a model may predict only one number for all 442 diabetes patients, "
        f"gradient descent on MSE finds {guess.item():.2f}: the mean ({diabetes.y.mean():.2f}).</p>"
    )
    return Step(5, "Loss functions", text, [_img(fig, "loss functions")], "05", {"guess": guess.item()})


def _step_backprop(seed: int, shared: dict[str, Any]) -> Step:
    x = tensor(1.5, requires_grad=True, name="x")
    u = x**2
    u.name = "u"
    y = u.sin()
    y.name = "y"
    with Trace() as record:
        y.backward()
    graph = viz.graph(y, trace=record, title="y = sin(x²): values (forward) and gradients (backward)")
    cancer = datasets.breast_cancer()
    columns = [cancer.feature_names.index("mean radius"), cancer.feature_names.index("mean texture")]
    (features,) = _standardize(cancer.x[:, columns].astype(np.float64))
    manual_seed(seed + 1)
    model = nn.MLP([2, 3, 1]).double()
    steps = viz.backprop(
        model,
        features[0],
        [float(cancer.y[0])],
        nn.BCEWithLogitsLoss(),
        lr=0.5,
        feature_names=["mean radius", "mean texture"],
        class_names=list(cancer.target_names),
    )
    wanted = []
    for stage in ("loss", "backward", "update"):
        wanted.append(next(i for i, f in enumerate(steps.frames) if f["stage"] == stage))
    wanted[-1] = len(steps.frames) - 1  # the state after the whole step
    figures = [_img(graph, "computational graph of sin(x squared)")]
    figures += [_img(Picture(steps.frame_scene(i)), steps.frames[i]["title"]) for i in wanted]
    text = (
        "<p>Backpropagation is the chain rule, applied from the loss back to every weight. For "
        "y = sin(x²): dy/dx = cos(x²)·2x, which at x = 1.5 is "
        f"{2 * 1.5 * np.cos(2.25):.4f}; biograd's backward pass gives {float(x.grad):.4f}. In the graph, "
        "values flow left to right and gradients flow back.</p>"
        "<p>Below, one real training step of a 2-3-1 network on one malignant tumour (its mean radius "
        "and mean texture, standardized): the loss (p = sigmoid(ŷ), L = −log p, dL/dŷ = p − y), the error "
        "δ = dL/dz sent back through the output "
        f"neuron, and the weights after w ← w − lr·dL/dw. The loss falls from {steps.numbers['loss']:.3f} to "
        f"{steps.numbers['loss_after']:.3f}. Step through all {len(steps.frames):d} frames of the same "
        "step in the interactive page after the pictures (buttons, slider or ← → keys); "
        '<code>viz.backprop(...).save("step.html")</code> writes it for your own sample.</p>'
        "<p>To watch many such steps live, run <code>biograd playground</code> in a terminal: a network "
        "learns in your browser, and clicking any neuron or weight shows the same numbers (its value, its "
        "δ, dL/dw and the update) for the current step.</p>"
    )
    figures.append(
        html(
            '<iframe class="stepper" title="backpropagation, step by step" sandbox="allow-scripts" '
            'srcdoc="{}"></iframe>',
            steps.to_html(),  # the whole page, escaped into the attribute
        )
    )
    facts = {"grad": float(x.grad), "loss": steps.numbers["loss"], "loss_after": steps.numbers["loss_after"]}
    return Step(6, "The chain rule and backpropagation", text, figures, "06", facts)


def _step_gradient_descent(seed: int, shared: dict[str, Any]) -> Step:
    text = (
        "<p>Gradient descent repeats w ← w − lr·dL/dw. The learning rate lr is the step size: too small "
        "and the loss creeps down; too large and each step overshoots the valley by more than the last, "
        "so the loss explodes (training diverges).</p>"
        "<p>The gradient can come from all samples (batch gradient descent: one accurate step per "
        "epoch), one sample (stochastic: many noisy steps) or a mini-batch such as 16 or 32 (the usual "
        'compromise). In <code>biograd.fit</code>: <code>batch_size="full"</code>, <code>1</code> or a '
        "number.</p>"
    )
    figures = [
        _img(viz.learning_rates(seed=seed), "learning rates"),
        _img(viz.gradient_descent_variants(seed=seed), "batch, stochastic and mini-batch"),
    ]
    return Step(7, "Gradient descent", text, figures, "07")


def _step_optimizers(seed: int, shared: dict[str, Any]) -> Step:
    from sklearn.preprocessing import StandardScaler

    cancer = datasets.breast_cancer()
    x = StandardScaler().fit_transform(cancer.x)
    fig, (ax,) = _figure(6.5, 4.0)
    last = {}
    for i, name in enumerate(["SGD", "SGD + momentum 0.9", "Adam"]):
        manual_seed(seed)
        model = nn.MLP([30, 16, 1])
        if name == "Adam":
            opt = Adam(model.parameters(), lr=0.01)
        else:
            opt = SGD(model.parameters(), lr=0.01, momentum=0.9 if "momentum" in name else 0.0)
        history = _quiet_fit(model, x, cancer.y, optimizer=opt, epochs=15, validation_split=0, seed=seed)
        color, style, marker = [(BLUE, "-", "o"), (ORANGE, "--", "s"), (GREEN, ":", "^")][i]
        loss = history.history["loss"]
        ax.plot(history.epochs, loss, color=color, linestyle=style, marker=marker, label=name)
        last[name] = loss[-1]
    ax.set_yscale("log")
    ax.set_xlabel("epoch (passes over the 569 tumours)")
    ax.set_ylabel("training loss (cross-entropy, log scale)")
    ax.set_title("Three optimizers, same network, same start, lr 0.01")
    ax.legend()
    paths = viz.optimizer_paths()
    finals = {}  # name: (lr, final loss), read from the figure's own legend
    for line in paths.axes[0].lines:
        found = re.fullmatch(r"(.+) \(lr ([\d.]+)\): final loss ([\d.]+)", line.get_label())
        if found:
            finals[found[1]] = (float(found[2]), float(found[3]))
    ranked = sorted(finals, key=lambda name: finals[name][1])
    order = join((f"{name} {finals[name][1]:.3g}" for name in ranked), " &lt; ")
    rates = ", ".join(f"{name} {finals[name][0]:g}" for name in finals)
    text = html(
        "<p>An optimizer turns gradients into weight changes. Plain <b>SGD</b> steps along −gradient "
        "(in PyTorch and biograd, SGD names this rule whatever the batch size). <b>Momentum</b> keeps a "
        "velocity v ← μ·v + g, a running sum that grows to g/(1 − μ) while the gradient keeps its "
        "direction, and overshoots where the valley turns. <b>Adam</b> divides a running average of the "
        "gradient by the square root of a running average of its square, so each weight moves about lr "
        "per step whatever the gradient's size.</p>"
        "<p>Top: a narrow valley, {} steps each, with each optimizer's own learning rate ({}). Final "
        "losses: {}; here {} ends lowest and {} highest (momentum loops around the minimum). One surface "
        "is not a ranking.</p><p>Bottom: the breast-cancer data, same lr 0.01 for all, after 15 epochs: "
        "SGD {:.3f}, momentum {:.3f}, Adam {:.3f}: with a gradient that keeps its direction, momentum and "
        "Adam get much further.</p>",
        len(paths.axes[0].lines[0].get_xdata()) - 1,
        rates,
        order,
        ranked[0],
        ranked[-1],
        last["SGD"],
        last["SGD + momentum 0.9"],
        last["Adam"],
    )
    figures = [_img(paths, "optimizer paths"), _img(fig, "optimizers on breast cancer")]
    last = {**last, "paths_ranked": ranked}
    return Step(8, "Optimizers: SGD, momentum, Adam", text, figures, "08", last)


def _step_overfitting(seed: int, shared: dict[str, Any]) -> Step:
    diabetes = datasets.diabetes()
    y = ((diabetes.y - diabetes.y.mean()) / diabetes.y.std()).astype(np.float32)
    rest, test = _split(len(y), 0.25, None, seed)
    tr, va = _split(len(rest), 0.3, None, seed)
    tr, va = rest[tr], rest[va]
    x_tr, x_va, x_te = _standardize(diabetes.x[tr], diabetes.x[va], diabetes.x[test])

    def run(dropout: float = 0.0, weight_decay: float = 0.0, callbacks: list | None = None):
        manual_seed(seed)
        model = nn.MLP([10, 128, 128, 1], dropout=dropout)
        opt = Adam(model.parameters(), lr=0.001, weight_decay=weight_decay)
        history = _quiet_fit(
            model,
            x_tr,
            y[tr],
            optimizer=opt,
            epochs=120,
            validation_data=(x_va, y[va]),
            seed=seed,
            callbacks=callbacks,
        )
        mse = float(np.mean((predict(model, x_te) - y[test]) ** 2))
        return history, mse

    history, plain = run()
    _, early = run(callbacks=[EarlyStopping(patience=20)])
    _, dropout = run(dropout=0.5)
    _, decay = run(weight_decay=0.1)
    verdict = history.diagnose()
    text = html(
        "<p><b>Underfitting</b>: too simple a model, bad everywhere. <b>Overfitting</b>: the model "
        "memorizes its training samples, noise included, and fails on new ones. The training loss alone "
        "cannot tell them apart; held-out samples can (top: same 14 points, three model sizes).</p>"
        "<p>On diabetes progression, a network with about 18,000 parameters trained on {} patients "
        "overfits: the validation loss turns back up while the training loss keeps falling (bottom). "
        "<code>history.diagnose()</code> says: <i>{}</i></p>"
        "<p>Error on {} test patients (MSE of standardized progression): no remedy {:.3f}; early stopping "
        "{:.3f}; dropout 0.5 {:.3f}; weight decay 0.1 {:.3f}.</p>",
        len(tr),
        str(verdict),
        len(test),
        plain,
        early,
        dropout,
        decay,
    )
    figures = [
        _img(viz.fitting_regimes(seed=seed), "underfitting, good fit, overfitting"),
        _img(viz.loss_curves(history, title="A big network on diabetes: overfitting"), "learning curves"),
    ]
    facts = dict(verdict=verdict.verdict, plain=plain, early=early, dropout=dropout, decay=decay)
    return Step(9, "Overfitting and underfitting", text, figures, "09", facts)


def _step_motifs(seed: int, shared: dict[str, Any]) -> Step:
    from matplotlib.patches import Rectangle

    dna, cnn, test = shared["dna"], shared["cnn"], shared["dna_test"]
    with_motif = test[dna.y[test] == 1][:8]
    importance = explain.position_importance(explain.integrated_gradients(cnn, dna.x[with_motif], steps=25))
    planted = dna.extra["motif_positions"][with_motif]
    top = importance.argmax(axis=1)
    hits = float(np.mean((top >= planted) & (top < planted + len(dna.extra["motif"]))))
    fig, (ax,) = _figure(9, 3.6)
    image = ax.imshow(importance, aspect="auto", cmap="Blues", vmin=0)
    for row, start in enumerate(planted):
        ax.add_patch(Rectangle((start - 0.5, row - 0.5), 12, 1, fill=False, edgecolor="black", linewidth=2))
    ax.set_yticks(range(len(with_motif)), [dna.ids[i] for i in with_motif])
    ax.set_xlabel("position in the sequence (base, from 0)")
    ax.set_title("Which bases the network looked at (box: where the motif was planted)")
    fig.colorbar(image, ax=ax, label="integrated gradients (share of the logit)")
    filters = cnn[0].weight.data
    strongest = int(np.argmax(cnn[3].weight.data.ravel()))
    consensus = "".join("ACGT"[i] for i in filters[strongest].argmax(axis=0))
    text = html(
        "<p>The convolutional network of step 1 had 8 filters of 12 bases sliding along each sequence, "
        "and kept each filter's best match anywhere (global max pooling). Which bases did it use? "
        "Integrated gradients share the network's score among the input bases (the shares add up to "
        "score(sequence) − score(all zeros)): for {:.0%} of these test sequences the most important base "
        "lies inside the planted motif, which the network was never told about.</p><p>Its most "
        "influential filter reads <code>{}</code> (strongest base at each position); the planted motif is "
        "<code>{}</code>. With your own FASTA file: "
        "<code>biograd train my.fa --labels labels.csv --out runs/mine</code>.</p>",
        hits,
        consensus,
        dna.extra["motif"],
    )
    facts = {"hits": hits, "consensus": consensus}
    return Step(10, "Your own data: a motif in DNA", text, [_img(fig, "attributions per base")], "10", facts)


STEPS: list[Callable[[int, dict[str, Any]], Step]] = [
    _step_ai_ml_dl,
    _step_neuron,
    _step_activations,
    _step_layers,
    _step_losses,
    _step_backprop,
    _step_gradient_descent,
    _step_optimizers,
    _step_overfitting,
    _step_motifs,
]

TUTORIAL_FILES = {
    "01": "01_ai_ml_dl.py",
    "02": "02_neuron.py",
    "03": "03_activations.py",
    "04": "04_layers_networks.py",
    "05": "05_losses.py",
    "06": "06_backpropagation.py",
    "07": "07_gradient_descent.py",
    "08": "08_optimizers.py",
    "09": "09_overfitting.py",
    "10": "10_your_own_data.py",
}


def run(seed: int = 0, on_step: Callable[[int, str], None] | None = None) -> list[Step]:
    """Run the ten steps in order and return them (figures already embedded).

    Args:
        seed: seeds every split, starting weights and shuffle (the same seed gives the same page).
        on_step: called as ``on_step(number, title)`` before each step starts (the CLI prints progress).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"The 'seed' parameter of the tour must be an int >= 0. Got {seed!r} instead.")
    shared: dict[str, Any] = {}
    titles = [
        "AI, machine learning, deep learning",
        "The neuron",
        "Activation functions",
        "Layers and networks",
        "Loss functions",
        "The chain rule and backpropagation",
        "Gradient descent",
        "Optimizers: SGD, momentum, Adam",
        "Overfitting and underfitting",
        "Your own data: a motif in DNA",
    ]
    steps = []
    with _one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
        for number, (make, title) in enumerate(zip(STEPS, titles, strict=True), start=1):
            if on_step is not None:
                on_step(number, title)
            start = time.perf_counter()
            step = make(int(seed), shared)
            step.seconds = time.perf_counter() - start
            steps.append(step)
    return steps


_CSS = """
body{max-width:1040px;margin:0 auto;padding:16px 24px;line-height:1.5}
h1{margin-bottom:4px} .lead{color:#444;margin-top:0}
nav ol{columns:2;padding-left:22px}
section{border-top:1px solid #ddd;margin-top:28px;padding-top:8px}
section h2 .n{color:#0072B2;margin-right:8px}
figure{margin:12px 0} figure img{max-width:100%;height:auto;border:1px solid #eee}
iframe.stepper{width:100%;height:1150px;border:1px solid #ddd}
code{background:#f4f4f4;padding:1px 4px;border-radius:3px}
.more{font-size:90%;color:#555}
footer{margin-top:32px;font-size:85%;color:#666;border-top:1px solid #ddd;padding-top:8px}
"""


def render(steps: list[Step], seed: int = 0) -> str:
    """The tour as one self-contained HTML page (no scripts, no external files)."""
    nav = join(html('<li><a href="#step-{}">{}</a></li>', s.number, s.title) for s in steps)
    sections = []
    for s in steps:
        figures = join(html("<figure>{}</figure>", Markup(img)) for img in s.figures)  # built by _img
        more = (
            html(
                '<p class="more">Go deeper, and run it yourself: tutorial {}, <code>{}/{}</code>.</p>',
                s.number,
                TUTORIALS,
                TUTORIAL_FILES[s.tutorial],
            )
            if s.tutorial in TUTORIAL_FILES
            else Markup("")
        )
        sections.append(
            html(
                '<section id="step-{0}"><h2><span class="n">{0}.</span>{1}</h2>{2}{3}{4}</section>',
                s.number,
                s.title,
                Markup(s.text),  # the step's own text, written in this module
                figures,
                more,
            )
        )
    total = sum(s.seconds for s in steps)
    body = html(
        "<h1>The guided tour of biograd</h1>"
        '<p class="lead">The basics of deep learning in ten steps, from a single neuron to a network that '
        "finds a motif in DNA. Every number and picture below was computed just now by biograd's own "
        "engine on small biological data sets. The notebooks in <code>docs/tutorials</code> walk the same "
        "path with code you can change.</p><nav><ol>{}</ol></nav>{}"
        "<footer>biograd {}, seed {}; the ten steps took {:.0f} s. Made with <code>biograd tour</code>."
        "</footer>",
        nav,
        join(sections),
        __version__,
        seed,
        total,
    )
    return html_page("The guided tour of biograd", body, css=_CSS)


def write(out: str | Path, seed: int = 0, on_step: Callable[[int, str], None] | None = None) -> Path:
    """Run the tour and write ``out/index.html`` (the directory is created); returns the page's path.

    Raises ValueError when ``out`` exists and is not a directory.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(
            f"--out {out} is a file; the tour writes index.html into a directory. Give a directory name, "
            "e.g. --out tour."
        )
    steps = run(seed=seed, on_step=on_step)
    out.mkdir(parents=True, exist_ok=True)
    page = out / "index.html"
    tmp = out / ".index.html.partial"
    tmp.write_text(render(steps, seed=seed), encoding="utf-8")
    tmp.replace(page)
    return page


__all__ = ["Step", "render", "run", "write"]
