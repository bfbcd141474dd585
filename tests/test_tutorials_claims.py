"""What the tutorials' text says agrees with what their figures show.

The figures come from ``biograd.viz``; the text is the tutorials' markdown. Each test reads a claim out of
the text (which optimizer ends lowest, with which learning rates; how many steps an epoch has; ...) and
recomputes it from the figure the reader sees next to it, so that a change of either one fails here
instead of teaching something the picture contradicts. These tests run in seconds, without a notebook
kernel (tests/test_tutorials.py runs the notebooks themselves).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from biograd import viz

TUTORIALS = Path(__file__).resolve().parents[1] / "docs" / "tutorials"


def markdown(name: str) -> str:
    """The text cells of one tutorial (jupytext percent format), comment marks removed, as one string."""
    lines, in_text = [], False
    for line in (TUTORIALS / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            in_text = "[markdown]" in line
            continue
        if in_text:
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
    return re.sub(r"\s+", " ", "\n".join(lines))


def legend_numbers(fig, pattern: str) -> dict[str, tuple[float, ...]]:
    """{name: numbers} from the labels of the lines of a figure's first axes that match ``pattern``."""
    out = {}
    for line in fig.axes[0].lines:
        found = re.fullmatch(pattern, line.get_label())
        if found:
            out[found[1]] = tuple(float(v) for v in found.groups()[1:])
    return out


def test_tutorial_8_names_the_optimizers_in_the_order_the_figure_ranks_them():
    text = markdown("08_optimizers.py")
    finals = legend_numbers(viz.optimizer_paths(), r"(.+) \(lr ([\d.]+)\): final loss ([\d.]+)")
    assert set(finals) == {"SGD", "SGD + momentum 0.9", "Adam"}
    short = {"SGD": "SGD", "SGD + momentum 0.9": "momentum", "Adam": "Adam"}
    ranked = sorted(finals, key=lambda name: finals[name][1])
    stated = re.search(r"the final losses are ([^(]+)\(the minimum is ([\d.]+)\)", text)
    assert stated, "tutorial 8 must state the final losses of the optimizer paths"
    expected = " < ".join(f"{short[name]} {finals[name][1]:.3g}" for name in ranked)
    assert stated[1].strip().rstrip(".") == expected
    # the minimum of 0.1 (w1 - 1)^2 + 2 (w2 - 0.5)^2 + 0.5 w1 w2, in closed form
    hessian = np.array([[0.2, 0.5], [0.5, 4.0]])
    w = np.linalg.solve(hessian, [0.2, 2.0])
    minimum = 0.1 * (w[0] - 1) ** 2 + 2 * (w[1] - 0.5) ** 2 + 0.5 * w[0] * w[1]
    assert stated[2] == f"{minimum:.3g}"
    assert "plain SGD ends lowest and momentum highest" in text
    assert ranked[0] == "SGD" and ranked[-1] == "SGD + momentum 0.9"
    # the learning rates of the figure are the ones the text names, and SGD's limit is computed right
    rates = re.search(r"SGD ([\d.]+), momentum ([\d.]+) and Adam ([\d.]+)", text)
    assert rates and tuple(float(r) for r in rates.groups()) == tuple(
        finals[name][0] for name in ("SGD", "SGD + momentum 0.9", "Adam")
    )
    limit = re.search(r"2 / \(largest curvature\) = 2 / ([\d.]+) = ([\d.]+)", text)
    curvature = np.linalg.eigvalsh(hessian).max()
    assert limit and limit[1] == f"{curvature:.4g}" and limit[2] == f"{2 / curvature:.2g}"
    assert finals["SGD"][0] < 2 / curvature
    # the figure says how many steps; so does the text
    steps = int(re.search(r"\((\d+) steps each", viz.optimizer_paths().axes[0].get_title())[1])
    assert f"each optimizer runs {steps} steps" in text and f"After {steps} steps" in text


