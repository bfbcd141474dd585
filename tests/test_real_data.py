"""Real data and textbook problems, with oracles: scikit-learn's bundled data sets and its linear
regression, closed-form lines, XOR's truth table; and the README's training example, run as written."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import biograd
from biograd.nn import MLP, Linear, Neuron, Sequential, Tanh

sklearn_datasets = pytest.importorskip("sklearn.datasets")
from sklearn.model_selection import train_test_split  # noqa: E402


def _standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Scale with the mean and standard deviation of the training rows only (no leak from the test set)."""
    mean, std = train.mean(axis=0), train.std(axis=0)
    return [(a - mean) / std for a in (train, *others)]


def test_breast_cancer_test_accuracy_at_least_95_percent():
    """Median over five seeds: one seed's 143 test rows move the accuracy by 0.7 points per row."""
    from sklearn.linear_model import LogisticRegression

    x, y = sklearn_datasets.load_breast_cancer(return_X_y=True)
    y = 1 - y  # relabel: 1 = malignant
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    x_train, x_test = _standardize(x_train, x_test)
    accuracies = []
    for seed in range(5):
        biograd.manual_seed(seed)
        model = MLP([30, 16, 1])
        stop = biograd.EarlyStopping(patience=10)
        history = biograd.fit(
            model, x_train, y_train, epochs=300, lr=1e-3, seed=seed, callbacks=[stop], verbose=False
        )
        predicted = biograd.predict(model, x_test)
        accuracy = float(np.mean(predicted == y_test))
        assert biograd.evaluate(model, x_test, y_test)["accuracy"] == pytest.approx(accuracy)
        assert history.diagnose().verdict == "good fit"
        accuracies.append(accuracy)
    logistic = LogisticRegression(max_iter=1000).fit(x_train, y_train).score(x_test, y_test)  # ~0.986
    assert np.median(accuracies) >= 0.95
    assert np.median(accuracies) >= logistic - 0.04


def test_diabetes_test_r2_at_least_0_40_and_close_to_linear_regression():
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    x, y = sklearn_datasets.load_diabetes(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=42)
    x_train, x_test = _standardize(x_train, x_test)
    mean, std = y_train.mean(), y_train.std()  # the target standardized too, with training statistics
    biograd.manual_seed(0)
    model = MLP([10, 16, 1], activation="tanh")
    biograd.fit(
        model, x_train, (y_train - mean) / std, epochs=500, lr=1e-3, seed=0, verbose=False,
        callbacks=[biograd.EarlyStopping(patience=20)],
    )  # fmt: skip
    predicted = biograd.predict(model, x_test) * std + mean
    r2 = r2_score(y_test, predicted)
    linear = LinearRegression().fit(x_train, y_train).score(x_test, y_test)  # the oracle: ~0.48
    assert r2 >= 0.40
    assert r2 >= linear - 0.08


def test_xor_learned_by_a_2_2_1_tanh_network():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])  # XOR's truth table
    biograd.manual_seed(5)
    model = Sequential(Linear(2, 2), Tanh(), Linear(2, 1))
    history = biograd.fit(
        model, x, y, optimizer="sgd", lr=0.5, epochs=1000, batch_size="full", validation_split=0, seed=0,
        verbose=False,
    )  # fmt: skip
    np.testing.assert_array_equal(biograd.predict(model, x), y)
    assert history.accuracy[-1] == 1.0 and history.loss[-1] < 0.05


def test_single_neuron_recovers_slope_and_intercept_of_a_line():
    x = np.linspace(-2, 2, 21)[:, None]
    y = 3.0 * x[:, 0] - 2.0  # noiseless points on y = 3x - 2
    biograd.manual_seed(0)
    neuron = Neuron(1, activation="identity")
    biograd.fit(
        neuron, x, y, optimizer="sgd", lr=0.1, epochs=300, batch_size="full", validation_split=0, seed=0,
        verbose=False,
    )  # fmt: skip
    assert float(neuron.weight.data[0]) == pytest.approx(3.0, abs=1e-3)
    assert float(neuron.bias.data) == pytest.approx(-2.0, abs=1e-3)
    slope, intercept = np.polyfit(x[:, 0], y, 1)  # closed-form least squares agrees
    assert float(neuron.weight.data[0]) == pytest.approx(slope, abs=1e-3)
    assert float(neuron.bias.data) == pytest.approx(intercept, abs=1e-3)


def test_readme_training_example_runs(tmp_path, monkeypatch, capsys):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Training a network", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 17
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the example must run cleanly
        exec(compile(code, "README.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "a good fit" in out and "accuracy" in out
    assert namespace["history"].stop_reason == "early_stopping"
    model, info = biograd.load(tmp_path / "runs" / "breast-cancer", with_metadata=True)
    np.testing.assert_array_equal(
        biograd.predict(model, namespace["x_test"]), biograd.predict(namespace["model"], namespace["x_test"])
    )
    assert info["task"] == "classification" and info["training"]["stop_reason"] == "early_stopping"


def test_readme_gradient_descent_loop_runs_and_learns(capsys):
    """The hand-written loop of the README: runs as written and beats logistic regression's -0.03."""
    from sklearn.linear_model import LogisticRegression

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Gradient descent, by hand", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    biograd.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(compile(code, "README.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "accuracy" in out, out
    ns = namespace
    predicted = biograd.predict(ns["model"], ns["x_val"], task="classification")
    accuracy = float(np.mean(predicted == ns["y_val"]))
    logistic = (
        LogisticRegression(max_iter=1000).fit(ns["x_train"], ns["y_train"]).score(ns["x_val"], ns["y_val"])
    )
    assert accuracy >= logistic - 0.03


def test_readme_seeing_it_example_runs_after_the_training_example(tmp_path, monkeypatch):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    code = ""
    for title in ("## Training a network", "## Seeing it"):
        section = readme.split(title, 1)[1].split("\n## ", 1)[0]
        code += re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(
        compile(code.replace("callbacks=[stop])", "callbacks=[stop], verbose=False)"), "README.md", "exec"),
        {},
    )
    svg = (tmp_path / "network.svg").read_text()
    assert svg.startswith("<svg") and 'class="neuron"' in svg  # 30 inputs: the layers drawn as matrices
    assert (tmp_path / "step.html").stat().st_size > 0 and (tmp_path / "curves.png").stat().st_size > 0