def test_tutorial_7_counts_the_steps_of_the_figure_it_shows():
    text = markdown("07_gradient_descent.py")
    fig = viz.gradient_descent_variants()
    n = int(re.search(r"(\d+) points", fig.get_suptitle())[1])
    rates = legend_numbers(fig, r"(batch|stochastic|mini-batch) .*lr=([\d.]+)")
    batch = int(re.search(r"mini-batch \((\d+)\)", fig.axes[0].lines[2].get_label())[1])
    assert f"{n} points of a noisy curve" in text
    assert f"learning rate chosen for each variant (batch {rates['batch'][0]:g}, stochastic " in text
    assert f"stochastic {rates['stochastic'][0]:g}, mini-batch {rates['mini-batch'][0]:g};" in text
    per_epoch = f"{n} steps (stochastic) or {math.ceil(n / batch)} steps (mini-batches of {batch})"
    assert f"1 step (batch), {per_epoch}" in text
    # 442 patients in mini-batches of 32
    assert f"{math.ceil(442 / 32)} steps (mini-batches of 32; the last one holds the {442 % 32} " in text
    # "per epoch, stochastic descent gets furthest", with a learning rate k times smaller than batch
    last = {line.get_label().split(" ")[0]: line.get_ydata()[-1] for line in fig.axes[0].lines}
    assert min(last, key=last.get) == "stochastic"
    assert "Per epoch (left), stochastic descent gets furthest" in text
    ratio = rates["batch"][0] / rates["stochastic"][0]
    assert f"a learning rate {ratio:g} times smaller" in text


def test_tutorial_7_figure_legend_covers_no_curve():
    fig = viz.gradient_descent_variants()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert legends, "the figure must have a legend"
    for legend in legends:
        box = legend.get_window_extent()
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent()), "the legend sits on a panel"


def test_tutorial_2_states_the_weights_its_sigmoid_neuron_uses():
    text = markdown("02_neuron.py")
    stated = re.search(r"weights set by hand \(w = ([-\d.]+) and b = ([-\d.]+)\)", text)
    assert stated, "tutorial 2 must say which w and b the sigmoid neuron has"
    code = (TUTORIALS / "02_neuron.py").read_text(encoding="utf-8")
    w = re.search(r"sigmoid_neuron\.weight\.data = np\.array\(\[([-\d.]+)\]", code)[1]
    b = re.search(r"sigmoid_neuron\.bias\.data = np\.array\(([-\d.]+),", code)[1]
    assert (float(stated[1]), float(stated[2])) == (float(w), float(b))
    assert f"z = {float(w):g}x - {-float(b):g}" in text
    assert "Same w and b" not in text  # the neuron is a new one, not the fitted one


def test_tutorial_10_explains_integrated_gradients_and_counts_the_shared_weights():
    from biograd import nn

    text = markdown("10_your_own_data.py")
    # integrated gradients add up to score(x) - score(baseline); "removing a base" is mutagenesis
    assert "add up to score(sequence) - score(baseline)" in text
    assert 'This is not "how much the score drops if that base is removed"' in text
    conv = nn.Conv1d(4, 8, kernel_size=12)
    count = sum(p.data.size for p in conv.parameters())
    assert f"8 x (4 x 12) weights + 8 biases = {count} parameters" in text
    positions = 50 - 12 + 1
    assert f"({positions} positions where 12 bases fit) would need {positions} times more weights" in text


def test_the_gallery_describes_its_optimizer_and_batch_figures_as_drawn():
    text = re.sub(r"\s+", " ", (TUTORIALS.parent / "pictures.md").read_text(encoding="utf-8"))
    finals = legend_numbers(viz.optimizer_paths(), r"(.+) \(lr ([\d.]+)\): final loss ([\d.]+)")
    ranked = sorted(finals, key=lambda name: finals[name][1])
    assert ranked[0] == "SGD" and "On this valley plain SGD ends lowest" in text
    assert ranked[-1].startswith("SGD + momentum") and "momentum overshoots and loops" in text
    fig = viz.gradient_descent_variants()
    n = int(re.search(r"(\d+) points", fig.get_suptitle())[1])
    assert f"{n} points of a noisy curve" in text
    assert f"1 step (batch), {n} steps (stochastic) or {math.ceil(n / 16)} steps (mini-batches of 16)" in text


def test_every_tutorial_ends_with_a_predict_then_run_exercise_that_its_checks_answer():
    for path in sorted(TUTORIALS.glob("[0-9][0-9]_*.py")):
        source = path.read_text(encoding="utf-8")
        assert "# ## Predict, then run" in source, f"{path.name} has no 'Predict, then run' exercise"
        exercise = source[source.index("# ## Predict, then run") :]
        assert "Answer" in exercise, f"{path.name}: the exercise must be answered in the text"
        checks = source[source.rindex("# %%") :]
        assert "assert" in checks or "diagnose()" in checks, path.name
        # the answer is checked: a name the exercise's code computes or uses is read by the final checks
        code = "\n".join(
            line for line in exercise[: exercise.index("# ## Check")].splitlines() if not line.startswith("#")
        )
        common = {"print", "np", "biograd", "nn", "viz", "float", "round", "len", "range", "int", "in", "for"}
        names = set(re.findall(r"\b([a-z_]\w{2,})\b", code)) - common
        assert any(re.search(rf"\b{name}\b", checks) for name in names), (path.name, names)
